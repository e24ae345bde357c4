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
    let mut body = (*f.block).clone();
    if returns_result(output) {
        convert_awaited_tail(&mut body);
    }
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

/// Whether `main` declares `-> …Result<…>` (any path ending in `Result`).
fn returns_result(output: &syn::ReturnType) -> bool {
    match output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Result"),
            _ => false,
        },
        syn::ReturnType::Default => false,
    }
}

/// A body ending in an awaited call (`Builder::from_env().await?…serve(addr).await`)
/// returns that call's error type, which is rarely `main`'s own (`Box<dyn Error>`,
/// `anyhow::Error`): the tail's error is converted with `Into`, as `?` would. Other
/// tails (`Ok(())`, a `match`) are left alone, since converting them would leave
/// their error type for the compiler to guess.
fn convert_awaited_tail(body: &mut syn::Block) {
    if let Some(syn::Stmt::Expr(tail @ syn::Expr::Await(_), None)) = body.stmts.last_mut() {
        let awaited = tail.clone();
        // Spanned at the tail: a conversion that does not type-check points there.
        let span = syn::spanned::Spanned::span(&awaited);
        *tail = syn::parse_quote_spanned! {span=>
            ::core::result::Result::map_err(#awaited, ::core::convert::Into::into)
        };
    }
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
    fn converts_the_error_of_an_awaited_tail_only() {
        let expand = |item| expand(TokenStream::new(), item).unwrap().to_string();
        let out = expand(quote!(
            async fn main() -> Result<(), Box<dyn std::error::Error>> {
                serve().await
            }
        ));
        assert!(out.contains("map_err"), "{out}");
        let out = expand(quote!(
            async fn main() -> Result<(), Box<dyn std::error::Error>> {
                serve().await?;
                Ok(())
            }
        ));
        assert!(!out.contains("map_err"), "{out}");
        let out = expand(quote!(
            async fn main() {
                serve().await
            }
        ));
        assert!(!out.contains("map_err"), "{out}");
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
