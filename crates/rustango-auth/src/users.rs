//! Creating users, setting and checking passwords.
//!
//! Passwords are hashed with argon2id (OWASP parameters) on a blocking thread, so a
//! login never stalls the async runtime. [`authenticate`] spends the same time on an
//! unknown username as on a wrong password (it verifies against a dummy hash), so
//! response times do not reveal which accounts exist, and it upgrades hashes made
//! with older parameters on the next successful login.

use rustango_core::Column as _;
use rustango_crypto::passwords::{self, PasswordPolicy};
use rustango_orm::Pool;

use crate::models::User;
use crate::{AuthError, Result};

/// The longest username accepted.
pub const MAX_USERNAME_LEN: usize = 150;

/// Checks a username: 1 to 150 characters of letters, digits and `@ . + - _` (Django's
/// rule), so usernames are safe in URLs, logs and admin pages.
pub fn validate_username(username: &str) -> Result<()> {
    let ok = !username.is_empty()
        && username.chars().count() <= MAX_USERNAME_LEN
        && username
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::BadUsername)
    }
}

/// Creates and saves an active user; `password: None` leaves it without a usable
/// password. The password is not checked for strength here (do that where the user
/// chooses it: [`check_password_strength`]).
pub async fn create_user(
    pool: &Pool,
    username: &str,
    email: &str,
    password: Option<&str>,
) -> Result<User> {
    validate_username(username)?;
    let mut user = User::new(username, email.trim());
    if let Some(password) = password {
        user.password = passwords::hash_password_async(password.to_owned()).await?;
    }
    save_new(pool, &mut user).await?;
    Ok(user)
}

/// Creates a staff superuser (what `manage createsuperuser` calls).
pub async fn create_superuser(
    pool: &Pool,
    username: &str,
    email: &str,
    password: &str,
) -> Result<User> {
    validate_username(username)?;
    let mut user = User::new(username, email.trim());
    user.password = passwords::hash_password_async(password.to_owned()).await?;
    user.is_staff = true;
    user.is_superuser = true;
    save_new(pool, &mut user).await?;
    Ok(user)
}

async fn save_new(pool: &Pool, user: &mut User) -> Result<()> {
    match user.save_on(pool).await {
        Ok(()) => Ok(()),
        Err(rustango_orm::Error::UniqueViolation { .. }) => Err(AuthError::UsernameTaken),
        Err(e) => Err(e.into()),
    }
}

/// The user named `username`, if any.
pub async fn get_by_username(pool: &Pool, username: &str) -> Result<Option<User>> {
    Ok(User::objects()
        .where_(User::username.eq(username))
        .first(pool)
        .await?)
}

/// The user with key `id`, if any.
pub async fn get_by_id(pool: &Pool, id: i64) -> Result<Option<User>> {
    Ok(User::objects().where_(User::id.eq(id)).first(pool).await?)
}

/// Checks `password` against the policy and the user's own name and email.
pub fn check_password_strength(user: &User, password: &str) -> Result<()> {
    let attributes = [
        user.username.as_str(),
        user.email.as_str(),
        user.first_name.as_str(),
        user.last_name.as_str(),
    ];
    PasswordPolicy::default()
        .check(password, &attributes)
        .map_err(AuthError::WeakPassword)
}

/// Hashes and stores a new password for `user` (saved). Callers choose whether to
/// check its strength first.
pub async fn set_password(pool: &Pool, user: &mut User, password: &str) -> Result<()> {
    user.password = passwords::hash_password_async(password.to_owned()).await?;
    user.save_on(pool).await?;
    Ok(())
}

/// Removes the user's usable password (sign-in by other means only).
pub async fn set_unusable_password(pool: &Pool, user: &mut User) -> Result<()> {
    user.password.clear();
    user.save_on(pool).await?;
    Ok(())
}

/// Whether `password` is the user's, in constant time with respect to the hash. A
/// user without a usable password never matches (the verification still runs, on a
/// dummy hash, so the timing is the same).
pub async fn check_password(user: &User, password: &str) -> Result<bool> {
    if !user.has_usable_password() {
        dummy_verify(password).await;
        return Ok(false);
    }
    match passwords::verify_password_async(password.to_owned(), user.password.clone()).await {
        Ok(ok) => Ok(ok),
        // A hash this version cannot read is a failed check, not a server error;
        // logged without the hash.
        Err(e) => {
            tracing::warn!(user = %user.username, error = %e, "stored password hash is unreadable");
            Ok(false)
        }
    }
}

async fn dummy_verify(password: &str) {
    let password = password.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        passwords::PasswordHasher::default().dummy_verify(&password)
    })
    .await;
}

/// The active user named `username` whose password is `password`, or `None`. Upgrades
/// an outdated hash on success. Does not record the login (see
/// [`record_login`]).
pub async fn authenticate(pool: &Pool, username: &str, password: &str) -> Result<Option<User>> {
    let Some(mut user) = get_by_username(pool, username).await? else {
        dummy_verify(password).await;
        return Ok(None);
    };
    if !check_password(&user, password).await? {
        return Ok(None);
    }
    if !user.is_active {
        return Ok(None);
    }
    if passwords::needs_rehash(&user.password)
        && let Some(id) = user.pk()
    {
        // Only the hash column: a full-row save could write back a stale row.
        user.password = passwords::hash_password_async(password.to_owned()).await?;
        User::objects()
            .where_(User::id.eq(id))
            .update()
            .set(User::password, user.password.clone())
            .execute_on(pool)
            .await?;
    }
    Ok(Some(user))
}

/// Stores the time of a successful login (which also invalidates password-reset
/// links issued before it).
pub async fn record_login(pool: &Pool, user: &mut User) -> Result<()> {
    let now = chrono::Utc::now();
    user.last_login = Some(now);
    if let Some(id) = user.pk() {
        // Only the one column: whatever else changed meanwhile (an admin deactivating
        // the account, say) is not overwritten.
        User::objects()
            .where_(User::id.eq(id))
            .update()
            .set(User::last_login, Some(now))
            .execute_on(pool)
            .await?;
    }
    Ok(())
}
