//! SIGTERM against a real server process: the request in flight completes, new
//! connections are refused, the process exits cleanly.
//!
//! The test re-runs its own binary as the server (with `RUSTANGO_TEST_CHILD_PORT` set),
//! so the signal goes to a process of its own.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "RUSTANGO_TEST_CHILD_PORT";

fn child(port: u16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = axum::Router::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "finished"
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        rustango_server::serve_on(listener, app, rustango_server::shutdown_signal())
            .await
            .unwrap();
    });
}

fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn sigterm_lets_the_in_flight_request_finish_and_refuses_new_connections() {
    if let Ok(port) = std::env::var(CHILD) {
        child(port.parse().unwrap());
        return;
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigterm_lets_the_in_flight_request_finish_and_refuses_new_connections",
            "--nocapture",
        ])
        .env(CHILD, port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let in_flight = std::thread::spawn(move || get(addr, "/slow"));
    std::thread::sleep(Duration::from_millis(300));
    let kill = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(Duration::from_millis(300));

    // After the signal no new request is served.
    let late = get(addr, "/slow");
    assert_eq!(
        late.as_ref().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{late:?}"
    );
    // The request that was in flight completes.
    let response = in_flight.join().unwrap().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("finished"), "{response}");
    let status = server.wait().unwrap();
    assert!(status.success(), "the server exits cleanly: {status:?}");
}
