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
//! The PostgreSQL half needs `DATABASE_URL` and fails, never skips, without it.

// Each test crate that says `mod support;` uses a different part of this module.
#![allow(dead_code)]

use rustango_orm::Pool;

/// What a test body returns: any error fails the test, with its `Debug` form.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A fresh database and how to remove it.
pub struct TestDb {
    /// The pool on it.
    pub pool: Pool,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    #[cfg(feature = "__test-pg")]
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A new SQLite database in a temporary file.
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join("rustango-tests");
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let path = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = Pool::connect(&url)
            .await
            .expect("open SQLite test database");
        TestDb {
            pool,
            cleanup: Cleanup::File(path),
        }
    }

    /// A new PostgreSQL database, created through `DATABASE_URL` (which must be set).
    #[cfg(feature = "__test-pg")]
    pub async fn postgres() -> TestDb {
        let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "DATABASE_URL is not set: the PostgreSQL suite needs a server; run it with \
                 `cargo xtask test-pg`"
            )
        });
        assert!(
            base.starts_with("postgres"),
            "DATABASE_URL must be a postgres:// URL for the PostgreSQL suite, got {base}"
        );
        let admin = Pool::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at DATABASE_URL: {e}"));
        let name = format!("rustango_t_{}", uuid::Uuid::new_v4().simple());
        rustango_orm::raw::execute(&admin, &format!("CREATE DATABASE \"{name}\""), vec![])
            .await
            .expect("create test database");
        admin.close().await;
        let pool = Pool::connect(&database_url(&base, &name))
            .await
            .expect("connect to test database");
        TestDb {
            pool,
            cleanup: Cleanup::Postgres {
                admin_url: base,
                name,
            },
        }
    }

    /// Closes the pool and removes the database.
    pub async fn cleanup(self) {
        self.pool.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            #[cfg(feature = "__test-pg")]
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(admin) = Pool::connect(&admin_url).await {
                    let _ = rustango_orm::raw::execute(
                        &admin,
                        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                        vec![],
                    )
                    .await;
                    admin.close().await;
                }
            }
        }
    }
}

/// `base` (a server URL with or without a database and a query string) pointing at the
/// database `name`.
#[cfg(feature = "__test-pg")]
fn database_url(base: &str, name: &str) -> String {
    let (without_query, query) = match base.find('?') {
        Some(i) => base.split_at(i),
        None => (base, ""),
    };
    // `postgres://user@host:port/db`: the path starts at the first `/` after `//`.
    let authority_start = without_query.find("//").map_or(0, |i| i + 2);
    let server = match without_query[authority_start..].find('/') {
        Some(i) => &without_query[..authority_start + i],
        None => without_query,
    };
    format!("{server}/{name}{query}")
}

/// Runs `body` on `db`'s pool, removes the database, then fails the test if the body
/// returned an error or panicked.
pub async fn run<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Pool) -> Fut,
    Fut: std::future::Future<Output = TestResult>,
{
    use futures_util::FutureExt;
    // In place rather than in a task of its own: the runner's futures are not `Send`.
    let outcome = std::panic::AssertUnwindSafe(body(db.pool.clone()))
        .catch_unwind()
        .await;
    db.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("test failed with error: {e} ({e:?})"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Expands `async fn name(pool) { … }` into the tests `name::sqlite` and (with the
/// `__test-pg` feature) `name::postgres`, each on a fresh database; the body returns a
/// [`TestResult`].
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($pool:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::support::TestDb::sqlite().await;
                $crate::support::run(db, |$pool| async move { $body }).await;
            }

            $(#[$meta])*
            #[cfg(feature = "__test-pg")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::support::TestDb::postgres().await;
                $crate::support::run(db, |$pool| async move { $body }).await;
            }
        }
    };
}
