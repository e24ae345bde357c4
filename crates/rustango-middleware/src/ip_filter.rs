//! [`IpFilterLayer`]: admit or refuse requests by client address, with CIDR allow or
//! block lists (cargo feature `ip-filter`).
//!
//! The client address is the peer's, or, behind proxies you name with
//! [`trusted_proxies`](IpFilterLayer::trusted_proxies), the one they forwarded (see
//! [`real_ip`]). Refused requests get a `403 Forbidden`
//! `application/problem+json` response and never reach the inner service.
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use axum::{Router, routing::get};
//! use rustango_http::test_client::TestClient;
//! use rustango_middleware::ip_filter::IpFilterLayer;
//! use rustango_middleware::real_ip::TrustedProxies;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // Only the office network and the VPN may see the admin.
//! let admin = Router::new()
//!     .route("/admin", get(|| async { "admin" }))
//!     .layer(
//!         IpFilterLayer::allow(["192.0.2.0/24", "2001:db8:1::/48"])?
//!             .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"])?),
//!     );
//! let client = TestClient::new(admin);
//!
//! let office: SocketAddr = "192.0.2.10:50000".parse()?;
//! assert_eq!(client.get("/admin").peer_addr(office).send().await.status, 200);
//!
//! let stranger: SocketAddr = "198.51.100.1:50000".parse()?;
//! let refused = client.get("/admin").peer_addr(stranger).send().await;
//! assert_eq!(refused.status, 403);
//! assert_eq!(refused.problem().status(), 403);
//!
//! // Through the load balancer, the forwarded address decides.
//! let balancer: SocketAddr = "10.0.0.1:40000".parse()?;
//! let via = client
//!     .get("/admin")
//!     .peer_addr(balancer)
//!     .header("x-forwarded-for", "2001:db8:1::42")
//!     .send()
//!     .await;
//! assert_eq!(via.status, 200);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use futures_util::future::ready;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use http::{Request, StatusCode};
use rustango_http::Problem;
use tower::{Layer, Service};

use crate::real_ip::{self, Cidr};
/// The error of [`IpFilterLayer::allow`] and [`IpFilterLayer::block`], and the proxy
/// list of [`IpFilterLayer::trusted_proxies`], here too for `rustango::ip_filter` users.
pub use crate::real_ip::{CidrError, TrustedProxies};

/// Whether the list admits or refuses the addresses it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Allow,
    Block,
}

/// Admits only the clients of an allow list ([`allow`](Self::allow)), or refuses the
/// clients of a block list ([`block`](Self::block)), answering refused requests with a
/// 403 problem. See the [module docs](self) for an example.
///
/// CIDRs are parsed when the layer is built: the `try_` constructors return the
/// [`CidrError`] naming a bad one; the others panic with it, which suits lists written
/// in the source. An empty allow list refuses everyone; an empty block list refuses
/// no one.
#[derive(Debug, Clone)]
pub struct IpFilterLayer {
    mode: Mode,
    cidrs: Arc<[Cidr]>,
    trusted: TrustedProxies,
}

impl IpFilterLayer {
    /// Admits only clients in one of `cidrs` (`10.0.0.0/8`, `::1/128`, a bare address),
    /// or returns the first invalid CIDR.
    pub fn allow<I>(cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::build(Mode::Allow, cidrs)
    }

    /// Refuses clients in any of `cidrs`, or returns the first invalid CIDR.
    pub fn block<I>(cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::build(Mode::Block, cidrs)
    }

    fn build<I>(mode: Mode, cidrs: I) -> Result<Self, CidrError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let cidrs = cidrs
            .into_iter()
            .map(|c| Cidr::parse(c.as_ref()))
            .collect::<Result<Arc<[Cidr]>, _>>()?;
        Ok(Self {
            mode,
            cidrs,
            trusted: TrustedProxies::none(),
        })
    }

    /// Reads the client address from the forwarding headers of these proxies (by
    /// default none is trusted and the peer address decides).
    pub fn trusted_proxies(mut self, trusted: TrustedProxies) -> Self {
        self.trusted = trusted;
        self
    }

    /// Whether a client at `ip` is admitted.
    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        let listed = self.cidrs.iter().any(|c| c.contains(ip));
        match self.mode {
            Mode::Allow => listed,
            Mode::Block => !listed,
        }
    }
}

impl<S> Layer<S> for IpFilterLayer {
    type Service = IpFilter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IpFilter {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`IpFilterLayer`].
#[derive(Debug, Clone)]
pub struct IpFilter<S> {
    inner: S,
    layer: IpFilterLayer,
}

/// The response future of [`IpFilter`]: the inner service's future, or the ready 403.
///
/// An alias of `futures_util`'s `Either` rather than a struct of its own: that needs
/// no allocation and no pin projection (this crate forbids `unsafe` and does not
/// depend on `pin-project`).
pub type ResponseFuture<F, E> = crate::future::ShortCircuit<F, E>;

impl<S, B> Service<Request<B>> for IpFilter<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let ip = real_ip::resolve(req.extensions(), req.headers(), &self.layer.trusted);
        if self.layer.is_allowed(ip) {
            Either::Left(self.inner.call(req))
        } else {
            tracing::debug!(client = %ip, "IP filter refused a request");
            let problem = Problem::new(StatusCode::FORBIDDEN)
                .with_detail("Requests from this network address are not allowed.");
            Either::Right(ready(Ok(problem.into_response())))
        }
    }
}

crate::router_ext! {
    /// Admits or refuses clients by address.
    IpFilterRouterExt::ip_filter(IpFilterLayer)
}
