/// The ORM's error type (`rustango::sql::Error`).
///
/// Database failures are sorted into typed variants, with the constraint or column
/// named where the backend says it, so that the HTTP tier can map them to 404/409/422
/// without parsing messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `get()` found no row.
    #[error("{model} matching query does not exist")]
    DoesNotExist {
        /// The model queried.
        model: &'static str,
    },
    /// `get()` found more than one row.
    #[error("get() returned more than one {model}")]
    MultipleObjectsReturned {
        /// The model queried.
        model: &'static str,
    },
    /// A unique constraint (or primary key) would be violated.
    #[error("unique constraint violated{}", describe(table, constraint))]
    UniqueViolation {
        /// Table, when the backend reports it.
        table: Option<String>,
        /// Constraint or column, when the backend reports it.
        constraint: Option<String>,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A foreign key points at no row, or a referenced row is still in use.
    #[error("foreign key constraint violated{}", describe(table, constraint))]
    ForeignKeyViolation {
        /// Table, when the backend reports it.
        table: Option<String>,
        /// Constraint, when the backend reports it.
        constraint: Option<String>,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `NULL` was written to a `NOT NULL` column.
    #[error("not-null constraint violated{}", describe(table, column))]
    NotNullViolation {
        /// Table, when the backend reports it.
        table: Option<String>,
        /// Column, when the backend reports it.
        column: Option<String>,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A `CHECK` constraint failed.
    #[error("check constraint violated{}", describe(table, constraint))]
    CheckViolation {
        /// Table, when the backend reports it.
        table: Option<String>,
        /// Constraint name, when the backend reports it.
        constraint: Option<String>,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A value does not fit its field (too long, NaN, NUL in text, not a UUID, …).
    #[error("invalid value for `{field}`: {reason}")]
    InvalidValue {
        /// The field or lookup.
        field: String,
        /// Why.
        reason: String,
    },
    /// A name given at run time is not a field or relation of the model.
    #[error("`{name}` is not a field or relation of `{model}`")]
    UnknownField {
        /// The model.
        model: &'static str,
        /// The name.
        name: String,
    },
    /// The operation needs something the model does not have (a primary key value, a
    /// soft-delete field, …).
    #[error("{0}")]
    Unsupported(String),
    /// The connection URL is not one rustango can open.
    #[error("cannot open database URL: {0}")]
    BadUrl(String),
    /// The connection to the database was lost or could not be made.
    #[error("database connection lost")]
    ConnectionLost(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Waiting for a connection or for the database took too long.
    #[error("database operation timed out")]
    Timeout(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored value could not be converted into its field (the table does not match
    /// the model).
    #[error("cannot decode row: {0}")]
    Decode(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Any other database error, with its SQLSTATE code when known.
    #[error("database error{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Database {
        /// SQLSTATE or driver code.
        code: Option<String>,
        /// The database's message.
        message: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An error of the caller's own, returned from a [`transaction`](crate::transaction)
    /// closure to roll it back; downcast the box to get it again.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

fn describe(a: &Option<String>, b: &Option<String>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!(" on {a} ({b})"),
        (Some(a), None) | (None, Some(a)) => format!(" on {a}"),
        (None, None) => String::new(),
    }
}

impl From<rustango_core::Error> for Error {
    fn from(e: rustango_core::Error) -> Self {
        match e {
            rustango_core::Error::InvalidValue { field, reason } => {
                Error::InvalidValue { field, reason }
            }
            rustango_core::Error::UnknownField { model, name } => {
                Error::UnknownField { model, name }
            }
            e => Error::Decode(Box::new(e)),
        }
    }
}

/// SQLite reports `UNIQUE constraint failed: posts.title`; keep `posts` and the rest.
fn sqlite_detail(message: &str) -> (Option<String>, Option<String>) {
    let Some((_, rest)) = message.split_once(": ") else {
        return (None, None);
    };
    let first = rest.split(',').next().unwrap_or(rest).trim();
    match first.split_once('.') {
        Some((t, c)) => (Some(t.to_owned()), Some(c.to_owned())),
        None => (None, Some(first.to_owned())),
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match e {
            sqlx::Error::PoolTimedOut => Error::Timeout(Box::new(e)),
            sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                Error::ConnectionLost(Box::new(e))
            }
            sqlx::Error::Tls(_) => Error::ConnectionLost(Box::new(e)),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => Error::Decode(Box::new(e)),
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned());
                let message = db.message().to_owned();
                let (mut table, mut constraint) = (
                    db.table().map(str::to_owned),
                    db.constraint().map(str::to_owned),
                );
                if table.is_none() && constraint.is_none() {
                    (table, constraint) = sqlite_detail(&message);
                }
                let kind = db.kind();
                let source: Box<dyn std::error::Error + Send + Sync> = db.into();
                match (kind, code.as_deref()) {
                    (ErrorKind::UniqueViolation, _) => Error::UniqueViolation {
                        table,
                        constraint,
                        source,
                    },
                    (ErrorKind::ForeignKeyViolation, _) => Error::ForeignKeyViolation {
                        table,
                        constraint,
                        source,
                    },
                    (ErrorKind::NotNullViolation, _) => Error::NotNullViolation {
                        table,
                        column: constraint,
                        source,
                    },
                    (ErrorKind::CheckViolation, _) => Error::CheckViolation {
                        table,
                        constraint,
                        source,
                    },
                    // PostgreSQL: value too long, bad text representation, numeric
                    // overflow, NUL byte, invalid datetime.
                    (_, Some("22001" | "22P02" | "22003" | "22021" | "22007" | "22008")) => {
                        Error::InvalidValue {
                            field: constraint.unwrap_or_default(),
                            reason: message,
                        }
                    }
                    // PostgreSQL statement/lock timeouts; SQLite busy or locked.
                    (_, Some("57014" | "55P03" | "5" | "6" | "517")) => Error::Timeout(source),
                    // Connection failures and server shutdowns (admin, crash, cannot connect now).
                    (_, Some(c))
                        if c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03") =>
                    {
                        Error::ConnectionLost(source)
                    }
                    _ => Error::Database {
                        code,
                        message,
                        source,
                    },
                }
            }
            other => Error::Database {
                code: None,
                message: other.to_string(),
                source: Box::new(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_name_table_and_column() {
        assert_eq!(
            sqlite_detail("UNIQUE constraint failed: posts.title"),
            (Some("posts".into()), Some("title".into()))
        );
        assert_eq!(
            sqlite_detail("CHECK constraint failed: valid_status"),
            (None, Some("valid_status".into()))
        );
    }
}
