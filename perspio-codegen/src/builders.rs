//! typify's struct builders kept only for the types the client builds: request bodies.
//!
//! progenitor's builder interface turns typify's struct builders on for every struct
//! (`types::builder::X`: a struct of `Result` fields, `Default`, one generic setter per field,
//! `TryFrom<builder::X> for X`, `From<X> for builder::X`, and `X::builder()`). The operation
//! builders use them for exactly one thing: the request body (`body(…)` and `body_map(|b| …)`
//! of an operation with a JSON body). Everything else a client receives is decoded by serde and
//! never built field by field, yet the compiler checks its builder too: on a 2,958-operation
//! spec 203 builders are named, by the request bodies, and removing the others took 8 % off
//! rustc's every-tag `cargo check` (BENCHMARKS.md, issue 15).
//! [`remove_unused_struct_builders`] removes every builder nothing outside
//! `types::builder` names, with its `X::builder()`; a body type keeps its builder, and so does
//! every type a kept builder's code names through `builder::` (none does today: the setters
//! take the plain types).
//!
//! A type without a builder is still built as a struct literal (its fields are public) or
//! decoded from JSON.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};

use crate::tokens::{Item, Kind};

/// Removes the struct builders of `types::builder` that nothing outside it names, and their
/// `X::builder()` functions. Returns how many builders were removed.
pub(crate) fn remove_unused_struct_builders(items: &mut [Item]) -> usize {
    let Some(types) = items
        .iter()
        .position(|i| i.kind == Kind::Mod && i.name.as_deref() == Some("types"))
    else {
        return 0;
    };
    let is_builder_mod = |i: &Item| i.kind == Kind::Mod && i.name.as_deref() == Some("builder");
    let Some(builder_mod) = items[types].children().find(|c| is_builder_mod(c)) else {
        return 0;
    };
    let built: BTreeSet<String> = builder_mod
        .children()
        .filter(|c| c.kind == Kind::Struct)
        .filter_map(|c| c.name.clone())
        .collect();

    // Every `builder::Name` outside `types::builder` (and outside the `X::builder()` impls,
    // which exist for the builder, not for a user of it).
    let mut named = BTreeSet::new();
    for (n, item) in items.iter().enumerate() {
        if n == types {
            for child in item
                .children()
                .filter(|c| !is_builder_mod(c) && !is_builder_fn_impl(c))
            {
                builder_paths(&child.to_stream(), &mut named);
            }
        } else {
            builder_paths(&item.to_stream(), &mut named);
        }
    }
    let unused: BTreeSet<&String> = built.iter().filter(|b| !named.contains(*b)).collect();
    if unused.is_empty() {
        return 0;
    }
    let is_unused = |i: &Item| i.name.as_ref().is_some_and(|n| unused.contains(n));
    if let Some(children) = items[types].children.as_mut() {
        children.retain(|c| !(is_builder_fn_impl(c) && is_unused(c)));
        for module in children.iter_mut().filter(|c| is_builder_mod(c)) {
            if let Some(members) = module.children.as_mut() {
                members.retain(|m| !is_unused(m));
            }
        }
    }
    unused.len()
}

/// `impl X { pub fn builder() -> builder::X { … } }`: an inherent impl whose only member is
/// typify's `builder()`.
fn is_builder_fn_impl(item: &Item) -> bool {
    item.kind == Kind::Impl
        && item.trait_.is_none()
        && item.children().count() > 0
        && item
            .children()
            .all(|m| m.kind == Kind::Fn && m.name.as_deref() == Some("builder"))
}

/// Every `Name` of a path `… builder :: Name` in `tokens`.
fn builder_paths(tokens: &TokenStream, out: &mut BTreeSet<String>) {
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(g) => builder_paths(&g.stream(), out),
            TokenTree::Ident(id) if id == "builder" => {
                if let (
                    Some(TokenTree::Punct(a)),
                    Some(TokenTree::Punct(b)),
                    Some(TokenTree::Ident(name)),
                ) = (trees.get(i + 1), trees.get(i + 2), trees.get(i + 3))
                    && a.as_char() == ':'
                    && b.as_char() == ':'
                {
                    out.insert(name.to_string());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn printed(items: &[Item]) -> String {
        let mut out = String::new();
        crate::tokens::print(items, &mut out);
        out
    }

    #[test]
    fn only_the_builders_named_outside_the_builder_module_stay() {
        let mut items = Item::split(quote::quote! {
            pub mod types {
                pub struct Body { pub a: i64 }
                pub struct Answer { pub b: i64 }
                impl Body { pub fn builder() -> builder::Body { Default::default() } }
                impl Answer { pub fn builder() -> builder::Answer { Default::default() } }
                impl Answer { pub fn other(&self) {} }
                pub mod builder {
                    pub struct Body { a: Result<i64, String> }
                    impl Default for Body { fn default() -> Self { todo!() } }
                    impl ::std::convert::TryFrom<Body> for super::Body {
                        type Error = String;
                        fn try_from(v: Body) -> Result<Self, String> { todo!() }
                    }
                    pub struct Answer { b: Result<i64, String> }
                    impl Default for Answer { fn default() -> Self { todo!() } }
                    impl Answer { pub fn b<T>(self, v: T) -> Self { self } }
                    impl ::std::convert::TryFrom<Answer> for super::Answer {
                        type Error = String;
                        fn try_from(v: Answer) -> Result<Self, String> { todo!() }
                    }
                    impl ::std::convert::From<super::Answer> for Answer {
                        fn from(v: super::Answer) -> Self { todo!() }
                    }
                }
            }
            pub mod builder {
                pub struct PostBody<'a> { body: Result<types::builder::Body, String> }
            }
        });
        assert_eq!(remove_unused_struct_builders(&mut items), 1);
        let out = printed(&items);
        assert!(out.contains("pub struct Body { a"), "{out}");
        assert!(out.contains("fn builder () -> builder :: Body"), "{out}");
        assert!(!out.contains("Answer { b : Result"), "{out}");
        assert!(!out.contains("builder :: Answer"), "{out}");
        assert!(!out.contains("From < super :: Answer >"), "{out}");
        assert!(out.contains("pub fn other"), "other impls stay: {out}");
        assert!(
            out.contains("pub struct Answer { pub b"),
            "the type stays: {out}"
        );
    }

    #[test]
    fn nothing_changes_without_a_builder_module() {
        let mut items = Item::split(quote::quote! {
            pub mod types { pub struct A; }
        });
        assert_eq!(remove_unused_struct_builders(&mut items), 0);
    }
}
