//! `cargo run -p site --bin manage -- --help`.
use site as _;

fn main() -> std::process::ExitCode {
    rustango::manage::Manage::new()
        .migrations_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .embedded(site::MIGRATIONS)
        .main()
}
