//! SQLite's table rebuild keeps what the snapshot does not describe, and its foreign-key
//! check blames only what the migration broke.

use rustango_core::{Value, ValueKind};
use rustango_migrate::{
    CheckState, Error, Migration, MigrationSet, Operation, Runner, SchemaSnapshot, Target,
    autodetect,
};
use rustango_orm::{Pool, raw};

mod models {
    use rustango_macros::Model;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "posts")]
    pub struct Post {
        pub id: Auto<i64>,
        pub title: String,
        pub author: ForeignKey<Author>,
    }
}

struct Db {
    pool: Pool,
    path: std::path::PathBuf,
}

impl Db {
    async fn new() -> Db {
        let path =
            std::env::temp_dir().join(format!("rustango-rebuild-{}.db", uuid::Uuid::new_v4()));
        let pool = Pool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        Db { pool, path }
    }

    async fn exec(&self, sql: &str) {
        raw::execute_script(&self.pool, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn names(&self, kind: &str) -> Vec<String> {
        raw::fetch(
            &self.pool,
            "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name",
            vec![Value::String(kind.into())],
            &[ValueKind::String],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| match &r[0] {
            Value::String(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
    }

    async fn count(&self, sql: &str) -> i64 {
        match raw::fetch(&self.pool, sql, vec![], &[ValueKind::I64])
            .await
            .unwrap()[0][0]
        {
            Value::I64(n) => n,
            ref other => panic!("{other:?}"),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

fn initial() -> Migration {
    let snapshot = SchemaSnapshot::from_models([models::Author::SCHEMA, models::Post::SCHEMA]);
    let ops = autodetect(&SchemaSnapshot::default(), &snapshot)
        .unwrap()
        .operations;
    Migration::new("0001_initial", ops, snapshot)
}

fn run_sql(sql: &str) -> Operation {
    Operation::RunSql {
        sql: sql.into(),
        reverse_sql: Some("SELECT 1".into()),
    }
}

/// A migration that rebuilds `posts` (adding a check constraint).
fn rebuild_posts(name: &str, snapshot: &SchemaSnapshot) -> Migration {
    Migration::new(
        name,
        vec![Operation::AddCheckConstraint {
            table: "posts".into(),
            check: CheckState {
                name: "title_not_empty".into(),
                expr: "title <> ''".into(),
            },
        }],
        snapshot.clone(),
    )
}

async fn migrate(pool: &Pool, migrations: Vec<Migration>) -> Result<(), Error> {
    let set = MigrationSet::from_migrations(migrations)?;
    Runner::new(pool, &set)
        .migrate(&Target::Latest)
        .await
        .map(drop)
}

#[tokio::test]
async fn a_rebuild_keeps_user_indexes_triggers_views_and_the_key_counter() {
    let db = Db::new().await;
    let first = initial();
    let snapshot = first.snapshot.clone();
    let objects = Migration::new(
        "0002_objects",
        vec![
            run_sql("CREATE INDEX my_title_idx ON posts (title)"),
            run_sql("CREATE VIEW titled AS SELECT id, title FROM posts"),
            run_sql(
                "CREATE TABLE audit (post_id INTEGER); \
                 CREATE TRIGGER posts_audit AFTER INSERT ON posts \
                 BEGIN INSERT INTO audit VALUES (new.id); END",
            ),
        ],
        snapshot.clone(),
    );
    migrate(&db.pool, vec![first.clone(), objects.clone()])
        .await
        .unwrap();
    db.exec("INSERT INTO authors (name) VALUES ('Ann')").await;
    db.exec("INSERT INTO posts (title, author_id) VALUES ('a', 1), ('b', 1), ('c', 1)")
        .await;
    db.exec("DELETE FROM posts WHERE id = 3").await;

    migrate(
        &db.pool,
        vec![first, objects, rebuild_posts("0003_check", &snapshot)],
    )
    .await
    .unwrap();
    assert_eq!(db.names("index").await, ["my_title_idx"]);
    assert_eq!(db.names("view").await, ["titled"]);
    assert_eq!(db.names("trigger").await, ["posts_audit"]);
    assert_eq!(db.count("SELECT COUNT(*) FROM titled").await, 2);
    // The trigger still fires, and the key counter did not go back to 2.
    db.exec("INSERT INTO posts (title, author_id) VALUES ('d', 1)")
        .await;
    assert_eq!(db.count("SELECT MAX(id) FROM posts").await, 4);
    assert_eq!(db.count("SELECT COUNT(*) FROM audit").await, 4);
    // And the new check holds.
    assert!(
        raw::execute(
            &db.pool,
            "INSERT INTO posts (title, author_id) VALUES ('', 1)",
            vec![]
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn only_references_a_migration_breaks_fail_its_commit() {
    let db = Db::new().await;
    let first = initial();
    let snapshot = first.snapshot.clone();
    migrate(&db.pool, vec![first.clone()]).await.unwrap();
    // An orphan row from before (written with foreign keys off by someone else).
    db.exec("PRAGMA foreign_keys = OFF; INSERT INTO posts (title, author_id) VALUES ('x', 99); PRAGMA foreign_keys = ON")
        .await;
    // It does not block an unrelated migration, nor a rebuild of its own table.
    migrate(
        &db.pool,
        vec![first.clone(), rebuild_posts("0002_check", &snapshot)],
    )
    .await
    .unwrap();
    // A migration that breaks a reference itself is rolled back, and named.
    let breaking = Migration::new(
        "0003_breaks",
        vec![run_sql("DELETE FROM authors")],
        snapshot.clone(),
    );
    db.exec("INSERT INTO authors (name) VALUES ('Ann')").await;
    db.exec("INSERT INTO posts (title, author_id) VALUES ('y', 1)")
        .await;
    let err = migrate(
        &db.pool,
        vec![first, rebuild_posts("0002_check", &snapshot), breaking],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::CommitFailed { migration, .. } if migration == "0003_breaks"),
        "{err}"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM authors").await,
        1,
        "rolled back"
    );
}

#[tokio::test]
async fn an_operation_that_does_not_fit_names_its_migration() {
    let db = Db::new().await;
    let first = initial();
    let bad = Migration::new(
        "0002_bad",
        vec![Operation::RenameColumn {
            table: "posts".into(),
            from: "nope".into(),
            to: "other".into(),
        }],
        first.snapshot.clone(),
    );
    let err = migrate(&db.pool, vec![first, bad]).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("0002_bad") && text.contains("nope"), "{text}");
    assert!(matches!(err, Error::InMigration { .. }));
}
