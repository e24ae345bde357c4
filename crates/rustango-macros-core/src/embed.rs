//! `embed_migrations!("migrations")`: the migration files of a project, compiled into
//! the binary so that a deployed program can migrate without the files beside it.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;

/// The path of the migrations module for the crate being compiled.
fn migrate_path() -> TokenStream {
    use proc_macro_crate::{FoundCrate, crate_name};
    for (pkg, facade) in [("rustango", true), ("rustango-migrate", false)] {
        let name = match crate_name(pkg) {
            Ok(FoundCrate::Itself) => pkg.replace('-', "_"),
            Ok(FoundCrate::Name(name)) => name,
            Err(_) => continue,
        };
        let id = syn::Ident::new(&name, proc_macro2::Span::call_site());
        return if facade {
            quote!(::#id::migrate)
        } else {
            quote!(::#id)
        };
    }
    quote!(::rustango::migrate)
}

fn json_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file()
            && path.extension().is_some_and(|e| e == "json")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            out.push((stem.to_owned(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// Expands `embed_migrations!("dir")`, `dir` relative to `manifest_dir` (the crate's
/// `CARGO_MANIFEST_DIR`), into a `&'static [EmbeddedFile]`.
pub fn expand(input: TokenStream, manifest_dir: &Path) -> syn::Result<TokenStream> {
    let lit: syn::LitStr = syn::parse2(input)?;
    let dir = manifest_dir.join(lit.value());
    if !dir.is_dir() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "no migrations directory at `{}`: create it with `manage makemigrations`",
                dir.display()
            ),
        ));
    }
    let err = |e: std::io::Error| syn::Error::new(lit.span(), format!("{}: {e}", dir.display()));
    let mut entries = Vec::new();
    let mut push = |app: Option<&str>, name: &str, path: &Path| {
        let path = path.display().to_string();
        let app = match app {
            Some(a) => quote!(::core::option::Option::Some(#a)),
            None => quote!(::core::option::Option::None),
        };
        entries.push(quote!(EmbeddedFile { app: #app, name: #name, json: include_str!(#path) }));
    };
    for (name, path) in json_files(&dir).map_err(err)? {
        push(None, &name, &path);
    }
    let mut apps: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    apps.sort();
    for app_dir in apps {
        let Some(app) = app_dir
            .file_name()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        for (name, path) in json_files(&app_dir).map_err(err)? {
            push(Some(&app), &name, &path);
        }
    }
    let m = migrate_path();
    Ok(quote!({
        use #m::EmbeddedFile;
        const FILES: &[EmbeddedFile] = &[#(#entries),*];
        FILES
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_top_level_and_app_files_in_order() {
        let dir = std::env::temp_dir().join(format!("rustango-embed-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("migrations/shop")).unwrap();
        std::fs::write(dir.join("migrations/0002_b.json"), "{}").unwrap();
        std::fs::write(dir.join("migrations/0001_a.json"), "{}").unwrap();
        std::fs::write(dir.join("migrations/shop/0001_s.json"), "{}").unwrap();
        std::fs::write(dir.join("migrations/notes.txt"), "x").unwrap();
        let out = expand(quote!("migrations"), &dir).unwrap().to_string();
        let a = out.find("\"0001_a\"").unwrap();
        let b = out.find("\"0002_b\"").unwrap();
        let s = out.find("\"0001_s\"").unwrap();
        assert!(a < b && b < s, "{out}");
        assert!(out.contains("Some (\"shop\")"), "{out}");
        assert!(!out.contains("notes"), "{out}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_a_compile_error() {
        let e = expand(quote!("nowhere"), Path::new("/nonexistent")).unwrap_err();
        assert!(e.to_string().contains("manage makemigrations"));
    }
}
