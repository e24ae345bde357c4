//! The rustango quick-start: models, embedded migrations, queries, relations,
//! transactions and signals on an in-memory SQLite database (or the PostgreSQL database
//! in `DATABASE_URL`), printing what it does.
//!
//! Run it with `cargo run -p blog`.

use blog::models::{Author, Post, Tag};
use rustango::Auto;
use rustango::core::Column as _;
use rustango::migrate::{MigrationSet, Runner, Target};
use rustango::sql::{Agg, ForeignKey, Pool};

/// A draft post by `author`.
fn draft(title: &str, author: i64, views: i32) -> Post {
    Post {
        id: Auto::default(),
        title: title.into(),
        body: format!("All about {title}."),
        status: "draft".into(),
        author: ForeignKey::from(author),
        views,
        created_at: Auto::default(),
        updated_at: Auto::default(),
        deleted_at: None,
        external_id: Auto::default(),
    }
}

#[derive(serde::Deserialize)]
struct AuthorStats {
    author: i64,
    posts: i64,
    total_views: i32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // ANCHOR: connect
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let pool = Pool::connect(&url).await?;
    let migrations = MigrationSet::from_embedded(blog::MIGRATIONS)?;
    let applied = Runner::new(&pool, &migrations)
        .migrate(&Target::Latest)
        .await?;
    // ANCHOR_END: connect
    println!(
        "connected to {:?}; {} migration(s) applied",
        pool.backend(),
        applied.len()
    );

    // ANCHOR: signals
    rustango::signals::connect_post_save::<Post, _, _>(|post, ctx| async move {
        if ctx.created {
            println!(
                "  [signal] new post #{}: {}",
                post.id.get().copied().unwrap_or(0),
                post.title
            );
        }
    });
    // ANCHOR_END: signals

    // ANCHOR: save
    let mut ada = Author {
        id: Auto::default(),
        name: "Ada".into(),
    };
    ada.save_on(&pool).await?;
    let ada_id = *ada.id.get().expect("assigned by the database");

    let mut hello = draft("Hello, rustango", ada_id, 10);
    hello.save_on(&pool).await?; // INSERT: the key is unset
    hello.status = "published".into();
    hello.save_on(&pool).await?; // UPDATE: the key is set
    // ANCHOR_END: save
    println!(
        "saved post #{} by author #{ada_id}",
        hello.id.get().copied().unwrap_or(0)
    );

    // ANCHOR: bulk
    let mut grace = Author {
        id: Auto::default(),
        name: "Grace".into(),
    };
    grace.save_on(&pool).await?;
    let grace_id = grace.id.get().copied().unwrap_or(0);
    let drafts = (1..=5)
        .map(|i| draft(&format!("Notes {i}"), grace_id, i * 3))
        .collect();
    let drafts = Post::bulk_insert_on(&pool, drafts).await?;
    // ANCHOR_END: bulk
    println!("bulk-inserted {} posts", drafts.len());

    // ANCHOR: query
    let popular = Post::objects()
        .where_(Post::views.gte(9) & Post::status.eq("draft"))
        .order_by(Post::views, true)
        .limit(3)
        .fetch(&pool)
        .await?;
    let titles: Vec<&str> = popular.iter().map(|p| p.title.as_str()).collect();
    let count = Post::objects()
        .where_(Post::title.icontains("notes"))
        .count(&pool)
        .await?;
    let avg = Post::objects().avg(Post::views, &pool).await?;
    // ANCHOR_END: query
    println!("popular drafts: {titles:?}; {count} notes; average views {avg:?}");

    // ANCHOR: aggregate
    let stats: Vec<AuthorStats> = Post::objects()
        .group_by(&[Post::author])
        .annotate(Agg::count("posts"))
        .annotate(Agg::sum(Post::views, "total_views"))
        .fetch_as(&pool)
        .await?;
    // ANCHOR_END: aggregate
    for s in &stats {
        println!(
            "  author #{}: {} posts, {} views",
            s.author, s.posts, s.total_views
        );
    }

    // ANCHOR: relations
    let with_authors = Post::objects()
        .select_related("author")
        .fetch(&pool)
        .await?;
    for p in with_authors.iter().take(2) {
        let author = p.author.loaded().map(|a| a.name.as_str()).unwrap_or("?");
        println!("  {} — by {author}", p.title);
    }
    let authors = Author::objects()
        .prefetch_related("posts")
        .fetch(&pool)
        .await?;
    for a in authors.iter() {
        let posts: Vec<&Post> = authors.children(a, "posts");
        println!("  {} wrote {} posts", a.name, posts.len());
    }
    // ANCHOR_END: relations

    // ANCHOR: m2m
    let mut rust = Tag {
        id: Auto::default(),
        name: "rust".into(),
    };
    rust.save_on(&pool).await?;
    hello
        .tags_m2m()
        .add(*rust.id.get().unwrap_or(&0), &pool)
        .await?;
    let tag_ids = hello.tags_m2m().all(&pool).await?;
    // ANCHOR_END: m2m
    println!(
        "post #{} has tags {tag_ids:?}",
        hello.id.get().copied().unwrap_or(0)
    );

    // ANCHOR: transaction
    let mut p1 = draft("Part 1", ada_id, 0);
    let mut p2 = draft("Part 2", ada_id, 0);
    rustango::sql::transaction(&pool, |mut conn| async move {
        p1.save_on(&mut *conn).await?;
        p2.save_on(&mut *conn).await?;
        Ok(())
    })
    .await?;
    // ANCHOR_END: transaction

    // ANCHOR: update_delete
    let published = Post::objects()
        .where_(Post::status.eq("draft") & Post::views.gte(12))
        .update()
        .set(Post::status, "published")
        .execute_on(&pool)
        .await?;
    hello.soft_delete_on(&pool).await?;
    let visible = Post::objects().count(&pool).await?;
    let all = Post::objects().with_deleted().count(&pool).await?;
    // ANCHOR_END: update_delete
    println!("published {published}; {visible} visible of {all} posts after a soft delete");

    // ANCHOR: errors
    match Post::objects()
        .where_(Post::title.eq("nope"))
        .get(&pool)
        .await
    {
        Err(rustango::sql::Error::DoesNotExist { model }) => {
            println!("no such {model}, as expected")
        }
        other => println!("unexpected: {other:?}"),
    }
    // ANCHOR_END: errors
    Ok(())
}
