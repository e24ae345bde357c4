use rustango_orm::{Auto, Column, Error, transaction};

use crate::models::*;

fn tag(name: &str) -> Tag {
    Tag {
        id: Auto::default(),
        name: name.into(),
    }
}

backend_test!(
    async fn commit_rollback_and_savepoints(pool) {
        setup(&pool).await?;
        // Commit on Ok.
        let mut a = tag("a");
        let mut b = tag("b");
        transaction(&pool, |mut conn| async move {
            a.save_on(&mut *conn).await?;
            b.save_on(&mut *conn).await?;
            assert_eq!(Tag::objects().count(&mut *conn).await?, 2, "visible inside");
            Ok(())
        })
        .await?;
        assert_eq!(Tag::objects().count(&pool).await?, 2);

        // Roll back on Err.
        let r: Result<(), Error> = transaction(&pool, |mut conn| async move {
            tag("c").save_on(&mut *conn).await?;
            Err(Error::Unsupported("changed my mind".into()))
        })
        .await;
        assert!(matches!(r, Err(Error::Unsupported(_))));
        assert_eq!(Tag::objects().count(&pool).await?, 2, "rolled back");

        // A database error inside rolls back the earlier statements too.
        let r = transaction(&pool, |mut conn| async move {
            tag("d").save_on(&mut *conn).await?;
            tag("a").save_on(&mut *conn).await?; // unique violation
            Ok(())
        })
        .await;
        assert!(matches!(r, Err(Error::UniqueViolation { .. })), "{r:?}");
        assert!(!Tag::objects().where_(Tag::name.eq("d")).exists(&pool).await?);

        // Nested: the inner savepoint rolls back alone.
        transaction(&pool, |mut conn| async move {
            tag("outer").save_on(&mut *conn).await?;
            let inner = transaction(&mut *conn, |mut sp| async move {
                tag("inner").save_on(&mut *sp).await?;
                Err::<(), _>(Error::Unsupported("inner fails".into()))
            })
            .await;
            assert!(inner.is_err());
            transaction(&mut *conn, |mut sp| async move {
                tag("inner-ok").save_on(&mut *sp).await?;
                Ok(())
            })
            .await?;
            Ok(())
        })
        .await?;
        let names = Tag::objects().order_by(Tag::name, false).values_flat(Tag::name, &pool).await?;
        assert_eq!(names, ["a", "b", "inner-ok", "outer"]);
        Ok(())
    }
);

backend_test!(
    async fn panic_rolls_back(pool) {
        setup(&pool).await?;
        let p2 = pool.clone();
        let handle = tokio::spawn(async move {
            let _ = transaction(&p2, |mut conn| async move {
                tag("doomed").save_on(&mut *conn).await?;
                if Tag::objects().count(&mut *conn).await? == 1 {
                    panic!("boom");
                }
                Ok(())
            })
            .await;
        });
        assert!(handle.await.unwrap_err().is_panic());
        assert_eq!(Tag::objects().count(&pool).await?, 0, "rolled back on panic");
        // The pool still works afterwards.
        tag("fine").save_on(&pool).await?;
        assert_eq!(Tag::objects().count(&pool).await?, 1);
        Ok(())
    }
);
