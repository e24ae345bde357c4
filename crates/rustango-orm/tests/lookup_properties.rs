//! Property test: on a real SQLite database, every pattern lookup finds exactly the rows
//! that Rust's own string functions find, whatever characters the text holds (LIKE and
//! GLOB wildcards, the escape character, regex metacharacters, quotes, Unicode).

use proptest::prelude::*;
use rustango_macros::Model;
use rustango_orm::{Auto, Column, Pool};

#[derive(Model, Clone, Debug)]
#[rustango(table = "words")]
pub struct Word {
    pub id: Auto<i64>,
    pub text: String,
}

/// Short strings over an alphabet full of characters that mean something to LIKE, GLOB,
/// REGEXP or SQL, so that collisions between stored texts and needles are frequent.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('A'),
            Just('b'),
            Just('%'),
            Just('_'),
            Just('!'),
            Just('*'),
            Just('?'),
            Just('['),
            Just(']'),
            Just('\\'),
            Just('\''),
            Just('"'),
            Just('.'),
            Just('$'),
            Just('^'),
            Just('('),
            Just('é'),
            Just('É'),
            Just(' '),
        ],
        0..6,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Stores `stored`, runs every pattern lookup for `needle`, and compares with Rust.
async fn check(pool: &Pool, stored: &[String], needle: &str) -> Result<(), TestCaseError> {
    Word::objects().delete(pool).await.unwrap();
    let rows = stored
        .iter()
        .map(|t| Word {
            id: Auto::default(),
            text: t.clone(),
        })
        .collect();
    Word::bulk_insert_on(pool, rows).await.unwrap();

    type Pred = fn(&str, &str) -> bool;
    let cases: [(&str, rustango_orm::Expr, Pred); 7] = [
        ("contains", Word::text.contains(needle), |t, n| {
            t.contains(n)
        }),
        ("startswith", Word::text.startswith(needle), |t, n| {
            t.starts_with(n)
        }),
        ("endswith", Word::text.endswith(needle), |t, n| {
            t.ends_with(n)
        }),
        ("icontains", Word::text.icontains(needle), |t, n| {
            lower(t).contains(&lower(n))
        }),
        ("istartswith", Word::text.istartswith(needle), |t, n| {
            lower(t).starts_with(&lower(n))
        }),
        ("iendswith", Word::text.iendswith(needle), |t, n| {
            lower(t).ends_with(&lower(n))
        }),
        ("iexact", Word::text.iexact(needle), |t, n| {
            lower(t) == lower(n)
        }),
    ];
    for (name, expr, pred) in cases {
        let mut got: Vec<String> = Word::objects()
            .where_(expr)
            .fetch(pool)
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect();
        let mut want: Vec<String> = stored.iter().filter(|t| pred(t, needle)).cloned().collect();
        got.sort();
        want.sort();
        prop_assert_eq!(got, want, "{} {:?}", name, needle);
    }
    Ok(())
}

fn run(pool: Pool, rt: &tokio::runtime::Runtime) {
    rt.block_on(rustango_orm::create_tables(&pool, &[Word::SCHEMA]))
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    let strategy = (proptest::collection::vec(text(), 1..12), text());
    runner
        .run(&strategy, |(stored, needle)| {
            rt.block_on(check(&pool, &stored, &needle))
        })
        .unwrap();
}

#[test]
fn lookups_match_rust_sqlite() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = rt.block_on(Pool::connect("sqlite::memory:")).unwrap();
    run(pool, &rt);
}

/// The same property on PostgreSQL (`cargo xtask test-pg`), in a database of its own.
#[cfg(feature = "__test-pg")]
#[test]
fn lookups_match_rust_postgres() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run the PostgreSQL suite with `cargo xtask test-pg`");
    let name = format!("rustango_p_{}", uuid::Uuid::new_v4().simple());
    let admin = rt
        .block_on(Pool::connect(&base))
        .expect("connect to PostgreSQL");
    rt.block_on(rustango_orm::raw::execute(
        &admin,
        &format!("CREATE DATABASE \"{name}\""),
        vec![],
    ))
    .unwrap();
    let url = match base.rsplit_once('/') {
        Some((head, _)) if head.contains("//") && head.len() > head.find("//").unwrap() + 2 => {
            format!("{head}/{name}")
        }
        _ => format!("{base}/{name}"),
    };
    let pool = rt.block_on(Pool::connect(&url)).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(pool.clone(), &rt)));
    rt.block_on(pool.close());
    let _ = rt.block_on(rustango_orm::raw::execute(
        &admin,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        vec![],
    ));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
