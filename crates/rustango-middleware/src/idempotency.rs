//! [`IdempotencyLayer`]: `Idempotency-Key` semantics (Stripe's, and the IETF
//! `draft-ietf-httpapi-idempotency-key-header`) for unsafe methods (`POST` and `PATCH`
//! by default).
//!
//! A client that may retry a request (after a timeout, a dropped connection) sends a
//! unique `Idempotency-Key` header with it. The first request with a key runs the
//! handler; its response is stored in a [`Cache`] and every repeat of the *same*
//! request with that key gets the stored response back, with the header
//! `Idempotent-Replayed: true`, without running the handler again.
//!
//! | request | answer |
//! |---|---|
//! | other method, or no `Idempotency-Key` | passed through untouched (unless [`required`](IdempotencyLayer::required): 400) |
//! | key not 1–255 visible ASCII characters, or repeated header | 400 problem |
//! | body larger than [`max_body`](IdempotencyLayer::max_body) | 413 problem |
//! | first use of the key | handler runs; the response is stored (unless 5xx, 408 or 429) |
//! | repeat, same method, path and body | the stored response, with `Idempotent-Replayed: true` |
//! | repeat while the first is still running | 409 problem (retry later) |
//! | repeat with another method, path or body | 422 problem |
//! | the store fails (Redis down) | passed through without idempotency, `tracing::warn!` |
//!
//! Every refusal is an `application/problem+json` [`Problem`].
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use axum::{Router, routing::post};
//! use rustango_middleware::idempotency::IdempotencyLayer;
//! use rustango_http::test_client::TestClient;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let charges = Arc::new(AtomicUsize::new(0));
//! let counter = charges.clone();
//! let app = Router::new()
//!     .route(
//!         "/charges",
//!         post(move |body: String| {
//!             let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
//!             async move { (http::StatusCode::CREATED, format!("charge {n}: {body}")) }
//!         }),
//!     )
//!     .layer(IdempotencyLayer::in_memory());
//! let client = TestClient::new(app);
//!
//! let first = client.post("/charges").header("idempotency-key", "k-1").body("10 EUR").send().await;
//! assert_eq!((first.status, first.text().as_str()), (201, "charge 1: 10 EUR"));
//!
//! // A retry: the stored response, and the handler did not run again.
//! let retry = client.post("/charges").header("idempotency-key", "k-1").body("10 EUR").send().await;
//! assert_eq!((retry.status, retry.text().as_str()), (201, "charge 1: 10 EUR"));
//! assert_eq!(retry.header("idempotent-replayed"), Some("true"));
//! assert_eq!(charges.load(Ordering::SeqCst), 1);
//!
//! // The same key for another request is a client bug.
//! let other = client.post("/charges").header("idempotency-key", "k-1").body("99 EUR").send().await;
//! assert_eq!(other.status, 422);
//! # });
//! ```
//!
//! # Storage
//!
//! Keys live in any [`Cache`]: [`InMemoryCache`] for one process
//! ([`IdempotencyLayer::in_memory`], bounded at [`DEFAULT_IN_MEMORY_BYTES`] since
//! clients choose the keys), `RedisCache` (cargo feature `redis`) to share keys
//! between instances. The cache key is [`key_prefix`](IdempotencyLayer::key_prefix)
//! (default `idempotency:`), the scope if any, then the client's key (see
//! [`IdempotencyLayer::storage_key`]).
//!
//! A first request *claims* its key with [`Cache::try_lock`], an atomic set-if-absent of
//! a random token that expires after [`lock_ttl`](IdempotencyLayer::lock_ttl) (60 s by
//! default), so two instances racing with the same key cannot both run the handler.
//! When the response is stored it replaces the token, with the full
//! [`ttl`](IdempotencyLayer::ttl) (24 h by default). A 5xx response (and 408/429,
//! which tell the client to try again) is not stored: the claim is released so the
//! client can retry. The handler runs in a Tokio task of its own: a client that goes
//! away mid-request does not cancel it half way through its side effects (nor does a
//! timeout layer outside this one: the client gets the timeout's answer, the handler
//! finishes), and its response is stored for the retry, as if the client had waited. If the handler
//! panics, the claim is released by a guard (an owner-checked [`Cache::unlock`] spawned
//! on the Tokio runtime; if even that fails, it expires after the lock TTL) and the
//! panic goes on to the layers outside.
//!
//! A handler that runs longer than the lock TTL loses its claim: a retry arriving after
//! that runs the handler again. Raise the lock TTL above the slowest handler.
//!
//! # Request fingerprint
//!
//! A stored response is replayed only for the same request: the method, the path *and
//! query*, and the body. They are hashed with SHA-256 (the `sha2` crate) and the 32-byte digest is stored next to the
//! response, so comparing costs no more storage for a large body than for a small one,
//! and a different request cannot be mistaken for the first one short of a SHA-256
//! collision. Headers are not part of the fingerprint. While the first request is still
//! running, its fingerprint is not known to others: any repeat gets 409, whatever its
//! body.
//!
//! # What is replayed
//!
//! The status, the headers and the body, buffered whole (do not put this layer on
//! streaming endpoints such as server-sent events). Hop-by-hop headers (`Connection`,
//! `Transfer-Encoding`, …) are dropped, and so is `Set-Cookie`: a replay must not issue
//! a session or CSRF cookie again (it may have been rotated or revoked since, and it
//! would be handed to whoever presents the key), nor should credentials sit in the
//! store for a day. The first response keeps its cookies.
//!
//! # Scope
//!
//! Keys are global by default. Give a [`scope_fn`](IdempotencyLayer::scope_fn) (the
//! user id from a header or an extension set by the auth layer, …) so that one client
//! cannot replay, or block, another client's key.
//!
//! # Store failures
//!
//! When the cache cannot be reached, the request is passed to the handler without
//! idempotency (and a `tracing::warn!` says so): an outage of the store degrades to
//! "at least once", rather than failing every write with a 500.
//!
//! # Order
//!
//! Put the layer inside authentication (so the scope function can read the user) and
//! outside handlers; a layer that answers 429 should run outside it too.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use rustango_cache::{BoxedCache, Cache, InMemoryCache, LockGuard};
use rustango_http::Problem;
use tower::{Layer, Service};
use tracing::Instrument as _;

/// The request header carrying the client's key: `Idempotency-Key`.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The header marking a replayed response: `Idempotent-Replayed: true`.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The bytes (keys and stored responses) of the store [`IdempotencyLayer::in_memory`]
/// makes: 64 MiB.
pub const DEFAULT_IN_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// How long a stored response is kept by default: 24 hours.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a claim on a key lasts by default while its handler runs: 60 seconds.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(60);

/// The largest request body accepted with a key by default: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The default prefix of cache keys: `idempotency:`.
pub const DEFAULT_KEY_PREFIX: &str = "idempotency:";

/// The longest accepted `Idempotency-Key`, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// The version tag of stored records (and of the fingerprint input).
const RECORD_VERSION: u64 = 1;

/// Claim attempts before a key that keeps appearing and vanishing is answered with 409.
const CLAIM_ATTEMPTS: usize = 3;

/// Response headers never stored: hop-by-hop ones (RFC 9110 §7.6.1) and `Set-Cookie`.
const UNSTORED_HEADERS: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ScopeFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// Replays the first response to a repeated `Idempotency-Key`; see the
/// [module docs](self).
///
/// Cloning is cheap (the configuration is shared).
#[derive(Clone)]
pub struct IdempotencyLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    store: BoxedCache,
    ttl: Duration,
    lock_ttl: Duration,
    prefix: String,
    scope: Option<ScopeFn>,
    max_body: usize,
    required: bool,
    methods: Vec<Method>,
}

impl IdempotencyLayer {
    /// A layer keeping keys in `store`, for `POST` and `PATCH`, with the defaults:
    /// [`DEFAULT_TTL`], [`DEFAULT_LOCK_TTL`], [`DEFAULT_KEY_PREFIX`],
    /// [`DEFAULT_MAX_BODY`], no scope, key optional.
    pub fn new(store: BoxedCache) -> Self {
        IdempotencyLayer {
            config: Arc::new(Config {
                store,
                ttl: DEFAULT_TTL,
                lock_ttl: DEFAULT_LOCK_TTL,
                prefix: DEFAULT_KEY_PREFIX.to_owned(),
                scope: None,
                max_body: DEFAULT_MAX_BODY,
                required: false,
                methods: vec![Method::POST, Method::PATCH],
            }),
        }
    }

    /// A layer keeping keys in a new [`InMemoryCache`] (one process only) of at most
    /// [`DEFAULT_IN_MEMORY_BYTES`]: clients choose the keys, so the store is bounded.
    /// When it is full, new keys are served without idempotency (with a warning), as
    /// when a store is down, until stored responses expire. For another bound, give
    /// [`new`](Self::new) an `InMemoryCache::new().max_bytes(..)`.
    pub fn in_memory() -> Self {
        Self::new(Arc::new(
            InMemoryCache::new().max_bytes(DEFAULT_IN_MEMORY_BYTES),
        ))
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// How long a stored response is replayed (default [`DEFAULT_TTL`]). A zero TTL
    /// is raised to 1 ms.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.config_mut().ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// How long a first request holds its key while the handler runs (default
    /// [`DEFAULT_LOCK_TTL`]): repeats meanwhile get 409, and a crashed instance blocks
    /// the key for at most this long. Keep it above the slowest handler. A zero TTL is
    /// raised to 1 ms.
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.config_mut().lock_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// The prefix of every cache key (default [`DEFAULT_KEY_PREFIX`]); give each
    /// application sharing a store its own.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config_mut().prefix = prefix.into();
        self
    }

    /// Keys are per scope: `scope` maps a request (its head) to a scope, typically the
    /// authenticated user, so clients cannot see or block each other's keys. `None`
    /// means the global scope, as when no function is set.
    pub fn scope_fn<F>(mut self, scope: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.config_mut().scope = Some(Arc::new(scope));
        self
    }

    /// The largest request body accepted with a key, in bytes (default
    /// [`DEFAULT_MAX_BODY`]); a larger one is refused with 413. Requests without a key
    /// are not limited by this layer.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.config_mut().max_body = bytes;
        self
    }

    /// Whether requests with a covered method must carry a key (default `false`): if
    /// `true`, one without is refused with 400.
    pub fn required(mut self, required: bool) -> Self {
        self.config_mut().required = required;
        self
    }

    /// The methods covered (default `POST` and `PATCH`); others pass through untouched.
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.config_mut().methods = methods.into_iter().collect();
        self
    }

    /// The cache key for the client key `key` in `scope` (as returned by the
    /// [`scope_fn`](Self::scope_fn)): the prefix, then `-:` without a scope or
    /// `<length of scope>:<scope>:` with one, then the key. Useful to inspect or delete
    /// an entry.
    pub fn storage_key(&self, scope: Option<&str>, key: &str) -> String {
        self.config.storage_key(scope, key)
    }
}

impl Config {
    fn storage_key(&self, scope: Option<&str>, key: &str) -> String {
        // The length makes the split unambiguous whatever the scope contains.
        match scope {
            None => format!("{}-:{key}", self.prefix),
            Some(scope) => format!("{}{}:{scope}:{key}", self.prefix, scope.len()),
        }
    }
}

impl fmt::Debug for IdempotencyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("ttl", &self.ttl)
            .field("lock_ttl", &self.lock_ttl)
            .field("key_prefix", &self.prefix)
            .field("scoped", &self.scope.is_some())
            .field("max_body", &self.max_body)
            .field("required", &self.required)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = Idempotency<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Idempotency {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service made by [`IdempotencyLayer`].
#[derive(Clone)]
pub struct Idempotency<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for Idempotency<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish()
    }
}

impl<S, B> Service<Request<Body>> for Idempotency<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was polled ready handles this request.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        crate::BoxResponseFuture {
            inner: Box::pin(handle(self.config.clone(), inner, request)),
        }
    }
}

/// The response future of [`Idempotency`].
pub type ResponseFuture<E> = crate::BoxResponseFuture<E>;

// --- the request path ------------------------------------------------------------

async fn handle<S, B>(
    config: Arc<Config>,
    inner: S,
    request: Request<Body>,
) -> Result<Response, S::Error>
where
    S: Service<Request<Body>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if !config.methods.contains(request.method()) {
        return pass(inner, request).await;
    }
    let key = match client_key(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) if config.required => {
            return Ok(Problem::bad_request(format!(
                "A {} request to this endpoint needs an Idempotency-Key header.",
                request.method()
            ))
            .into_response());
        }
        Ok(None) => return pass(inner, request).await,
        Err(err) => return Ok(err.problem().into_response()),
    };

    let (parts, body) = request.into_parts();
    let body = match read_body(&parts.headers, body, config.max_body).await {
        Ok(body) => body,
        Err(refusal) => return Ok(refusal),
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &body);
    let scope = config.scope.as_ref().and_then(|scope| scope(&parts));
    let storage_key = config.storage_key(scope.as_deref(), &key);
    let request = Request::from_parts(parts, Body::from(body));

    match claim(&config, &storage_key, &fingerprint).await {
        Claimed::Replay(response) => Ok(response),
        Claimed::Refused(problem) => Ok(problem.into_response()),
        Claimed::Unavailable => pass(inner, request).await,
        Claimed::Owner(lock) => {
            let pending = Pending {
                store: config.store.clone(),
                lock: Some(lock),
            };
            // The handler runs to completion in a task of its own: a client that goes
            // away (its connection, and this future, dropped) does not cancel it half
            // way through its side effects, and the response is stored for the retry.
            // In the request's span, so what the handler logs keeps its request id.
            let task = tokio::spawn(
                async move {
                    run_and_store(&config, pending, inner, request, &storage_key, &fingerprint)
                        .await
                }
                .in_current_span(),
            );
            match task.await {
                Ok(result) => result,
                // The handler panicked (its claim was released as the task unwound):
                // the panic goes on to the layers that turn it into a 500 problem.
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                // The runtime is shutting down.
                Err(_) => Ok(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("The server is shutting down; retry the request.")
                    .into_response()),
            }
        }
    }
}

/// Calls the inner service without idempotency.
async fn pass<S, B>(mut inner: S, request: Request<Body>) -> Result<Response, S::Error>
where
    S: Service<Request<Body>, Response = Response<B>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Ok(inner.call(request).await?.map(Body::new))
}

/// Why an `Idempotency-Key` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyError {
    Repeated,
    Malformed,
}

impl KeyError {
    /// The 400 answer.
    fn problem(self) -> Problem {
        Problem::bad_request(match self {
            KeyError::Repeated => "The Idempotency-Key header must be given once.".to_owned(),
            KeyError::Malformed => format!(
                "The Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII characters."
            ),
        })
    }
}

/// The `Idempotency-Key` of a request: `None` without one, an error if it is not 1–255
/// visible ASCII characters or is given more than once.
fn client_key(headers: &HeaderMap) -> Result<Option<String>, KeyError> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(KeyError::Repeated);
    }
    let bytes = value.as_bytes();
    let valid =
        (1..=MAX_KEY_LEN).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    if !valid {
        return Err(KeyError::Malformed);
    }
    // Visible ASCII is UTF-8.
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// Reads the whole request body, refusing one over `max` bytes with 413.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(Problem::payload_too_large().into_response());
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(Problem::payload_too_large().into_response())
        }
        Err(err) => {
            tracing::debug!(error = %err, "cannot read a request body with an idempotency key");
            Err(Problem::bad_request("The request body could not be read.").into_response())
        }
    }
}

enum Claimed {
    /// This request holds the key: run the handler.
    Owner(LockGuard),
    /// The stored response for the same request.
    Replay(Response),
    /// 409 (in flight) or 422 (another request).
    Refused(Problem),
    /// The store failed: run without idempotency.
    Unavailable,
}

async fn claim(config: &Config, key: &str, fingerprint: &str) -> Claimed {
    let store = &config.store;
    for _ in 0..CLAIM_ATTEMPTS {
        match store.try_lock(key, config.lock_ttl).await {
            Ok(Some(lock)) => return Claimed::Owner(lock),
            Ok(None) => {}
            Err(err) => return unavailable(&err),
        }
        match store.get_bytes(key).await {
            Ok(Some(value)) => {
                return match Record::decode(&value) {
                    Decoded::InFlight => Claimed::Refused(Problem::conflict(
                        "A request with this Idempotency-Key is still being processed; retry later.",
                    )),
                    Decoded::Record(record) if record.fingerprint == fingerprint => {
                        Claimed::Replay(record.into_response())
                    }
                    Decoded::Record(_) => Claimed::Refused(Problem::unprocessable(
                        "This Idempotency-Key was used for a different request (method, path or body).",
                    )),
                    Decoded::Corrupt => {
                        tracing::warn!(
                            "unreadable idempotency record; handling the request without idempotency"
                        );
                        Claimed::Unavailable
                    }
                };
            }
            // Released or expired in between: try to claim it again.
            Ok(None) => {}
            Err(err) => return unavailable(&err),
        }
    }
    Claimed::Refused(Problem::conflict(
        "A request with this Idempotency-Key is being processed; retry later.",
    ))
}

fn unavailable(err: &rustango_cache::CacheError) -> Claimed {
    if STORE_FAILED.admit() {
        tracing::warn!(
            error = %err,
            "idempotency store unavailable; handling requests without idempotency"
        );
    }
    Claimed::Unavailable
}

/// Store failures are logged once per 10 seconds, not once per request.
static STORE_FAILED: crate::log_throttle::LogThrottle = crate::log_throttle::LogThrottle::new();

async fn run_and_store<S, B>(
    config: &Config,
    mut pending: Pending,
    mut inner: S,
    request: Request<Body>,
    key: &str,
    fingerprint: &str,
) -> Result<Response, S::Error>
where
    S: Service<Request<Body>, Response = Response<B>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // An error or a panic here drops `pending`, which releases the key.
    let response = inner.call(request).await?;
    let (parts, body) = response.into_parts();
    let collected: Result<Bytes, BoxError> = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(Into::into);
    let body = match collected {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "the response body failed; idempotency key released");
            pending.release().await;
            return Ok(Problem::internal().into_response());
        }
    };
    let status = parts.status;
    let storable = !(status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS);
    if storable {
        let record = Record::encode(fingerprint, status, &parts.headers, &body);
        match config.store.set_bytes(key, &record, Some(config.ttl)).await {
            // The record replaced the claim token: nothing to release.
            Ok(()) => pending.disarm(),
            Err(err) => {
                if STORE_FAILED.admit() {
                    tracing::warn!(
                        error = %err,
                        "cannot store idempotent responses; keys released"
                    );
                }
                pending.release().await;
            }
        }
    } else {
        pending.release().await;
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// A claim on a key while the handler runs; released when dropped unless disarmed.
struct Pending {
    store: BoxedCache,
    lock: Option<LockGuard>,
}

impl Pending {
    /// The key now holds the stored response.
    fn disarm(&mut self) {
        self.lock = None;
    }

    /// Releases the claim now (only if it is still ours).
    async fn release(&mut self) {
        if let Some(lock) = self.lock.take() {
            release(&self.store, lock).await;
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else {
            return;
        };
        // No async drop: release on the runtime; without one the claim just expires.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let store = self.store.clone();
                runtime.spawn(async move { release(&store, lock).await });
            }
            Err(_) => tracing::debug!(
                "no Tokio runtime to release an idempotency claim; it expires after its lock TTL"
            ),
        }
    }
}

async fn release(store: &BoxedCache, lock: LockGuard) {
    if let Err(err) = store.unlock(lock).await {
        tracing::warn!(error = %err, "cannot release an idempotency key; it expires after its lock TTL");
    }
}

// --- stored records --------------------------------------------------------------

/// A stored response, as JSON:
/// `{"v":1,"fp":"<hex>","status":201,"headers":[["name","<base64>"]],"body":"<base64>"}`.
/// A claim in progress is the lock's random token (hex), never starting with `{`.
struct Record {
    fingerprint: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

enum Decoded {
    InFlight,
    Record(Record),
    Corrupt,
}

impl Record {
    fn encode(fingerprint: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
        let headers: Vec<serde_json::Value> = headers
            .iter()
            .filter(|(name, _)| !UNSTORED_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                serde_json::json!([name.as_str(), BASE64.encode(value.as_bytes())])
            })
            .collect();
        let record = serde_json::json!({
            "v": RECORD_VERSION,
            "fp": fingerprint,
            "status": status.as_u16(),
            "headers": headers,
            "body": BASE64.encode(body),
        });
        record.to_string().into_bytes()
    }

    fn decode(value: &[u8]) -> Decoded {
        if value.first() != Some(&b'{') {
            return Decoded::InFlight;
        }
        Self::parse(value).map_or(Decoded::Corrupt, Decoded::Record)
    }

    fn parse(value: &[u8]) -> Option<Record> {
        let record: serde_json::Value = serde_json::from_slice(value).ok()?;
        if record.get("v")?.as_u64()? != RECORD_VERSION {
            return None;
        }
        let fingerprint = record.get("fp")?.as_str()?.to_owned();
        let status = u16::try_from(record.get("status")?.as_u64()?).ok()?;
        let status = StatusCode::from_u16(status).ok()?;
        let mut headers = HeaderMap::new();
        for pair in record.get("headers")?.as_array()? {
            let [name, value] = pair.as_array()?.as_slice() else {
                return None;
            };
            let name = HeaderName::from_bytes(name.as_str()?.as_bytes()).ok()?;
            let value = BASE64.decode(value.as_str()?).ok()?;
            headers.append(name, HeaderValue::from_bytes(&value).ok()?);
        }
        let body = BASE64.decode(record.get("body")?.as_str()?).ok()?;
        Some(Record {
            fingerprint,
            status,
            headers,
            body: body.into(),
        })
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
        response
    }
}

/// SHA-256 of the method, the path and query, and the body, as hex.
fn fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> String {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    // Length-prefixed fields: no two requests give the same input.
    for field in [
        b"rustango-idempotency".as_slice(),
        &RECORD_VERSION.to_be_bytes(),
        method.as_str().as_bytes(),
        target.as_bytes(),
        body,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    rustango_crypto::hex_encode(&hasher.finalize())
}

crate::router_ext! {
    /// Replays the stored response to a repeated `Idempotency-Key`.
    IdempotencyRouterExt::idempotency(IdempotencyLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_separates_fields() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        let a = fingerprint(&Method::POST, &uri("/a"), b"x");
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint(&Method::POST, &uri("/a"), b"x"));
        assert_ne!(a, fingerprint(&Method::PATCH, &uri("/a"), b"x"));
        assert_ne!(a, fingerprint(&Method::POST, &uri("/a?x"), b""));
        assert_ne!(a, fingerprint(&Method::POST, &uri("/a"), b"y"));
        assert_ne!(a, fingerprint(&Method::POST, &uri("/ax"), b""));
    }

    #[test]
    fn keys() {
        let ok = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(IDEMPOTENCY_KEY, HeaderValue::from_str(v).unwrap());
            client_key(&h)
        };
        assert_eq!(ok("abc-123").unwrap().as_deref(), Some("abc-123"));
        assert!(ok(&"k".repeat(255)).is_ok());
        assert_eq!(ok(&"k".repeat(256)), Err(KeyError::Malformed));
        assert_eq!(ok(""), Err(KeyError::Malformed));
        assert_eq!(ok("a b"), Err(KeyError::Malformed));
        let mut h = HeaderMap::new();
        h.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert_eq!(client_key(&h), Err(KeyError::Malformed));
        h.append(IDEMPOTENCY_KEY, HeaderValue::from_static("b"));
        assert_eq!(client_key(&h), Err(KeyError::Repeated));
        assert_eq!(KeyError::Repeated.problem().status(), 400);
        assert_eq!(KeyError::Malformed.problem().status(), 400);
        assert_eq!(client_key(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn storage_keys_are_unambiguous() {
        let layer = IdempotencyLayer::in_memory().key_prefix("p:");
        assert_eq!(layer.storage_key(None, "k"), "p:-:k");
        assert_eq!(layer.storage_key(Some("a:b"), "c"), "p:3:a:b:c");
        assert_ne!(
            layer.storage_key(Some("a"), "b:c"),
            layer.storage_key(Some("a:b"), "c")
        );
    }

    #[test]
    fn records_round_trip_without_cookies_or_hop_by_hop() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.insert(header::SET_COOKIE, HeaderValue::from_static("sid=1"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.append("x-multi", HeaderValue::from_static("1"));
        headers.append("x-multi", HeaderValue::from_static("2"));
        let bytes = Record::encode("fp", StatusCode::CREATED, &headers, b"\x00body");
        let Decoded::Record(record) = Record::decode(&bytes) else {
            panic!("not decoded")
        };
        assert_eq!(record.fingerprint, "fp");
        assert_eq!(record.status, StatusCode::CREATED);
        assert_eq!(&record.body[..], b"\x00body");
        assert_eq!(record.headers.get_all("x-multi").iter().count(), 2);
        assert!(record.headers.get(header::SET_COOKIE).is_none());
        assert!(record.headers.get(header::CONNECTION).is_none());
        assert!(matches!(
            Record::decode(LockGuard::new("k").token().as_bytes()),
            Decoded::InFlight
        ));
        assert!(matches!(Record::decode(b"{nope"), Decoded::Corrupt));
    }
}
