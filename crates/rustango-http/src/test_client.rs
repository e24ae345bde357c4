//! An in-process HTTP client for tests: requests go straight into the [`Router`] with
//! `tower::ServiceExt::oneshot`, no socket, no server.
//!
//! ```
//! use axum::{Router, routing::post};
//! use rustango_http::extract::Json;
//! use rustango_http::test_client::TestClient;
//!
//! async fn create(Json(post): Json<serde_json::Value>) -> (http::StatusCode, Json<serde_json::Value>) {
//!     (http::StatusCode::CREATED, Json(post))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let client = TestClient::new(Router::new().route("/api/posts", post(create)));
//! let response = client
//!     .post("/api/posts")
//!     .header("authorization", "Bearer x")
//!     .json(&serde_json::json!({"title": "Hi"}))
//!     .send()
//!     .await;
//! assert_eq!(response.status, 201);
//! let post: serde_json::Value = response.json();
//! assert_eq!(post["title"], "Hi");
//! # });
//! ```
//!
//! The client keeps cookies across requests like a browser would for one site
//! (`Set-Cookie` stores, `Max-Age=0` or a past `Expires` deletes), gives handlers a
//! peer address for [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo), and, given
//! the [`Pool`](rustango_orm::Pool) the app uses ([`TestClient::with_pool`]), counts
//! the statements each request runs ([`TestResponse::queries`]).

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use crate::Problem;
use crate::problem::PROBLEM_JSON;

/// Calls an axum [`Router`] in-process; see the [module docs](self).
///
/// Cloning is cheap; clones share the cookie jar.
#[derive(Debug, Clone)]
pub struct TestClient {
    router: Router,
    cookies: Arc<Mutex<BTreeMap<String, String>>>,
    peer: SocketAddr,
    pool: Option<rustango_orm::Pool>,
}

impl TestClient {
    /// A client for `app`, with an empty cookie jar and the peer address
    /// `127.0.0.1:0`.
    pub fn new(app: Router) -> Self {
        TestClient {
            router: app,
            cookies: Arc::default(),
            peer: SocketAddr::from(([127, 0, 0, 1], 0)),
            pool: None,
        }
    }

    /// Counts the statements `pool` runs while each request is handled, into
    /// [`TestResponse::queries`].
    ///
    /// The count is the difference of [`Pool::query_count`](rustango_orm::Pool::query_count)
    /// before and after the request, so work other tasks do on the same pool meanwhile
    /// is counted too: give each test its own pool.
    pub fn with_pool(mut self, pool: rustango_orm::Pool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The peer address handlers see as `ConnectInfo<SocketAddr>` (for IP-based
    /// middleware); [`TestRequest::peer_addr`] overrides it for one request.
    pub fn with_peer_addr(mut self, addr: SocketAddr) -> Self {
        self.peer = addr;
        self
    }

    /// A request with any method.
    pub fn request(&self, method: Method, uri: impl Into<String>) -> TestRequest<'_> {
        TestRequest {
            client: self,
            method,
            uri: uri.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            peer: None,
        }
    }

    /// A `GET` request.
    pub fn get(&self, uri: impl Into<String>) -> TestRequest<'_> {
        self.request(Method::GET, uri)
    }

    /// A `POST` request.
    pub fn post(&self, uri: impl Into<String>) -> TestRequest<'_> {
        self.request(Method::POST, uri)
    }

    /// A `PUT` request.
    pub fn put(&self, uri: impl Into<String>) -> TestRequest<'_> {
        self.request(Method::PUT, uri)
    }

    /// A `PATCH` request.
    pub fn patch(&self, uri: impl Into<String>) -> TestRequest<'_> {
        self.request(Method::PATCH, uri)
    }

    /// A `DELETE` request.
    pub fn delete(&self, uri: impl Into<String>) -> TestRequest<'_> {
        self.request(Method::DELETE, uri)
    }

    /// A `HEAD` request.
    pub fn head(&self, uri: impl Into<String>) -> TestRequest<'_> {
        self.request(Method::HEAD, uri)
    }

    /// An `OPTIONS` request.
    pub fn options(&self, uri: impl Into<String>) -> TestRequest<'_> {
        self.request(Method::OPTIONS, uri)
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        // A test that panicked while holding the lock left a consistent map.
        self.cookies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar().get(name).cloned()
    }

    /// All cookies in the jar, by name.
    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.jar().clone()
    }

    /// Puts a cookie in the jar, as if the server had set it.
    pub fn set_cookie(&self, name: impl Into<String>, value: impl Into<String>) {
        self.jar().insert(name.into(), value.into());
    }

    /// Removes a cookie from the jar.
    pub fn remove_cookie(&self, name: &str) {
        self.jar().remove(name);
    }

    /// Empties the jar.
    pub fn clear_cookies(&self) {
        self.jar().clear();
    }

    fn cookie_header(&self) -> Option<String> {
        let jar = self.jar();
        if jar.is_empty() {
            return None;
        }
        let pairs: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Some(pairs.join("; "))
    }

    fn store_cookies(&self, headers: &HeaderMap) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut jar = self.jar();
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            match parse_set_cookie(value, now) {
                Some(SetCookie::Store(name, value)) => {
                    jar.insert(name, value);
                }
                Some(SetCookie::Delete(name)) => {
                    jar.remove(&name);
                }
                None => {}
            }
        }
    }
}

/// A request being built; send it with [`send`](Self::send) (or `.await` it).
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct TestRequest<'a> {
    client: &'a TestClient,
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
    peer: Option<SocketAddr>,
}

impl<'a> TestRequest<'a> {
    /// Adds a header.
    ///
    /// # Panics
    /// If the name or value is not a valid header (a test mistake).
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: std::fmt::Debug,
        V: TryInto<HeaderValue>,
        V::Error: std::fmt::Debug,
    {
        let name = name.try_into().expect("invalid header name");
        let value = value.try_into().expect("invalid header value");
        self.headers.append(name, value);
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// A JSON body, with `Content-Type: application/json`.
    ///
    /// # Panics
    /// If `value` cannot be serialized.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = serde_json::to_vec(value)
            .expect("cannot serialize the JSON body")
            .into();
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self
    }

    /// A URL-encoded form body, with `Content-Type: application/x-www-form-urlencoded`.
    /// `value` is a struct or map of scalars (a sequence repeats its key; `None` is
    /// left out), or a sequence of `(name, value)` pairs.
    ///
    /// # Panics
    /// If `value` is not of that shape.
    pub fn form<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.body = encode_form(value).into();
        self.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self
    }

    /// Appends `value`, URL-encoded like [`form`](Self::form), to the query string.
    pub fn query<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        let encoded = encode_form(value);
        if !encoded.is_empty() {
            self.uri
                .push(if self.uri.contains('?') { '&' } else { '?' });
            self.uri.push_str(&encoded);
        }
        self
    }

    /// A raw body (set `Content-Type` with [`header`](Self::header)).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The peer address for this request only.
    pub fn peer_addr(mut self, addr: SocketAddr) -> Self {
        self.peer = Some(addr);
        self
    }

    /// Sends the request through the router and reads the whole response.
    ///
    /// # Panics
    /// If the URI is invalid or the response body fails to read (test mistakes or
    /// broken streaming bodies).
    pub async fn send(self) -> TestResponse {
        let TestRequest {
            client,
            method,
            uri,
            mut headers,
            body,
            peer,
        } = self;
        if !headers.contains_key(header::HOST) {
            headers.insert(header::HOST, HeaderValue::from_static("localhost"));
        }
        if let Some(jar) = client.cookie_header() {
            let value = match headers.get(header::COOKIE).and_then(|v| v.to_str().ok()) {
                Some(own) => format!("{own}; {jar}"),
                None => jar,
            };
            let value = HeaderValue::try_from(value).expect("cookie jar holds an invalid value");
            headers.insert(header::COOKIE, value);
        }
        let mut request = Request::builder()
            .method(method)
            .uri(uri.as_str())
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("invalid request URI {uri:?}: {e}"));
        *request.headers_mut() = headers;
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.unwrap_or(client.peer)));

        let before = client.pool.as_ref().map(rustango_orm::Pool::query_count);
        let response = match client.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .unwrap_or_else(|e| panic!("reading the response body failed: {e}"))
            .to_bytes();
        let queries = match (&client.pool, before) {
            (Some(pool), Some(before)) => Some(pool.query_count().saturating_sub(before)),
            _ => None,
        };
        client.store_cookies(&parts.headers);
        TestResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            queries,
        }
    }
}

impl<'a> IntoFuture for TestRequest<'a> {
    type Output = TestResponse;
    type IntoFuture = Pin<Box<dyn Future<Output = TestResponse> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A response read to the end.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestResponse {
    /// The status code (compare with integers: `assert_eq!(response.status, 201)`).
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// How many statements the client's pool ran while handling the request;
    /// `None` unless the client was given one with [`TestClient::with_pool`].
    pub queries: Option<u64>,
}

impl TestResponse {
    /// The status as a [`StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    /// If the body is not JSON of that shape; the message quotes the body.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not the expected JSON ({e}); status {}, body: {}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as a [`Problem`].
    ///
    /// # Panics
    /// If the response is not `application/problem+json` or its body is not a problem.
    #[track_caller]
    pub fn problem(&self) -> Problem {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with(PROBLEM_JSON),
            "expected an {PROBLEM_JSON} response, got content-type {content_type:?}; status {}, body: {}",
            self.status,
            self.text()
        );
        let mut problem: Problem = self.json();
        problem.fill_status(self.status);
        problem
    }

    /// Asserts that the request ran at most `max` statements.
    ///
    /// # Panics
    /// If it ran more, or the client has no pool ([`TestClient::with_pool`]).
    #[track_caller]
    pub fn assert_max_queries(&self, max: u64) -> &Self {
        let Some(queries) = self.queries else {
            panic!("no query count: give the client the app's pool with TestClient::with_pool")
        };
        assert!(
            queries <= max,
            "the request ran {queries} statements, more than the {max} allowed"
        );
        self
    }
}

// --- cookies ---------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum SetCookie {
    Store(String, String),
    Delete(String),
}

/// Reads one `Set-Cookie` value: `name=value` and the attributes that can delete it.
fn parse_set_cookie(header: &str, now: u64) -> Option<SetCookie> {
    let mut parts = header.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let value = value.trim();
    let mut max_age = None;
    let mut expires = None;
    for attribute in parts {
        let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
        let key = key.trim();
        if key.eq_ignore_ascii_case("max-age") {
            max_age = val.trim().parse::<i64>().ok();
        } else if key.eq_ignore_ascii_case("expires") {
            expires = parse_cookie_date(val.trim());
        }
    }
    // Max-Age wins over Expires (RFC 6265 §5.3).
    let expired = match (max_age, expires) {
        (Some(age), _) => age <= 0,
        (None, Some(at)) => at <= now,
        (None, None) => false,
    };
    Some(if expired {
        SetCookie::Delete(name.to_owned())
    } else {
        SetCookie::Store(name.to_owned(), value.to_owned())
    })
}

/// A cookie date (RFC 6265 §5.1.1: `Thu, 01 Jan 1970 00:00:00 GMT`, the dashed and
/// asctime forms too) as seconds since the Unix epoch.
fn parse_cookie_date(s: &str) -> Option<u64> {
    let delimiter = |c: char| matches!(c, '\t' | ' '..='/' | ';'..='@' | '['..='`' | '{'..='~');
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for token in s.split(delimiter).filter(|t| !t.is_empty()) {
        if time.is_none() {
            let hms: Vec<&str> = token.split(':').collect();
            if hms.len() == 3 {
                let n: Option<Vec<u64>> = hms.iter().map(|p| p.parse().ok()).collect();
                if let Some(n) = n {
                    time = Some((n[0], n[1], n[2]));
                    continue;
                }
            }
        }
        let digits = token.bytes().all(|b| b.is_ascii_digit());
        if day.is_none() && digits && token.len() <= 2 {
            day = token.parse::<u64>().ok();
            continue;
        }
        if month.is_none() && token.len() >= 3 {
            const MONTHS: [&str; 12] = [
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ];
            let prefix = token[..3].to_ascii_lowercase();
            if let Some(i) = MONTHS.iter().position(|m| *m == prefix) {
                month = Some(i as u64 + 1);
                continue;
            }
        }
        if year.is_none() && digits && (2..=4).contains(&token.len()) {
            year = token.parse::<u64>().ok();
        }
    }
    let (h, mi, sec) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year < 70 {
        year += 2000;
    }
    if year < 1970 || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 59 {
        return Some(0);
    }
    // Days from civil (Howard Hinnant's algorithm), for years from 1970.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

// --- forms -----------------------------------------------------------------------

/// `application/x-www-form-urlencoded` encoding of a flat value.
fn encode_form<T: Serialize + ?Sized>(value: &T) -> String {
    let value = serde_json::to_value(value).expect("cannot serialize the form");
    let mut out = String::new();
    let mut push = |key: &str, value: &serde_json::Value| {
        let text = match value {
            serde_json::Value::Null => return,
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => value.to_string(),
            other => panic!("a form field must be a scalar, `{key}` is {other}"),
        };
        if !out.is_empty() {
            out.push('&');
        }
        crate::percent::encode_form(key, &mut out);
        out.push('=');
        crate::percent::encode_form(&text, &mut out);
    };
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in &map {
                match value {
                    serde_json::Value::Array(items) => {
                        for item in items {
                            push(key, item);
                        }
                    }
                    value => push(key, value),
                }
            }
        }
        serde_json::Value::Array(pairs) => {
            for pair in &pairs {
                match pair.as_array().map(Vec::as_slice) {
                    Some([serde_json::Value::String(key), value]) => push(key, value),
                    _ => panic!("a form given as a sequence must hold (name, value) pairs"),
                }
            }
        }
        serde_json::Value::Null => {}
        other => panic!("a form must be a struct, a map or a sequence of pairs, not {other}"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_dates() {
        assert_eq!(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_cookie_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_cookie_date("Wed, 29 Feb 2040 12:00:00 GMT"),
            Some(2_214_129_600)
        );
        assert_eq!(parse_cookie_date("not a date"), None);
    }

    #[test]
    fn set_cookie_store_and_delete() {
        let now = 1_000_000;
        assert_eq!(
            parse_set_cookie("sid=abc; Path=/; HttpOnly; SameSite=Lax", now),
            Some(SetCookie::Store("sid".into(), "abc".into()))
        );
        assert_eq!(
            parse_set_cookie("sid=; Max-Age=0; Path=/", now),
            Some(SetCookie::Delete("sid".into()))
        );
        assert_eq!(
            parse_set_cookie("sid=x; expires=Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(SetCookie::Delete("sid".into()))
        );
        // Max-Age wins over a past Expires.
        assert_eq!(
            parse_set_cookie(
                "sid=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60",
                now
            ),
            Some(SetCookie::Store("sid".into(), "x".into()))
        );
        assert_eq!(parse_set_cookie("garbage", now), None);
    }

    #[test]
    fn form_encoding() {
        #[derive(Serialize)]
        struct F<'a> {
            name: &'a str,
            age: u32,
            tags: Vec<&'a str>,
            none: Option<u8>,
        }
        let f = F {
            name: "Zoë & co/ok",
            age: 7,
            tags: vec!["a", "b"],
            none: None,
        };
        assert_eq!(
            encode_form(&f),
            "age=7&name=Zo%C3%AB+%26+co%2Fok&tags=a&tags=b"
        );
        assert_eq!(encode_form(&[("q", "x y")]), "q=x+y");
    }
}
