//! [`SecurityHeadersLayer`]: HSTS, `X-Content-Type-Options`, `X-Frame-Options`,
//! `Referrer-Policy`, cross-origin isolation headers, `Permissions-Policy` and a
//! Content Security Policy with a per-request nonce, created when a page asks for it.
//!
//! Start from a preset and adjust it with the builder methods:
//!
//! | preset | for | HSTS | framing | CSP |
//! |---|---|---|---|---|
//! | [`strict`](SecurityHeadersLayer::strict) | production apps | 2 years, subdomains | `DENY` | [`CspBuilder::strict_starter`], enforced |
//! | [`relaxed`](SecurityHeadersLayer::relaxed) | embeddable pages, legacy templates | 1 year | `SAMEORIGIN` | `'self'` plus nonces, inline styles |
//! | [`dev`](SecurityHeadersLayer::dev) | `localhost` | none | `SAMEORIGIN` | strict starter, **report-only** |
//! | [`empty`](SecurityHeadersLayer::empty) | building your own | none | none | none |
//!
//! A header the handler already set is never overwritten, so one view can loosen its
//! own framing or CSP.
//!
//! # Nonces
//!
//! A handler takes the request's [`CspNonce`] as an extractor (or calls [`csp_nonce`]
//! with the request's extensions): a fresh value (128 random bits, base64) created on
//! first use, the same for the rest of the request. The layer writes it wherever the
//! policy says [`CspBuilder::NONCE`] (`'nonce-{nonce}'`), which is allowed in
//! `script-src` and `style-src` (and their `-elem` variants). A template puts the same
//! value on its `<script nonce="…">` tags.
//!
//! A response whose handler never asked for the nonce gets the policy without it,
//! prepared once: `script-src 'nonce-{nonce}' 'strict-dynamic'` becomes `script-src
//! 'strict-dynamic'`, a directive whose only source was the nonce becomes `'none'`.
//! Nothing changes for the browser (a page without the nonce cannot use it), and the
//! request costs no random numbers and no formatting.
//!
//! # Documents and other responses
//!
//! The CSP, `Permissions-Policy` and `Cross-Origin-Opener-Policy` only apply to a
//! document a browser renders. A response whose `Content-Type` is not one (JSON,
//! images, CSS, scripts, …; documents are HTML, XML and SVG,
//! `multipart/x-mixed-replace`, or no `Content-Type`) gets HSTS,
//! `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy` and
//! `Cross-Origin-Resource-Policy` as configured, and the CSP `default-src 'none';
//! frame-ancestors 'none'` (OWASP's for APIs; with the configured `frame-ancestors`
//! if that allows framing, and report-only if the configured policy is). Headers
//! added with [`SecurityHeadersLayer::header`] go on every response.
//! [`SecurityHeadersLayer::same_headers_for_all_responses`] sends the whole set
//! everywhere instead.
//!
//! ```
//! use axum::{Router, response::Html, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::security_headers::{CspBuilder, CspNonce, FrameOptions, SecurityHeadersLayer};
//!
//! async fn page(nonce: CspNonce) -> Html<String> {
//!     Html(format!(r#"<script nonce="{nonce}">console.log("hi")</script>"#))
//! }
//!
//! # fn main() -> Result<(), rustango_middleware::security_headers::SecurityHeadersError> {
//! let headers = SecurityHeadersLayer::strict()
//!     // Values are checked when the layer is built: a `;` in a source is an error here,
//!     // not a broken header at request time.
//!     .csp(CspBuilder::strict_starter().img_src(["'self'", "data:"]))?
//!     .frame_options(FrameOptions::SameOrigin);
//! let app = Router::new().route("/", get(page)).layer(headers);
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let response = TestClient::new(app).get("/").send().await;
//! assert_eq!(response.header("x-frame-options"), Some("SAMEORIGIN"));
//! assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
//! let csp = response.header("content-security-policy").unwrap();
//! let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
//! assert!(response.text().contains(&format!(r#"nonce="{nonce}""#)));
//! assert!(csp.contains("img-src 'self' data:"));
//! # });
//! # Ok(())
//! # }
//! ```
//!
//! A bad value is refused with a [`SecurityHeadersError`]:
//!
//! ```
//! use rustango_middleware::security_headers::{CspBuilder, SecurityHeadersError, SecurityHeadersLayer};
//!
//! let injected = CspBuilder::new().script_src(["'self'; script-src *"]);
//! assert!(matches!(
//!     SecurityHeadersLayer::strict().csp(injected),
//!     Err(SecurityHeadersError::InvalidSource { .. })
//! ));
//! // `self` without quotes is a host named "self": almost always a mistake.
//! assert!(CspBuilder::new().default_src(["self"]).build().is_err());
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::header::{self, Entry, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

/// `Cross-Origin-Opener-Policy` (not among `http`'s constants).
const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");
/// `Cross-Origin-Resource-Policy` (not among `http`'s constants).
const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-resource-policy");
/// `Permissions-Policy` (not among `http`'s constants).
const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

/// The features [`SecurityHeadersLayer::strict`] turns off for every origin.
const STRICT_PERMISSIONS: &str = "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), \
     display-capture=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), \
     midi=(), payment=(), publickey-credentials-get=(), serial=(), usb=(), xr-spatial-tracking=()";
/// The features [`SecurityHeadersLayer::relaxed`] turns off (the sensor-like ones).
const RELAXED_PERMISSIONS: &str = "browsing-topics=(), camera=(), geolocation=(), microphone=()";

/// The error of building a [`SecurityHeadersLayer`] or a [`ContentSecurityPolicy`] from
/// values that cannot be sent as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecurityHeadersError {
    /// A CSP source expression (or report URI / group) that is empty, contains
    /// whitespace, `;`, `,`, a control or non-ASCII byte, or is a bare keyword.
    #[error("invalid source {value:?} in CSP directive `{directive}`: {reason}")]
    InvalidSource {
        /// The directive the source was given to.
        directive: String,
        /// The refused value.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A directive name that is not lowercase letters and dashes.
    #[error("invalid CSP directive name {name:?}")]
    InvalidDirective {
        /// The refused name.
        name: String,
    },
    /// [`CspBuilder::NONCE`] in a directive nonces do not apply to.
    #[error(
        "the nonce placeholder is only allowed in script-src and style-src (and their -elem variants), not in `{directive}`"
    )]
    NonceNotAllowed {
        /// The directive it was given to.
        directive: String,
    },
    /// A policy without any directive.
    #[error("a Content Security Policy needs at least one directive")]
    EmptyPolicy,
    /// A header name given as text that is not a valid header name.
    #[error("invalid header name {name:?}")]
    InvalidHeaderName {
        /// The refused name.
        name: String,
    },
    /// A header value given as text that cannot be sent (control bytes, newlines).
    #[error("invalid value for header `{name}`: {value:?}")]
    InvalidHeaderValue {
        /// The header name.
        name: String,
        /// The refused value.
        value: String,
    },
}

// --- the nonce --------------------------------------------------------------------

/// The CSP nonce of the current request, an extractor (`nonce: CspNonce` in a
/// handler's arguments). Its [`Display`](fmt::Display) is the bare value, for
/// `<script nonce="{{ nonce }}">`.
///
/// [`SecurityHeadersLayer`] creates it the first time the request asks for it (this
/// extractor or [`csp_nonce`]), and only then writes it into the response's policy;
/// a response whose page never asked gets the policy without the nonce source. Ask
/// before the handler returns: a nonce created later (from a spawned task holding
/// the extensions) is not in the header, so its scripts are blocked.
///
/// Extracting it from a request the layer did not see is a server mistake: the
/// rejection is a 500 problem, logged. Take `Option<CspNonce>` to make it optional.
///
/// ```
/// use rustango_middleware::security_headers::CspNonce;
///
/// async fn page(nonce: CspNonce) -> String {
///     format!(r#"<script nonce="{nonce}" src="/app.js"></script>"#)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CspNonce(pub String);

impl CspNonce {
    /// A fresh nonce: 128 random bits in standard base64, 24 characters (CSP asks for
    /// at least 128 bits).
    pub fn generate() -> Self {
        // A v4 UUID is 128 bits from the thread-local generator (seeded by the OS), 6
        // of them fixed: the version nibble (bits 76..80) and the variant (62..64).
        // The low 6 bits of a second one, which are random, fill those.
        const FIXED: u128 = (0xF << 76) | (0x3 << 62);
        let extra = uuid::Uuid::new_v4().as_u128();
        let bits = (uuid::Uuid::new_v4().as_u128() & !FIXED)
            | ((extra & 0xF) << 76)
            | (((extra >> 4) & 0x3) << 62);
        CspNonce(BASE64.encode(bits.to_be_bytes()))
    }

    /// The nonce value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CspNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request extension [`SecurityHeadersLayer`] adds: the nonce, created on first
/// use, shared with the response future that writes the policy.
#[derive(Debug, Clone, Default)]
struct NonceCell(Arc<OnceLock<CspNonce>>);

/// The CSP nonce of the request these extensions belong to, created on first use
/// (the same value for every later call and for the [`CspNonce`] extractor); `None`
/// when [`SecurityHeadersLayer`] does not wrap the route.
///
/// For code that has the extensions but not an extractor, e.g. template context
/// builders.
pub fn csp_nonce(extensions: &http::Extensions) -> Option<CspNonce> {
    extensions
        .get::<NonceCell>()
        .map(|cell| cell.0.get_or_init(CspNonce::generate).clone())
}

crate::future::extension_extractor!(CspNonce, "SecurityHeadersLayer", csp_nonce);

// --- the CSP builder --------------------------------------------------------------

/// Keywords that mean something only when single-quoted; unquoted they are host names.
const KEYWORDS: [&str; 10] = [
    "self",
    "none",
    "unsafe-inline",
    "unsafe-eval",
    "unsafe-hashes",
    "strict-dynamic",
    "report-sample",
    "wasm-unsafe-eval",
    "inline-speculation-rules",
    "unsafe-allow-redirects",
];

/// Directives a nonce source applies to.
const NONCE_DIRECTIVES: [&str; 4] = [
    "script-src",
    "script-src-elem",
    "style-src",
    "style-src-elem",
];

/// Builds a Content Security Policy, one directive at a time; see the
/// [module docs](self).
///
/// Each directive method **sets** that directive's sources, replacing what an earlier
/// call or [`strict_starter`](Self::strict_starter) gave it; directives keep the
/// order they were first set in. Nothing is checked until [`build`](Self::build) (or
/// [`SecurityHeadersLayer::csp`]), which returns a [`SecurityHeadersError`] for a value
/// that could break out of its directive.
///
/// ```
/// use rustango_middleware::security_headers::CspBuilder;
///
/// let policy = CspBuilder::new()
///     .default_src(["'self'"])
///     .script_src([CspBuilder::NONCE, "'strict-dynamic'"])
///     .img_src(["'self'", "https://cdn.example.com"])
///     .upgrade_insecure_requests()
///     .build()
///     .unwrap();
/// assert_eq!(
///     policy.to_string(),
///     "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
///      img-src 'self' https://cdn.example.com; upgrade-insecure-requests"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CspBuilder {
    directives: Vec<(String, Vec<String>)>,
}

impl CspBuilder {
    /// The source the layer replaces with `'nonce-<this request's nonce>'`.
    pub const NONCE: &'static str = "'nonce-{nonce}'";

    /// An empty policy.
    pub fn new() -> Self {
        CspBuilder::default()
    }

    /// A nonce-based "strict CSP" (as recommended by web.dev and the CSP3 spec):
    ///
    /// `default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; object-src
    /// 'none'; base-uri 'none'; frame-ancestors 'none'`
    ///
    /// Scripts run only with this request's nonce (and what they load); plugins,
    /// `<base>` hijacking and framing are off. Inline event handlers
    /// (`onclick="…"`) stop working: attach listeners from a nonced script.
    pub fn strict_starter() -> Self {
        CspBuilder::new()
            .default_src(["'self'"])
            .script_src([CspBuilder::NONCE, "'strict-dynamic'"])
            .object_src(["'none'"])
            .base_uri(["'none'"])
            .frame_ancestors(["'none'"])
    }

    /// Sets any directive (lowercase name, e.g. `"worker-src"`); an empty `sources`
    /// makes a valueless directive like `upgrade-insecure-requests`.
    pub fn directive<I>(mut self, name: &str, sources: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let sources: Vec<String> = sources.into_iter().map(Into::into).collect();
        match self.directives.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => *existing = sources,
            None => self.directives.push((name.to_owned(), sources)),
        }
        self
    }

    /// Removes a directive.
    pub fn remove(mut self, name: &str) -> Self {
        self.directives.retain(|(n, _)| n != name);
        self
    }

    /// `default-src`: the fallback for every fetch directive not set.
    pub fn default_src<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("default-src", sources)
    }

    /// `script-src`; may hold [`NONCE`](Self::NONCE).
    pub fn script_src<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("script-src", sources)
    }

    /// `style-src`; may hold [`NONCE`](Self::NONCE).
    pub fn style_src<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("style-src", sources)
    }

    /// `img-src`.
    pub fn img_src<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("img-src", sources)
    }

    /// `connect-src` (fetch, XHR, WebSocket, EventSource).
    pub fn connect_src<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("connect-src", sources)
    }

    /// `font-src`.
    pub fn font_src<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("font-src", sources)
    }

    /// `frame-ancestors`: who may embed the page (the modern `X-Frame-Options`).
    pub fn frame_ancestors<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("frame-ancestors", sources)
    }

    /// `base-uri`: what `<base href>` may point to.
    pub fn base_uri<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("base-uri", sources)
    }

    /// `form-action`: where forms may submit.
    pub fn form_action<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("form-action", sources)
    }

    /// `object-src` (`<object>`, `<embed>`); `'none'` in any strict policy.
    pub fn object_src<I: IntoIterator<Item: Into<String>>>(self, sources: I) -> Self {
        self.directive("object-src", sources)
    }

    /// `upgrade-insecure-requests`: load `http:` subresources over `https:`.
    pub fn upgrade_insecure_requests(self) -> Self {
        self.directive("upgrade-insecure-requests", std::iter::empty::<String>())
    }

    /// `report-to <group>`: the `Reporting-Endpoints` group violations go to (set that
    /// header with [`SecurityHeadersLayer::header`]).
    pub fn report_to(self, group: impl Into<String>) -> Self {
        self.directive("report-to", [group.into()])
    }

    /// `report-uri <uri>`: the older reporting mechanism, still the only one some
    /// browsers know.
    pub fn report_uri(self, uri: impl Into<String>) -> Self {
        self.directive("report-uri", [uri.into()])
    }

    /// Checks every name and source and compiles the policy.
    ///
    /// # Errors
    /// [`SecurityHeadersError::EmptyPolicy`] without directives;
    /// [`InvalidDirective`](SecurityHeadersError::InvalidDirective),
    /// [`InvalidSource`](SecurityHeadersError::InvalidSource) or
    /// [`NonceNotAllowed`](SecurityHeadersError::NonceNotAllowed) for a value that
    /// could not be sent as written.
    pub fn build(&self) -> Result<ContentSecurityPolicy, SecurityHeadersError> {
        if self.directives.is_empty() {
            return Err(SecurityHeadersError::EmptyPolicy);
        }
        let mut text = String::new();
        let mut without_nonce = String::new();
        for (name, sources) in &self.directives {
            check_directive_name(name)?;
            for source in sources {
                check_source(name, source)?;
            }
            push_directive(&mut text, name, sources.iter().map(String::as_str));
            if sources.iter().any(|s| s == CspBuilder::NONCE) {
                // With a nonce, browsers ignore `'unsafe-inline'` (it is there for
                // those that predate nonces): without it, it would let every inline
                // script (or style) run, so it goes too. Nothing left: nothing allowed.
                let kept: Vec<&str> = sources
                    .iter()
                    .map(String::as_str)
                    .filter(|s| {
                        *s != CspBuilder::NONCE && !s.eq_ignore_ascii_case("'unsafe-inline'")
                    })
                    .collect();
                let kept = if kept.is_empty() {
                    vec!["'none'"]
                } else {
                    kept
                };
                push_directive(&mut without_nonce, name, kept);
            } else {
                push_directive(&mut without_nonce, name, sources.iter().map(String::as_str));
            }
        }
        // What may frame a response does not change with its type.
        let frame_ancestors = self.directives.iter().find(|(n, _)| n == "frame-ancestors");
        let for_other_responses = match frame_ancestors {
            Some((name, sources)) if sources.iter().any(|s| s != "'none'") => {
                let mut short = String::from("default-src 'none'");
                push_directive(&mut short, name, sources.iter().map(String::as_str));
                header_value(&short)?
            }
            _ => HeaderValue::from_static(SHORT_POLICY),
        };
        let pieces: Vec<String> = text.split(CspBuilder::NONCE).map(str::to_owned).collect();
        Ok(ContentSecurityPolicy {
            without_nonce: header_value(&without_nonce)?,
            for_other_responses,
            text,
            pieces,
        })
    }
}

/// The policy non-document responses get (OWASP's for REST APIs): nothing may load,
/// nothing may frame.
const SHORT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Appends `name sources…` to a policy, after `; ` unless it is the first directive.
fn push_directive<'a>(policy: &mut String, name: &str, sources: impl IntoIterator<Item = &'a str>) {
    if !policy.is_empty() {
        policy.push_str("; ");
    }
    policy.push_str(name);
    for source in sources {
        policy.push(' ');
        policy.push_str(source);
    }
}

/// A checked policy as a header value (visible ASCII and spaces: cannot fail, but
/// report rather than panic).
fn header_value(policy: &str) -> Result<HeaderValue, SecurityHeadersError> {
    HeaderValue::try_from(policy).map_err(|_| SecurityHeadersError::InvalidHeaderValue {
        name: header::CONTENT_SECURITY_POLICY.to_string(),
        value: policy.to_owned(),
    })
}

fn check_directive_name(name: &str) -> Result<(), SecurityHeadersError> {
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(SecurityHeadersError::InvalidDirective {
            name: name.to_owned(),
        })
    }
}

fn check_source(directive: &str, source: &str) -> Result<(), SecurityHeadersError> {
    let refuse = |reason| {
        Err(SecurityHeadersError::InvalidSource {
            directive: directive.to_owned(),
            value: source.to_owned(),
            reason,
        })
    };
    if source.is_empty() {
        return refuse("a source cannot be empty");
    }
    // CSP3 §2.2.1: a source expression is visible ASCII except `;` and `,`.
    if !source
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    {
        return refuse(
            "a source may only hold visible ASCII characters, without whitespace, `;` or `,`",
        );
    }
    if source == CspBuilder::NONCE {
        if !NONCE_DIRECTIVES.contains(&directive) {
            return Err(SecurityHeadersError::NonceNotAllowed {
                directive: directive.to_owned(),
            });
        }
        return Ok(());
    }
    if source.contains("{nonce}") {
        return refuse("write the nonce placeholder as exactly CspBuilder::NONCE");
    }
    if KEYWORDS.contains(&source.to_ascii_lowercase().as_str()) {
        return refuse("keywords must be single-quoted ('self', 'none', …)");
    }
    Ok(())
}

/// A checked Content Security Policy, made by [`CspBuilder::build`], with every header
/// value the layer sends prepared. Its [`Display`](fmt::Display) is the policy with
/// the nonce placeholder still in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentSecurityPolicy {
    /// The policy as text, placeholder included.
    text: String,
    /// `text` split at each nonce placeholder.
    pieces: Vec<String>,
    /// The header value for a page that did not take the nonce: the nonce sources
    /// left out (a directive left empty becomes `'none'`).
    without_nonce: HeaderValue,
    /// The header value for responses that are not documents: [`SHORT_POLICY`], with
    /// this policy's `frame-ancestors` if it allows any.
    for_other_responses: HeaderValue,
}

impl ContentSecurityPolicy {
    /// Whether the policy holds [`CspBuilder::NONCE`].
    pub fn uses_nonce(&self) -> bool {
        self.pieces.len() > 1
    }

    /// The policy with `nonce` in place of every placeholder.
    pub fn render(&self, nonce: &CspNonce) -> String {
        let source_len = "'nonce-'".len() + nonce.0.len();
        let mut policy = String::with_capacity(self.text.len() + self.pieces.len() * source_len);
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                policy.push_str("'nonce-");
                policy.push_str(&nonce.0);
                policy.push('\'');
            }
            policy.push_str(piece);
        }
        policy
    }

    /// The header value for a document response, `nonce` being the request's if it
    /// was created.
    fn header_value(&self, nonce: Option<&CspNonce>) -> Option<HeaderValue> {
        let Some(nonce) = nonce.filter(|_| self.uses_nonce()) else {
            return Some(self.without_nonce.clone());
        };
        // Checked sources and a base64 nonce: cannot fail, but never panic here.
        match HeaderValue::try_from(self.render(nonce)) {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::error!(error = %e, "cannot send the Content Security Policy");
                None
            }
        }
    }
}

impl fmt::Display for ContentSecurityPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// --- header options ---------------------------------------------------------------

/// `X-Frame-Options` values (the modern control is CSP `frame-ancestors`; browsers
/// that know it ignore this header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameOptions {
    /// `DENY`: never in a frame.
    Deny,
    /// `SAMEORIGIN`: only in frames of the same origin.
    SameOrigin,
}

impl FrameOptions {
    fn value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            FrameOptions::Deny => "DENY",
            FrameOptions::SameOrigin => "SAMEORIGIN",
        })
    }
}

/// `Referrer-Policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferrerPolicy {
    /// `no-referrer`.
    NoReferrer,
    /// `no-referrer-when-downgrade`.
    NoReferrerWhenDowngrade,
    /// `origin`.
    Origin,
    /// `origin-when-cross-origin`.
    OriginWhenCrossOrigin,
    /// `same-origin`.
    SameOrigin,
    /// `strict-origin`.
    StrictOrigin,
    /// `strict-origin-when-cross-origin` (the browsers' default).
    StrictOriginWhenCrossOrigin,
    /// `unsafe-url`.
    UnsafeUrl,
}

impl ReferrerPolicy {
    fn value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            ReferrerPolicy::NoReferrer => "no-referrer",
            ReferrerPolicy::NoReferrerWhenDowngrade => "no-referrer-when-downgrade",
            ReferrerPolicy::Origin => "origin",
            ReferrerPolicy::OriginWhenCrossOrigin => "origin-when-cross-origin",
            ReferrerPolicy::SameOrigin => "same-origin",
            ReferrerPolicy::StrictOrigin => "strict-origin",
            ReferrerPolicy::StrictOriginWhenCrossOrigin => "strict-origin-when-cross-origin",
            ReferrerPolicy::UnsafeUrl => "unsafe-url",
        })
    }
}

/// `Cross-Origin-Opener-Policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrossOriginOpenerPolicy {
    /// `same-origin`: a separate browsing context group from cross-origin windows.
    SameOrigin,
    /// `same-origin-allow-popups`: keeps references to popups it opens (OAuth,
    /// payment windows).
    SameOriginAllowPopups,
    /// `unsafe-none`.
    UnsafeNone,
}

impl CrossOriginOpenerPolicy {
    fn value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            CrossOriginOpenerPolicy::SameOrigin => "same-origin",
            CrossOriginOpenerPolicy::SameOriginAllowPopups => "same-origin-allow-popups",
            CrossOriginOpenerPolicy::UnsafeNone => "unsafe-none",
        })
    }
}

/// `Cross-Origin-Resource-Policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrossOriginResourcePolicy {
    /// `same-origin`.
    SameOrigin,
    /// `same-site`.
    SameSite,
    /// `cross-origin`: for public assets other sites may embed.
    CrossOrigin,
}

impl CrossOriginResourcePolicy {
    fn value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            CrossOriginResourcePolicy::SameOrigin => "same-origin",
            CrossOriginResourcePolicy::SameSite => "same-site",
            CrossOriginResourcePolicy::CrossOrigin => "cross-origin",
        })
    }
}

// --- the layer --------------------------------------------------------------------

/// Adds security headers to every response and offers a [`CspNonce`] to every
/// request; see the [module docs](self).
///
/// Cloning is cheap (the configuration is shared).
#[derive(Debug, Clone, Default)]
pub struct SecurityHeadersLayer {
    config: Arc<Config>,
}

/// The settings, and the header lists derived from them by [`Config::prepare`] after
/// every change, so that a response only clones ready values.
#[derive(Debug, Clone, Default)]
struct Config {
    /// Fixed headers, in the order they were set.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// `Content-Security-Policy`.
    csp: Option<ContentSecurityPolicy>,
    /// `Content-Security-Policy-Report-Only`.
    csp_report_only: Option<ContentSecurityPolicy>,
    /// [`SecurityHeadersLayer::same_headers_for_all_responses`].
    same_headers_for_all: bool,
    /// `headers` without the ones only documents use.
    other_headers: Vec<(HeaderName, HeaderValue)>,
    /// The CSP header of responses that are not documents.
    other_csp: Option<(HeaderName, HeaderValue)>,
}

impl Config {
    fn prepare(&mut self) {
        self.other_headers = self
            .headers
            .iter()
            .filter(|(name, _)| !is_document_only(name))
            .cloned()
            .collect();
        // One policy is enough: the short one forbids everything an enforced one
        // could; report-only alone stays report-only.
        self.other_csp = match (&self.csp, &self.csp_report_only) {
            (Some(policy), _) => Some((
                header::CONTENT_SECURITY_POLICY,
                policy.for_other_responses.clone(),
            )),
            (None, Some(policy)) => Some((
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
                policy.for_other_responses.clone(),
            )),
            (None, None) => None,
        };
    }

    /// Adds the headers `headers` lacks, `nonce` being the request's if it was created.
    fn apply(&self, headers: &mut HeaderMap, nonce: Option<&CspNonce>) {
        let document = self.same_headers_for_all || is_document(headers);
        let fixed = if document {
            &self.headers
        } else {
            &self.other_headers
        };
        // One growth of the map for these and the policies, not one per doubling.
        headers.reserve(fixed.len() + 2);
        for (name, value) in fixed {
            if let Entry::Vacant(slot) = headers.entry(name) {
                slot.insert(value.clone());
            }
        }
        if !document {
            if let Some((name, value)) = &self.other_csp
                && let Entry::Vacant(slot) = headers.entry(name)
            {
                slot.insert(value.clone());
            }
            return;
        }
        let policies = [
            (header::CONTENT_SECURITY_POLICY, &self.csp),
            (
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
                &self.csp_report_only,
            ),
        ];
        for (name, policy) in policies {
            if let Some(policy) = policy
                && let Entry::Vacant(slot) = headers.entry(name)
                && let Some(value) = policy.header_value(nonce)
            {
                slot.insert(value);
            }
        }
    }
}

/// Headers that only mean something on a document a browser renders, however they
/// were set. (The CSP is handled apart: non-documents get a short one.)
fn is_document_only(name: &HeaderName) -> bool {
    name == PERMISSIONS_POLICY || name == CROSS_ORIGIN_OPENER_POLICY
}

/// Whether a response with these headers may be rendered as a page: no (or an empty)
/// `Content-Type`, HTML, XML (SVG and any `+xml` included),
/// `multipart/x-mixed-replace`, and what a browser would sniff (no `/`,
/// `unknown/unknown`, `application/unknown`, `*/*`).
fn is_document(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let bytes = content_type.as_bytes();
    let essence = match bytes.iter().position(|&b| b == b';') {
        Some(end) => &bytes[..end],
        None => bytes,
    }
    .trim_ascii();
    const DOCUMENT_TYPES: [&[u8]; 9] = [
        b"text/html",
        b"application/xhtml+xml",
        b"image/svg+xml",
        b"text/xml",
        b"application/xml",
        b"multipart/x-mixed-replace",
        b"unknown/unknown",
        b"application/unknown",
        b"*/*",
    ];
    !essence.contains(&b'/')
        || DOCUMENT_TYPES
            .iter()
            .any(|t| essence.eq_ignore_ascii_case(t))
        || essence
            .len()
            .checked_sub(4)
            .is_some_and(|start| essence[start..].eq_ignore_ascii_case(b"+xml"))
}

impl SecurityHeadersLayer {
    /// For production:
    ///
    /// - `Strict-Transport-Security: max-age=63072000; includeSubDomains` (2 years;
    ///   add `preload` with [`hsts`](Self::hsts) once the domain qualifies)
    /// - `X-Content-Type-Options: nosniff`
    /// - `X-Frame-Options: DENY`
    /// - `Referrer-Policy: strict-origin-when-cross-origin` (not `no-referrer`: same-origin
    ///   requests keep their `Referer`, which HTTPS CSRF checks compare to the host)
    /// - `Cross-Origin-Opener-Policy: same-origin`
    /// - `Cross-Origin-Resource-Policy: same-origin`
    /// - `Permissions-Policy` turning off camera, microphone, geolocation, payment, USB,
    ///   sensors, topics and similar for every origin
    /// - `Content-Security-Policy`: [`CspBuilder::strict_starter`].
    pub fn strict() -> Self {
        SecurityHeadersLayer::empty()
            .hsts(Duration::from_secs(2 * 365 * 24 * 3600), true, false)
            .content_type_options()
            .frame_options(FrameOptions::Deny)
            .referrer_policy(ReferrerPolicy::StrictOriginWhenCrossOrigin)
            .cross_origin_opener_policy(CrossOriginOpenerPolicy::SameOrigin)
            .cross_origin_resource_policy(CrossOriginResourcePolicy::SameOrigin)
            .header(
                PERMISSIONS_POLICY,
                HeaderValue::from_static(STRICT_PERMISSIONS),
            )
            .with_csp(false, builtin(&CspBuilder::strict_starter()))
    }

    /// For pages that are embedded by their own site and templates that still use
    /// inline styles:
    ///
    /// - `Strict-Transport-Security: max-age=31536000` (1 year, this host only)
    /// - `X-Content-Type-Options: nosniff`
    /// - `X-Frame-Options: SAMEORIGIN`
    /// - `Referrer-Policy: strict-origin-when-cross-origin`
    /// - `Cross-Origin-Opener-Policy: same-origin-allow-popups`
    /// - `Cross-Origin-Resource-Policy: same-site`
    /// - `Permissions-Policy: browsing-topics=(), camera=(), geolocation=(), microphone=()`
    /// - `Content-Security-Policy: default-src 'self'; script-src 'self'
    ///   'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:
    ///   https:; font-src 'self' data:; object-src 'none'; base-uri 'self';
    ///   frame-ancestors 'self'; form-action 'self'`
    pub fn relaxed() -> Self {
        let csp = CspBuilder::new()
            .default_src(["'self'"])
            .script_src(["'self'", CspBuilder::NONCE])
            .style_src(["'self'", "'unsafe-inline'"])
            .img_src(["'self'", "data:", "https:"])
            .font_src(["'self'", "data:"])
            .object_src(["'none'"])
            .base_uri(["'self'"])
            .frame_ancestors(["'self'"])
            .form_action(["'self'"]);
        SecurityHeadersLayer::empty()
            .hsts(Duration::from_secs(365 * 24 * 3600), false, false)
            .content_type_options()
            .frame_options(FrameOptions::SameOrigin)
            .referrer_policy(ReferrerPolicy::StrictOriginWhenCrossOrigin)
            .cross_origin_opener_policy(CrossOriginOpenerPolicy::SameOriginAllowPopups)
            .cross_origin_resource_policy(CrossOriginResourcePolicy::SameSite)
            .header(
                PERMISSIONS_POLICY,
                HeaderValue::from_static(RELAXED_PERMISSIONS),
            )
            .with_csp(false, builtin(&csp))
    }

    /// For development on `localhost`:
    ///
    /// - no HSTS (it would pin `localhost` to HTTPS in the browser for every project)
    /// - `X-Content-Type-Options: nosniff`
    /// - `X-Frame-Options: SAMEORIGIN`
    /// - `Referrer-Policy: strict-origin-when-cross-origin`
    /// - `Content-Security-Policy-Report-Only`: [`CspBuilder::strict_starter`], so the
    ///   browser console shows what [`strict`](Self::strict) would block without
    ///   blocking it.
    pub fn dev() -> Self {
        SecurityHeadersLayer::empty()
            .content_type_options()
            .frame_options(FrameOptions::SameOrigin)
            .referrer_policy(ReferrerPolicy::StrictOriginWhenCrossOrigin)
            .with_csp(true, builtin(&CspBuilder::strict_starter()))
    }

    /// No headers at all; add them with the builder methods. Handlers can still take
    /// a [`CspNonce`].
    pub fn empty() -> Self {
        SecurityHeadersLayer::default()
    }

    /// Changes the settings, then prepares the header lists responses use.
    fn edit(mut self, change: impl FnOnce(&mut Config)) -> Self {
        let config = Arc::make_mut(&mut self.config);
        change(config);
        config.prepare();
        self
    }

    /// Sends every configured header, the whole CSP included, on every response.
    ///
    /// By default only documents (HTML, XML and SVG, `multipart/x-mixed-replace`, or no
    /// `Content-Type`) get the whole set. Other responses (JSON, images, scripts, …)
    /// get `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` (the
    /// policy's own `frame-ancestors` if it allows framing; report-only if the policy
    /// is) and no `Permissions-Policy` or `Cross-Origin-Opener-Policy`, which only
    /// apply to a page a browser renders: the same protection, several hundred bytes
    /// less per response. Use this when a client or a scanner expects the full set
    /// everywhere.
    pub fn same_headers_for_all_responses(self) -> Self {
        self.edit(|config| config.same_headers_for_all = true)
    }

    /// Sets (or replaces) any header. It is sent on every response, documents or not,
    /// except `Permissions-Policy` and `Cross-Origin-Opener-Policy`, which only
    /// documents get (see
    /// [`same_headers_for_all_responses`](Self::same_headers_for_all_responses)).
    /// Setting `Content-Security-Policy` or its report-only twin this way replaces a
    /// policy set with [`csp`](Self::csp) by a fixed value, sent on every response.
    pub fn header(self, name: HeaderName, value: HeaderValue) -> Self {
        self.edit(|config| {
            if name == header::CONTENT_SECURITY_POLICY {
                config.csp = None;
            } else if name == header::CONTENT_SECURITY_POLICY_REPORT_ONLY {
                config.csp_report_only = None;
            }
            match config.headers.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => *existing = value,
                None => config.headers.push((name, value)),
            }
        })
    }

    /// [`header`](Self::header) from text.
    ///
    /// # Errors
    /// [`SecurityHeadersError::InvalidHeaderName`] or
    /// [`InvalidHeaderValue`](SecurityHeadersError::InvalidHeaderValue) (a newline,
    /// another control byte).
    pub fn try_header(self, name: &str, value: &str) -> Result<Self, SecurityHeadersError> {
        let header_name =
            HeaderName::try_from(name).map_err(|_| SecurityHeadersError::InvalidHeaderName {
                name: name.to_owned(),
            })?;
        let header_value =
            HeaderValue::try_from(value).map_err(|_| SecurityHeadersError::InvalidHeaderValue {
                name: name.to_owned(),
                value: value.to_owned(),
            })?;
        Ok(self.header(header_name, header_value))
    }

    /// Stops sending a header (a CSP set with [`csp`](Self::csp) included).
    pub fn remove(self, name: &HeaderName) -> Self {
        self.edit(|config| {
            if name == header::CONTENT_SECURITY_POLICY {
                config.csp = None;
            } else if name == header::CONTENT_SECURITY_POLICY_REPORT_ONLY {
                config.csp_report_only = None;
            }
            config.headers.retain(|(n, _)| n != name);
        })
    }

    /// `Strict-Transport-Security: max-age=<seconds>[; includeSubDomains][; preload]`.
    ///
    /// Browsers ignore it over plain HTTP. `preload` asks to be built into browsers,
    /// which hstspreload.org accepts only with `include_subdomains` and at least a year.
    pub fn hsts(self, max_age: Duration, include_subdomains: bool, preload: bool) -> Self {
        let mut value = format!("max-age={}", max_age.as_secs());
        if include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if preload {
            value.push_str("; preload");
        }
        // Digits and fixed ASCII words.
        let value = HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("max-age=0"));
        self.header(header::STRICT_TRANSPORT_SECURITY, value)
    }

    /// Stops sending `Strict-Transport-Security`.
    pub fn no_hsts(self) -> Self {
        self.remove(&header::STRICT_TRANSPORT_SECURITY)
    }

    /// `X-Content-Type-Options: nosniff`.
    pub fn content_type_options(self) -> Self {
        self.header(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )
    }

    /// Stops sending `X-Content-Type-Options`.
    pub fn no_content_type_options(self) -> Self {
        self.remove(&header::X_CONTENT_TYPE_OPTIONS)
    }

    /// `X-Frame-Options`.
    pub fn frame_options(self, value: FrameOptions) -> Self {
        self.header(header::X_FRAME_OPTIONS, value.value())
    }

    /// Stops sending `X-Frame-Options` (CSP `frame-ancestors` still applies).
    pub fn no_frame_options(self) -> Self {
        self.remove(&header::X_FRAME_OPTIONS)
    }

    /// `Referrer-Policy`.
    pub fn referrer_policy(self, value: ReferrerPolicy) -> Self {
        self.header(header::REFERRER_POLICY, value.value())
    }

    /// `Cross-Origin-Opener-Policy`.
    pub fn cross_origin_opener_policy(self, value: CrossOriginOpenerPolicy) -> Self {
        self.header(CROSS_ORIGIN_OPENER_POLICY, value.value())
    }

    /// `Cross-Origin-Resource-Policy`.
    pub fn cross_origin_resource_policy(self, value: CrossOriginResourcePolicy) -> Self {
        self.header(CROSS_ORIGIN_RESOURCE_POLICY, value.value())
    }

    /// `Permissions-Policy`, e.g. `"camera=(), geolocation=(self)"`.
    ///
    /// # Errors
    /// [`SecurityHeadersError::InvalidHeaderValue`] for a value with a newline or
    /// another control byte.
    pub fn permissions_policy(self, value: &str) -> Result<Self, SecurityHeadersError> {
        self.try_header(PERMISSIONS_POLICY.as_str(), value)
    }

    /// Sets the enforced `Content-Security-Policy` (a report-only policy, if any, stays).
    ///
    /// # Errors
    /// What [`CspBuilder::build`] refuses.
    pub fn csp(self, policy: CspBuilder) -> Result<Self, SecurityHeadersError> {
        Ok(self.with_csp(false, policy.build()?))
    }

    /// Sets `Content-Security-Policy-Report-Only`: violations are reported, not
    /// blocked (an enforced policy, if any, stays).
    ///
    /// # Errors
    /// What [`CspBuilder::build`] refuses.
    pub fn csp_report_only(self, policy: CspBuilder) -> Result<Self, SecurityHeadersError> {
        Ok(self.with_csp(true, policy.build()?))
    }

    /// Stops sending both CSP headers.
    pub fn no_csp(self) -> Self {
        self.remove(&header::CONTENT_SECURITY_POLICY)
            .remove(&header::CONTENT_SECURITY_POLICY_REPORT_ONLY)
    }

    fn with_csp(self, report_only: bool, policy: ContentSecurityPolicy) -> Self {
        let name = if report_only {
            header::CONTENT_SECURITY_POLICY_REPORT_ONLY
        } else {
            header::CONTENT_SECURITY_POLICY
        };
        self.edit(|config| {
            config.headers.retain(|(n, _)| *n != name);
            if report_only {
                config.csp_report_only = Some(policy);
            } else {
                config.csp = Some(policy);
            }
        })
    }
}

/// Builds a preset's policy, which is known to be valid (the unit tests build each).
fn builtin(policy: &CspBuilder) -> ContentSecurityPolicy {
    policy
        .build()
        .unwrap_or_else(|e| unreachable!("a preset CSP is invalid: {e}"))
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SecurityHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let nonce = NonceCell::default();
        req.extensions_mut().insert(nonce.clone());
        ResponseFuture {
            inner: self.inner.call(req),
            config: Arc::clone(&self.config),
            nonce,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`SecurityHeaders`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        config: Arc<Config>,
        nonce: NonceCell,
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        this.config
            .apply(response.headers_mut(), this.nonce.0.get());
        Poll::Ready(Ok(response))
    }
}

crate::router_ext! {
    /// Adds security headers (and a CSP nonce per request).
    SecurityHeadersRouterExt::security_headers(SecurityHeadersLayer)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn presets_build() {
        for layer in [
            SecurityHeadersLayer::strict(),
            SecurityHeadersLayer::relaxed(),
            SecurityHeadersLayer::dev(),
        ] {
            let config = &layer.config;
            assert!(config.csp.is_some() || config.csp_report_only.is_some());
        }
        assert!(SecurityHeadersLayer::empty().config.headers.is_empty());
    }

    #[test]
    fn strict_starter_text() {
        let policy = CspBuilder::strict_starter().build().unwrap();
        assert_eq!(
            policy.to_string(),
            "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        );
        assert!(policy.uses_nonce());
        let nonce = CspNonce("abc".into());
        assert_eq!(
            policy.render(&nonce),
            "default-src 'self'; script-src 'nonce-abc' 'strict-dynamic'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        );
    }

    #[test]
    fn directive_replaces_in_place() {
        let policy = CspBuilder::strict_starter()
            .script_src(["'self'"])
            .remove("frame-ancestors")
            .build()
            .unwrap();
        assert_eq!(
            policy.to_string(),
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'"
        );
        assert!(!policy.uses_nonce());
    }

    #[test]
    fn nonce_in_style_src() {
        let policy = CspBuilder::new()
            .script_src([CspBuilder::NONCE])
            .style_src([CspBuilder::NONCE])
            .build()
            .unwrap();
        assert_eq!(
            policy.render(&CspNonce("n".into())),
            "script-src 'nonce-n'; style-src 'nonce-n'"
        );
    }

    #[test]
    fn refusals() {
        let source = |s: &str| CspBuilder::new().script_src([s]).build();
        for bad in [
            "",
            "'self';",
            "a b",
            "https://x,y",
            "evil\n",
            "x\r\nSet-Cookie: a=b",
            "caf\u{e9}",
            "self",
            "NONE",
            "unsafe-inline",
            "'nonce-{nonce}x'",
        ] {
            assert!(
                matches!(source(bad), Err(SecurityHeadersError::InvalidSource { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(matches!(
            CspBuilder::new().img_src([CspBuilder::NONCE]).build(),
            Err(SecurityHeadersError::NonceNotAllowed { .. })
        ));
        assert!(matches!(
            CspBuilder::new()
                .directive("Script-Src;", ["'self'"])
                .build(),
            Err(SecurityHeadersError::InvalidDirective { .. })
        ));
        assert_eq!(
            CspBuilder::new().build(),
            Err(SecurityHeadersError::EmptyPolicy)
        );
        assert!(matches!(
            CspBuilder::new().report_uri("/csp report").build(),
            Err(SecurityHeadersError::InvalidSource { .. })
        ));
        assert!(matches!(
            SecurityHeadersLayer::empty().try_header("x-a", "a\nb"),
            Err(SecurityHeadersError::InvalidHeaderValue { .. })
        ));
        assert!(matches!(
            SecurityHeadersLayer::empty().try_header("x a", "b"),
            Err(SecurityHeadersError::InvalidHeaderName { .. })
        ));
    }

    #[test]
    fn nonces_are_fresh_and_long() {
        let a = CspNonce::generate();
        let b = CspNonce::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 24);
        assert_eq!(BASE64.decode(a.as_str()).unwrap().len(), 16);
        // The version and variant bits of a v4 UUID are random here too: over 64
        // nonces, the fixed `4` nibble and `10` bits would show every time.
        let (versions, variants): (HashSet<u8>, HashSet<u8>) = (0..64)
            .map(|_| {
                let bytes = BASE64.decode(CspNonce::generate().as_str()).unwrap();
                (bytes[6] >> 4, bytes[8] >> 6)
            })
            .unzip();
        assert!(versions.len() > 1, "{versions:?}");
        assert_eq!(variants.len(), 4, "{variants:?}");
    }

    fn text(value: &HeaderValue) -> &str {
        value.to_str().unwrap()
    }

    #[test]
    fn policy_without_the_nonce() {
        let strict = CspBuilder::strict_starter().build().unwrap();
        assert_eq!(
            text(&strict.without_nonce),
            "default-src 'self'; script-src 'strict-dynamic'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        );
        assert_eq!(strict.header_value(None).unwrap(), strict.without_nonce);
        let nonce = CspNonce("abc".into());
        assert_eq!(
            text(&strict.header_value(Some(&nonce)).unwrap()),
            strict.render(&nonce)
        );

        // A nonce-only directive allows nothing without the nonce.
        let only = CspBuilder::new()
            .script_src([CspBuilder::NONCE])
            .style_src(["'self'", CspBuilder::NONCE])
            .build()
            .unwrap();
        assert_eq!(
            text(&only.without_nonce),
            "script-src 'none'; style-src 'self'"
        );

        // `'unsafe-inline'` next to a nonce is ignored by browsers: without the nonce
        // it must not start to count. Elsewhere it stays.
        let fallback = CspBuilder::new()
            .script_src([CspBuilder::NONCE, "'UNSAFE-INLINE'", "https:"])
            .style_src(["'self'", "'unsafe-inline'"])
            .build()
            .unwrap();
        assert_eq!(
            text(&fallback.without_nonce),
            "script-src https:; style-src 'self' 'unsafe-inline'"
        );

        // Without a nonce, the one value is sent whatever the request did.
        let fixed = CspBuilder::new().default_src(["'self'"]).build().unwrap();
        assert!(!fixed.uses_nonce());
        assert_eq!(
            fixed.header_value(Some(&nonce)).unwrap(),
            "default-src 'self'"
        );
    }

    #[test]
    fn policy_for_other_responses() {
        let short = |policy: CspBuilder| policy.build().unwrap().for_other_responses;
        assert_eq!(short(CspBuilder::strict_starter()), SHORT_POLICY);
        // No frame-ancestors: OWASP's policy as it is.
        assert_eq!(
            short(CspBuilder::new().default_src(["'self'"])),
            SHORT_POLICY
        );
        // The configured framing is kept, so a same-origin frame of a PDF still works.
        assert_eq!(
            short(CspBuilder::new().frame_ancestors(["'self'", "https://a.example"])),
            "default-src 'none'; frame-ancestors 'self' https://a.example"
        );
        let relaxed = SecurityHeadersLayer::relaxed();
        assert_eq!(
            relaxed.config.other_csp,
            Some((
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'self'")
            ))
        );
        let dev = SecurityHeadersLayer::dev();
        assert_eq!(
            dev.config.other_csp,
            Some((
                header::CONTENT_SECURITY_POLICY_REPORT_ONLY,
                HeaderValue::from_static(SHORT_POLICY)
            ))
        );
        assert_eq!(
            SecurityHeadersLayer::strict().no_csp().config.other_csp,
            None
        );
    }

    #[test]
    fn document_types() {
        let document = |content_type: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(value) = content_type {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            }
            is_document(&headers)
        };
        for yes in [
            None,
            Some(""),
            Some("text/html"),
            Some("Text/HTML; charset=utf-8"),
            Some(" text/html ;charset=utf-8"),
            Some("application/xhtml+xml"),
            Some("image/svg+xml"),
            Some("text/xml"),
            Some("application/XML"),
            Some("application/atom+xml; charset=utf-8"),
            Some("multipart/x-mixed-replace; boundary=frame"),
            Some("html"),
            Some("unknown/unknown"),
            Some("*/*"),
        ] {
            assert!(document(yes), "{yes:?} is a document");
        }
        for no in [
            "application/json",
            "application/problem+json",
            "text/plain; charset=utf-8",
            "text/css",
            "text/javascript",
            "image/png",
            "application/octet-stream",
            "application/pdf",
            "text/html-sandboxed",
            "application/xml-dtd",
        ] {
            assert!(!document(Some(no)), "{no:?} is not a document");
        }
    }

    #[test]
    fn lean_and_full_sets() {
        let names = |config: &Config, content_type: &'static str, nonce: Option<&CspNonce>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            config.apply(&mut headers, nonce);
            headers.remove(header::CONTENT_TYPE);
            let mut names: Vec<String> = headers.keys().map(|n| n.to_string()).collect();
            names.sort();
            names
        };
        let strict = SecurityHeadersLayer::strict()
            .header(
                HeaderName::from_static("reporting-endpoints"),
                HeaderValue::from_static("csp=\"/r\""),
            )
            .permissions_policy("camera=(self)")
            .unwrap();
        let lean = [
            "content-security-policy",
            "cross-origin-resource-policy",
            "referrer-policy",
            "reporting-endpoints",
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options",
        ];
        assert_eq!(names(&strict.config, "application/json", None), lean);
        let mut full = lean.to_vec();
        full.extend(["cross-origin-opener-policy", "permissions-policy"]);
        full.sort();
        assert_eq!(names(&strict.config, "text/html", None), full);
        let everywhere = strict.same_headers_for_all_responses();
        assert_eq!(names(&everywhere.config, "application/json", None), full);
    }

    #[test]
    fn hsts_values() {
        let layer = SecurityHeadersLayer::empty().hsts(Duration::from_secs(60), true, true);
        assert_eq!(
            layer.config.headers[0].1,
            "max-age=60; includeSubDomains; preload"
        );
        assert!(layer.no_hsts().config.headers.is_empty());
    }
}
