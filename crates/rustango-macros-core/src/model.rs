//! `#[derive(Model)]`: parses `#[rustango(...)]` attributes, checks every name against
//! the struct's fields, and emits the static schema, the `Model` impl, typed column
//! constants and the inherent ORM methods.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{
    Data, DeriveInput, Fields, GenericArgument, Ident, LitInt, LitStr, PathArguments, Type,
    meta::ParseNestedMeta, spanned::Spanned,
};

/// Expands `#[derive(Model)]` with the runtime path `::rustango::__private`, or
/// whichever crate [`crate::private_path`] finds.
pub fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    expand_with(input, crate::private_path())
}

/// A name list given as one string literal (`"id, title"`), with the literal's span.
#[derive(Default, Clone)]
struct NameList {
    names: Vec<String>,
    span: Option<Span>,
}

impl NameList {
    fn parse(lit: &LitStr) -> Self {
        NameList {
            names: lit
                .value()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            span: Some(lit.span()),
        }
    }
}

#[derive(Default)]
struct AdminAttr {
    list_display: NameList,
    search_fields: NameList,
    list_filter: NameList,
    ordering: NameList,
    list_per_page: Option<u32>,
    readonly_fields: NameList,
    fieldsets: Vec<(String, NameList)>,
    actions: Vec<String>,
}

struct IndexAttr {
    columns: NameList,
    unique: bool,
    name: Option<String>,
}

struct CheckAttr {
    name: String,
    expr: String,
}

struct M2MAttr {
    name: String,
    to: String,
    through: String,
    src: String,
    dst: String,
}

#[derive(Default)]
struct ModelAttrs {
    table: Option<String>,
    app: Option<String>,
    display: Option<LitStr>,
    admin: AdminAttr,
    audit: Option<NameList>,
    permissions: bool,
    indexes: Vec<IndexAttr>,
    checks: Vec<CheckAttr>,
    m2m: Vec<M2MAttr>,
}

#[derive(Default)]
struct FieldAttrs {
    primary_key: bool,
    max_length: Option<u32>,
    max_digits: Option<u8>,
    decimal_places: Option<u8>,
    index: bool,
    unique: bool,
    auto_now_add: bool,
    auto_now: bool,
    soft_delete: bool,
    auto_uuid: bool,
    null: Option<Span>,
    default: Option<String>,
    db_column: Option<String>,
    related_name: Option<String>,
    on_delete: Option<(String, Span)>,
    first_span: Option<Span>,
    /// The span of each option given, so errors point at the option itself.
    spans: std::collections::HashMap<String, Span>,
}

impl FieldAttrs {
    fn span_of(&self, keys: &[&str], fallback: Span) -> Span {
        keys.iter()
            .find_map(|k| self.spans.get(*k).copied())
            .unwrap_or(fallback)
    }
}

struct FieldInfo {
    ident: Ident,
    ty: Type,
    column: String,
    attrs: FieldAttrs,
    is_fk: bool,
    is_option: bool,
}

fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    meta.value()?.parse::<LitStr>()
}

fn lit_int<T: std::str::FromStr>(meta: &ParseNestedMeta<'_>) -> syn::Result<T>
where
    T::Err: std::fmt::Display,
{
    meta.value()?.parse::<LitInt>()?.base10_parse()
}

fn unknown(meta: &ParseNestedMeta<'_>, what: &str, known: &str) -> syn::Error {
    let name = meta
        .path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_else(|| "?".into());
    meta.error(format!("unknown {what} `{name}`; expected one of: {known}"))
}

fn parse_admin(meta: &ParseNestedMeta<'_>, admin: &mut AdminAttr) -> syn::Result<()> {
    meta.parse_nested_meta(|m| {
        let key = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        match key.as_str() {
            "list_display" => admin.list_display = NameList::parse(&lit_str(&m)?),
            "search_fields" => admin.search_fields = NameList::parse(&lit_str(&m)?),
            "list_filter" => admin.list_filter = NameList::parse(&lit_str(&m)?),
            "ordering" => admin.ordering = NameList::parse(&lit_str(&m)?),
            "readonly_fields" => admin.readonly_fields = NameList::parse(&lit_str(&m)?),
            "list_per_page" => {
                let n: u32 = lit_int(&m)?;
                if n == 0 {
                    return Err(m.error("`list_per_page` must be at least 1"));
                }
                admin.list_per_page = Some(n);
            }
            "actions" => admin.actions = NameList::parse(&lit_str(&m)?).names,
            "fieldsets" => {
                let lit = lit_str(&m)?;
                for group in lit.value().split('|') {
                    let Some((title, fields)) = group.split_once(':') else {
                        return Err(syn::Error::new(
                            lit.span(),
                            "a fieldset is written `Title: field1, field2`, groups separated by `|`",
                        ));
                    };
                    let names = NameList {
                        names: fields
                            .split(',')
                            .map(|s| s.trim().to_owned())
                            .filter(|s| !s.is_empty())
                            .collect(),
                        span: Some(lit.span()),
                    };
                    admin.fieldsets.push((title.trim().to_owned(), names));
                }
            }
            _ => {
                return Err(unknown(
                    &m,
                    "admin option",
                    "list_display, search_fields, list_filter, ordering, list_per_page, readonly_fields, fieldsets, actions",
                ));
            }
        }
        Ok(())
    })
}

fn parse_model_attrs(input: &DeriveInput) -> syn::Result<ModelAttrs> {
    let mut out = ModelAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("rustango")) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            match key.as_str() {
                "table" => out.table = Some(lit_str(&meta)?.value()),
                "app" => {
                    let lit = lit_str(&meta)?;
                    let app = lit.value();
                    let valid = !app.is_empty()
                        && app.len() <= 64
                        && app.starts_with(|c: char| c.is_ascii_lowercase())
                        && app
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if !valid {
                        return Err(syn::Error::new(
                            lit.span(),
                            "an app label is lowercase letters, digits and `_`, starting with a letter",
                        ));
                    }
                    out.app = Some(app);
                }
                "display" => out.display = Some(lit_str(&meta)?),
                "admin" => parse_admin(&meta, &mut out.admin)?,
                "permissions" => {
                    out.permissions = if meta.input.peek(syn::Token![=]) {
                        meta.value()?.parse::<syn::LitBool>()?.value
                    } else {
                        true
                    }
                }
                "audit" => {
                    let mut track = None;
                    meta.parse_nested_meta(|m| {
                        if m.path.is_ident("track") {
                            track = Some(NameList::parse(&lit_str(&m)?));
                            Ok(())
                        } else {
                            Err(unknown(&m, "audit option", "track"))
                        }
                    })?;
                    out.audit =
                        Some(track.ok_or_else(|| meta.error("`audit` needs `track = \"...\"`"))?);
                }
                "index" => {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let cols: LitStr = content.parse()?;
                    let mut ix = IndexAttr {
                        columns: NameList::parse(&cols),
                        unique: false,
                        name: None,
                    };
                    if ix.columns.names.is_empty() {
                        return Err(syn::Error::new(cols.span(), "an index needs at least one column"));
                    }
                    while content.peek(syn::Token![,]) {
                        content.parse::<syn::Token![,]>()?;
                        if content.is_empty() {
                            break;
                        }
                        let key: Ident = content.parse()?;
                        match key.to_string().as_str() {
                            "unique" => ix.unique = true,
                            "name" => {
                                content.parse::<syn::Token![=]>()?;
                                ix.name = Some(content.parse::<LitStr>()?.value());
                            }
                            other => {
                                return Err(syn::Error::new(
                                    key.span(),
                                    format!("unknown index option `{other}`; expected `unique` or `name = \"...\"`"),
                                ));
                            }
                        }
                    }
                    out.indexes.push(ix);
                }
                "check" => {
                    let (mut name, mut expr) = (None, None);
                    meta.parse_nested_meta(|m| {
                        if m.path.is_ident("name") {
                            name = Some(lit_str(&m)?.value());
                        } else if m.path.is_ident("expr") {
                            expr = Some(lit_str(&m)?.value());
                        } else {
                            return Err(unknown(&m, "check option", "name, expr"));
                        }
                        Ok(())
                    })?;
                    match (name, expr) {
                        (Some(name), Some(expr)) => out.checks.push(CheckAttr { name, expr }),
                        _ => return Err(meta.error("`check` needs `name = \"...\"` and `expr = \"...\"`")),
                    }
                }
                "m2m" => {
                    let mut v: [Option<String>; 5] = Default::default();
                    meta.parse_nested_meta(|m| {
                        let k = m.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                        let slot = match k.as_str() {
                            "name" => 0,
                            "to" => 1,
                            "through" => 2,
                            "src" => 3,
                            "dst" => 4,
                            _ => return Err(unknown(&m, "m2m option", "name, to, through, src, dst")),
                        };
                        v[slot] = Some(lit_str(&m)?.value());
                        Ok(())
                    })?;
                    let [Some(name), Some(to), Some(through), Some(src), Some(dst)] = v else {
                        return Err(meta.error(
                            "`m2m` needs `name`, `to`, `through`, `src` and `dst`",
                        ));
                    };
                    out.m2m.push(M2MAttr { name, to, through, src, dst });
                }
                _ => {
                    return Err(unknown(
                        &meta,
                        "model attribute",
                        "table, app, display, admin, audit, permissions, index, check, m2m",
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn parse_field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("rustango")) {
        out.first_span.get_or_insert(attr.span());
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            out.spans.insert(key.clone(), meta.path.span());
            match key.as_str() {
                "primary_key" => out.primary_key = true,
                "index" => out.index = true,
                "unique" => out.unique = true,
                "auto_now_add" => out.auto_now_add = true,
                "auto_now" => out.auto_now = true,
                "soft_delete" => out.soft_delete = true,
                "auto_uuid" => out.auto_uuid = true,
                "null" => out.null = Some(meta.path.span()),
                "max_length" => {
                    let n: u32 = lit_int(&meta)?;
                    if n == 0 {
                        return Err(meta.error("`max_length` must be at least 1"));
                    }
                    out.max_length = Some(n);
                }
                "max_digits" => out.max_digits = Some(lit_int(&meta)?),
                "decimal_places" => out.decimal_places = Some(lit_int(&meta)?),
                "default" => out.default = Some(lit_str(&meta)?.value()),
                "db_column" => out.db_column = Some(lit_str(&meta)?.value()),
                "related_name" => out.related_name = Some(lit_str(&meta)?.value()),
                "on_delete" => {
                    let lit = lit_str(&meta)?;
                    out.on_delete = Some((lit.value(), lit.span()));
                }
                _ => {
                    return Err(unknown(
                        &meta,
                        "field attribute",
                        "primary_key, max_length, max_digits, decimal_places, index, unique, auto_now_add, auto_now, soft_delete, auto_uuid, default, null, db_column, related_name, on_delete",
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// The last path segment of a type and its single generic argument, if any.
fn outer(ty: &Type) -> Option<(String, Option<&Type>)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    let inner = match &seg.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    Some((seg.ident.to_string(), inner))
}

fn type_is(ty: &Type, name: &str) -> bool {
    outer(ty).is_some_and(|(n, _)| n == name)
}

fn unwrap_option(ty: &Type) -> (bool, &Type) {
    match outer(ty) {
        Some((n, Some(inner))) if n == "Option" => (true, inner),
        _ => (false, ty),
    }
}

fn to_snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn check_names(
    fields: &[FieldInfo],
    list: &NameList,
    what: &str,
    allow_desc: bool,
) -> syn::Result<()> {
    for raw in &list.names {
        let name = if allow_desc {
            raw.trim_start_matches('-')
        } else {
            raw.as_str()
        };
        if !fields.iter().any(|f| f.ident == name || f.column == name) {
            let known: Vec<String> = fields.iter().map(|f| f.ident.to_string()).collect();
            return Err(syn::Error::new(
                list.span.unwrap_or_else(Span::call_site),
                format!(
                    "`{name}` in `{what}` is not a field of this model (fields: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn field_name_of<'a>(fields: &'a [FieldInfo], name: &str) -> &'a FieldInfo {
    fields
        .iter()
        .find(|f| f.ident == name || f.column == name)
        .expect("checked by check_names")
}

/// Expands `#[derive(Model)]` with an explicit runtime path (used by snapshot tests).
pub fn expand_with(input: DeriveInput, p: TokenStream) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "`#[derive(Model)]` does not support generic structs",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            ident.span(),
            "`#[derive(Model)]` only works on structs",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            ident.span(),
            "`#[derive(Model)]` needs a struct with named fields",
        ));
    };
    let attrs = parse_model_attrs(&input)?;

    let mut fields = Vec::new();
    for f in &named.named {
        let fident = f.ident.clone().expect("named field");
        let fa = parse_field_attrs(f)?;
        let (is_option, inner) = unwrap_option(&f.ty);
        let is_fk = type_is(inner, "ForeignKey");
        let is_auto = type_is(&f.ty, "Auto");
        let span = fa.first_span.unwrap_or_else(|| fident.span());
        if let Some(s) = fa.null
            && !is_option
        {
            return Err(syn::Error::new(
                s,
                "`null` needs an `Option<T>` field: nullability comes from the type",
            ));
        }
        if (fa.auto_now_add || fa.auto_now || fa.auto_uuid) && !is_auto {
            return Err(syn::Error::new(
                fa.span_of(&["auto_now_add", "auto_now", "auto_uuid"], span),
                "`auto_now_add`, `auto_now` and `auto_uuid` need an `Auto<T>` field",
            ));
        }
        if fa.soft_delete && !is_option {
            return Err(syn::Error::new(
                span,
                "`soft_delete` needs an `Option<DateTime<Utc>>` field",
            ));
        }
        if fa.max_length.is_some() && !type_is(inner, "String") {
            return Err(syn::Error::new(
                span,
                "`max_length` applies to `String` fields only",
            ));
        }
        if !is_fk && (fa.related_name.is_some() || fa.on_delete.is_some()) {
            return Err(syn::Error::new(
                fa.span_of(&["related_name", "on_delete"], span),
                "`related_name` and `on_delete` apply to `ForeignKey<T>` fields only",
            ));
        }
        if let Some((rule, s)) = &fa.on_delete {
            let ok = matches!(
                rule.to_ascii_lowercase().replace(' ', "_").as_str(),
                "cascade" | "restrict" | "set_null" | "no_action" | "protect"
            );
            if !ok {
                return Err(syn::Error::new(
                    *s,
                    "`on_delete` is one of \"cascade\", \"restrict\" (\"protect\"), \"set_null\", \"no_action\"",
                ));
            }
            if rule.eq_ignore_ascii_case("set_null") && !is_option {
                return Err(syn::Error::new(
                    *s,
                    "`on_delete = \"set_null\"` needs an `Option<ForeignKey<T>>` field",
                ));
            }
        }
        let column = fa.db_column.clone().unwrap_or_else(|| {
            if is_fk {
                format!("{fident}_id")
            } else {
                fident.to_string()
            }
        });
        fields.push(FieldInfo {
            ident: fident,
            ty: f.ty.clone(),
            column,
            attrs: fa,
            is_fk,
            is_option,
        });
    }

    // Primary key: the marked field, else a field named `id`.
    let marked: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].attrs.primary_key)
        .collect();
    let pk = match marked.as_slice() {
        [i] => *i,
        [] => fields.iter().position(|f| f.ident == "id").ok_or_else(|| {
            syn::Error::new(
                ident.span(),
                "a model needs a primary key: mark a field `#[rustango(primary_key)]` or name it `id`",
            )
        })?,
        [_, second, ..] => {
            return Err(syn::Error::new(
                fields[*second].attrs.first_span.unwrap_or_else(|| fields[*second].ident.span()),
                "a model has exactly one `primary_key` (composite keys are not supported)",
            ));
        }
    };
    if fields[pk].is_option {
        return Err(syn::Error::new(
            fields[pk].ident.span(),
            "the primary key cannot be an `Option`",
        ));
    }
    if fields.iter().filter(|f| f.attrs.soft_delete).count() > 1 {
        return Err(syn::Error::new(
            ident.span(),
            "a model has at most one `soft_delete` field",
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        if fields[..i].iter().any(|g| g.column == f.column) {
            return Err(syn::Error::new(
                f.ident.span(),
                format!("two fields use the column `{}`", f.column),
            ));
        }
    }

    // Names used in options must be fields.
    let a = &attrs.admin;
    check_names(&fields, &a.list_display, "list_display", false)?;
    check_names(&fields, &a.search_fields, "search_fields", false)?;
    check_names(&fields, &a.list_filter, "list_filter", false)?;
    check_names(&fields, &a.ordering, "ordering", true)?;
    check_names(&fields, &a.readonly_fields, "readonly_fields", false)?;
    for (_, fs) in &a.fieldsets {
        check_names(&fields, fs, "fieldsets", false)?;
    }
    if let Some(track) = &attrs.audit {
        check_names(&fields, track, "audit(track)", false)?;
    }
    for ix in &attrs.indexes {
        check_names(&fields, &ix.columns, "index", false)?;
    }
    if let Some(d) = &attrs.display {
        let names = NameList::parse(d);
        if names.names.len() != 1 {
            return Err(syn::Error::new(
                d.span(),
                "`display` names exactly one field",
            ));
        }
        check_names(&fields, &names, "display", false)?;
    }
    for (i, m) in attrs.m2m.iter().enumerate() {
        if attrs.m2m[..i].iter().any(|o| o.name == m.name) {
            return Err(syn::Error::new(
                ident.span(),
                format!("two m2m relations are named `{}`", m.name),
            ));
        }
    }

    let name_str = ident.to_string();
    let table = attrs.table.clone().unwrap_or_else(|| to_snake(&name_str));
    let app = match &attrs.app {
        Some(app) => quote!(::core::option::Option::Some(#app)),
        None => quote!(::core::option::Option::None),
    };

    // The schema.
    let field_schemas = fields.iter().enumerate().map(|(i, f)| {
        let name = f.ident.to_string();
        let column = &f.column;
        let ty = &f.ty;
        let fa = &f.attrs;
        let primary_key = i == pk;
        let opt_u32 = |v: Option<u32>| match v {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let opt_u8 = |v: Option<u8>| match v {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let opt_str = |v: &Option<String>| match v {
            Some(s) => quote!(::core::option::Option::Some(#s)),
            None => quote!(::core::option::Option::None),
        };
        let max_length = opt_u32(fa.max_length);
        let max_digits = opt_u8(fa.max_digits);
        let decimal_places = opt_u8(fa.decimal_places);
        let default = opt_str(&fa.default);
        let (unique, index, anow_add, anow, auuid, sdel) = (
            fa.unique,
            fa.index,
            fa.auto_now_add,
            fa.auto_now,
            fa.auto_uuid,
            fa.soft_delete,
        );
        let relation = if f.is_fk {
            let on_delete = match fa
                .on_delete
                .as_ref()
                .map(|(r, _)| r.to_ascii_lowercase().replace(' ', "_"))
                .as_deref()
            {
                Some("restrict") | Some("protect") => quote!(#p::OnDelete::Restrict),
                Some("set_null") => quote!(#p::OnDelete::SetNull),
                Some("no_action") => quote!(#p::OnDelete::NoAction),
                _ => quote!(#p::OnDelete::Cascade),
            };
            let related_name = opt_str(&fa.related_name);
            quote!(::core::option::Option::Some(#p::Relation {
                to: || <<#ty as #p::ForeignKeyField>::Target as #p::Model>::SCHEMA,
                on_delete: #on_delete,
                related_name: #related_name,
            }))
        } else {
            quote!(::core::option::Option::None)
        };
        quote! {
            #p::FieldSchema {
                name: #name,
                column: #column,
                kind: <#ty as #p::FieldValue>::KIND,
                nullable: <#ty as #p::FieldValue>::NULLABLE,
                primary_key: #primary_key,
                auto: <#ty as #p::FieldValue>::AUTO,
                max_length: #max_length,
                max_digits: #max_digits,
                decimal_places: #decimal_places,
                unique: #unique,
                index: #index,
                default: #default,
                auto_now_add: #anow_add,
                auto_now: #anow,
                auto_uuid: #auuid,
                soft_delete: #sdel,
                relation: #relation,
            }
        }
    });

    let col_of = |n: &str| field_name_of(&fields, n).column.clone();
    let name_of = |n: &str| field_name_of(&fields, n).ident.to_string();
    let names = |l: &NameList| {
        let v: Vec<String> = l.names.iter().map(|n| name_of(n)).collect();
        quote!(&[#(#v),*])
    };
    let list_display = names(&a.list_display);
    let search_fields = names(&a.search_fields);
    let list_filter = names(&a.list_filter);
    let readonly_fields = names(&a.readonly_fields);
    let ordering = a.ordering.names.iter().map(|n| {
        let desc = n.starts_with('-');
        let f = name_of(n.trim_start_matches('-'));
        quote!((#f, #desc))
    });
    let list_per_page = match a.list_per_page {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let fieldsets = a.fieldsets.iter().map(|(title, fs)| {
        let v = names(fs);
        quote!(#p::Fieldset { title: #title, fields: #v })
    });
    let actions = &a.actions;
    let audit = match &attrs.audit {
        Some(t) => {
            let v = names(t);
            quote!(::core::option::Option::Some(#p::AuditOptions { track: #v }))
        }
        None => quote!(::core::option::Option::None),
    };
    let display = match &attrs.display {
        Some(d) => {
            let n = name_of(d.value().trim());
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    };
    let indexes = attrs.indexes.iter().map(|ix| {
        let cols: Vec<String> = ix.columns.names.iter().map(|n| col_of(n)).collect();
        let name = ix.name.clone().unwrap_or_else(|| {
            format!(
                "{}_{}_{}",
                if ix.unique { "uq" } else { "ix" },
                table,
                cols.join("_")
            )
        });
        let unique = ix.unique;
        quote!(#p::IndexSchema { name: #name, columns: &[#(#cols),*], unique: #unique })
    });
    let checks = attrs.checks.iter().map(|c| {
        let (n, e) = (&c.name, &c.expr);
        quote!(#p::CheckSchema { name: #n, expr: #e })
    });
    let m2ms = attrs.m2m.iter().map(|m| {
        let (n, t, th, s, d) = (&m.name, &m.to, &m.through, &m.src, &m.dst);
        quote!(#p::M2MSchema { name: #n, to: #t, through: #th, src: #s, dst: #d })
    });
    let permissions = attrs.permissions;
    let pk_ty = &fields[pk].ty;
    let pk_ident = &fields[pk].ident;

    // Row conversion.
    let idents: Vec<&Ident> = fields.iter().map(|f| &f.ident).collect();
    let tys: Vec<&Type> = fields.iter().map(|f| &f.ty).collect();
    let name_strs: Vec<String> = fields.iter().map(|f| f.ident.to_string()).collect();
    let indices: Vec<usize> = (0..fields.len()).collect();
    let fk_arms = fields.iter().filter(|f| f.is_fk).map(|f| {
        let fi = &f.ident;
        let n = fi.to_string();
        quote!(#n => #p::ForeignKeyField::load_related(&mut __row.#fi, __reader, &__rel.children)?,)
    });

    // Typed columns.
    let columns = fields.iter().map(|f| {
        let fi = &f.ident;
        let ty = &f.ty;
        let col = &f.column;
        let doc = format!("The `{col}` column, for filters and ordering.");
        quote! {
            #[doc = #doc]
            #[allow(non_upper_case_globals)]
            pub const #fi: #p::Col<#ident, #ty> = #p::Col::new(#col);
        }
    });

    // `Post::author_id`: the key column of a foreign key under its column name, as the
    // spec's filters use it, unless a field already has that name.
    let fk_id_columns = fields
        .iter()
        .filter(|f| f.is_fk && !fields.iter().any(|g| g.ident == f.column))
        .filter_map(|f| {
            let id = syn::parse_str::<Ident>(&f.column).ok()?;
            let ty = &f.ty;
            let col = &f.column;
            let doc = format!(
                "The `{col}` key column of `{}` (same as `{}::{}`).",
                f.ident, ident, f.ident
            );
            Some(quote! {
                #[doc = #doc]
                #[allow(non_upper_case_globals)]
                pub const #id: #p::Col<#ident, #ty> = #p::Col::new(#col);
            })
        });

    // M2M managers.
    let m2m_methods = attrs.m2m.iter().enumerate().map(|(i, m)| {
        let method = format_ident!("{}_m2m", m.name);
        let doc = format!(
            "The `{}` many-to-many relation of this row (junction `{}`).",
            m.name, m.through
        );
        quote! {
            #[doc = #doc]
            pub fn #method(&self) -> #p::ManyToMany<'_, #ident> {
                #p::ManyToMany::new(self, &<#ident as #p::Model>::SCHEMA.m2m[#i])
            }
        }
    });

    Ok(quote! {
        impl #p::Model for #ident {
            const SCHEMA: &'static #p::ModelSchema = &#p::ModelSchema {
                name: #name_str,
                module_path: ::core::module_path!(),
                app: #app,
                table: #table,
                display: #display,
                fields: &[#(#field_schemas),*],
                pk: #pk,
                indexes: &[#(#indexes),*],
                checks: &[#(#checks),*],
                m2m: &[#(#m2ms),*],
                admin: #p::AdminOptions {
                    list_display: #list_display,
                    search_fields: #search_fields,
                    list_filter: #list_filter,
                    ordering: &[#(#ordering),*],
                    list_per_page: #list_per_page,
                    readonly_fields: #readonly_fields,
                    fieldsets: &[#(#fieldsets),*],
                    actions: &[#(#actions),*],
                },
                audit: #audit,
                permissions: #permissions,
            };
            type Pk = #pk_ty;

            fn pk(&self) -> &Self::Pk {
                &self.#pk_ident
            }

            fn value_at(&self, index: usize) -> ::core::option::Option<#p::Value> {
                match index {
                    #(#indices => <#tys as #p::FieldValue>::to_value(&self.#idents),)*
                    _ => ::core::option::Option::None,
                }
            }

            fn set_value_at(&mut self, index: usize, value: #p::Value) -> ::core::result::Result<(), #p::CoreError> {
                match index {
                    #(#indices => { self.#idents = <#tys as #p::FieldValue>::from_value(value)?; })*
                    _ => {}
                }
                ::core::result::Result::Ok(())
            }

            fn from_reader(
                __reader: &mut #p::ValueReader,
                __related: &[#p::RelatedTree],
            ) -> ::core::result::Result<Self, #p::CoreError> {
                #[allow(unused_mut)]
                let mut __row = Self {
                    #(#idents: __reader.read::<#tys>(#name_strs)?,)*
                };
                for __rel in __related {
                    match __rel.field {
                        #(#fk_arms)*
                        __other => {
                            return ::core::result::Result::Err(#p::CoreError::UnknownField {
                                model: #name_str,
                                name: __other.into(),
                            });
                        }
                    }
                }
                ::core::result::Result::Ok(__row)
            }
        }

        #[allow(missing_docs)]
        impl #ident {
            /// The static schema description of this model.
            pub const SCHEMA: &'static #p::ModelSchema = <#ident as #p::Model>::SCHEMA;

            #(#columns)*
            #(#fk_id_columns)*

            /// A query over every row of this model (Django's `Model.objects`).
            pub fn objects() -> #p::QuerySet<#ident> {
                #p::QuerySet::new()
            }

            /// Inserts the row when its primary key is unset, updates it otherwise, and
            /// writes server-assigned values back into `self`.
            pub async fn save_on<'e>(&mut self, exec: impl #p::Executor<'e>) -> ::core::result::Result<(), #p::Error> {
                #p::save(self, exec).await
            }

            /// Inserts many rows in one statement.
            pub async fn bulk_insert_on<'e>(exec: impl #p::Executor<'e>, rows: ::std::vec::Vec<#ident>) -> ::core::result::Result<::std::vec::Vec<#ident>, #p::Error> {
                #p::bulk_insert(exec, rows).await
            }

            /// Inserts the row, or updates the existing row that has the same values in
            /// `conflict` (a unique constraint).
            pub async fn upsert_on<'e>(&mut self, exec: impl #p::Executor<'e>, conflict: &[&str]) -> ::core::result::Result<(), #p::Error> {
                #p::upsert(self, exec, conflict).await
            }

            /// Deletes the row (a real `DELETE`, even for soft-deletable models).
            pub async fn delete_on<'e>(&self, exec: impl #p::Executor<'e>) -> ::core::result::Result<(), #p::Error> {
                #p::delete(self, exec).await
            }

            /// Stamps the soft-delete column instead of deleting.
            pub async fn soft_delete_on<'e>(&mut self, exec: impl #p::Executor<'e>) -> ::core::result::Result<(), #p::Error> {
                #p::soft_delete(self, exec).await
            }

            /// Clears the soft-delete column.
            pub async fn restore_on<'e>(&mut self, exec: impl #p::Executor<'e>) -> ::core::result::Result<(), #p::Error> {
                #p::restore(self, exec).await
            }

            #(#m2m_methods)*
        }

        #p::inventory::submit! {
            #p::ModelEntry {
                schema: <#ident as #p::Model>::SCHEMA,
                decode: #p::decode_erased::<#ident>,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(src: &str) -> syn::Result<String> {
        let input: DeriveInput = syn::parse_str(src)?;
        expand_with(input, quote!(::rustango::__private)).map(|t| t.to_string())
    }

    #[test]
    fn fk_column_gets_id_suffix_and_names_are_checked() {
        let out = expand_str(
            r#"#[rustango(table = "posts", admin(list_display = "id, author_id"))]
               struct Post { id: Auto<i64>, author: ForeignKey<Author> }"#,
        )
        .unwrap();
        assert!(out.contains("\"author_id\""));
        let err = expand_str(
            r#"#[rustango(admin(list_display = "id, nope"))] struct Post { id: Auto<i64> }"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("`nope` in `list_display`"));
    }

    #[test]
    fn unknown_attributes_are_errors() {
        let err = expand_str(r#"#[rustango(tabel = "x")] struct P { id: i64 }"#).unwrap_err();
        assert!(err.to_string().contains("unknown model attribute `tabel`"));
        let err = expand_str(r#"struct P { #[rustango(uniq)] id: i64 }"#).unwrap_err();
        assert!(err.to_string().contains("unknown field attribute `uniq`"));
    }

    #[test]
    fn expansion_snapshot() {
        let out = expand_str(
            r#"#[rustango(table = "posts", display = "title", index("title, author_id", unique))]
               struct Post {
                   #[rustango(primary_key)] id: Auto<i64>,
                   #[rustango(max_length = 20)] title: String,
                   #[rustango(on_delete = "restrict")] author: ForeignKey<Author>,
               }"#,
        )
        .unwrap();
        insta::assert_snapshot!(out.replace(" ; ", ";\n").replace("} ", "}\n"));
    }

    #[test]
    fn display_names_one_field() {
        let err =
            expand_str(r#"#[rustango(display = "id, name")] struct P { id: i64, name: String }"#)
                .unwrap_err();
        assert!(err.to_string().contains("exactly one field"));
        assert!(expand_str(r#"#[rustango(display = "")] struct P { id: i64 }"#).is_err());
    }

    #[test]
    fn snake_case_table_by_default() {
        assert_eq!(to_snake("BlogPost"), "blog_post");
    }
}
