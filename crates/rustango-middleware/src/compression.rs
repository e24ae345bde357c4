//! [`CompressionLayer`]: compress response bodies with gzip, deflate or brotli, as
//! the request's `Accept-Encoding` prefers; tower-http's `CompressionLayer` with
//! rustango's defaults.
//!
//! Skipped: bodies under [`min_size`](CompressionLayer::min_size) bytes (32 by default;
//! a streamed body of unknown size is compressed), responses that already have a
//! `Content-Encoding`, and content types that are already compressed or streamed
//! ([`SKIPPED_CONTENT_TYPES`]: images but SVG, audio, video, archives, WOFF fonts,
//! gRPC, server-sent events). Compressed responses carry `Vary: accept-encoding`.
//!
//! A request without `Accept-Encoding` (an API client, a health check) skips the
//! compression machinery altogether: the inner response goes out as it is, with the
//! same `Vary` header tower-http would add. Responses always come out with axum's
//! [`Body`], so the layer composes with the others without mapping.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::compression::CompressionLayer;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new()
//!     .route("/", get(|| async { "hello ".repeat(100) }))
//!     .layer(CompressionLayer::new());
//! let client = TestClient::new(app);
//!
//! let response = client.get("/").header("accept-encoding", "gzip").send().await;
//! assert_eq!(response.header("content-encoding"), Some("gzip"));
//! assert_eq!(&response.body[..2], &[0x1f, 0x8b]);
//!
//! let response = client.get("/").send().await;
//! assert_eq!(response.header("content-encoding"), None);
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, header};
use tower::{BoxError, Layer, Service};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

pub use tower_http::compression::{CompressionBody, CompressionLevel};

/// The default [`min_size`](CompressionLayer::min_size): 32 bytes.
pub const DEFAULT_MIN_SIZE: u64 = 32;

/// Content-type prefixes never compressed (besides gRPC and `text/event-stream`, and
/// images except `image/svg+xml`).
pub const SKIPPED_CONTENT_TYPES: &[&str] = &[
    "audio/",
    "video/",
    "font/woff",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/zstd",
];

/// Which responses [`CompressionLayer`] compresses; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct CompressPredicate {
    min_size: u64,
}

impl Predicate for CompressPredicate {
    fn should_compress<B>(&self, response: &Response<B>) -> bool
    where
        B: HttpBody,
    {
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map_or(&[][..], |v| v.as_bytes());
        SizeAbove::new(self.min_size).should_compress(response)
            && NotForContentType::GRPC.should_compress(response)
            && NotForContentType::IMAGES.should_compress(response)
            && NotForContentType::SSE.should_compress(response)
            && !SKIPPED_CONTENT_TYPES.iter().any(|prefix| {
                content_type
                    .get(..prefix.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
            })
    }
}

/// Response compression; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CompressionLayer {
    gzip: bool,
    deflate: bool,
    br: bool,
    quality: CompressionLevel,
    min_size: u64,
}

impl Default for CompressionLayer {
    fn default() -> Self {
        CompressionLayer {
            gzip: true,
            deflate: true,
            br: true,
            quality: CompressionLevel::Default,
            min_size: DEFAULT_MIN_SIZE,
        }
    }
}

impl CompressionLayer {
    /// gzip, deflate and brotli, default quality, bodies of 32 bytes and more.
    pub fn new() -> Self {
        CompressionLayer::default()
    }

    /// Whether gzip is offered (default `true`).
    pub fn gzip(mut self, enable: bool) -> Self {
        self.gzip = enable;
        self
    }

    /// Whether deflate is offered (default `true`).
    pub fn deflate(mut self, enable: bool) -> Self {
        self.deflate = enable;
        self
    }

    /// Whether brotli is offered (default `true`).
    pub fn br(mut self, enable: bool) -> Self {
        self.br = enable;
        self
    }

    /// The compression level (default: each algorithm's default).
    pub fn quality(mut self, quality: CompressionLevel) -> Self {
        self.quality = quality;
        self
    }

    /// Bodies of known size smaller than this are sent as they are (default 32).
    pub fn min_size(mut self, bytes: u64) -> Self {
        self.min_size = bytes;
        self
    }
}

impl<S> Layer<S> for CompressionLayer {
    type Service = CompressionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let predicate = CompressPredicate {
            min_size: self.min_size,
        };
        CompressionService {
            inner: tower_http::compression::CompressionLayer::new()
                .gzip(self.gzip)
                .deflate(self.deflate)
                .br(self.br)
                .quality(self.quality)
                .compress_when(predicate)
                .layer(inner),
            predicate,
        }
    }
}

/// The service of [`CompressionLayer`]: tower-http's compression for requests that
/// accept an encoding, the inner service untouched for the others.
#[derive(Clone)]
pub struct CompressionService<S> {
    inner: tower_http::compression::Compression<S, CompressPredicate>,
    predicate: CompressPredicate,
}

impl<S> std::fmt::Debug for CompressionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressionService")
            .field("predicate", &self.predicate)
            .finish_non_exhaustive()
    }
}

/// Whether the request names any encoding: without `Accept-Encoding`, only identity
/// is acceptable and nothing needs negotiating.
fn negotiates(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ACCEPT_ENCODING)
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CompressionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError> + Send,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Delegates to the inner service, which either branch then calls.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if negotiates(req.headers()) {
            ResponseFuture {
                kind: Kind::Negotiated {
                    future: self.inner.call(req),
                },
            }
        } else {
            ResponseFuture {
                kind: Kind::Identity {
                    future: self.inner.get_mut().call(req),
                    predicate: self.predicate,
                },
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`CompressionService`].
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Negotiated {
            #[pin]
            future: tower_http::compression::ResponseFuture<F, CompressPredicate>,
        },
        Identity {
            #[pin]
            future: F,
            predicate: CompressPredicate,
        },
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError> + Send,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Negotiated { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(Body::new))),
            KindProj::Identity { future, predicate } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                // What tower-http does for an identity response: caches must know
                // that a client accepting gzip could get another body.
                if predicate.should_compress(&response)
                    && !response.headers().contains_key(header::CONTENT_ENCODING)
                    && !response.headers().contains_key(header::CONTENT_RANGE)
                    && !varies_on_encoding(response.headers())
                {
                    response
                        .headers_mut()
                        .append(header::VARY, header::ACCEPT_ENCODING.into());
                }
                // `Body::new` of an axum `Body` is the same body, not boxed again.
                Poll::Ready(Ok(response.map(Body::new)))
            }
        }
    }
}

fn varies_on_encoding(headers: &HeaderMap) -> bool {
    headers.get_all(header::VARY).iter().any(|value| {
        value.as_bytes().split(|&b| b == b',').any(|item| {
            let item = item.trim_ascii();
            item == b"*" || item.eq_ignore_ascii_case(b"accept-encoding")
        })
    })
}

crate::router_ext! {
    /// Compresses responses (gzip, deflate, br) per `Accept-Encoding`.
    CompressionRouterExt::compression(CompressionLayer)
}
