//! rustango's HTTP tier: every error a client sees is an RFC 9457
//! `application/problem+json` [`Problem`], and this crate decides which.
//!
//! - [`Problem`]: the error response type, with builders and shorthands
//!   ([`Problem::not_found`], [`Problem::conflict`], [`Problem::internal`], …).
//! - [`mapping`]: the one table from lower-tier errors (`rustango_orm::Error`,
//!   `rustango_migrate::Error`) and axum's rejections to statuses, so `?` works on ORM
//!   calls in handlers returning [`ApiResult`].
//! - [`extract`]: `Json`, `Path`, `Query` and `Form` that reject with problems instead of
//!   axum's plain-text 400s.
//! - [`RouterExt::with_problem_defaults`]: 404 problems for unknown routes, 405 problems
//!   (with `Allow`) for wrong methods, 500 problems for panics.
//! - [`percent`]: the one percent-decoder (URL, form and strict flavours) the
//!   middleware and auth crates read URLs and forms with.
//! - [`test_client::TestClient`]: call a router in-process, with cookies, a peer address
//!   and query counting.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rustango_http::extract::{Json, Path};
//! use rustango_http::test_client::TestClient;
//! use rustango_http::{ApiResult, Problem, RouterExt};
//!
//! async fn show(Path(id): Path<u32>) -> ApiResult<Json<serde_json::Value>> {
//!     if id == 1 {
//!         Ok(Json(serde_json::json!({ "id": 1, "title": "Hi" })))
//!     } else {
//!         Err(Problem::not_found().with_detail(format!("There is no post {id}.")))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let app = Router::new().route("/posts/{id}", get(show)).with_problem_defaults();
//! let client = TestClient::new(app);
//!
//! let ok = client.get("/posts/1").send().await;
//! assert_eq!(ok.status, 200);
//! assert_eq!(ok.json::<serde_json::Value>()["title"], "Hi");
//!
//! let missing = client.get("/posts/2").send().await;
//! assert_eq!(missing.status, 404);
//! assert_eq!(missing.header("content-type"), Some("application/problem+json"));
//! assert_eq!(missing.problem().detail(), Some("There is no post 2."));
//!
//! // Not a number: a malformed request, not a missing post.
//! assert_eq!(client.get("/posts/abc").send().await.status, 400);
//! // No such route: 404 naming the path.
//! let unknown = client.get("/nope").send().await.problem();
//! assert_eq!(unknown.instance(), Some("/nope"));
//! # });
//! ```
#![deny(missing_docs)]

mod defaults;
pub mod extract;
pub mod mapping;
pub mod percent;
mod problem;
pub mod test_client;

pub use defaults::{
    MethodNotAllowed, MethodNotAllowedFuture, MethodNotAllowedLayer, PanicToProblem,
    ProblemDefaults, ProblemDefaultsFuture, ProblemDefaultsLayer, RouterExt, catch_panic_layer,
    fallback,
};
pub use problem::{PROBLEM_JSON, Problem};

/// The error type of handlers: a [`Problem`].
pub type ApiError = Problem;

/// The result type of handlers: `?` converts ORM and migration errors (and anything
/// else that is `Into<Problem>`) into a problem response.
pub type ApiResult<T, E = Problem> = Result<T, E>;
