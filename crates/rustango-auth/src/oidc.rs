//! OpenID Connect login (relying party), feature `oidc`.
//!
//! Sign users in with an OpenID Connect provider (Keycloak, Google, Entra ID, Auth0,
//! `oidc-provider`, ...) using the authorization code flow with PKCE:
//!
//! 1. [`OidcClient::discover`] reads the provider's
//!    `/.well-known/openid-configuration` and checks that it names the configured
//!    issuer and https endpoints.
//! 2. [`OidcClient::begin_login`] builds the authorization URL with a random `state`
//!    and `nonce` and a PKCE S256 challenge (256 bits each), and returns the
//!    [`LoginState`] to keep until the callback.
//! 3. [`OidcClient::complete_login`] checks the callback's `state` (constant time),
//!    age and `iss`, exchanges the code with the PKCE verifier
//!    (`client_secret_basic`, `client_secret_post` or a public client, as the
//!    provider supports), validates the id_token (signature against the provider's
//!    JWKS, fetched again once, rate limited, when a token names an unknown key, so
//!    key rotation just works; never `none` nor `HS*`; `iss`, `aud`, `azp`, `exp`,
//!    `nbf`, `iat` with a small leeway, `nonce`, `at_hash`) and completes the
//!    claims from userinfo (whose `sub` must match): an [`OidcIdentity`].
//! 4. [`link_or_create_user`] finds the [`User`](crate::models::User) linked to the
//!    identity by a [`SocialAccount`], or links one by verified email, or creates
//!    one, as a [`LinkPolicy`] allows; inactive users are refused.
//!
//! [`OidcRoutes`] puts it all behind `GET /login` and `GET /callback` for axum, with
//! the login state in a signed, `HttpOnly`, `SameSite=Lax`, short-lived cookie, safe
//! `next=` redirects ([`crate::redirects`]) and problem+json errors.
//!
//! The flow is written here on reqwest and jsonwebtoken's JWK support rather than on
//! `oauth2`/`openidconnect`: it is small, it needs no second HTTP client adapter,
//! and `openidconnect` would add some 36 crates.
//!
//! ```no_run
//! use axum::response::Redirect;
//! use rustango_auth::oidc::{OidcClient, OidcConfig, OidcRoutes};
//!
//! # async fn demo(pool: rustango_orm::Pool) -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = OidcConfig::new(
//!     "https://id.example.com",
//!     "my-app",
//!     Some("s3cret"),
//!     "https://app.example.com/oidc/callback",
//! );
//! config.scopes.push("groups".into());
//! let client = OidcClient::discover_with(config).await?;
//!
//! let routes = OidcRoutes::new(client, pool, b"the project's SECRET_KEY, 32 bytes or more")?
//!     .on_login(|login| async move {
//!         // Sign `login.user` in (session, JWT, ...), then go on.
//!         Redirect::to(&login.next)
//!     });
//! let app: axum::Router = axum::Router::new().nest("/oidc", routes.into_router());
//! // <a href="/oidc/login?next=/dashboard">Sign in</a>
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! Without the routes, the same steps by hand:
//!
//! ```no_run
//! use rustango_auth::oidc::{CallbackParams, LinkPolicy, OidcClient, link_or_create_user};
//!
//! # async fn demo(pool: rustango_orm::Pool, client: OidcClient) -> Result<(), rustango_auth::oidc::OidcError> {
//! let (authorization_url, login_state) = client.begin_login(Some("/dashboard"))?;
//! // ... store `login_state` (it is Serialize), redirect to `authorization_url` ...
//! // ... the provider redirects back to the callback:
//! let params = CallbackParams::from_query("code=...&state=...");
//! let identity = client.complete_login(&login_state, &params).await?;
//! let user = link_or_create_user(&pool, &identity, &LinkPolicy::default()).await?;
//! # let _ = user;
//! # Ok(()) }
//! ```
//!
//! Never accept an id_token from the browser: tokens come from the token endpoint,
//! over TLS, in exchange for a code bound to this login by PKCE.

mod client;
mod error;
mod form;
mod http;
mod jwks;
mod link;
mod router;
mod state;

pub use client::{
    CallbackParams, OidcClient, OidcConfig, OidcIdentity, ProviderMetadata, TokenEndpointAuth,
};
pub use error::{BoxError, Endpoint, OidcError};
pub use jsonwebtoken::Algorithm;
pub use link::{LinkPolicy, SocialAccount, link_or_create_user};
pub use router::{LoginSuccess, MIN_SECRET_LEN, OidcRoutes, router};
pub use state::LoginState;
