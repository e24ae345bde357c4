//! One test body, every backend: `backend_test!` expands a body into a SQLite test and,
//! with the `__test-pg` feature, a PostgreSQL test, each on a fresh database.

use rustango_orm::{Error, Pool};

pub struct TestDb {
    pub pool: Pool,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    #[allow(dead_code)]
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
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

    #[allow(dead_code)]
    pub async fn postgres() -> TestDb {
        let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "DATABASE_URL is not set: the PostgreSQL suite needs a server; run it with `cargo xtask test-pg`"
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
        let url = match base.rfind('/') {
            Some(i) if base[..i].ends_with(|c: char| c != '/') && !base[..i].ends_with(':') => {
                let (head, tail) = base.split_at(i);
                let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
                format!("{head}/{name}{query}")
            }
            _ => format!("{base}/{name}"),
        };
        let pool = Pool::connect(&url).await.expect("connect to test database");
        TestDb {
            pool,
            cleanup: Cleanup::Postgres {
                admin_url: base,
                name,
            },
        }
    }

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

pub async fn run<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Pool) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    use futures_util::FutureExt;
    let pool = db.pool.clone();
    let outcome = std::panic::AssertUnwindSafe(body(pool))
        .catch_unwind()
        .await;
    db.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("test failed with error: {e} ({e:?})"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

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
