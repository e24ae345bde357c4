//! `IpFilterLayer` through the test client, with IPv4 and IPv6 peers.
#![cfg(feature = "ip-filter")]

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use rustango_http::test_client::TestClient;
use rustango_middleware::ip_filter::IpFilterLayer;
use rustango_middleware::real_ip::{CidrError, TrustedProxies};

fn client(layer: IpFilterLayer) -> TestClient {
    TestClient::new(
        Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer),
    )
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

async fn status(client: &TestClient, peer: &str) -> u16 {
    client.get("/").peer_addr(addr(peer)).send().await.status
}

#[tokio::test]
async fn allow_list_admits_only_listed_v4_and_v6_clients() {
    let client = client(
        IpFilterLayer::allow(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1/128"]).unwrap(),
    );
    assert_eq!(status(&client, "10.200.0.1:1").await, 200);
    assert_eq!(status(&client, "192.0.2.7:1").await, 200);
    assert_eq!(status(&client, "[2001:db8:5::1]:1").await, 200);
    assert_eq!(status(&client, "[::1]:1").await, 200);
    // IPv4-mapped IPv6 peers (dual-stack sockets) match the IPv4 rules.
    assert_eq!(status(&client, "[::ffff:10.0.0.9]:1").await, 200);

    for refused in ["192.0.2.8:1", "11.0.0.1:1", "[2001:db9::1]:1", "[::2]:1"] {
        let response = client.get("/").peer_addr(addr(refused)).send().await;
        assert_eq!(response.status, 403, "{refused}");
        let problem = response.problem();
        assert_eq!(problem.status(), 403);
        assert!(problem.detail().is_some());
    }
}

#[tokio::test]
async fn block_list_refuses_only_listed_clients() {
    let client = client(IpFilterLayer::block(["203.0.113.0/24", "2001:db8:bad::/48"]).unwrap());
    assert_eq!(status(&client, "203.0.113.99:1").await, 403);
    assert_eq!(status(&client, "[2001:db8:bad:1::1]:1").await, 403);
    assert_eq!(status(&client, "203.0.114.1:1").await, 200);
    assert_eq!(status(&client, "[2001:db8:bae::1]:1").await, 200);
}

#[tokio::test]
async fn empty_lists() {
    assert_eq!(
        status(
            &client(IpFilterLayer::allow([] as [&str; 0]).unwrap()),
            "10.0.0.1:1"
        )
        .await,
        403
    );
    assert_eq!(
        status(
            &client(IpFilterLayer::block([] as [&str; 0]).unwrap()),
            "10.0.0.1:1"
        )
        .await,
        200
    );
}

#[tokio::test]
async fn forwarded_address_counts_only_behind_trusted_proxies() {
    let client = client(
        IpFilterLayer::block(["198.51.100.0/24"])
            .unwrap()
            .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap()),
    );
    let send = |peer: &'static str, xff: &'static str| {
        let client = client.clone();
        async move {
            client
                .get("/")
                .peer_addr(addr(peer))
                .header("x-forwarded-for", xff)
                .send()
                .await
                .status
        }
    };
    // A blocked client behind the balancer is refused...
    assert_eq!(send("10.0.0.1:1", "198.51.100.5, 10.0.0.2").await, 403);
    // ...and cannot hide by prepending an address.
    assert_eq!(send("10.0.0.1:1", "8.8.8.8, 198.51.100.5").await, 403);
    // A blocked client connecting directly cannot claim another address.
    assert_eq!(send("198.51.100.5:1", "8.8.8.8").await, 403);
    // An untrusted peer cannot get someone else blocked either.
    assert_eq!(send("8.8.8.8:1", "198.51.100.5").await, 200);
    // Malformed headers fall back to the (trusted, not blocked) peer: no 500.
    assert_eq!(send("10.0.0.1:1", "not an address").await, 200);
}

#[tokio::test]
async fn invalid_cidrs_are_typed_errors() {
    let err = IpFilterLayer::allow(["10.0.0.0/8", "10.0.0.0/40"]).unwrap_err();
    assert_eq!(
        err,
        CidrError::InvalidPrefixLength {
            input: "10.0.0.0/40".into(),
            max: 32
        }
    );
    let err = IpFilterLayer::block(["fe80::zz/64"]).unwrap_err();
    assert!(matches!(err, CidrError::InvalidAddress { ref input } if input == "fe80::zz/64"));
    assert!(err.to_string().contains("fe80::zz/64"));
}

#[test]
fn a_bad_cidr_is_named_in_the_error() {
    let err = IpFilterLayer::allow(["not-a-network"]).unwrap_err();
    assert!(err.to_string().contains("not-a-network"), "{err}");
}
