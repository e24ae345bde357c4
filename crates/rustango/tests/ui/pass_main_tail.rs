//! `#[rustango::main]` accepts the spec's shape: the body ends in the server's
//! awaited call, whose `rustango::server::Error` becomes `main`'s `Box<dyn Error>`.

#[rustango::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    // Shut down at once: the point is the types, not the serving.
    rustango::server::serve_on(listener, rustango::server::welcome_router(), async {})
        .await
}
