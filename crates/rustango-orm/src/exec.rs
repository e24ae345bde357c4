//! The executor: the one module that hands SQL text to sqlx (wrapped in
//! `AssertSqlSafe`: every string here was written by `rustango-query`, with values bound
//! as parameters, or passed explicitly by the caller of `rustango_orm::raw`), binds
//! [`Value`]s and decodes rows back into them.

use std::sync::atomic::Ordering;

use rustango_core::{Value, ValueKind, ValueReader};
use sqlx::{AssertSqlSafe, Row as _};

use crate::Error;
use crate::pool::{PoolKind, Target, TxState};

fn check_text(v: &Value) -> Result<(), Error> {
    if let Value::String(s) = v
        && s.contains('\0')
    {
        return Err(Error::InvalidValue {
            field: String::new(),
            reason: "text may not contain NUL (0x00) characters".into(),
        });
    }
    if let Value::F64(f) = v
        && f.is_nan()
    {
        return Err(Error::InvalidValue {
            field: String::new(),
            reason: "NaN is not a storable number".into(),
        });
    }
    if let Value::F32(f) = v
        && f.is_nan()
    {
        return Err(Error::InvalidValue {
            field: String::new(),
            reason: "NaN is not a storable number".into(),
        });
    }
    Ok(())
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use sqlx::postgres::{PgArguments, PgRow};
    use sqlx::query::Query;

    /// Binds the parameters by reference, so that a query can be bound again (the
    /// retry after a stale prepared statement) without copying them.
    pub(super) fn bind<'q>(
        mut q: Query<'q, sqlx::Postgres, PgArguments>,
        params: &'q [Value],
    ) -> Query<'q, sqlx::Postgres, PgArguments> {
        for v in params {
            q = match v {
                Value::Null(k) => match *k {
                    ValueKind::Bool => q.bind(None::<bool>),
                    ValueKind::I16 => q.bind(None::<i16>),
                    ValueKind::I32 => q.bind(None::<i32>),
                    ValueKind::I64 => q.bind(None::<i64>),
                    ValueKind::F32 => q.bind(None::<f32>),
                    ValueKind::F64 => q.bind(None::<f64>),
                    ValueKind::Bytes => q.bind(None::<Vec<u8>>),
                    ValueKind::Uuid => q.bind(None::<uuid::Uuid>),
                    ValueKind::Date => q.bind(None::<chrono::NaiveDate>),
                    ValueKind::Time => q.bind(None::<chrono::NaiveTime>),
                    ValueKind::DateTime => q.bind(None::<chrono::DateTime<chrono::Utc>>),
                    ValueKind::Json => q.bind(None::<serde_json::Value>),
                    ValueKind::Decimal => q.bind(None::<rust_decimal::Decimal>),
                    _ => q.bind(None::<String>),
                },
                Value::Bool(v) => q.bind(*v),
                Value::I16(v) => q.bind(*v),
                Value::I32(v) => q.bind(*v),
                Value::I64(v) => q.bind(*v),
                Value::F32(v) => q.bind(*v),
                Value::F64(v) => q.bind(*v),
                Value::String(v) => q.bind(v.as_str()),
                Value::Bytes(v) => q.bind(v.as_slice()),
                Value::Uuid(v) => q.bind(v),
                Value::Date(v) => q.bind(v),
                Value::Time(v) => q.bind(v),
                Value::DateTime(v) => q.bind(v),
                Value::Json(v) => q.bind(v),
                Value::Decimal(v) => q.bind(v),
                _ => q.bind(None::<String>),
            };
        }
        q
    }

    pub(super) fn decode(
        row: &PgRow,
        kinds: &[ValueKind],
        out: &mut Vec<Value>,
    ) -> Result<(), Error> {
        for (i, k) in kinds.iter().enumerate() {
            macro_rules! get {
                ($t:ty, $var:ident) => {
                    row.try_get::<Option<$t>, _>(i)?
                        .map_or(Value::Null(*k), Value::$var)
                };
            }
            out.push(match k {
                ValueKind::Bool => get!(bool, Bool),
                ValueKind::I16 => get!(i16, I16),
                ValueKind::I32 => get!(i32, I32),
                ValueKind::I64 => get!(i64, I64),
                ValueKind::F32 => get!(f32, F32),
                ValueKind::F64 => get!(f64, F64),
                ValueKind::Bytes => get!(Vec<u8>, Bytes),
                ValueKind::Uuid => get!(uuid::Uuid, Uuid),
                ValueKind::Date => get!(chrono::NaiveDate, Date),
                ValueKind::Time => get!(chrono::NaiveTime, Time),
                ValueKind::DateTime => get!(chrono::DateTime<chrono::Utc>, DateTime),
                ValueKind::Json => get!(serde_json::Value, Json),
                ValueKind::Decimal => get!(rust_decimal::Decimal, Decimal),
                _ => get!(String, String),
            });
        }
        Ok(())
    }
}

#[cfg(feature = "sqlite")]
mod lite {
    use super::*;
    use sqlx::query::Query;
    use sqlx::sqlite::{SqliteArguments, SqliteRow};
    use std::str::FromStr;

    pub(super) fn bind<'q>(
        mut q: Query<'q, sqlx::Sqlite, SqliteArguments>,
        params: Vec<Value>,
    ) -> Query<'q, sqlx::Sqlite, SqliteArguments> {
        for v in params {
            q = match v {
                Value::Null(_) => q.bind(None::<String>),
                Value::Bool(v) => q.bind(v),
                Value::I16(v) => q.bind(v),
                Value::I32(v) => q.bind(v),
                Value::I64(v) => q.bind(v),
                Value::F32(v) => q.bind(v),
                Value::F64(v) => q.bind(v),
                Value::String(v) => q.bind(v),
                Value::Bytes(v) => q.bind(v),
                Value::Uuid(v) => q.bind(v),
                Value::Date(v) => q.bind(v),
                Value::Time(v) => q.bind(v),
                Value::DateTime(v) => q.bind(v),
                Value::Json(v) => q.bind(sqlx::types::Json(v)),
                // Stored with NUMERIC affinity: SQLite compares and sums it as a number.
                Value::Decimal(v) => q.bind(v.to_string()),
                _ => q.bind(None::<String>),
            };
        }
        q
    }

    pub(super) fn decode(
        row: &SqliteRow,
        kinds: &[ValueKind],
        out: &mut Vec<Value>,
    ) -> Result<(), Error> {
        for (i, k) in kinds.iter().enumerate() {
            macro_rules! get {
                ($t:ty, $var:ident) => {
                    row.try_get_unchecked::<Option<$t>, _>(i)?
                        .map_or(Value::Null(*k), Value::$var)
                };
            }
            out.push(match k {
                ValueKind::Bool => get!(bool, Bool),
                ValueKind::I16 => get!(i16, I16),
                ValueKind::I32 => get!(i32, I32),
                ValueKind::I64 => get!(i64, I64),
                ValueKind::F32 => get!(f32, F32),
                ValueKind::F64 => get!(f64, F64),
                ValueKind::Bytes => get!(Vec<u8>, Bytes),
                ValueKind::Uuid => get!(uuid::Uuid, Uuid),
                ValueKind::Date => get!(chrono::NaiveDate, Date),
                ValueKind::Time => get!(chrono::NaiveTime, Time),
                ValueKind::DateTime => get!(chrono::DateTime<chrono::Utc>, DateTime),
                ValueKind::Json => match row.try_get_unchecked::<Option<String>, _>(i)? {
                    None => Value::Null(*k),
                    Some(s) => {
                        Value::Json(serde_json::from_str(&s).map_err(|e| Error::InvalidValue {
                            field: String::new(),
                            reason: format!("stored JSON does not parse: {e}"),
                        })?)
                    }
                },
                ValueKind::Decimal => match row.try_get_unchecked::<Option<String>, _>(i)? {
                    None => Value::Null(*k),
                    Some(s) => Value::Decimal(
                        rust_decimal::Decimal::from_str(&s)
                            .or_else(|_| rust_decimal::Decimal::from_scientific(&s))
                            .map_err(|e| Error::InvalidValue {
                                field: String::new(),
                                reason: format!("stored decimal `{s}` does not parse: {e}"),
                            })?,
                    ),
                },
                _ => get!(String, String),
            });
        }
        Ok(())
    }
}

fn count(target: &Target<'_>) {
    match target {
        Target::Pool(p) => p.queries.fetch_add(1, Ordering::Relaxed),
        Target::Conn(c) => c.queries.fetch_add(1, Ordering::Relaxed),
    };
}

fn log(sql: &str) {
    // Statement text only: bound values (which may be secrets) are never logged.
    tracing::debug!(target: "rustango::sql", sql);
}

/// Runs a query and decodes every row into values of the given kinds.
pub(crate) async fn fetch_all(
    target: Target<'_>,
    sql: String,
    params: Vec<Value>,
    kinds: &[ValueKind],
) -> Result<Vec<Vec<Value>>, Error> {
    fetch_map(target, sql, params, kinds, None, |r| {
        let mut row = Vec::with_capacity(r.remaining());
        while r.remaining() > 0 {
            row.push(r.next()?);
        }
        Ok(row)
    })
    .await
}

/// Whether PostgreSQL refused a prepared statement because the types of its result
/// changed since it was prepared (a migration ran in between).
#[cfg(feature = "postgres")]
fn is_stale_plan(e: &Error) -> bool {
    matches!(e, Error::Database { code: Some(code), message, .. }
        if code == "0A000" && message.contains("cached plan"))
}

/// Runs a query and maps every row, read as values of the given kinds, with `f`. One
/// buffer serves every row. With `max_rows` (the query's `LIMIT`), reading stops at that
/// many rows instead of waiting for the end of the result.
pub(crate) async fn fetch_map<T>(
    target: Target<'_>,
    sql: String,
    params: Vec<Value>,
    kinds: &[ValueKind],
    max_rows: Option<u64>,
    mut f: impl FnMut(&mut ValueReader) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let max_rows = max_rows.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    if max_rows == 0 {
        return Ok(Vec::new());
    }
    params.iter().try_for_each(check_text)?;
    count(&target);
    log(&sql);
    use futures_util::TryStreamExt;
    let mut reader = ValueReader::default();
    // Rows are decoded as they arrive, overlapping our work with the database's.
    macro_rules! map_rows {
        ($stream:expr, $decode:path) => {{
            let mut stream = $stream;
            let mut out = Vec::new();
            while let Some(r) = stream.try_next().await? {
                $decode(&r, kinds, reader.refill())?;
                out.push(f(&mut reader)?);
                if out.len() >= max_rows {
                    break;
                }
            }
            Ok(out)
        }};
    }
    match target {
        Target::Pool(pool) => match &pool.kind {
            #[cfg(feature = "postgres")]
            PoolKind::Postgres(p) => {
                // A connection keeps its prepared statements; when a migration changed
                // a result column's type since, PostgreSQL refuses the old one once.
                // Forget this connection's statements and run the query again.
                let sql: std::sync::Arc<str> = sql.into();
                let mut c = p.acquire().await?;
                let first: Result<Vec<T>, Error> = async {
                    map_rows!(
                        pg::bind(sqlx::query(AssertSqlSafe(sql.clone())), &params).fetch(&mut *c),
                        pg::decode
                    )
                }
                .await;
                match first {
                    Err(e) if is_stale_plan(&e) => {
                        sqlx::Connection::clear_cached_statements(&mut *c).await?;
                        map_rows!(
                            pg::bind(sqlx::query(AssertSqlSafe(sql)), &params).fetch(&mut *c),
                            pg::decode
                        )
                    }
                    other => other,
                }
            }
            #[cfg(feature = "sqlite")]
            PoolKind::Sqlite(p) => map_rows!(
                lite::bind(sqlx::query(AssertSqlSafe(sql)), params).fetch(p),
                lite::decode
            ),
        },
        Target::Conn(conn) => {
            let mut guard = conn.state.lock().await;
            match &mut *guard {
                #[cfg(feature = "postgres")]
                TxState::Postgres(tx) => map_rows!(
                    pg::bind(sqlx::query(AssertSqlSafe(sql)), &params).fetch(&mut **tx),
                    pg::decode
                ),
                #[cfg(feature = "sqlite")]
                TxState::Sqlite(tx) => map_rows!(
                    lite::bind(sqlx::query(AssertSqlSafe(sql)), params).fetch(&mut **tx),
                    lite::decode
                ),
                #[cfg(feature = "sqlite")]
                TxState::SqlitePinned(tx) => map_rows!(
                    lite::bind(sqlx::query(AssertSqlSafe(sql)), params).fetch(&mut **tx),
                    lite::decode
                ),
                TxState::Finished => Err(Error::Unsupported(
                    "the transaction has already finished".into(),
                )),
            }
        }
    }
}

/// Runs a statement and returns the number of rows it affected.
pub(crate) async fn execute(
    target: Target<'_>,
    sql: String,
    params: Vec<Value>,
) -> Result<u64, Error> {
    params.iter().try_for_each(check_text)?;
    count(&target);
    log(&sql);
    match target {
        Target::Pool(pool) => match &pool.kind {
            #[cfg(feature = "postgres")]
            PoolKind::Postgres(p) => {
                // See `fetch_map`: retry once on a prepared statement gone stale.
                let sql: std::sync::Arc<str> = sql.into();
                let mut c = p.acquire().await?;
                let first = pg::bind(sqlx::query(AssertSqlSafe(sql.clone())), &params)
                    .execute(&mut *c)
                    .await
                    .map_err(Error::from);
                match first {
                    Err(e) if is_stale_plan(&e) => {
                        sqlx::Connection::clear_cached_statements(&mut *c).await?;
                        Ok(pg::bind(sqlx::query(AssertSqlSafe(sql)), &params)
                            .execute(&mut *c)
                            .await?
                            .rows_affected())
                    }
                    other => Ok(other?.rows_affected()),
                }
            }
            #[cfg(feature = "sqlite")]
            PoolKind::Sqlite(p) => Ok(lite::bind(sqlx::query(AssertSqlSafe(sql)), params)
                .execute(p)
                .await?
                .rows_affected()),
        },
        Target::Conn(conn) => {
            let mut guard = conn.state.lock().await;
            match &mut *guard {
                #[cfg(feature = "postgres")]
                TxState::Postgres(tx) => Ok(pg::bind(sqlx::query(AssertSqlSafe(sql)), &params)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()),
                #[cfg(feature = "sqlite")]
                TxState::Sqlite(tx) => Ok(lite::bind(sqlx::query(AssertSqlSafe(sql)), params)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()),
                #[cfg(feature = "sqlite")]
                TxState::SqlitePinned(tx) => {
                    Ok(lite::bind(sqlx::query(AssertSqlSafe(sql)), params)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected())
                }
                TxState::Finished => Err(Error::Unsupported(
                    "the transaction has already finished".into(),
                )),
            }
        }
    }
}

/// Runs SQL text that may hold several `;`-separated statements, without parameters
/// (hand-written data migrations). It uses the simple query protocol on PostgreSQL,
/// which a prepared statement cannot do.
pub(crate) async fn execute_script(target: Target<'_>, sql: String) -> Result<u64, Error> {
    count(&target);
    log(&sql);
    match target {
        Target::Pool(pool) => match &pool.kind {
            #[cfg(feature = "postgres")]
            PoolKind::Postgres(p) => Ok(sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(p)
                .await?
                .rows_affected()),
            #[cfg(feature = "sqlite")]
            PoolKind::Sqlite(p) => Ok(sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(p)
                .await?
                .rows_affected()),
        },
        Target::Conn(conn) => {
            let mut guard = conn.state.lock().await;
            match &mut *guard {
                #[cfg(feature = "postgres")]
                TxState::Postgres(tx) => Ok(sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()),
                #[cfg(feature = "sqlite")]
                TxState::Sqlite(tx) => Ok(sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()),
                #[cfg(feature = "sqlite")]
                TxState::SqlitePinned(tx) => Ok(sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()),
                TxState::Finished => Err(Error::Unsupported(
                    "the transaction has already finished".into(),
                )),
            }
        }
    }
}

/// Runs SQL without parameters (DDL, savepoints).
pub(crate) async fn execute_raw(target: Target<'_>, sql: &str) -> Result<u64, Error> {
    execute(target, sql.to_owned(), Vec::new()).await
}

/// Streams rows through a bounded channel, so that memory stays flat however large the
/// result: a task reads from the database while the consumer drains.
pub(crate) fn stream(
    target: Target<'_>,
    sql: String,
    params: Vec<Value>,
    kinds: Vec<ValueKind>,
) -> tokio::sync::mpsc::Receiver<Result<Vec<Value>, Error>> {
    use futures_util::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    if let Err(e) = params.iter().try_for_each(check_text) {
        let _ = tx.try_send(Err(e));
        return rx;
    }
    count(&target);
    log(&sql);
    match target {
        Target::Pool(pool) => {
            let kind = pool.kind.clone();
            tokio::spawn(async move {
                match kind {
                    #[cfg(feature = "postgres")]
                    PoolKind::Postgres(p) => {
                        let mut rows = pg::bind(sqlx::query(AssertSqlSafe(sql)), &params).fetch(&p);
                        while let Some(r) = rows.next().await {
                            let item = r.map_err(Error::from).and_then(|r| {
                                let mut v = Vec::with_capacity(kinds.len());
                                pg::decode(&r, &kinds, &mut v).map(|()| v)
                            });
                            if tx.send(item).await.is_err() {
                                break;
                            }
                        }
                    }
                    #[cfg(feature = "sqlite")]
                    PoolKind::Sqlite(p) => {
                        let mut rows =
                            lite::bind(sqlx::query(AssertSqlSafe(sql)), params).fetch(&p);
                        while let Some(r) = rows.next().await {
                            let item = r.map_err(Error::from).and_then(|r| {
                                let mut v = Vec::with_capacity(kinds.len());
                                lite::decode(&r, &kinds, &mut v).map(|()| v)
                            });
                            if tx.send(item).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
        Target::Conn(conn) => {
            let conn = conn.clone();
            tokio::spawn(async move {
                let mut guard = conn.state.lock().await;
                match &mut *guard {
                    #[cfg(feature = "postgres")]
                    TxState::Postgres(t) => {
                        let mut rows =
                            pg::bind(sqlx::query(AssertSqlSafe(sql)), &params).fetch(&mut **t);
                        while let Some(r) = rows.next().await {
                            let item = r.map_err(Error::from).and_then(|r| {
                                let mut v = Vec::with_capacity(kinds.len());
                                pg::decode(&r, &kinds, &mut v).map(|()| v)
                            });
                            if tx.send(item).await.is_err() {
                                break;
                            }
                        }
                    }
                    #[cfg(feature = "sqlite")]
                    TxState::Sqlite(t) => {
                        let mut rows =
                            lite::bind(sqlx::query(AssertSqlSafe(sql)), params).fetch(&mut **t);
                        while let Some(r) = rows.next().await {
                            let item = r.map_err(Error::from).and_then(|r| {
                                let mut v = Vec::with_capacity(kinds.len());
                                lite::decode(&r, &kinds, &mut v).map(|()| v)
                            });
                            if tx.send(item).await.is_err() {
                                break;
                            }
                        }
                    }
                    #[cfg(feature = "sqlite")]
                    TxState::SqlitePinned(t) => {
                        let mut rows =
                            lite::bind(sqlx::query(AssertSqlSafe(sql)), params).fetch(&mut **t);
                        while let Some(r) = rows.next().await {
                            let item = r.map_err(Error::from).and_then(|r| {
                                let mut v = Vec::with_capacity(kinds.len());
                                lite::decode(&r, &kinds, &mut v).map(|()| v)
                            });
                            if tx.send(item).await.is_err() {
                                break;
                            }
                        }
                    }
                    TxState::Finished => {
                        let _ = tx
                            .send(Err(Error::Unsupported(
                                "the transaction has already finished".into(),
                            )))
                            .await;
                    }
                }
            });
        }
    }
    rx
}
