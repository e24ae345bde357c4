//! [`OidcClient`]: discovery, the authorization request, the callback, the code
//! exchange, id_token validation and userinfo.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{Endpoint, OidcError};
use super::jwks::{self, Expected, KeyCache};
use super::state::LoginState;
use super::{form, http};

/// How the relying party is set up: the provider, the client registration and the
/// checks' tolerances. Start from [`OidcConfig::new`] and change fields.
///
/// ```
/// use std::time::Duration;
/// use rustango_auth::oidc::OidcConfig;
///
/// let mut config = OidcConfig::new(
///     "https://id.example.com",
///     "my-app",
///     Some("s3cret"),
///     "https://app.example.com/oidc/callback",
/// );
/// config.scopes.push("groups".into());
/// config.leeway = Duration::from_secs(10);
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct OidcConfig {
    /// The issuer identifier (`https://id.example.com`); discovery reads
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret, for a confidential client; `None` for a public client
    /// (PKCE only, token endpoint authentication `none`).
    pub client_secret: Option<String>,
    /// The callback URL registered at the provider.
    pub redirect_uri: String,
    /// Scopes asked for; `openid` is always sent. Default `openid email profile`.
    pub scopes: Vec<String>,
    /// Extra authorization request parameters (`prompt`, `acr_values`, ...).
    pub extra_auth_params: Vec<(String, String)>,
    /// The id_token signature algorithms accepted (default: RS*, PS*, ES256, ES384,
    /// EdDSA). `HS*` entries are ignored: a symmetric algorithm is never accepted.
    pub allowed_algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Default 30 s.
    pub leeway: Duration,
    /// How long a started login may take until its callback. Default 10 minutes.
    pub login_max_age: Duration,
    /// Whether to call the userinfo endpoint (when the provider has one) to complete
    /// the claims. Default `true`.
    pub fetch_userinfo: bool,
    /// The shortest time between two fetches of the JWKS caused by an unknown `kid`,
    /// so a flood of bad tokens cannot make us hammer the provider. Default 10 s.
    pub jwks_min_refetch_interval: Duration,
    /// How long the JWKS is used before it is fetched again. Default 1 hour.
    pub jwks_max_age: Duration,
    /// Allow plain `http` provider URLs on hosts that are not loopback addresses.
    /// Default `false`: only `https` (and `http` on 127.0.0.0/8, `::1`, `localhost`).
    pub allow_insecure_http: bool,
    /// Timeout of every request to the provider. Default 10 s.
    pub http_timeout: Duration,
    /// Hosts (`host` or `host:port`) an absolute `next` may point at; by default none,
    /// so only same-origin paths are followed (see [`crate::redirects`]).
    pub allowed_redirect_hosts: Vec<String>,
    /// How to authenticate at the token endpoint; `None` (default) picks from the
    /// provider's metadata: `client_secret_basic` if supported, else
    /// `client_secret_post`, and `none` for public clients.
    pub token_endpoint_auth: Option<TokenEndpointAuth>,
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("extra_auth_params", &self.extra_auth_params)
            .field("allowed_algorithms", &self.allowed_algorithms)
            .field("leeway", &self.leeway)
            .field("login_max_age", &self.login_max_age)
            .field("fetch_userinfo", &self.fetch_userinfo)
            .field("jwks_min_refetch_interval", &self.jwks_min_refetch_interval)
            .field("jwks_max_age", &self.jwks_max_age)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("http_timeout", &self.http_timeout)
            .field("allowed_redirect_hosts", &self.allowed_redirect_hosts)
            .field("token_endpoint_auth", &self.token_endpoint_auth)
            .finish()
    }
}

impl OidcConfig {
    /// A configuration with the defaults listed on each field.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<impl Into<String>>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        OidcConfig {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: client_secret.map(Into::into),
            redirect_uri: redirect_uri.into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            extra_auth_params: Vec::new(),
            allowed_algorithms: jwks::DEFAULT_ALGORITHMS.to_vec(),
            leeway: Duration::from_secs(30),
            login_max_age: Duration::from_secs(600),
            fetch_userinfo: true,
            jwks_min_refetch_interval: Duration::from_secs(10),
            jwks_max_age: Duration::from_secs(3600),
            allow_insecure_http: false,
            http_timeout: Duration::from_secs(10),
            allowed_redirect_hosts: Vec::new(),
            token_endpoint_auth: None,
        }
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenEndpointAuth {
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    ClientSecretPost,
    /// No authentication, a public client: only `client_id` in the body (`none`).
    None,
}

impl TokenEndpointAuth {
    /// The registered name (`client_secret_basic`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuth::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuth::ClientSecretPost => "client_secret_post",
            TokenEndpointAuth::None => "none",
        }
    }
}

/// The provider's metadata (OpenID Connect Discovery 1.0), the fields this client
/// uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Where the browser is sent to log in.
    pub authorization_endpoint: String,
    /// Where codes are exchanged for tokens.
    pub token_endpoint: String,
    /// The provider's signing keys.
    pub jwks_uri: String,
    /// The userinfo endpoint, if any.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// The RP-initiated logout endpoint, if any.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// Response types supported; must include `code`.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// Scopes supported, if listed.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// PKCE methods supported, if listed; must then include `S256`.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Token endpoint authentication methods; absent means `client_secret_basic`.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// id_token signature algorithms the provider may use.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Whether the callback carries an `iss` parameter (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

/// The query of the callback: `code` and `state`, or `error` and
/// `error_description`; `iss` when the provider supports RFC 9207.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackParams {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// The `state` sent with the authorization request.
    #[serde(default)]
    pub state: Option<String>,
    /// The issuer (RFC 9207 mix-up defense).
    #[serde(default)]
    pub iss: Option<String>,
    /// An OAuth 2.0 error code (`access_denied`, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// A description of the error.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Reads the parameters from a query string (`code=...&state=...`, without `?`).
    ///
    /// ```
    /// use rustango_auth::oidc::CallbackParams;
    ///
    /// let p = CallbackParams::from_query("code=abc&state=x%2By&iss=https%3A%2F%2Fid.example");
    /// assert_eq!(p.code.as_deref(), Some("abc"));
    /// assert_eq!(p.state.as_deref(), Some("x+y"));
    /// assert_eq!(p.iss.as_deref(), Some("https://id.example"));
    /// assert_eq!(p.error, None);
    /// ```
    #[must_use]
    pub fn from_query(query: &str) -> Self {
        let pairs = rustango_http::percent::parse_form(query);
        let get = |name: &str| form::get(&pairs, name).map(str::to_owned);
        CallbackParams {
            code: get("code"),
            state: get("state"),
            iss: get("iss"),
            error: get("error"),
            error_description: get("error_description"),
        }
    }
}

/// Who logged in: the verified id_token claims, completed by userinfo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OidcIdentity {
    /// The provider's issuer identifier.
    pub issuer: String,
    /// The provider's stable identifier of the user (`sub`): with `issuer`, the key
    /// of the account link.
    pub subject: String,
    /// The email address, if the provider sent one.
    pub email: Option<String>,
    /// Whether the provider says it verified the email address.
    pub email_verified: bool,
    /// The full name, if the provider sent one.
    pub name: Option<String>,
    /// Every claim: the id_token's, plus userinfo's (which never override `iss`,
    /// `sub`, `aud` and the other id_token-only claims).
    pub claims: Map<String, Value>,
}

impl OidcIdentity {
    /// A string claim.
    #[must_use]
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Claims that come from the id_token only; userinfo cannot change them.
const ID_TOKEN_ONLY: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "auth_time",
    "acr",
    "amr",
    "sid",
];

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

struct Inner {
    config: OidcConfig,
    metadata: ProviderMetadata,
    http: reqwest::Client,
    keys: KeyCache,
    auth: TokenEndpointAuth,
    algorithms: Vec<Algorithm>,
}

/// An OpenID Connect relying party for one provider and one client registration.
///
/// Cheap to clone (the configuration, the metadata and the key cache are shared).
///
/// ```no_run
/// use rustango_auth::oidc::{CallbackParams, OidcClient};
///
/// # async fn demo() -> Result<(), rustango_auth::oidc::OidcError> {
/// let client = OidcClient::discover(
///     "https://id.example.com",
///     "my-app",
///     Some("s3cret"),
///     "https://app.example.com/oidc/callback",
/// )
/// .await?;
///
/// // GET /login: send the browser to `url`, keep `state` for the callback.
/// let (url, state) = client.begin_login(Some("/dashboard"))?;
/// # let _ = url;
///
/// // GET /callback?code=...&state=...
/// let params = CallbackParams::from_query("code=...&state=...");
/// let identity = client.complete_login(&state, &params).await?;
/// println!("{} at {}", identity.subject, identity.issuer);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OidcClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.inner.metadata.issuer)
            .field("client_id", &self.inner.config.client_id)
            .field("token_endpoint_auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl OidcClient {
    /// Fetches the provider's metadata from
    /// `{issuer_url}/.well-known/openid-configuration` and checks it, with the
    /// defaults of [`OidcConfig::new`].
    ///
    /// # Errors
    /// [`OidcError::IssuerMismatch`] when the document names another issuer;
    /// [`OidcError::Http`], [`OidcError::ProviderStatus`] or
    /// [`OidcError::InvalidResponse`] when it cannot be fetched or read;
    /// [`OidcError::Config`] or [`OidcError::InsecureUrl`] when it cannot be used.
    pub async fn discover(
        issuer_url: &str,
        client_id: &str,
        client_secret: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Self, OidcError> {
        Self::discover_with(OidcConfig::new(
            issuer_url,
            client_id,
            client_secret,
            redirect_uri,
        ))
        .await
    }

    /// [`discover`](Self::discover) with a full configuration.
    ///
    /// # Errors
    /// As [`discover`](Self::discover).
    pub async fn discover_with(config: OidcConfig) -> Result<Self, OidcError> {
        let client = http::default_client(config.http_timeout)?;
        Self::discover_with_http(config, client).await
    }

    /// [`discover_with`](Self::discover_with) with your own HTTP client (proxies,
    /// extra root certificates, ...). Let it follow no redirects.
    ///
    /// # Errors
    /// As [`discover`](Self::discover).
    pub async fn discover_with_http(
        config: OidcConfig,
        http_client: reqwest::Client,
    ) -> Result<Self, OidcError> {
        let issuer = config.issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        http::check_url(&url, config.allow_insecure_http)?;
        let metadata: ProviderMetadata =
            http::get_json(&http_client, Endpoint::Discovery, &url).await?;
        Self::from_metadata(config, metadata, http_client)
    }

    /// A client from metadata you already have (a provider without discovery, or
    /// metadata cached elsewhere). It is checked as discovery checks it.
    ///
    /// # Errors
    /// [`OidcError::IssuerMismatch`], [`OidcError::Config`],
    /// [`OidcError::InsecureUrl`].
    pub fn from_metadata(
        config: OidcConfig,
        metadata: ProviderMetadata,
        http_client: reqwest::Client,
    ) -> Result<Self, OidcError> {
        if metadata.issuer.trim_end_matches('/') != config.issuer.trim_end_matches('/') {
            return Err(OidcError::IssuerMismatch {
                expected: config.issuer.clone(),
                found: metadata.issuer.clone(),
            });
        }
        let insecure = config.allow_insecure_http;
        http::check_url(&metadata.issuer, insecure)?;
        http::check_url(&metadata.authorization_endpoint, insecure)?;
        http::check_url(&metadata.token_endpoint, insecure)?;
        http::check_url(&metadata.jwks_uri, insecure)?;
        if let Some(u) = &metadata.userinfo_endpoint {
            http::check_url(u, insecure)?;
        }
        reqwest::Url::parse(&config.redirect_uri).map_err(|e| OidcError::Config {
            reason: format!("the redirect URI is not a valid URL: {e}"),
        })?;
        if !metadata.response_types_supported.is_empty()
            && !metadata
                .response_types_supported
                .iter()
                .any(|t| t == "code")
        {
            return Err(OidcError::Config {
                reason: "the provider does not support the authorization code flow".into(),
            });
        }
        if let Some(methods) = &metadata.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(OidcError::Config {
                reason: "the provider does not support PKCE with S256".into(),
            });
        }
        let auth = choose_auth(&config, &metadata)?;
        let mut algorithms: Vec<Algorithm> = config
            .allowed_algorithms
            .iter()
            .copied()
            .filter(|a| jwks::is_asymmetric(*a))
            .collect();
        if !metadata.id_token_signing_alg_values_supported.is_empty() {
            let supported = &metadata.id_token_signing_alg_values_supported;
            algorithms.retain(|a| supported.contains(&format!("{a:?}")));
        }
        if algorithms.is_empty() {
            return Err(OidcError::Config {
                reason: "no id_token signature algorithm is both allowed and supported".into(),
            });
        }
        let keys = KeyCache::new(
            metadata.jwks_uri.clone(),
            config.jwks_min_refetch_interval,
            config.jwks_max_age,
        );
        Ok(OidcClient {
            inner: Arc::new(Inner {
                config,
                metadata,
                http: http_client,
                keys,
                auth,
                algorithms,
            }),
        })
    }

    /// The provider's metadata.
    #[must_use]
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.inner.metadata
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &OidcConfig {
        &self.inner.config
    }

    /// The token endpoint authentication in use.
    #[must_use]
    pub fn token_endpoint_auth(&self) -> TokenEndpointAuth {
        self.inner.auth
    }

    /// How many times the provider's JWKS has been fetched (for metrics and tests).
    #[must_use]
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.keys.fetches()
    }

    /// Fetches the provider's JWKS now, instead of at the first login.
    ///
    /// # Errors
    /// When the JWKS cannot be fetched or read.
    pub async fn refresh_keys(&self) -> Result<(), OidcError> {
        self.inner.keys.force_refresh(&self.inner.http).await
    }

    /// Starts a login: returns the provider URL to send the browser to and the
    /// [`LoginState`] to keep until the callback.
    ///
    /// `next` is kept only if it is a safe redirect target
    /// ([`crate::redirects::safe_redirect_target`] with
    /// [`OidcConfig::allowed_redirect_hosts`]); otherwise it is dropped.
    ///
    /// # Errors
    /// [`OidcError::Random`] if the random number generator fails.
    pub fn begin_login(&self, next: Option<&str>) -> Result<(String, LoginState), OidcError> {
        let next = next
            .and_then(|n| {
                crate::redirects::safe_redirect_target(n, &self.inner.config.allowed_redirect_hosts)
            })
            .map(str::to_owned);
        let state = LoginState::new(next)?;
        Ok((self.authorization_url(&state), state))
    }

    /// The authorization request URL for `state`.
    #[must_use]
    pub fn authorization_url(&self, state: &LoginState) -> String {
        let config = &self.inner.config;
        let mut scopes: Vec<&str> = vec!["openid"];
        for s in &config.scopes {
            if !scopes.contains(&s.as_str()) {
                scopes.push(s);
            }
        }
        let scope = scopes.join(" ");
        let challenge = state.pkce_challenge();
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &config.client_id),
            ("redirect_uri", &config.redirect_uri),
            ("scope", &scope),
            ("state", &state.state),
            ("nonce", &state.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in &config.extra_auth_params {
            if !params.iter().any(|(name, _)| name == k) {
                params.push((k, v));
            }
        }
        let endpoint = &self.inner.metadata.authorization_endpoint;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        format!("{endpoint}{separator}{}", form::encode(params))
    }

    /// Finishes a login from the callback's parameters: checks `state` (in constant
    /// time), the login's age and `iss`; exchanges the code with the PKCE verifier;
    /// validates the id_token (signature against the JWKS, `iss`, `aud`, `azp`,
    /// `exp`, `iat`, `nonce`, `at_hash`); fetches userinfo.
    ///
    /// # Errors
    /// [`OidcError::Provider`] for an error callback; [`OidcError::MissingParameter`],
    /// [`OidcError::StateMismatch`], [`OidcError::LoginExpired`],
    /// [`OidcError::IssuerMismatch`] for a bad one; [`OidcError::TokenRejected`]
    /// when the provider refuses the code; the id_token errors
    /// ([`OidcError::NonceMismatch`], [`OidcError::UnknownKey`], ...);
    /// [`OidcError::SubjectMismatch`]; and the transport errors.
    pub async fn complete_login(
        &self,
        login: &LoginState,
        callback: &CallbackParams,
    ) -> Result<OidcIdentity, OidcError> {
        let config = &self.inner.config;
        let metadata = &self.inner.metadata;
        let returned_state = callback
            .state
            .as_deref()
            .ok_or(OidcError::MissingParameter { name: "state" })?;
        if !rustango_crypto::constant_time_eq(returned_state.as_bytes(), login.state.as_bytes()) {
            return Err(OidcError::StateMismatch);
        }
        if let Some(error) = &callback.error {
            return Err(OidcError::Provider {
                error: truncate(error, 64),
                description: callback
                    .error_description
                    .as_deref()
                    .map(|d| truncate(d, 256)),
            });
        }
        let age = Utc::now().signed_duration_since(login.created_at);
        let age_secs = u64::try_from(age.num_seconds()).unwrap_or(0);
        if age_secs > config.login_max_age.as_secs() {
            return Err(OidcError::LoginExpired {
                age_secs,
                max_age_secs: config.login_max_age.as_secs(),
            });
        }
        match &callback.iss {
            Some(iss) if iss != &metadata.issuer => {
                return Err(OidcError::IssuerMismatch {
                    expected: metadata.issuer.clone(),
                    found: truncate(iss, 256),
                });
            }
            None if metadata.authorization_response_iss_parameter_supported == Some(true) => {
                return Err(OidcError::MissingParameter { name: "iss" });
            }
            _ => {}
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(OidcError::MissingParameter { name: "code" })?;

        let tokens = self.exchange_code(code, &login.pkce_verifier).await?;
        let id_token = tokens.id_token.ok_or(OidcError::MissingIdToken)?;
        let mut claims = self
            .validate(&id_token, &login.nonce, Some(&tokens.access_token))
            .await?;

        if config.fetch_userinfo
            && let Some(endpoint) = &metadata.userinfo_endpoint
        {
            let info = self.userinfo(endpoint, &tokens.access_token).await?;
            let subject = claims.get("sub").and_then(Value::as_str);
            if info.get("sub").and_then(Value::as_str) != subject {
                return Err(OidcError::SubjectMismatch);
            }
            for (k, v) in info {
                if !ID_TOKEN_ONLY.contains(&k.as_str()) {
                    claims.insert(k, v);
                }
            }
        }
        Ok(identity(&metadata.issuer, claims))
    }

    /// Validates an id_token: the signature against the provider's JWKS (fetched
    /// again once, rate limited, when the `kid` is unknown), the algorithm (never
    /// `none` or `HS*`), `iss`, `aud`, `azp`, `exp`, `nbf`, `iat` and `nonce`;
    /// returns its claims.
    ///
    /// [`complete_login`](Self::complete_login) calls it; call it yourself for an
    /// id_token obtained another way.
    ///
    /// # Errors
    /// [`OidcError::MalformedIdToken`], [`OidcError::UnsupportedAlgorithm`],
    /// [`OidcError::UnknownKey`], [`OidcError::InvalidSignature`],
    /// [`OidcError::InvalidClaim`], [`OidcError::NonceMismatch`], or a transport
    /// error while fetching the JWKS.
    pub async fn validate_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        self.validate(id_token, nonce, None).await
    }

    async fn validate(
        &self,
        id_token: &str,
        nonce: &str,
        access_token: Option<&str>,
    ) -> Result<Map<String, Value>, OidcError> {
        let (alg, kid) = jwks::header(id_token)?;
        let alg = jwks::allowed_algorithm(&alg, &self.inner.algorithms)?;
        let keys = self
            .inner
            .keys
            .keys_for(&self.inner.http, kid.as_deref(), alg)
            .await?;
        let expected = Expected {
            issuer: &self.inner.metadata.issuer,
            client_id: &self.inner.config.client_id,
            nonce,
            leeway: self.inner.config.leeway,
            access_token,
        };
        jwks::verify(id_token, alg, &keys, &expected)
    }

    async fn exchange_code(&self, code: &str, verifier: &str) -> Result<TokenResponse, OidcError> {
        let config = &self.inner.config;
        let mut params: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &config.redirect_uri),
            ("code_verifier", verifier),
        ];
        let secret = config.client_secret.as_deref().unwrap_or("");
        let mut request = self
            .inner
            .http
            .post(&self.inner.metadata.token_endpoint)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        match self.inner.auth {
            TokenEndpointAuth::ClientSecretBasic => {
                // RFC 6749 §2.3.1: each part form-encoded before base64.
                let mut credentials = String::new();
                rustango_http::percent::encode_form(&config.client_id, &mut credentials);
                credentials.push(':');
                rustango_http::percent::encode_form(secret, &mut credentials);
                let mut value = reqwest::header::HeaderValue::try_from(format!(
                    "Basic {}",
                    STANDARD.encode(credentials)
                ))
                .map_err(|_| OidcError::Config {
                    reason: "the client credentials do not fit in a header".into(),
                })?;
                value.set_sensitive(true);
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            TokenEndpointAuth::ClientSecretPost => {
                params.push(("client_id", &config.client_id));
                params.push(("client_secret", secret));
            }
            TokenEndpointAuth::None => params.push(("client_id", &config.client_id)),
        }
        let request = request.body(form::encode(params));
        let (status, _, body) = http::send(Endpoint::Token, request).await?;
        match status {
            200 => {}
            400 | 401 => {
                let err: OAuthErrorBody = http::json(Endpoint::Token, &body)?;
                return Err(OidcError::TokenRejected {
                    error: truncate(&err.error, 64),
                    description: err.error_description.as_deref().map(|d| truncate(d, 256)),
                });
            }
            _ => {
                return Err(OidcError::ProviderStatus {
                    endpoint: Endpoint::Token,
                    status,
                });
            }
        }
        let tokens: TokenResponse = http::json(Endpoint::Token, &body)?;
        if tokens
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(OidcError::InvalidResponse {
                endpoint: Endpoint::Token,
                reason: "the access token is not a bearer token".into(),
            });
        }
        Ok(tokens)
    }

    async fn userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let request = self
            .inner
            .http
            .get(endpoint)
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(access_token);
        let (status, content_type, body) = http::send(Endpoint::Userinfo, request).await?;
        if status != 200 {
            return Err(OidcError::ProviderStatus {
                endpoint: Endpoint::Userinfo,
                status,
            });
        }
        if content_type.starts_with("application/jwt") {
            return Err(OidcError::InvalidResponse {
                endpoint: Endpoint::Userinfo,
                reason: "signed or encrypted userinfo responses are not supported".into(),
            });
        }
        http::json(Endpoint::Userinfo, &body)
    }
}

fn choose_auth(
    config: &OidcConfig,
    metadata: &ProviderMetadata,
) -> Result<TokenEndpointAuth, OidcError> {
    if let Some(auth) = config.token_endpoint_auth {
        return Ok(auth);
    }
    if config.client_secret.is_none() {
        return Ok(TokenEndpointAuth::None);
    }
    let supported = metadata
        .token_endpoint_auth_methods_supported
        .clone()
        .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]);
    let has = |m: TokenEndpointAuth| supported.iter().any(|s| s == m.as_str());
    if has(TokenEndpointAuth::ClientSecretBasic) {
        Ok(TokenEndpointAuth::ClientSecretBasic)
    } else if has(TokenEndpointAuth::ClientSecretPost) {
        Ok(TokenEndpointAuth::ClientSecretPost)
    } else {
        Err(OidcError::Config {
            reason: format!(
                "the provider supports none of client_secret_basic and client_secret_post (it lists {supported:?})"
            ),
        })
    }
}

fn identity(issuer: &str, claims: Map<String, Value>) -> OidcIdentity {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        // Some providers send the string "true".
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    OidcIdentity {
        issuer: issuer.to_owned(),
        subject: text("sub").unwrap_or_default(),
        email: text("email"),
        email_verified,
        name: text("name"),
        claims,
    }
}

/// At most `max` characters of provider-supplied text (for error messages).
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> ProviderMetadata {
        serde_json::from_value(serde_json::json!({
            "issuer": "https://id.example",
            "authorization_endpoint": "https://id.example/auth?tenant=1",
            "token_endpoint": "https://id.example/token",
            "jwks_uri": "https://id.example/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256", "HS256"],
        }))
        .unwrap()
    }

    fn config(secret: Option<&str>) -> OidcConfig {
        OidcConfig::new(
            "https://id.example/",
            "app",
            secret,
            "https://app.example/cb",
        )
    }

    fn client(config: OidcConfig, metadata: ProviderMetadata) -> Result<OidcClient, OidcError> {
        OidcClient::from_metadata(
            config,
            metadata,
            http::default_client(Duration::from_secs(1)).unwrap(),
        )
    }

    #[test]
    fn authorization_url_has_pkce_state_and_nonce() {
        let mut config = config(Some("secret"));
        config.extra_auth_params = vec![
            ("prompt".into(), "login".into()),
            ("state".into(), "ignored".into()),
        ];
        let client = client(config, metadata()).unwrap();
        let (url, state) = client.begin_login(Some("//evil.example")).unwrap();
        assert_eq!(state.next, None, "unsafe next dropped");
        let (base, query) = url.split_once("?tenant=1&").unwrap();
        assert_eq!(base, "https://id.example/auth");
        let pairs = rustango_http::percent::parse_form(query);
        let get = |k: &str| form::get(&pairs, k).unwrap();
        assert_eq!(get("response_type"), "code");
        assert_eq!(get("client_id"), "app");
        assert_eq!(get("redirect_uri"), "https://app.example/cb");
        assert_eq!(get("scope"), "openid email profile");
        assert_eq!(get("state"), state.state);
        assert_eq!(get("nonce"), state.nonce);
        assert_eq!(get("code_challenge"), state.pkce_challenge());
        assert_eq!(get("code_challenge_method"), "S256");
        assert_eq!(get("prompt"), "login");
        assert_eq!(pairs.iter().filter(|(k, _)| k == "state").count(), 1);

        let (_, state) = client.begin_login(Some("/home")).unwrap();
        assert_eq!(state.next.as_deref(), Some("/home"));
    }

    #[test]
    fn metadata_is_checked() {
        let mut m = metadata();
        m.issuer = "https://other.example".into();
        assert!(matches!(
            client(config(None), m),
            Err(OidcError::IssuerMismatch { .. })
        ));
        let mut m = metadata();
        m.token_endpoint = "http://id.example/token".into();
        assert!(matches!(
            client(config(None), m),
            Err(OidcError::InsecureUrl { .. })
        ));
        let mut m = metadata();
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(matches!(
            client(config(None), m),
            Err(OidcError::Config { .. })
        ));
        let mut m = metadata();
        m.id_token_signing_alg_values_supported = vec!["HS256".into()];
        assert!(
            matches!(client(config(None), m), Err(OidcError::Config { .. })),
            "HS256 only: nothing acceptable"
        );
    }

    #[test]
    fn token_endpoint_auth_is_chosen_from_metadata() {
        let c = client(config(None), metadata()).unwrap();
        assert_eq!(c.token_endpoint_auth(), TokenEndpointAuth::None);
        let c = client(config(Some("s")), metadata()).unwrap();
        assert_eq!(
            c.token_endpoint_auth(),
            TokenEndpointAuth::ClientSecretBasic
        );
        let mut m = metadata();
        m.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
        let c = client(config(Some("s")), m).unwrap();
        assert_eq!(c.token_endpoint_auth(), TokenEndpointAuth::ClientSecretPost);
        let mut m = metadata();
        m.token_endpoint_auth_methods_supported = Some(vec!["private_key_jwt".into()]);
        assert!(matches!(
            client(config(Some("s")), m),
            Err(OidcError::Config { .. })
        ));
    }

    #[test]
    fn identities_read_common_claims() {
        let claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "sub": "42", "email": "a@b.example", "email_verified": "true", "name": "A B"
        }))
        .unwrap();
        let id = identity("https://id.example", claims);
        assert_eq!(id.subject, "42");
        assert_eq!(id.email.as_deref(), Some("a@b.example"));
        assert!(id.email_verified);
        assert_eq!(id.name.as_deref(), Some("A B"));
        assert_eq!(id.claim_str("sub"), Some("42"));
    }
}
