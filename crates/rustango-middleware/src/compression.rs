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

use axum::body::HttpBody;
use http::Response;
use tower::Layer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

pub use tower_http::compression::{
    Compression as CompressionService, CompressionBody, CompressionLevel, ResponseFuture,
};

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
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        SizeAbove::new(self.min_size).should_compress(response)
            && NotForContentType::GRPC.should_compress(response)
            && NotForContentType::IMAGES.should_compress(response)
            && NotForContentType::SSE.should_compress(response)
            && !SKIPPED_CONTENT_TYPES
                .iter()
                .any(|prefix| content_type.starts_with(prefix))
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
    type Service = CompressionService<S, CompressPredicate>;

    fn layer(&self, inner: S) -> Self::Service {
        tower_http::compression::CompressionLayer::new()
            .gzip(self.gzip)
            .deflate(self.deflate)
            .br(self.br)
            .quality(self.quality)
            .compress_when(CompressPredicate {
                min_size: self.min_size,
            })
            .layer(inner)
    }
}
