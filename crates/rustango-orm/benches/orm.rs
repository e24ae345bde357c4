//! ORM vs hand-written sqlx `query_as` on the same pool, in the same run.
//!
//! `cargo bench -p rustango-orm` runs SQLite; with `DATABASE_URL=postgres://…` and
//! `--features postgres` it runs PostgreSQL too. After the criterion output it prints
//! the ratio ORM/raw of each case (target: at most 1.05).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use rustango_macros::Model;
use rustango_orm::{Auto, Column, ForeignKey, Pool};

#[derive(Model, Clone, Debug)]
#[rustango(table = "bench_authors")]
pub struct Author {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    pub name: String,
}

#[derive(Model, Clone, Debug)]
#[rustango(table = "bench_posts")]
pub struct Post {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    pub title: String,
    pub body: String,
    pub views: i32,
    pub author: ForeignKey<Author>,
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct RawPost {
    id: i64,
    title: String,
    body: String,
    views: i32,
    author_id: i64,
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct RawPostAuthor {
    id: i64,
    title: String,
    body: String,
    views: i32,
    author_id: i64,
    a_id: Option<i64>,
    a_name: Option<String>,
}

fn post(i: i64, author: i64) -> Post {
    Post {
        id: Auto::default(),
        title: format!("post {i}"),
        body: "lorem ipsum dolor sit amet ".repeat(8),
        views: (i % 500) as i32,
        author: ForeignKey::from(author),
    }
}

async fn setup(url: &str) -> Pool {
    let pool = Pool::connect(url).await.expect("connect");
    rustango_orm::drop_tables(&pool, &[Post::SCHEMA, Author::SCHEMA])
        .await
        .expect("drop");
    rustango_orm::create_tables(&pool, &[Author::SCHEMA, Post::SCHEMA])
        .await
        .expect("create");
    let authors = (0..50)
        .map(|i| Author {
            id: Auto::default(),
            name: format!("a{i}"),
        })
        .collect();
    Author::bulk_insert_on(&pool, authors)
        .await
        .expect("authors");
    let posts = (0..2000).map(|i| post(i, 1 + i % 50)).collect();
    Post::bulk_insert_on(&pool, posts).await.expect("posts");
    pool
}

/// Runs `f` `iters` times and returns the mean time per call.
fn time<F, Fut>(rt: &tokio::runtime::Runtime, iters: u32, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    rt.block_on(async {
        for _ in 0..iters / 10 {
            f().await;
        }
        let start = Instant::now();
        for _ in 0..iters {
            f().await;
        }
        start.elapsed() / iters
    })
}

macro_rules! cases {
    ($backend:literal, $pool:ident, $raw:ident, $ph:literal, $db:ty) => {{
        let sql_one = concat!("SELECT id, title, body, views, author_id FROM bench_posts WHERE id = ", $ph);
        let sql_many = concat!(
            "SELECT id, title, body, views, author_id FROM bench_posts WHERE views >= ",
            $ph,
            " ORDER BY views DESC, id ASC LIMIT 100"
        );
        let sql_join = "SELECT p.id, p.title, p.body, p.views, p.author_id, a.id AS a_id, a.name AS a_name \
                        FROM bench_posts p LEFT JOIN bench_authors a ON a.id = p.author_id ORDER BY p.id LIMIT 100";
        let orm_one = {
            let pool = $pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let p = Post::objects().where_(Post::id.eq(777)).get(&pool).await.unwrap();
                    std::hint::black_box(p);
                }
            }
        };
        let raw_one = {
            let raw = $raw.clone();
            move || {
                let raw = raw.clone();
                async move {
                    let p: RawPost = sqlx::query_as::<$db, RawPost>(sql_one).bind(777i64).fetch_one(&raw).await.unwrap();
                    std::hint::black_box(p);
                }
            }
        };
        let orm_many = {
            let pool = $pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let v = Post::objects()
                        .where_(Post::views.gte(100))
                        .order_by(Post::views, true)
                        .order_by(Post::id, false)
                        .limit(100)
                        .fetch(&pool)
                        .await
                        .unwrap();
                    assert_eq!(v.len(), 100);
                    std::hint::black_box(v);
                }
            }
        };
        let raw_many = {
            let raw = $raw.clone();
            move || {
                let raw = raw.clone();
                async move {
                    let v: Vec<RawPost> = sqlx::query_as::<$db, RawPost>(sql_many).bind(100i32).fetch_all(&raw).await.unwrap();
                    assert_eq!(v.len(), 100);
                    std::hint::black_box(v);
                }
            }
        };
        let orm_join = {
            let pool = $pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let v = Post::objects().select_related("author").order_by(Post::id, false).limit(100).fetch(&pool).await.unwrap();
                    std::hint::black_box(v);
                }
            }
        };
        let raw_join = {
            let raw = $raw.clone();
            move || {
                let raw = raw.clone();
                async move {
                    let v: Vec<RawPostAuthor> = sqlx::query_as::<$db, RawPostAuthor>(sql_join).fetch_all(&raw).await.unwrap();
                    std::hint::black_box(v);
                }
            }
        };
        let orm_bulk = {
            let pool = $pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let rows: Vec<Post> = (0..1000).map(|i| post(i, 1)).collect();
                    let v = Post::bulk_insert_on(&pool, rows).await.unwrap();
                    std::hint::black_box(v);
                }
            }
        };
        let raw_bulk = {
            let raw = $raw.clone();
            move || {
                let raw = raw.clone();
                async move {
                    // The same result as the ORM: the caller keeps its rows, with their keys.
                    let mut rows: Vec<Post> = (0..1000).map(|i| post(i, 1)).collect();
                    let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO bench_posts (title, body, views, author_id) ");
                    qb.push_values(rows.iter(), |mut b, p| {
                        b.push_bind(p.title.clone())
                            .push_bind(p.body.clone())
                            .push_bind(p.views)
                            .push_bind(*p.author.key());
                    });
                    qb.push(" RETURNING id");
                    let ids: Vec<(i64,)> = qb.build_query_as().fetch_all(&raw).await.unwrap();
                    for (p, (id,)) in rows.iter_mut().zip(ids) {
                        p.id = Auto::Set(id);
                    }
                    std::hint::black_box(rows);
                }
            }
        };
        vec![
            (concat!($backend, "/get_by_pk"), boxed(orm_one), boxed(raw_one), 2000u32),
            (concat!($backend, "/filter_order_100"), boxed(orm_many), boxed(raw_many), 500),
            (concat!($backend, "/select_related_100"), boxed(orm_join), boxed(raw_join), 500),
            (concat!($backend, "/bulk_insert_1000"), boxed(orm_bulk), boxed(raw_bulk), 40),
        ]
    }};
}

type BoxFut = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;
/// A named case: the ORM side, the raw side and the iterations per timing round.
type Case = (
    &'static str,
    Box<dyn FnMut() -> BoxFut>,
    Box<dyn FnMut() -> BoxFut>,
    u32,
);

fn boxed<F, Fut>(mut f: F) -> Box<dyn FnMut() -> BoxFut>
where
    F: FnMut() -> Fut + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    Box::new(move || Box::pin(f()) as BoxFut)
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut all: Vec<Case> = Vec::new();

    let path = std::env::temp_dir().join(format!("rustango-bench-{}.db", std::process::id()));
    let lite = rt.block_on(setup(&format!("sqlite://{}?mode=rwc", path.display())));
    let raw = lite.as_sqlite().expect("sqlite").clone();
    all.extend(cases!("sqlite", lite, raw, "?", sqlx::Sqlite));

    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let pg = rt.block_on(setup(&url));
        let raw = pg.as_postgres().expect("postgres").clone();
        all.extend(cases!("postgres", pg, raw, "$1", sqlx::Postgres));
    }

    let mut ratios = Vec::new();
    // `BENCH_ONLY=postgres/select` runs the cases whose name contains the text.
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        all.retain(|c| c.0.contains(only.as_str()));
    }
    for (name, orm, raw, iters) in all.iter_mut() {
        let mut group = c.benchmark_group(*name);
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(3));
        group.bench_function("raw_sqlx", |b| b.to_async(&rt).iter(&mut *raw));
        group.bench_function("orm", |b| b.to_async(&rt).iter(&mut *orm));
        group.finish();
        // Interleaved rounds in alternating order, so drift on a shared machine hits
        // both sides alike; the median of the per-round ratios is reported.
        let mut rounds = Vec::new();
        let (mut o_sum, mut r_sum) = (Duration::ZERO, Duration::ZERO);
        for round in 0..9 {
            let (o, r) = if round % 2 == 0 {
                let r = time(&rt, *iters, &mut *raw);
                (time(&rt, *iters, &mut *orm), r)
            } else {
                let o = time(&rt, *iters, &mut *orm);
                (o, time(&rt, *iters, &mut *raw))
            };
            o_sum += o;
            r_sum += r;
            rounds.push(o.as_secs_f64() / r.as_secs_f64());
        }
        rounds.sort_by(f64::total_cmp);
        ratios.push((*name, o_sum / 9, r_sum / 9, rounds[4]));
    }
    println!(
        "\nORM / raw sqlx (mean per call over 9 interleaved rounds; median ratio of the rounds):"
    );
    for (name, o, r, median) in ratios {
        println!("  {name:<32} orm {o:>10.1?}  raw {r:>10.1?}  ratio {median:.3}");
    }
    let _ = std::fs::remove_file(&path);
}

criterion_group!(orm_benches, benches);

fn main() {
    orm_benches();
    Criterion::default().configure_from_args().final_summary();
}
