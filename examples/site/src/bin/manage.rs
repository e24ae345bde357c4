//! `cargo run -p site --bin site-manage -- --help` (a project calls its own `manage`).
use site as _;

// ANCHOR: manage
fn main() -> std::process::ExitCode {
    rustango::manage::Manage::new()
        .migrations_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .embedded(site::MIGRATIONS)
        .install(rustango::auth::APP)
        .main()
}
// ANCHOR_END: manage
