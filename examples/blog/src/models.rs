//! The blog's models. `manage makemigrations` reads them from the registry (this
//! crate is linked into `src/bin/manage.rs`) and writes `migrations/`.

use chrono::{DateTime, Utc};
use rustango::sql::ForeignKey;
use rustango::{Auto, Model};
use uuid::Uuid;

// ANCHOR: models
#[derive(Model, Clone, Debug)]
#[rustango(table = "authors", display = "name", admin(list_display = "id, name"))]
pub struct Author {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    #[rustango(max_length = 100)]
    pub name: String,
}

#[derive(Model, Clone, Debug)]
#[rustango(table = "tags")]
pub struct Tag {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    #[rustango(max_length = 40, unique)]
    pub name: String,
}

#[derive(Model, Clone, Debug)]
#[rustango(
    table = "posts",
    display = "title",
    admin(
        list_display = "id, title, status, created_at",
        search_fields = "title, body",
        list_filter = "author_id, status",
        ordering = "-created_at",
        list_per_page = 50,
    ),
    audit(track = "title, body, status"),
    permissions,
    index("created_at, author_id"),
    check(name = "valid_status", expr = "status IN ('draft', 'published')"),
    m2m(
        name = "tags",
        to = "tags",
        through = "post_tags",
        src = "post_id",
        dst = "tag_id"
    )
)]
pub struct Post {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    #[rustango(max_length = 200, index)]
    pub title: String,
    pub body: String,
    #[rustango(max_length = 20, default = "'draft'")]
    pub status: String,
    #[rustango(related_name = "posts")]
    pub author: ForeignKey<Author>,
    pub views: i32,
    #[rustango(auto_now_add)]
    pub created_at: Auto<DateTime<Utc>>,
    #[rustango(auto_now)]
    pub updated_at: Auto<DateTime<Utc>>,
    #[rustango(soft_delete)]
    pub deleted_at: Option<DateTime<Utc>>,
    #[rustango(auto_uuid)]
    pub external_id: Auto<Uuid>,
}
// ANCHOR_END: models
