//! Reading a live schema back and comparing it with the migrations: a database the
//! migrations built has no drift, on every backend; changes made by hand are reported.

mod support;

use rustango_migrate::{
    Drift, LiveIndex, Migration, MigrationSet, Runner, SchemaSnapshot, Target, autodetect, drift,
    introspect,
};
use rustango_orm::{Pool, raw};

mod v1 {
    use rustango_macros::Model;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
        #[rustango(max_length = 254, unique)]
        pub email: String,
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        #[rustango(max_length = 40, unique)]
        pub name: String,
    }

    /// A text primary key: not a serial key on either backend.
    #[derive(Model)]
    #[rustango(table = "countries")]
    pub struct Country {
        #[rustango(primary_key, max_length = 2)]
        pub code: String,
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, author_id"),
        m2m(
            name = "tags",
            to = "tags",
            through = "post_tags",
            src = "post_id",
            dst = "tag_id"
        )
    )]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200, index)]
        pub title: String,
        pub body: String,
        pub summary: Option<String>,
        pub views: i32,
        pub rank: i16,
        pub rating: f64,
        pub published: bool,
        pub meta: serde_json::Value,
        pub external_id: uuid::Uuid,
        #[rustango(auto_now_add)]
        pub created_at: Auto<chrono::DateTime<chrono::Utc>>,
        pub author: ForeignKey<Author>,
    }
}

/// `v1` with a change of every kind the planner handles in place on PostgreSQL and by
/// a table rebuild on SQLite.
mod v2 {
    use rustango_macros::Model;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100, unique)] // unique added
        pub name: String,
        #[rustango(max_length = 254, unique)]
        pub email: String,
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        #[rustango(max_length = 40, unique)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "countries")]
    pub struct Country {
        #[rustango(primary_key, max_length = 2)]
        pub code: String,
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        m2m(
            name = "tags",
            to = "tags",
            through = "post_tags",
            src = "post_id",
            dst = "tag_id"
        )
    )]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 250, index)] // longer
        pub title: String,
        pub body: Option<String>, // now nullable
        pub summary: Option<String>,
        #[rustango(index)] // single-column index; the composite one is gone
        pub views: i32,
        pub rank: i16,
        pub rating: f64,
        pub published: bool,
        pub meta: serde_json::Value,
        pub external_id: uuid::Uuid,
        #[rustango(auto_now_add)]
        pub created_at: Auto<chrono::DateTime<chrono::Utc>>,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 50, unique, default = "''")] // new, unique
        pub slug: String,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        #[rustango(index)]
        pub text: String,
    }
}

fn v1() -> SchemaSnapshot {
    SchemaSnapshot::from_models([
        v1::Author::SCHEMA,
        v1::Tag::SCHEMA,
        v1::Country::SCHEMA,
        v1::Post::SCHEMA,
    ])
}

fn v2() -> SchemaSnapshot {
    SchemaSnapshot::from_models([
        v2::Author::SCHEMA,
        v2::Tag::SCHEMA,
        v2::Country::SCHEMA,
        v2::Post::SCHEMA,
        v2::Comment::SCHEMA,
    ])
}

/// The migration from `from` to `to`, as `makemigrations` would write it.
fn migration(
    name: &str,
    from: &SchemaSnapshot,
    to: &SchemaSnapshot,
) -> Result<Migration, rustango_migrate::Error> {
    let detection = autodetect(from, to)?;
    Ok(Migration::new(name, detection.operations, to.clone()))
}

async fn migrate(
    pool: &Pool,
    migrations: Vec<Migration>,
    target: Target,
) -> Result<(), rustango_migrate::Error> {
    let set = MigrationSet::from_migrations(migrations)?;
    Runner::new(pool, &set).migrate(&target).await?;
    Ok(())
}

/// The drift, one sorted line each.
fn lines(found: &[Drift]) -> Vec<String> {
    let mut lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    lines.sort();
    lines
}

fn sorted(lines: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
    lines.sort();
    lines
}

backend_test! {
    async fn a_migrated_database_has_no_drift(pool) {
        let empty = SchemaSnapshot::default();
        let initial = migration("0001_initial", &empty, &v1())?;
        migrate(&pool, vec![initial.clone()], Target::Latest).await?;

        let live = introspect(&pool).await?;
        let found = drift(&live, &v1(), pool.dialect());
        assert!(found.is_empty(), "unexpected drift: {:#?}", lines(&found));

        // What was read is what was written.
        let tables: Vec<&str> = live.tables.keys().map(String::as_str).collect();
        assert_eq!(tables, ["authors", "countries", "post_tags", "posts", "tags"]);
        let posts = &live.tables["posts"];
        let title = &posts.columns["title"];
        assert_eq!(title.data_type, "VARCHAR(200)");
        assert!(!title.nullable && !title.primary_key && !title.unique);
        assert_eq!(posts.columns["body"].data_type, "TEXT");
        assert!(posts.columns["summary"].nullable);
        assert!(posts.columns["id"].primary_key && !posts.columns["id"].nullable);
        assert!(live.tables["authors"].columns["email"].unique);
        let code = &live.tables["countries"].columns["code"];
        assert!(code.primary_key && !code.nullable);
        assert_eq!(
            posts.indexes["ix_posts_title"],
            LiveIndex { columns: vec!["title".into()], unique: false }
        );
        // Only the indexes the migrations create: none behind keys or unique columns.
        assert_eq!(posts.indexes.len(), 2, "{:?}", posts.indexes);
        assert!(live.tables["authors"].indexes.is_empty());
        assert!(live.tables["post_tags"].indexes.is_empty());
        let junction = &live.tables["post_tags"].columns;
        assert!(junction["post_id"].primary_key && junction["tag_id"].primary_key);

        // Migrating again changes nothing.
        migrate(&pool, vec![initial], Target::Latest).await?;
        assert_eq!(introspect(&pool).await?, live);
        Ok(())
    }
}

backend_test! {
    async fn a_database_migrated_twice_matches_one_built_at_once(pool) {
        let empty = SchemaSnapshot::default();
        let initial = migration("0001_initial", &empty, &v1())?;
        let second = migration("0002_changes", &v1(), &v2())?;
        migrate(&pool, vec![initial.clone()], Target::Latest).await?;
        migrate(&pool, vec![initial, second.clone()], Target::Latest).await?;

        let twice = introspect(&pool).await?;
        let found = drift(&twice, &v2(), pool.dialect());
        assert!(found.is_empty(), "drift after two migrations: {:#?}", lines(&found));
        assert_eq!(twice.tables["posts"].columns["title"].data_type, "VARCHAR(250)");
        assert!(twice.tables["posts"].columns["slug"].unique);
        assert!(twice.tables["authors"].columns["name"].unique);

        // Unapplying everything leaves no table behind.
        let initial = migration("0001_initial", &empty, &v1())?;
        migrate(&pool, vec![initial, second], Target::Zero).await?;
        let bare = introspect(&pool).await?;
        assert!(bare.tables.is_empty(), "left behind: {:?}", bare.tables.keys());

        // The same schema in one migration gives the same database.
        let at_once = migration("0001_initial", &empty, &v2())?;
        migrate(&pool, vec![at_once], Target::Latest).await?;
        assert_eq!(introspect(&pool).await?, twice);
        Ok(())
    }
}

backend_test! {
    async fn changes_made_by_hand_are_reported(pool) {
        let initial = migration("0001_initial", &SchemaSnapshot::default(), &v1())?;
        migrate(&pool, vec![initial], Target::Latest).await?;
        for sql in [
            r#"ALTER TABLE "posts" ADD COLUMN "extra" INTEGER"#,
            r#"CREATE INDEX "ix_posts_extra" ON "posts" ("extra")"#,
            r#"DROP INDEX "ix_posts_title""#,
            r#"CREATE TABLE "stray" ("id" INTEGER)"#,
            r#"DROP TABLE "post_tags""#,
            // An interrupted SQLite rebuild's table is not the project's.
            r#"CREATE TABLE "__rustango_new_posts" ("id" INTEGER)"#,
        ] {
            raw::execute(&pool, sql, vec![]).await?;
        }

        let found = drift(&introspect(&pool).await?, &v1(), pool.dialect());
        assert_eq!(
            lines(&found),
            sorted(&[
                "column `posts.extra` is not in the migrations",
                "index `ix_posts_extra` is not in the migrations",
                "index `ix_posts_title` is missing",
                "table `stray` is not in the migrations",
                "table `post_tags` is missing",
            ])
        );
        assert!(found.contains(&Drift::UnexpectedTable { table: "stray".into() }));
        assert!(found.iter().all(|d| d.table() != "__rustango_new_posts"));
        Ok(())
    }
}

backend_test! {
    async fn differences_from_the_migrations_are_reported(pool) {
        let initial = migration("0001_initial", &SchemaSnapshot::default(), &v1())?;
        migrate(&pool, vec![initial], Target::Latest).await?;
        let live = introspect(&pool).await?;

        // The migrations say something else than what the database has.
        let mut expected = v1();
        let posts = expected.tables.get_mut("posts").expect("posts");
        let mut slug = posts.column("title").expect("title").clone();
        slug.name = "slug".into();
        posts.columns.push(slug);
        for c in &mut posts.columns {
            match c.name.as_str() {
                "title" => c.max_length = Some(100),
                "summary" => c.nullable = false,
                "body" => c.nullable = true,
                _ => {}
            }
        }
        posts.columns.retain(|c| c.name != "rank");
        let composite = posts
            .indexes
            .iter_mut()
            .find(|i| i.columns.len() == 2)
            .expect("the composite index");
        composite.columns.reverse();
        let composite = composite.name.clone();
        let authors = expected.tables.get_mut("authors").expect("authors");
        for c in &mut authors.columns {
            if c.name == "email" {
                c.unique = false;
            }
        }
        let mut comments = authors.clone();
        comments.name = "comments".into();
        comments.model = "Comment".into();
        expected.tables.insert("comments".into(), comments);

        let found = drift(&live, &expected, pool.dialect());
        let composite_line = format!(
            "index `{composite}` is (views, author_id) in the database but (author_id, views) \
             in the migrations"
        );
        assert_eq!(
            lines(&found),
            sorted(&[
                "column `posts.title` is VARCHAR(200) in the database but VARCHAR(100) in the migrations",
                "column `posts.summary` is nullable in the database but NOT NULL in the migrations",
                "column `posts.body` is NOT NULL in the database but nullable in the migrations",
                "column `posts.slug` is missing",
                "column `posts.rank` is not in the migrations",
                "column `authors.email` is unique in the database but not in the migrations",
                "table `comments` is missing",
                &composite_line,
            ])
        );
        Ok(())
    }
}
