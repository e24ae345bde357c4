//! Rebuild when a migration file is added or removed, so `embed_migrations!` sees it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
