use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::Error;

/// The storage kind of a column, independent of any SQL dialect.
///
/// Serialized in snake case (`"i64"`, `"date_time"`) in migration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ValueKind {
    /// `bool`.
    Bool,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// UTF-8 text (`String`).
    String,
    /// Raw bytes (`Vec<u8>`).
    Bytes,
    /// `uuid::Uuid`.
    Uuid,
    /// `chrono::NaiveDate`.
    Date,
    /// `chrono::NaiveTime`.
    Time,
    /// `chrono::DateTime<Utc>`.
    DateTime,
    /// `serde_json::Value`.
    Json,
    /// `rust_decimal::Decimal`.
    Decimal,
}

/// One SQL value, bound as a parameter or read from a row.
///
/// `Null` keeps its kind so that backends with typed parameters (PostgreSQL) bind a
/// `NULL` of the right type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL `NULL` of the given kind.
    Null(ValueKind),
    /// A boolean.
    Bool(bool),
    /// A 16-bit integer.
    I16(i16),
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A 32-bit float.
    F32(f32),
    /// A 64-bit float.
    F64(f64),
    /// Text.
    String(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A UUID.
    Uuid(Uuid),
    /// A calendar date.
    Date(NaiveDate),
    /// A time of day.
    Time(NaiveTime),
    /// A UTC timestamp.
    DateTime(DateTime<Utc>),
    /// A JSON document.
    Json(serde_json::Value),
    /// An exact decimal number.
    Decimal(Decimal),
}

impl Value {
    /// The kind of this value.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Null(k) => *k,
            Value::Bool(_) => ValueKind::Bool,
            Value::I16(_) => ValueKind::I16,
            Value::I32(_) => ValueKind::I32,
            Value::I64(_) => ValueKind::I64,
            Value::F32(_) => ValueKind::F32,
            Value::F64(_) => ValueKind::F64,
            Value::String(_) => ValueKind::String,
            Value::Bytes(_) => ValueKind::Bytes,
            Value::Uuid(_) => ValueKind::Uuid,
            Value::Date(_) => ValueKind::Date,
            Value::Time(_) => ValueKind::Time,
            Value::DateTime(_) => ValueKind::DateTime,
            Value::Json(_) => ValueKind::Json,
            Value::Decimal(_) => ValueKind::Decimal,
        }
    }

    /// Whether this is SQL `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null(_))
    }

    /// This value as JSON (timestamps as RFC 3339, bytes as an array, decimals as strings).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::I16(v) => J::from(*v),
            Value::I32(v) => J::from(*v),
            Value::I64(v) => J::from(*v),
            Value::F32(v) => serde_json::Number::from_f64(f64::from(*v)).map_or(J::Null, J::Number),
            Value::F64(v) => serde_json::Number::from_f64(*v).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Uuid(u) => J::String(u.to_string()),
            Value::Date(d) => J::String(d.to_string()),
            Value::Time(t) => J::String(t.to_string()),
            Value::DateTime(t) => J::String(t.to_rfc3339()),
            Value::Json(j) => j.clone(),
            Value::Decimal(d) => J::String(d.to_string()),
        }
    }

    /// Parses user input (a query string, a form field) into a value of `kind`, with a
    /// typed error for text that does not fit (a bad UUID, a non-number, NaN).
    ///
    /// ```
    /// use rustango_core::{Value, ValueKind};
    /// assert_eq!(Value::parse(ValueKind::I64, "42").unwrap(), Value::I64(42));
    /// assert!(Value::parse(ValueKind::Uuid, "not-a-uuid").is_err());
    /// ```
    pub fn parse(kind: ValueKind, text: &str) -> Result<Value, Error> {
        fn bad(kind: ValueKind, text: &str, why: impl std::fmt::Display) -> Error {
            let shown: String = text.chars().take(40).collect();
            Error::InvalidValue {
                field: String::new(),
                reason: format!("`{shown}` is not a valid {kind:?}: {why}"),
            }
        }
        let t = text.trim();
        Ok(match kind {
            ValueKind::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Value::Bool(true),
                "false" | "0" | "no" | "off" => Value::Bool(false),
                _ => return Err(bad(kind, text, "expected true or false")),
            },
            ValueKind::I16 => Value::I16(t.parse().map_err(|e| bad(kind, text, e))?),
            ValueKind::I32 => Value::I32(t.parse().map_err(|e| bad(kind, text, e))?),
            ValueKind::I64 => Value::I64(t.parse().map_err(|e| bad(kind, text, e))?),
            ValueKind::F32 | ValueKind::F64 => {
                let f: f64 = t.parse().map_err(|e| bad(kind, text, e))?;
                if !f.is_finite() {
                    return Err(bad(kind, text, "not a finite number"));
                }
                if kind == ValueKind::F32 {
                    Value::F32(f as f32)
                } else {
                    Value::F64(f)
                }
            }
            ValueKind::String => Value::String(text.to_owned()),
            ValueKind::Bytes => Value::Bytes(text.as_bytes().to_vec()),
            ValueKind::Uuid => Value::Uuid(Uuid::parse_str(t).map_err(|e| bad(kind, text, e))?),
            ValueKind::Date => Value::Date(t.parse().map_err(|e| bad(kind, text, e))?),
            ValueKind::Time => Value::Time(t.parse().map_err(|e| bad(kind, text, e))?),
            ValueKind::DateTime => Value::DateTime(
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|e| bad(kind, text, e))?,
            ),
            ValueKind::Json => {
                Value::Json(serde_json::from_str(text).map_err(|e| bad(kind, text, e))?)
            }
            ValueKind::Decimal => Value::Decimal(t.parse().map_err(|e| bad(kind, text, e))?),
        })
    }

    fn describe(&self) -> String {
        format!("{:?}", self.kind())
    }
}

/// A Rust type that can be stored in a model field.
///
/// Implemented for the scalar types rustango maps to columns, for `Option<T>` (nullable),
/// for [`Auto<T>`](crate::Auto) (server-assigned) and, in `rustango-orm`, for
/// `ForeignKey<T>`.
pub trait FieldValue: Sized + Send + Sync + 'static {
    /// The storage kind of the column.
    const KIND: ValueKind;
    /// Whether the column accepts `NULL`.
    const NULLABLE: bool = false;
    /// Whether the value may be left unset for the server or the ORM to assign.
    const AUTO: bool = false;
    /// The type lookups compare this field with (`i64` for `Auto<i64>`, the key type for
    /// a foreign key, `T` for `Option<T>`).
    type Compare: FieldValue;

    /// Converts to a bound value; `None` when an [`Auto`](crate::Auto) value is unset.
    fn to_value(&self) -> Option<Value>;
    /// Converts from a value read from a row.
    fn from_value(value: Value) -> Result<Self, Error>;
}

fn mismatch(expected: ValueKind, found: &Value) -> Error {
    if found.is_null() {
        Error::UnexpectedNull { expected }
    } else {
        Error::TypeMismatch {
            expected,
            found: found.describe(),
        }
    }
}

macro_rules! scalar {
    ($t:ty, $kind:ident, $variant:ident $(, $widen:ident => $conv:expr)*) => {
        impl FieldValue for $t {
            const KIND: ValueKind = ValueKind::$kind;
            type Compare = $t;
            fn to_value(&self) -> Option<Value> {
                Some(Value::$variant(self.clone()))
            }
            fn from_value(value: Value) -> Result<Self, Error> {
                match value {
                    Value::$variant(v) => Ok(v),
                    $(Value::$widen(v) => $conv(v).map_err(|_| Error::InvalidValue {
                        field: String::new(),
                        reason: format!("{v} does not fit in {}", stringify!($t)),
                    }),)*
                    other => Err(mismatch(ValueKind::$kind, &other)),
                }
            }
        }
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v)
            }
        }
    };
}

scalar!(bool, Bool, Bool);
scalar!(i16, I16, I16, I32 => i16::try_from, I64 => i16::try_from);
scalar!(i32, I32, I32, I16 => |v: i16| Ok::<i32, ()>(i32::from(v)), I64 => i32::try_from);
scalar!(i64, I64, I64, I16 => |v: i16| Ok::<i64, ()>(i64::from(v)), I32 => |v: i32| Ok::<i64, ()>(i64::from(v)));
scalar!(f32, F32, F32, F64 => |v: f64| Ok::<f32, ()>(v as f32));
scalar!(f64, F64, F64, F32 => |v: f32| Ok::<f64, ()>(f64::from(v)), I64 => |v: i64| Ok::<f64, ()>(v as f64));
scalar!(String, String, String);
scalar!(Vec<u8>, Bytes, Bytes);
scalar!(Uuid, Uuid, Uuid);
scalar!(NaiveDate, Date, Date);
scalar!(NaiveTime, Time, Time);
scalar!(DateTime<Utc>, DateTime, DateTime);
scalar!(serde_json::Value, Json, Json);
scalar!(Decimal, Decimal, Decimal);

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    const KIND: ValueKind = T::KIND;
    const NULLABLE: bool = true;
    const AUTO: bool = T::AUTO;
    type Compare = T::Compare;
    fn to_value(&self) -> Option<Value> {
        match self {
            Some(v) => v.to_value(),
            None => Some(Value::Null(T::KIND)),
        }
    }
    fn from_value(value: Value) -> Result<Self, Error> {
        if value.is_null() {
            Ok(None)
        } else {
            T::from_value(value).map(Some)
        }
    }
}

impl<T: Into<Value>> From<Option<T>> for Value
where
    T: FieldValue,
{
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => v.into(),
            None => Value::Null(T::KIND),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_widen_and_refuse_overflow() {
        assert_eq!(i64::from_value(Value::I32(7)).unwrap(), 7);
        assert!(matches!(
            i16::from_value(Value::I64(1 << 40)),
            Err(Error::InvalidValue { .. })
        ));
        assert!(matches!(
            i64::from_value(Value::Null(ValueKind::I64)),
            Err(Error::UnexpectedNull { .. })
        ));
        assert_eq!(
            Option::<i64>::from_value(Value::Null(ValueKind::I64)).unwrap(),
            None
        );
    }

    #[test]
    fn null_keeps_its_kind() {
        let v: Value = Option::<String>::None.into();
        assert_eq!(v.kind(), ValueKind::String);
        assert_eq!(
            None::<String>.to_value(),
            Some(Value::Null(ValueKind::String))
        );
    }
}

/// What `SUM` of a column returns: `i64` for integers (so sums of small columns do not
/// overflow), `f64` for floats, `Decimal` for decimals.
pub trait Summable: FieldValue {
    /// The sum's type.
    type Sum: FieldValue;
}

macro_rules! summable {
    ($($t:ty => $s:ty),*) => {$(impl Summable for $t { type Sum = $s; })*};
}
summable!(i16 => i64, i32 => i64, i64 => i64, f32 => f64, f64 => f64, Decimal => Decimal);
