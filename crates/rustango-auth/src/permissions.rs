//! Permissions: codenames `<model>.<action>`, given to users directly or through
//! groups, and the checks `has_perm` / `has_perms`.
//!
//! Models declared with `#[rustango(permissions)]` get the codenames `<model>.add`,
//! `<model>.change`, `<model>.delete` and `<model>.view` (the model is the struct name
//! in lowercase: `post.add`), created by [`sync_permissions`] after every `migrate`
//! (the auth app's post-migrate step). Other codenames can be created by hand with
//! [`ensure_permission`].
//!
//! Active superusers hold every permission; inactive users hold none. Anyone else
//! holds the union of their own and their groups' permissions, read in one query.

use std::collections::BTreeSet;

use rustango_core::{Column as _, Value, ValueKind};
use rustango_orm::{Executor, Pool};

use crate::models::{Group, Permission, User};
use crate::sql::Sql;
use crate::{AuthError, Result};

/// The actions every model with `permissions` gets.
pub const DEFAULT_ACTIONS: &[&str] = &["add", "change", "delete", "view"];

/// The codename prefix of a model: its struct name in lowercase.
pub fn model_label(schema: &rustango_core::ModelSchema) -> String {
    schema.name.to_ascii_lowercase()
}

/// Creates the missing default codenames of every registered model declared with
/// `permissions`; returns how many were created.
pub async fn sync_permissions(pool: &Pool) -> Result<usize> {
    let wanted: Vec<(String, String)> = rustango_core::registry::models()
        .map(|e| e.schema)
        .filter(|s| s.permissions)
        .flat_map(|s| {
            let label = model_label(s);
            DEFAULT_ACTIONS
                .iter()
                .map(move |action| (format!("{label}.{action}"), format!("Can {action} {label}")))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let existing: BTreeSet<String> = Permission::objects()
        .fetch(pool)
        .await?
        .into_iter()
        .map(|p| p.codename)
        .collect();
    let mut created = 0;
    for (codename, name) in wanted {
        if existing.contains(&codename) {
            continue;
        }
        let mut p = Permission {
            id: Default::default(),
            codename,
            name,
        };
        match p.save_on(pool).await {
            Ok(()) => created += 1,
            // Another instance migrating at the same time made it first.
            Err(rustango_orm::Error::UniqueViolation { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(created)
}

/// The permission `codename`, created with `name` if it does not exist yet.
pub async fn ensure_permission(pool: &Pool, codename: &str, name: &str) -> Result<Permission> {
    validate_codename(codename)?;
    if let Some(p) = Permission::objects()
        .where_(Permission::codename.eq(codename))
        .first(pool)
        .await?
    {
        return Ok(p);
    }
    let mut p = Permission {
        id: Default::default(),
        codename: codename.to_owned(),
        name: name.to_owned(),
    };
    match p.save_on(pool).await {
        Ok(()) => Ok(p),
        Err(rustango_orm::Error::UniqueViolation { .. }) => Ok(Permission::objects()
            .where_(Permission::codename.eq(codename))
            .get(pool)
            .await?),
        Err(e) => Err(e.into()),
    }
}

/// `<model>.<action>`: lowercase ASCII letters, digits and `_`, one dot.
pub fn validate_codename(codename: &str) -> Result<()> {
    let ok = codename.len() <= 100
        && codename.split_once('.').is_some_and(|(model, action)| {
            let part = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            };
            part(model) && part(action)
        });
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadCodename(codename.to_owned()))
    }
}

async fn permission_by_codename(pool: &Pool, codename: &str) -> Result<Permission> {
    Permission::objects()
        .where_(Permission::codename.eq(codename))
        .first(pool)
        .await?
        .ok_or_else(|| AuthError::UnknownPermission(codename.to_owned()))
}

fn saved(user: &User) -> Result<i64> {
    user.pk().ok_or(AuthError::Unsaved("user"))
}

/// Gives `user` the permission `codename` directly.
pub async fn grant(pool: &Pool, user: &User, codename: &str) -> Result<()> {
    saved(user)?;
    let p = permission_by_codename(pool, codename).await?;
    let id =
        p.id.get()
            .copied()
            .ok_or(AuthError::Unsaved("permission"))?;
    if !user.user_permissions_m2m().contains(id, pool).await? {
        user.user_permissions_m2m().add(id, pool).await?;
    }
    Ok(())
}

/// Takes the direct permission `codename` from `user` (group permissions stay).
pub async fn revoke(pool: &Pool, user: &User, codename: &str) -> Result<()> {
    saved(user)?;
    let p = permission_by_codename(pool, codename).await?;
    let id =
        p.id.get()
            .copied()
            .ok_or(AuthError::Unsaved("permission"))?;
    user.user_permissions_m2m().remove(id, pool).await?;
    Ok(())
}

/// Gives `group` the permission `codename`.
pub async fn grant_group(pool: &Pool, group: &Group, codename: &str) -> Result<()> {
    group.id.get().ok_or(AuthError::Unsaved("group"))?;
    let p = permission_by_codename(pool, codename).await?;
    let id =
        p.id.get()
            .copied()
            .ok_or(AuthError::Unsaved("permission"))?;
    if !group.permissions_m2m().contains(id, pool).await? {
        group.permissions_m2m().add(id, pool).await?;
    }
    Ok(())
}

/// Puts `user` in `group`.
pub async fn add_to_group(pool: &Pool, user: &User, group: &Group) -> Result<()> {
    saved(user)?;
    let gid = group.id.get().copied().ok_or(AuthError::Unsaved("group"))?;
    if !user.groups_m2m().contains(gid, pool).await? {
        user.groups_m2m().add(gid, pool).await?;
    }
    Ok(())
}

/// Every codename `user` holds, directly or through groups (one query). Superusers
/// get every codename that exists.
pub async fn user_permissions<'e>(
    exec: impl Executor<'e>,
    user: &User,
) -> Result<BTreeSet<String>> {
    if !user.is_active {
        return Ok(BTreeSet::new());
    }
    let target = exec.target();
    let uid = saved(user)?;
    let mut q = Sql::new(target.dialect());
    q.raw("SELECT p.")
        .ident("codename")
        .raw(" FROM ")
        .ident("auth_permission")
        .raw(" p");
    let params = if user.is_superuser {
        Vec::new()
    } else {
        q.raw(" WHERE p.")
            .ident("id")
            .raw(" IN (SELECT ")
            .ident("permission_id");
        q.raw(" FROM ")
            .ident("auth_user_permissions")
            .raw(" WHERE ")
            .ident("user_id");
        q.raw(" = ")
            .param()
            .raw(") OR p.")
            .ident("id")
            .raw(" IN (SELECT gp.");
        q.ident("permission_id")
            .raw(" FROM ")
            .ident("auth_group_permissions");
        q.raw(" gp JOIN ")
            .ident("auth_user_groups")
            .raw(" ug ON ug.")
            .ident("group_id");
        q.raw(" = gp.")
            .ident("group_id")
            .raw(" WHERE ug.")
            .ident("user_id")
            .raw(" = ");
        q.param().raw(")");
        vec![Value::I64(uid), Value::I64(uid)]
    };
    let rows = rustango_orm::raw::fetch(target, q.as_str(), params, &[ValueKind::String]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(Value::String(s)) => Some(s),
            _ => None,
        })
        .collect())
}

/// Whether `user` holds `codename` (see the [module docs](self)).
pub async fn has_perm<'e>(exec: impl Executor<'e>, user: &User, codename: &str) -> Result<bool> {
    has_perms(exec, user, &[codename]).await
}

/// Whether `user` holds every one of `codenames`.
pub async fn has_perms<'e>(
    exec: impl Executor<'e>,
    user: &User,
    codenames: &[&str],
) -> Result<bool> {
    if !user.is_active || user.pk().is_none() {
        return Ok(false);
    }
    if user.is_superuser {
        return Ok(true);
    }
    let held = user_permissions(exec, user).await?;
    Ok(codenames.iter().all(|c| held.contains(*c)))
}

#[cfg(test)]
mod tests {
    use super::validate_codename;

    #[test]
    fn codenames() {
        for ok in ["post.add", "blog_post.view", "a1.b2"] {
            assert!(validate_codename(ok).is_ok(), "{ok}");
        }
        for bad in [
            "post",
            "Post.add",
            "post.add.x",
            ".add",
            "post.",
            "post. add",
            "póst.add",
        ] {
            assert!(validate_codename(bad).is_err(), "{bad}");
        }
    }
}
