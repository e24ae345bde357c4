use chrono::{NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use rust_decimal::Decimal;
use rustango_orm::{Auto, Column, ForeignKey};

use crate::models::*;

backend_test!(
    async fn save_inserts_then_updates(pool) {
        setup(&pool).await?;
        let mut a = Author { id: Auto::default(), name: "Ada".into(), country: None };
        a.save_on(&pool).await?;
        let id = *a.id.get().expect("id written back");
        assert!(id > 0);

        let mut p = Post::new("Hello", id);
        p.save_on(&pool).await?;
        let created = *p.created_at.get().expect("auto_now_add written back");
        let updated = *p.updated_at.get().expect("auto_now written back");
        assert!(p.external_id.get().is_some(), "auto_uuid written back");
        assert!(updated >= created);

        let stored = Post::objects().where_(Post::id.eq(*p.id.get().unwrap())).get(&pool).await?;
        assert_eq!(stored.title, "Hello");
        assert_eq!(stored.created_at, p.created_at);
        assert_eq!(stored.external_id, p.external_id);
        assert_eq!(stored.author.key(), &id);
        assert_eq!(stored.data, serde_json::json!({}));

        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        p.title = "Hello world".into();
        p.save_on(&pool).await?;
        assert_eq!(Post::objects().count(&pool).await?, 1, "update, not insert");
        let stored = Post::objects().get(&pool).await?;
        assert_eq!(stored.title, "Hello world");
        assert_eq!(stored.created_at.get(), Some(&created), "auto_now_add is immutable");
        assert!(stored.updated_at.get().unwrap() > &updated, "auto_now moves on save");

        p.delete_on(&pool).await?;
        assert!(!Post::objects().with_deleted().exists(&pool).await?);
        Ok(())
    }
);

backend_test!(
    async fn every_field_type_round_trips(pool) {
        setup(&pool).await?;
        let row = AllTypes {
            id: Auto::default(),
            small: -7,
            medium: 123_456,
            big: i64::MAX - 1,
            single: 1.5,
            double: -2.25e10,
            flag: true,
            short_text: "ten chars!".into(),
            long_text: "x".repeat(10_000),
            maybe: None,
            day: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            clock: NaiveTime::from_hms_micro_opt(23, 59, 58, 123_456).unwrap(),
            moment: Utc.with_ymd_and_hms(2001, 9, 9, 1, 46, 40).unwrap(),
            uid: uuid::Uuid::new_v4(),
            doc: serde_json::json!({"a": [1, 2, {"b": null}], "ü": "ñ"}),
            blob: vec![0, 1, 2, 255, 0],
            price: Decimal::new(1_234_567, 2),
            maybe_price: Some(Decimal::new(-5, 1)),
        };
        let mut saved = row.clone();
        saved.save_on(&pool).await?;
        let back = AllTypes::objects().get(&pool).await?;
        assert_eq!(back.id, saved.id);
        assert_eq!(AllTypes { id: Auto::default(), ..back.clone() }, row);
        // Typed comparisons on each kind.
        assert_eq!(AllTypes::objects().where_(AllTypes::price.gt(Decimal::new(100, 0))).count(&pool).await?, 1);
        assert_eq!(AllTypes::objects().where_(AllTypes::uid.eq(row.uid)).count(&pool).await?, 1);
        assert_eq!(AllTypes::objects().where_(AllTypes::moment.lt(Utc::now())).count(&pool).await?, 1);
        assert_eq!(AllTypes::objects().where_(AllTypes::flag.eq(true)).count(&pool).await?, 1);
        assert_eq!(AllTypes::objects().where_(AllTypes::maybe.is_null()).count(&pool).await?, 1);
        assert_eq!(AllTypes::objects().where_(AllTypes::day.eq(row.day)).count(&pool).await?, 1);
        Ok(())
    }
);

backend_test!(
    async fn caller_chosen_primary_key_inserts_then_updates(pool) {
        setup(&pool).await?;
        let mut s = Setting { key: "theme".into(), value: "dark".into() };
        s.save_on(&pool).await?;
        s.value = "light".into();
        s.save_on(&pool).await?;
        let all = Setting::objects().fetch(&pool).await?;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].value, "light");
        Ok(())
    }
);

backend_test!(
    async fn bulk_insert_assigns_keys(pool) {
        setup(&pool).await?;
        let authors: Vec<Author> = (0..1000)
            .map(|i| Author { id: Auto::default(), name: format!("a{i}"), country: None })
            .collect();
        let saved = Author::bulk_insert_on(&pool, authors).await?;
        assert_eq!(saved.len(), 1000);
        let ids: Vec<i64> = saved.iter().map(|a| *a.id.get().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000, "distinct ids");
        let fetched = Author::objects().where_(Author::id.eq(ids[500])).get(&pool).await?;
        assert_eq!(fetched.name, "a500");
        assert_eq!(Author::objects().count(&pool).await?, 1000);
        Ok(())
    }
);

backend_test!(
    async fn upsert_updates_on_conflict(pool) {
        setup(&pool).await?;
        let mut t = Tag { id: Auto::default(), name: "rust".into() };
        t.upsert_on(&pool, &["name"]).await?;
        let first = *t.id.get().unwrap();
        let mut again = Tag { id: Auto::default(), name: "rust".into() };
        again.upsert_on(&pool, &["name"]).await?;
        assert_eq!(again.id.get(), Some(&first), "existing row's key written back");
        assert_eq!(Tag::objects().count(&pool).await?, 1);

        let a = seed(&pool, 1, 0).await?[0];
        let mut p = Post::new("one", a);
        p.save_on(&pool).await?;
        let ext = *p.external_id.get().unwrap();
        let mut copy = Post::new("changed", a);
        copy.external_id = Auto::Set(ext);
        copy.upsert_on(&pool, &["external_id"]).await?;
        assert_eq!(copy.id, p.id);
        let stored = Post::objects().get(&pool).await?;
        assert_eq!(stored.title, "changed");
        assert_eq!(stored.created_at, p.created_at, "creation time kept");
        assert!(matches!(
            copy.upsert_on(&pool, &["nope"]).await,
            Err(rustango_orm::Error::UnknownField { .. })
        ));
        Ok(())
    }
);

backend_test!(
    async fn soft_delete_and_restore(pool) {
        setup(&pool).await?;
        seed(&pool, 1, 3).await?;
        let mut p = Post::objects().order_by(Post::id, false).first(&pool).await?.unwrap();
        p.soft_delete_on(&pool).await?;
        assert!(p.deleted_at.is_some());
        assert_eq!(Post::objects().count(&pool).await?, 2, "soft-deleted rows excluded");
        assert_eq!(Post::objects().with_deleted().count(&pool).await?, 3);
        assert_eq!(Post::objects().only_deleted().count(&pool).await?, 1);
        p.restore_on(&pool).await?;
        assert!(p.deleted_at.is_none());
        assert_eq!(Post::objects().count(&pool).await?, 3);
        assert_eq!(Post::objects().where_(Post::views.gte(1)).soft_delete(&pool).await?, 2);
        assert_eq!(Post::objects().count(&pool).await?, 1);
        let mut a = Author::objects().get(&pool).await?;
        assert!(matches!(
            a.soft_delete_on(&pool).await,
            Err(rustango_orm::Error::Unsupported(_))
        ));
        Ok(())
    }
);

backend_test!(
    async fn bulk_update_and_delete(pool) {
        setup(&pool).await?;
        seed(&pool, 2, 5).await?;
        let n = Post::objects()
            .where_(Post::status.eq("draft"))
            .where_(Post::views.lt(3))
            .update()
            .set(Post::status, "published")
            .set(Post::rating, Some(4.5))
            .execute_on(&pool)
            .await?;
        assert_eq!(n, 3);
        assert_eq!(Post::objects().where_(Post::status.eq("published")).count(&pool).await?, 3);
        assert_eq!(Post::objects().where_(Post::rating.eq(4.5)).count(&pool).await?, 3);
        let n = Post::objects().update().set(Post::rating, None).execute_on(&pool).await?;
        assert_eq!(n, 10);
        assert_eq!(Post::objects().where_(Post::rating.is_null()).count(&pool).await?, 10);
        assert_eq!(Post::objects().where_(Post::views.gte(10)).delete(&pool).await?, 5);
        assert_eq!(Post::objects().count(&pool).await?, 5);
        // Too long for max_length: refused before it reaches the database.
        let err = Post::objects().update().set(Post::status, "x".repeat(21)).execute_on(&pool).await;
        assert!(matches!(err, Err(rustango_orm::Error::InvalidValue { .. })), "{err:?}");
        let _ = ForeignKey::<Author>::from(1);
        Ok(())
    }
);

backend_test!(
    async fn saves_with_nothing_to_update_still_insert(pool) {
        setup(&pool).await?;
        let mut c = Code { code: "A1".into(), created: Auto::default() };
        c.save_on(&pool).await?;
        assert_eq!(Code::objects().count(&pool).await?, 1, "inserted although only the key is set");
        let created = c.created;
        c.save_on(&pool).await?;
        assert_eq!(Code::objects().count(&pool).await?, 1, "second save finds the row");
        assert_eq!(Code::objects().get(&pool).await?.created, created);
        let markers = Marker::bulk_insert_on(&pool, vec![Marker { id: Auto::default() }; 3]).await?;
        assert_eq!(Marker::objects().count(&pool).await?, 3, "one row per marker");
        let mut ids: Vec<i64> = markers.iter().map(|m| *m.id.get().expect("key")).collect();
        ids.dedup();
        assert_eq!(ids.len(), 3);
        Ok(())
    }
);

backend_test!(
    async fn stored_values_are_the_same_on_every_backend(pool) {
        setup(&pool).await?;
        let base = AllTypes {
            id: Auto::default(),
            small: 20_000,
            medium: 1,
            big: 1,
            single: 0.0,
            double: 0.0,
            flag: false,
            short_text: String::new(),
            long_text: String::new(),
            maybe: None,
            day: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            clock: NaiveTime::from_hms_nano_opt(1, 2, 3, 123_456_789).unwrap(),
            moment: Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap(),
            uid: uuid::Uuid::nil(),
            doc: serde_json::json!(null),
            blob: vec![],
            price: Decimal::new(1005, 3), // 1.005 into NUMERIC(12, 2)
            maybe_price: None,
        };
        let rows = vec![base.clone(), base.clone(), base.clone()];
        AllTypes::bulk_insert_on(&pool, rows).await?;
        // Integer sums are i64: three smallints past 32767 do not overflow.
        assert_eq!(AllTypes::objects().sum(AllTypes::small, &pool).await?, Some(60_000_i64));
        let back = AllTypes::objects().first(&pool).await?.unwrap();
        assert_eq!(back.moment.timestamp_subsec_nanos(), 123_456_000, "microseconds everywhere");
        assert_eq!(back.clock.nanosecond(), 123_456_000);
        assert_eq!(back.price, Decimal::new(101, 2), "rounded half away from zero to 2 places");
        let mut too_big = base.clone();
        too_big.price = Decimal::new(100_000_000_000, 0); // 12 digits, 10 allowed
        let err = too_big.save_on(&pool).await;
        assert!(matches!(&err, Err(rustango_orm::Error::InvalidValue { field, .. }) if field == "price"), "{err:?}");
        Ok(())
    }
);
