//! `#[rustango::main]`: runs an `async fn main` on a multi-threaded tokio runtime with
//! rustango's logging installed.

use proc_macro2::TokenStream;
use quote::quote;

/// Expands `#[rustango::main]` on `item` (which must be `async fn main`).
pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if !args.is_empty() {
        return Err(syn::Error::new_spanned(
            args,
            "#[rustango::main] takes no arguments",
        ));
    }
    let f: syn::ItemFn = syn::parse2(item)?;
    if f.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            f.sig.fn_token,
            "#[rustango::main] goes on an `async fn`",
        ));
    }
    if !f.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &f.sig.inputs,
            "`main` takes no arguments",
        ));
    }
    let private = crate::private_path();
    let attrs = &f.attrs;
    let vis = &f.vis;
    let name = &f.sig.ident;
    let output = &f.sig.output;
    let body = &f.block;
    Ok(quote! {
        #(#attrs)*
        #vis fn #name() #output {
            let __rustango_tracing = #private::init_tracing();
            #private::tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("cannot start the tokio runtime")
                .block_on(async move #body)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_an_async_main() {
        let out = expand(
            TokenStream::new(),
            quote!(
                async fn main() -> Result<(), ()> {
                    Ok(())
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("new_multi_thread"), "{out}");
        assert!(out.contains("init_tracing"), "{out}");
        assert!(!out.contains("async fn main"), "{out}");
    }

    #[test]
    fn refuses_a_sync_fn_and_arguments() {
        assert!(
            expand(
                TokenStream::new(),
                quote!(
                    fn main() {}
                )
            )
            .is_err()
        );
        assert!(
            expand(
                quote!(flavor = "x"),
                quote!(
                    async fn main() {}
                )
            )
            .is_err()
        );
    }
}
