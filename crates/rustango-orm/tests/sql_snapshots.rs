//! The SQL each backend receives, snapshot-tested per dialect.

#[path = "orm/models.rs"]
#[allow(dead_code)]
mod models;

use models::*;
use rustango_core::Column;
use rustango_query::{Dialect, MySql, Postgres, Sqlite};

fn dialects() -> [(&'static str, &'static dyn Dialect); 3] {
    [
        ("postgres", &Postgres),
        ("sqlite", &Sqlite),
        ("mysql", &MySql),
    ]
}

fn render(parts: Vec<(String, Vec<rustango_core::Value>)>) -> String {
    parts
        .into_iter()
        .map(|(sql, params)| format!("{sql}\n  -- params: {params:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ddl_per_dialect() {
    for (name, d) in dialects() {
        let sql = rustango_orm::create_statements(d, ALL).join(";\n");
        insta::assert_snapshot!(format!("ddl_{name}"), sql);
    }
}

#[test]
fn queries_per_dialect() {
    for (name, d) in dialects() {
        let qs = vec![
            Post::objects()
                .where_(Post::status.eq("published") & Post::views.gte(10))
                .where_(Post::title.icontains("50%_\\!") | Post::title.startswith("a*?["))
                .exclude(Post::author.in_(&[1, 2, 3]))
                .order_by(Post::created_at, true)
                .page(3, 20)
                .to_sql(d)
                .unwrap(),
            Post::objects()
                .where_(
                    Post::title.contains("x") & Post::body.endswith("y") & Post::body.iexact("Z"),
                )
                .where_(
                    Post::views.range(1, 9)
                        & Post::rating.is_null()
                        & Post::views.not_in::<i32>(&[]),
                )
                .where_(Post::updated_at.gt_col(Post::created_at))
                .with_deleted()
                .distinct()
                .offset(5)
                .to_sql(d)
                .unwrap(),
            Post::objects()
                .select_related("author__country")
                .where_(Post::title.eq("t"))
                .order_by(Post::id, false)
                .limit(10)
                .to_sql(d)
                .unwrap(),
        ];
        insta::assert_snapshot!(format!("queries_{name}"), render(qs));
    }
}

#[test]
fn mutations_per_dialect() {
    use rustango_core::{CmpOp, ColRef, Expr, Operand, Value};
    use rustango_query::{Delete, Insert, OnConflict, Update};
    for (name, d) in dialects() {
        let id = Expr::Compare {
            left: ColRef::new("id"),
            op: CmpOp::Eq,
            right: Operand::Value(Value::I64(7)),
        };
        let parts = vec![
            Insert {
                table: "tags",
                columns: vec!["name"],
                rows: vec![vec!["a".into()], vec!["b".into()]],
                on_conflict: None,
                returning: vec!["id"],
            }
            .render(d),
            Insert {
                table: "tags",
                columns: vec!["id", "name"],
                rows: vec![vec![Value::I64(1), "a".into()]],
                on_conflict: Some(OnConflict {
                    target: vec!["name"],
                    update: vec!["id"],
                }),
                returning: vec!["id"],
            }
            .render(d),
            Insert {
                table: "post_tags",
                columns: vec!["post_id", "tag_id"],
                rows: vec![vec![Value::I64(1), Value::I64(2)]],
                on_conflict: Some(OnConflict {
                    target: vec!["post_id", "tag_id"],
                    update: vec![],
                }),
                returning: vec![],
            }
            .render(d),
            Update {
                table: "posts",
                sets: vec![
                    ("title", "new".into()),
                    ("rating", Value::Null(rustango_core::ValueKind::F64)),
                ],
                filter: Some(id.clone()),
                returning: vec![],
            }
            .render(d),
            Delete {
                table: "posts",
                filter: Some(id),
            }
            .render(d),
        ];
        insta::assert_snapshot!(format!("mutations_{name}"), render(parts));
    }
}
