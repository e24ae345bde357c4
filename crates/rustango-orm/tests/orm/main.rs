//! The ORM suite: every test body runs on SQLite, and on PostgreSQL with `__test-pg`
//! (`cargo xtask test-pg`).

#[macro_use]
mod support;
mod models;

mod crud;
mod errors;
mod queries;
mod relations;
mod transactions;
