//! `cargo run -p site`: serves the notes API on http://127.0.0.1:8080 (the `bind`
//! setting, `RUSTANGO_BIND`), on the SQLite file `rustango.db` unless `DATABASE_URL`
//! says otherwise, behind the Builder's default production middleware, with `/health`,
//! `/ready` and `/metrics`. Ctrl-C or SIGTERM stops it after in-flight requests finish.
//! Built with `--features otel` and run with `OTEL_EXPORTER_OTLP_ENDPOINT` set, it
//! exports a span per request.

// ANCHOR: main
#[rustango::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let builder = rustango::server::Builder::from_env().await?;
    site::app(builder).await?.serve("settings").await?;
    Ok(())
}
// ANCHOR_END: main
