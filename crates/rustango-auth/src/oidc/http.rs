//! Requests to the provider: the default client, bounded bodies, URL checks.

use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;

use super::error::{Endpoint, OidcError};

/// The largest provider response read, in bytes.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// A client that follows no redirects and gives up after `timeout`.
///
/// reqwest is built without a TLS crypto provider: the process-wide rustls provider
/// is used, and ring's is installed first when there is none (CONVENTIONS §11).
pub(crate) fn default_client(timeout: Duration) -> Result<reqwest::Client, OidcError> {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may win the race: either way a provider is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("rustango-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| OidcError::Config {
            reason: format!("cannot build the HTTP client: {e}"),
        })
}

/// Parses `url` and checks that it is `https`, or `http` on a loopback host (or
/// anywhere when `allow_insecure_http`).
pub(crate) fn check_url(url: &str, allow_insecure_http: bool) -> Result<Url, OidcError> {
    let parsed = Url::parse(url).map_err(|e| OidcError::Config {
        reason: format!("`{url}` is not a valid URL: {e}"),
    })?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_insecure_http || is_loopback(&parsed) => Ok(parsed),
        "http" => Err(OidcError::InsecureUrl {
            url: url.to_owned(),
        }),
        other => Err(OidcError::Config {
            reason: format!("`{url}` has the scheme `{other}`, not https"),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends `request`; returns the status, the `Content-Type` and at most
/// [`MAX_BODY`] bytes of body.
pub(crate) async fn send(
    endpoint: Endpoint,
    request: reqwest::RequestBuilder,
) -> Result<(u16, String, Vec<u8>), OidcError> {
    let http = |e: reqwest::Error| OidcError::Http {
        endpoint,
        source: Box::new(e),
    };
    let mut response = request.send().await.map_err(http)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(OidcError::InvalidResponse {
                endpoint,
                reason: format!("the body is larger than {MAX_BODY} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, content_type, body))
}

/// The body as JSON of type `T`.
pub(crate) fn json<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, OidcError> {
    serde_json::from_slice(body).map_err(|e| OidcError::InvalidResponse {
        endpoint,
        reason: format!("not the expected JSON: {e}"),
    })
}

/// GETs `url` and parses a 200 JSON answer.
pub(crate) async fn get_json<T: DeserializeOwned>(
    client: &reqwest::Client,
    endpoint: Endpoint,
    url: &str,
) -> Result<T, OidcError> {
    let request = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json");
    let (status, _, body) = send(endpoint, request).await?;
    if status != 200 {
        return Err(OidcError::ProviderStatus { endpoint, status });
    }
    json(endpoint, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        assert!(check_url("https://id.example/auth", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/auth", false).is_ok());
        assert!(check_url("http://127.8.9.10/auth", false).is_ok());
        assert!(check_url("http://localhost/auth", false).is_ok());
        assert!(check_url("http://[::1]:80/auth", false).is_ok());
        assert!(matches!(
            check_url("http://id.example/auth", false),
            Err(OidcError::InsecureUrl { .. })
        ));
        assert!(check_url("http://id.example/auth", true).is_ok());
        assert!(matches!(
            check_url("ftp://id.example/", true),
            Err(OidcError::Config { .. })
        ));
        assert!(matches!(
            check_url("not a url", false),
            Err(OidcError::Config { .. })
        ));
    }
}
