//! Typed foreign keys.

use rustango_core::{
    Error as CoreError, FieldValue, Model, RelatedTree, Value, ValueKind, ValueReader,
};

use crate::{Error, Executor};

/// Key types a foreign key can hold (the compare type of a primary key).
pub trait KeyType: FieldValue<Compare = Self> + Clone + PartialEq + std::fmt::Debug {}
impl KeyType for i16 {}
impl KeyType for i32 {}
impl KeyType for i64 {}
impl KeyType for String {}
impl KeyType for uuid::Uuid {}

type KeyOf<T> = <<T as Model>::Pk as FieldValue>::Compare;

/// A foreign key to `T`: a field `author: ForeignKey<Author>` stores the column
/// `author_id` and compares with `Author`'s key type.
///
/// It holds the key, and the target row once loaded, either by `select_related` (no
/// extra query) or lazily by [`ForeignKey::get`].
///
/// `K` is the key type and always defaults to the target's; it is a parameter only so
/// that `ForeignKey::from(42)` can be implemented for each key type.
pub struct ForeignKey<T: Model, K = KeyOf<T>> {
    key: K,
    loaded: Option<Box<T>>,
}

impl<T: Model, K: KeyType> ForeignKey<T, K>
where
    T::Pk: FieldValue<Compare = K>,
{
    /// A foreign key to the row whose primary key is `key`.
    pub fn new(key: impl Into<K>) -> Self {
        ForeignKey {
            key: key.into(),
            loaded: None,
        }
    }

    /// A foreign key to `row`, which is kept as the loaded target.
    ///
    /// Fails when `row` has no primary key yet (save it first).
    pub fn to(row: T) -> Result<Self, Error> {
        let key = row.pk_value().ok_or_else(|| {
            Error::Unsupported("the target row has no primary key yet: save it first".into())
        })?;
        Ok(ForeignKey {
            key: K::from_value(key)?,
            loaded: Some(Box::new(row)),
        })
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The target row if it was loaded (by `select_related` or an earlier `get`).
    pub fn loaded(&self) -> Option<&T> {
        self.loaded.as_deref()
    }

    /// The target row, loading it with one query the first time.
    pub async fn get<'e>(&mut self, exec: impl Executor<'e>) -> Result<&T, Error> {
        if self.loaded.is_none() {
            let pk = T::SCHEMA.pk_field().column;
            let value = self.key.to_value().unwrap_or(Value::Null(T::Pk::KIND));
            let row = crate::QuerySet::<T>::new()
                .with_deleted()
                .filter(rustango_core::Expr::Compare {
                    left: rustango_core::ColRef::new(pk),
                    op: rustango_core::CmpOp::Eq,
                    right: rustango_core::Operand::Value(value),
                })
                .get(exec)
                .await?;
            self.loaded = Some(Box::new(row));
        }
        Ok(self.loaded.as_deref().expect("loaded above"))
    }
}

macro_rules! key_from {
    ($($t:ty),*) => {$(
        impl<T: Model> From<$t> for ForeignKey<T, $t> {
            fn from(key: $t) -> Self {
                ForeignKey { key, loaded: None }
            }
        }
    )*};
}
key_from!(i16, i32, i64, String, uuid::Uuid);

impl<T: Model> From<&str> for ForeignKey<T, String> {
    fn from(key: &str) -> Self {
        ForeignKey {
            key: key.to_owned(),
            loaded: None,
        }
    }
}

impl<T: Model + Clone, K: Clone> Clone for ForeignKey<T, K> {
    fn clone(&self) -> Self {
        ForeignKey {
            key: self.key.clone(),
            loaded: self.loaded.clone(),
        }
    }
}

impl<T: Model, K: std::fmt::Debug> std::fmt::Debug for ForeignKey<T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignKey")
            .field("model", &T::SCHEMA.name)
            .field("key", &self.key)
            .field("loaded", &self.loaded.is_some())
            .finish()
    }
}

impl<T: Model, K: PartialEq> PartialEq for ForeignKey<T, K> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T: Model, K: KeyType> FieldValue for ForeignKey<T, K>
where
    T::Pk: FieldValue<Compare = K>,
{
    const KIND: ValueKind = <T::Pk as FieldValue>::KIND;
    type Compare = K;
    fn to_value(&self) -> Option<Value> {
        self.key.to_value()
    }
    fn from_value(value: Value) -> Result<Self, CoreError> {
        Ok(ForeignKey {
            key: K::from_value(value)?,
            loaded: None,
        })
    }
}

/// Implemented by `ForeignKey<T>` and `Option<ForeignKey<T>>`: what the derive needs to
/// describe and fill a foreign-key field.
pub trait ForeignKeyField {
    /// The target model.
    type Target: Model;
    /// Reads the joined target row (and its own joined rows) from `reader`.
    fn load_related(
        &mut self,
        reader: &mut ValueReader,
        children: &[RelatedTree],
    ) -> Result<(), CoreError>;
}

impl<T: Model, K> ForeignKeyField for ForeignKey<T, K> {
    type Target = T;
    fn load_related(
        &mut self,
        reader: &mut ValueReader,
        children: &[RelatedTree],
    ) -> Result<(), CoreError> {
        self.loaded = Some(Box::new(T::from_reader(reader, children)?));
        Ok(())
    }
}

impl<T: Model, K> ForeignKeyField for Option<ForeignKey<T, K>> {
    type Target = T;
    fn load_related(
        &mut self,
        reader: &mut ValueReader,
        children: &[RelatedTree],
    ) -> Result<(), CoreError> {
        match self {
            Some(fk) => fk.load_related(reader, children),
            None => {
                let width =
                    T::SCHEMA.fields.len() + children.iter().map(RelatedTree::width).sum::<usize>();
                reader.skip(width)
            }
        }
    }
}
