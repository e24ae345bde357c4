use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustango_core::{Value, ValueKind};
use rustango_orm::signals::{self, DeleteContext, PostSaveContext};
use rustango_orm::{Auto, Column, Error, Pool};

use crate::models::*;

backend_test!(
    async fn constraint_violations_are_typed(pool) {
        setup(&pool).await?;
        let a = seed(&pool, 1, 0).await?[0];
        Tag { id: Auto::default(), name: "x".into() }.save_on(&pool).await?;
        let dup = Tag { id: Auto::default(), name: "x".into() }.save_on(&pool).await;
        match dup {
            Err(Error::UniqueViolation { table, constraint, .. }) => {
                assert!(table.is_some() || constraint.is_some(), "names the table or constraint");
            }
            other => panic!("expected a unique violation, got {other:?}"),
        }
        let mut p = Post::new("p", a);
        p.status = "bogus".into();
        match p.save_on(&pool).await {
            Err(Error::CheckViolation { constraint, .. }) => {
                assert_eq!(constraint.as_deref(), Some("valid_status"));
            }
            other => panic!("expected a check violation, got {other:?}"),
        }
        let sql = match pool.backend() {
            rustango_orm::DialectKind::Postgres => "INSERT INTO tags (name) VALUES ($1)",
            _ => "INSERT INTO tags (name) VALUES (?)",
        };
        let err = rustango_orm::raw::execute(&pool, sql, vec![Value::Null(ValueKind::String)]).await;
        assert!(matches!(err, Err(Error::NotNullViolation { .. })), "{err:?}");
        Ok(())
    }
);

backend_test!(
    async fn values_that_do_not_fit_are_refused(pool) {
        setup(&pool).await?;
        let a = seed(&pool, 1, 0).await?[0];
        let mut p = Post::new(&"t".repeat(201), a);
        let err = p.save_on(&pool).await;
        assert!(matches!(&err, Err(Error::InvalidValue { field, .. }) if field == "title"), "{err:?}");
        let mut p = Post::new(&"é".repeat(200), a);
        p.save_on(&pool).await?; // 200 characters fit, whatever their byte length
        let mut p = Post::new("nan", a);
        p.rating = Some(f64::NAN);
        let err = p.save_on(&pool).await;
        assert!(matches!(&err, Err(Error::InvalidValue { field, .. }) if field == "rating"), "{err:?}");
        let mut p = Post::new("nul\0", a);
        assert!(matches!(p.save_on(&pool).await, Err(Error::InvalidValue { .. })));
        assert_eq!(Post::objects().count(&pool).await?, 1, "nothing half-written");
        // User input parsed for a typed column.
        assert!(matches!(Value::parse(ValueKind::Uuid, "not-a-uuid"), Err(rustango_core::Error::InvalidValue { .. })));
        assert!(matches!(Value::parse(ValueKind::F64, "NaN"), Err(rustango_core::Error::InvalidValue { .. })));
        assert!(matches!(Value::parse(ValueKind::I32, "99999999999"), Err(rustango_core::Error::InvalidValue { .. })));
        Ok(())
    }
);

backend_test!(
    async fn signals_fire_from_save_and_delete(pool) {
        setup(&pool).await?;
        let created = Arc::new(AtomicUsize::new(0));
        let updated = Arc::new(AtomicUsize::new(0));
        let deleted = Arc::new(AtomicUsize::new(0));
        let (c, u, d) = (created.clone(), updated.clone(), deleted.clone());
        let db = pool.backend();
        let post_id = signals::connect_post_save::<Signalled, _, _>(move |s, ctx: PostSaveContext| {
            let (c, u) = (c.clone(), u.clone());
            async move {
                // Signals are process-wide: count only this backend's rows.
                if s.name.ends_with(&format!("{db:?}")) {
                    assert!(s.id.get().is_some(), "receivers see the saved key");
                    if ctx.created { c.fetch_add(1, Ordering::SeqCst) } else { u.fetch_add(1, Ordering::SeqCst) };
                }
            }
        });
        let del_id = signals::connect_post_delete::<Signalled, _, _>(move |s, _ctx: DeleteContext| {
            let d = d.clone();
            async move {
                if s.name.ends_with(&format!("{db:?}")) {
                    d.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let mut s = Signalled { id: Auto::default(), name: format!("one {db:?}") };
        s.save_on(&pool).await?;
        s.save_on(&pool).await?;
        s.delete_on(&pool).await?;
        assert!(signals::disconnect(post_id));
        assert!(!signals::disconnect(post_id));
        Signalled { id: Auto::default(), name: format!("two {db:?}") }.save_on(&pool).await?;
        assert_eq!(created.load(Ordering::SeqCst), 1);
        assert_eq!(updated.load(Ordering::SeqCst), 1);
        assert_eq!(deleted.load(Ordering::SeqCst), 1);
        assert!(signals::disconnect(del_id));
        Ok(())
    }
);

#[tokio::test]
async fn bad_urls_are_typed_errors() {
    assert!(matches!(
        Pool::connect("mysql://nope").await,
        Err(Error::BadUrl(_))
    ));
    // A key/value connection string is not echoed: it may hold a password.
    let Err(err) = Pool::connect("host=db user=app password=s3cret dbname=app").await else {
        panic!("a key/value string is not a URL");
    };
    assert!(matches!(err, Error::BadUrl(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
    let Err(err) = Pool::connect("mysql://root:s3cret@db/app").await else {
        panic!("mysql is not a backend");
    };
    assert!(err.to_string().contains("`mysql`") && !err.to_string().contains("s3cret"));
    assert!(matches!(
        Pool::connect("sqlite://no/such/dir/x.db").await,
        Err(Error::Database { .. } | Error::ConnectionLost(_))
    ));
    #[cfg(feature = "__test-pg")]
    {
        let r = Pool::connect("postgres://postgres@127.0.0.1:1/x").await;
        assert!(
            matches!(r, Err(Error::ConnectionLost(_) | Error::Timeout(_))),
            "{r:?}"
        );
    }
    let sql = Post::objects()
        .where_(Post::id.eq(1))
        .count(&Pool::connect("sqlite::memory:").await.unwrap())
        .await;
    assert!(
        matches!(sql, Err(Error::Database { .. })),
        "missing table is a database error: {sql:?}"
    );
}

backend_test!(
    async fn timeouts_and_lost_connections_are_typed(pool) {
        setup(&pool).await?;
        match pool.backend() {
            rustango_orm::DialectKind::Postgres => {
                let r = rustango_orm::transaction(&pool, |mut conn| async move {
                    rustango_orm::raw::execute(&mut *conn, "SET LOCAL statement_timeout = 50", vec![]).await?;
                    rustango_orm::raw::execute(&mut *conn, "SELECT pg_sleep(2)", vec![]).await?;
                    Ok(())
                })
                .await;
                assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
                let r = rustango_orm::transaction(&pool, |mut conn| async move {
                    rustango_orm::raw::execute(&mut *conn, "SELECT pg_terminate_backend(pg_backend_pid())", vec![])
                        .await?;
                    Ok(())
                })
                .await;
                assert!(matches!(r, Err(Error::ConnectionLost(_))), "{r:?}");
            }
            _ => {
                // One connection, held by a transaction: the next query gives up waiting.
                let opts = rustango_orm::PoolOptions::default()
                    .acquire_timeout(std::time::Duration::from_millis(200));
                let small = Pool::connect_with("sqlite::memory:", opts).await?;
                let s2 = small.clone();
                let r = rustango_orm::transaction(&small, |_conn| async move {
                    rustango_orm::raw::execute(&s2, "SELECT 1", vec![]).await?;
                    Ok(())
                })
                .await;
                assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
                rustango_orm::raw::execute(&small, "SELECT 1", vec![]).await?;
            }
        }
        // The pool recovers.
        assert_eq!(Tag::objects().count(&pool).await?, 0);
        Ok(())
    }
);
