//! [`StaticFiles`]: serve a directory of assets (your `collectstatic` output) with cache
//! headers, conditional requests and precompressed variants; tower-http's `ServeDir`
//! with rustango's defaults and problem responses.
//!
//! - **Cache-Control.** A file whose name carries a content hash (see
//!   [`is_fingerprinted`]: `app.3f2a9c1b.js`, `site-0f1e2d3c4b5a.css`) can never change
//!   under that name, so it gets `public, max-age=31536000, immutable`. Every other
//!   file gets `public, max-age=3600` ([`max_age`](StaticFiles::max_age) changes it;
//!   zero sends `no-cache`, "revalidate every time"). `304` answers carry the same
//!   header.
//! - **Validators.** Responses carry a strong `ETag` (from the file's size and
//!   modification time) and `Last-Modified`. `If-None-Match` and, without it,
//!   `If-Modified-Since` are answered `304 Not Modified` with no body; `If-Match` and
//!   `If-Unmodified-Since` that fail are answered `412`. `Range` requests get `206`.
//!   A file rewritten in place by a deploy gets a new `ETag` because its mtime moves.
//! - **Precompressed variants.** With [`precompressed`](StaticFiles::precompressed),
//!   a request for `app.js` from a client whose `Accept-Encoding` allows brotli or gzip
//!   is answered with `app.js.br` or `app.js.gz` when that file exists, with
//!   `Content-Encoding` set and `Vary: accept-encoding`. Make those files at build
//!   time (`brotli -k`, `gzip -k`): nothing is compressed per request.
//! - **Content-Type** is guessed from the extension (`text/css`, `text/javascript`,
//!   `image/svg+xml`, …; `application/octet-stream` when unknown).
//! - **No escapes.** The path is percent-decoded once and refused with a 404 when a
//!   segment is `..`, holds a backslash or a NUL, or is not UTF-8, so `/../`,
//!   `/%2e%2e/`, `/..%5c` and friends never leave the directory. Names starting with a
//!   dot (`.env`, `.git/config`) are not served unless
//!   [`hidden_files(true)`](StaticFiles::hidden_files). Symbolic links inside the
//!   directory are followed: that is a choice made when the directory is built.
//! - **Directories** answer 404 unless [`index_html(true)`](StaticFiles::index_html),
//!   which serves `dir/index.html` at both `/dir` and `/dir/` (no redirect, so no loop
//!   with a `TrailingSlashLayer` in front).
//! - **Errors are problems.** A missing file is a `404` problem whose `instance` is the
//!   requested path; methods other than `GET` and `HEAD` get a `405` problem with
//!   `Allow: GET, HEAD`; an I/O failure is logged and answered with a `500` problem.
//!
//! Mount it under a prefix with `Router::nest_service` or
//! [`StaticFilesRouterExt::static_files`]; layers added to the
//! router afterwards (security headers, compression, access log) wrap it like any route.
//!
//! ```
//! use std::time::Duration;
//! use axum::Router;
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::prelude::*;
//! use rustango_middleware::static_files::StaticFiles;
//!
//! # let dir = std::env::temp_dir().join(format!("rustango-static-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! // `dir` holds the output of the asset build.
//! std::fs::write(dir.join("app.3f2a9c1b.js"), "console.log('hi')").unwrap();
//! std::fs::write(dir.join("robots.txt"), "User-agent: *").unwrap();
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let app = Router::new().static_files(
//!     "/static",
//!     StaticFiles::new(&dir).max_age(Duration::from_secs(600)).precompressed(),
//! );
//! let client = TestClient::new(app);
//!
//! let js = client.get("/static/app.3f2a9c1b.js").send().await;
//! assert_eq!(js.status, 200);
//! assert_eq!(js.header("content-type"), Some("text/javascript"));
//! assert_eq!(js.header("cache-control"), Some("public, max-age=31536000, immutable"));
//!
//! let robots = client.get("/static/robots.txt").send().await;
//! assert_eq!(robots.header("cache-control"), Some("public, max-age=600"));
//!
//! // Revalidation: nothing changed, nothing is sent.
//! let etag = robots.header("etag").unwrap();
//! let again = client.get("/static/robots.txt").header("if-none-match", etag).send().await;
//! assert_eq!(again.status, 304);
//! assert!(again.body.is_empty());
//!
//! let missing = client.get("/static/nope.css").send().await;
//! assert_eq!(missing.status, 404);
//! assert_eq!(missing.problem().instance(), Some("/static/nope.css"));
//!
//! assert_eq!(client.get("/static/../Cargo.toml").send().await.status, 404);
//! assert_eq!(client.post("/static/robots.txt").send().await.status, 405);
//! # });
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::OriginalUri;
use axum::response::{IntoResponse as _, Response};
use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode};
use rustango_http::Problem;
use tower::Service;
use tower_http::services::ServeDir;
use tower_http::services::fs::{DefaultServeDirFallback, ServeFileSystemResponseFuture};

/// The default `max-age` of files without a fingerprint: one hour.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// The `Cache-Control` of fingerprinted files: one year, never revalidated.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The shortest run of hex digits taken for a content hash.
pub const MIN_HASH_LEN: usize = 8;

/// Whether a file name carries a content hash: a part of its stem (the name without
/// the last extension), split at `.` and `-`, of at least [`MIN_HASH_LEN`] lowercase
/// hex digits with at least one letter `a`–`f` among them.
///
/// The letter rule keeps dates and numeric ids (`report-20240101.pdf`) from being
/// cached forever; a real hash without a letter (rare) just gets the ordinary
/// `max-age`. Hashes in other alphabets (Vite's base64 `index-BZ8a9xQ1.js`) are not
/// recognised.
///
/// ```
/// use rustango_middleware::static_files::is_fingerprinted;
///
/// assert!(is_fingerprinted("app.3f2a9c1b.js"));
/// assert!(is_fingerprinted("app-3f2a9c1b5d.css"));
/// assert!(is_fingerprinted("vendor.3f2a9c1b.min.js"));
/// assert!(is_fingerprinted("0123abcd.js"));
/// assert!(!is_fingerprinted("app.js"));
/// assert!(!is_fingerprinted("app.3f2a9c1.js")); // 7 digits
/// assert!(!is_fingerprinted("report-20240101.pdf")); // no letter: a date
/// assert!(!is_fingerprinted("font.deadbeefcafe")); // the extension is not a hash
/// ```
pub fn is_fingerprinted(file_name: &str) -> bool {
    let Some((stem, _extension)) = file_name.rsplit_once('.') else {
        return false;
    };
    stem.split(['.', '-']).any(|part| {
        part.len() >= MIN_HASH_LEN
            && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && part.bytes().any(|b| b.is_ascii_lowercase())
    })
}

/// A directory served over HTTP; see the [module docs](self).
///
/// A builder: configure it, then mount [`into_service`](StaticFiles::into_service)
/// (or pass it to [`StaticFilesRouterExt::static_files`]).
#[derive(Debug, Clone)]
pub struct StaticFiles {
    dir: PathBuf,
    max_age: Duration,
    immutable_fingerprinted: bool,
    precompressed: bool,
    index_html: bool,
    hidden_files: bool,
}

impl StaticFiles {
    /// Serves the files under `dir` (relative paths are taken from the working
    /// directory), with a one-hour `max-age`, fingerprinted files immutable, no
    /// precompressed variants, no directory index and no dotfiles.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StaticFiles {
            dir: dir.into(),
            max_age: DEFAULT_MAX_AGE,
            immutable_fingerprinted: true,
            precompressed: false,
            index_html: false,
            hidden_files: false,
        }
    }

    /// The `max-age` of files without a fingerprint (default [`DEFAULT_MAX_AGE`],
    /// whole seconds). Zero sends `Cache-Control: no-cache`: caches keep the file but
    /// revalidate it on every use (a cheap `304`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Whether fingerprinted names ([`is_fingerprinted`]) get
    /// [`IMMUTABLE_CACHE_CONTROL`] (default `true`). Turn it off if your file names
    /// carry hex runs that are not content hashes.
    pub fn immutable_fingerprinted(mut self, on: bool) -> Self {
        self.immutable_fingerprinted = on;
        self
    }

    /// Serves `name.br` or `name.gz`, when it exists, to clients whose
    /// `Accept-Encoding` allows it (brotli preferred at equal weight).
    pub fn precompressed(mut self) -> Self {
        self.precompressed = true;
        self
    }

    /// Whether a directory is answered with its `index.html` (default `false`: 404).
    /// `/docs` and `/docs/` both serve `docs/index.html`, so relative links in that
    /// page resolve differently on the two URLs: link to assets absolutely.
    pub fn index_html(mut self, on: bool) -> Self {
        self.index_html = on;
        self
    }

    /// Whether names starting with `.` are served (default `false`: 404), e.g. for a
    /// `.well-known` directory.
    pub fn hidden_files(mut self, on: bool) -> Self {
        self.hidden_files = on;
        self
    }

    /// The directory served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The service to mount with `Router::nest_service` (or as a `fallback_service`).
    /// A directory that does not exist is logged as a warning, not an error: every
    /// request gets a 404 until it appears.
    pub fn into_service(self) -> StaticFilesService {
        if !self.dir.is_dir() {
            tracing::warn!(
                dir = %self.dir.display(),
                "the static files directory does not exist (yet): every request will get a 404"
            );
        }
        let mut serve = ServeDir::new(&self.dir)
            .append_index_html_on_directories(self.index_html)
            .redirect_to_trailing_slash(false);
        if self.precompressed {
            serve = serve.precompressed_br().precompressed_gzip();
        }
        let max_age = self.max_age.as_secs();
        let cache_control = if max_age == 0 {
            HeaderValue::from_static("no-cache")
        } else {
            // ASCII digits: always a valid value.
            HeaderValue::try_from(format!("public, max-age={max_age}"))
                .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
        };
        StaticFilesService {
            serve,
            cache_control,
            immutable_fingerprinted: self.immutable_fingerprinted,
            hidden_files: self.hidden_files,
        }
    }
}

/// The service of [`StaticFiles`]: answers `GET` and `HEAD` from the directory, and
/// every failure with a problem. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StaticFilesService {
    serve: ServeDir,
    cache_control: HeaderValue,
    immutable_fingerprinted: bool,
    hidden_files: bool,
}

impl StaticFilesService {
    /// The path decoded and checked: `None` when it must not reach the file system.
    fn checked_path(&self, raw: &str) -> Option<String> {
        let decoded = percent_decode(raw)?;
        let acceptable = decoded.split('/').all(|segment| {
            segment != ".."
                && !segment.contains(['\\', '\0'])
                && (self.hidden_files || !segment.starts_with('.'))
        });
        acceptable.then_some(decoded)
    }

    /// The `Cache-Control` for the (decoded) path.
    fn cache_control_for(&self, path: &str) -> HeaderValue {
        let name = path.rsplit('/').next().unwrap_or_default();
        if self.immutable_fingerprinted && is_fingerprinted(name) {
            HeaderValue::from_static(IMMUTABLE_CACHE_CONTROL)
        } else {
            self.cache_control.clone()
        }
    }
}

/// Percent-decodes a path once; `None` for a malformed escape or bytes that are not
/// UTF-8 (nothing a static file is named).
fn percent_decode(raw: &str) -> Option<String> {
    String::from_utf8(rustango_http::percent::decode_strict(raw.as_bytes())?).ok()
}

/// The path the client asked for, before `nest_service` stripped the mount.
fn original_path<B>(req: &Request<B>) -> String {
    match req.extensions().get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri.path().to_owned(),
        None => req.uri().path().to_owned(),
    }
}

fn not_found(path: String) -> Response {
    Problem::not_found()
        .with_detail("No file matches this URL.")
        .with_instance(path)
        .into_response()
}

impl<ReqBody> Service<Request<ReqBody>> for StaticFilesService
where
    ReqBody: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture<ReqBody>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let path = original_path(&req);
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let problem = Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                .with_detail("Static files answer GET and HEAD only.")
                .with_instance(path)
                .with_header(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return ResponseFuture::ready(problem.into_response());
        }
        let Some(decoded) = self.checked_path(req.uri().path()) else {
            tracing::debug!(path, "refusing a static file path");
            return ResponseFuture::ready(not_found(path));
        };
        let cache_control = self.cache_control_for(&decoded);
        ResponseFuture {
            state: State::Serving {
                inner: Box::pin(self.serve.try_call(req)),
                cache_control,
                path: Some(path),
            },
        }
    }
}

/// The response future of [`StaticFilesService`].
pub struct ResponseFuture<ReqBody> {
    state: State<ReqBody>,
}

enum State<ReqBody> {
    Serving {
        inner: Pin<Box<ServeFileSystemResponseFuture<ReqBody, DefaultServeDirFallback>>>,
        cache_control: HeaderValue,
        /// The requested path, for problems; taken when done.
        path: Option<String>,
    },
    Ready(Option<Response>),
}

impl<ReqBody> ResponseFuture<ReqBody> {
    fn ready(response: Response) -> Self {
        ResponseFuture {
            state: State::Ready(Some(response)),
        }
    }
}

impl<ReqBody> fmt::Debug for ResponseFuture<ReqBody> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let serving = matches!(self.state, State::Serving { .. });
        f.debug_struct("ResponseFuture")
            .field("serving", &serving)
            .finish_non_exhaustive()
    }
}

impl<ReqBody> Future for ResponseFuture<ReqBody>
where
    ReqBody: Send + 'static,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is boxed or `Unpin`.
        let this = self.get_mut();
        let (result, cache_control, path) = match &mut this.state {
            State::Ready(response) => {
                let response = response.take().unwrap_or_else(|| {
                    // Polled after completion: a caller bug, not bad input.
                    Problem::internal().into_response()
                });
                return Poll::Ready(Ok(response));
            }
            State::Serving {
                inner,
                cache_control,
                path,
            } => match inner.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => (result, cache_control.clone(), path.take()),
            },
        };
        this.state = State::Ready(None);
        let path = path.unwrap_or_default();
        Poll::Ready(Ok(finish(result, cache_control, path)))
    }
}

/// Turns `ServeDir`'s answer into ours: cache headers on success, problems otherwise.
fn finish(
    result: io::Result<Response<tower_http::services::fs::ServeFileSystemResponseBody>>,
    cache_control: HeaderValue,
    path: String,
) -> Response {
    let response = match result {
        Ok(response) => response,
        Err(e) if is_not_found(&e) => return not_found(path),
        Err(e) => {
            tracing::error!(error = %e, path, "cannot read a static file");
            return Problem::internal().with_instance(path).into_response();
        }
    };
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        let mut response = response.map(Body::new);
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            response
                .headers_mut()
                .entry(header::CACHE_CONTROL)
                .or_insert(cache_control);
        }
        return response;
    }
    match status {
        StatusCode::NOT_FOUND => not_found(path),
        StatusCode::INTERNAL_SERVER_ERROR => {
            Problem::internal().with_instance(path).into_response()
        }
        _ => {
            // 412 (a failed `If-Match`) and 416 (an unsatisfiable `Range`, whose
            // `Content-Range` the client needs).
            let mut problem = Problem::new(status).with_instance(path);
            for name in [header::CONTENT_RANGE, header::ALLOW] {
                if let Some(value) = response.headers().get(&name) {
                    problem = problem.with_header(name, value.clone());
                }
            }
            problem.into_response()
        }
    }
}

/// The errors that mean "no such file" for a path the client made up: missing,
/// unreadable, a file used as a directory (`/app.js/x`), or a name the file system
/// cannot hold or refuses (`ENAMETOOLONG`, `InvalidInput`).
fn is_not_found(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::InvalidFilename
            | io::ErrorKind::InvalidInput
    )
}

/// `router.static_files("/static", files)`: serves `files` under a path prefix. All
/// the chaining traits at once: `use rustango_middleware::prelude::*`.
pub trait StaticFilesRouterExt: Sized {
    /// Serves the files of `files` under the path prefix `mount` (e.g. `/static`); at
    /// `/`, as the router's fallback.
    fn static_files(self, mount: &str, files: StaticFiles) -> Self;
}

impl<S: Clone + Send + Sync + 'static> StaticFilesRouterExt for axum::Router<S> {
    fn static_files(self, mount: &str, files: StaticFiles) -> Self {
        // axum refuses to nest at the root: there the files answer what no route does.
        match mount.trim_end_matches('/') {
            "" => self.fallback_service(files.into_service()),
            mount => self.nest_service(mount, files.into_service()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints() {
        for yes in [
            "app.3f2a9c1b.js",
            "app-3f2a9c1b5d.css",
            "main.0123456789abcdef0123.js",
            "logo.3f2a9c1b.svg",
            "abcdef12.woff2",
        ] {
            assert!(is_fingerprinted(yes), "{yes}");
        }
        for no in [
            "app.js",
            "app",
            "3f2a9c1b",
            "app.3F2A9C1B.js",
            "app.3f2a9c1g.js",
            "photo-12345678.jpg",
            "app.3f2a9c1b",
            "",
        ] {
            assert!(!is_fingerprinted(no), "{no}");
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%2e%2E/x").as_deref(), Some("/../x"));
        assert_eq!(percent_decode("/%2"), None);
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%ff"), None);
        assert_eq!(percent_decode("/caf%C3%A9").as_deref(), Some("/café"));
    }

    #[test]
    fn path_checks() {
        let service = StaticFiles::new("x").into_service();
        for ok in ["/app.js", "/css/site.css", "/", "/a..b.js", "/%61pp.js"] {
            assert!(service.checked_path(ok).is_some(), "{ok}");
        }
        for bad in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/..%2fx",
            "/..%5cx",
            "/a%5c..%5cx",
            "/a%00.js",
            "/.env",
            "/.git/config",
            "/%2egit/config",
            "/%ff",
        ] {
            assert!(service.checked_path(bad).is_none(), "{bad}");
        }
        let hidden = StaticFiles::new("x").hidden_files(true).into_service();
        assert!(hidden.checked_path("/.well-known/security.txt").is_some());
        assert!(hidden.checked_path("/../x").is_none());
    }

    #[test]
    fn cache_control() {
        let service = StaticFiles::new("x").into_service();
        assert_eq!(service.cache_control_for("/a.js"), "public, max-age=3600");
        assert_eq!(
            service.cache_control_for("/js/a.3f2a9c1b.js"),
            IMMUTABLE_CACHE_CONTROL
        );
        let off = StaticFiles::new("x")
            .immutable_fingerprinted(false)
            .max_age(Duration::ZERO)
            .into_service();
        assert_eq!(off.cache_control_for("/js/a.3f2a9c1b.js"), "no-cache");
    }
}
