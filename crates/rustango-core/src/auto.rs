use crate::{Error, FieldValue, Value};

/// A value that the server or the ORM assigns: a serial primary key, an `auto_now*`
/// timestamp, an `auto_uuid`.
///
/// It is [`Unset`](Auto::Unset) until the row is saved (or read back), then
/// [`Set`](Auto::Set). `save_on` inserts a row whose primary key is unset and updates one
/// whose key is set.
///
/// ```
/// use rustango_core::Auto;
/// let mut id: Auto<i64> = Auto::default();
/// assert_eq!(id.get(), None);
/// id = Auto::Set(7);
/// assert_eq!(id.get().copied(), Some(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auto<T> {
    /// Not assigned yet.
    #[default]
    Unset,
    /// Assigned.
    Set(T),
}

impl<T> Auto<T> {
    /// The assigned value, if any.
    pub fn get(&self) -> Option<&T> {
        match self {
            Auto::Set(v) => Some(v),
            Auto::Unset => None,
        }
    }

    /// Whether a value is assigned.
    pub fn is_set(&self) -> bool {
        matches!(self, Auto::Set(_))
    }

    /// The assigned value, consuming `self`.
    pub fn into_option(self) -> Option<T> {
        match self {
            Auto::Set(v) => Some(v),
            Auto::Unset => None,
        }
    }
}

impl<T> From<T> for Auto<T> {
    fn from(v: T) -> Self {
        Auto::Set(v)
    }
}

impl<T: serde::Serialize> serde::Serialize for Auto<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Auto<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Auto::Set(v),
            None => Auto::Unset,
        })
    }
}

impl<T: FieldValue> FieldValue for Auto<T> {
    const KIND: crate::ValueKind = T::KIND;
    const NULLABLE: bool = T::NULLABLE;
    const AUTO: bool = true;
    type Compare = T::Compare;
    fn to_value(&self) -> Option<Value> {
        match self {
            Auto::Set(v) => v.to_value(),
            Auto::Unset => None,
        }
    }
    fn from_value(value: Value) -> Result<Self, Error> {
        T::from_value(value).map(Auto::Set)
    }
}
