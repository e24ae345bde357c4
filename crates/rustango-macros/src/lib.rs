//! rustango's derive macros. Each one parses its input and calls the matching expander in
//! `rustango-macros-core`, where the logic and its tests live.
#![deny(missing_docs)]

use proc_macro::TokenStream;

/// Derives a database model from a struct: its static schema (`Post::SCHEMA`), typed
/// column constants (`Post::title`), `Post::objects()` and the `save_on`/`delete_on`
/// family. See the book's ORM chapter for every `#[rustango(...)]` option.
#[proc_macro_derive(Model, attributes(rustango))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    rustango_macros_core::model::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Embeds a project's migration files in the binary: `embed_migrations!("migrations")`
/// (relative to the crate's `Cargo.toml`) is a `&'static [EmbeddedFile]` for
/// `MigrationSet::from_embedded`. Cargo rebuilds when an embedded file changes; to
/// notice new files, add a `build.rs` with `println!("cargo:rerun-if-changed=migrations")`.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    rustango_macros_core::embed::expand(input.into(), std::path::Path::new(&manifest_dir))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Runs `async fn main` on a multi-threaded tokio runtime, with rustango's logging
/// installed first (`RUSTANGO_LOG`, `RUSTANGO_LOG_FORMAT`). Needs the `server` feature
/// of `rustango`.
///
/// When `main` returns a `Result` and its body ends with an awaited call
/// (`….serve("0.0.0.0:8080").await`), that call's error is converted into `main`'s
/// with `Into`, as `?` would. The tail's own error type must then be known without
/// looking at `main`'s: for `async { …; Ok(()) }.await`, write
/// `Ok::<(), MyError>(())` or end with `?; Ok(())`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let original: proc_macro2::TokenStream = item.clone().into();
    rustango_macros_core::main_attr::expand(args.into(), item.into())
        .unwrap_or_else(|e| {
            // Keep the function, so the only error is ours.
            let mut out = e.into_compile_error();
            out.extend(original);
            out
        })
        .into()
}
