//! One cargo feature per spec tag: the feature names ([`tag_feature`], [`TagFeatures`]) and
//! the `#[cfg(feature = "…")]` gates of the generated client ([`gate`]).
//!
//! An operation is compiled when the feature of one of its tags is on; an operation without a
//! tag always is. A type is compiled when an operation that uses it (through its builder, its
//! parameters, its body or its answers, directly or through other types) is; a type no
//! operation uses, or that an untagged operation uses, always is. So turning a feature on only
//! ever adds items (cargo unifies features), and the names of the types never depend on which
//! features are on: the gates are put on one generated file.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use openapiv3::OpenAPI;
use proc_macro2::{TokenStream, TokenTree};

use crate::tokens::{Item, Kind};

/// The feature that turns on the feature of every tag. `perspio-api`'s default features
/// include it, and `perspio-cli` (whose commands cover every operation) enables it.
pub const ALL_TAGS_FEATURE: &str = "all-tags";

/// Feature names a tag's feature must not take: cargo's `default`, [`ALL_TAGS_FEATURE`] and the
/// features `perspio-api` defines by hand (`ring`, `aws-lc-rs`, `keyring`, `redis`, `memcached`). A tag named like
/// one of them gets the feature `tag-<name>` ([`tag_feature`]). A test in perspio-import
/// (`manifest.rs`) checks that every hand-written feature of `perspio-api/Cargo.toml` is here.
pub const RESERVED_FEATURES: &[&str] = &[
    "default",
    ALL_TAGS_FEATURE,
    "ring",
    "aws-lc-rs",
    "keyring",
    "redis",
    "memcached",
];

/// The cargo feature of a spec tag: the tag in kebab case, ASCII letters, digits and `-` only
/// (`Asset Groups` → `asset-groups`, `drives.Actions` → `drives-actions`); `tag` when nothing
/// is left; `tag-<name>` when the name is one of [`RESERVED_FEATURES`]. Tags that give the same
/// name share the feature.
pub fn tag_feature(tag: &str) -> String {
    use heck::ToKebabCase as _;
    let kebab = tag.to_kebab_case();
    let mut name = String::with_capacity(kebab.len());
    for c in kebab.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        if c == '-' && (name.is_empty() || name.ends_with('-')) {
            continue;
        }
        name.push(c);
    }
    while name.ends_with('-') {
        name.pop();
    }
    if name.is_empty() {
        name.push_str("tag");
    }
    if RESERVED_FEATURES.contains(&name.as_str()) {
        name.insert_str(0, "tag-");
    }
    name
}

/// The tag features of a spec: which tags each feature stands for, and which features compile
/// each operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagFeatures {
    /// Feature → the tags it stands for (tags of at least one operation), both sorted.
    pub features: BTreeMap<String, BTreeSet<String>>,
    /// `METHOD /path` (method in capitals) → the features that compile the operation; none for
    /// an operation without tags (it is always compiled).
    pub operations: BTreeMap<String, BTreeSet<String>>,
}

impl TagFeatures {
    /// The features of `spec`'s operation tags.
    pub fn of(spec: &OpenAPI) -> Self {
        let mut out = Self::default();
        for (path, method, op) in spec.operations() {
            let mut features = BTreeSet::new();
            for tag in &op.tags {
                let feature = tag_feature(tag);
                out.features
                    .entry(feature.clone())
                    .or_default()
                    .insert(tag.clone());
                features.insert(feature);
            }
            out.operations
                .insert(operation_key(&method.to_ascii_uppercase(), path), features);
        }
        out
    }

    /// How many operations each feature compiles.
    pub fn operation_counts(&self) -> BTreeMap<&str, usize> {
        let mut counts: BTreeMap<&str, usize> =
            self.features.keys().map(|f| (f.as_str(), 0)).collect();
        for features in self.operations.values() {
            for f in features {
                *counts.entry(f.as_str()).or_default() += 1;
            }
        }
        counts
    }

    /// How many operations have no tag (always compiled).
    pub fn untagged_operations(&self) -> usize {
        self.operations.values().filter(|f| f.is_empty()).count()
    }
}

fn operation_key(method: &str, path: &str) -> String {
    format!("{method} {path}")
}

/// When an item is compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Gate {
    /// Always.
    Always,
    /// When one of these features is on.
    Any(BTreeSet<String>),
}

impl Gate {
    fn widen(&mut self, other: &Gate) -> bool {
        match (&mut *self, other) {
            (Gate::Always, _) => false,
            (_, Gate::Always) => {
                *self = Gate::Always;
                true
            }
            (Gate::Any(mine), Gate::Any(theirs)) => {
                let before = mine.len();
                mine.extend(theirs.iter().cloned());
                mine.len() != before
            }
        }
    }

    /// `#[cfg(feature = "a")]` or `#[cfg(any(feature = "a", …))]`; nothing for `Always`.
    fn attribute(&self) -> Option<TokenStream> {
        let Gate::Any(features) = self else {
            return None;
        };
        let features: Vec<&str> = features.iter().map(String::as_str).collect();
        Some(match features.as_slice() {
            [one] => quote::quote!(#[cfg(feature = #one)]),
            many => quote::quote!(#[cfg(any(#(feature = #many),*))]),
        })
    }

    /// A doc paragraph naming the features.
    fn doc(&self) -> Option<TokenStream> {
        let Gate::Any(features) = self else {
            return None;
        };
        let names: Vec<String> = features.iter().map(|f| format!("`{f}`")).collect();
        let text = format!(
            "\n\nCompiled with the cargo feature {} (one feature per spec tag; `{ALL_TAGS_FEATURE}` \
             turns them all on).",
            names.join(" or ")
        );
        Some(quote::quote!(#[doc = #text]))
    }
}

/// Puts the `#[cfg(feature = "…")]` gates of `features` on the generated items (progenitor's
/// output and the `call` module): the `Client` method of each tagged operation, its builder,
/// its `call()`, and the types (with their impls, type builders and default-value functions)
/// that only tagged operations use.
pub(crate) fn gate(items: &mut [Item], features: &TagFeatures) {
    if features.features.is_empty() {
        return;
    }
    let builders = builder_gates(items, features);
    let type_gates = type_gates(items, &builders);

    for item in items.iter_mut() {
        match (item.kind, item.name.as_deref()) {
            (Kind::Impl, Some("Client")) if item.trait_.is_none() => {
                for member in item.children_mut() {
                    let builder = member.return_type().and_then(|ty| last_type_ident(&ty));
                    let Some(gate) = builder.and_then(|b| builders.get(&b)) else {
                        continue;
                    };
                    if let Some(doc) = gate.doc() {
                        member.append_attr(doc);
                    }
                    if let Some(attr) = gate.attribute() {
                        member.append_attr(attr);
                    }
                }
            }
            (Kind::Mod, Some("builder" | "call")) => {
                for inner in item.children_mut() {
                    let gate = owner(inner).and_then(|o| builders.get(o));
                    if let Some(attr) = gate.and_then(Gate::attribute) {
                        inner.prepend_attr(attr);
                    }
                }
            }
            (Kind::Mod, Some("types")) => gate_types(item, &type_gates),
            _ => {}
        }
    }
}

/// The items of the top-level module `name`.
fn module<'a>(items: &'a [Item], name: &str) -> Option<&'a Item> {
    items
        .iter()
        .find(|i| i.kind == Kind::Mod && i.name.as_deref() == Some(name))
}

/// Builder name → the gate of its operation, read from the `Sends a `GET` request to `/p``
/// doc of its `send` (a builder whose operation is not found is always compiled).
fn builder_gates(items: &[Item], features: &TagFeatures) -> BTreeMap<String, Gate> {
    let mut out = BTreeMap::new();
    for imp in module(items, "builder")
        .into_iter()
        .flat_map(Item::children)
    {
        let (Kind::Impl, Some(builder)) = (imp.kind, &imp.name) else {
            continue;
        };
        let Some(send) = imp
            .children()
            .find(|m| m.kind == Kind::Fn && m.name.as_deref() == Some("send"))
        else {
            continue;
        };
        let gate = sent_request(&send.doc())
            .and_then(|key| features.operations.get(&key))
            .filter(|f| !f.is_empty())
            .map_or(Gate::Always, |f| Gate::Any(f.clone()));
        out.insert(builder.clone(), gate);
    }
    out
}

/// `GET /assets` from the doc `Sends a `GET` request to `/assets``.
fn sent_request(doc: &str) -> Option<String> {
    doc.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Sends a `")?;
        let (method, rest) = rest.split_once("` request to `")?;
        let path = rest.strip_suffix('`')?;
        Some(operation_key(method, path))
    })
}

/// The gates of the `types` module's nodes (type names, and `defaults` function names): each
/// the union of the gates of the operations that reach it, through the builders' and the
/// types' tokens.
fn type_gates(items: &[Item], builders: &BTreeMap<String, Gate>) -> BTreeMap<String, Gate> {
    let Some(types) = module(items, "types") else {
        return BTreeMap::new();
    };
    let nodes = type_nodes(types);
    let edges: BTreeMap<&str, Vec<&str>> = nodes
        .iter()
        .map(|(name, words)| {
            let to = words
                .iter()
                .filter_map(|w| nodes.get_key_value(w).map(|(k, _)| k.as_str()))
                .filter(|w| w != name)
                .collect();
            (name.as_str(), to)
        })
        .collect();

    // The operations' builders are the roots.
    let mut roots: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for item in module(items, "builder")
        .into_iter()
        .flat_map(Item::children)
    {
        let Some((builder, _)) = owner(item).and_then(|o| builders.get_key_value(o)) else {
            continue;
        };
        let mut words = BTreeSet::new();
        words_of(&item.to_stream(), &mut words);
        roots.entry(builder.as_str()).or_default().extend(
            words
                .iter()
                .filter_map(|w| nodes.get_key_value(w).map(|(k, _)| k.as_str())),
        );
    }

    let mut gates: BTreeMap<String, Gate> = BTreeMap::new();
    let spread = |gate: &Gate, reached: Vec<&str>, gates: &mut BTreeMap<String, Gate>| {
        let mut queue: VecDeque<&str> = reached.into_iter().collect();
        while let Some(name) = queue.pop_front() {
            let changed = match gates.get_mut(name) {
                None => {
                    gates.insert(name.to_owned(), gate.clone());
                    true
                }
                Some(existing) => existing.widen(gate),
            };
            if changed {
                queue.extend(edges.get(name).into_iter().flatten().copied());
            }
        }
    };
    for (builder, reached) in roots {
        spread(
            &builders[builder],
            reached.into_iter().collect(),
            &mut gates,
        );
    }
    // A type no operation reaches is always compiled, and so is every type it uses (a struct
    // nobody calls with can still name a type only a tagged operation uses).
    let unreached: Vec<&str> = nodes
        .keys()
        .map(String::as_str)
        .filter(|n| !gates.contains_key(*n))
        .collect();
    spread(&Gate::Always, unreached, &mut gates);
    gates
}

/// Every node of the `types` module (a declared type with its impls and its type builder, or
/// a `defaults` function) and the words its tokens and attribute strings hold.
fn type_nodes(types: &Item) -> BTreeMap<String, BTreeSet<String>> {
    let declared = declared_types(types);
    let mut nodes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in types.children() {
        match (item.kind, item.name.as_deref()) {
            (Kind::Mod, Some("builder")) => {
                for inner in item.children() {
                    if let Some(owner) = type_owner(inner, &declared) {
                        words_of(&inner.to_stream(), nodes.entry(owner).or_default());
                    }
                }
            }
            (Kind::Mod, Some("defaults")) => {
                for inner in item.children() {
                    if let (Kind::Fn, Some(name)) = (inner.kind, &inner.name) {
                        words_of(&inner.to_stream(), nodes.entry(name.clone()).or_default());
                    }
                }
            }
            _ => {
                if let Some(owner) = type_owner(item, &declared) {
                    words_of(&item.to_stream(), nodes.entry(owner).or_default());
                }
            }
        }
    }
    nodes
}

fn gate_types(types: &mut Item, gates: &BTreeMap<String, Gate>) {
    let declared = declared_types(types);
    let attribute =
        |owner: Option<String>| owner.and_then(|o| gates.get(&o)).and_then(Gate::attribute);
    for item in types.children_mut() {
        match (item.kind, item.name.clone().as_deref()) {
            (Kind::Mod, Some("builder")) => {
                for inner in item.children_mut() {
                    if let Some(attr) = attribute(type_owner(inner, &declared)) {
                        inner.prepend_attr(attr);
                    }
                }
            }
            (Kind::Mod, Some("defaults")) => {
                for inner in item.children_mut() {
                    let owner = (inner.kind == Kind::Fn)
                        .then(|| inner.name.clone())
                        .flatten();
                    if let Some(attr) = attribute(owner) {
                        inner.prepend_attr(attr);
                    }
                }
            }
            _ => {
                if let Some(attr) = attribute(type_owner(item, &declared)) {
                    item.prepend_attr(attr);
                }
            }
        }
    }
}

/// The names the `types` module declares (structs, enums, unions, type aliases).
fn declared_types(types: &Item) -> BTreeSet<String> {
    types
        .children()
        .filter(|i| matches!(i.kind, Kind::Struct | Kind::Enum | Kind::Union | Kind::Type))
        .filter_map(|i| i.name.clone())
        .collect()
}

/// The declared type an item belongs to: the type it declares, or the type an impl is for
/// (`impl From<Foo> for serde_json::Value` belongs to `Foo`).
fn type_owner(item: &Item, declared: &BTreeSet<String>) -> Option<String> {
    match item.kind {
        Kind::Struct | Kind::Enum | Kind::Union | Kind::Type => item.name.clone(),
        Kind::Impl => {
            if let Some(name) = item.name.as_ref().filter(|n| declared.contains(*n)) {
                return Some(name.clone());
            }
            let mut words = BTreeSet::new();
            words_of(&item.trait_.iter().flatten().cloned().collect(), &mut words);
            words.into_iter().find(|w| declared.contains(w))
        }
        _ => None,
    }
}

/// The builder (or other type) an item of the `builder` or `call` module is about.
fn owner(item: &Item) -> Option<&str> {
    matches!(item.kind, Kind::Struct | Kind::Impl)
        .then_some(item.name.as_deref())
        .flatten()
}

/// `builder::Foo<'_>` → `Foo`.
fn last_type_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Every identifier in `tokens`, and every identifier-like word in its string literals except
/// doc comments (`#[serde(default = "defaults::x")]` names a function in a string).
pub(crate) fn words_of(tokens: &TokenStream, out: &mut BTreeSet<String>) {
    let mut after_doc = false;
    for tree in tokens.clone() {
        match tree {
            TokenTree::Group(g) => words_of(&g.stream(), out),
            TokenTree::Ident(i) => {
                let word = i.to_string();
                after_doc = word == "doc";
                out.insert(word.trim_start_matches("r#").to_owned());
            }
            TokenTree::Literal(l) => {
                if !after_doc {
                    let text = l.to_string();
                    if text.starts_with('"') {
                        out.extend(
                            text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                                .filter(|w| !w.is_empty())
                                .map(str::to_owned),
                        );
                    }
                }
                after_doc = false;
            }
            TokenTree::Punct(p) => {
                if p.as_char() != '=' {
                    after_doc = false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn tag_names_become_kebab_case_ascii_feature_names() {
        for (tag, feature) in [
            ("assets", "assets"),
            ("Asset Groups", "asset-groups"),
            ("ActionTypes", "action-types"),
            ("drives.Actions", "drives-actions"),
            ("v2 / Sites (beta)", "v2-sites-beta"),
            ("Ünïcode", "n-code"),
            ("***", "tag"),
            ("Redis", "tag-redis"),
            ("Keyring", "tag-keyring"),
            ("all tags", "tag-all-tags"),
            ("default", "tag-default"),
        ] {
            assert_eq!(tag_feature(tag), feature, "{tag}");
        }
    }

    fn spec() -> OpenAPI {
        let ok = |schema: &str| {
            serde_json::json!({"200": {"description": "ok", "content": {"application/json":
                {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}}})
        };
        serde_json::from_value(serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {
                "/assets": {"get": {"operationId": "list_assets", "tags": ["Assets"], "responses": ok("AssetList")},
                    "post": {"operationId": "add_asset", "tags": ["Assets"], "responses": ok("Asset"),
                        "requestBody": {"required": true, "content": {"application/json":
                            {"schema": {"$ref": "#/components/schemas/NewAsset"}}}}}},
                "/sites": {"get": {"operationId": "list_sites", "tags": ["Sites"], "responses": ok("SiteList")}},
                "/sites2": {"get": {"operationId": "list_sites2", "tags": ["Sites"], "responses": ok("SiteList2")}},
                "/both": {"get": {"operationId": "get_both", "tags": ["Assets", "Sites"], "responses": ok("Both")}},
                "/ping": {"get": {"operationId": "ping", "responses": ok("Pong")}},
            },
            "components": {"schemas": {
                "AssetList": {"type": "array", "items": {"$ref": "#/components/schemas/Asset"}},
                "Asset": {"type": "object", "properties": {"at": {"$ref": "#/components/schemas/Stamp"},
                    "size": {"type": "integer", "default": 3}}},
                "SiteList": {"type": "array", "items": {"$ref": "#/components/schemas/Site"}},
                "Site": {"type": "object", "properties": {"at": {"$ref": "#/components/schemas/Stamp"}}},
                "Stamp": {"type": "object", "properties": {"seconds": {"type": "integer"}}},
                "Both": {"type": "object", "properties": {"n": {"type": "integer"}}},
                "NewAsset": {"type": "object", "properties": {"name": {"type": "string"}}},
                "Pong": {"type": "object", "properties": {"stamp": {"$ref": "#/components/schemas/Stamp"}}},
                "Unused": {"type": "object", "properties": {"x": {"type": "string"},
                    "owner": {"$ref": "#/components/schemas/Owner"}}},
                "SiteList2": {"type": "object", "properties": {"owner": {"$ref": "#/components/schemas/Owner"}}},
                "Owner": {"type": "object", "properties": {"name": {"type": "string"}}},
            }},
        }))
        .unwrap()
    }

    /// The `#[cfg…]` attributes of the item at `needle` in `code` (the lines above it up to the
    /// end of the previous item).
    fn gate_before(code: &str, needle: &str) -> String {
        let at = code.find(needle).unwrap_or_else(|| panic!("no `{needle}`"));
        let mut gates: Vec<&str> = code[..at]
            .lines()
            .rev()
            .skip(1)
            .take_while(|l| !l.trim_end().ends_with(['}', ';', '{']))
            .map(str::trim)
            .filter(|l| l.starts_with("#[cfg"))
            .collect();
        gates.reverse();
        gates.join(" ")
    }

    #[test]
    fn operations_their_builders_and_the_types_only_they_use_are_gated_by_their_tags() {
        let spec = spec();
        let features = TagFeatures::of(&spec);
        assert_eq!(
            features.features.keys().collect::<Vec<_>>(),
            ["assets", "sites"]
        );
        assert_eq!(features.untagged_operations(), 1);
        assert_eq!(features.operation_counts()["assets"], 3);

        let code = crate::generate(&spec).unwrap();
        let file = syn::parse_file(&code).unwrap();
        let text = prettyplease::unparse(&file);
        let assets = "#[cfg(feature = \"assets\")]";
        let sites = "#[cfg(feature = \"sites\")]";
        let either = "#[cfg(any(feature = \"assets\", feature = \"sites\"))]";
        // Operations: the Client method, the builder and its impl, call().
        assert!(gate_before(&text, "pub fn list_assets(").contains(assets));
        assert!(gate_before(&text, "pub struct ListAssets<'a>").contains(assets));
        assert!(gate_before(&text, "pub fn get_both(").contains(either));
        assert_eq!(gate_before(&text, "pub fn ping("), "");
        assert_eq!(gate_before(&text, "pub struct Ping<'a>"), "");
        // Types: by the operations that reach them, through other types.
        assert!(gate_before(&text, "pub struct Asset {").contains(assets));
        assert!(gate_before(&text, "pub struct Site {").contains(sites));
        assert!(gate_before(&text, "pub struct Both {").contains(either));
        // Stamp is reached by an untagged operation too, Unused by none: always compiled.
        assert_eq!(gate_before(&text, "pub struct Stamp {"), "");
        assert_eq!(gate_before(&text, "pub struct Unused {"), "");
        // Owner is reached by a `sites` operation and by Unused, which is always compiled: so
        // is Owner (it was gated, and Unused did not compile without `sites`).
        assert!(gate_before(&text, "pub struct SiteList2 {").contains(sites));
        assert_eq!(gate_before(&text, "pub struct Owner {"), "");
        // Every item of a gated type is gated: its impls, its type builder (a request body's:
        // the others have none), its defaults.
        assert!(gate_before(&text, "impl ::std::default::Default for Asset").contains(assets));
        assert!(
            gate_before(
                &text,
                "impl ::std::convert::TryFrom<NewAsset> for super::NewAsset"
            )
            .contains(assets)
        );
        assert!(
            !text.contains("TryFrom<Asset> for super::Asset"),
            "no builder for Asset"
        );
        // `#[serde(default = "defaults::default_u64::<i64, 3>")]`: named in a string.
        assert!(gate_before(&text, "pub(super) fn default_u64").contains(assets));
        // The doc says which feature compiles the operation.
        assert!(text.contains("Compiled with the cargo feature `assets` or `sites`"));
    }

    #[test]
    fn a_spec_without_tags_has_no_gate() {
        let mut spec = spec();
        for (_, item) in spec.paths.paths.iter_mut() {
            if let openapiv3::ReferenceOr::Item(item) = item {
                for op in [item.get.as_mut(), item.post.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    op.tags.clear();
                }
            }
        }
        let code = crate::generate(&spec).unwrap();
        assert!(!code.contains("cfg(feature"), "{code}");
        assert!(TagFeatures::of(&spec).features.is_empty());
    }
}
