//! The ORM suite: every test body runs on SQLite, and on PostgreSQL with `__test-pg`
//! (`cargo xtask test-pg`).

// `backend_test!` and its throwaway databases, for every module: the crate's own
// `testing` module (turned on by the dev-dependency on itself).
#[macro_use]
extern crate rustango_orm;

mod models;

mod crud;
mod errors;
mod queries;
mod relations;
mod transactions;
