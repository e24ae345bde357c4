//! The auth app installed on a fresh database (SQLite, and PostgreSQL with
//! `__test-pg`): shipped migrations, users and passwords, permissions through users
//! and groups.

use rustango_auth::models::Group;
use rustango_auth::permissions::{self, has_perm, has_perms};
use rustango_auth::users;
use rustango_auth::{APP, AuthError};
use rustango_core::Auto;
use rustango_macros::Model;
use rustango_migrate::{MigrationSet, Runner, SchemaSnapshot, Target, app_label};
use rustango_orm::{Error, Pool};

/// A project model with default permissions.
#[derive(Model, Clone, Debug)]
#[rustango(table = "articles", permissions)]
pub struct Article {
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    pub title: String,
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string().into())
}

async fn install(pool: &Pool) -> Result<(), Error> {
    let set = MigrationSet::default().with_apps(&[APP]).map_err(err)?;
    Runner::new(pool, &set)
        .migrate(&Target::Latest)
        .await
        .map_err(err)?;
    APP.post_migrate(pool).await.map_err(err)?;
    Ok(())
}

#[test]
fn shipped_migrations_match_the_models() {
    let shipped = MigrationSet::from_embedded(rustango_auth::MIGRATIONS)
        .unwrap()
        .state_of_app(Some("auth"))
        .unwrap();
    let models = SchemaSnapshot::from_models(
        rustango_core::registry::models()
            .map(|e| e.schema)
            .filter(|s| app_label(s) == "auth"),
    );
    let detection = rustango_migrate::autodetect(&shipped, &models).unwrap();
    assert!(
        detection.operations.is_empty(),
        "the auth models changed without a migration: run \
         `cargo run -p rustango-auth --example auth_makemigrations`\n{:#?}",
        detection.operations
    );
}

rustango_orm::backend_test! {
    async fn users_and_passwords(pool) {
        install(&pool).await?;
        let alice = users::create_user(&pool, "alice", "alice@example.com", Some("correct horse battery"))
            .await
            .map_err(err)?;
        assert!(alice.pk().is_some());
        assert_ne!(alice.password, "correct horse battery");
        assert!(alice.password.starts_with("$argon2id$"), "{}", alice.password);

        // Taken names and bad names are typed errors.
        assert!(matches!(
            users::create_user(&pool, "alice", "", None).await,
            Err(AuthError::UsernameTaken)
        ));
        for bad in ["", "a b", "x/y", &"a".repeat(151)] {
            assert!(matches!(users::create_user(&pool, bad, "", None).await, Err(AuthError::BadUsername)), "{bad:?}");
        }

        let found = users::authenticate(&pool, "alice", "correct horse battery").await.map_err(err)?;
        assert_eq!(found.map(|u| u.username), Some("alice".to_owned()));
        assert!(users::authenticate(&pool, "alice", "wrong").await.map_err(err)?.is_none());
        assert!(users::authenticate(&pool, "nobody", "wrong").await.map_err(err)?.is_none());

        // No usable password: never matches, even the empty string.
        let bob = users::create_user(&pool, "bob", "", None).await.map_err(err)?;
        assert!(!bob.has_usable_password());
        assert!(users::authenticate(&pool, "bob", "").await.map_err(err)?.is_none());

        // Inactive accounts cannot sign in.
        let mut alice = users::get_by_username(&pool, "alice").await.map_err(err)?.unwrap();
        alice.is_active = false;
        alice.save_on(&pool).await?;
        assert!(users::authenticate(&pool, "alice", "correct horse battery").await.map_err(err)?.is_none());

        // Strength: short, common and similar-to-username passwords are refused.
        for weak in ["short", "password123", "alice2024"] {
            assert!(matches!(users::check_password_strength(&alice, weak), Err(AuthError::WeakPassword(_))), "{weak}");
        }
        users::check_password_strength(&alice, "a long and unusual phrase 7").map_err(err)?;
        Ok(())
    }
}

rustango_orm::backend_test! {
    async fn permissions_through_users_and_groups(pool) {
        install(&pool).await?;
        // The post-migrate step created the project model's codenames, once.
        let codes = rustango_auth::models::Permission::objects().fetch(&pool).await?;
        let mut names: Vec<_> = codes.iter().map(|p| p.codename.as_str()).collect();
        names.sort();
        assert_eq!(names, ["article.add", "article.change", "article.delete", "article.view"]);
        assert_eq!(permissions::sync_permissions(&pool).await.map_err(err)?, 0);

        let carol = users::create_user(&pool, "carol", "", Some("pw")).await.map_err(err)?;
        let dave = users::create_user(&pool, "dave", "", Some("pw")).await.map_err(err)?;
        assert!(!has_perm(&pool, &carol, "article.add").await.map_err(err)?);

        // ANCHOR: permissions
        // Directly.
        permissions::grant(&pool, &carol, "article.add").await.map_err(err)?;
        permissions::grant(&pool, &carol, "article.add").await.map_err(err)?; // twice is fine
        assert!(has_perm(&pool, &carol, "article.add").await.map_err(err)?);
        assert!(!has_perms(&pool, &carol, &["article.add", "article.delete"]).await.map_err(err)?);

        // Through a group.
        let mut editors = Group { id: Auto::default(), name: "editors".into() };
        editors.save_on(&pool).await?;
        permissions::grant_group(&pool, &editors, "article.delete").await.map_err(err)?;
        permissions::add_to_group(&pool, &carol, &editors).await.map_err(err)?;
        assert!(has_perms(&pool, &carol, &["article.add", "article.delete"]).await.map_err(err)?);
        assert!(!has_perm(&pool, &dave, "article.delete").await.map_err(err)?);
        // ANCHOR_END: permissions

        // Revoking a direct permission leaves the group's.
        permissions::revoke(&pool, &carol, "article.add").await.map_err(err)?;
        assert!(!has_perm(&pool, &carol, "article.add").await.map_err(err)?);
        assert!(has_perm(&pool, &carol, "article.delete").await.map_err(err)?);

        // Superusers hold everything, inactive users nothing.
        let root = users::create_superuser(&pool, "root", "root@example.com", "pw").await.map_err(err)?;
        assert!(has_perms(&pool, &root, &["article.add", "anything.else"]).await.map_err(err)?);
        let mut carol = carol;
        carol.is_active = false;
        assert!(!has_perm(&pool, &carol, "article.delete").await.map_err(err)?);

        // Unknown and malformed codenames are errors, not silent no-ops.
        assert!(matches!(
            permissions::grant(&pool, &dave, "article.publish").await,
            Err(AuthError::UnknownPermission(_))
        ));
        assert!(matches!(
            permissions::ensure_permission(&pool, "Article.Publish", "x").await,
            Err(AuthError::BadCodename(_))
        ));
        permissions::ensure_permission(&pool, "article.publish", "Can publish articles").await.map_err(err)?;
        permissions::grant(&pool, &dave, "article.publish").await.map_err(err)?;
        assert!(has_perm(&pool, &dave, "article.publish").await.map_err(err)?);
        Ok(())
    }
}
