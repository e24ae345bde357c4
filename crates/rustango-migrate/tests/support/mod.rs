//! One test body, every backend: `backend_test!` expands a body into a SQLite test and,
//! with the `__test-pg` feature, a PostgreSQL test, each on a fresh database that is
//! removed afterwards (whether the body passes, fails or panics).
//!
//! ```ignore
//! mod support;
//!
//! backend_test! {
//!     async fn creates_tables(pool) {
//!         rustango_orm::raw::execute(&pool, "CREATE TABLE t (id INTEGER)", vec![]).await?;
//!         Ok(())
//!     }
//! }
//! ```
//!
//! The two tests are `creates_tables::sqlite` and `creates_tables::postgres`, so
//! `cargo test postgres` (what `cargo xtask test-pg` runs) selects the PostgreSQL half.
//! The PostgreSQL half needs `DATABASE_URL` and fails, never skips, without it. The
//! databases and the macro are `rustango_orm::testing`'s; this module only fixes the
//! bodies' error type.

/// What a test body returns: any error fails the test.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// `rustango_orm::backend_test!` with bodies returning [`TestResult`].
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($pool:ident) $body:block) => {
        rustango_orm::backend_test! {
            $(#[$meta])*
            async fn $name($pool) -> $crate::support::TestResult $body
        }
    };
}
