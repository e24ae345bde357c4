//! Fresh databases for the round-trip tests, and `backend_test!`, which runs one test body
//! on SQLite and (with the `__test-pg` feature) on PostgreSQL.
//!
//! PostgreSQL comes from `DATABASE_URL`; without it the PostgreSQL tests panic, they
//! never pass by skipping. Each test gets its own database (a new SQLite file, a new
//! PostgreSQL database) and drops it afterwards, whether the body passed or panicked.

use std::path::{Path, PathBuf};

use rustango_core::{Value, ValueKind};
use rustango_orm::{DialectKind, Pool, raw};

/// What a test body gets: a pool on its own database, and that database's URL (to open
/// a second, independent pool on it).
#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub url: String,
}

impl Db {
    pub fn is_postgres(&self) -> bool {
        self.pool.backend() == DialectKind::Postgres
    }

    /// A second pool on the same database (its own connections).
    pub async fn another_pool(&self) -> Pool {
        Pool::connect(&self.url)
            .await
            .expect("open a second pool on the test database")
    }
}

/// A throwaway database (a new SQLite file, a new PostgreSQL database), dropped after
/// the test: `rustango_orm::testing`'s.
pub use rustango_orm::testing::TestDb;

/// Runs `body` with the database's pool and URL, then drops the database, also when the
/// body panics.
pub async fn run<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let handle = Db {
        pool: db.pool.clone(),
        url: db.url().to_owned(),
    };
    rustango_orm::testing::run(db, |_| body(handle)).await;
}

/// One test body, every backend: expands into `name::sqlite` and, with `__test-pg`,
/// `name::postgres`.
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::db::TestDb::sqlite().await;
                $crate::db::run(db, |$db| async move { $body }).await;
            }

            $(#[$meta])*
            #[cfg(feature = "__test-pg")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::db::TestDb::postgres().await;
                $crate::db::run(db, |$db| async move { $body }).await;
            }
        }
    };
}

/// A migrations directory of its own, removed when dropped.
pub struct MigrationsDir(PathBuf);

impl MigrationsDir {
    pub fn new() -> MigrationsDir {
        let dir = std::env::temp_dir()
            .join("rustango-tests")
            .join(format!("migrations-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create migrations dir");
        MigrationsDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for MigrationsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a statement, panicking with the SQL on error.
pub async fn exec(pool: &Pool, sql: &str) {
    raw::execute(pool, sql, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Runs a statement that must fail; returns the error.
pub async fn exec_err(pool: &Pool, sql: &str) -> rustango_orm::Error {
    match raw::execute(pool, sql, Vec::new()).await {
        Ok(_) => panic!("expected `{sql}` to fail"),
        Err(e) => e,
    }
}

/// Runs a query and renders every value as text (`NULL` for NULL). `kinds` has one
/// letter per column: `i` for an integer (read as `i64`: cast narrower columns in the
/// SQL), `s` for text.
pub async fn rows(pool: &Pool, sql: &str, kinds: &str) -> Vec<Vec<String>> {
    let kinds: Vec<ValueKind> = kinds
        .chars()
        .map(|k| match k {
            'i' => ValueKind::I64,
            's' => ValueKind::String,
            other => panic!("unknown kind letter {other}"),
        })
        .collect();
    raw::fetch(pool, sql, Vec::new(), &kinds)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r.iter().map(render).collect())
        .collect()
}

fn render(v: &Value) -> String {
    match v {
        Value::Null(_) => "NULL".to_owned(),
        Value::I64(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// Expected rows, written as string slices.
pub fn table(expected: &[&[&str]]) -> Vec<Vec<String>> {
    expected
        .iter()
        .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

/// One column of a query, as text.
pub async fn column(pool: &Pool, sql: &str) -> Vec<String> {
    rows(pool, sql, "s")
        .await
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect()
}

/// The user tables (everything but SQLite's own and the migrations record), sorted.
pub async fn user_tables(pool: &Pool) -> Vec<String> {
    let sql = match pool.backend() {
        DialectKind::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> 'rustango_migrations' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'rustango_migrations' ORDER BY name"
        }
    };
    column(pool, sql).await
}

/// Every table of the database, `rustango_migrations` included.
pub async fn all_tables(pool: &Pool) -> Vec<String> {
    let sql = match pool.backend() {
        DialectKind::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
    };
    column(pool, sql).await
}

/// The columns of `table`, in order.
pub async fn columns(pool: &Pool, table: &str) -> Vec<String> {
    let sql = match pool.backend() {
        DialectKind::Postgres => format!(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' \
             ORDER BY ordinal_position"
        ),
        _ => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
    };
    column(pool, &sql).await
}

/// The index names of `table` (not the ones backing a primary key or a unique
/// constraint), sorted.
pub async fn indexes(pool: &Pool, table: &str) -> Vec<String> {
    let sql = match pool.backend() {
        DialectKind::Postgres => format!(
            "SELECT i.relname::text FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             WHERE t.relname = '{table}' AND NOT x.indisprimary \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
             ORDER BY 1"
        ),
        _ => format!(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' \
             AND sql IS NOT NULL ORDER BY name"
        ),
    };
    column(pool, &sql).await
}

/// The applied migrations, as recorded, in name order (with duplicates, should there
/// be any).
pub async fn applied(pool: &Pool) -> Vec<String> {
    let exists = !column(
        pool,
        &match pool.backend() {
            DialectKind::Postgres => "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'rustango_migrations'"
                .to_owned(),
            _ => "SELECT name FROM sqlite_master WHERE name = 'rustango_migrations'".to_owned(),
        },
    )
    .await
    .is_empty();
    if !exists {
        return Vec::new();
    }
    column(pool, "SELECT name FROM rustango_migrations ORDER BY name").await
}

/// A description of the whole schema (tables, columns with type, nullability and
/// default, indexes, constraints), sorted, for comparing two databases or one database
/// at two moments.
pub async fn schema_listing(pool: &Pool) -> Vec<String> {
    let mut out = Vec::new();
    match pool.backend() {
        DialectKind::Postgres => {
            for r in rows(
                pool,
                "SELECT table_name::text, column_name::text, data_type::text, \
                 is_nullable::text, COALESCE(column_default::text, ''), \
                 COALESCE(character_maximum_length, 0)::bigint, is_identity::text \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 AND table_name <> 'rustango_migrations' ORDER BY table_name, ordinal_position",
                "sssssis",
            )
            .await
            {
                out.push(format!("column {}", r.join(" | ")));
            }
            for r in rows(
                pool,
                "SELECT indexname::text, indexdef FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename <> 'rustango_migrations' \
                 ORDER BY 1",
                "ss",
            )
            .await
            {
                out.push(format!("index {}", r.join(" | ")));
            }
            for r in rows(
                pool,
                "SELECT c.conrelid::regclass::text, c.conname::text, \
                 pg_get_constraintdef(c.oid) FROM pg_constraint c \
                 JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE n.nspname = current_schema() ORDER BY 1, 2",
                "sss",
            )
            .await
            {
                out.push(format!("constraint {}", r.join(" | ")));
            }
        }
        _ => {
            for r in rows(
                pool,
                "SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> 'rustango_migrations' \
                 ORDER BY type, name",
                "ssss",
            )
            .await
            {
                out.push(r.join(" | "));
            }
            for t in user_tables(pool).await {
                for r in rows(
                    pool,
                    &format!(
                        "SELECT name, type, \"notnull\", COALESCE(dflt_value, ''), pk \
                         FROM pragma_table_info('{t}') ORDER BY cid"
                    ),
                    "ssisi",
                )
                .await
                {
                    out.push(format!("column {t} | {}", r.join(" | ")));
                }
            }
        }
    }
    out
}
