//! `#[rustango::main]` runs an async main, with `?` on the server's errors.

#[rustango::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = rustango::server::welcome_router();
    let client = rustango::test_client::TestClient::new(app);
    let response = client.get("/").send().await;
    assert_eq!(response.status, 200);
    Ok(())
}
