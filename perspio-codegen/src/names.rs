//! Enum variants renamed to upper camel case where typify leaves them otherwise, and
//! typify's default helpers nothing calls removed ([`remove_unused_defaults`]).
//!
//! typify 0.8 names the variants of the enum values `+1` and `-1` (GitHub-style reactions, a
//! rating) `plus1` and `minus1`, in lower case, even for the variants of a type; every such
//! variant is one `non_camel_case_types` warning, and an error under `-D warnings`. The
//! variants keep their `#[serde(rename = "+1")]`, so renaming them changes no wire format: this
//! pass renames every variant of an enum of the `types` module that rustc would flag (`plus1`
//! → `Plus1`), where it is declared and wherever it is named (`Enum::plus1`, and `Self::plus1`
//! in the enum's impls).

use std::collections::{BTreeMap, BTreeSet};

use heck::ToUpperCamelCase as _;
use proc_macro2::{Delimiter, Group, Ident, TokenStream, TokenTree};

use crate::tokens::{Item, Kind};

/// Removes the functions of `types::defaults` nothing names. typify emits its generic
/// default helpers (`default_i64::<T, V>`, `default_u64`, …) when it sees a default of their
/// kind, also where it then writes the field's default another way (dataflowkit.com): a
/// function nothing calls is a `dead_code` warning, an error under `-D warnings`. Names are
/// looked for as words, in string literals too (`#[serde(default = "defaults::x")]`).
pub(crate) fn remove_unused_defaults(items: &mut [Item]) {
    let is_defaults = |i: &Item| i.kind == Kind::Mod && i.name.as_deref() == Some("defaults");
    let Some(types) = items
        .iter()
        .position(|i| i.kind == Kind::Mod && i.name.as_deref() == Some("types"))
    else {
        return;
    };
    if !items[types].children().any(is_defaults) {
        return;
    }
    let mut words = BTreeSet::new();
    for (n, item) in items.iter().enumerate() {
        if n == types {
            for child in item.children().filter(|c| !is_defaults(c)) {
                crate::features::words_of(&child.to_stream(), &mut words);
            }
        } else {
            crate::features::words_of(&item.to_stream(), &mut words);
        }
    }
    for defaults in items[types].children_mut().filter(|c| is_defaults(c)) {
        if let Some(children) = defaults.children.as_mut() {
            children.retain(|f| {
                f.kind != Kind::Fn || f.name.as_ref().is_none_or(|n| words.contains(n))
            });
        }
    }
}

/// Whether rustc's `non_camel_case_types` accepts `name`: it does not start with a lower-case
/// letter and has no `__` and no `_` next to a letter (the lint's own test).
pub(crate) fn is_camel_case(name: &str) -> bool {
    let name = name.trim_start_matches("r#").trim_matches('_');
    let chars: Vec<char> = name.chars().collect();
    let has_case = |c: char| c.is_lowercase() || c.is_uppercase();
    chars.first().is_none_or(|c| !c.is_lowercase())
        && !name.contains("__")
        && !chars
            .windows(2)
            .any(|w| (has_case(w[0]) && w[1] == '_') || (has_case(w[1]) && w[0] == '_'))
}

/// Enum name → its renamed variants (old → new).
pub(crate) type Renames = BTreeMap<String, BTreeMap<String, String>>;

/// Renames the variants rustc would flag in the enums of the `types` module, everywhere they
/// are named, and returns the renames (for the CLI, which names them too: [`rename_paths`]).
/// A variant whose camel-case name is taken in its enum, or still not camel case, is left as
/// it is.
pub(crate) fn camel_case_variants(items: &mut [Item]) -> Renames {
    let Some(types) = items
        .iter()
        .find(|i| i.kind == Kind::Mod && i.name.as_deref() == Some("types"))
    else {
        return Renames::new();
    };
    let mut renames = Renames::new();
    for item in types.children().filter(|i| i.kind == Kind::Enum) {
        let (Some(name), Some(body)) = (&item.name, enum_body(item)) else {
            continue;
        };
        let variants = variant_names(&body.stream());
        let taken: BTreeSet<&str> = variants.iter().map(String::as_str).collect();
        let mut map = BTreeMap::new();
        for v in variants.iter().filter(|v| !is_camel_case(v)) {
            let camel = v.to_upper_camel_case();
            if is_camel_case(&camel) && !taken.contains(camel.as_str()) && !camel.is_empty() {
                map.insert(v.clone(), camel);
            }
        }
        if !map.is_empty() {
            renames.insert(name.clone(), map);
        }
    }
    if !renames.is_empty() {
        for item in items.iter_mut() {
            rename_in(item, &renames, None);
        }
    }
    renames
}

/// `Enum::old` → `Enum::New` in other code (the generated CLI).
pub(crate) fn rename_paths(tokens: TokenStream, renames: &Renames) -> TokenStream {
    if renames.is_empty() {
        return tokens;
    }
    rewrite_paths(tokens, renames, None)
}

/// The brace group of an enum item.
fn enum_body(item: &Item) -> Option<&Group> {
    item.head.iter().rev().find_map(|t| match t {
        TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => Some(g),
        _ => None,
    })
}

/// The variant names of an enum body: the first identifier of each comma-separated entry,
/// after its attributes.
fn variant_names(body: &TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    let mut expecting = true;
    let mut after_hash = false;
    for tree in body.clone() {
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' => expecting = true,
            TokenTree::Punct(p) if p.as_char() == '#' => after_hash = true,
            TokenTree::Group(g) if after_hash && g.delimiter() == Delimiter::Bracket => {
                after_hash = false;
            }
            TokenTree::Ident(id) if expecting => {
                out.push(id.to_string());
                expecting = false;
            }
            _ => {}
        }
    }
    out
}

/// Renames in one item: the variants of its own declaration when it is a renamed enum,
/// `Enum::old` anywhere, and `Self::old` inside the impls of a renamed enum.
fn rename_in(item: &mut Item, renames: &Renames, self_enum: Option<&str>) {
    let own = match (item.kind, item.name.as_deref()) {
        (Kind::Impl, Some(name)) if renames.contains_key(name) => Some(name.to_owned()),
        (Kind::Impl, _) => None,
        _ => self_enum.map(str::to_owned),
    };
    let declared = (item.kind == Kind::Enum)
        .then_some(item.name.as_deref())
        .flatten()
        .and_then(|n| renames.get(n));
    let rewrite = |trees: &mut Vec<TokenTree>| {
        let stream: TokenStream = trees.drain(..).collect();
        let mut out = rewrite_paths(stream, renames, own.as_deref());
        if let Some(map) = declared {
            out = rename_declared(out, map);
        }
        trees.extend(out);
    };
    rewrite(&mut item.attrs);
    rewrite(&mut item.head);
    for child in item.children_mut() {
        rename_in(child, renames, own.as_deref());
    }
}

/// `Enum::old` → `Enum::New`, and `Self::old` → `Self::New` when inside `self_enum`'s impls.
fn rewrite_paths(tokens: TokenStream, renames: &Renames, self_enum: Option<&str>) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(trees.len());
    for tree in trees {
        let tree = match tree {
            TokenTree::Group(g) => {
                let mut inner =
                    Group::new(g.delimiter(), rewrite_paths(g.stream(), renames, self_enum));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            TokenTree::Ident(id) => {
                let n = out.len();
                let owner = match (n >= 3).then(|| (&out[n - 3], &out[n - 2], &out[n - 1])) {
                    Some((TokenTree::Ident(e), TokenTree::Punct(a), TokenTree::Punct(b)))
                        if a.as_char() == ':' && b.as_char() == ':' =>
                    {
                        let e = e.to_string();
                        if e == "Self" {
                            self_enum.map(str::to_owned)
                        } else {
                            Some(e)
                        }
                    }
                    _ => None,
                };
                let new = owner
                    .and_then(|e| renames.get(&e))
                    .and_then(|map| map.get(&id.to_string()));
                match new {
                    Some(new) => TokenTree::Ident(Ident::new(new, id.span())),
                    None => TokenTree::Ident(id),
                }
            }
            other => other,
        };
        out.push(tree);
    }
    out.into_iter().collect()
}

/// The variants of an enum declaration (`pub enum E { #[…] old, … }`) renamed.
fn rename_declared(tokens: TokenStream, map: &BTreeMap<String, String>) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                let mut expecting = true;
                let mut after_hash = false;
                let body: TokenStream = g
                    .stream()
                    .into_iter()
                    .map(|t| match t {
                        TokenTree::Punct(p) if p.as_char() == ',' => {
                            expecting = true;
                            TokenTree::Punct(p)
                        }
                        TokenTree::Punct(p) if p.as_char() == '#' => {
                            after_hash = true;
                            TokenTree::Punct(p)
                        }
                        TokenTree::Group(inner)
                            if after_hash && inner.delimiter() == Delimiter::Bracket =>
                        {
                            after_hash = false;
                            TokenTree::Group(inner)
                        }
                        TokenTree::Ident(id) if expecting => {
                            expecting = false;
                            match map.get(&id.to_string()) {
                                Some(new) => TokenTree::Ident(Ident::new(new, id.span())),
                                None => TokenTree::Ident(id),
                            }
                        }
                        other => other,
                    })
                    .collect();
                let mut group = Group::new(Delimiter::Brace, body);
                group.set_span(g.span());
                TokenTree::Group(group)
            }
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn default_helpers_nothing_calls_are_removed_and_used_ones_kept() {
        let source = r#"
            pub mod types {
                pub struct A {
                    #[serde(default = "defaults::default_u64::<u64, 3>")]
                    pub a: u64,
                }
                pub mod defaults {
                    pub(super) fn default_u64<T, const V: u64>() -> T { todo!() }
                    pub(super) fn default_i64<T, const V: i64>() -> T { todo!() }
                }
            }
        "#;
        let mut items = Item::split(source.parse().unwrap());
        remove_unused_defaults(&mut items);
        let mut out = String::new();
        crate::tokens::print(&items, &mut out);
        assert!(out.contains("fn default_u64"), "{out}");
        assert!(!out.contains("fn default_i64"), "{out}");
    }

    #[test]
    fn rustc_s_camel_case_rule() {
        for ok in ["Plus1", "V1_2", "X", "_Private", "Self_", "中文"] {
            assert!(is_camel_case(ok), "{ok}");
        }
        for bad in ["plus1", "minus1", "Foo_Bar", "Foo__1", "a"] {
            assert!(!is_camel_case(bad), "{bad}");
        }
    }

    #[test]
    fn the_plus1_and_minus1_variants_of_typify_become_camel_case_and_keep_their_wire_names() {
        let spec: openapiv3::OpenAPI = serde_json::from_value(serde_json::json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/r": {"get": {"operationId": "get_r",
                "parameters": [{"name": "content", "in": "query", "required": false,
                    "schema": {"$ref": "#/components/schemas/Reaction"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/Reactions"}}}}}}}},
            "components": {"schemas": {
                "Reaction": {"type": "string", "enum": ["+1", "-1", "laugh"], "default": "+1"},
                // A field named `plus1` stays a field.
                "Reactions": {"type": "object", "properties": {
                    "+1": {"type": "integer"}, "-1": {"type": "integer"},
                    "kind": {"$ref": "#/components/schemas/Reaction"}}},
            }},
        }))
        .unwrap();
        let code = crate::pretty(&crate::generate(&spec).unwrap()).unwrap();
        assert!(
            !code.contains("Reaction::plus1") && !code.contains("Self::plus1"),
            "{code}"
        );
        assert!(
            code.contains("Plus1,") && code.contains("Minus1,"),
            "{code}"
        );
        assert!(code.contains("#[serde(rename = \"+1\")]"), "{code}");
        assert!(
            code.contains("Self::Plus1 => f.write_str(\"+1\")"),
            "{code}"
        );
        assert!(code.contains("\"+1\" => Ok(Self::Plus1)"), "{code}");
        assert!(
            code.contains("pub plus1: ::std::option::Option<i64>"),
            "{code}"
        );

        // What rustc would flag: nothing in the types module.
        let file = syn::parse_file(&code).unwrap();
        for item in &file.items {
            let syn::Item::Mod(m) = item else { continue };
            for inner in m.content.iter().flat_map(|(_, items)| items) {
                if let syn::Item::Enum(e) = inner {
                    for v in &e.variants {
                        assert!(
                            is_camel_case(&v.ident.to_string()),
                            "{}::{}",
                            e.ident,
                            v.ident
                        );
                    }
                }
            }
        }
    }
}
