//! Writes the auth app's next migration after its models changed:
//! `cargo run -p rustango-auth --example auth_makemigrations [-- <name>]`.
//!
//! The test `shipped_migrations_match_the_models` fails until this has been run and
//! the new file committed.

use std::path::Path;

use rustango_migrate::{Made, MakeOptions, SchemaSnapshot, app_label, make_migrations};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let models = SchemaSnapshot::from_models(
        rustango_core::registry::models()
            .map(|e| e.schema)
            .filter(|s| app_label(s) == rustango_auth::APP.label),
    );
    let options = MakeOptions {
        app: Some(rustango_auth::APP.label.to_owned()),
        name: std::env::args().nth(1),
        ..MakeOptions::default()
    };
    match make_migrations(&dir, &models, &options)? {
        Made::NoChanges => println!("No changes detected."),
        Made::Written { path, migration } => {
            println!("Wrote {}", path.display());
            for op in &migration.forward {
                println!("  - {}", op.describe());
            }
        }
    }
    Ok(())
}
