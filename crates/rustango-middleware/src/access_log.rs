//! [`AccessLogLayer`]: one `tracing` event per request, with secrets redacted.
//!
//! After each response the layer logs one event with target `rustango::access` and
//! these fields:
//!
//! | field        | value                                                            |
//! |--------------|------------------------------------------------------------------|
//! | `method`     | `GET`, `POST`, …                                                 |
//! | `path`       | the request path, without the query string                       |
//! | `query`      | the query string, redacted (absent when there is none)           |
//! | `status`     | the response status code                                         |
//! | `latency_ms` | milliseconds from the call to the response headers               |
//! | `bytes`      | the response body length, when known                             |
//! | `request_id` | `X-Request-Id` of the response, else of the request, if any      |
//! | `user_agent` | the `User-Agent` request header, if any                          |
//! | `referer`    | the `Referer` request header, its query redacted, if any         |
//! | `headers`    | the [`log_headers`](AccessLogLayer::log_headers), as JSON, if set |
//!
//! The level follows the status: `ERROR` for 5xx, `WARN` for 4xx, `INFO` otherwise.
//!
//! **Redaction.** A query parameter whose (percent-decoded) name contains, ignoring
//! case, any of [`DEFAULT_REDACTED_PARAMS`] (`password`, `token`, `key`, `session`,
//! …) keeps its name but has its value logged as `***`; add names with
//! [`redact_params`](AccessLogLayer::redact_params). The same applies to the query of
//! the `Referer`, whose user-info (`user:pass@`) is dropped too, and to the names of
//! the [`log_headers`](AccessLogLayer::log_headers): `x-api-key` is logged as `***`. The
//! `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` headers are never
//! logged: [`log_headers`](AccessLogLayer::log_headers) refuses them.
//!
//! Header values that are not UTF-8 are logged lossily and control characters are
//! escaped, so a client cannot forge log lines.
//!
//! Put it outside `RequestIdLayer` when you use both, so the id echoed on the
//! response is logged (the layer reads it from the response first):
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::access_log::AccessLogLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(
//!         AccessLogLayer::new()
//!             .redact_params(["otp"])
//!             .log_headers(["x-forwarded-for", "accept-language"]),
//!     );
//! // Logs e.g. `method="GET" path="/" query="otp=***&page=2" status=200 …`.
//! let response = TestClient::new(app).get("/?otp=123456&page=2").send().await;
//! assert_eq!(response.status, 200);
//! # });
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::HttpBody;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response};
use tower::{Layer, Service};

/// The `tracing` target of the access log events.
pub const TARGET: &str = "rustango::access";

/// Query parameter name fragments whose values are always redacted (matched as
/// case-insensitive substrings of the parameter name).
pub const DEFAULT_REDACTED_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "session",
    "code",
    "signature",
    "sig",
];

/// Headers that are never logged, even when asked for.
pub const NEVER_LOGGED_HEADERS: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::SET_COOKIE,
];

/// What a redacted value is logged as.
const REDACTED: &str = "***";

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone)]
struct Config {
    /// Lower-case name fragments.
    redact: Vec<String>,
    /// Request headers to log, never one of [`NEVER_LOGGED_HEADERS`].
    headers: Vec<HeaderName>,
}

/// Logs one `tracing` event per request; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct AccessLogLayer {
    config: Arc<Config>,
}

impl Default for AccessLogLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl AccessLogLayer {
    /// Logs every request, redacting [`DEFAULT_REDACTED_PARAMS`], with no extra
    /// headers.
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                redact: DEFAULT_REDACTED_PARAMS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                headers: Vec::new(),
            }),
        }
    }

    /// Also redacts query parameters (and [`log_headers`](Self::log_headers)) whose
    /// names contain (ignoring case) any of `names`, on top of
    /// [`DEFAULT_REDACTED_PARAMS`].
    pub fn redact_params<I, T>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let config = Arc::make_mut(&mut self.config);
        for name in names {
            let name = name.as_ref().trim().to_ascii_lowercase();
            if !name.is_empty() && !config.redact.contains(&name) {
                config.redact.push(name);
            }
        }
        self
    }

    /// Logs these request headers in the `headers` field (a JSON object, names in lower
    /// case, repeated values joined by `, `; the value of a header named like a secret,
    /// `x-api-key`, as `***`). `Authorization`, `Proxy-Authorization`,
    /// `Cookie`, `Set-Cookie` and invalid names are dropped, with a warning logged once
    /// here, at configuration.
    pub fn log_headers<I, T>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let config = Arc::make_mut(&mut self.config);
        let mut refused = Vec::new();
        for name in names {
            let raw = name.as_ref();
            match HeaderName::try_from(raw.trim()) {
                Ok(name) if NEVER_LOGGED_HEADERS.contains(&name) => refused.push(name.to_string()),
                Ok(name) => {
                    if !config.headers.contains(&name) {
                        config.headers.push(name);
                    }
                }
                Err(_) => refused.push(sanitize(raw).into_owned()),
            }
        }
        if !refused.is_empty() {
            tracing::warn!(
                target: TARGET,
                refused = ?refused,
                "access log: these headers are never logged (credentials or invalid names)"
            );
        }
        self
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service made by [`AccessLogLayer`].
#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AccessLog<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: HttpBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // Nothing is taken from the request when no subscriber would record even an
        // error line (the check is a cached per-call-site interest).
        let info = tracing::enabled!(target: TARGET, tracing::Level::ERROR)
            .then(|| RequestInfo::new(&req, &self.config));
        ResponseFuture {
            inner: self.inner.call(req),
            info,
        }
    }
}

/// What the event needs from the request, taken before the request is handed on:
/// cheap clones (shared bytes); the text of the line is made only when it is written.
struct RequestInfo {
    start: Instant,
    method: http::Method,
    uri: http::Uri,
    request_id: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    referer: Option<HeaderValue>,
    headers: Option<String>,
    config: Arc<Config>,
}

impl RequestInfo {
    fn new<B>(req: &Request<B>, config: &Arc<Config>) -> Self {
        let h = req.headers();
        let headers = (!config.headers.is_empty())
            .then(|| logged_headers(h, &config.headers, &config.redact));
        RequestInfo {
            start: Instant::now(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            request_id: h.get(X_REQUEST_ID).cloned(),
            user_agent: h.get(header::USER_AGENT).cloned(),
            referer: h.get(header::REFERER).cloned(),
            headers,
            config: Arc::clone(config),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`AccessLog`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        info: Option<RequestInfo>,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("logged", &self.info.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: HttpBody,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        if let (Ok(response), Some(info)) = (&result, this.info.take()) {
            emit(&info, response);
        }
        Poll::Ready(result)
    }
}

macro_rules! access_event {
    ($level:expr, $info:expr, $status:expr, $latency:expr, $bytes:expr, $request_id:expr) => {
        tracing::event!(
            target: TARGET,
            $level,
            method = $info.method,
            path = &*$info.path,
            query = $info.query.as_deref(),
            status = $status,
            latency_ms = $latency,
            bytes = $bytes,
            request_id = $request_id,
            user_agent = $info.user_agent.as_deref(),
            referer = $info.referer.as_deref(),
            headers = $info.headers,
            "{} {} {}",
            $info.method,
            $info.path,
            $status
        )
    };
}

/// The request's side of the line, as text.
struct Line<'a> {
    method: &'a str,
    path: Cow<'a, str>,
    query: Option<String>,
    user_agent: Option<Cow<'a, str>>,
    referer: Option<String>,
    headers: Option<&'a str>,
}

fn emit<B: HttpBody>(info: &RequestInfo, response: &Response<B>) {
    let latency_ms = (info.start.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let redact = &info.config.redact;
    let line = Line {
        method: info.method.as_str(),
        path: sanitize(info.uri.path()),
        query: info.uri.query().map(|q| redact_query(q, redact)),
        user_agent: info.user_agent.as_ref().map(lossy),
        referer: info.referer.as_ref().map(|v| redact_url(&lossy(v), redact)),
        headers: info.headers.as_deref(),
    };
    let status = response.status().as_u16();
    let bytes = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .or_else(|| response.body().size_hint().exact());
    let request_id = response
        .headers()
        .get(X_REQUEST_ID)
        .or(info.request_id.as_ref())
        .map(lossy);
    let request_id = request_id.as_deref();
    // Three call sites, as a `tracing` level must be a constant.
    if status >= 500 {
        access_event!(
            tracing::Level::ERROR,
            line,
            status,
            latency_ms,
            bytes,
            request_id
        );
    } else if status >= 400 {
        access_event!(
            tracing::Level::WARN,
            line,
            status,
            latency_ms,
            bytes,
            request_id
        );
    } else {
        access_event!(
            tracing::Level::INFO,
            line,
            status,
            latency_ms,
            bytes,
            request_id
        );
    }
}

/// The chosen headers as a JSON object; never one of [`NEVER_LOGGED_HEADERS`], and the
/// value of one whose name contains a redacted fragment (`x-api-key`, `x-auth-token`)
/// as `***`.
fn logged_headers(headers: &HeaderMap, names: &[HeaderName], redact: &[String]) -> String {
    let mut map = serde_json::Map::new();
    for name in names {
        if NEVER_LOGGED_HEADERS.contains(name) {
            continue;
        }
        let values: Vec<Cow<'_, str>> = headers.get_all(name).iter().map(lossy).collect();
        if values.is_empty() {
            continue;
        }
        let value = if is_secret(name.as_str(), redact) {
            REDACTED.to_owned()
        } else {
            values.join(", ")
        };
        map.insert(name.to_string(), value.into());
    }
    serde_json::Value::Object(map).to_string()
}

/// A header value as text: lossy UTF-8, control characters escaped.
fn lossy(value: &HeaderValue) -> Cow<'_, str> {
    match String::from_utf8_lossy(value.as_bytes()) {
        Cow::Borrowed(s) => sanitize(s),
        Cow::Owned(s) => Cow::Owned(sanitize(&s).into_owned()),
    }
}

/// `s` with control characters escaped (`\n`, `\u{1b}`), so it stays on one log line.
fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether a parameter named `raw` (still percent-encoded) is secret.
fn is_secret(raw: &str, redact: &[String]) -> bool {
    let name = percent_decode(raw).to_lowercase();
    redact
        .iter()
        .any(|fragment| name.contains(fragment.as_str()))
}

/// `a=1&token=x` → `a=1&token=***`, names and order kept.
fn redact_query(query: &str, redact: &[String]) -> String {
    let out: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name, redact) => Cow::Owned(format!("{name}={REDACTED}")),
            _ => Cow::Borrowed(pair),
        })
        .collect();
    sanitize(&out.join("&")).into_owned()
}

/// A URL (the `Referer`) with the user-info dropped and the query redacted.
fn redact_url(url: &str, redact: &[String]) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (base, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    // `scheme://user:pass@host/…` → `scheme://host/…`
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            out.push_str(scheme);
            out.push_str("://");
            out.push_str(host);
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query, redact));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    sanitize(&out).into_owned()
}

/// A query parameter name, decoded as a form extractor would (`+`, `%XX`).
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&rustango_http::percent::decode_form(s.as_bytes())).into_owned()
}

crate::router_ext! {
    /// Logs one line per request, secrets redacted.
    AccessLogRouterExt::access_log(AccessLogLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_REDACTED_PARAMS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn redacts_queries() {
        let r = defaults();
        assert_eq!(redact_query("token=abc&page=2", &r), "token=***&page=2");
        assert_eq!(
            redact_query("API_KEY=1&Password=2&x&q=&sig=3", &r),
            "API_KEY=***&Password=***&x&q=&sig=***"
        );
        assert_eq!(redact_query("access%5Ftoken=z", &r), "access%5Ftoken=***");
        assert_eq!(redact_query("a=%ff%&b=%zz", &r), "a=%ff%&b=%zz");
        assert_eq!(redact_query("%", &r), "%");
    }

    #[test]
    fn redacts_urls() {
        let r = defaults();
        assert_eq!(
            redact_url("https://u:p@ex.com/a?code=9&x=1#top", &r),
            "https://ex.com/a?code=***&x=1#top"
        );
        assert_eq!(
            redact_url("/relative?session=s", &r),
            "/relative?session=***"
        );
        assert_eq!(redact_url("https://ex.com", &r), "https://ex.com");
    }

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("a%5Fb+c"), "a_b c");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn sanitizes() {
        assert_eq!(sanitize("a\nb"), "a\\nb");
        let v = HeaderValue::from_bytes(b"x\xffy").unwrap();
        assert_eq!(lossy(&v), "x\u{fffd}y");
    }

    #[test]
    fn refuses_credential_headers() {
        let layer =
            AccessLogLayer::new().log_headers(["Authorization", "x-trace", "cookie", "bad name"]);
        assert_eq!(
            layer.config.headers,
            vec![HeaderName::from_static("x-trace")]
        );
    }
}
