//! The models of the ORM suite.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use rustango_macros::Model;
use rustango_orm::{Auto, ForeignKey, Pool};
use uuid::Uuid;

#[derive(Model, Clone, Debug)]
#[rustango(table = "countries", display = "name")]
pub struct Country {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    #[rustango(max_length = 60, unique)]
    pub name: String,
}

#[derive(Model, Clone, Debug)]
#[rustango(
    table = "authors",
    display = "name",
    admin(list_display = "id, name", ordering = "name")
)]
pub struct Author {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    #[rustango(max_length = 100)]
    pub name: String,
    #[rustango(on_delete = "set_null")]
    pub country: Option<ForeignKey<Country>>,
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
        list_display = "id, title, created_at",
        search_fields = "title, body",
        list_filter = "author_id, status",
        ordering = "-created_at",
        list_per_page = 50,
        readonly_fields = "created_at",
        fieldsets = "Main: title, body | Meta: status, author",
        actions = "delete_selected",
    ),
    audit(track = "title, body, status"),
    permissions,
    index("created_at, author_id"),
    index("title, status", unique),
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
    pub rating: Option<f64>,
    #[rustango(auto_now_add)]
    pub created_at: Auto<DateTime<Utc>>,
    #[rustango(auto_now)]
    pub updated_at: Auto<DateTime<Utc>>,
    #[rustango(soft_delete)]
    pub deleted_at: Option<DateTime<Utc>>,
    #[rustango(auto_uuid, unique)]
    pub external_id: Auto<Uuid>,
    #[rustango(default = r#"'{}'::jsonb"#)]
    pub data: serde_json::Value,
}

impl Post {
    pub fn new(title: &str, author: i64) -> Post {
        Post {
            id: Auto::default(),
            title: title.into(),
            body: format!("body of {title}"),
            status: "draft".into(),
            author: ForeignKey::from(author),
            views: 0,
            rating: None,
            created_at: Auto::default(),
            updated_at: Auto::default(),
            deleted_at: None,
            external_id: Auto::default(),
            data: serde_json::json!({}),
        }
    }
}

#[derive(Model, Clone, Debug, PartialEq)]
#[rustango(table = "all_types")]
pub struct AllTypes {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    pub small: i16,
    pub medium: i32,
    pub big: i64,
    pub single: f32,
    pub double: f64,
    pub flag: bool,
    #[rustango(max_length = 10)]
    pub short_text: String,
    pub long_text: String,
    pub maybe: Option<String>,
    pub day: NaiveDate,
    pub clock: NaiveTime,
    pub moment: DateTime<Utc>,
    pub uid: Uuid,
    pub doc: serde_json::Value,
    pub blob: Vec<u8>,
    #[rustango(max_digits = 12, decimal_places = 2)]
    pub price: Decimal,
    pub maybe_price: Option<Decimal>,
}

/// A model with a non-serial, caller-chosen primary key.
#[derive(Model, Clone, Debug)]
#[rustango(table = "settings")]
pub struct Setting {
    #[rustango(primary_key, max_length = 50)]
    pub key: String,
    pub value: String,
}

/// A caller-chosen key and nothing else the ORM writes on update.
#[derive(Model, Clone, Debug)]
#[rustango(table = "codes")]
pub struct Code {
    #[rustango(primary_key, max_length = 10)]
    pub code: String,
    #[rustango(auto_now_add)]
    pub created: Auto<DateTime<Utc>>,
}

/// Nothing but a server-assigned key.
#[derive(Model, Clone, Debug)]
#[rustango(table = "markers")]
pub struct Marker {
    pub id: Auto<i64>,
}

/// Only the signal tests use this model, so their receivers see no other saves.
#[derive(Model, Clone, Debug)]
#[rustango(table = "signalled")]
pub struct Signalled {
    pub id: Auto<i64>,
    pub name: String,
}

pub const ALL: &[&rustango_orm::__private::ModelSchema] = &[
    Country::SCHEMA,
    Author::SCHEMA,
    Tag::SCHEMA,
    Post::SCHEMA,
    AllTypes::SCHEMA,
    Setting::SCHEMA,
    Signalled::SCHEMA,
    Code::SCHEMA,
    Marker::SCHEMA,
];

pub async fn setup(pool: &Pool) -> Result<(), rustango_orm::Error> {
    rustango_orm::create_tables(pool, ALL).await
}

/// `n` authors and `per_author` posts each; returns the author ids.
pub async fn seed(
    pool: &Pool,
    n: usize,
    per_author: usize,
) -> Result<Vec<i64>, rustango_orm::Error> {
    let authors: Vec<Author> = (0..n)
        .map(|i| Author {
            id: Auto::default(),
            name: format!("author {i:03}"),
            country: None,
        })
        .collect();
    let authors = Author::bulk_insert_on(pool, authors).await?;
    let ids: Vec<i64> = authors.iter().map(|a| *a.id.get().unwrap()).collect();
    let mut posts = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for j in 0..per_author {
            let mut p = Post::new(&format!("post {i:03}-{j:02}"), *id);
            p.views = (i * 10 + j) as i32;
            posts.push(p);
        }
    }
    Post::bulk_insert_on(pool, posts).await?;
    Ok(ids)
}
