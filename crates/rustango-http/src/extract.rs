//! Extractors that reject with a [`Problem`] instead of axum's plain-text responses.
//!
//! Each wraps the axum extractor of the same name and converts its rejection with the
//! table in [`mapping`](crate::mapping): malformed input is a 400, well-formed input of
//! the wrong shape a 422, a wrong `Content-Type` a 415, an oversized body a 413.
//!
//! ```
//! use rustango_http::extract::{Json, Path};
//! use rustango_http::ApiResult;
//!
//! #[derive(serde::Deserialize, serde::Serialize)]
//! struct NewPost {
//!     title: String,
//! }
//!
//! async fn update(Path(id): Path<u32>, Json(post): Json<NewPost>) -> ApiResult<Json<NewPost>> {
//!     let _ = id;
//!     Ok(Json(post))
//! }
//! # let _ = axum::Router::<()>::new().route("/posts/{id}", axum::routing::put(update));
//! ```

use std::ops::{Deref, DerefMut};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Problem;

macro_rules! wrapper {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name<T>(pub T);

        impl<T> Deref for $name<T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.0
            }
        }

        impl<T> DerefMut for $name<T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.0
            }
        }

        impl<T> From<T> for $name<T> {
            fn from(value: T) -> Self {
                $name(value)
            }
        }

        impl<T> $name<T> {
            /// The extracted value.
            pub fn into_inner(self) -> T {
                self.0
            }
        }
    };
}

wrapper! {
    /// A JSON request body (`Content-Type: application/json`), and a JSON response.
    ///
    /// Rejects with 400 (not JSON), 422 (JSON of the wrong shape, with serde's message),
    /// 415 (no JSON content type) or 413 (body over the limit). As a response it
    /// serializes `T` with `Content-Type: application/json`; if `T` cannot be
    /// serialized, the response is a logged 500 problem.
    Json
}

wrapper! {
    /// Path parameters (`/posts/{id}`); a segment that does not parse is a 400.
    Path
}

wrapper! {
    /// The query string; one that does not deserialize is a 400.
    Query
}

wrapper! {
    /// A URL-encoded form: the body of a `POST`/`PUT`/…, the query string of a `GET` or
    /// `HEAD`. Rejects with 415 (wrong content type), 422 (fields of the wrong
    /// shape), 400 (a malformed `GET` query) or 413.
    Form
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut response = body.into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a JSON response");
                Problem::internal().into_response()
            }
        }
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl<T, S> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Form(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}
