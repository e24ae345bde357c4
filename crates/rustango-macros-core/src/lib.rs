//! The implementation of rustango's derives as an ordinary library, so that it can be
//! unit-tested and snapshot-tested; `rustango-macros` only parses and calls in.
//!
//! Generated code reaches runtime items through the `__private` module of whichever
//! rustango crate the user depends on (the `rustango` facade, or `rustango-orm` alone),
//! found with `proc-macro-crate`. It never tests cargo features in the user's crate.
#![deny(missing_docs)]

pub mod embed;
pub mod main_attr;
pub mod model;

use proc_macro2::TokenStream;
use quote::quote;

/// The path of the runtime support module for the crate being compiled.
pub fn private_path() -> TokenStream {
    use proc_macro_crate::{FoundCrate, crate_name};
    for (pkg, ident) in [("rustango", "rustango"), ("rustango-orm", "rustango_orm")] {
        match crate_name(pkg) {
            Ok(FoundCrate::Itself) => {
                let id = syn::Ident::new(ident, proc_macro2::Span::call_site());
                return quote!(::#id::__private);
            }
            Ok(FoundCrate::Name(name)) => {
                let id = syn::Ident::new(&name, proc_macro2::Span::call_site());
                return quote!(::#id::__private);
            }
            Err(_) => continue,
        }
    }
    quote!(::rustango::__private)
}
