//! The connection pool over PostgreSQL and SQLite, transaction handles and the
//! [`Executor`] trait that lets every `_on` method take either.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt;
use rustango_query::{Dialect, DialectKind};

use crate::Error;

#[derive(Debug, Clone)]
pub(crate) enum PoolKind {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

/// A pool of database connections: PostgreSQL or SQLite, chosen by URL.
///
/// Cloning is cheap and shares the pool. The pool counts the statements it runs
/// ([`Pool::query_count`]) so tests can prove that a page makes a constant number of
/// queries.
#[derive(Debug, Clone)]
pub struct Pool {
    pub(crate) kind: PoolKind,
    pub(crate) queries: Arc<AtomicU64>,
}

/// A reading of a pool's connections, from [`Pool::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Open connections waiting for a query.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// Connection settings for [`Pool::connect_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolOptions {
    /// The most connections open at once (default: 10 for PostgreSQL, 8 for an SQLite
    /// file; an in-memory SQLite database always has exactly one).
    pub max_connections: Option<u32>,
    /// How long a query waits for a free connection before `Error::Timeout`.
    pub acquire_timeout: std::time::Duration,
    /// How long SQLite waits for another writer's lock before `Error::Timeout`.
    pub busy_timeout: std::time::Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: None,
            acquire_timeout: std::time::Duration::from_secs(10),
            busy_timeout: std::time::Duration::from_secs(10),
        }
    }
}

impl PoolOptions {
    /// Sets [`max_connections`](Self::max_connections).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }
    /// Sets [`acquire_timeout`](Self::acquire_timeout).
    pub fn acquire_timeout(mut self, d: std::time::Duration) -> Self {
        self.acquire_timeout = d;
        self
    }
    /// Sets [`busy_timeout`](Self::busy_timeout).
    pub fn busy_timeout(mut self, d: std::time::Duration) -> Self {
        self.busy_timeout = d;
        self
    }
}

impl Pool {
    /// Opens a pool from a URL: `postgres://user@host/db`, `sqlite://file.db?mode=rwc`
    /// or `sqlite::memory:` (one shared connection, so every query sees one database).
    pub async fn connect(url: &str) -> Result<Pool, Error> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    /// Opens a pool from a URL with explicit [`PoolOptions`].
    pub async fn connect_with(url: &str, options: PoolOptions) -> Result<Pool, Error> {
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(options.max_connections.unwrap_or(10))
                    .acquire_timeout(options.acquire_timeout)
                    .connect(url)
                    .await?;
                PoolKind::Postgres(pool)
            }
            #[cfg(not(feature = "postgres"))]
            return Err(Error::BadUrl(
                "PostgreSQL support is off: enable the `postgres` feature".into(),
            ));
        } else if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                use std::str::FromStr;
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::BadUrl(e.to_string()))?
                    .foreign_keys(true)
                    // Case-insensitive lookups use REGEXP, which folds all of Unicode.
                    .with_regexp()
                    .busy_timeout(options.busy_timeout);
                let memory = url.contains(":memory:") || url.contains("mode=memory");
                let mut po =
                    sqlx::sqlite::SqlitePoolOptions::new().acquire_timeout(options.acquire_timeout);
                if memory {
                    // Each connection to `:memory:` is its own database: keep exactly one.
                    po = po
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None);
                } else {
                    po = po.max_connections(options.max_connections.unwrap_or(8));
                }
                let opts = if memory {
                    opts
                } else {
                    opts.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                };
                PoolKind::Sqlite(po.connect_with(opts).await?)
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(Error::BadUrl(
                "SQLite support is off: enable the `sqlite` feature".into(),
            ));
        } else {
            // Only a well-formed scheme is echoed: the rest of the text may hold a
            // password (`host=db password=…`, a key/value connection string).
            let scheme = url.split_once(':').map(|(scheme, _)| scheme).filter(|s| {
                s.len() <= 32
                    && s.starts_with(|c: char| c.is_ascii_alphabetic())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            });
            return Err(Error::BadUrl(match scheme {
                Some(scheme) => {
                    format!("unsupported scheme `{scheme}`: use postgres://… or sqlite:…")
                }
                None => "not a database URL: use postgres://… or sqlite:…".to_owned(),
            }));
        };
        Ok(Pool {
            kind,
            queries: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The SQL dialect of this pool's backend.
    pub fn dialect(&self) -> &'static dyn Dialect {
        match &self.kind {
            #[cfg(feature = "postgres")]
            PoolKind::Postgres(_) => &rustango_query::Postgres,
            #[cfg(feature = "sqlite")]
            PoolKind::Sqlite(_) => &rustango_query::Sqlite,
        }
    }

    /// Which backend this pool talks to.
    pub fn backend(&self) -> DialectKind {
        self.dialect().kind()
    }

    /// How many statements this pool (and transactions begun from it) has run.
    pub fn query_count(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// How many connections are open, idle and allowed right now (for pool gauges).
    pub fn stats(&self) -> PoolStats {
        match &self.kind {
            #[cfg(feature = "postgres")]
            PoolKind::Postgres(p) => PoolStats {
                open: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            },
            #[cfg(feature = "sqlite")]
            PoolKind::Sqlite(p) => PoolStats {
                open: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            },
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.kind {
            #[cfg(feature = "postgres")]
            PoolKind::Postgres(p) => p.close().await,
            #[cfg(feature = "sqlite")]
            PoolKind::Sqlite(p) => p.close().await,
        }
    }

    /// The underlying sqlx PostgreSQL pool, for hand-written queries.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&sqlx::PgPool> {
        match &self.kind {
            PoolKind::Postgres(p) => Some(p),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The underlying sqlx SQLite pool, for hand-written queries.
    #[cfg(feature = "sqlite")]
    pub fn as_sqlite(&self) -> Option<&sqlx::SqlitePool> {
        match &self.kind {
            PoolKind::Sqlite(p) => Some(p),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }
}

pub(crate) enum TxState {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    /// A connection of its own, in a transaction begun by hand with foreign keys off
    /// (see [`schema_transaction`]).
    #[cfg(feature = "sqlite")]
    SqlitePinned(PinnedSqlite),
    Finished,
}

/// A connection inside a transaction. Pass `&mut *conn` (or `&*conn`) to any `_on`
/// method to run it in the transaction; pass it to [`transaction`] to nest with a
/// savepoint.
#[derive(Clone)]
pub struct Conn {
    pub(crate) state: Arc<tokio::sync::Mutex<TxState>>,
    pub(crate) dialect: &'static dyn Dialect,
    pub(crate) queries: Arc<AtomicU64>,
    depth: u32,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("depth", &self.depth).finish()
    }
}

/// The handle a [`transaction`] closure receives; `&mut *tx` is the [`Conn`].
#[derive(Debug)]
pub struct Tx(Conn);

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

/// Where a statement runs: a pool or a transaction.
#[derive(Debug, Clone, Copy)]
pub enum Target<'e> {
    /// A pooled connection per statement.
    Pool(&'e Pool),
    /// The transaction's connection.
    Conn(&'e Conn),
}

impl Target<'_> {
    /// The SQL dialect of the connection's backend (for hand-written SQL).
    pub fn dialect(&self) -> &'static dyn Dialect {
        match self {
            Target::Pool(p) => p.dialect(),
            Target::Conn(c) => c.dialect,
        }
    }
}

/// Something statements can run on: `&Pool`, `&mut Conn` or `&Conn`.
pub trait Executor<'e>: Send {
    /// Where statements go.
    fn target(self) -> Target<'e>;
}

impl<'e> Executor<'e> for &'e Pool {
    fn target(self) -> Target<'e> {
        Target::Pool(self)
    }
}

impl<'e> Executor<'e> for &'e Conn {
    fn target(self) -> Target<'e> {
        Target::Conn(self)
    }
}

impl<'e> Executor<'e> for &'e mut Conn {
    fn target(self) -> Target<'e> {
        Target::Conn(self)
    }
}

impl<'e> Executor<'e> for Target<'e> {
    fn target(self) -> Target<'e> {
        self
    }
}

/// Runs `f` in a transaction: commits when it returns `Ok`, rolls back when it returns
/// `Err` or panics (the panic then continues). Called with a [`Conn`], it nests with a
/// savepoint that is released or rolled back the same way.
///
/// ```no_run
/// # async fn demo(pool: rustango_orm::Pool) -> Result<(), rustango_orm::Error> {
/// rustango_orm::transaction(&pool, |conn| async move {
///     // p1.save_on(&mut *conn).await?;
///     let _ = conn;
///     Ok(())
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn transaction<'e, T, F, Fut>(exec: impl Executor<'e>, f: F) -> Result<T, Error>
where
    F: FnOnce(Tx) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let (conn, savepoint) = match exec.target() {
        Target::Pool(pool) => {
            let state = match &pool.kind {
                #[cfg(feature = "postgres")]
                PoolKind::Postgres(p) => TxState::Postgres(p.begin().await?),
                #[cfg(feature = "sqlite")]
                PoolKind::Sqlite(p) => TxState::Sqlite(p.begin().await?),
            };
            pool.queries.fetch_add(1, Ordering::Relaxed);
            let conn = Conn {
                state: Arc::new(tokio::sync::Mutex::new(state)),
                dialect: pool.dialect(),
                queries: pool.queries.clone(),
                depth: 0,
            };
            (conn, None)
        }
        Target::Conn(outer) => {
            let depth = outer.depth + 1;
            let name = format!("rustango_sp_{depth}");
            crate::exec::execute_raw(
                Target::Conn(outer),
                &rustango_query::savepoint(outer.dialect, &name),
            )
            .await?;
            let conn = Conn {
                state: outer.state.clone(),
                dialect: outer.dialect,
                queries: outer.queries.clone(),
                depth,
            };
            (conn, Some(name))
        }
    };
    let handle = conn.clone();
    let result = AssertUnwindSafe(f(Tx(conn))).catch_unwind().await;
    match (result, savepoint) {
        (Ok(Ok(v)), None) => {
            finish(&handle, true).await?;
            Ok(v)
        }
        (Ok(Ok(v)), Some(sp)) => {
            crate::exec::execute_raw(
                Target::Conn(&handle),
                &rustango_query::release_savepoint(handle.dialect, &sp),
            )
            .await?;
            Ok(v)
        }
        (Ok(Err(e)), None) => {
            let _ = finish(&handle, false).await;
            Err(e)
        }
        (Ok(Err(e)), Some(sp)) => {
            crate::exec::execute_raw(
                Target::Conn(&handle),
                &rustango_query::rollback_to_savepoint(handle.dialect, &sp),
            )
            .await?;
            Err(e)
        }
        (Err(panic), sp) => {
            match sp {
                None => {
                    let _ = finish(&handle, false).await;
                }
                Some(sp) => {
                    let _ = crate::exec::execute_raw(
                        Target::Conn(&handle),
                        &rustango_query::rollback_to_savepoint(handle.dialect, &sp),
                    )
                    .await;
                }
            }
            std::panic::resume_unwind(panic)
        }
    }
}

async fn finish(conn: &Conn, commit: bool) -> Result<(), Error> {
    let state = std::mem::replace(&mut *conn.state.lock().await, TxState::Finished);
    conn.queries.fetch_add(1, Ordering::Relaxed);
    match state {
        #[cfg(feature = "postgres")]
        TxState::Postgres(tx) => {
            if commit {
                tx.commit().await?
            } else {
                tx.rollback().await?
            }
        }
        #[cfg(feature = "sqlite")]
        TxState::Sqlite(tx) => {
            if commit {
                tx.commit().await?
            } else {
                tx.rollback().await?
            }
        }
        #[cfg(feature = "sqlite")]
        TxState::SqlitePinned(mut pinned) => {
            let mut c = pinned.0.take().expect("a pinned connection is taken once");
            let ended = if commit {
                finish_pinned_commit(&mut c, &pinned.1).await
            } else {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut *c)
                    .await
                    .map(drop)
                    .map_err(Error::from)
            };
            let restored = sqlx::raw_sql("PRAGMA foreign_keys = ON")
                .execute(&mut *c)
                .await
                .map(drop);
            if ended.is_err() || restored.is_err() {
                // Never hand a connection in an unknown state back to the pool.
                c.close_on_drop();
            }
            ended?;
            restored?;
        }
        TxState::Finished => {
            return Err(Error::Unsupported(
                "the transaction has already finished".into(),
            ));
        }
    }
    Ok(())
}

/// The connection of a [`schema_transaction`] on SQLite. Dropped before the transaction
/// finished (the future was cancelled), it closes the connection rather than return one
/// with an open transaction and foreign keys off to the pool.
#[cfg(feature = "sqlite")]
pub(crate) struct PinnedSqlite(
    Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
    /// Foreign-key violations that were there before (only new ones fail the commit).
    std::collections::HashSet<FkViolation>,
);

/// One row of `PRAGMA foreign_key_check`: the table, the row, the referenced table.
#[cfg(feature = "sqlite")]
type FkViolation = (String, Option<i64>, String);

#[cfg(feature = "sqlite")]
async fn foreign_key_violations(c: &mut sqlx::SqliteConnection) -> Result<Vec<FkViolation>, Error> {
    use sqlx::Row as _;
    Ok(sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(c)
        .await?
        .iter()
        .map(|row| {
            (
                row.try_get(0).unwrap_or_default(),
                row.try_get(1).ok().flatten(),
                row.try_get(2).unwrap_or_default(),
            )
        })
        .collect())
}

#[cfg(feature = "sqlite")]
impl Drop for PinnedSqlite {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            c.close_on_drop();
        }
    }
}

#[cfg(feature = "sqlite")]
impl std::ops::Deref for PinnedSqlite {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &sqlx::SqliteConnection {
        self.0
            .as_ref()
            .expect("pinned connection present until finished")
    }
}

#[cfg(feature = "sqlite")]
impl std::ops::DerefMut for PinnedSqlite {
    fn deref_mut(&mut self) -> &mut sqlx::SqliteConnection {
        self.0
            .as_mut()
            .expect("pinned connection present until finished")
    }
}

/// Commits a pinned SQLite transaction after checking the foreign keys (they were not
/// enforced while it ran); rolls back and reports the first broken reference that was
/// not already broken before it began.
#[cfg(feature = "sqlite")]
async fn finish_pinned_commit(
    c: &mut sqlx::pool::PoolConnection<sqlx::Sqlite>,
    before: &std::collections::HashSet<FkViolation>,
) -> Result<(), Error> {
    let broken = foreign_key_violations(c)
        .await?
        .into_iter()
        .find(|v| !before.contains(v));
    if let Some((table, _, parent)) = broken {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut **c).await;
        let message =
            format!("PRAGMA foreign_key_check: a row of `{table}` points at no row of `{parent}`");
        return Err(Error::ForeignKeyViolation {
            table: Some(table),
            constraint: Some(format!("references {parent}")),
            source: message.into(),
        });
    }
    sqlx::raw_sql("COMMIT").execute(&mut **c).await?;
    Ok(())
}

/// Runs `f` in a transaction meant for schema changes, on one connection of its own.
///
/// On PostgreSQL this is [`transaction`]. On SQLite, foreign-key enforcement is switched
/// off for the connection while `f` runs, so that rebuilding a table (create, copy,
/// drop, rename) does not cascade deletes to the rows that point at it; the foreign
/// keys are checked with `PRAGMA foreign_key_check` before commit, and a reference the
/// transaction broke rolls it back (references broken before it began are left to the
/// application). The transaction is `BEGIN IMMEDIATE`, so a second writer waits
/// (up to the pool's busy timeout) instead of interleaving.
///
/// Nested calls are not supported: call [`transaction`] with the `Conn` for a
/// savepoint.
pub async fn schema_transaction<T, F, Fut>(pool: &Pool, f: F) -> Result<T, Error>
where
    F: FnOnce(Tx) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    match &pool.kind {
        #[cfg(feature = "sqlite")]
        PoolKind::Sqlite(p) => {
            let mut c = p.acquire().await?;
            sqlx::raw_sql("PRAGMA foreign_keys = OFF")
                .execute(&mut *c)
                .await?;
            if let Err(e) = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *c).await {
                let _ = sqlx::raw_sql("PRAGMA foreign_keys = ON")
                    .execute(&mut *c)
                    .await;
                return Err(e.into());
            }
            let before = match foreign_key_violations(&mut c).await {
                Ok(v) => v.into_iter().collect(),
                Err(e) => {
                    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *c).await;
                    let _ = sqlx::raw_sql("PRAGMA foreign_keys = ON")
                        .execute(&mut *c)
                        .await;
                    return Err(e);
                }
            };
            pool.queries.fetch_add(4, Ordering::Relaxed);
            let conn = Conn {
                state: Arc::new(tokio::sync::Mutex::new(TxState::SqlitePinned(
                    PinnedSqlite(Some(c), before),
                ))),
                dialect: pool.dialect(),
                queries: pool.queries.clone(),
                depth: 0,
            };
            let handle = conn.clone();
            let result = AssertUnwindSafe(f(Tx(conn))).catch_unwind().await;
            match result {
                Ok(Ok(v)) => {
                    finish(&handle, true).await?;
                    Ok(v)
                }
                Ok(Err(e)) => {
                    let _ = finish(&handle, false).await;
                    Err(e)
                }
                Err(panic) => {
                    let _ = finish(&handle, false).await;
                    std::panic::resume_unwind(panic)
                }
            }
        }
        #[allow(unreachable_patterns)]
        _ => transaction(pool, f).await,
    }
}
