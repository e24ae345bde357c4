//! Eleven versions of one small project's models (same tables, one module each), for
//! the round trip through `makemigrations` and `migrate`.

use rustango_core::ModelSchema;
use rustango_migrate::SchemaSnapshot;

fn snap(models: &[&ModelSchema]) -> SchemaSnapshot {
    SchemaSnapshot::from_models(models.iter().copied())
}

/// The first models: authors, posts (pointing at authors), comments (pointing at posts).
pub mod v1 {
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "posts")]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200)]
        pub title: String,
        pub body: String,
        pub views: i32,
        pub author: ForeignKey<Author>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// New `posts` fields: `status` with a default, a nullable foreign key `editor`, an
/// `auto_now_add` timestamp (a rebuild on SQLite: its default is not a constant).
pub mod v2 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "posts")]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200)]
        pub title: String,
        pub body: String,
        pub views: i32,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'draft'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// `posts.views` i32 → i64; `posts.body` TEXT → VARCHAR(2000).
pub mod v3 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "posts")]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200)]
        pub title: String,
        #[rustango(max_length = 2000)]
        pub body: String,
        pub views: i64,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'draft'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// `posts.body` becomes nullable; `posts.status` defaults to `'new'`.
pub mod v4 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "posts")]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200)]
        pub title: String,
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'new'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// Indexes: `posts.title`, `(views, author_id)`, unique `(author_id, title)`.
pub mod v5 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, author_id"),
        index("author_id, title", unique)
    )]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200, index)]
        pub title: String,
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'new'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// A check on `posts.views`; `authors.name` becomes unique.
pub mod v6 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100, unique)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, author_id"),
        index("author_id, title", unique),
        check(name = "views_nonneg", expr = "views >= 0")
    )]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200, index)]
        pub title: String,
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'new'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// Tags, and the `posts` ↔ `tags` junction table.
pub mod v7 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100, unique)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, author_id"),
        index("author_id, title", unique),
        check(name = "views_nonneg", expr = "views >= 0"),
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
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'new'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        #[rustango(max_length = 50)]
        pub name: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA, Tag::SCHEMA])
    }
}

/// `authors.name` renamed `full_name` (by a hand-written migration).
pub mod v8 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100, unique)]
        pub full_name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, author_id"),
        index("author_id, title", unique),
        check(name = "views_nonneg", expr = "views >= 0"),
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
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'new'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        #[rustango(max_length = 50)]
        pub name: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA, Tag::SCHEMA])
    }
}

/// `posts.title` renamed `headline` and `posts.author_id` (a foreign key) `writer_id`
/// (makemigrations with confirmed renames).
pub mod v9 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100, unique)]
        pub full_name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, writer_id"),
        index("writer_id, headline", unique),
        check(name = "views_nonneg", expr = "views >= 0"),
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
        pub headline: String,
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub writer: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'new'")]
        pub status: String,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        #[rustango(max_length = 50)]
        pub name: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA, Tag::SCHEMA])
    }
}

/// `posts.status` dropped; the check dropped; `authors.full_name` no longer unique.
pub mod v10 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub full_name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, writer_id"),
        index("writer_id, headline", unique),
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
        pub headline: String,
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub writer: ForeignKey<Author>,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        #[rustango(max_length = 50)]
        pub name: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA, Tag::SCHEMA])
    }
}

/// The `Tag` model (and the junction table) dropped.
pub mod v11 {
    use chrono::{DateTime, Utc};
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub full_name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        index("views, writer_id"),
        index("writer_id, headline", unique)
    )]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200, index)]
        pub headline: String,
        #[rustango(max_length = 2000)]
        pub body: Option<String>,
        pub views: i64,
        pub writer: ForeignKey<Author>,
        #[rustango(on_delete = "set_null")]
        pub editor: Option<ForeignKey<Author>>,
        #[rustango(auto_now_add)]
        pub created_at: Auto<DateTime<Utc>>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// `posts` renamed `articles` (a table that points at another and is pointed at).
pub mod renamed_table {
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "articles")]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200)]
        pub title: String,
        pub body: String,
        pub views: i32,
        pub author: ForeignKey<Author>,
    }

    #[derive(Model)]
    #[rustango(table = "comments")]
    pub struct Comment {
        pub id: Auto<i64>,
        pub post: ForeignKey<Post>,
        pub text: String,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Author::SCHEMA, Post::SCHEMA, Comment::SCHEMA])
    }
}

/// A table that points at itself, before and after a change that rebuilds it on SQLite.
pub mod tree {
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "categories")]
    pub struct Category {
        pub id: Auto<i64>,
        pub name: String,
        pub parent: Option<ForeignKey<Category>>,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Category::SCHEMA])
    }

    pub mod v2 {
        use rustango_macros::Model;
        use rustango_migrate::SchemaSnapshot;
        use rustango_orm::{Auto, ForeignKey};

        #[derive(Model)]
        #[rustango(table = "categories")]
        pub struct Category {
            pub id: Auto<i64>,
            #[rustango(max_length = 50, unique)]
            pub name: String,
            pub parent: Option<ForeignKey<Category>>,
        }

        pub fn models() -> SchemaSnapshot {
            super::super::snap(&[Category::SCHEMA])
        }
    }
}

/// A column that a check constraint uses, before and after a rename (the check follows).
pub mod checked {
    use rustango_macros::Model;
    use rustango_migrate::SchemaSnapshot;
    use rustango_orm::Auto;

    #[derive(Model)]
    #[rustango(table = "scores", check(name = "points_nonneg", expr = "points >= 0"))]
    pub struct Score {
        pub id: Auto<i64>,
        pub points: i64,
    }

    pub fn models() -> SchemaSnapshot {
        super::snap(&[Score::SCHEMA])
    }

    pub mod renamed {
        use rustango_macros::Model;
        use rustango_migrate::SchemaSnapshot;
        use rustango_orm::Auto;

        #[derive(Model)]
        #[rustango(table = "scores", check(name = "points_nonneg", expr = "total >= 0"))]
        pub struct Score {
            pub id: Auto<i64>,
            pub total: i64,
        }

        pub fn models() -> SchemaSnapshot {
            super::super::snap(&[Score::SCHEMA])
        }
    }
}
