use futures_util::StreamExt;
use rustango_orm::{Agg, Column, Error, Expr};

use crate::models::*;

async fn titles(
    qs: rustango_orm::QuerySet<Post>,
    pool: &rustango_orm::Pool,
) -> Result<Vec<String>, Error> {
    Ok(qs
        .order_by(Post::id, false)
        .fetch(pool)
        .await?
        .into_iter()
        .map(|p| p.title)
        .collect())
}

async fn posts_titled(pool: &rustango_orm::Pool, names: &[&str]) -> Result<(), Error> {
    let a = seed(pool, 1, 0).await?[0];
    let rows: Vec<Post> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut p = Post::new(n, a);
            p.views = i as i32;
            p
        })
        .collect();
    Post::bulk_insert_on(pool, rows).await?;
    Ok(())
}

async fn posts_titled_more(pool: &rustango_orm::Pool, names: &[&str]) -> Result<(), Error> {
    let a = Author::objects().first(pool).await?.expect("an author").id;
    let rows: Vec<Post> = names
        .iter()
        .map(|n| Post::new(n, *a.get().unwrap()))
        .collect();
    Post::bulk_insert_on(pool, rows).await?;
    Ok(())
}

backend_test!(
    async fn comparison_and_pattern_lookups(pool) {
        setup(&pool).await?;
        posts_titled(&pool, &["Alpha", "beta", "Gamma ray", "alphabet", "delta"]).await?;
        let q = || Post::objects();
        assert_eq!(titles(q().where_(Post::title.eq("beta")), &pool).await?, ["beta"]);
        assert_eq!(titles(q().where_(Post::title.ne("beta")), &pool).await?.len(), 4);
        assert_eq!(titles(q().where_(Post::views.gt(3)), &pool).await?, ["delta"]);
        assert_eq!(titles(q().where_(Post::views.gte(3)), &pool).await?, ["alphabet", "delta"]);
        assert_eq!(titles(q().where_(Post::views.lt(1)), &pool).await?, ["Alpha"]);
        assert_eq!(titles(q().where_(Post::views.lte(1)), &pool).await?, ["Alpha", "beta"]);
        assert_eq!(titles(q().where_(Post::views.in_(&[0, 4])), &pool).await?, ["Alpha", "delta"]);
        assert_eq!(titles(q().where_(Post::views.not_in(&[0, 1, 2])), &pool).await?, ["alphabet", "delta"]);
        assert!(titles(q().where_(Post::views.in_::<i32>(&[])), &pool).await?.is_empty());
        assert_eq!(titles(q().where_(Post::views.not_in::<i32>(&[])), &pool).await?.len(), 5);
        assert_eq!(titles(q().where_(Post::views.range(1, 3)), &pool).await?, ["beta", "Gamma ray", "alphabet"]);
        assert_eq!(titles(q().where_(Post::title.contains("lpha")), &pool).await?, ["Alpha", "alphabet"]);
        assert_eq!(titles(q().where_(Post::title.contains("ALPHA")), &pool).await?, Vec::<String>::new());
        assert_eq!(titles(q().where_(Post::title.icontains("ALPHA")), &pool).await?, ["Alpha", "alphabet"]);
        assert_eq!(titles(q().where_(Post::title.startswith("al")), &pool).await?, ["alphabet"]);
        assert_eq!(titles(q().where_(Post::title.istartswith("al")), &pool).await?, ["Alpha", "alphabet"]);
        assert_eq!(titles(q().where_(Post::title.endswith("ray")), &pool).await?, ["Gamma ray"]);
        assert_eq!(titles(q().where_(Post::title.iendswith("RAY")), &pool).await?, ["Gamma ray"]);
        assert_eq!(titles(q().where_(Post::title.iexact("BETA")), &pool).await?, ["beta"]);
        assert_eq!(titles(q().where_(Post::rating.is_null()), &pool).await?.len(), 5);
        // Case folding beyond ASCII, the same on every backend.
        posts_titled_more(&pool, &["Über alles", "ÉCOLE"]).await?;
        assert_eq!(titles(q().where_(Post::title.icontains("über")), &pool).await?, ["Über alles"]);
        assert_eq!(titles(q().where_(Post::title.istartswith("éc")), &pool).await?, ["ÉCOLE"]);
        assert_eq!(titles(q().where_(Post::title.iexact("école")), &pool).await?, ["ÉCOLE"]);
        assert!(titles(q().where_(Post::title.contains("über")), &pool).await?.is_empty());
        assert!(titles(q().where_(Post::rating.is_not_null()), &pool).await?.is_empty());
        Ok(())
    }
);

backend_test!(
    async fn q_combinators_f_expressions_and_exclude(pool) {
        setup(&pool).await?;
        posts_titled(&pool, &["a", "b", "c", "d"]).await?;
        let q = || Post::objects();
        let either = Post::title.eq("a") | Post::title.eq("d");
        assert_eq!(titles(q().where_(either.clone()), &pool).await?, ["a", "d"]);
        assert_eq!(titles(q().where_(!either.clone()), &pool).await?, ["b", "c"]);
        assert_eq!(titles(q().exclude(either), &pool).await?, ["b", "c"]);
        let both = Post::views.gte(1) & Post::views.lte(2);
        assert_eq!(titles(q().where_(both), &pool).await?, ["b", "c"]);
        assert_eq!(titles(q().where_(Expr::any([])), &pool).await?, Vec::<String>::new());
        assert_eq!(titles(q().where_(Expr::all([])), &pool).await?.len(), 4);
        // F: compare two columns of the row.
        Post::objects().where_(Post::title.eq("c")).update().set(Post::body, "c").execute_on(&pool).await?;
        let created_before_update = q().where_(Post::updated_at.gte_col(Post::created_at)).count(&pool).await?;
        assert_eq!(created_before_update, 4);
        assert_eq!(titles(q().where_(Post::title.eq_col(Post::body)), &pool).await?, ["c"]);
        assert_eq!(titles(q().where_(Post::title.ne_col(Post::body)), &pool).await?.len(), 3);
        assert_eq!(titles(q().where_(Post::views.eq_col(Post::views)), &pool).await?.len(), 4);
        Ok(())
    }
);

backend_test!(
    async fn ordering_slicing_and_pages(pool) {
        setup(&pool).await?;
        seed(&pool, 3, 4).await?;
        let all = Post::objects()
            .order_by(Post::author, true)
            .order_by(Post::views, false)
            .fetch(&pool)
            .await?;
        assert_eq!(all.len(), 12);
        assert_eq!(all[0].title, "post 002-00");
        assert_eq!(all[11].title, "post 000-03");
        let page2 = Post::objects().order_by(Post::id, false).page(2, 5).fetch(&pool).await?;
        assert_eq!(page2.len(), 5);
        assert_eq!(page2[0].title, "post 001-01");
        let page3 = Post::objects().order_by(Post::id, false).page(3, 5).fetch(&pool).await?;
        assert_eq!(page3.len(), 2);
        let tail = Post::objects().order_by(Post::id, false).offset(10).fetch(&pool).await?;
        assert_eq!(tail.len(), 2);
        assert_eq!(Post::objects().limit(5).offset(10).count(&pool).await?, 2);
        let names = Post::objects().order_by_names(&["-views"]).limit(1).fetch(&pool).await?;
        assert_eq!(names[0].views, 23);
        assert!(matches!(
            Post::objects().order_by_names(&["nope"]).fetch(&pool).await,
            Err(Error::UnknownField { .. })
        ));
        let authors = Post::objects().distinct().values_list(&["author"], &pool).await?;
        assert_eq!(authors.len(), 3, "distinct");
        Ok(())
    }
);

backend_test!(
    async fn count_exists_first_get(pool) {
        setup(&pool).await?;
        assert!(!Post::objects().exists(&pool).await?);
        assert!(Post::objects().first(&pool).await?.is_none());
        assert!(matches!(Post::objects().get(&pool).await, Err(Error::DoesNotExist { model: "Post" })));
        seed(&pool, 1, 2).await?;
        assert!(Post::objects().exists(&pool).await?);
        assert_eq!(Post::objects().count(&pool).await?, 2);
        assert_eq!(Post::objects().first(&pool).await?.unwrap().title, "post 000-00");
        assert!(matches!(
            Post::objects().get(&pool).await,
            Err(Error::MultipleObjectsReturned { model: "Post" })
        ));
        assert_eq!(Post::objects().where_(Post::views.eq(1)).get(&pool).await?.title, "post 000-01");
        Ok(())
    }
);

#[derive(serde::Deserialize, Debug, PartialEq)]
struct PerAuthor {
    author: i64,
    n: i64,
    total: i64,
    mean: f64,
}

backend_test!(
    async fn aggregates_and_group_by(pool) {
        setup(&pool).await?;
        assert_eq!(Post::objects().sum(Post::views, &pool).await?, None);
        assert_eq!(Post::objects().avg(Post::views, &pool).await?, None);
        let ids = seed(&pool, 2, 3).await?;
        // views: 0,1,2 and 10,11,12
        assert_eq!(Post::objects().sum(Post::views, &pool).await?, Some(36));
        assert_eq!(Post::objects().avg(Post::views, &pool).await?, Some(6.0));
        assert_eq!(Post::objects().min(Post::views, &pool).await?, Some(0));
        assert_eq!(Post::objects().max(Post::views, &pool).await?, Some(12));
        assert_eq!(Post::objects().max(Post::title, &pool).await?.as_deref(), Some("post 001-02"));
        assert_eq!(Post::objects().where_(Post::author.eq(ids[1])).count(&pool).await?, 3);
        let rows: Vec<PerAuthor> = Post::objects()
            .group_by(&[Post::author])
            .annotate(Agg::count("n"))
            .annotate(Agg::sum(Post::views, "total"))
            .annotate(Agg::avg(Post::views, "mean"))
            .fetch_as(&pool)
            .await?;
        assert_eq!(
            rows,
            vec![
                PerAuthor { author: ids[0], n: 3, total: 3, mean: 1.0 },
                PerAuthor { author: ids[1], n: 3, total: 33, mean: 11.0 },
            ]
        );
        let json = Post::objects()
            .where_(Post::views.gt(0))
            .group_by(&[Post::author])
            .annotate(Agg::max(Post::views, "top"))
            .order_by(Post::author, true)
            .fetch_json(&pool)
            .await?;
        assert_eq!(json[0]["top"], serde_json::json!(12));
        assert_eq!(json[1]["top"], serde_json::json!(2));
        Ok(())
    }
);

backend_test!(
    async fn values_and_values_list(pool) {
        setup(&pool).await?;
        seed(&pool, 1, 2).await?;
        let v = Post::objects().order_by(Post::id, false).values(&["title", "views"], &pool).await?;
        assert_eq!(v[1]["title"], serde_json::json!("post 000-01"));
        assert_eq!(v[1]["views"], serde_json::json!(1));
        assert_eq!(v[0].len(), 2);
        let l = Post::objects().order_by(Post::id, true).values_list(&["views"], &pool).await?;
        assert_eq!(l, vec![vec![rustango_orm::Value::I32(1)], vec![rustango_orm::Value::I32(0)]]);
        let flat: Vec<String> = Post::objects().order_by(Post::id, false).values_flat(Post::title, &pool).await?;
        assert_eq!(flat, ["post 000-00", "post 000-01"]);
        assert!(matches!(
            Post::objects().values(&["password"], &pool).await,
            Err(Error::UnknownField { .. })
        ));
        Ok(())
    }
);

backend_test!(
    async fn streaming_fetch(pool) {
        setup(&pool).await?;
        seed(&pool, 10, 100).await?;
        let mut stream = std::pin::pin!(Post::objects().order_by(Post::id, false).fetch_stream(&pool));
        let mut n = 0;
        let mut last = 0;
        while let Some(p) = stream.next().await {
            let p = p?;
            let id = *p.id.get().unwrap();
            assert!(id > last, "ordered");
            last = id;
            n += 1;
        }
        assert_eq!(n, 1000);
        let bad: Vec<_> = Post::objects().select_related("nope").fetch_stream(&pool).collect().await;
        assert!(matches!(bad.as_slice(), [Err(Error::UnknownField { .. })]));
        Ok(())
    }
);

backend_test!(
    async fn hostile_lookup_values_match_literally(pool) {
        setup(&pool).await?;
        let hostile = [
            "it's",
            "50% off",
            "under_score",
            r"back\slash",
            "quote\"s",
            "'; DROP TABLE posts; --",
            "ünïcödé 🦀",
            "[glob*?]",
            "bang!",
        ];
        posts_titled(&pool, &hostile).await?;
        let q = || Post::objects();
        for h in hostile {
            assert_eq!(titles(q().where_(Post::title.eq(h)), &pool).await?, [h], "eq {h}");
            assert_eq!(titles(q().where_(Post::title.contains(h)), &pool).await?, [h], "contains {h}");
            assert_eq!(titles(q().where_(Post::title.icontains(h)), &pool).await?, [h], "icontains {h}");
            assert_eq!(titles(q().where_(Post::title.startswith(h)), &pool).await?, [h], "startswith {h}");
            assert_eq!(titles(q().where_(Post::title.endswith(h)), &pool).await?, [h], "endswith {h}");
        }
        assert_eq!(titles(q().where_(Post::title.contains("%")), &pool).await?, ["50% off"]);
        assert_eq!(titles(q().where_(Post::title.contains("_")), &pool).await?, ["under_score"]);
        assert_eq!(titles(q().where_(Post::title.contains("\\")), &pool).await?, [r"back\slash"]);
        assert_eq!(titles(q().where_(Post::title.contains("*")), &pool).await?, ["[glob*?]"]);
        assert_eq!(titles(q().where_(Post::title.contains("!")), &pool).await?, ["bang!"]);
        let big = "é".repeat(5_000);
        assert!(titles(q().where_(Post::title.contains(big.as_str())), &pool).await?.is_empty());
        assert!(titles(q().where_(Post::body.eq(big.as_str())), &pool).await?.is_empty());
        let nul = q().where_(Post::title.contains("a\0b")).fetch(&pool).await;
        assert!(matches!(nul, Err(Error::InvalidValue { .. })), "{nul:?}");
        assert_eq!(Post::objects().count(&pool).await?, 9, "table intact");
        Ok(())
    }
);

backend_test!(
    async fn negations_keep_null_rows_as_django_does(pool) {
        setup(&pool).await?;
        posts_titled(&pool, &["none", "low", "high"]).await?;
        Post::objects().where_(Post::title.eq("low")).update().set(Post::rating, Some(2.0)).execute_on(&pool).await?;
        Post::objects().where_(Post::title.eq("high")).update().set(Post::rating, Some(5.0)).execute_on(&pool).await?;
        assert_eq!(titles(Post::objects().exclude(Post::rating.gt(3.0)), &pool).await?, ["none", "low"]);
        assert_eq!(titles(Post::objects().where_(!Post::rating.gt(3.0)), &pool).await?, ["none", "low"]);
        assert_eq!(titles(Post::objects().where_(Post::rating.gt(3.0)), &pool).await?, ["high"]);
        assert_eq!(titles(Post::objects().exclude(Post::rating.in_(&[2.0])), &pool).await?, ["none", "high"]);
        assert_eq!(titles(Post::objects().exclude(Post::rating.is_null()), &pool).await?, ["low", "high"]);
        assert_eq!(Post::objects().exclude(Post::rating.gt(3.0)).count(&pool).await?, 2);
        Ok(())
    }
);
