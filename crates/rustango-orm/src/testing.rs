//! Throwaway databases for tests (feature `testing`), Django's test database idea:
//! every test gets a fresh, empty database and drops it afterwards.
//!
//! - [`TestDb::sqlite`]: a new SQLite file in the temp directory.
//! - [`TestDb::postgres`]: a new database on the server named by `DATABASE_URL`
//!   (which must be a `postgres://` URL: the suites run under `cargo xtask test-pg`,
//!   which finds or starts a server). It panics with that advice when there is none:
//!   a PostgreSQL test never passes by skipping.
//!
//! [`backend_test!`](crate::backend_test) writes one test body for every backend.

use crate::Pool;

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The pool on it.
    pub pool: Pool,
    url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// The database's URL, for a second pool or a process of its own.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A fresh SQLite file.
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join("rustango-tests");
        std::fs::create_dir_all(&dir).expect("create the temp dir for test databases");
        let path = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = Pool::connect(&url)
            .await
            .expect("open an SQLite test database");
        TestDb {
            pool,
            url,
            cleanup: Cleanup::File(path),
        }
    }

    /// A fresh database on the PostgreSQL server of `DATABASE_URL`.
    ///
    /// # Panics
    /// When `DATABASE_URL` is unset, not a PostgreSQL URL, or the server refuses.
    pub async fn postgres() -> TestDb {
        let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "DATABASE_URL is not set: the PostgreSQL suite needs a server; run it with `cargo xtask test-pg`"
            )
        });
        assert!(
            base.starts_with("postgres"),
            "DATABASE_URL must be a postgres:// URL for the PostgreSQL suite"
        );
        let admin = Pool::connect(&base)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at DATABASE_URL: {e}"));
        let name = format!("rustango_t_{}", uuid::Uuid::new_v4().simple());
        crate::raw::execute(&admin, &format!("CREATE DATABASE \"{name}\""), vec![])
            .await
            .expect("create a test database");
        admin.close().await;
        let url = with_database(&base, &name);
        let pool = Pool::connect(&url)
            .await
            .expect("connect to the test database");
        TestDb {
            pool,
            url,
            cleanup: Cleanup::Postgres {
                admin_url: base,
                name,
            },
        }
    }

    /// Closes the pool and deletes the database.
    pub async fn cleanup(self) {
        self.pool.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(admin) = Pool::connect(&admin_url).await {
                    let _ = crate::raw::execute(
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

/// `base` with its database name replaced by `name` (query string kept).
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = match base.find('?') {
        Some(q) => base.split_at(q),
        None => (base, ""),
    };
    // After the authority (`postgres://user@host:port`), the path is the database.
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    match url[authority_start..].find('/') {
        Some(slash) => format!("{}/{name}{query}", &url[..authority_start + slash]),
        None => format!("{url}/{name}{query}"),
    }
}

/// What a test body may return: nothing (it asserts), or a `Result` whose `Err` fails
/// the test with the error.
pub trait Outcome {
    /// Panics, failing the test, when the body failed.
    fn check(self);
}

impl Outcome for () {
    fn check(self) {}
}

impl<E: std::fmt::Display + std::fmt::Debug> Outcome for Result<(), E> {
    fn check(self) {
        if let Err(e) = self {
            panic!("test failed with error: {e} ({e:?})");
        }
    }
}

/// Runs `body` on `db`'s pool, then drops the database, also when the body panics or
/// fails (an `Err` fails the test with the error).
pub async fn run<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Pool) -> Fut,
    Fut: std::future::Future,
    Fut::Output: Outcome,
{
    use futures_util::FutureExt as _;
    let pool = db.pool.clone();
    let outcome = std::panic::AssertUnwindSafe(body(pool))
        .catch_unwind()
        .await;
    db.cleanup().await;
    match outcome {
        Ok(result) => result.check(),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// One test body on every backend: a module named after the test with an `sqlite`
/// test and, when the calling crate's `__test-pg` feature is on, a `postgres` test,
/// each on a fresh [`TestDb`]. The body returns `Result<(), rustango_orm::Error>`, or
/// the type written after `->` (`()`, another `Result`: see [`Outcome`]).
///
/// ```ignore
/// rustango_orm::backend_test! {
///     async fn saves_a_user(pool) {
///         create_tables(&pool, &[User::schema()]).await?;
///         Ok(())
///     }
/// }
/// ```
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($pool:ident) $body:block) => {
        $crate::backend_test! {
            $(#[$meta])*
            async fn $name($pool) -> ::std::result::Result<(), $crate::Error> $body
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($pool:ident) -> $ret:ty $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::sqlite().await;
                $crate::testing::run(db, |$pool| async move {
                    let outcome: $ret = async move { $body }.await;
                    outcome
                })
                .await;
            }

            $(#[$meta])*
            #[cfg(feature = "__test-pg")]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::testing::TestDb::postgres().await;
                $crate::testing::run(db, |$pool| async move {
                    let outcome: $ret = async move { $body }.await;
                    outcome
                })
                .await;
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
    }
}
