//! The auth app's models: users, groups, permissions and API keys, Django's
//! `django.contrib.auth` in shape. Their tables come with the framework's own
//! migrations ([`crate::APP`]); projects do not write migrations for them.
//!
//! | model | table |
//! |---|---|
//! | [`User`] | `auth_user` (+ `auth_user_groups`, `auth_user_permissions`) |
//! | [`Group`] | `auth_group` (+ `auth_group_permissions`) |
//! | [`Permission`] | `auth_permission` |
//! | [`ApiKey`] | `auth_api_key` |
//! | [`SocialAccount`] | `auth_social_account` (OpenID Connect links) |

use chrono::{DateTime, Utc};
use rustango_core::Auto;
use rustango_macros::Model;
use rustango_orm::ForeignKey;

/// A user account.
///
/// The password is stored as an argon2id PHC string (`rustango_crypto::passwords`),
/// never in clear; `""` means the account has no usable password (it signs in some
/// other way, such as OpenID Connect).
// Both m2m relations start from `user_id`: clippy reads that as a repeated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(Model, Clone)]
#[rustango(
    table = "auth_user",
    app = "auth",
    display = "username",
    m2m(
        name = "groups",
        to = "auth_group",
        through = "auth_user_groups",
        src = "user_id",
        dst = "group_id"
    ),
    m2m(
        name = "user_permissions",
        to = "auth_permission",
        through = "auth_user_permissions",
        src = "user_id",
        dst = "permission_id"
    )
)]
pub struct User {
    /// Key.
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    /// The login name: unique, compared as typed.
    #[rustango(max_length = 150, unique)]
    pub username: String,
    /// Email address (may be empty); password resets are sent here.
    #[rustango(max_length = 254, index)]
    pub email: String,
    /// The argon2id PHC string, or `""` for no usable password.
    #[rustango(max_length = 255)]
    pub password: String,
    /// Given name.
    #[rustango(max_length = 150)]
    pub first_name: String,
    /// Family name.
    #[rustango(max_length = 150)]
    pub last_name: String,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// Whether the account may use the admin site.
    pub is_staff: bool,
    /// Whether the account holds every permission without being given them.
    pub is_superuser: bool,
    /// The last successful sign-in.
    pub last_login: Option<DateTime<Utc>>,
    /// The TOTP secret (base32) once two-factor sign-in is enrolled.
    #[rustango(max_length = 128)]
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted, so a code cannot be used twice.
    pub totp_last_step: Option<i64>,
    /// When the account was created.
    #[rustango(auto_now_add)]
    pub date_joined: Auto<DateTime<Utc>>,
    /// When the row last changed.
    #[rustango(auto_now)]
    pub updated_at: Auto<DateTime<Utc>>,
}

/// A named set of permissions given to users together.
#[derive(Model, Clone, Debug)]
#[rustango(
    table = "auth_group",
    app = "auth",
    display = "name",
    m2m(
        name = "permissions",
        to = "auth_permission",
        through = "auth_group_permissions",
        src = "group_id",
        dst = "permission_id"
    )
)]
pub struct Group {
    /// Key.
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    /// Unique name.
    #[rustango(max_length = 150, unique)]
    pub name: String,
}

/// A permission, named by its codename `<model>.<action>` (`post.add`).
///
/// Models declared with `permissions` get `add`, `change`, `delete` and `view`
/// codenames created after every `migrate` ([`crate::permissions::sync_permissions`]).
#[derive(Model, Clone, Debug)]
#[rustango(table = "auth_permission", app = "auth", display = "codename")]
pub struct Permission {
    /// Key.
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    /// `<model>.<action>`, unique.
    #[rustango(max_length = 100, unique)]
    pub codename: String,
    /// A readable name (`Can add post`).
    #[rustango(max_length = 255)]
    pub name: String,
}

/// An API key of a user: `Authorization: Bearer <prefix>.<secret>`.
///
/// Only the prefix (to find the row) and a hash of the secret are stored; the full
/// token is shown once, when the key is made.
#[derive(Model, Clone, Debug)]
#[rustango(table = "auth_api_key", app = "auth", display = "name")]
pub struct ApiKey {
    /// Key.
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    /// The owner.
    #[rustango(on_delete = "cascade")]
    pub user: ForeignKey<User>,
    /// What the key is for.
    #[rustango(max_length = 100)]
    pub name: String,
    /// The public part of the token, unique.
    #[rustango(max_length = 32, unique)]
    pub prefix: String,
    /// `sha256$<hex>` of the secret (argon2 PHC strings verify too).
    #[rustango(max_length = 255)]
    pub hash: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it was revoked.
    pub revoked: bool,
    /// The last request it authenticated.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was made.
    #[rustango(auto_now_add)]
    pub created_at: Auto<DateTime<Utc>>,
}

/// A provider identity linked to a user: Django-allauth's `SocialAccount`.
///
/// `(issuer, subject)` is unique: one provider account belongs to one user; a user
/// may have several (one per provider, or more).
#[derive(Model, Clone, Debug)]
#[rustango(
    table = "auth_social_account",
    app = "auth",
    display = "subject",
    index("issuer, subject", unique)
)]
pub struct SocialAccount {
    /// Key.
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    /// The user this identity signs in as.
    #[rustango(on_delete = "cascade")]
    pub user: ForeignKey<User>,
    /// The provider's issuer identifier.
    #[rustango(max_length = 255)]
    pub issuer: String,
    /// The provider's identifier of the user (`sub`).
    #[rustango(max_length = 255)]
    pub subject: String,
    /// The email address the provider gave at the last login (may be empty).
    #[rustango(max_length = 254)]
    pub email: String,
    /// When the link was made.
    #[rustango(auto_now_add)]
    pub created_at: Auto<DateTime<Utc>>,
    /// The last login through this identity.
    pub last_login: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for User {
    // The password hash and the TOTP seed stay out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("is_active", &self.is_active)
            .field("is_staff", &self.is_staff)
            .field("is_superuser", &self.is_superuser)
            .field("has_usable_password", &self.has_usable_password())
            .field("has_totp", &self.has_totp())
            .field("last_login", &self.last_login)
            .finish_non_exhaustive()
    }
}

impl User {
    /// A new, unsaved, active user with no usable password.
    pub fn new(username: impl Into<String>, email: impl Into<String>) -> User {
        User {
            id: Auto::default(),
            username: username.into(),
            email: email.into(),
            password: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            last_login: None,
            totp_secret: None,
            totp_last_step: None,
            date_joined: Auto::default(),
            updated_at: Auto::default(),
        }
    }

    /// The key, once saved.
    pub fn pk(&self) -> Option<i64> {
        self.id.get().copied()
    }

    /// Whether the account has a password it can sign in with.
    pub fn has_usable_password(&self) -> bool {
        !self.password.is_empty()
    }

    /// Whether two-factor sign-in is enrolled.
    pub fn has_totp(&self) -> bool {
        self.totp_secret.as_deref().is_some_and(|s| !s.is_empty())
    }
}
