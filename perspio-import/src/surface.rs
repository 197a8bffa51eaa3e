//! `openapi/API.md`: the API surface as the generated Rust code really is.
//!
//! The Rust side (method names, builder setters and their types, `send` signatures) is read
//! from the source `perspio_codegen::generate` returns, parsed with `syn`; the HTTP side
//! (parameters, where they go, status codes) from the normalised spec.

use std::collections::HashMap;
use std::fmt::Write as _;

use perspio_codegen::{ALL_TAGS_FEATURE, TagFeatures};
use quote::ToTokens;
use serde_json::Value;

use crate::HTTP_METHODS;
use crate::normalize::describe_schema;

/// The generated client does not have the shape API.md is read from (progenitor's builder
/// interface).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SurfaceError {
    /// No `builder` module.
    #[error("the generated source has no `builder` module")]
    NoBuilderModule,
    /// A builder's `send` has no `Sends a `METHOD` request to `path`` doc comment.
    #[error("builder `{builder}` of `Client::{method}()` has no documented `send` method")]
    UndocumentedSend {
        /// The builder type.
        builder: String,
        /// The `Client` method that returns it.
        method: String,
    },
}

/// One operation as the generated code exposes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RustOperation {
    /// `list_assets` (`Client::list_assets()`).
    pub(crate) method: String,
    /// `ListAssets` (`builder::ListAssets`).
    pub(crate) builder: String,
    /// `GET /assets/v3/`, from the doc comment of `send`.
    pub(crate) http: String,
    pub(crate) setters: Vec<Setter>,
    /// `types::AssetList` in `ResponseValue<types::AssetList>`.
    pub(crate) success: String,
    /// `types::ApiError` in `Error<types::ApiError>`.
    pub(crate) error: String,
}

/// One builder setter: `.name(value)` taking `ty`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setter {
    pub(crate) name: String,
    pub(crate) ty: String,
}

/// What API.md and the type-name check read of the generated source, and nothing else: the
/// names the `types` module defines, the inherent impls of the `builder` module and those of
/// `Client`, their methods without bodies.
#[derive(Default)]
pub(crate) struct Surface {
    /// The structs, enums, type aliases and unions of `mod types`, in order (a name defined
    /// twice is there twice).
    type_names: Vec<String>,
    /// Whether the source has a `builder` module.
    has_builder: bool,
    /// The inherent impls of `mod builder`.
    builder_impls: Vec<syn::ItemImpl>,
    /// The top-level inherent impls of `Client`.
    client_impls: Vec<syn::ItemImpl>,
}

impl Surface {
    /// The surface of a whole parsed source.
    fn of(file: syn::File) -> Self {
        let mut surface = Surface::default();
        for item in file.items {
            match item {
                syn::Item::Mod(m) if m.ident == "types" => {
                    for item in m.content.map(|(_, items)| items).unwrap_or_default() {
                        surface.type_names.extend(type_name(&item));
                    }
                }
                syn::Item::Mod(m) if m.ident == "builder" => {
                    surface.has_builder = true;
                    for item in m.content.map(|(_, items)| items).unwrap_or_default() {
                        if let syn::Item::Impl(imp) = item
                            && imp.trait_.is_none()
                        {
                            surface.builder_impls.push(without_bodies(imp));
                        }
                    }
                }
                syn::Item::Impl(imp)
                    if imp.trait_.is_none() && is_named(&imp.self_ty, "Client") =>
                {
                    surface.client_impls.push(without_bodies(imp));
                }
                _ => {}
            }
        }
        surface
    }
}

/// The name a `types` item defines, if it defines a type.
fn type_name(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Struct(i) => Some(i.ident.to_string()),
        syn::Item::Enum(i) => Some(i.ident.to_string()),
        syn::Item::Type(i) => Some(i.ident.to_string()),
        syn::Item::Union(i) => Some(i.ident.to_string()),
        _ => None,
    }
}

/// `imp` with the body of each method emptied: only signatures and attributes are read.
fn without_bodies(mut imp: syn::ItemImpl) -> syn::ItemImpl {
    for member in &mut imp.items {
        if let syn::ImplItem::Fn(f) = member {
            f.block.stmts.clear();
        }
    }
    imp
}

/// The type names the generated `types` module defines more than once (what `rustc` would
/// refuse with E0428), and every type name it defines.
pub(crate) fn type_names(surface: &Surface) -> (Vec<String>, std::collections::BTreeSet<String>) {
    let mut seen = std::collections::BTreeSet::new();
    let mut twice = std::collections::BTreeSet::new();
    for name in &surface.type_names {
        if !seen.insert(name.clone()) {
            twice.insert(name.clone());
        }
    }
    (twice.into_iter().collect(), seen)
}

/// Reads the [`Surface`] of the generated source.
///
/// The source is printed one item per line, a module's or an impl's members each on a line of
/// their own between its `head {` line and a `}` line (perspio-codegen); it is read that way,
/// one item at a time, and only the items the surface needs are parsed. Holding the syntax
/// tree of the whole file made this step grow faster than the source: 15× the time for 5×
/// the code (Microsoft Graph, 115 MB, against autotask). A source not in that layout is
/// parsed whole.
///
/// # Errors
/// When the source does not parse.
pub(crate) fn parse(source: &str) -> syn::Result<Surface> {
    match read_by_line(source) {
        Some(surface) => Ok(surface),
        None => Ok(Surface::of(syn::parse_file(source)?)),
    }
}

/// Where a line of the generated source is.
enum Scope {
    /// `mod types`.
    Types,
    /// `mod builder`.
    Builder,
    /// An impl the surface keeps (of `Client` at the top level, or of the builder module).
    Impl(Box<syn::ItemImpl>, bool),
    /// Anything else: read past, not parsed.
    Other,
}

/// [`parse`] one item at a time; `None` when the source is not laid out as expected or a line
/// the surface needs does not parse (the caller parses the whole source instead).
fn read_by_line(source: &str) -> Option<Surface> {
    let mut surface = Surface::default();
    let mut stack: Vec<Scope> = Vec::new();
    for line in source.lines() {
        if line.is_empty() || (stack.is_empty() && line.starts_with("//")) {
            continue;
        }
        if line == "}" {
            if let Scope::Impl(imp, of_client) = stack.pop()? {
                if of_client {
                    surface.client_impls.push(*imp);
                } else {
                    surface.builder_impls.push(*imp);
                }
            }
            continue;
        }
        if let Some(head) = line.strip_suffix(" {") {
            let scope = match stack.last() {
                None | Some(Scope::Builder) => {
                    let top = stack.is_empty();
                    let item = syn::parse_str::<syn::Item>(&format!("{head} {{}}")).ok()?;
                    match item {
                        syn::Item::Mod(m) if top && m.ident == "types" => Scope::Types,
                        syn::Item::Mod(m) if top && m.ident == "builder" => {
                            surface.has_builder = true;
                            Scope::Builder
                        }
                        syn::Item::Impl(imp)
                            if imp.trait_.is_none()
                                && (!top || is_named(&imp.self_ty, "Client")) =>
                        {
                            Scope::Impl(Box::new(imp), top)
                        }
                        _ => Scope::Other,
                    }
                }
                Some(_) => Scope::Other,
            };
            stack.push(scope);
            continue;
        }
        match stack.last_mut() {
            Some(Scope::Types) => {
                let item = syn::parse_str::<syn::Item>(line).ok()?;
                surface.type_names.extend(type_name(&item));
            }
            Some(Scope::Impl(imp, _)) => {
                let mut member = syn::parse_str::<syn::ImplItem>(line).ok()?;
                if let syn::ImplItem::Fn(f) = &mut member {
                    f.block.stmts.clear();
                }
                imp.items.push(member);
            }
            // A top-level item printed on one line must not be one the surface reads.
            None => match syn::parse_str::<syn::Item>(line).ok()? {
                syn::Item::Mod(m) if m.ident == "types" || m.ident == "builder" => return None,
                syn::Item::Impl(imp)
                    if imp.trait_.is_none() && is_named(&imp.self_ty, "Client") =>
                {
                    return None;
                }
                _ => {}
            },
            _ => {}
        }
    }
    (stack.is_empty() && surface.has_builder).then_some(surface)
}

/// Reads every operation from the generated source (see [`parse`]).
///
/// # Errors
/// When the source does not parse, or its shape is not progenitor's builder interface.
pub(crate) fn extract(surface: &Surface) -> Result<Vec<RustOperation>, SurfaceError> {
    if !surface.has_builder {
        return Err(SurfaceError::NoBuilderModule);
    }
    // The inherent impls of the builder module by type name, once: looking each operation's
    // up by scanning the module made this step quadratic in the operations (14× the time for
    // 3.9× the operations, Microsoft Graph against autotask).
    let mut impls: HashMap<String, Vec<&syn::ItemImpl>> = HashMap::new();
    for imp in &surface.builder_impls {
        if let syn::Type::Path(p) = &*imp.self_ty
            && let Some(last) = p.path.segments.last()
        {
            impls.entry(last.ident.to_string()).or_default().push(imp);
        }
    }
    let mut ops = Vec::new();
    for imp in &surface.client_impls {
        for member in &imp.items {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            let syn::ReturnType::Type(_, ty) = &f.sig.output else {
                continue;
            };
            let Some(builder) = builder_name(ty) else {
                continue;
            };
            let builder_impls = impls.get(&builder).map_or(&[][..], Vec::as_slice);
            let op = read_builder(builder_impls, &f.sig.ident.to_string(), &builder)?;
            ops.push(op);
        }
    }
    Ok(ops)
}

fn read_builder(
    impls: &[&syn::ItemImpl],
    method: &str,
    builder: &str,
) -> Result<RustOperation, SurfaceError> {
    let mut op = RustOperation {
        method: method.to_owned(),
        builder: builder.to_owned(),
        http: String::new(),
        setters: Vec::new(),
        success: String::new(),
        error: String::new(),
    };
    for imp in impls {
        for member in &imp.items {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            if !matches!(f.vis, syn::Visibility::Public(_)) {
                continue;
            }
            let name = f.sig.ident.to_string();
            if name == "new" {
                continue;
            }
            if name == "send" {
                op.http = doc_text(&f.attrs)
                    .strip_prefix("Sends a `")
                    .map(|rest| rest.replacen("` request to `", " ", 1).replace('`', ""))
                    .unwrap_or_default();
                if let syn::ReturnType::Type(_, ty) = &f.sig.output {
                    let ok = generic_arg(ty, "Result", 0);
                    op.success = ok
                        .as_ref()
                        .and_then(|t| generic_arg(t, "ResponseValue", 0))
                        .map_or_else(String::new, |t| type_string(&t));
                    op.error = generic_arg(ty, "Result", 1)
                        .and_then(|t| generic_arg(&t, "Error", 0))
                        .map_or_else(|| "()".into(), |t| type_string(&t));
                }
                continue;
            }
            op.setters.push(Setter {
                name,
                ty: setter_type(&f.sig),
            });
        }
    }
    if op.http.is_empty() {
        return Err(SurfaceError::UndocumentedSend {
            builder: builder.to_owned(),
            method: method.to_owned(),
        });
    }
    Ok(op)
}

/// The type a setter takes: `T` for `V: TryInto<T>`, the bound for other generics, else the
/// argument's type.
fn setter_type(sig: &syn::Signature) -> String {
    let Some(syn::FnArg::Typed(arg)) = sig.inputs.iter().nth(1) else {
        return "()".into();
    };
    let arg_ty = type_string(&arg.ty);
    let mut bounds: Vec<String> = Vec::new();
    for param in &sig.generics.params {
        if let syn::GenericParam::Type(t) = param
            && t.ident == arg_ty
        {
            bounds.extend(t.bounds.iter().map(token_string));
        }
    }
    for pred in sig.generics.where_clause.iter().flat_map(|w| &w.predicates) {
        if let syn::WherePredicate::Type(p) = pred
            && type_string(&p.bounded_ty) == arg_ty
        {
            bounds.extend(p.bounds.iter().map(token_string));
        }
    }
    match bounds.first() {
        Some(b) => b
            .strip_prefix("std::convert::TryInto<")
            .and_then(|inner| inner.strip_suffix('>'))
            .map_or_else(|| b.clone(), str::to_owned),
        None => arg_ty,
    }
}

fn doc_text(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_named(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

fn builder_name(ty: &syn::Type) -> Option<String> {
    let syn::Type::Path(p) = ty else { return None };
    let segments: Vec<_> = p.path.segments.iter().collect();
    match segments.as_slice() {
        [module, last] if module.ident == "builder" => Some(last.ident.to_string()),
        _ => None,
    }
}

fn generic_arg(ty: &syn::Type, outer: &str, index: usize) -> Option<syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != outer {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args
        .iter()
        .filter_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
        .nth(index)
}

fn type_string(ty: &syn::Type) -> String {
    token_string(ty)
}

/// Tokens as Rust is written: `types :: Foo < '_ >` → `types::Foo<'_>`.
fn token_string(tokens: &impl ToTokens) -> String {
    let mut s = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// Renders `API.md` from the normalised spec and the operations read from the generated code.
pub(crate) fn render(spec: &Value, ops: &[RustOperation], features: &TagFeatures) -> String {
    let mut out = String::new();
    let title = spec["info"]["title"].as_str().unwrap_or("API");
    let version = spec["info"]["version"].as_str().unwrap_or("?");
    let _ = writeln!(
        out,
        "<!-- @generated by `cargo xtask regen` from openapi/perspio-talk.yaml (via \
         perspio-codegen). Do not edit: change the spec and run `cargo xtask regen`. -->"
    );
    let _ = writeln!(out, "# {title} API surface\n");
    let _ = writeln!(
        out,
        "The operations of the spec (version `{version}`, normalised to OpenAPI {}) and the Rust \
         each becomes in `perspio-api`. Every call is `client.<method>()`, then the builder \
         setters, then `.send().await` (progenitor's error type) or `.call().await` (returns \
         `perspio_api::Error`, naming the operation). A setter taking `T` accepts any value \
         that is `TryInto<T>`; a required parameter left unset fails the call before it is sent.\n",
        spec["openapi"].as_str().unwrap_or("?")
    );
    render_features(&mut out, features);
    let _ = writeln!(
        out,
        "## Operations\n\n| HTTP | Rust | success | error | feature |\n|---|---|---|---|---|"
    );
    let spec_ops = spec_operations(spec);
    // Each spec operation's Rust operation (the first with its `METHOD /path`), found once:
    // a scan of `ops` per spec operation made this step quadratic (bench scenario 8).
    let mut by_http: HashMap<&str, &RustOperation> = HashMap::with_capacity(ops.len());
    for op in ops {
        by_http.entry(op.http.as_str()).or_insert(op);
    }
    for (http, _) in &spec_ops {
        if let Some(op) = by_http.get(http.as_str()) {
            let gate = features
                .operations
                .get(http)
                .filter(|f| !f.is_empty())
                .map_or_else(
                    || "(always)".to_owned(),
                    |f| {
                        f.iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    },
                );
            let _ = writeln!(
                out,
                "| `{http}` | `Client::{}()` | `{}` | `{}` | {gate} |",
                op.method, op.success, op.error
            );
        }
    }
    for (http, op_spec) in &spec_ops {
        let _ = writeln!(out);
        let Some(op) = by_http.get(http.as_str()) else {
            let _ = writeln!(out, "## `{http}`\n\nNot found in the generated code.");
            continue;
        };
        let _ = writeln!(out, "## `{http}` → `Client::{}()`\n", op.method);
        if let Some(summary) = op_spec.get("summary").and_then(Value::as_str) {
            let _ = writeln!(out, "{}\n", summary.trim());
        }
        let _ = writeln!(out, "```rust,ignore");
        let _ = write!(out, "client.{}()", op.method);
        for s in &op.setters {
            let _ = write!(out, "\n    .{}(/* {} */)", s.name, s.ty);
        }
        let _ = writeln!(
            out,
            "\n    .send().await // Result<ResponseValue<{}>, Error<{}>>",
            op.success, op.error
        );
        let _ = writeln!(out, "```\n");
        let params = parameters(spec, op_spec);
        if op.setters.is_empty() {
            let _ = writeln!(out, "No parameters.\n");
        } else {
            let _ = writeln!(
                out,
                "| setter | Rust type | parameter | in | required |\n|---|---|---|---|---|"
            );
            for s in &op.setters {
                let p = params.iter().find(|p| loose(&p.name) == loose(&s.name));
                let (name, location, required) = match (p, s.name.as_str()) {
                    (Some(p), _) => (
                        format!("`{}`", p.name),
                        p.location.clone(),
                        if p.required { "yes" } else { "no" }.to_owned(),
                    ),
                    (None, "body") => {
                        ("request body".into(), "body".into(), body_required(op_spec))
                    }
                    (None, "body_map") => (
                        "request body (built field by field)".into(),
                        "body".into(),
                        body_required(op_spec),
                    ),
                    (None, _) => ("?".into(), "?".into(), "?".into()),
                };
                let _ = writeln!(
                    out,
                    "| `.{}()` | `{}` | {name} | {location} | {required} |",
                    s.name, s.ty
                );
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "| status | body |\n|---|---|");
        for (status, response) in op_spec
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let _ = writeln!(out, "| {status} | {} |", response_body(spec, response));
        }
    }
    out
}

/// The `## Features` section: one cargo feature per tag.
fn render_features(out: &mut String, features: &TagFeatures) {
    let _ = writeln!(
        out,
        "## Features\n\n`perspio-api` has one cargo feature per tag of the spec. An operation is \
         compiled when the feature of one of its tags is on (an operation without a tag always \
         is), and so are the types it uses. `{ALL_TAGS_FEATURE}`, in the default features, turns \
         them all on; to compile only the operations you call, depend on `perspio-api` with \
         `default-features = false` and the features of their tags. `cargo xtask regen` keeps \
         them in the generated block at the end of `[features]` in `perspio-api/Cargo.toml`.\n"
    );
    let _ = writeln!(out, "| feature | tags | operations |\n|---|---|---|");
    let counts = features.operation_counts();
    for (feature, tags) in &features.features {
        let tags: Vec<String> = tags
            .iter()
            .map(|t| format!("`{}`", t.replace('|', "\\|")))
            .collect();
        let _ = writeln!(
            out,
            "| `{feature}` | {} | {} |",
            tags.join(", "),
            counts.get(feature.as_str()).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        out,
        "| (none: always compiled) | operations without a tag | {} |\n",
        features.untagged_operations()
    );
}

/// `("GET /path", operation)` in document order.
fn spec_operations(spec: &Value) -> Vec<(String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (method, op) in item.as_object().into_iter().flatten() {
            if HTTP_METHODS.contains(&method.as_str()) {
                ops.push((format!("{} {path}", method.to_uppercase()), op));
            }
        }
    }
    ops
}

struct Param {
    name: String,
    location: String,
    required: bool,
}

fn parameters(spec: &Value, op: &Value) -> Vec<Param> {
    op.get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| resolve(spec, p))
        .map(|p| Param {
            name: p["name"].as_str().unwrap_or("?").to_owned(),
            location: p["in"].as_str().unwrap_or("?").to_owned(),
            required: p["required"].as_bool().unwrap_or(false),
        })
        .collect()
}

fn body_required(op: &Value) -> String {
    if op["requestBody"]["required"].as_bool().unwrap_or(false) {
        "yes".into()
    } else {
        "no".into()
    }
}

fn response_body(spec: &Value, response: &Value) -> String {
    let reference = response.get("$ref").and_then(Value::as_str);
    let response = resolve(spec, response);
    let body = match response.get("content").and_then(Value::as_object) {
        Some(c) if !c.is_empty() => c
            .iter()
            .map(|(mt, media)| match media.get("schema") {
                Some(s) => format!("`{mt}` {}", describe_schema(s).replace('|', "\\|")),
                None => format!("`{mt}`"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => "no body".into(),
    };
    match reference {
        Some(r) => format!("{body} (`{}`)", r.rsplit('/').next().unwrap_or(r)),
        None => body,
    }
}

fn resolve<'a>(spec: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..8 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) if r.starts_with("#/") => match spec.pointer(&r[1..]) {
                Some(target) => v = target,
                None => return v,
            },
            _ => return v,
        }
    }
    v
}

/// Names compared without case and separators: `api-version` ~ `api_version`.
fn loose(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    /// Everything a surface holds, as text.
    fn shown(surface: &Surface) -> String {
        let impls = |impls: &[syn::ItemImpl]| {
            impls
                .iter()
                .map(|i| i.to_token_stream().to_string())
                .collect::<Vec<_>>()
        };
        format!(
            "{:?}\n{}\n{:#?}\n{:#?}",
            surface.type_names,
            surface.has_builder,
            impls(&surface.builder_impls),
            impls(&surface.client_impls)
        )
    }

    #[test]
    fn reading_line_by_line_gives_the_surface_of_the_whole_parsed_source() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let checked_in = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../openapi/perspio-talk.normalized.json");
        for spec in [fixtures.join("every-construct.yaml"), checked_in] {
            let derived = crate::derive(&std::fs::read_to_string(&spec).unwrap()).unwrap();
            let by_line = read_by_line(&derived.code).expect("laid out one item per line");
            let whole = Surface::of(syn::parse_file(&derived.code).unwrap());
            assert!(!by_line.builder_impls.is_empty() && !by_line.type_names.is_empty());
            assert_eq!(shown(&by_line), shown(&whole), "{}", spec.display());
        }
    }

    #[test]
    fn a_source_in_another_layout_is_parsed_whole() {
        let source = "pub mod types { pub struct A; }\npub mod builder {}\nimpl Client { pub fn a(&self) {} }";
        assert!(read_by_line(source).is_none());
        let surface = parse(source).unwrap();
        assert_eq!(surface.type_names, ["A"]);
        assert!(surface.has_builder);
        assert_eq!(surface.client_impls.len(), 1);
        assert!(parse("pub mod types {").is_err());
    }

    #[test]
    fn the_surface_names_methods_setters_and_send_types() {
        let spec = json!({
            "openapi": "3.0.3", "info": {"title": "T", "version": "1"},
            "paths": {"/assets/{id}": {"get": {"operationId": "getAsset", "summary": "One asset",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "format": "int32"}}
                ],
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Asset"}}}},
                    "404": {"description": "e", "content": {"application/json": {"schema": {}}}}
                }}}},
            "components": {"schemas": {"Asset": {"type": "object", "properties": {"id": {"type": "string"}}}}}
        });
        let parsed: openapiv3::OpenAPI = serde_json::from_value(spec.clone()).unwrap();
        let source = perspio_codegen::generate(&parsed).unwrap();
        let ops = extract(&parse(&source).unwrap()).unwrap();
        assert_eq!(ops.len(), 1);
        let op = &ops[0];
        assert_eq!(op.method, "get_asset");
        assert_eq!(op.http, "GET /assets/{id}");
        assert_eq!(op.success, "types::Asset");
        assert!(!op.error.is_empty());
        let setters: Vec<(&str, &str)> = op
            .setters
            .iter()
            .map(|s| (s.name.as_str(), s.ty.as_str()))
            .collect();
        assert_eq!(setters[0].0, "id");
        assert_eq!(setters[1], ("limit", "i32"));
        let md = render(&spec, &ops, &TagFeatures::of(&parsed));
        assert!(md.starts_with("<!-- @generated"), "{md}");
        assert!(
            md.contains("## `GET /assets/{id}` → `Client::get_asset()`"),
            "{md}"
        );
        assert!(
            md.contains("| `.limit()` | `i32` | `limit` | query | no |"),
            "{md}"
        );
        assert!(md.contains("| 200 | `application/json` Asset |"), "{md}");
    }
}
