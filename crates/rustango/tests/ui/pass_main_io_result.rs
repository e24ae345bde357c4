//! `#[rustango::main]` with `std::io::Result`: an awaited tail already returning
//! `io::Error` converts to itself.

async fn serve() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    drop(listener);
    Ok(())
}

#[rustango::main]
async fn main() -> std::io::Result<()> {
    serve().await
}
