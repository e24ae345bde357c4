//! Migrations end to end, on SQLite and (with `__test-pg`) PostgreSQL: `makemigrations`
//! and `migrate` through eleven model edits with data in the tables, back to zero and
//! forward again (the live schema checked against the models at every step); dry runs;
//! a failing operation rolling its migration back; checksums; irreversible data
//! migrations; two runners migrating one database at once; table renames, a
//! self-referencing table, a renamed column used by a check, hand-written operations,
//! AUTOINCREMENT counters across SQLite rebuilds, statements prepared before a migration.

#[macro_use]
#[path = "roundtrip/db.rs"]
mod db;
#[path = "roundtrip/models.rs"]
mod models;

use std::path::Path;

use db::{
    MigrationsDir, all_tables, applied, columns, exec, exec_err, indexes, rows, schema_listing,
    table, user_tables,
};
use models::*;
use rustango_migrate::{
    ColumnState, Error, ForeignKeyState, Made, MakeOptions, Migration, MigrationSet, Operation,
    Rename, Runner, SchemaSnapshot, Step, TableState, Target, add_data_op, drift, introspect,
    make_empty, make_migrations,
};
use rustango_orm::Pool;

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

fn set(dir: &Path) -> MigrationSet {
    MigrationSet::from_dir(dir).expect("read migrations")
}

async fn migrate(pool: &Pool, dir: &Path, target: Target) -> Vec<Step> {
    let set = set(dir);
    Runner::new(pool, &set)
        .migrate(&target)
        .await
        .unwrap_or_else(|e| panic!("migrate {target:?}: {e}"))
}

async fn try_migrate(pool: &Pool, dir: &Path, target: Target) -> Result<Vec<Step>, Error> {
    let set = set(dir);
    Runner::new(pool, &set).migrate(&target).await
}

fn options(renames: &[&str]) -> MakeOptions {
    MakeOptions {
        renames: renames
            .iter()
            .map(|r| r.parse::<Rename>().expect("rename"))
            .collect(),
        ..MakeOptions::default()
    }
}

fn described(m: &Migration) -> Vec<String> {
    m.forward.iter().map(Operation::describe).collect()
}

/// One model edit: `makemigrations` writes a migration, `migrate` applies exactly it,
/// and `makemigrations` then has nothing left to do.
async fn edit(pool: &Pool, dir: &Path, models: &SchemaSnapshot, renames: &[&str]) -> Migration {
    let made = make_migrations(dir, models, &options(renames))
        .unwrap_or_else(|e| panic!("makemigrations: {e}"));
    let Made::Written { migration, path } = made else {
        panic!("makemigrations found no changes")
    };
    assert!(path.exists());
    let steps = migrate(pool, dir, Target::Latest).await;
    assert_eq!(steps.len(), 1, "one migration applied");
    assert_eq!(steps[0].migration, migration.name);
    assert_no_changes(dir, models);
    assert_no_drift(pool, models).await;
    migration
}

/// The live database is what the models (and so the migrations) say.
async fn assert_no_drift(pool: &Pool, models: &SchemaSnapshot) {
    let live = introspect(pool).await.expect("introspect");
    let found = drift(&live, models, pool.dialect());
    assert!(found.is_empty(), "drift: {found:#?}");
}

fn assert_no_changes(dir: &Path, models: &SchemaSnapshot) {
    assert_eq!(
        make_migrations(dir, models, &MakeOptions::default()).unwrap(),
        Made::NoChanges,
        "the models match the migrations"
    );
}

/// The comments point at posts; they must survive every rebuild of `posts`.
async fn assert_comments(pool: &Pool) {
    assert_eq!(
        rows(
            pool,
            "SELECT id, post_id, text FROM comments ORDER BY id",
            "iis"
        )
        .await,
        table(&[&["1", "1", "Nice"], &["2", "2", "Meh"]])
    );
}

/// Writes a migration file by hand.
fn write_migration(dir: &Path, name: &str, forward: Vec<Operation>) {
    let m = Migration::new(name, forward, SchemaSnapshot::default());
    std::fs::write(dir.join(format!("{name}.json")), m.to_json()).unwrap();
}

fn nullable_column(name: &str) -> ColumnState {
    ColumnState {
        name: name.to_owned(),
        kind: rustango_core::ValueKind::I64,
        nullable: true,
        primary_key: false,
        auto: false,
        max_length: None,
        max_digits: None,
        decimal_places: None,
        unique: false,
        default: None,
        references: None,
    }
}

// ---------------------------------------------------------------------------------
// 1. Eleven model edits, zero, and forward again
// ---------------------------------------------------------------------------------

backend_test! {
    async fn round_trip_through_model_edits(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        let posts = "SELECT id, title, body, views, author_id, status FROM posts ORDER BY id";

        // v1: three tables with foreign keys.
        let m = edit(pool, dir, &v1::models(), &[]).await;
        assert_eq!(m.name, "0001_initial");
        assert_eq!(user_tables(pool).await, ["authors", "comments", "posts"]);
        exec(pool, "INSERT INTO authors (id, name) VALUES (1, 'Ann'), (2, 'Bob')").await;
        exec(
            pool,
            "INSERT INTO posts (id, title, body, views, author_id) VALUES \
             (1, 'Hello', 'First body', 10, 1), (2, 'World', 'Second body', 20, 2)",
        )
        .await;
        exec(pool, "INSERT INTO comments (id, post_id, text) VALUES (1, 1, 'Nice'), (2, 2, 'Meh')").await;

        // v2: new columns: NOT NULL with a default (existing rows get it), a nullable
        // foreign key, and a CURRENT_TIMESTAMP default (a rebuild on SQLite).
        let m = edit(pool, dir, &v2::models(), &[]).await;
        assert_eq!(
            described(&m),
            [
                "add column posts.status",
                "add column posts.editor_id",
                "add column posts.created_at"
            ]
        );
        assert_eq!(
            rows(pool, "SELECT id, status, editor_id FROM posts ORDER BY id", "isi").await,
            table(&[&["1", "draft", "NULL"], &["2", "draft", "NULL"]])
        );
        assert_eq!(
            rows(pool, "SELECT COUNT(*) FROM posts WHERE created_at IS NULL", "i").await,
            table(&[&["0"]])
        );
        exec(
            pool,
            "INSERT INTO posts (id, title, body, views, author_id, status, editor_id) \
             VALUES (3, 'Third', 'Third body', 30, 1, 'published', 2)",
        )
        .await;
        exec_err(pool, "UPDATE posts SET editor_id = 99 WHERE id = 1").await;
        assert_comments(pool).await;

        // v3: type changes (a rebuild on SQLite, ALTER … TYPE … USING on PostgreSQL).
        let m = edit(pool, dir, &v3::models(), &[]).await;
        assert_eq!(
            described(&m)
                .iter()
                .map(|d| d.to_lowercase())
                .collect::<Vec<_>>(),
            [
                "change max_length of posts.body",
                "change type of posts.views to i64"
            ]
        );
        exec(pool, "UPDATE posts SET views = 5000000000 WHERE id = 3").await;
        assert_eq!(
            rows(pool, posts, "issiis").await,
            table(&[
                &["1", "Hello", "First body", "10", "1", "draft"],
                &["2", "World", "Second body", "20", "2", "draft"],
                &["3", "Third", "Third body", "5000000000", "1", "published"],
            ])
        );
        // VARCHAR(2000) holds on both backends.
        let long = "x".repeat(2001);
        exec_err(
            pool,
            &format!("INSERT INTO posts (id, title, body, views, author_id) VALUES (9, 'Long', '{long}', 0, 1)"),
        )
        .await;
        assert_comments(pool).await;

        // v4: nullable; another default.
        let m = edit(pool, dir, &v4::models(), &[]).await;
        assert_eq!(
            described(&m),
            ["make posts.body nullable", "change default of posts.status"]
        );
        exec(
            pool,
            "INSERT INTO posts (id, title, body, views, author_id) VALUES (4, 'Empty', NULL, 0, 2)",
        )
        .await;
        assert_eq!(
            rows(pool, "SELECT id, body, status, editor_id FROM posts ORDER BY id", "issi").await,
            table(&[
                &["1", "First body", "draft", "NULL"],
                &["2", "Second body", "draft", "NULL"],
                &["3", "Third body", "published", "2"],
                &["4", "NULL", "new", "NULL"],
            ])
        );
        assert_comments(pool).await;

        // v5: indexes, one of them unique.
        let m = edit(pool, dir, &v5::models(), &[]).await;
        assert_eq!(
            described(&m),
            [
                "create index ix_posts_title on posts",
                "create index ix_posts_views_author_id on posts",
                "create index uq_posts_author_id_title on posts",
            ]
        );
        assert_eq!(
            indexes(pool, "posts").await,
            ["ix_posts_title", "ix_posts_views_author_id", "uq_posts_author_id_title"]
        );
        exec_err(
            pool,
            "INSERT INTO posts (id, title, body, views, author_id) VALUES (9, 'Hello', '', 0, 1)",
        )
        .await;

        // v6: a check constraint and a unique column (rebuilds on SQLite).
        let m = edit(pool, dir, &v6::models(), &[]).await;
        assert_eq!(
            described(&m),
            ["add unique on authors.name", "add check views_nonneg on posts"]
        );
        exec_err(pool, "UPDATE posts SET views = -1 WHERE id = 1").await;
        exec_err(pool, "INSERT INTO authors (id, name) VALUES (3, 'Ann')").await;
        assert_eq!(
            rows(pool, "SELECT id, name FROM authors ORDER BY id", "is").await,
            table(&[&["1", "Ann"], &["2", "Bob"]])
        );
        assert_eq!(
            rows(pool, posts, "issiis").await,
            table(&[
                &["1", "Hello", "First body", "10", "1", "draft"],
                &["2", "World", "Second body", "20", "2", "draft"],
                &["3", "Third", "Third body", "5000000000", "1", "published"],
                &["4", "Empty", "NULL", "0", "2", "new"],
            ])
        );
        // The rebuilt tables kept their indexes and foreign keys.
        assert_eq!(
            indexes(pool, "posts").await,
            ["ix_posts_title", "ix_posts_views_author_id", "uq_posts_author_id_title"]
        );
        exec_err(pool, "UPDATE posts SET author_id = 99 WHERE id = 1").await;
        assert_comments(pool).await;

        // v7: a new model and a many-to-many junction table.
        let m = edit(pool, dir, &v7::models(), &[]).await;
        assert_eq!(
            described(&m),
            ["create table tags", "create junction table post_tags"]
        );
        exec(pool, "INSERT INTO tags (id, name) VALUES (1, 'rust'), (2, 'sql')").await;
        exec(pool, "INSERT INTO post_tags (post_id, tag_id) VALUES (1, 1), (1, 2), (2, 1)").await;
        exec_err(pool, "INSERT INTO post_tags (post_id, tag_id) VALUES (99, 1)").await;

        // v8: a hand-written rename. `makemigrations --empty`, then an operation added to
        // the file and nothing else (its snapshot still says `name`).
        let path = make_empty(dir, None, "rename_author_name").unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        json["forward"].as_array_mut().unwrap().push(serde_json::json!({
            "op": "RenameColumn", "table": "authors", "from": "name", "to": "full_name"
        }));
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        let steps = migrate(pool, dir, Target::Latest).await;
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].migration, "0008_rename_author_name");
        // The runner replays the operation, so the models (which say `full_name`) match.
        assert_no_changes(dir, &v8::models());
        assert_no_drift(pool, &v8::models()).await;
        assert_eq!(
            rows(pool, "SELECT id, full_name FROM authors ORDER BY id", "is").await,
            table(&[&["1", "Ann"], &["2", "Bob"]])
        );
        // Still unique, under the constraint's new name on PostgreSQL.
        exec_err(pool, "INSERT INTO authors (id, full_name) VALUES (3, 'Bob')").await;
        if db.is_postgres() {
            assert_eq!(
                db::column(
                    pool,
                    "SELECT conname::text FROM pg_constraint WHERE conrelid = 'authors'::regclass \
                     AND contype = 'u'"
                )
                .await,
                ["authors_full_name_key"]
            );
        }

        // v9: renames through makemigrations. Unconfirmed, they are refused with the flag
        // to use and nothing is written; confirmed, they are RenameColumns and the data
        // stays.
        let before = dir.read_dir().unwrap().count();
        let err = make_migrations(dir, &v9::models(), &MakeOptions::default()).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::NotNullWithoutDefault { rename_from: Some(from), .. } if from == "title"
            ) || matches!(&err, Error::PossibleRename { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--rename posts.title=headline"), "{err}");
        assert_eq!(dir.read_dir().unwrap().count(), before, "nothing written");
        let m = edit(
            pool,
            dir,
            &v9::models(),
            &["posts.title=headline", "posts.author_id=writer_id"],
        )
        .await;
        assert_eq!(
            described(&m)[..2],
            [
                "rename column posts.title to headline",
                "rename column posts.author_id to writer_id"
            ]
        );
        assert_eq!(
            rows(pool, "SELECT id, headline, writer_id FROM posts ORDER BY id", "isi").await,
            table(&[
                &["1", "Hello", "1"],
                &["2", "World", "2"],
                &["3", "Third", "1"],
                &["4", "Empty", "2"]
            ])
        );
        assert_eq!(
            indexes(pool, "posts").await,
            ["ix_posts_headline", "ix_posts_views_writer_id", "uq_posts_writer_id_headline"]
        );
        exec_err(pool, "UPDATE posts SET writer_id = 99 WHERE id = 1").await;
        if db.is_postgres() {
            assert_eq!(
                db::column(
                    pool,
                    "SELECT conname::text FROM pg_constraint WHERE conrelid = 'posts'::regclass \
                     AND contype = 'f' ORDER BY 1"
                )
                .await,
                ["fk_posts_editor_id", "fk_posts_writer_id"]
            );
        }

        // v10: a field, a check and a unique constraint dropped.
        let m = edit(pool, dir, &v10::models(), &[]).await;
        let mut ops = described(&m);
        ops.sort();
        assert_eq!(
            ops,
            [
                "drop check views_nonneg on posts",
                "drop column posts.status",
                "drop unique on authors.full_name"
            ]
        );
        assert_eq!(
            columns(pool, "posts").await,
            ["id", "headline", "body", "views", "writer_id", "editor_id", "created_at"]
        );
        assert_eq!(
            rows(
                pool,
                "SELECT id, headline, body, views, writer_id, editor_id FROM posts ORDER BY id",
                "issiii"
            )
            .await,
            table(&[
                &["1", "Hello", "First body", "10", "1", "NULL"],
                &["2", "World", "Second body", "20", "2", "NULL"],
                &["3", "Third", "Third body", "5000000000", "1", "2"],
                &["4", "Empty", "NULL", "0", "2", "NULL"],
            ])
        );
        assert_eq!(
            rows(pool, "SELECT post_id, tag_id FROM post_tags ORDER BY post_id, tag_id", "ii").await,
            table(&[&["1", "1"], &["1", "2"], &["2", "1"]])
        );
        // The constraints are gone.
        exec(pool, "UPDATE posts SET views = -1 WHERE id = 1").await;
        exec(pool, "INSERT INTO authors (id, full_name) VALUES (3, 'Ann')").await;
        exec(pool, "UPDATE posts SET views = 10 WHERE id = 1").await;
        exec(pool, "DELETE FROM authors WHERE id = 3").await;
        assert_comments(pool).await;

        // v11: a model dropped (with its junction table).
        let m = edit(pool, dir, &v11::models(), &[]).await;
        assert_eq!(
            described(&m),
            ["drop junction table post_tags", "drop table tags"]
        );
        assert_eq!(user_tables(pool).await, ["authors", "comments", "posts"]);
        assert_comments(pool).await;
        // Foreign keys still hold after all the rebuilds.
        exec_err(pool, "INSERT INTO comments (id, post_id, text) VALUES (3, 99, 'x')").await;
        exec_err(pool, "INSERT INTO posts (id, headline, views, writer_id) VALUES (9, 'x', 0, 99)").await;

        let first_pass = schema_listing(pool).await;
        let first_live = introspect(pool).await.unwrap();
        assert_eq!(applied(pool).await.len(), 11);

        // Back to the first migration with the data in place (made to fit the old NOT
        // NULL body and 32-bit views first), then to zero.
        exec(pool, "UPDATE posts SET body = '' WHERE body IS NULL").await;
        exec(pool, "UPDATE posts SET views = 7 WHERE views > 2147483647").await;
        let steps = migrate(pool, dir, Target::Named("0001_initial".into())).await;
        assert_eq!(steps.len(), 10);
        assert_eq!(applied(pool).await, ["0001_initial"]);
        assert_no_drift(pool, &v1::models()).await;
        assert_eq!(user_tables(pool).await, ["authors", "comments", "posts"]);
        assert_eq!(columns(pool, "posts").await, ["id", "title", "body", "views", "author_id"]);
        assert_eq!(columns(pool, "authors").await, ["id", "name"]);
        assert_eq!(
            rows(
                pool,
                "SELECT id, title, body, CAST(views AS BIGINT), author_id FROM posts ORDER BY id",
                "issii"
            )
            .await,
            table(&[
                &["1", "Hello", "First body", "10", "1"],
                &["2", "World", "Second body", "20", "2"],
                &["3", "Third", "Third body", "7", "1"],
                &["4", "Empty", "", "0", "2"],
            ])
        );
        assert_eq!(
            rows(pool, "SELECT id, name FROM authors ORDER BY id", "is").await,
            table(&[&["1", "Ann"], &["2", "Bob"]])
        );
        assert_comments(pool).await;

        let steps = migrate(pool, dir, Target::Zero).await;
        assert_eq!(steps.len(), 1);
        assert!(user_tables(pool).await.is_empty(), "{:?}", user_tables(pool).await);
        assert_eq!(all_tables(pool).await, ["rustango_migrations"]);
        assert!(applied(pool).await.is_empty());
        assert!(introspect(pool).await.unwrap().tables.is_empty());

        // Forward again: the same schema as the first time.
        let steps = migrate(pool, dir, Target::Latest).await;
        assert_eq!(steps.len(), 11);
        assert_eq!(introspect(pool).await.unwrap(), first_live);
        assert_eq!(schema_listing(pool).await, first_pass);
        assert_no_changes(dir, &v11::models());
        assert_no_drift(pool, &v11::models()).await;
    }
}

// ---------------------------------------------------------------------------------
// 2. Dry runs
// ---------------------------------------------------------------------------------

backend_test! {
    async fn dry_run_changes_nothing(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        for models in [v1::models(), v2::models(), v3::models()] {
            assert!(matches!(
                make_migrations(dir, &models, &MakeOptions::default()).unwrap(),
                Made::Written { .. }
            ));
        }
        let set = set(dir);

        // Nothing applied: the dry run plans all three and creates nothing, not even
        // the migrations table.
        let steps = Runner::new(pool, &set).dry_run(&Target::Latest).await.unwrap();
        assert_eq!(steps.len(), 3);
        assert!(steps.iter().all(|s| s.statements().count() > 0));
        let sql: Vec<&str> = steps[0].statements().collect();
        assert!(sql.iter().any(|s| s.starts_with("CREATE TABLE \"posts\"")), "{sql:?}");
        assert!(all_tables(pool).await.is_empty());
        assert_eq!(Runner::new(pool, &set).pending().await.unwrap().len(), 3);

        // One applied: the dry run plans the other two against the real state.
        migrate(pool, dir, Target::Named("0001_initial".into())).await;
        let listing = schema_listing(pool).await;
        let steps = Runner::new(pool, &set).dry_run(&Target::Latest).await.unwrap();
        assert_eq!(
            steps.iter().map(|s| s.migration.as_str()).collect::<Vec<_>>(),
            ["0002_posts_status_and_more", "0003_change_max_length_of_posts_body_and_more"]
        );
        let sql: Vec<&str> = steps[1].statements().collect();
        if db.is_postgres() {
            assert!(sql.iter().any(|s| s.contains("ALTER COLUMN \"views\" TYPE BIGINT")), "{sql:?}");
        } else {
            assert!(sql.iter().any(|s| s.contains("__rustango_new_posts")), "{sql:?}");
        }
        assert_eq!(schema_listing(pool).await, listing);
        assert_eq!(applied(pool).await, ["0001_initial"]);
        assert_eq!(
            Runner::new(pool, &set).pending().await.unwrap(),
            ["0002_posts_status_and_more", "0003_change_max_length_of_posts_body_and_more"]
        );

        // Backwards too.
        migrate(pool, dir, Target::Latest).await;
        let listing = schema_listing(pool).await;
        let steps = Runner::new(pool, &set).dry_run(&Target::Zero).await.unwrap();
        assert_eq!(steps.len(), 3);
        let steps = Runner::new(pool, &set).downgrade(2, true).await.unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(schema_listing(pool).await, listing);
        assert_eq!(applied(pool).await.len(), 3);
        assert!(Runner::new(pool, &set).pending().await.unwrap().is_empty());
    }
}

// ---------------------------------------------------------------------------------
// 3. A failing operation rolls its whole migration back
// ---------------------------------------------------------------------------------

backend_test! {
    async fn failed_operation_rolls_back_the_migration(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &v1::models(), &[]).await;
        exec(pool, "INSERT INTO authors (id, name) VALUES (1, 'Ann')").await;
        exec(pool, "INSERT INTO posts (id, title, body, views, author_id) VALUES (1, 'Hi', 'B', 1, 1)").await;
        let listing = schema_listing(pool).await;

        // `b` is unique: SQLite adds it by rebuilding the table.
        let mut with_default = nullable_column("b");
        with_default.kind = rustango_core::ValueKind::String;
        with_default.nullable = false;
        with_default.unique = true;
        with_default.default = Some("'x'".into());
        let ops = |third: &str| {
            vec![
                Operation::AddColumn {
                    table: "posts".into(),
                    column: nullable_column("a"),
                },
                Operation::AddColumn {
                    table: "posts".into(),
                    column: with_default.clone(),
                },
                Operation::RunSql {
                    sql: third.into(),
                    reverse_sql: None,
                },
            ]
        };
        write_migration(dir, "0002_broken", ops("UPDATE no_such_table SET a = 1"));

        let err = try_migrate(pool, dir, Target::Latest).await.unwrap_err();
        match &err {
            Error::OperationFailed {
                migration,
                position,
                total,
                operation,
                ..
            } => {
                assert_eq!(migration, "0002_broken");
                assert_eq!((*position, *total), (3, 3));
                assert_eq!(operation, "run SQL");
            }
            other => panic!("expected OperationFailed, got {other:?}"),
        }
        assert!(err.to_string().contains("operation 3 of 3"), "{err}");
        // Exactly as before the file: no new columns, not recorded, data intact.
        assert_eq!(schema_listing(pool).await, listing);
        assert_eq!(columns(pool, "posts").await, ["id", "title", "body", "views", "author_id"]);
        assert_eq!(applied(pool).await, ["0001_initial"]);
        let set = set(dir);
        assert_eq!(Runner::new(pool, &set).pending().await.unwrap(), ["0002_broken"]);
        assert_eq!(
            rows(pool, "SELECT id, title FROM posts", "is").await,
            table(&[&["1", "Hi"]])
        );
        // Foreign keys are enforced again on every connection (SQLite's schema
        // transactions switch them off while they run).
        for _ in 0..10 {
            exec_err(pool, "INSERT INTO comments (id, post_id, text) VALUES (1, 99, 'x')").await;
        }

        // Fixed (the file was never applied, so editing it is fine), it applies.
        write_migration(dir, "0002_broken", ops("UPDATE posts SET a = 41 + 1"));
        let steps = migrate(pool, dir, Target::Latest).await;
        assert_eq!(steps.len(), 1);
        assert_eq!(applied(pool).await, ["0001_initial", "0002_broken"]);
        assert_eq!(
            rows(pool, "SELECT id, a, b FROM posts", "iis").await,
            table(&[&["1", "42", "x"]])
        );
    }
}

// ---------------------------------------------------------------------------------
// 4. Editing an applied migration is refused
// ---------------------------------------------------------------------------------

backend_test! {
    async fn edited_applied_migration_is_refused(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &v1::models(), &[]).await;
        let path = dir.join("0001_initial.json");
        let original = std::fs::read_to_string(&path).unwrap();

        // Reformatting is not a change.
        let value: serde_json::Value = serde_json::from_str(&original).unwrap();
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        assert!(migrate(pool, dir, Target::Latest).await.is_empty());

        // Editing an operation is.
        std::fs::write(&path, original.replace("\"max_length\": 200", "\"max_length\": 250")).unwrap();
        assert_ne!(std::fs::read_to_string(&path).unwrap(), original);
        let err = try_migrate(pool, dir, Target::Latest).await.unwrap_err();
        assert!(
            matches!(&err, Error::ChecksumMismatch { migration, .. } if migration == "0001_initial"),
            "{err:?}"
        );
        let set = set(dir);
        assert!(matches!(
            Runner::new(pool, &set).status().await,
            Err(Error::ChecksumMismatch { .. })
        ));
        // A new migration behind it is not applied either.
        drop(set);
        make_migrations(dir, &v2::models(), &MakeOptions::default()).unwrap();
        assert!(matches!(
            try_migrate(pool, dir, Target::Latest).await,
            Err(Error::ChecksumMismatch { .. })
        ));
        assert_eq!(applied(pool).await, ["0001_initial"]);
        assert_eq!(columns(pool, "posts").await, ["id", "title", "body", "views", "author_id"]);

        // Restored, everything proceeds.
        std::fs::write(&path, &original).unwrap();
        assert_eq!(migrate(pool, dir, Target::Latest).await.len(), 1);
    }
}

// ---------------------------------------------------------------------------------
// 5. RunSql without reverse_sql cannot be unapplied
// ---------------------------------------------------------------------------------

backend_test! {
    async fn run_sql_without_reverse_is_irreversible(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &v1::models(), &[]).await;
        add_data_op(
            dir,
            None,
            None,
            Some("seed"),
            "INSERT INTO authors (id, name) VALUES (1, 'Ann')",
            None,
        )
        .unwrap();
        add_data_op(
            dir,
            None,
            None,
            Some("seed_more"),
            "INSERT INTO authors (id, name) VALUES (2, 'Bob')",
            Some("DELETE FROM authors WHERE id = 2"),
        )
        .unwrap();
        assert_eq!(migrate(pool, dir, Target::Latest).await.len(), 2);
        let authors = "SELECT id, name FROM authors ORDER BY id";
        assert_eq!(rows(pool, authors, "is").await, table(&[&["1", "Ann"], &["2", "Bob"]]));

        // With a reverse_sql, downgrade works.
        let set = set(dir);
        let steps = Runner::new(pool, &set).downgrade(1, false).await.unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].migration, "0003_seed_more");
        assert_eq!(rows(pool, authors, "is").await, table(&[&["1", "Ann"]]));
        assert_eq!(applied(pool).await, ["0001_initial", "0002_seed"]);

        // Without, it is refused, naming the operation, and nothing changes.
        for dry_run in [true, false] {
            let err = Runner::new(pool, &set).downgrade(1, dry_run).await.unwrap_err();
            match &err {
                Error::Irreversible {
                    migration,
                    position,
                    operation,
                } => {
                    assert_eq!(migration, "0002_seed");
                    assert_eq!(*position, 1);
                    assert_eq!(operation, "run SQL");
                }
                other => panic!("expected Irreversible, got {other:?}"),
            }
            assert!(err.to_string().contains("reverse_sql"), "{err}");
        }
        assert!(matches!(
            Runner::new(pool, &set).migrate(&Target::Zero).await,
            Err(Error::Irreversible { .. })
        ));
        assert_eq!(applied(pool).await, ["0001_initial", "0002_seed"]);
        assert_eq!(rows(pool, authors, "is").await, table(&[&["1", "Ann"]]));

        // Forward again re-runs the reversible one.
        assert_eq!(migrate(pool, dir, Target::Latest).await.len(), 1);
        assert_eq!(rows(pool, authors, "is").await, table(&[&["1", "Ann"], &["2", "Bob"]]));
    }
}

// ---------------------------------------------------------------------------------
// 6. Two runners at once
// ---------------------------------------------------------------------------------

backend_test! {
    async fn concurrent_runners_apply_each_migration_once(db) {
        let dir = MigrationsDir::new();
        let dir = dir.path();
        for models in [v1::models(), v2::models(), v3::models(), v4::models(), v5::models()] {
            assert!(matches!(
                make_migrations(dir, &models, &MakeOptions::default()).unwrap(),
                Made::Written { .. }
            ));
        }
        let set = set(dir);
        let first = db.pool.clone();
        let second = db.another_pool().await;
        for round in 0..3 {
            let mut a = Runner::new(&first, &set);
            let mut b = Runner::new(&second, &set);
            let (ra, rb) = tokio::join!(a.migrate(&Target::Latest), b.migrate(&Target::Latest));
            let (ra, rb) = (
                ra.unwrap_or_else(|e| panic!("round {round}, first runner: {e}")),
                rb.unwrap_or_else(|e| panic!("round {round}, second runner: {e}")),
            );
            assert_eq!(ra.len() + rb.len(), 5, "round {round}: each migration once");
            let recorded = applied(&first).await;
            assert_eq!(recorded.len(), 5, "{recorded:?}");
            let mut unique = recorded.clone();
            unique.dedup();
            assert_eq!(unique, recorded);
            assert_eq!(user_tables(&first).await, ["authors", "comments", "posts"]);
            assert_eq!(
                indexes(&first, "posts").await,
                ["ix_posts_title", "ix_posts_views_author_id", "uq_posts_author_id_title"]
            );

            let mut a = Runner::new(&first, &set);
            let mut b = Runner::new(&second, &set);
            let (ra, rb) = tokio::join!(a.migrate(&Target::Zero), b.migrate(&Target::Zero));
            let (ra, rb) = (
                ra.unwrap_or_else(|e| panic!("round {round}, first runner, zero: {e}")),
                rb.unwrap_or_else(|e| panic!("round {round}, second runner, zero: {e}")),
            );
            assert_eq!(ra.len() + rb.len(), 5, "round {round}: each unapplied once");
            assert!(user_tables(&first).await.is_empty());
            assert!(applied(&first).await.is_empty());
        }
        second.close().await;
    }
}

// ---------------------------------------------------------------------------------
// 7. Renames and rebuilds beyond the main round trip
// ---------------------------------------------------------------------------------

backend_test! {
    async fn renamed_table_keeps_rows_and_constraints(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &v1::models(), &[]).await;
        exec(pool, "INSERT INTO authors (id, name) VALUES (1, 'Ann')").await;
        exec(pool, "INSERT INTO posts (id, title, body, views, author_id) VALUES (1, 'Hi', 'B', 1, 1)").await;
        exec(pool, "INSERT INTO comments (id, post_id, text) VALUES (1, 1, 'Nice')").await;

        let err = make_migrations(dir, &renamed_table::models(), &MakeOptions::default()).unwrap_err();
        assert!(matches!(err, Error::PossibleRename { .. }), "{err}");
        assert!(err.to_string().contains("--rename posts=articles"), "{err}");

        let m = edit(pool, dir, &renamed_table::models(), &["posts=articles"]).await;
        assert_eq!(described(&m), ["rename table posts to articles"]);
        assert_eq!(user_tables(pool).await, ["articles", "authors", "comments"]);
        assert_eq!(
            rows(pool, "SELECT id, title, author_id FROM articles", "isi").await,
            table(&[&["1", "Hi", "1"]])
        );
        // Both foreign keys follow the rename.
        exec_err(pool, "INSERT INTO comments (id, post_id, text) VALUES (2, 99, 'x')").await;
        exec(pool, "INSERT INTO comments (id, post_id, text) VALUES (2, 1, 'ok')").await;
        exec_err(pool, "UPDATE articles SET author_id = 99").await;
        if db.is_postgres() {
            assert_eq!(
                db::column(
                    pool,
                    "SELECT conname::text FROM pg_constraint WHERE conrelid = 'articles'::regclass \
                     AND contype = 'f'"
                )
                .await,
                ["fk_articles_author_id"]
            );
        }

        // Back, with the data, and forward again.
        migrate(pool, dir, Target::Named("0001_initial".into())).await;
        assert_no_drift(pool, &v1::models()).await;
        assert_eq!(
            rows(pool, "SELECT id, title FROM posts", "is").await,
            table(&[&["1", "Hi"]])
        );
        exec_err(pool, "INSERT INTO comments (id, post_id, text) VALUES (3, 99, 'x')").await;
        migrate(pool, dir, Target::Zero).await;
        assert!(user_tables(pool).await.is_empty());
        migrate(pool, dir, Target::Latest).await;
        assert_no_drift(pool, &renamed_table::models()).await;
    }
}

backend_test! {
    async fn self_referencing_table_survives_a_rebuild(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &tree::models(), &[]).await;
        exec(
            pool,
            "INSERT INTO categories (id, name, parent_id) VALUES \
             (1, 'root', NULL), (2, 'child', 1), (3, 'leaf', 2)",
        )
        .await;
        let m = edit(pool, dir, &tree::v2::models(), &[]).await;
        assert_eq!(
            described(&m),
            [
                "change max_length of categories.name",
                "add unique on categories.name"
            ]
        );
        let all = "SELECT id, name, parent_id FROM categories ORDER BY id";
        assert_eq!(
            rows(pool, all, "isi").await,
            table(&[&["1", "root", "NULL"], &["2", "child", "1"], &["3", "leaf", "2"]])
        );
        exec_err(pool, "INSERT INTO categories (id, name, parent_id) VALUES (4, 'x', 99)").await;
        exec_err(pool, "INSERT INTO categories (id, name, parent_id) VALUES (4, 'root', 1)").await;
        exec(pool, "INSERT INTO categories (id, name, parent_id) VALUES (4, 'twig', 3)").await;

        let set = set(dir);
        Runner::new(pool, &set).downgrade(1, false).await.unwrap();
        assert_no_drift(pool, &tree::models()).await;
        // (A stale prepared statement after a migration is covered by
        // `statement_cached_before_a_migration_still_runs`.)
        assert_eq!(
            rows(pool, "SELECT id, name, parent_id FROM categories WHERE id > 0", "isi")
                .await
                .len(),
            4
        );
        exec_err(pool, "INSERT INTO categories (id, name, parent_id) VALUES (5, 'x', 99)").await;
        exec(pool, "INSERT INTO categories (id, name, parent_id) VALUES (5, 'root', 1)").await;
        migrate(pool, dir, Target::Zero).await;
        assert!(user_tables(pool).await.is_empty());
    }
}

backend_test! {
    async fn renamed_column_used_by_a_check_round_trips(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &checked::models(), &[]).await;
        exec(pool, "INSERT INTO scores (id, points) VALUES (1, 5)").await;

        // Both databases rewrite the check when the column is renamed, and so does the
        // migration state: the model's new expression is no change.
        let m = edit(pool, dir, &checked::renamed::models(), &["scores.points=total"]).await;
        assert_eq!(described(&m), ["rename column scores.points to total"]);
        exec_err(pool, "UPDATE scores SET total = -1").await;
        assert_eq!(
            rows(pool, "SELECT id, total FROM scores", "ii").await,
            table(&[&["1", "5"]])
        );

        let set = set(dir);
        let steps = Runner::new(pool, &set)
            .downgrade(1, false)
            .await
            .unwrap_or_else(|e| panic!("downgrade: {e}"));
        assert_eq!(steps.len(), 1);
        assert_no_drift(pool, &checked::models()).await;
        assert_eq!(
            rows(pool, "SELECT id, points FROM scores", "ii").await,
            table(&[&["1", "5"]])
        );
        exec_err(pool, "UPDATE scores SET points = -1").await;

        // The same rename written by hand: no migration left to make, and a rebuild
        // afterwards (SQLite) writes the check with the new name.
        std::fs::remove_file(dir.join(format!("{}.json", m.name))).unwrap();
        let path = make_empty(dir, None, "rename_points").unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        json["forward"].as_array_mut().unwrap().push(serde_json::json!({
            "op": "RenameColumn", "table": "scores", "from": "points", "to": "total"
        }));
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        assert_eq!(migrate(pool, dir, Target::Latest).await.len(), 1);
        assert_no_changes(dir, &checked::renamed::models());
        let mut nullable = checked::renamed::models();
        nullable.tables.get_mut("scores").unwrap().columns[1].nullable = true;
        let m = edit(pool, dir, &nullable, &[]).await;
        assert_eq!(described(&m), ["make scores.total nullable"]);
        exec_err(pool, "UPDATE scores SET total = -1").await;
        migrate(pool, dir, Target::Zero).await;
        assert!(user_tables(pool).await.is_empty());
    }
}

// ---------------------------------------------------------------------------------
// 8. Hand-written operations
// ---------------------------------------------------------------------------------

backend_test! {
    async fn hand_written_table_rename_needs_no_new_migration(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &v1::models(), &[]).await;
        exec(pool, "INSERT INTO authors (id, name) VALUES (1, 'Ann')").await;
        exec(pool, "INSERT INTO posts (id, title, body, views, author_id) VALUES (1, 'Hi', 'B', 1, 1)").await;
        let path = make_empty(dir, None, "rename_posts").unwrap();
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        json["forward"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"op": "RenameTable", "from": "posts", "to": "articles"}));
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        assert_eq!(migrate(pool, dir, Target::Latest).await.len(), 1);
        assert_no_changes(dir, &renamed_table::models());
        assert_no_drift(pool, &renamed_table::models()).await;
        assert_eq!(
            rows(pool, "SELECT id, title FROM articles", "is").await,
            table(&[&["1", "Hi"]])
        );
        migrate(pool, dir, Target::Zero).await;
        assert!(user_tables(pool).await.is_empty());
    }
}

backend_test! {
    async fn hand_written_create_then_rebuild_keeps_the_foreign_key(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &v1::models(), &[]).await;
        // A new table, a unique column added to it (a rebuild on SQLite), then its
        // foreign key: the key must exist at the end.
        let id = v1::models().tables["authors"].column("id").unwrap().clone();
        let mut author_id = nullable_column("author_id");
        author_id.nullable = false;
        let mut code = nullable_column("code");
        code.kind = rustango_core::ValueKind::String;
        code.unique = true;
        write_migration(
            dir,
            "0002_notes",
            vec![
                Operation::CreateTable {
                    table: TableState {
                        model: "Note".into(),
                        name: "notes".into(),
                        columns: vec![id, author_id],
                        indexes: Vec::new(),
                        checks: Vec::new(),
                        m2m: Vec::new(),
                    },
                },
                Operation::AddColumn {
                    table: "notes".into(),
                    column: code,
                },
                Operation::AddForeignKey {
                    table: "notes".into(),
                    column: "author_id".into(),
                    references: ForeignKeyState {
                        table: "authors".into(),
                        column: "id".into(),
                        on_delete: rustango_core::OnDelete::Cascade,
                    },
                },
            ],
        );
        assert_eq!(migrate(pool, dir, Target::Latest).await.len(), 1);
        exec(pool, "INSERT INTO authors (id, name) VALUES (1, 'Ann')").await;
        exec(pool, "INSERT INTO notes (id, author_id, code) VALUES (1, 1, 'a')").await;
        exec_err(pool, "INSERT INTO notes (id, author_id, code) VALUES (2, 1, 'a')").await;
        exec_err(pool, "INSERT INTO notes (id, author_id, code) VALUES (3, 99, 'c')").await;
        let expected = set(dir).state_of_app(None).unwrap();
        assert_no_drift(pool, &expected).await;
        migrate(pool, dir, Target::Named("0001_initial".into())).await;
        assert_eq!(user_tables(pool).await, ["authors", "comments", "posts"]);
    }
}

backend_test! {
    async fn rebuilt_table_does_not_reuse_ids(db) {
        let pool = &db.pool;
        let dir = MigrationsDir::new();
        let dir = dir.path();
        edit(pool, dir, &v1::models(), &[]).await;
        exec(pool, "INSERT INTO authors (name) VALUES ('a'), ('b'), ('c')").await;
        exec(pool, "DELETE FROM authors WHERE name = 'c'").await;
        // `authors.name` becomes unique: SQLite rebuilds the table.
        edit(pool, dir, &v6::models(), &[]).await;
        exec(pool, "INSERT INTO authors (name) VALUES ('d')").await;
        assert_eq!(
            rows(pool, "SELECT id, name FROM authors ORDER BY id", "is").await,
            table(&[&["1", "a"], &["2", "b"], &["4", "d"]])
        );
    }
}

// ---------------------------------------------------------------------------------
// 9. Queries prepared before a migration
// ---------------------------------------------------------------------------------

/// A statement prepared (and cached by the pool's connection) before a migration changes
/// a column's type runs again afterwards. One connection, so that the statement is
/// cached on the connection that runs it again.
async fn statement_cached_before_a_migration(db: db::Db) {
    let pool = Pool::connect_with(
        &db.url,
        rustango_orm::PoolOptions::default().max_connections(1),
    )
    .await
    .unwrap();
    let dir = MigrationsDir::new();
    let dir = dir.path();
    edit(&pool, dir, &v1::models(), &[]).await;
    exec(&pool, "INSERT INTO authors (id, name) VALUES (1, 'Ann')").await;
    exec(
        &pool,
        "INSERT INTO posts (id, title, body, views, author_id) VALUES (1, 'Hi', 'B', 1, 1)",
    )
    .await;
    let sql = "SELECT id, body FROM posts";
    assert_eq!(rows(&pool, sql, "is").await, table(&[&["1", "B"]]));
    // `body` TEXT → VARCHAR(2000).
    make_migrations(dir, &v3::models(), &MakeOptions::default()).unwrap();
    migrate(&pool, dir, Target::Latest).await;
    assert_eq!(rows(&pool, sql, "is").await, table(&[&["1", "B"]]));
    pool.close().await;
}

mod statement_cached_before_a_migration_still_runs {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let db = db::TestDb::sqlite().await;
        db::run(db, statement_cached_before_a_migration).await;
    }

    /// PostgreSQL refuses a prepared statement whose result types changed once; the
    /// ORM forgets the connection's statements and runs the query again.
    #[cfg(feature = "__test-pg")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let db = db::TestDb::postgres().await;
        db::run(db, statement_cached_before_a_migration).await;
    }
}
