//! Golden JSON of the operations the autodetector emits for each kind of model change.

use rustango_core::ModelSchema;
use rustango_migrate::{
    Error, Migration, Operation, Rename, SchemaSnapshot, autodetect, autodetect_with,
};

mod v1 {
    use rustango_macros::Model;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 100)]
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(table = "posts", index("views, author_id"))]
    pub struct Post {
        pub id: Auto<i64>,
        #[rustango(max_length = 200)]
        pub title: String,
        pub body: String,
        pub views: i32,
        pub author: ForeignKey<Author>,
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        pub name: String,
    }
}

/// Every kind of change at once, against `v1`.
mod v2 {
    use rustango_macros::Model;
    use rustango_orm::{Auto, ForeignKey};

    #[derive(Model)]
    #[rustango(table = "authors")]
    pub struct Author {
        pub id: Auto<i64>,
        #[rustango(max_length = 150, unique)] // max_length changed, unique added
        pub name: String,
    }

    #[derive(Model)]
    #[rustango(
        table = "posts",
        check(name = "views_positive", expr = "views >= 0"),
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
        #[rustango(max_length = 200, index)] // new single-column index; composite one gone
        pub title: String,
        pub body: Option<String>, // now nullable
        pub views: i64,           // type changed
        pub author: ForeignKey<Author>,
        #[rustango(max_length = 20, default = "'draft'")]
        pub status: String, // new, with a default
        pub summary: Option<String>, // new, nullable
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        pub name: String,
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

mod renamed {
    use rustango_macros::Model;
    use rustango_orm::Auto;

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        pub label: Option<String>, // was `name`
    }

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct StrictTag {
        pub id: Auto<i64>,
        pub label: String, // was `name`, still NOT NULL
    }
}

mod not_null {
    use rustango_macros::Model;
    use rustango_orm::Auto;

    #[derive(Model)]
    #[rustango(table = "tags")]
    pub struct Tag {
        pub id: Auto<i64>,
        pub name: String,
        pub slug: String, // NOT NULL, no default
    }
}

fn snap(models: &[&ModelSchema]) -> SchemaSnapshot {
    SchemaSnapshot::from_models(models.iter().copied())
}

fn v1() -> SchemaSnapshot {
    snap(&[v1::Author::SCHEMA, v1::Post::SCHEMA, v1::Tag::SCHEMA])
}

#[test]
fn initial_migration_creates_tables_then_foreign_keys() {
    let d = autodetect(&SchemaSnapshot::default(), &v1()).unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&d.operations).unwrap());
    assert!(d.hints.is_empty());
}

#[test]
fn every_kind_of_change() {
    let v2 = snap(&[
        v2::Author::SCHEMA,
        v2::Post::SCHEMA,
        v2::Tag::SCHEMA,
        v2::Comment::SCHEMA,
    ]);
    let d = autodetect(&v1(), &v2).unwrap();
    let described: Vec<String> = d.operations.iter().map(|o| o.describe()).collect();
    insta::assert_snapshot!("every_kind_of_change_summary", described.join("\n"));
    insta::assert_snapshot!(serde_json::to_string_pretty(&d.operations).unwrap());
    // Going back is detected too, and the tables v2 added are dropped.
    let back = autodetect(&v2, &v1()).unwrap();
    let described: Vec<String> = back.operations.iter().map(|o| o.describe()).collect();
    insta::assert_snapshot!("every_kind_of_change_reversed", described.join("\n"));
    // The drops (table, column, check, index, junction table, foreign key) and the
    // changes back, as they are written to a file.
    insta::assert_snapshot!(
        "every_kind_of_change_reversed_json",
        serde_json::to_string_pretty(&back.operations).unwrap()
    );
}

#[test]
fn dropping_a_model_drops_its_table_last() {
    let d = autodetect(&v1(), &snap(&[v1::Author::SCHEMA, v1::Post::SCHEMA])).unwrap();
    let described: Vec<String> = d.operations.iter().map(|o| o.describe()).collect();
    assert_eq!(described, ["drop table tags"]);
}

#[test]
fn unchanged_models_need_no_migration() {
    assert!(autodetect(&v1(), &v1()).unwrap().operations.is_empty());
}

#[test]
fn a_probable_rename_is_a_hint_not_a_guess() {
    let d = autodetect(
        &v1(),
        &snap(&[v1::Author::SCHEMA, v1::Post::SCHEMA, renamed::Tag::SCHEMA]),
    )
    .unwrap();
    let described: Vec<String> = d.operations.iter().map(|o| o.describe()).collect();
    assert_eq!(
        described,
        ["add column tags.label", "drop column tags.name"]
    );
    assert_eq!(d.hints.len(), 1);
    let hint = d.hints[0].to_string();
    assert!(hint.contains("--rename tags.name=label"), "{hint}");
    // Confirmed with the flag, the same change is a rename and keeps the data.
    let rename: Rename = "tags.name=label".parse().unwrap();
    assert_eq!(d.hints[0].as_rename(), rename);
    let confirmed = autodetect_with(
        &v1(),
        &snap(&[v1::Author::SCHEMA, v1::Post::SCHEMA, renamed::Tag::SCHEMA]),
        &[rename],
    )
    .unwrap();
    let described: Vec<String> = confirmed.operations.iter().map(|o| o.describe()).collect();
    assert_eq!(
        described,
        [
            "rename column tags.name to label",
            "make tags.label nullable"
        ]
    );
    assert!(confirmed.hints.is_empty());
    insta::assert_snapshot!(
        "confirmed_rename_json",
        serde_json::to_string_pretty(&confirmed.operations).unwrap()
    );
    assert!("tags.name".parse::<Rename>().is_err());
    // A NOT NULL column cannot simply be added; the error says how to rename instead.
    let err = autodetect(
        &v1(),
        &snap(&[
            v1::Author::SCHEMA,
            v1::Post::SCHEMA,
            renamed::StrictTag::SCHEMA,
        ]),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("--rename tags.name=label"),
        "{err}"
    );
}

#[test]
fn not_null_without_default_is_refused_with_advice() {
    let err = autodetect(
        &v1(),
        &snap(&[v1::Author::SCHEMA, v1::Post::SCHEMA, not_null::Tag::SCHEMA]),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotNullWithoutDefault { ref column, .. } if column == "slug"));
    assert!(err.to_string().contains("default"));
}

#[test]
fn migration_files_round_trip_and_refuse_unknown_versions() {
    let d = autodetect(&SchemaSnapshot::default(), &v1()).unwrap();
    let m = Migration::new("0001_initial", d.operations, v1());
    let json = m.to_json();
    assert_eq!(Migration::from_json("0001_initial", &json).unwrap(), m);
    assert!(m.is_reversible());
    let future = json.replacen("\"format\": 1", "\"format\": 99", 1);
    assert!(matches!(
        Migration::from_json("0001_initial", &future),
        Err(Error::UnsupportedFormat { found: 99, .. })
    ));
    assert!(matches!(
        Migration::from_json("x", "{"),
        Err(Error::BadFile { .. })
    ));
}

#[test]
fn every_operation_reverses_and_migrations_unapply_in_reverse_order() {
    let v2 = snap(&[
        v2::Author::SCHEMA,
        v2::Post::SCHEMA,
        v2::Tag::SCHEMA,
        v2::Comment::SCHEMA,
    ]);
    let d = autodetect(&v1(), &v2).unwrap();
    for op in &d.operations {
        let back = op.reverse().expect("schema operations reverse");
        assert_eq!(back.reverse().as_ref(), Some(op), "{}", op.describe());
    }
    let mut m = Migration::new("0002_changes", d.operations.clone(), v2);
    let backward = m.backward().unwrap();
    assert_eq!(backward.len(), d.operations.len());
    assert_eq!(backward[0], d.operations.last().unwrap().reverse().unwrap());

    m.forward.push(Operation::RunSql {
        sql: "UPDATE posts SET views = 0".into(),
        reverse_sql: None,
    });
    assert!(!m.is_reversible());
    let err = m.backward().unwrap_err();
    assert!(matches!(err, Error::Irreversible { position, .. } if position == m.forward.len()));
    assert!(err.to_string().contains("reverse_sql"), "{err}");
    let with_reverse = Operation::RunSql {
        sql: "UPDATE posts SET slug = lower(title)".into(),
        reverse_sql: Some("UPDATE posts SET slug = NULL".into()),
    };
    assert_eq!(
        with_reverse.reverse().unwrap().reverse().unwrap(),
        with_reverse
    );
}

/// The SQL of the initial migration, of every kind of change and of unapplying them, per
/// dialect (SQLite rebuilds included).
#[test]
fn sql_per_dialect() {
    use rustango_query::{Dialect, MySql, Postgres, Sqlite};
    let v2 = snap(&[
        v2::Author::SCHEMA,
        v2::Post::SCHEMA,
        v2::Tag::SCHEMA,
        v2::Comment::SCHEMA,
    ]);
    let initial = autodetect(&SchemaSnapshot::default(), &v1())
        .unwrap()
        .operations;
    let change = autodetect(&v1(), &v2).unwrap().operations;
    let back = Migration::new("0002", change.clone(), v2.clone())
        .backward()
        .unwrap();
    let dialects: [(&str, &dyn Dialect); 3] = [
        ("postgres", &Postgres),
        ("sqlite", &Sqlite),
        ("mysql", &MySql),
    ];
    for (name, d) in dialects {
        let mut out = String::new();
        let mut state = SchemaSnapshot::default();
        for (title, ops) in [("initial", &initial), ("change", &change), ("back", &back)] {
            out.push_str(&format!("-- {title}\n"));
            for op in rustango_migrate::plan(d, &mut state, ops).unwrap() {
                out.push_str(&format!("-- [{}] {}\n", op.position, op.description));
                for sql in op.statements {
                    out.push_str(&sql);
                    out.push_str(";\n");
                }
            }
        }
        assert_eq!(state, v1(), "{name}: applying and unapplying returns to v1");
        insta::assert_snapshot!(format!("sql_{name}"), out);
    }
}
