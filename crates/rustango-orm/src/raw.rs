//! Hand-written SQL, for what the query builder does not express (Django's
//! `connection.cursor()`). Values are still bound: pass them as `params`, never format
//! them into `sql`.

use rustango_core::{Value, ValueKind};

use crate::{Error, Executor, exec};

/// Runs a statement with bound parameters; returns the number of rows affected.
///
/// Placeholders follow the backend: `$1, $2` on PostgreSQL, `?` on SQLite.
pub async fn execute<'e>(
    exec: impl Executor<'e>,
    sql: &str,
    params: Vec<Value>,
) -> Result<u64, Error> {
    exec::execute(exec.target(), sql.to_owned(), params).await
}

/// Runs SQL text that may hold several `;`-separated statements, with no parameters
/// (a data migration's `RunSql`); returns the rows affected.
pub async fn execute_script<'e>(exec: impl Executor<'e>, sql: &str) -> Result<u64, Error> {
    exec::execute_script(exec.target(), sql.to_owned()).await
}

/// Runs a query with bound parameters and decodes each row's columns as `kinds`.
pub async fn fetch<'e>(
    exec: impl Executor<'e>,
    sql: &str,
    params: Vec<Value>,
    kinds: &[ValueKind],
) -> Result<Vec<Vec<Value>>, Error> {
    exec::fetch_all(exec.target(), sql.to_owned(), params, kinds).await
}
