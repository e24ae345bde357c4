use rustango_orm::{Auto, Column, Error, ForeignKey};

use crate::models::*;

async fn country(pool: &rustango_orm::Pool, name: &str) -> Result<i64, Error> {
    let mut c = Country {
        id: Auto::default(),
        name: name.into(),
    };
    c.save_on(pool).await?;
    Ok(*c.id.get().unwrap())
}

backend_test!(
    async fn select_related_loads_without_extra_queries(pool) {
        setup(&pool).await?;
        let ids = seed(&pool, 10, 10).await?;
        let fr = country(&pool, "France").await?;
        Author::objects()
            .where_(Author::id.in_(&ids[..5]))
            .update()
            .set(Author::country, Some(ForeignKey::from(fr)))
            .execute_on(&pool)
            .await?;

        let before = pool.query_count();
        let posts = Post::objects()
            .select_related("author__country")
            .where_(Post::views.gte(0))
            .order_by(Post::id, false)
            .fetch(&pool)
            .await?;
        assert_eq!(pool.query_count() - before, 1, "one query for 100 rows and two hops");
        assert_eq!(posts.len(), 100);
        for p in &posts {
            let author = p.author.loaded().expect("author joined");
            assert_eq!(author.id.get(), Some(p.author.key()));
            if let Some(c) = &author.country {
                assert_eq!(c.loaded().expect("country joined").name, "France");
            }
        }
        let with_country = posts
            .iter()
            .filter(|p| p.author.loaded().unwrap().country.is_some())
            .count();
        assert_eq!(with_country, 50);

        // Without select_related the key is there but nothing is loaded; `get` loads it.
        let mut plain = Post::objects().first(&pool).await?.unwrap();
        assert!(plain.author.loaded().is_none());
        let before = pool.query_count();
        let name = plain.author.get(&pool).await?.name.clone();
        assert_eq!(name, "author 000");
        plain.author.get(&pool).await?;
        assert_eq!(pool.query_count() - before, 1, "lazy load once, then cached");

        assert!(matches!(
            Post::objects().select_related("title").fetch(&pool).await,
            Err(Error::UnknownField { .. })
        ));
        assert!(matches!(
            Post::objects().select_related("author__nope").fetch(&pool).await,
            Err(Error::UnknownField { .. })
        ));
        Ok(())
    }
);

backend_test!(
    async fn prefetch_reverse_fk_and_m2m_in_one_query_each(pool) {
        setup(&pool).await?;
        seed(&pool, 100, 3).await?;
        let tags = Tag::bulk_insert_on(
            &pool,
            (0..3).map(|i| Tag { id: Auto::default(), name: format!("t{i}") }).collect(),
        )
        .await?;
        let tag_ids: Vec<i64> = tags.iter().map(|t| *t.id.get().unwrap()).collect();
        for p in Post::objects().where_(Post::views.lt(50)).fetch(&pool).await? {
            p.tags_m2m().set(&tag_ids[..2], &pool).await?;
        }

        let before = pool.query_count();
        let authors = Author::objects().order_by(Author::id, false).prefetch_related("posts").fetch(&pool).await?;
        assert_eq!(pool.query_count() - before, 2, "authors + one query for all their posts");
        assert_eq!(authors.len(), 100);
        for a in authors.iter() {
            let posts: Vec<&Post> = authors.children(a, "posts");
            assert_eq!(posts.len(), 3);
            assert!(posts.iter().all(|p| p.author.key() == a.id.get().unwrap()));
        }

        let before = pool.query_count();
        let posts = Post::objects()
            .order_by(Post::id, false)
            .prefetch_related("tags")
            .prefetch_related("author_missing_is_an_error_below")
            .fetch(&pool)
            .await;
        assert!(matches!(posts, Err(Error::UnknownField { .. })));
        assert_eq!(pool.query_count(), before, "names are checked before any query");

        let before = pool.query_count();
        let posts = Post::objects().order_by(Post::id, false).prefetch_related("tags").fetch(&pool).await?;
        assert_eq!(pool.query_count() - before, 2);
        let tagged = posts.iter().filter(|p| posts.m2m_ids(p, "tags") == tag_ids[..2]).count();
        assert_eq!(tagged, Post::objects().where_(Post::views.lt(50)).count(&pool).await? as usize);
        Ok(())
    }
);

backend_test!(
    async fn many_to_many_manager(pool) {
        setup(&pool).await?;
        let a = seed(&pool, 1, 1).await?[0];
        let _ = a;
        let tags = Tag::bulk_insert_on(
            &pool,
            (0..4).map(|i| Tag { id: Auto::default(), name: format!("t{i}") }).collect(),
        )
        .await?;
        let t: Vec<i64> = tags.iter().map(|t| *t.id.get().unwrap()).collect();
        let post = Post::objects().get(&pool).await?;
        let m = post.tags_m2m();
        assert!(m.all(&pool).await?.is_empty());
        m.add(t[0], &pool).await?;
        m.add(t[1], &pool).await?;
        m.add(t[1], &pool).await?; // idempotent
        assert_eq!(m.all(&pool).await?, vec![t[0], t[1]]);
        assert!(m.contains(t[1], &pool).await?);
        m.remove(t[1], &pool).await?;
        assert!(!m.contains(t[1], &pool).await?);
        m.set(&[t[2], t[3], t[0]], &pool).await?;
        assert_eq!(m.all(&pool).await?, vec![t[0], t[2], t[3]]);
        assert_eq!(m.count(&pool).await?, 3);
        // Keys given as `i32` (an unsuffixed literal) are widened to the key column's type.
        let small = i32::try_from(t[2]).expect("small id");
        assert!(m.contains(small, &pool).await?);
        m.remove(small, &pool).await?;
        m.add(small, &pool).await?;
        assert_eq!(m.all(&pool).await?, vec![t[0], t[2], t[3]]);
        m.clear(&pool).await?;
        assert_eq!(m.count(&pool).await?, 0);
        // Deleting either side cascades to the junction rows.
        m.set(&t, &pool).await?;
        tags[0].delete_on(&pool).await?;
        assert_eq!(m.count(&pool).await?, 3);
        post.delete_on(&pool).await?;
        let left = rustango_orm::raw::fetch(&pool, "SELECT COUNT(*) FROM post_tags", vec![], &[rustango_core::ValueKind::I64]).await?;
        assert_eq!(left[0][0], rustango_orm::Value::I64(0));
        // A linked key that is no row is a foreign-key error.
        let mut p2 = Post::new("x", a);
        p2.save_on(&pool).await?;
        let err = p2.tags_m2m().add(999_999i64, &pool).await;
        assert!(matches!(err, Err(Error::ForeignKeyViolation { .. })), "{err:?}");
        // An unsaved row has no key to link.
        let unsaved = Post::new("y", a);
        assert!(matches!(unsaved.tags_m2m().all(&pool).await, Err(Error::Unsupported(_))));
        Ok(())
    }
);

backend_test!(
    async fn foreign_key_rules(pool) {
        setup(&pool).await?;
        let fr = country(&pool, "France").await?;
        let mut a = Author { id: Auto::default(), name: "A".into(), country: Some(ForeignKey::from(fr)) };
        a.save_on(&pool).await?;
        let aid = *a.id.get().unwrap();
        Post::new("p", aid).save_on(&pool).await?;
        // on_delete = set_null
        Country::objects().delete(&pool).await?;
        assert!(Author::objects().get(&pool).await?.country.is_none());
        // default on_delete = cascade
        a.delete_on(&pool).await?;
        assert_eq!(Post::objects().with_deleted().count(&pool).await?, 0);
        // a key pointing at no row
        let err = Post::new("orphan", 424_242).save_on(&pool).await;
        assert!(matches!(err, Err(Error::ForeignKeyViolation { .. })), "{err:?}");
        Ok(())
    }
);
