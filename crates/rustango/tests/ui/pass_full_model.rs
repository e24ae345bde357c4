// Every model and field option of the ORM cookbook, in a crate that depends on
// `rustango` alone.
use chrono::{DateTime, Utc};
use rustango::sql::ForeignKey;
use rustango::{Auto, Model};
use uuid::Uuid;

#[derive(Model, Clone)]
#[rustango(table = "authors", display = "name")]
pub struct Author {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    #[rustango(max_length = 100, db_column = "full_name")]
    pub name: String,
}

#[derive(Model, Clone)]
#[rustango(
    table = "posts",
    display = "title",
    admin(
        list_display = "id, title, published_at",
        search_fields = "title, body",
        list_filter = "author_id",
        ordering = "-published_at",
        list_per_page = 50,
        readonly_fields = "created_at",
        fieldsets = "Main: title, body | Meta: status",
        actions = "delete_selected, publish",
    ),
    audit(track = "title, body, status"),
    permissions,
    index("published_at, author_id"),
    index("title, status", unique, name = "uq_title_status"),
    check(name = "valid_status", expr = "status IN ('draft', 'published')"),
    m2m(name = "tags", to = "tags", through = "post_tags", src = "post_id", dst = "tag_id"),
)]
pub struct Post {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    #[rustango(max_length = 200, index)]
    pub title: String,
    pub body: String,
    pub status: String,
    #[rustango(related_name = "posts", on_delete = "cascade")]
    pub author: ForeignKey<Author>,
    #[rustango(null, on_delete = "set_null")]
    pub editor: Option<ForeignKey<Author>>,
    pub published_at: Option<DateTime<Utc>>,
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
    #[rustango(max_digits = 10, decimal_places = 2)]
    pub price: rustango::core::Decimal,
}

fn main() {
    use rustango::core::Column as _;
    let schema = Post::SCHEMA;
    assert_eq!(schema.table, "posts");
    assert_eq!(schema.field("author").unwrap().column, "author_id");
    assert_eq!(Author::SCHEMA.field("name").unwrap().column, "full_name");
    assert_eq!(schema.admin.ordering, &[("published_at", true)]);
    assert_eq!(schema.admin.list_filter, &["author"]);
    assert_eq!(schema.permission_codenames().len(), 4);
    let _filter = Post::author.eq(42) & Post::title.icontains("rust");
    // The key column under its column name, as the spec's filters write it.
    let _same = Post::author_id.eq(42);
    let _fk: ForeignKey<Author> = ForeignKey::from(7);
}
