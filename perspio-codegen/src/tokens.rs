//! progenitor's output as a tree of token-level items, read, changed and printed without
//! parsing it into `syn`'s syntax tree.
//!
//! Why: the client is generated in perspio-api's build script, which a user's dev profile
//! compiles without optimisation. On a 2,958-operation spec (autotask) a debug build took 4.7 s
//! in progenitor, then 20.6 s for `syn` to parse its output, about 23 s to read it back for the
//! `call()` methods and gates and 6.1 s for `prettyplease` to print it (64 s build-script run).
//! The items progenitor and typify emit have few shapes (`use`, `struct`, `enum`, `type`,
//! `const`, `fn`, `mod` and `impl` with their attributes), so they are split at item level
//! here; only the small pieces whose syntax matters (a `send` method's return type, a doc
//! string) are parsed, with `syn`.
//!
//! The source is printed one item per line, modules and impls with one member per line: an
//! error message from the compiler points at one item, and nothing is formatted twice.

use proc_macro2::{Delimiter, Group, Spacing, TokenStream, TokenTree};
use quote::ToTokens;

/// What an item is, by its keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Use,
    Struct,
    Enum,
    Union,
    Type,
    Const,
    Static,
    Fn,
    Mod,
    Impl,
    Trait,
    Other,
}

/// One item: its outer attributes, the rest of its tokens, and for modules and impls with a
/// body, their items.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// `#[…]` attributes, each as `#` and its bracket group.
    pub(crate) attrs: Vec<TokenTree>,
    /// Everything after the attributes (for modules and impls: up to their body).
    pub(crate) head: Vec<TokenTree>,
    /// The items of a module's or an impl's body.
    pub(crate) children: Option<Vec<Item>>,
    pub(crate) kind: Kind,
    /// The declared name (`struct Foo` → `Foo`); for an impl, the last name of its self type
    /// (`impl<'a> super::builder::Foo<'a>` → `Foo`).
    pub(crate) name: Option<String>,
    /// For a trait impl, the trait's tokens (`::std::convert::From<Foo>`).
    pub(crate) trait_: Option<Vec<TokenTree>>,
}

impl Item {
    /// Splits a token stream into its items (modules and impls recursively).
    pub(crate) fn split(tokens: TokenStream) -> Vec<Item> {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut items = Vec::new();
        let mut i = 0;
        while i < trees.len() {
            let (item, next) = Item::read(&trees, i);
            items.push(item);
            i = next;
        }
        items
    }

    /// Reads the item starting at `trees[start]`; returns it and the index after it.
    fn read(trees: &[TokenTree], start: usize) -> (Item, usize) {
        let mut i = start;
        let mut attrs = Vec::new();
        while is_punct(trees.get(i), '#') {
            let mut end = i + 1;
            if is_punct(trees.get(end), '!') {
                end += 1;
            }
            end += 1; // the bracket group
            attrs.extend(trees[i..end.min(trees.len())].iter().cloned());
            i = end;
        }
        let head_start = i;
        // Visibility and qualifiers.
        let mut k = i;
        if ident_is(trees.get(k), "pub") {
            k += 1;
            if matches!(trees.get(k), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
            {
                k += 1;
            }
        }
        while ["async", "unsafe", "extern", "default"]
            .iter()
            .any(|q| ident_is(trees.get(k), q))
            || matches!(trees.get(k), Some(TokenTree::Literal(_)))
        {
            k += 1;
        }
        let keyword = ident_text(trees.get(k)).unwrap_or_default();
        let kind = match keyword.as_str() {
            "use" => Kind::Use,
            "struct" => Kind::Struct,
            "enum" => Kind::Enum,
            "union" => Kind::Union,
            "type" => Kind::Type,
            "const" if ident_is(trees.get(k + 1), "fn") => Kind::Fn,
            "const" => Kind::Const,
            "static" => Kind::Static,
            "fn" => Kind::Fn,
            "mod" => Kind::Mod,
            "impl" => Kind::Impl,
            "trait" => Kind::Trait,
            _ => Kind::Other,
        };
        let ends_with_semicolon =
            matches!(kind, Kind::Use | Kind::Type | Kind::Const | Kind::Static);
        // The end: a `;` (or, for items with a body, the body's brace group) at this level.
        let mut end = k;
        let mut body = None;
        while end < trees.len() {
            match &trees[end] {
                TokenTree::Punct(p) if p.as_char() == ';' => break,
                TokenTree::Group(g)
                    if g.delimiter() == Delimiter::Brace && !ends_with_semicolon =>
                {
                    body = Some(end);
                    break;
                }
                _ => end += 1,
            }
        }
        let next = (end + 1).min(trees.len().max(end + 1));
        let mut item = Item {
            attrs,
            head: Vec::new(),
            children: None,
            kind,
            name: None,
            trait_: None,
        };
        match (kind, body) {
            (Kind::Mod | Kind::Impl, Some(b)) => {
                item.head = trees[head_start..b].to_vec();
                if let TokenTree::Group(g) = &trees[b] {
                    item.children = Some(Item::split(g.stream()));
                }
            }
            _ => item.head = trees[head_start..next.min(trees.len())].to_vec(),
        }
        let after_keyword = k + if kind == Kind::Fn && keyword == "const" {
            2
        } else {
            1
        };
        match kind {
            Kind::Impl => {
                let (trait_, self_ty) = impl_parts(&trees[after_keyword..end.min(trees.len())]);
                item.name = last_ident_at_depth_0(&self_ty);
                item.trait_ = trait_;
            }
            Kind::Use | Kind::Other => {}
            _ => item.name = ident_text(trees.get(after_keyword)),
        }
        (item, next)
    }

    /// The tokens of the whole item.
    pub(crate) fn to_stream(&self) -> TokenStream {
        let mut out = TokenStream::new();
        out.extend(self.attrs.iter().cloned());
        out.extend(self.head.iter().cloned());
        if let Some(children) = &self.children {
            let mut body = TokenStream::new();
            for child in children {
                body.extend(child.to_stream());
            }
            out.extend([TokenTree::Group(Group::new(Delimiter::Brace, body))]);
        }
        out
    }

    /// Puts `attr` (`#[…]`) before the item's other attributes.
    pub(crate) fn prepend_attr(&mut self, attr: TokenStream) {
        let mut attrs: Vec<TokenTree> = attr.into_iter().collect();
        attrs.append(&mut self.attrs);
        self.attrs = attrs;
    }

    /// Puts `attr` (`#[…]`) after the item's other attributes.
    pub(crate) fn append_attr(&mut self, attr: TokenStream) {
        self.attrs.extend(attr);
    }

    /// The text of its `#[doc = "…"]` attributes, one per line.
    pub(crate) fn doc(&self) -> String {
        let mut lines = Vec::new();
        let mut i = 0;
        while i + 1 < self.attrs.len() {
            if let TokenTree::Group(g) = &self.attrs[i + 1] {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                if let [
                    TokenTree::Ident(id),
                    TokenTree::Punct(eq),
                    TokenTree::Literal(lit),
                ] = inner.as_slice()
                    && id == "doc"
                    && eq.as_char() == '='
                    && let Ok(s) = syn::parse2::<syn::LitStr>(lit.to_token_stream())
                {
                    lines.push(s.value());
                }
            }
            i += 2;
        }
        lines.join("\n")
    }

    /// For a function, its return type (the tokens after `->`, parsed); `None` without one.
    pub(crate) fn return_type(&self) -> Option<syn::Type> {
        // `fn name <generics> (params) -> Type where … { … }`
        let mut i = self.head.iter().position(|t| ident_is(Some(t), "fn"))? + 2;
        if is_punct(self.head.get(i), '<') {
            i = skip_angle(&self.head, i);
        }
        if !matches!(self.head.get(i), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
        {
            return None;
        }
        let arrow = i + 1;
        if !(is_punct(self.head.get(arrow), '-') && is_punct(self.head.get(arrow + 1), '>')) {
            return None;
        }
        let rest = &self.head[arrow + 2..];
        // Up to `where` or the body.
        let end = rest
            .iter()
            .position(|t| {
                ident_is(Some(t), "where")
                    || matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace)
            })
            .unwrap_or(rest.len());
        syn::parse2(rest[..end].iter().cloned().collect()).ok()
    }

    /// Its children, when it is a module or impl with a body.
    pub(crate) fn children_mut(&mut self) -> impl Iterator<Item = &mut Item> {
        self.children.iter_mut().flatten()
    }

    /// Its children (none for other items).
    pub(crate) fn children(&self) -> impl Iterator<Item = &Item> {
        self.children.iter().flatten()
    }
}

/// Words reserved in edition 2024 that progenitor and typify (written for edition 2021) still
/// emit as plain identifiers: schemars 0.8's `gen` module and the `gen` parameter of the
/// `JsonSchema` impls of integer enums. perspio-api is edition 2024, where a plain `gen` does
/// not parse.
const RESERVED_2024: &[&str] = &["gen"];

/// `tokens` with every plain identifier of [`RESERVED_2024`] made raw (`gen` → `r#gen`), which
/// names the same item in every edition.
pub(crate) fn escape_reserved(tokens: TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), escape_reserved(g.stream()));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            TokenTree::Ident(id) if RESERVED_2024.iter().any(|w| id == w) => {
                TokenTree::Ident(proc_macro2::Ident::new_raw(&id.to_string(), id.span()))
            }
            other => other,
        })
        .collect()
}

/// Prints items one per line, modules and impls with one member per line.
pub(crate) fn print(items: &[Item], out: &mut String) {
    for item in items {
        print_item(item, out);
    }
}

fn print_item(item: &Item, out: &mut String) {
    let head: TokenStream = item.attrs.iter().chain(&item.head).cloned().collect();
    out.push_str(&head.to_string());
    match &item.children {
        Some(children) => {
            out.push_str(" {\n");
            print(children, out);
            out.push_str("}\n");
        }
        None => out.push('\n'),
    }
}

/// `impl<…> Trait for Type where …` (after `impl`): `(Some(trait), type)` or `(None, type)`.
fn impl_parts(tokens: &[TokenTree]) -> (Option<Vec<TokenTree>>, Vec<TokenTree>) {
    let mut i = 0;
    if is_punct(tokens.first(), '<') {
        i = skip_angle(tokens, 0);
    }
    let mut depth = 0i32;
    let mut for_at = None;
    let mut end = tokens.len();
    let mut j = i;
    while j < tokens.len() {
        match &tokens[j] {
            TokenTree::Punct(p) if p.as_char() == '-' && p.spacing() == Spacing::Joint => j += 1,
            TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '>' => depth -= 1,
            TokenTree::Ident(id) if depth == 0 && id == "for" && for_at.is_none() => {
                for_at = Some(j);
            }
            TokenTree::Ident(id) if depth == 0 && id == "where" => {
                end = j;
                break;
            }
            _ => {}
        }
        j += 1;
    }
    match for_at {
        Some(f) => (Some(tokens[i..f].to_vec()), tokens[f + 1..end].to_vec()),
        None => (None, tokens[i..end].to_vec()),
    }
}

/// The index after the `<…>` that starts at `start`.
fn skip_angle(tokens: &[TokenTree], start: usize) -> usize {
    let mut depth = 0i32;
    let mut i = start;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '-' && p.spacing() == Spacing::Joint => i += 1,
            TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '>' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    tokens.len()
}

/// The last identifier outside `<…>`: `super::builder::Foo<'a>` → `Foo`.
pub(crate) fn last_ident_at_depth_0(tokens: &[TokenTree]) -> Option<String> {
    let mut depth = 0i32;
    let mut last = None;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '-' && p.spacing() == Spacing::Joint => i += 1,
            TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '>' => depth -= 1,
            TokenTree::Ident(id) if depth == 0 => last = Some(id.to_string()),
            _ => {}
        }
        i += 1;
    }
    last
}

fn is_punct(tree: Option<&TokenTree>, c: char) -> bool {
    matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

fn ident_is(tree: Option<&TokenTree>, word: &str) -> bool {
    matches!(tree, Some(TokenTree::Ident(id)) if id == word)
}

fn ident_text(tree: Option<&TokenTree>) -> Option<String> {
    match tree {
        Some(TokenTree::Ident(id)) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn words_reserved_in_edition_2024_become_raw_identifiers() {
        let tokens: TokenStream =
            "fn json_schema(gen: &mut ::schemars::gen::SchemaGenerator) { f(gen, r#gen, general) }"
                .parse()
                .unwrap();
        assert_eq!(
            escape_reserved(tokens).to_string(),
            "fn json_schema (r#gen : & mut :: schemars :: r#gen :: SchemaGenerator) \
             { f (r#gen , r#gen , general) }"
        );
    }

    #[test]
    fn items_of_every_shape_are_split_named_and_printed_back() {
        let source = r#"
            #[allow(unused_imports)]
            pub use a::{B, C};
            /// A struct.
            #[derive(Debug)]
            pub struct Foo { a: u8 }
            pub struct Tuple(pub ::std::vec::Vec<Foo>);
            pub(crate) enum E { A, B }
            type Alias = Foo;
            const _: () = { fn inner() {} };
            pub mod types {
                impl ::std::convert::From<Foo> for ::serde_json::Value {
                    fn from(value: Foo) -> Self { todo!() }
                }
                impl<'a> super::builder::Op<'a> {
                    ///Sends a `GET` request to `/a`
                    pub async fn send(self) -> Result<ResponseValue<types::A>, Error<()>> { x }
                    pub fn f<F: Fn() -> u8>(self, f: F) -> Self where F: Clone { self }
                }
                pub(super) fn default_u64<T, const V: u64>() -> T where T: TryFrom<u64> { v }
            }
        "#;
        let items = Item::split(source.parse().unwrap());
        let shape: Vec<(Kind, Option<&str>)> =
            items.iter().map(|i| (i.kind, i.name.as_deref())).collect();
        assert_eq!(
            shape,
            [
                (Kind::Use, None),
                (Kind::Struct, Some("Foo")),
                (Kind::Struct, Some("Tuple")),
                (Kind::Enum, Some("E")),
                (Kind::Type, Some("Alias")),
                (Kind::Const, Some("_")),
                (Kind::Mod, Some("types")),
            ]
        );
        assert_eq!(items[1].doc(), " A struct.");
        let types: Vec<&Item> = items[6].children().collect();
        assert_eq!(types.len(), 3);
        assert_eq!(types[0].name.as_deref(), Some("Value"));
        assert!(types[0].trait_.is_some());
        assert_eq!(types[1].name.as_deref(), Some("Op"));
        assert!(types[1].trait_.is_none());
        let members: Vec<&Item> = types[1].children().collect();
        assert_eq!(members[0].name.as_deref(), Some("send"));
        assert_eq!(members[0].doc(), "Sends a `GET` request to `/a`");
        let ret = members[0].return_type().unwrap();
        assert_eq!(
            ret.to_token_stream().to_string(),
            "Result < ResponseValue < types :: A > , Error < () > >"
        );
        assert_eq!(members[1].name.as_deref(), Some("f"));
        assert_eq!(
            members[1]
                .return_type()
                .unwrap()
                .to_token_stream()
                .to_string(),
            "Self"
        );
        assert_eq!(types[2].name.as_deref(), Some("default_u64"));

        // Printed back, it is the same Rust.
        let mut printed = String::new();
        print(&items, &mut printed);
        let original: syn::File = syn::parse_str(source).unwrap();
        let again: syn::File = syn::parse_str(&printed).unwrap();
        assert_eq!(
            original.to_token_stream().to_string(),
            again.to_token_stream().to_string()
        );
        assert!(printed.lines().count() > 10, "{printed}");
    }
}
