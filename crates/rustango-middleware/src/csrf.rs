//! [`CsrfLayer`]: refuse cross-site request forgery on cookie-authenticated requests.
//!
//! Unsafe requests (`POST`, `PUT`, `PATCH`, `DELETE`) that carry cookies must pass two
//! checks, in this order:
//!
//! 1. **Origin.** If the request has an `Origin` header, it must be the request's own
//!    origin (the scheme set by [`secure`](CsrfLayer::secure), the host from the `Host`
//!    header) or one of the [`trusted_origins`](CsrfLayer::trusted_origins).
//!    `Sec-Fetch-Site: cross-site` is refused; `same-origin` and `none` pass, and so
//!    does `same-site` unless [`allow_same_site(false)`](CsrfLayer::allow_same_site).
//! 2. **Token (signed double submit).** The layer keeps a `csrftoken` cookie: 32 random
//!    bytes followed by their HMAC-SHA256 under the layer's secret, in unpadded
//!    base64url. An unsafe request must send the same token in the `X-CSRF-Token`
//!    header, or in a `csrfmiddlewaretoken` field of an
//!    `application/x-www-form-urlencoded` body (buffered up to 64 KiB, a `413` problem
//!    above, and handed on unchanged), and the cookie's signature must verify. The
//!    comparisons take constant time.
//!
//! A refusal is a `403` problem whose detail says which check failed; it never
//! contains the expected token.
//!
//! **Exemptions.** A request without any `Cookie` header needs no token: CSRF rides on
//! credentials the browser attaches by itself, and a request without cookies (an API
//! client sending `Authorization: Bearer …`, say) has none to abuse. Such a request
//! still gets the origin check when its body is one a cross-site HTML form can send
//! (urlencoded, multipart, plain text, none): that stops login CSRF (signing the
//! victim's browser into the attacker's account) and forms riding on cached Basic
//! credentials; JSON API calls pass. A bearer request
//! that *also* carries cookies is checked like any other. Safe methods (`GET`, `HEAD`,
//! `OPTIONS`, `TRACE`) are never checked, so they must not change state.
//!
//! Handlers get the token through the [`CsrfToken`] extractor (or [`get_token`]), to
//! put in forms (masked afresh on every call, so compressed pages cannot leak it) or
//! hand to scripts. As in Django, the cookie is issued lazily: when the request had no
//! valid `csrftoken` cookie and something asked for the token, the response sets a new
//! one (`Path=/; SameSite=Lax`, plus `Secure` when [`secure`](CsrfLayer::secure) is on;
//! not `HttpOnly`, so scripts can copy it into the header). Responses that never asked
//! (an API's JSON, a static page) set nothing and cost no signature. A refusal for a
//! missing or invalid cookie also sets a fresh one. [`ensure_cookie`](CsrfLayer::ensure_cookie)
//! sets it on every response instead.
//!
//! The token is not bound to a session: an attacker who controls a sibling subdomain
//! and can set cookies for yours ("cookie tossing") can plant a token of their own.
//! The `Origin` / `Sec-Fetch-Site` checks are the defence there; keep them on.
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::csrf::{CsrfLayer, CsrfToken};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let layer = CsrfLayer::try_new("a secret of at least thirty-two bytes!")
//!     .expect("the secret is long enough")
//!     .secure(false) // plain-HTTP development server
//!     .trusted_origins(["https://admin.example.com"]);
//! let app = Router::new()
//!     .route("/form", get(|token: CsrfToken| async move {
//!         format!(r#"<input type="hidden" name="csrfmiddlewaretoken" value="{token}">"#)
//!     }))
//!     .route("/submit", post(|| async { "done" }))
//!     .layer(layer);
//! let client = TestClient::new(app);
//!
//! // The form page asks for the token, so its response sets the cookie; the test
//! // client keeps it.
//! assert_eq!(client.get("/form").send().await.status, 200);
//! let token = client.cookie("csrftoken").unwrap();
//!
//! assert_eq!(client.post("/submit").send().await.status, 403);
//! let ok = client.post("/submit").header("x-csrf-token", token.as_str()).send().await;
//! assert_eq!(ok.text(), "done");
//! # });
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use rustango_http::Problem;
use sha2::Sha256;
use tower::{Layer, Service};

use crate::future::DecidedFuture;

/// The cookie holding the token.
pub const COOKIE_NAME: &str = "csrftoken";
/// The header an unsafe request may send the token in.
pub const HEADER_NAME: HeaderName = HeaderName::from_static("x-csrf-token");
/// The urlencoded form field an unsafe request may send the token in.
pub const FORM_FIELD: &str = "csrfmiddlewaretoken";
/// The largest form body buffered to look for [`FORM_FIELD`]: 64 KiB.
pub const MAX_FORM_BODY: usize = 64 * 1024;
/// The shortest secret [`CsrfLayer::try_new`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

const RANDOM_LEN: usize = 32;
const MAC_LEN: usize = 32;
const TOKEN_LEN: usize = RANDOM_LEN + MAC_LEN;
/// The length of an encoded token: 64 bytes in unpadded base64.
const ENCODED_LEN: usize = 86;
/// The length of a masked token: pad and masked token, 128 bytes in unpadded base64.
const MASKED_LEN: usize = 171;

/// The token of the current request, for forms (`csrfmiddlewaretoken`) and scripts.
///
/// Extract it in a handler wrapped by [`CsrfLayer`]; `Option<CsrfToken>` works without
/// the layer.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CsrfToken(pub String);

impl CsrfToken {
    /// The token value (unpadded base64url).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a secret from its own user, but kept out of logs.
        f.write_str("CsrfToken(..)")
    }
}

crate::future::extension_extractor!(CsrfToken, "CsrfLayer", get_token);

/// The CSRF token of the request whose extensions these are, for code that builds a
/// page without the [`CsrfToken`] extractor (a template context, say); `None` outside
/// [`CsrfLayer`].
///
/// As with Django's `get_token`, asking is what makes the response set the `csrftoken`
/// cookie when the request had no valid one; responses that never ask set nothing.
/// Each call returns a freshly masked form of the same token.
pub fn get_token(extensions: &http::Extensions) -> Option<CsrfToken> {
    extensions
        .get::<TokenState>()
        .map(|state| CsrfToken(mask(&state.token())))
}

/// What the layer leaves in the request's extensions: enough to produce the token on
/// demand. The cookie is verified, and a new token minted, only when a check or a
/// handler needs it.
#[derive(Clone)]
struct TokenState(Arc<TokenInner>);

struct TokenInner {
    key: Arc<[u8; 32]>,
    /// The request's `Cookie` headers that name `csrftoken`, not yet verified.
    cookie_headers: CookieHeaders,
    /// The verified cookie token, once looked at.
    cookie: OnceLock<Option<[u8; TOKEN_LEN]>>,
    /// A new token, once one was needed: the response sets it as the cookie.
    minted: OnceLock<[u8; TOKEN_LEN]>,
}

impl TokenState {
    /// The token: the cookie's when it verifies, a new one otherwise.
    fn token(&self) -> [u8; TOKEN_LEN] {
        match self.cookie() {
            Some(token) => token,
            None => self.mint(),
        }
    }

    fn cookie(&self) -> Option<[u8; TOKEN_LEN]> {
        let inner = &*self.0;
        *inner.cookie.get_or_init(|| {
            let verify = |value: &HeaderValue| cookie_in(&inner.key, value).0;
            match &inner.cookie_headers {
                CookieHeaders::None => None,
                CookieHeaders::One(value) => verify(value),
                CookieHeaders::Many(values) => values.iter().find_map(verify),
            }
        })
    }

    fn mint(&self) -> [u8; TOKEN_LEN] {
        *self.0.minted.get_or_init(|| issue(&self.0.key))
    }
}

/// The secret given to [`CsrfLayer::try_new`] is shorter than [`MIN_SECRET_LEN`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the CSRF secret is {len} bytes long; it needs at least {MIN_SECRET_LEN}")]
pub struct CsrfSecretError {
    /// The length of the secret that was refused.
    pub len: usize,
}

/// Checks unsafe cookie-authenticated requests; see the [module docs](self).
#[derive(Clone)]
pub struct CsrfLayer {
    /// The HMAC key, already padded (or hashed, then padded) to one block.
    key: Arc<[u8; 32]>,
    secure: bool,
    allow_same_site: bool,
    ensure_cookie: bool,
    trusted_origins: Arc<[String]>,
}

impl fmt::Debug for CsrfLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is not printed.
        f.debug_struct("CsrfLayer")
            .field("secure", &self.secure)
            .field("allow_same_site", &self.allow_same_site)
            .field("ensure_cookie", &self.ensure_cookie)
            .field("trusted_origins", &self.trusted_origins)
            .finish_non_exhaustive()
    }
}

impl CsrfLayer {
    /// A layer signing tokens with `secret`, which must be at least
    /// [`MIN_SECRET_LEN`] bytes (random ones, from your settings).
    ///
    /// # Panics
    /// If `secret` is too short; prefer [`try_new`](Self::try_new), which returns the
    /// error.
    #[track_caller]
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self::try_new(secret).unwrap_or_else(|err| panic!("CsrfLayer::new: {err}"))
    }

    /// A layer signing tokens with `secret`, or an error if it is shorter than
    /// [`MIN_SECRET_LEN`] bytes. Secure cookies and same-site requests allowed.
    pub fn try_new(secret: impl AsRef<[u8]>) -> Result<Self, CsrfSecretError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(CsrfSecretError { len: secret.len() });
        }
        Ok(CsrfLayer {
            // A key of its own, derived from the secret: the same settings secret
            // signs other things too.
            key: Arc::new(hmac_sha256(secret, b"rustango.middleware.csrf")),
            secure: true,
            allow_same_site: true,
            ensure_cookie: false,
            trusted_origins: Arc::new([]),
        })
    }

    /// Whether the site is served over HTTPS (the default): the request's own origin
    /// is `https://{host}` and the cookie is `Secure`. Turn it off for a plain-HTTP
    /// development server.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Whether `Sec-Fetch-Site: same-site` (a sibling subdomain) passes the origin
    /// check (the default) or is refused.
    pub fn allow_same_site(mut self, allow: bool) -> Self {
        self.allow_same_site = allow;
        self
    }

    /// Whether every response sets the `csrftoken` cookie when the request had no
    /// valid one (Django's `ensure_csrf_cookie`, for a whole app). Off by default: the
    /// cookie is set only when something asks for the token ([`CsrfToken`],
    /// [`get_token`]), such as a page rendering a form or a JSON route handing the
    /// token to a script. Turn it on for a single-page app whose scripts read the cookie
    /// before any such route ran.
    pub fn ensure_cookie(mut self, ensure: bool) -> Self {
        self.ensure_cookie = ensure;
        self
    }

    /// Other origins allowed in `Origin` (`https://admin.example.com`, with a port if
    /// not the default one); adds to earlier calls.
    pub fn trusted_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut all = self.trusted_origins.to_vec();
        all.extend(
            origins
                .into_iter()
                .map(|o| normalize_origin(o.as_ref().trim_end_matches('/'))),
        );
        self.trusted_origins = all.into();
        self
    }

    /// The origin check: `Err` with the reason on refusal.
    fn check_origin(&self, headers: &HeaderMap, uri: &http::Uri) -> Result<(), &'static str> {
        if let Some(site) = headers.get("sec-fetch-site") {
            match site.as_bytes() {
                b"cross-site" => return Err("The request comes from another site."),
                b"same-site" if !self.allow_same_site => {
                    return Err("The request comes from another origin of this site.");
                }
                _ => {}
            }
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let Ok(origin) = origin.to_str() else {
            return Err("The Origin header is malformed.");
        };
        let origin = normalize_origin(origin);
        if self.trusted_origins.contains(&origin) {
            return Ok(());
        }
        // HTTP/1.1 names the host in `Host`; HTTP/2 and 3 in the URI's authority.
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()));
        let Some(host) = host else {
            return Err("The Origin header cannot be checked without a Host header.");
        };
        let scheme = if self.secure { "https" } else { "http" };
        if origin == normalize_origin(&format!("{scheme}://{host}")) {
            Ok(())
        } else {
            Err("The Origin header does not match the site or a trusted origin.")
        }
    }
}

/// A fresh token signed with `key`: 32 random bytes and their HMAC.
fn issue(key: &[u8; 32]) -> [u8; TOKEN_LEN] {
    let mut token = [0u8; TOKEN_LEN];
    token[..RANDOM_LEN].copy_from_slice(&random::<RANDOM_LEN>());
    let mac = hmac_sha256(key, &token[..RANDOM_LEN]);
    token[RANDOM_LEN..].copy_from_slice(&mac);
    token
}

/// The token when `encoded` is well formed and signed with `key`.
fn verified(key: &[u8; 32], encoded: &[u8]) -> Option<[u8; TOKEN_LEN]> {
    if encoded.len() != ENCODED_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let raw = <[u8; TOKEN_LEN]>::try_from(raw).ok()?;
    rustango_config::constant_time_eq(&raw[RANDOM_LEN..], &hmac_sha256(key, &raw[..RANDOM_LEN]))
        .then_some(raw)
}

/// The first `csrftoken` cookie in one `Cookie` header that verifies, and whether the
/// header had one at all.
fn cookie_in(key: &[u8; 32], value: &HeaderValue) -> (Option<[u8; TOKEN_LEN]>, bool) {
    let mut seen = false;
    for pair in value.as_bytes().split(|&b| b == b';') {
        let pair = pair.trim_ascii();
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        if pair[..eq].trim_ascii() != COOKIE_NAME.as_bytes() {
            continue;
        }
        seen = true;
        let mut token = pair[eq + 1..].trim_ascii();
        if let [b'"', inner @ .., b'"'] = token {
            token = inner;
        }
        if let Some(raw) = verified(key, token) {
            return (Some(raw), true);
        }
    }
    (None, seen)
}

/// The first `csrftoken` cookie of the request that verifies, and whether the request
/// had one at all.
fn cookie_token(key: &[u8; 32], headers: &HeaderMap) -> (Option<[u8; TOKEN_LEN]>, bool) {
    let mut seen = false;
    for value in headers.get_all(header::COOKIE) {
        match cookie_in(key, value) {
            (Some(raw), _) => return (Some(raw), true),
            (None, s) => seen |= s,
        }
    }
    (None, seen)
}

/// The `Set-Cookie` value for `token`.
fn set_cookie(token: &[u8; TOKEN_LEN], secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let token = URL_SAFE_NO_PAD.encode(token);
    HeaderValue::try_from(format!(
        "{COOKIE_NAME}={token}; Path=/; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| unreachable!("a base64url token makes a valid header value"))
}

/// The `Cookie` headers that mention `csrftoken` (a cheap scan, nothing verified):
/// HTTP/1.1 sends one `Cookie` header, HTTP/2 may send one per cookie.
enum CookieHeaders {
    None,
    One(HeaderValue),
    Many(Box<[HeaderValue]>),
}

fn cookie_headers(headers: &HeaderMap) -> CookieHeaders {
    let name = COOKIE_NAME.as_bytes();
    let mut naming = headers
        .get_all(header::COOKIE)
        .iter()
        .filter(|value| value.as_bytes().windows(name.len()).any(|w| w == name));
    let Some(first) = naming.next() else {
        return CookieHeaders::None;
    };
    match naming.next() {
        None => CookieHeaders::One(first.clone()),
        Some(second) => {
            CookieHeaders::Many([first, second].into_iter().chain(naming).cloned().collect())
        }
    }
}

/// Lowercases an origin and drops the scheme's default port.
fn normalize_origin(origin: &str) -> String {
    let origin = origin.to_ascii_lowercase();
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if origin.starts_with(scheme)
            && let Some(stripped) = origin.strip_suffix(port)
        {
            return stripped.to_owned();
        }
    }
    origin
}

/// HMAC-SHA256 (RFC 2104) of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit as _, Mac as _};
    // HMAC takes keys of any length.
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Random bytes from the operating system.
fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS generator failing is not something a request can recover from; fall back
    // to v4 UUIDs (122 random bits each) rather than answering with a 500.
    if getrandom::fill(&mut out).is_err() {
        for chunk in out.chunks_mut(16) {
            let id = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&id.as_bytes()[..chunk.len()]);
        }
    }
    out
}

/// A per-response form of `token` (64 raw bytes): a fresh one-time pad followed by the
/// token XOR the pad. The page changes on every response while the secret does not,
/// so compressing pages that reflect it (BREACH) learns nothing.
fn mask(raw: &[u8; TOKEN_LEN]) -> String {
    let pad: [u8; TOKEN_LEN] = random();
    let mut out = [0u8; 2 * TOKEN_LEN];
    out[..TOKEN_LEN].copy_from_slice(&pad);
    for (i, (t, p)) in raw.iter().zip(pad.iter()).enumerate() {
        out[TOKEN_LEN + i] = t ^ p;
    }
    URL_SAFE_NO_PAD.encode(out)
}

/// The raw token inside a sent value: the cookie's own form, or a masked one.
fn unmask(sent: &[u8]) -> Option<Vec<u8>> {
    match sent.len() {
        ENCODED_LEN => URL_SAFE_NO_PAD.decode(sent).ok(),
        MASKED_LEN => {
            let raw = URL_SAFE_NO_PAD.decode(sent).ok()?;
            let (pad, masked) = raw.split_at(TOKEN_LEN);
            Some(masked.iter().zip(pad).map(|(m, p)| m ^ p).collect())
        }
        _ => None,
    }
}

/// Whether the value sent in the header or form matches the cookie's token.
fn sent_matches(sent: &[u8], cookie: &[u8; TOKEN_LEN]) -> bool {
    unmask(sent).is_some_and(|raw| rustango_config::constant_time_eq(&raw, cookie))
}

/// A body an HTML form (or a CORS "simple" request) can send cross-site without a
/// preflight: urlencoded, multipart, plain text, or no content type at all.
fn is_form_like(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return true;
    };
    let media = value.split(';').next().unwrap_or("").trim();
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain",
    ]
    .iter()
    .any(|m| media.eq_ignore_ascii_case(m))
}

fn is_unsafe(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn forbidden(detail: &str) -> Response {
    Problem::new(StatusCode::FORBIDDEN)
        .with_title("CSRF check failed")
        .with_detail(detail)
        .into_response()
}

impl<S> Layer<S> for CsrfLayer {
    type Service = Csrf<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Csrf {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`CsrfLayer`].
#[derive(Debug, Clone)]
pub struct Csrf<S> {
    inner: S,
    layer: CsrfLayer,
}

/// What the token check needs once the body is read.
enum Verdict {
    /// Call the inner service.
    Pass,
    /// Refuse with this response.
    Refuse(Response),
    /// Read the form body and look for the field; the verified cookie token.
    ReadForm([u8; TOKEN_LEN]),
}

impl<S> Service<Request<Body>> for Csrf<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = DecidedFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let layer = &self.layer;
        let state = TokenState(Arc::new(TokenInner {
            key: Arc::clone(&layer.key),
            cookie_headers: cookie_headers(req.headers()),
            cookie: OnceLock::new(),
            minted: OnceLock::new(),
        }));
        req.extensions_mut().insert(state.clone());

        let verdict = if !is_unsafe(req.method()) {
            Verdict::Pass
        } else if !req.headers().contains_key(header::COOKIE) {
            // No cookie to ride on, but a cross-site *form* can still sign a browser in
            // (login CSRF) or carry cached Basic credentials: the origin check applies
            // to anything a form can send. API calls (JSON) pass.
            match is_form_like(req.headers()).then(|| layer.check_origin(req.headers(), req.uri()))
            {
                Some(Err(reason)) => Verdict::Refuse(forbidden(reason)),
                _ => Verdict::Pass,
            }
        } else if let Err(reason) = layer.check_origin(req.headers(), req.uri()) {
            Verdict::Refuse(forbidden(reason))
        } else {
            // Every `Cookie` header counts here (HTTP/2 sends one per cookie).
            let (cookie, cookie_seen) = cookie_token(&layer.key, req.headers());
            let _ = state.0.cookie.set(cookie);
            match cookie {
                None => {
                    // A fresh cookie comes with the refusal, so the next try can pass.
                    state.mint();
                    Verdict::Refuse(forbidden(if cookie_seen {
                        "The CSRF cookie is malformed or its signature is invalid."
                    } else {
                        "The CSRF cookie is missing."
                    }))
                }
                Some(cookie) => {
                    let mut sent = req.headers().get_all(&HEADER_NAME).iter();
                    match (sent.next(), sent.next()) {
                        (Some(_), Some(_)) => {
                            Verdict::Refuse(forbidden("The X-CSRF-Token header is repeated."))
                        }
                        (Some(value), None) => {
                            if sent_matches(value.as_bytes().trim_ascii(), &cookie) {
                                Verdict::Pass
                            } else {
                                Verdict::Refuse(forbidden(
                                    "The X-CSRF-Token header does not match the CSRF cookie.",
                                ))
                            }
                        }
                        (None, _) if crate::form::is_urlencoded(req.headers()) => {
                            let declared = req
                                .headers()
                                .get(header::CONTENT_LENGTH)
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse::<u64>().ok());
                            if declared.is_some_and(|len| len > MAX_FORM_BODY as u64) {
                                Verdict::Refuse(Problem::payload_too_large().into_response())
                            } else {
                                Verdict::ReadForm(cookie)
                            }
                        }
                        (None, _) => Verdict::Refuse(forbidden(
                            "The request has no CSRF token (the X-CSRF-Token header or the \
                             csrfmiddlewaretoken form field).",
                        )),
                    }
                }
            }
        };

        let finish = Finish {
            state,
            secure: layer.secure,
            ensure_cookie: layer.ensure_cookie,
        };
        match verdict {
            Verdict::Pass => {
                // The common case: no service clone, nothing boxed.
                DecidedFuture::inner(self.inner.call(req), crate::future::Finish::Csrf(finish))
            }
            Verdict::Refuse(response) => DecidedFuture::answer(finish.apply(response)),
            Verdict::ReadForm(cookie) => {
                // The service that was made ready goes into the future; a clone stays.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                DecidedFuture::waiting(Box::pin(async move {
                    let (parts, body) = req.into_parts();
                    let bytes: Bytes = match Limited::new(body, MAX_FORM_BODY).collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(err) if err.is::<LengthLimitError>() => {
                            return Ok(finish.apply(Problem::payload_too_large().into_response()));
                        }
                        Err(err) => {
                            tracing::debug!(error = %err, "reading a form body failed");
                            return Ok(finish.apply(
                                Problem::bad_request("The request body could not be read.")
                                    .into_response(),
                            ));
                        }
                    };
                    match crate::form::field(&bytes, FORM_FIELD) {
                        Some(sent) if sent_matches(&sent, &cookie) => {}
                        Some(_) => {
                            return Ok(finish.apply(forbidden(
                                "The csrfmiddlewaretoken form field does not match the \
                                     CSRF cookie.",
                            )));
                        }
                        None => {
                            return Ok(finish.apply(forbidden(
                                "The request has no CSRF token (the X-CSRF-Token header \
                                     or the csrfmiddlewaretoken form field).",
                            )));
                        }
                    }
                    let req = Request::from_parts(parts, Body::from(bytes));
                    Ok(finish.apply(inner.call(req).await?))
                }))
            }
        }
    }
}

/// Sets the cookie on the way out when a token was minted for this request.
pub(crate) struct Finish {
    state: TokenState,
    secure: bool,
    ensure_cookie: bool,
}

impl Finish {
    pub(crate) fn apply(self, mut response: Response) -> Response {
        let minted = match self.state.0.minted.get() {
            Some(token) => Some(*token),
            None if self.ensure_cookie && self.state.cookie().is_none() => Some(self.state.mint()),
            None => None,
        };
        if let Some(token) = minted {
            let value = set_cookie(&token, self.secure);
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }
}

crate::router_ext! {
    /// Refuses cross-site unsafe requests that ride on cookies.
    CsrfRouterExt::csrf(CsrfLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_rfc4231_case_6_long_key() {
        let key = [0xaau8; 131];
        assert_eq!(
            hex(&hmac_sha256(
                &key,
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn tokens_verify_under_their_key_only() {
        let a = CsrfLayer::new([1u8; 32]);
        let b = CsrfLayer::new([2u8; 32]);
        let raw = issue(&a.key);
        let token = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(token.len(), ENCODED_LEN);
        assert_eq!(verified(&a.key, token.as_bytes()), Some(raw));
        assert_eq!(verified(&b.key, token.as_bytes()), None);
        assert_eq!(verified(&a.key, &token.as_bytes()[1..]), None);
        assert_eq!(verified(&a.key, b"not base64 at all"), None);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(
            CsrfLayer::try_new("short").unwrap_err(),
            CsrfSecretError { len: 5 }
        );
    }

    #[test]
    fn reads_form_fields() {
        let body = b"a=1&csrfmiddlewaretoken=ab%2Dc+d&csrfmiddlewaretoken=x";
        assert_eq!(crate::form::field(body, FORM_FIELD).unwrap(), b"ab-c d");
        assert_eq!(crate::form::field(b"a=1", FORM_FIELD), None);
    }

    #[test]
    fn normalizes_origins() {
        assert_eq!(
            normalize_origin("HTTPS://Example.com:443"),
            "https://example.com"
        );
        assert_eq!(
            normalize_origin("http://example.com:80"),
            "http://example.com"
        );
        assert_eq!(
            normalize_origin("http://example.com:8080"),
            "http://example.com:8080"
        );
    }
}
