//! [`Problem`]: an RFC 9457 (formerly RFC 7807) "problem details" error response.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The media type of a problem body: `application/problem+json`.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The members RFC 9457 defines; an extension member may not use these names.
const STANDARD_MEMBERS: [&str; 5] = ["type", "title", "status", "detail", "instance"];

/// The generic detail of every 500: the cause is logged, never sent.
const INTERNAL_DETAIL: &str = "The server could not complete the request.";

/// An HTTP error response in the RFC 9457 "problem details" format
/// (`application/problem+json`), the only error shape rustango sends.
///
/// A problem has a `type` URI (`about:blank` unless set), a short human `title` (by
/// default the status's reason phrase, as RFC 9457 asks for `about:blank`), the
/// `status`, an optional `detail` for this occurrence, an optional `instance` URI, and
/// extension members, which are serialized at the top level next to the standard ones.
///
/// ```
/// use rustango_http::Problem;
/// use http::StatusCode;
///
/// let p = Problem::new(StatusCode::CONFLICT)
///     .with_detail("A post with this slug already exists.")
///     .with_extension("field", "slug");
/// assert_eq!(p.status(), 409);
/// let body = serde_json::to_value(&p).unwrap();
/// assert_eq!(body["title"], "Conflict");
/// assert_eq!(body["field"], "slug");
/// assert_eq!(body["type"], "about:blank");
/// ```
///
/// It is the error half of [`ApiResult`](crate::ApiResult): lower-tier errors convert
/// into it with `?` (see [`mapping`](crate::mapping) for the one table of conversions).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default = "about_blank")]
    type_uri: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    status: u16,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    instance: Option<String>,
    #[serde(flatten)]
    extensions: Map<String, Value>,
    /// Response headers sent with the problem (`Retry-After`, `Allow`, …); not part of
    /// the body.
    #[serde(skip)]
    headers: HeaderMap,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

impl Problem {
    /// A problem with this status, `type` `about:blank` and the status's reason phrase
    /// as its title.
    pub fn new(status: StatusCode) -> Self {
        Problem {
            type_uri: about_blank(),
            title: status.canonical_reason().map(str::to_owned),
            status: status.as_u16(),
            detail: None,
            instance: None,
            extensions: Map::new(),
            headers: HeaderMap::new(),
        }
    }

    /// Sets the `title`: a short summary of the problem type, the same for every
    /// occurrence.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the `detail`: what went wrong in this occurrence, for a human.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the `type` URI identifying the problem type (default `about:blank`).
    pub fn with_type(mut self, type_uri: impl Into<String>) -> Self {
        self.type_uri = type_uri.into();
        self
    }

    /// Sets the `instance` URI identifying this occurrence (often the request path).
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds an extension member, serialized at the top level of the body.
    ///
    /// A `key` that is one of the standard members (`type`, `title`, `status`,
    /// `detail`, `instance`) is ignored: use the matching builder instead.
    pub fn with_extension(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let key = key.into();
        if STANDARD_MEMBERS.contains(&key.as_str()) {
            tracing::debug!(
                key,
                "ignoring a problem extension named like a standard member"
            );
        } else {
            self.extensions.insert(key, value.into());
        }
        self
    }

    /// Adds a response header (not part of the body), such as `Retry-After`.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// 404 Not Found.
    pub fn not_found() -> Self {
        Problem::new(StatusCode::NOT_FOUND)
    }

    /// 400 Bad Request: the request is malformed (syntax, an unparsable path or query).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST).with_detail(detail)
    }

    /// 422 Unprocessable Content: well-formed, but the values are not acceptable.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY).with_detail(detail)
    }

    /// 409 Conflict: the request conflicts with the current state of the resource.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::CONFLICT).with_detail(detail)
    }

    /// 429 Too Many Requests, with a `Retry-After` header.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Problem::new(StatusCode::TOO_MANY_REQUESTS)
            .with_detail(format!(
                "Too many requests: retry after {retry_after_secs} second(s)."
            ))
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs))
    }

    /// 413 Content Too Large.
    pub fn payload_too_large() -> Self {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
            .with_detail("The request body is larger than this endpoint accepts.")
    }

    /// 500 Internal Server Error with a generic detail. The cause never goes in the
    /// body: log it where it happens (the conversions in [`mapping`](crate::mapping)
    /// do).
    pub fn internal() -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR).with_detail(INTERNAL_DETAIL)
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> &str {
        &self.type_uri
    }

    /// The `title`, if any.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The `status` member as a number.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `status` as a [`StatusCode`] (500 if the member is not a valid status).
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `detail`, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The `instance`, if any.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// One extension member.
    pub fn extension(&self, key: &str) -> Option<&Value> {
        self.extensions.get(key)
    }

    /// All extension members.
    pub fn extensions(&self) -> &Map<String, Value> {
        &self.extensions
    }

    /// The headers sent with the problem.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Sets the status member when a parsed body had none (used by the test client).
    pub(crate) fn fill_status(&mut self, status: u16) {
        if self.status == 0 {
            self.status = status;
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.type_uri)?;
        if let Some(title) = &self.title {
            map.serialize_entry("title", title)?;
        }
        map.serialize_entry("status", &self.status)?;
        if let Some(detail) = &self.detail {
            map.serialize_entry("detail", detail)?;
        }
        if let Some(instance) = &self.instance {
            map.serialize_entry("instance", instance)?;
        }
        for (key, value) in &self.extensions {
            // A parsed body cannot hold these (serde takes the standard members first),
            // and `with_extension` refuses them: this keeps every body valid JSON anyway.
            if !STANDARD_MEMBERS.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(title) = &self.title {
            write!(f, " {title}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl From<StatusCode> for Problem {
    fn from(status: StatusCode) -> Self {
        Problem::new(status)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            Err(e) => {
                // Only a custom `Serialize` in an extension value could get here.
                tracing::error!(error = %e, "cannot serialize a problem body");
                serde_json::to_vec(&Problem::internal()).unwrap_or_default()
            }
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.extend(self.headers);
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}
