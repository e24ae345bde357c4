//! The client's address behind trusted reverse proxies (cargo feature `real-ip`, enabled
//! by `rate-limit` and `ip-filter`).
//!
//! A request's peer address (axum's [`ConnectInfo<SocketAddr>`](ConnectInfo)) is the
//! client's only when nothing sits in between. Behind a load balancer it is the proxy's,
//! and the client's address is in a header the proxy wrote: `X-Forwarded-For` (the
//! default) or RFC 7239 `Forwarded: for=…` ([`ForwardedHeader`]). Those headers are
//! also trivially forged by clients, so they are read only when the peer is a proxy you
//! trust ([`TrustedProxies`]), and then from the right: each trusted proxy appends the
//! address it saw, so the first untrusted address from the right is the one the
//! outermost trusted proxy actually talked to. Anything left of it is whatever the
//! client claimed, and is ignored.
//!
//! - [`client_ip`] is that rule as a function;
//! - [`RealIpLayer`] applies it to every request and stores the result as a
//!   [`ClientIp`] request extension, which handlers extract;
//! - [`Cidr`] is a parsed network (`10.0.0.0/8`, `2001:db8::/32`, a bare address), with
//!   a typed [`CidrError`] for bad input.
//!
//! ```
//! use std::net::{IpAddr, SocketAddr};
//!
//! use axum::{Router, routing::get};
//! use http::HeaderMap;
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::real_ip::{ClientIp, RealIpLayer, TrustedProxies, client_ip};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // The load balancers live in 10.0.0.0/8.
//! let trusted = TrustedProxies::parse(["10.0.0.0/8"])?;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2".parse()?);
//! let balancer: SocketAddr = "10.0.0.1:40000".parse()?;
//! // 10.0.0.2 is a trusted hop; 203.0.113.7 is who it talked to; 6.6.6.6 is a claim.
//! let ip: IpAddr = "203.0.113.7".parse()?;
//! assert_eq!(client_ip(balancer, &headers, &trusted), ip);
//!
//! // The same header from an untrusted peer is ignored.
//! let stranger: SocketAddr = "198.51.100.1:50000".parse()?;
//! assert_eq!(client_ip(stranger, &headers, &trusted), stranger.ip());
//!
//! // In an app: the layer stores the address, handlers extract it.
//! let app = Router::new()
//!     .route("/", get(|ClientIp(ip): ClientIp| async move { ip.to_string() }))
//!     .layer(RealIpLayer::new().trusted_proxies(trusted));
//! let client = TestClient::new(app).with_peer_addr(balancer);
//! let response = client
//!     .get("/")
//!     .header("x-forwarded-for", "203.0.113.7")
//!     .send()
//!     .await;
//! assert_eq!(response.text(), "203.0.113.7");
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::header::{FORWARDED, HeaderMap, HeaderName};
use http::request::Parts;
use http::{Extensions, Request};
use rustango_http::Problem;
use tower::{Layer, Service};

/// The `X-Forwarded-For` header name.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// A CIDR string that could not be parsed; the message names the input.
///
/// ```
/// use rustango_middleware::real_ip::{Cidr, CidrError};
///
/// let err = "10.0.0.0/33".parse::<Cidr>().unwrap_err();
/// assert!(matches!(err, CidrError::InvalidPrefixLength { max: 32, .. }));
/// assert!(err.to_string().contains("10.0.0.0/33"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    /// The part before the `/` is not an IPv4 or IPv6 address.
    #[error(
        "`{input}` is not an IP address or CIDR block (expected e.g. `10.0.0.0/8`, `::1/128` or `192.0.2.7`)"
    )]
    InvalidAddress {
        /// The refused input.
        input: String,
    },
    /// The part after the `/` is not a number from 0 to `max`.
    #[error("`{input}` has an invalid prefix length (expected a number from 0 to {max})")]
    InvalidPrefixLength {
        /// The refused input.
        input: String,
        /// The longest prefix for the address family: 32 or 128.
        max: u8,
    },
}

/// An IPv4 or IPv6 network: an address and a prefix length, such as `10.0.0.0/8` or
/// `2001:db8::/32`. A bare address is a single host (`/32` or `/128`).
///
/// Parsing ([`Cidr::parse`], [`FromStr`]) never panics: bad input is a [`CidrError`].
/// Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`), and an IPv4-mapped IPv6
/// network (`::ffff:10.0.0.0/104`) is stored as the IPv4 network it denotes, so it
/// matches the addresses dual-stack sockets report either way.
///
/// ```
/// use std::net::IpAddr;
/// use rustango_middleware::real_ip::Cidr;
///
/// let net = Cidr::parse("10.0.0.0/8")?;
/// assert!(net.contains("10.20.30.40".parse::<IpAddr>()?));
/// assert!(net.contains("::ffff:10.0.0.1".parse::<IpAddr>()?)); // IPv4-mapped
/// assert!(!net.contains("11.0.0.1".parse::<IpAddr>()?));
///
/// let host = Cidr::parse("::1")?;
/// assert_eq!(host.prefix_len(), 128);
/// assert_eq!(host.to_string(), "::1/128");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a bare address; surrounding whitespace is
    /// ignored.
    pub fn parse(input: &str) -> Result<Self, CidrError> {
        let text = input.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let invalid_address = || CidrError::InvalidAddress {
            input: input.to_owned(),
        };
        // `IpAddr`'s parser takes exactly an address: no ports, zones or brackets.
        let addr: IpAddr = addr.parse().map_err(|_| invalid_address())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            None => max,
            Some(p) => parse_prefix(p).filter(|&p| p <= max).ok_or_else(|| {
                CidrError::InvalidPrefixLength {
                    input: input.to_owned(),
                    max,
                }
            })?,
        };
        Ok(Self::new(addr, prefix_len).unwrap_or_else(|| Self::host(addr)))
    }

    /// The network of `addr` with `prefix_len` bits (host bits cleared); `None` if
    /// `prefix_len` is longer than the address (32 for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix_len: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(v4) => (prefix_len <= 32).then(|| Self {
                network: IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask_v4(prefix_len))),
                prefix_len,
            }),
            IpAddr::V6(_) if prefix_len > 128 => None,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix_len >= 96 => Self::new(IpAddr::V4(v4), prefix_len - 96),
                _ => Some(Self {
                    network: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask_v6(prefix_len))),
                    prefix_len,
                }),
            },
        }
    }

    /// The single-address network of `addr` (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        Self {
            network: addr,
            prefix_len: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` is in this network. IPv4-mapped IPv6 addresses
    /// (`::ffff:192.0.2.1`) count as the IPv4 address they carry.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask_v4(self.prefix_len) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask_v6(self.prefix_len) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn parse_prefix(text: &str) -> Option<u8> {
    // Digits only (no sign, no spaces), at most three of them.
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn mask_v4(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0)
}

fn mask_v6(prefix_len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix_len.min(128)))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl From<IpAddr> for Cidr {
    fn from(addr: IpAddr) -> Self {
        Self::host(addr)
    }
}

/// Which header trusted proxies write the client chain into.
///
/// Only one is read: a header your proxies do not set is entirely client-controlled,
/// so reading both would let clients forge their address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, AWS and most
    /// load balancers). The default.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711";proto=https`.
    Forwarded,
}

/// The reverse proxies whose forwarding headers are believed, as a list of networks.
///
/// Empty by default ([`TrustedProxies::none`]): the peer address is the client's and
/// forwarding headers are ignored. Cheap to clone.
///
/// ```
/// use rustango_middleware::real_ip::{ForwardedHeader, TrustedProxies};
///
/// let trusted = TrustedProxies::parse(["10.0.0.0/8", "fd00::/8"])?
///     .forwarded_header(ForwardedHeader::Forwarded);
/// assert!(trusted.contains("10.1.1.1".parse()?));
/// assert!(TrustedProxies::parse(["10.0.0.0/8", "oops"]).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    cidrs: Arc<[Cidr]>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// No trusted proxies: forwarding headers are always ignored.
    pub fn none() -> Self {
        Self::default()
    }

    /// These networks, reading `X-Forwarded-For`.
    pub fn new(cidrs: impl IntoIterator<Item = Cidr>) -> Self {
        Self {
            cidrs: cidrs.into_iter().collect(),
            header: ForwardedHeader::default(),
        }
    }

    /// Parses each CIDR (see [`Cidr::parse`]); the first bad one is the error.
    pub fn parse<I>(cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let cidrs = cidrs
            .into_iter()
            .map(|c| Cidr::parse(c.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(cidrs))
    }

    /// Loopback and private networks: `127.0.0.0/8`, `10.0.0.0/8`, `172.16.0.0/12`,
    /// `192.168.0.0/16`, `::1/128` and `fc00::/7`, which is where a proxy on the same
    /// host or private network connects from.
    pub fn private_networks() -> Self {
        Self::new([
            cidr(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8),
            cidr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
            cidr(IpAddr::V4(Ipv4Addr::new(172, 16, 0, 0)), 12),
            cidr(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 0)), 16),
            cidr(IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
            cidr(IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
        ])
    }

    /// Reads `header` instead of `X-Forwarded-For`.
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` is in one of the trusted networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidrs.iter().any(|c| c.contains(ip))
    }

    /// The trusted networks.
    pub fn cidrs(&self) -> &[Cidr] {
        &self.cidrs
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.cidrs.is_empty()
    }

    /// The header read for the client chain.
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }
}

fn cidr(addr: IpAddr, prefix_len: u8) -> Cidr {
    Cidr::new(addr, prefix_len).unwrap_or_else(|| Cidr::host(addr))
}

/// The client's address for a request from `peer` carrying `headers`.
///
/// - If `peer` is not a trusted proxy, it is the client: forwarding headers are ignored
///   (so a client cannot forge its address).
/// - Otherwise the forwarding header ([`TrustedProxies::header`]) is read from the
///   right (the last header line first), skipping trusted proxies; the first untrusted
///   address is the client. If every address is trusted, the leftmost one is.
/// - A malformed entry (not an address, `unknown`, an obfuscated `Forwarded` node, a
///   value that is not text) stops the walk: the client is unknown past it, so the
///   peer address is returned. No input makes this panic.
///
/// IPv4-mapped IPv6 addresses are returned as IPv4 ([`IpAddr::to_canonical`]).
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !trusted.contains(peer_ip) {
        return peer_ip;
    }
    let (name, parse): (HeaderName, fn(&str) -> Option<IpAddr>) = match trusted.header {
        ForwardedHeader::XForwardedFor => (X_FORWARDED_FOR, parse_node),
        ForwardedHeader::Forwarded => (FORWARDED, parse_forwarded_element),
    };
    let mut leftmost_trusted = None;
    for value in headers.get_all(name).iter().rev() {
        let Ok(text) = value.to_str() else {
            return peer_ip;
        };
        for entry in text.rsplit(',') {
            let Some(ip) = parse(entry.trim()) else {
                return peer_ip;
            };
            let ip = ip.to_canonical();
            if !trusted.contains(ip) {
                return ip;
            }
            leftmost_trusted = Some(ip);
        }
    }
    leftmost_trusted.unwrap_or(peer_ip)
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:8080`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Some(rest) = text.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = text.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 5
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u16>().is_ok()
}

/// The `for=` node of one RFC 7239 `Forwarded` element (`for=…;proto=…;by=…`).
fn parse_forwarded_element(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim())
    })?;
    let value = match value.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => value,
    };
    if value.contains(['"', '\\']) {
        return None;
    }
    parse_node(value)
}

/// The client's address, stored in the request extensions by [`RealIpLayer`].
///
/// As an extractor it reads that extension. Without the layer it falls back to the peer
/// address of [`ConnectInfo<SocketAddr>`](ConnectInfo) (trusting no proxy, so never a
/// forged value); with neither, the app is misconfigured (not served with
/// `into_make_service_with_connect_info`) and the request fails with a 500 problem,
/// logged as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(ClientIp(peer.ip().to_canonical()));
        }
        tracing::error!(
            "ClientIp needs RealIpLayer or ConnectInfo<SocketAddr> (serve the app with \
             into_make_service_with_connect_info::<SocketAddr>())"
        );
        Err(Problem::internal())
    }
}

/// The client address of a request, for the layers of this crate: [`client_ip`] over
/// the `ConnectInfo<SocketAddr>` peer; without one, the unspecified address `0.0.0.0`
/// (headers ignored), with a warning logged once.
pub(crate) fn resolve(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> IpAddr {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => client_ip(*peer, headers, trusted),
        None => {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "no ConnectInfo<SocketAddr> on the request: every client counts as \
                     0.0.0.0 (serve the app with into_make_service_with_connect_info)"
                );
            }
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
    }
}

/// Stores each request's [`ClientIp`] (see [`client_ip`]) in its extensions.
///
/// The peer address comes from axum's [`ConnectInfo<SocketAddr>`](ConnectInfo), so
/// serve the app with `into_make_service_with_connect_info::<SocketAddr>()`. Without
/// it the peer is unknown: forwarding headers are ignored (they could not be checked
/// against a trusted peer) and the client is the unspecified address `0.0.0.0`, with a
/// warning logged once.
///
/// See the [module docs](self) for an example.
#[derive(Debug, Clone, Default)]
pub struct RealIpLayer {
    trusted: TrustedProxies,
}

impl RealIpLayer {
    /// A layer trusting no proxy: the client is the peer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Believes the forwarding headers of these proxies.
    pub fn trusted_proxies(mut self, trusted: TrustedProxies) -> Self {
        self.trusted = trusted;
        self
    }
}

impl<S> Layer<S> for RealIpLayer {
    type Service = RealIp<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RealIp {
            inner,
            trusted: self.trusted.clone(),
        }
    }
}

/// The service made by [`RealIpLayer`].
#[derive(Debug, Clone)]
pub struct RealIp<S> {
    inner: S,
    trusted: TrustedProxies,
}

impl<S, B> Service<Request<B>> for RealIp<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let ip = resolve(req.extensions(), req.headers(), &self.trusted);
        req.extensions_mut().insert(ClientIp(ip));
        self.inner.call(req)
    }
}

crate::router_ext! {
    /// Puts the client's address behind trusted proxies in the request (`ClientIp`).
    RealIpRouterExt::real_ip(RealIpLayer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert_eq!((c.network(), c.prefix_len()), (ip("10.0.0.0"), 8));
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap(), c);
        assert_eq!(Cidr::parse(" 192.0.2.7 ").unwrap().prefix_len(), 32);
        assert_eq!(Cidr::parse("::1").unwrap().to_string(), "::1/128");
        assert_eq!(Cidr::parse("::1/128").unwrap().to_string(), "::1/128");
        assert_eq!(
            Cidr::parse("2001:db8:ffff::/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().prefix_len(), 0);
        assert_eq!(Cidr::parse("::/0").unwrap().prefix_len(), 0);
        assert_eq!(
            Cidr::parse("::ffff:10.0.0.0/104").unwrap(),
            Cidr::parse("10.0.0.0/8").unwrap()
        );
    }

    #[test]
    fn refuses_bad_cidrs() {
        for bad in [
            "",
            "/",
            "/8",
            "10.0.0.0/",
            "10.0.0/8",
            "nope",
            "10.0.0.0/8/8",
            "1.2.3.4:80",
            "[::1]",
            "::1%eth0",
            "10.0.0.0/+8",
            "10.0.0.0/ 8",
            "256.0.0.0/8",
        ] {
            assert!(
                matches!(Cidr::parse(bad), Err(CidrError::InvalidAddress { .. }))
                    || matches!(Cidr::parse(bad), Err(CidrError::InvalidPrefixLength { .. })),
                "{bad:?} was accepted"
            );
        }
        assert_eq!(
            Cidr::parse("10.0.0.0/33"),
            Err(CidrError::InvalidPrefixLength {
                input: "10.0.0.0/33".into(),
                max: 32
            })
        );
        assert!(matches!(
            Cidr::parse("::/129"),
            Err(CidrError::InvalidPrefixLength { max: 128, .. })
        ));
        assert!(matches!(
            Cidr::parse("::/99999999999999"),
            Err(CidrError::InvalidPrefixLength { .. })
        ));
        assert!(matches!(
            Cidr::parse("nope/8"),
            Err(CidrError::InvalidAddress { input }) if input == "nope/8"
        ));
    }

    #[test]
    fn contains() {
        let net = Cidr::parse("192.168.0.0/16").unwrap();
        assert!(net.contains(ip("192.168.255.1")));
        assert!(!net.contains(ip("192.169.0.1")));
        assert!(net.contains(ip("::ffff:192.168.1.1")));
        assert!(!net.contains(ip("::1")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::5")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001::1")));
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn walks_x_forwarded_for_from_the_right() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8", "fd00::/8"]).unwrap();
        let proxy: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.1:1".parse().unwrap();
        let xff = |v: &[&str]| headers("x-forwarded-for", v);

        let h = xff(&["1.1.1.1, 198.51.100.7, 10.0.0.3"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(stranger, &h, &trusted), ip("203.0.113.1"));
        // Several header lines are one list, in order.
        let h = xff(&["1.1.1.1, 198.51.100.7", "10.0.0.3"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        // Ports and brackets.
        let h = xff(&["198.51.100.7:5555, [fd00::1]:80"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        let h = xff(&["2001:db8::9"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("2001:db8::9"));
        // All trusted: the leftmost.
        let h = xff(&["10.9.9.9, 10.0.0.3"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("10.9.9.9"));
        // No header: the peer.
        assert_eq!(
            client_ip(proxy, &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
        // Malformed entries stop the walk at the peer.
        for bad in [
            "garbage",
            "1.1.1.1, garbage",
            "198.51.100.7, ",
            "",
            "1.2.3.4:99999",
            "[::1",
            "[::1]x",
            "unknown",
        ] {
            assert_eq!(
                client_ip(proxy, &xff(&[bad]), &trusted),
                ip("10.0.0.1"),
                "{bad:?}"
            );
        }
        // A malformed entry left of the client does not matter.
        let h = xff(&["garbage, 198.51.100.7"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        // IPv4-mapped peers and entries.
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:1".parse().unwrap();
        let h = xff(&["::ffff:198.51.100.7"]);
        assert_eq!(client_ip(mapped, &h, &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn reads_forwarded_when_asked() {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"])
            .unwrap()
            .forwarded_header(ForwardedHeader::Forwarded);
        let proxy: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let fwd = |v: &str| headers("forwarded", &[v]);
        let h = fwd("for=1.1.1.1, for=198.51.100.7;proto=https, For=\"10.0.0.2:80\"");
        assert_eq!(client_ip(proxy, &h, &trusted), ip("198.51.100.7"));
        let h = fwd("for=\"[2001:db8::7]:4711\";by=10.0.0.1");
        assert_eq!(client_ip(proxy, &h, &trusted), ip("2001:db8::7"));
        for bad in [
            "for=unknown",
            "for=_hidden",
            "proto=https",
            "for=\"1.2.3.4",
            "for=",
        ] {
            assert_eq!(
                client_ip(proxy, &fwd(bad), &trusted),
                ip("10.0.0.1"),
                "{bad:?}"
            );
        }
        // X-Forwarded-For is not read then.
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(client_ip(proxy, &h, &trusted), ip("10.0.0.1"));
    }
}
