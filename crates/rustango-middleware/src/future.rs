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

#[cfg(any(feature = "csrf", feature = "rate-limit"))]
pin_project_lite::pin_project! {
    /// The response future of the layers that decide before calling the inner service
    /// (CSRF, an in-process rate limit): the inner service's response, finished on the
    /// way out (a cookie, rate-limit headers); an answer of their own; or, when the
    /// decision has to wait (a form body to read, a shared store to ask), a boxed
    /// future. Only the waiting case allocates.
    pub struct DecidedFuture<F, E> {
        #[pin]
        state: Decided<F, E>,
    }
}

#[cfg(any(feature = "csrf", feature = "rate-limit"))]
pin_project_lite::pin_project! {
    #[project = DecidedProj]
    enum Decided<F, E> {
        Inner {
            #[pin]
            future: F,
            finish: Option<Finish>,
        },
        Answer {
            response: Option<Response>,
        },
        Waiting {
            future: BoxFuture<'static, Result<Response, E>>,
        },
    }
}

/// What a [`DecidedFuture`] does to the inner service's response.
#[cfg(any(feature = "csrf", feature = "rate-limit"))]
pub(crate) enum Finish {
    /// Set the CSRF cookie when a token was minted.
    #[cfg(feature = "csrf")]
    Csrf(crate::csrf::Finish),
    /// The rate-limit headers.
    #[cfg(feature = "rate-limit")]
    Headers([(http::HeaderName, http::HeaderValue); 2]),
}

#[cfg(any(feature = "csrf", feature = "rate-limit"))]
impl Finish {
    fn apply(self, response: Response) -> Response {
        match self {
            #[cfg(feature = "csrf")]
            Finish::Csrf(finish) => finish.apply(response),
            #[cfg(feature = "rate-limit")]
            Finish::Headers(headers) => {
                let mut response = response;
                for (name, value) in headers {
                    response.headers_mut().insert(name, value);
                }
                response
            }
        }
    }
}

#[cfg(any(feature = "csrf", feature = "rate-limit"))]
impl<F, E> DecidedFuture<F, E> {
    /// Calls through: `future` is the inner service's, `finish` runs on its response.
    pub(crate) fn inner(future: F, finish: Finish) -> Self {
        DecidedFuture {
            state: Decided::Inner {
                future,
                finish: Some(finish),
            },
        }
    }

    /// Calls through and leaves the response alone.
    #[cfg(feature = "rate-limit")]
    pub(crate) fn passthrough(future: F) -> Self {
        DecidedFuture {
            state: Decided::Inner {
                future,
                finish: None,
            },
        }
    }

    /// The layer's own answer.
    pub(crate) fn answer(response: Response) -> Self {
        DecidedFuture {
            state: Decided::Answer {
                response: Some(response),
            },
        }
    }

    /// Work that waits before it can decide.
    pub(crate) fn waiting(future: BoxFuture<'static, Result<Response, E>>) -> Self {
        DecidedFuture {
            state: Decided::Waiting { future },
        }
    }
}

#[cfg(any(feature = "csrf", feature = "rate-limit"))]
impl<F, E> Future for DecidedFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            DecidedProj::Inner { future, finish } => {
                let response = std::task::ready!(future.poll(cx))?;
                Poll::Ready(Ok(match finish.take() {
                    Some(finish) => finish.apply(response),
                    None => response,
                }))
            }
            DecidedProj::Answer { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => panic!("DecidedFuture polled after it completed"),
            },
            DecidedProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

#[cfg(any(feature = "csrf", feature = "rate-limit"))]
impl<F, E> fmt::Debug for DecidedFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecidedFuture").finish_non_exhaustive()
    }
}
