use crate::{Error, FieldValue, ModelSchema, Value};

/// Reads a row's values in the order the query selected them.
///
/// The buffer can be refilled for the next row ([`ValueReader::refill`]), so decoding a
/// result set allocates one buffer, not one per row.
#[derive(Debug, Default)]
pub struct ValueReader {
    values: Vec<Value>,
    pos: usize,
}

impl ValueReader {
    /// A reader over one row's values.
    pub fn new(values: Vec<Value>) -> Self {
        ValueReader { values, pos: 0 }
    }

    /// Empties the reader and returns its buffer, to be filled with the next row.
    pub fn refill(&mut self) -> &mut Vec<Value> {
        self.values.clear();
        self.pos = 0;
        &mut self.values
    }

    /// The next column.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Value, Error> {
        let slot = self.values.get_mut(self.pos).ok_or(Error::MissingColumn)?;
        self.pos += 1;
        Ok(std::mem::replace(slot, Value::Null(crate::ValueKind::Bool)))
    }

    /// The next column converted to a field type.
    pub fn read<T: FieldValue>(&mut self, field: &str) -> Result<T, Error> {
        T::from_value(self.next()?).map_err(|e| match e {
            Error::InvalidValue { reason, .. } => Error::InvalidValue {
                field: field.to_owned(),
                reason,
            },
            e => e,
        })
    }

    /// Skips `n` columns.
    pub fn skip(&mut self, n: usize) -> Result<(), Error> {
        if self.remaining() < n {
            return Err(Error::MissingColumn);
        }
        self.pos += n;
        Ok(())
    }

    /// How many columns are left.
    pub fn remaining(&self) -> usize {
        self.values.len() - self.pos
    }
}

/// Which foreign keys a query loads with joins (`select_related("author__country")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedTree {
    /// The foreign-key field on the parent model.
    pub field: &'static str,
    /// Its schema.
    pub schema: &'static ModelSchema,
    /// Relations loaded from the target in turn.
    pub children: Vec<RelatedTree>,
}

impl PartialEq for ModelSchema {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other) || (self.table == other.table && self.name == other.name)
    }
}
impl Eq for ModelSchema {}

impl RelatedTree {
    /// The number of columns the target and its own related rows occupy in a row.
    pub fn width(&self) -> usize {
        self.schema.fields.len() + self.children.iter().map(RelatedTree::width).sum::<usize>()
    }
}

/// A database model: a struct with `#[derive(Model)]`.
///
/// The derive implements everything; the methods are what the ORM, the admin and the
/// serializers use to move values in and out without knowing the struct.
pub trait Model: Sized + Send + Sync + Unpin + 'static {
    /// The static description of the model.
    const SCHEMA: &'static ModelSchema;
    /// The primary key's field type (`Auto<i64>`, `Uuid`, …).
    type Pk: FieldValue + Clone;

    /// The primary key.
    fn pk(&self) -> &Self::Pk;

    /// The value of the field at `index` (schema order); `None` for an unset `Auto`.
    fn value_at(&self, index: usize) -> Option<Value>;

    /// Overwrites the field at `index` with a value read from the database.
    fn set_value_at(&mut self, index: usize, value: Value) -> Result<(), Error>;

    /// Builds an instance from a row: its own fields in schema order, then the rows of
    /// each relation in `related`, in that order.
    fn from_reader(reader: &mut ValueReader, related: &[RelatedTree]) -> Result<Self, Error>;

    /// The value of the primary key, `None` while it is an unset `Auto`.
    fn pk_value(&self) -> Option<Value> {
        self.value_at(Self::SCHEMA.pk)
    }
}
