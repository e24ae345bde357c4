//! The blog's `manage` command: `cargo run -p blog --bin manage -- --help`.

// ANCHOR: manage
// Link the crate that defines the models, so that they are registered.
use blog as _;

fn main() -> std::process::ExitCode {
    rustango::manage::Manage::new()
        .migrations_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .embedded(blog::MIGRATIONS)
        .main()
}
// ANCHOR_END: manage
