//! Pieces the layers share.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::Response;
use futures_util::future::BoxFuture;

/// The response future of the layers whose work around the inner service is
/// asynchronous (a store lookup): one boxed `async` block, whose type cannot be named.
pub struct BoxResponseFuture<E> {
    pub(crate) inner: BoxFuture<'static, Result<Response, E>>,
}

impl<E> Future for BoxResponseFuture<E> {
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<E> fmt::Debug for BoxResponseFuture<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// Implements `FromRequestParts` (and the `Option` form) for a value a layer puts in
/// the request's extensions, or makes on demand through `$get(&Extensions) ->
/// Option<$ty>`; without the layer, the plain form is a logged 500 (a wiring mistake,
/// not bad input).
#[allow(unused_macros)]
macro_rules! extension_extractor {
    ($ty:ty, $layer:literal) => {
        $crate::future::extension_extractor!($ty, $layer, |extensions: &http::Extensions| {
            extensions.get::<$ty>().cloned()
        });
    };
    ($ty:ty, $layer:literal, $get:expr) => {
        impl<S: Send + Sync> axum::extract::FromRequestParts<S> for $ty {
            type Rejection = rustango_http::Problem;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                ($get)(&parts.extensions).ok_or_else(|| {
                    tracing::error!(concat!(
                        "a handler takes ",
                        stringify!($ty),
                        " but ",
                        $layer,
                        " does not wrap its route"
                    ));
                    rustango_http::Problem::internal()
                })
            }
        }

        impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for $ty {
            type Rejection = std::convert::Infallible;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                _state: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                Ok(($get)(&parts.extensions))
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use extension_extractor;

/// The response future of the layers that either call the inner service or answer at
/// once (a refusal, a redirect): one or the other, with nothing boxed.
pub type ShortCircuit<F, E> =
    futures_util::future::Either<F, futures_util::future::Ready<Result<Response, E>>>;
