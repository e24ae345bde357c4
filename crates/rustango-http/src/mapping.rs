//! The one place where errors become HTTP statuses.
//!
//! Every conversion from a lower tier's error, or from one of axum's rejections, into a
//! [`Problem`] lives in this module, so the status a failure gets is decided once:
//!
//! | error | status | body |
//! |---|---|---|
//! | `orm::Error::DoesNotExist` | 404 | names the model |
//! | `orm::Error::UniqueViolation` | 409 | `constraint` extension when known |
//! | `orm::Error::ForeignKeyViolation` | 409 | `constraint` extension when known |
//! | `orm::Error::NotNullViolation` | 422 | `field` extension when known |
//! | `orm::Error::CheckViolation` | 422 | `constraint` extension when known |
//! | `orm::Error::InvalidValue` | 422 | `field` extension and the reason |
//! | `orm::Error::Timeout` | 503 | `Retry-After` header |
//! | `orm::Error::ConnectionLost` | 503 | generic |
//! | any other ORM error, `MultipleObjectsReturned`, every `migrate::Error` | 500 | generic |
//! | malformed JSON, path, query or form | 400 | the parser's message |
//! | JSON or form of the wrong shape or types | 422 | the deserializer's message |
//! | missing or wrong `Content-Type` | 415 | the expected type |
//! | body over the limit | 413 | generic |
//!
//! A 5xx never carries its cause: the cause (with its `source()` chain) is logged with
//! `tracing` at error level and the body says only that the server failed.
//! Conflicts and invalid values do not carry the driver's message either (it can quote
//! stored data); they name the constraint or field instead.

use std::error::Error as StdError;
use std::fmt::Write as _;

use axum::extract::rejection::{
    FailedToBufferBody, FormRejection, JsonRejection, PathRejection, QueryRejection,
};
use http::StatusCode;
use http::header::{self, HeaderValue};

use crate::Problem;

/// How long a client should wait after a database timeout, in seconds.
const TIMEOUT_RETRY_AFTER_SECS: u64 = 5;

/// `error` followed by each of its `source()`s (`cannot reach Redis: Connection
/// refused (os error 111)`), for a log line or an error message that must say why.
pub fn error_chain(error: &dyn StdError) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some errors print their cause themselves: say it once.
        let said = out == text
            || out
                .strip_suffix(text.as_str())
                .is_some_and(|before| before.ends_with(": "));
        if !said {
            let _ = write!(out, ": {text}");
        }
        source = cause.source();
    }
    out
}

/// Logs `error` at error level and returns the generic 500 problem.
fn internal(error: &dyn StdError, what: &'static str) -> Problem {
    tracing::error!(error = %error_chain(error), "{what}");
    Problem::internal()
}

/// Adds the extension `key` when the backend named it.
fn with_opt(problem: Problem, key: &str, value: Option<String>) -> Problem {
    match value {
        Some(value) => problem.with_extension(key, value),
        None => problem,
    }
}

impl From<rustango_orm::Error> for Problem {
    fn from(error: rustango_orm::Error) -> Self {
        use rustango_orm::Error as E;
        match error {
            E::DoesNotExist { model } => {
                Problem::not_found().with_detail(format!("No {model} matches the given query."))
            }
            E::UniqueViolation { constraint, .. } => with_opt(
                Problem::conflict("A record with the same unique value already exists."),
                "constraint",
                constraint,
            ),
            E::ForeignKeyViolation { constraint, .. } => with_opt(
                Problem::conflict(
                    "The record refers to a record that does not exist, or is still referred to.",
                ),
                "constraint",
                constraint,
            ),
            E::NotNullViolation { column, .. } => with_opt(
                Problem::unprocessable(match &column {
                    Some(column) => format!("`{column}` is required."),
                    None => "A required value is missing.".to_owned(),
                }),
                "field",
                column,
            ),
            E::CheckViolation { constraint, .. } => with_opt(
                Problem::unprocessable("A value does not satisfy a check constraint."),
                "constraint",
                constraint,
            ),
            E::InvalidValue { field, reason } => {
                let problem =
                    Problem::unprocessable(format!("Invalid value for `{field}`: {reason}"));
                if field.is_empty() {
                    problem
                } else {
                    problem.with_extension("field", field)
                }
            }
            e @ E::Timeout(_) => {
                tracing::error!(error = %error_chain(&e), "database timeout");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("The database is busy; try again shortly.")
                    .with_header(
                        header::RETRY_AFTER,
                        HeaderValue::from(TIMEOUT_RETRY_AFTER_SECS),
                    )
            }
            e @ E::ConnectionLost(_) => {
                tracing::error!(error = %error_chain(&e), "database connection lost");
                Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("The database is unavailable; try again later.")
            }
            e => internal(&e, "database error"),
        }
    }
}

impl From<rustango_migrate::Error> for Problem {
    fn from(error: rustango_migrate::Error) -> Self {
        internal(&error, "migration error")
    }
}

/// A 413 for a body over the limit, a 400 for a body that could not be read.
fn from_buffer(rejection: FailedToBufferBody) -> Problem {
    match rejection {
        FailedToBufferBody::LengthLimitError(_) => Problem::payload_too_large(),
        other => Problem::bad_request(other.body_text()),
    }
}

/// axum's rejections are `#[non_exhaustive]`: a kind added later gets axum's status and
/// message, except that a 5xx (a server-side mistake, such as a missing extension)
/// becomes the generic 500 with the message logged.
fn from_status(status: StatusCode, body_text: String, what: &'static str) -> Problem {
    if status.is_server_error() {
        tracing::error!(rejection = %body_text, "{what}");
        Problem::internal()
    } else {
        Problem::new(status).with_detail(body_text)
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => Problem::bad_request(e.body_text()),
            JsonRejection::JsonDataError(e) => Problem::unprocessable(e.body_text()),
            JsonRejection::MissingJsonContentType(e) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).with_detail(e.body_text())
            }
            JsonRejection::BytesRejection(
                axum::extract::rejection::BytesRejection::FailedToBufferBody(e),
            ) => from_buffer(e),
            other => from_status(other.status(), other.body_text(), "JSON body rejected"),
        }
    }
}

impl From<FormRejection> for Problem {
    fn from(rejection: FormRejection) -> Self {
        match rejection {
            FormRejection::InvalidFormContentType(e) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).with_detail(e.body_text())
            }
            // A GET form is read from the query string: malformed input, 400.
            FormRejection::FailedToDeserializeForm(e) => Problem::bad_request(e.body_text()),
            FormRejection::FailedToDeserializeFormBody(e) => Problem::unprocessable(e.body_text()),
            FormRejection::BytesRejection(
                axum::extract::rejection::BytesRejection::FailedToBufferBody(e),
            ) => from_buffer(e),
            other => from_status(other.status(), other.body_text(), "form rejected"),
        }
    }
}

impl From<PathRejection> for Problem {
    /// A path segment that does not parse is a malformed request (400), not a missing
    /// resource: the route exists. A handler that asks for parameters its route does
    /// not have is a server bug (500, logged).
    fn from(rejection: PathRejection) -> Self {
        from_status(
            rejection.status(),
            rejection.body_text(),
            "path parameters rejected",
        )
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        from_status(
            rejection.status(),
            rejection.body_text(),
            "query string rejected",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error, bool);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            if self.1 {
                write!(f, "outer: {}", self.0)
            } else {
                f.write_str("outer")
            }
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chains_name_each_cause_once() {
        let refused = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(error_chain(&Outer(refused(), false)), "outer: refused");
        // A cause the error already printed is not repeated...
        assert_eq!(error_chain(&Outer(refused(), true)), "outer: refused");
        // ...but one that only ends the same way is kept.
        let ter = std::io::Error::other("ter");
        assert_eq!(error_chain(&Outer(ter, false)), "outer: ter");
    }
}
