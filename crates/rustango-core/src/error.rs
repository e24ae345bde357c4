use crate::ValueKind;

/// Errors raised while converting between Rust values and stored [`Value`](crate::Value)s.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A stored value had another type than the field expects.
    #[error("type mismatch: expected {expected:?}, found {found}")]
    TypeMismatch {
        /// The kind the field expects.
        expected: ValueKind,
        /// A short description of what was found.
        found: String,
    },
    /// `NULL` was read for a field that is not nullable.
    #[error("unexpected NULL for a non-nullable {expected:?} value")]
    UnexpectedNull {
        /// The kind the field expects.
        expected: ValueKind,
    },
    /// A row had fewer columns than the model needs.
    #[error("row ended early: a column is missing")]
    MissingColumn,
    /// A value is not acceptable for its field (too long, NaN, unparsable, …).
    #[error("invalid value for `{field}`: {reason}")]
    InvalidValue {
        /// The field (or lookup) concerned.
        field: String,
        /// Why it was refused.
        reason: String,
    },
    /// A name used at run time is not a field or relation of the model.
    #[error("`{name}` is not a field or relation of `{model}`")]
    UnknownField {
        /// The model searched.
        model: &'static str,
        /// The name that was not found.
        name: String,
    },
}
