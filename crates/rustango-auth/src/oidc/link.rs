//! Account linking: [`SocialAccount`] rows tie a provider identity (`iss`, `sub`) to
//! a [`User`]; [`link_or_create_user`] finds or makes that user.

use chrono::Utc;
use rustango_core::Auto;
use rustango_orm::{Column as _, ForeignKey, Pool};

use super::OidcError;
use super::client::OidcIdentity;
use super::state::random_bytes;
use crate::models::User;

pub use crate::models::SocialAccount;

/// What [`link_or_create_user`] may do for an identity that is not linked yet.
///
/// ```
/// use rustango_auth::oidc::LinkPolicy;
///
/// // The default: create users, but never take over an existing account by email.
/// let open = LinkPolicy::default();
/// assert!(!open.link_verified_email && open.create_users);
/// // Only people who already have an account may sign in.
/// let invite_only = LinkPolicy { link_verified_email: true, create_users: false };
/// # let _ = invite_only;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkPolicy {
    /// Link to the existing user whose email equals (case-insensitively) the
    /// identity's email, when the provider says it verified it. Only turn this on for
    /// providers whose `email_verified` you trust.
    pub link_verified_email: bool,
    /// Create a user (with no usable password) when nothing links.
    pub create_users: bool,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        LinkPolicy {
            // Off: a provider asserting someone's email would take over their account
            // (and skip their second factor). Turn it on for providers you trust.
            link_verified_email: false,
            create_users: true,
        }
    }
}

/// Longest username base taken from an email or a subject.
const USERNAME_BASE_LEN: usize = 30;
/// Attempts at a free username before giving up.
const USERNAME_ATTEMPTS: usize = 8;

/// The user `identity` signs in as, linking or creating one as `policy` allows:
///
/// 1. an existing [`SocialAccount`] for `(issuer, subject)`: its user;
/// 2. else, with `policy.link_verified_email` and a verified email, the one user
///    with that email (case-insensitively), now linked
///    ([`OidcError::AmbiguousEmail`] if several have it);
/// 3. else, with `policy.create_users`, a new active user with no usable password,
///    a unique username derived from the email's local part (or `user`), the email
///    only if verified, the names from `given_name`/`family_name`; linked;
/// 4. else [`OidcError::SignupClosed`].
///
/// An inactive user is refused ([`OidcError::InactiveUser`]). On success the link's
/// email and `last_login` and the user's `last_login` are updated. Two first logins
/// of the same identity at once end with one user: the loser of the race finds the
/// winner's link.
///
/// ```no_run
/// use rustango_auth::oidc::{LinkPolicy, OidcIdentity, link_or_create_user};
///
/// # async fn demo(pool: rustango_orm::Pool, identity: OidcIdentity) -> Result<(), rustango_auth::oidc::OidcError> {
/// let user = link_or_create_user(&pool, &identity, &LinkPolicy::default()).await?;
/// println!("signed in as {}", user.username);
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`OidcError::InactiveUser`], [`OidcError::SignupClosed`],
/// [`OidcError::AmbiguousEmail`], [`OidcError::Database`]; an identity without a
/// subject is [`OidcError::InvalidClaim`].
pub async fn link_or_create_user(
    pool: &Pool,
    identity: &OidcIdentity,
    policy: &LinkPolicy,
) -> Result<User, OidcError> {
    if identity.subject.is_empty() || identity.issuer.is_empty() {
        return Err(OidcError::InvalidClaim {
            claim: "sub",
            reason: "an identity needs an issuer and a subject".into(),
        });
    }
    if let Some((account, user)) = find_link(pool, identity).await? {
        return finish(pool, account, user, identity).await;
    }

    let verified_email = identity
        .email
        .as_deref()
        .filter(|e| identity.email_verified && e.contains('@'));
    if policy.link_verified_email
        && let Some(email) = verified_email
    {
        let mut matches = User::objects()
            .where_(User::email.iexact(email))
            .limit(2)
            .fetch(pool)
            .await?;
        if matches.len() > 1 {
            return Err(OidcError::AmbiguousEmail);
        }
        if let Some(user) = matches.pop() {
            if !user.is_active {
                return Err(OidcError::InactiveUser);
            }
            let user_id = user.pk().ok_or_else(no_key)?;
            let mut account = new_account(user_id, identity);
            match account.save_on(pool).await {
                Ok(()) => return finish(pool, account, user, identity).await,
                Err(rustango_orm::Error::UniqueViolation { .. }) => {
                    // Linked concurrently.
                    if let Some((account, user)) = find_link(pool, identity).await? {
                        return finish(pool, account, user, identity).await;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    if !policy.create_users {
        return Err(OidcError::SignupClosed);
    }
    let base = username_base(identity);
    for attempt in 0..USERNAME_ATTEMPTS {
        let username = if attempt == 0 {
            base.clone()
        } else {
            let suffix = random_bytes()?;
            format!("{base}_{:02x}{:02x}{:02x}", suffix[0], suffix[1], suffix[2])
        };
        let mut user = User::new(username, verified_email.unwrap_or(""));
        user.first_name = claim_text(identity, "given_name", 150);
        user.last_name = claim_text(identity, "family_name", 150);
        let ident = identity.clone();
        let created = rustango_orm::transaction(pool, move |tx| async move {
            user.save_on(&*tx).await?;
            let user_id = user
                .pk()
                .ok_or_else(|| rustango_orm::Error::Unsupported("saved user has no key".into()))?;
            let mut account = new_account(user_id, &ident);
            account.save_on(&*tx).await?;
            Ok((account, user))
        })
        .await;
        match created {
            Ok((account, user)) => {
                tracing::info!(
                    user_id = user.pk(),
                    issuer = %identity.issuer,
                    "created a user for a new OpenID Connect identity"
                );
                return finish(pool, account, user, identity).await;
            }
            Err(rustango_orm::Error::UniqueViolation { .. }) => {
                // Either the username is taken (try another) or the identity was
                // linked by a concurrent login (use that).
                if let Some((account, user)) = find_link(pool, identity).await? {
                    return finish(pool, account, user, identity).await;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(OidcError::Database(rustango_orm::Error::Unsupported(
        "no free username found for the new user".into(),
    )))
}

fn no_key() -> OidcError {
    OidcError::Database(rustango_orm::Error::Unsupported(
        "the user has no primary key".into(),
    ))
}

fn new_account(user_id: i64, identity: &OidcIdentity) -> SocialAccount {
    SocialAccount {
        id: Auto::default(),
        user: ForeignKey::new(user_id),
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        email: truncate(identity.email.as_deref().unwrap_or(""), 254),
        created_at: Auto::default(),
        last_login: None,
    }
}

async fn find_link(
    pool: &Pool,
    identity: &OidcIdentity,
) -> Result<Option<(SocialAccount, User)>, OidcError> {
    let Some(mut account) = SocialAccount::objects()
        .where_(SocialAccount::issuer.eq(identity.issuer.as_str()))
        .where_(SocialAccount::subject.eq(identity.subject.as_str()))
        .first(pool)
        .await?
    else {
        return Ok(None);
    };
    let user = account.user.get(pool).await?.clone();
    Ok(Some((account, user)))
}

/// Refuses inactive users; records the login.
async fn finish(
    pool: &Pool,
    account: SocialAccount,
    mut user: User,
    identity: &OidcIdentity,
) -> Result<User, OidcError> {
    if !user.is_active {
        return Err(OidcError::InactiveUser);
    }
    let now = Utc::now();
    let account_id = account.id.get().copied().ok_or_else(no_key)?;
    let user_id = user.pk().ok_or_else(no_key)?;
    SocialAccount::objects()
        .where_(SocialAccount::id.eq(account_id))
        .update()
        .set(SocialAccount::last_login, Some(now))
        .set(
            SocialAccount::email,
            truncate(identity.email.as_deref().unwrap_or(""), 254),
        )
        .execute_on(pool)
        .await?;
    User::objects()
        .where_(User::id.eq(user_id))
        .update()
        .set(User::last_login, Some(now))
        .execute_on(pool)
        .await?;
    user.last_login = Some(now);
    Ok(user)
}

/// A username base: the email's local part, else `user`, reduced to
/// `[A-Za-z0-9._+-]` and [`USERNAME_BASE_LEN`] characters.
fn username_base(identity: &OidcIdentity) -> String {
    let local = identity
        .email
        .as_deref()
        .and_then(|e| e.split('@').next())
        .unwrap_or("");
    let cleaned: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
        .take(USERNAME_BASE_LEN)
        .collect();
    if cleaned.is_empty() {
        "user".to_owned()
    } else {
        cleaned
    }
}

fn claim_text(identity: &OidcIdentity, name: &str, max: usize) -> String {
    truncate(identity.claim_str(name).unwrap_or(""), max)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(email: Option<&str>) -> OidcIdentity {
        OidcIdentity {
            issuer: "https://id.example".into(),
            subject: "1".into(),
            email: email.map(str::to_owned),
            email_verified: true,
            name: None,
            claims: serde_json::Map::new(),
        }
    }

    #[test]
    fn usernames_come_from_the_email() {
        assert_eq!(
            username_base(&identity(Some("Ada.Lovelace+x@example.com"))),
            "Ada.Lovelace+x"
        );
        assert_eq!(username_base(&identity(Some("<script>@x"))), "script");
        assert_eq!(username_base(&identity(Some("@x"))), "user");
        assert_eq!(username_base(&identity(None)), "user");
        assert_eq!(
            username_base(&identity(Some(&format!("{}@x", "a".repeat(99))))).len(),
            USERNAME_BASE_LEN
        );
    }
}
