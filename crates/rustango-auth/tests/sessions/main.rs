//! Sessions: the store contract on every store (memory, cache, SQLite, PostgreSQL,
//! Redis) and the login/logout flow through an axum app.
//!
//! PostgreSQL tests (names contain `postgres`) need the `__test-pg` feature and
//! `DATABASE_URL`; Redis tests (names contain `redis`) need `__test-redis` and
//! `REDIS_URL`. `cargo xtask test-pg` / `cargo xtask test-redis` provide both.

mod flow;
mod stores;
mod support;
