//! Response lists decoded by their first token instead of through serde's buffer.
//!
//! The list answers of the spec are `oneOf [array, open object]`, which typify makes an
//! untagged enum (`enum AssetList { Array(Vec<Asset>), OpenObject(OpenObject) }`). serde decodes
//! an untagged enum by buffering the whole value into its private `Content` tree and then trying
//! each variant against it: about 27,000 instructions for a three-asset answer, more than the
//! rest of the call. For an enum of exactly that shape (a `Vec` variant and a variant that is a
//! `#[serde(transparent)]` JSON map, so an array can only be the first and an object only the
//! second) the derived `Deserialize` is replaced by one that looks at the first token
//! (`deserialize_any`) and decodes that variant directly: the same value for every input either
//! accepts (perspio-api's property test compares the two on arbitrary JSON); a value neither
//! accepts is an error either way, with the more precise message of the variant that was tried.
//! The impl calls `crate::decode::array_or_object` of the including crate (perspio-api).

use std::collections::BTreeSet;

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};

use crate::tokens::{Item, Kind};

fn text(tokens: &[TokenTree]) -> String {
    tokens.iter().cloned().collect::<TokenStream>().to_string()
}

/// Rewrites every enum of that shape in the `types` module; returns their names.
pub(crate) fn first_token_decoders(items: &mut [Item]) -> Vec<String> {
    let Some(types) = items
        .iter_mut()
        .find(|i| i.kind == Kind::Mod && i.name.as_deref() == Some("types"))
    else {
        return Vec::new();
    };
    // `#[serde(transparent)] pub struct N(pub ::serde_json::Map<String, Value>);`
    let maps: BTreeSet<String> = types
        .children()
        .filter(|c| {
            c.kind == Kind::Struct
                && text(&c.attrs).contains("serde (transparent)")
                && text(&c.head).contains("(pub :: serde_json :: Map <")
        })
        .filter_map(|c| c.name.clone())
        .collect();
    let mut rewritten = Vec::new();
    let mut impls = TokenStream::new();
    for item in types.children_mut() {
        if item.kind != Kind::Enum {
            continue;
        }
        let attrs = text(&item.attrs);
        if !attrs.contains("serde (untagged)") || !attrs.contains(":: serde :: Deserialize ,") {
            continue;
        }
        let (Some(name), Some((array, object))) = (item.name.clone(), variants(item, &maps)) else {
            continue;
        };
        if !remove_deserialize_derive(&mut item.attrs) {
            continue;
        }
        let ty = Ident::new(&name, Span::call_site());
        let (array, object) = (
            Ident::new(&array, Span::call_site()),
            Ident::new(&object, Span::call_site()),
        );
        impls.extend(quote::quote! {
            impl<'de> ::serde::Deserialize<'de> for #ty {
                fn deserialize<D: ::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::std::result::Result<Self, D::Error> {
                    crate::decode::array_or_object(deserializer, #name, Self::#array, Self::#object)
                }
            }
        });
        rewritten.push(name);
    }
    if let Some(children) = types.children.as_mut() {
        children.extend(Item::split(impls));
    }
    rewritten
}

/// `(array variant, object variant)` when the enum is exactly `{ A(::std::vec::Vec<T>), B(M), }`
/// (either order in the source, no generics, no variant attributes) with `M` one of `maps`.
fn variants(item: &Item, maps: &BTreeSet<String>) -> Option<(String, String)> {
    // `pub enum Name { … }`: no generics between the name and the body.
    let [.., TokenTree::Ident(_), TokenTree::Group(body)] = item.head.as_slice() else {
        return None;
    };
    if body.delimiter() != Delimiter::Brace {
        return None;
    }
    let tokens: Vec<TokenTree> = body.stream().into_iter().collect();
    let mut entries = Vec::new();
    for entry in tokens.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ',')) {
        match entry {
            [] => {}
            [TokenTree::Ident(variant), TokenTree::Group(payload)]
                if payload.delimiter() == Delimiter::Parenthesis =>
            {
                entries.push((variant.to_string(), payload.stream().to_string()));
            }
            _ => return None,
        }
    }
    let [first, second] = entries.as_slice() else {
        return None;
    };
    let is_vec = |payload: &str| payload.starts_with(":: std :: vec :: Vec <");
    let is_map = |payload: &str| maps.contains(payload.trim());
    match (first, second) {
        ((a, pa), (o, po)) | ((o, po), (a, pa)) if is_vec(pa) && is_map(po) => {
            Some((a.clone(), o.clone()))
        }
        _ => None,
    }
}

/// Takes `::serde::Deserialize` out of the item's `#[derive(…)]`; whether it was there.
fn remove_deserialize_derive(attrs: &mut [TokenTree]) -> bool {
    for tree in attrs.iter_mut() {
        let TokenTree::Group(group) = tree else {
            continue;
        };
        let inner: Vec<TokenTree> = group.stream().into_iter().collect();
        let [TokenTree::Ident(derive), TokenTree::Group(list)] = inner.as_slice() else {
            continue;
        };
        if derive != "derive" {
            continue;
        }
        let list: Vec<TokenTree> = list.stream().into_iter().collect();
        // `:: serde :: Deserialize ,`: seven tokens (`::` is two).
        let Some(at) = (0..list.len().saturating_sub(6)).find(|&i| {
            text(&list[i..i + 6]) == ":: serde :: Deserialize"
                && matches!(list.get(i + 6), Some(TokenTree::Punct(p)) if p.as_char() == ',')
        }) else {
            continue;
        };
        let kept: TokenStream = list[..at].iter().chain(&list[at + 7..]).cloned().collect();
        let rebuilt = quote::quote!(derive(#kept));
        let mut new = proc_macro2::Group::new(Delimiter::Bracket, rebuilt);
        new.set_span(group.span());
        *tree = TokenTree::Group(new);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    fn generated() -> String {
        let spec: openapiv3::OpenAPI = serde_json::from_str(include_str!(
            "../../perspio-api/spec/perspio-talk.normalized.json"
        ))
        .unwrap();
        crate::generate(&spec).unwrap()
    }

    #[test]
    fn the_list_types_get_a_first_token_decoder_instead_of_the_untagged_derive() {
        let source = generated();
        for list in ["AssetList", "SiteList", "LocationLabelList"] {
            let line = source
                .lines()
                .find(|l| l.contains(&format!("pub enum {list} ")))
                .unwrap();
            assert!(line.contains("# [serde (untagged)]"), "{line}");
            assert!(!line.contains(":: serde :: Deserialize"), "{line}");
            assert!(line.contains(":: serde :: Serialize"), "{line}");
            assert!(
                source.contains(&format!(
                    "impl < 'de > :: serde :: Deserialize < 'de > for {list} {{"
                )),
                "{list}"
            );
        }
        assert!(source.contains("crate :: decode :: array_or_object (deserializer , \"AssetList\" , Self :: Array , Self :: OpenObject)"));
    }

    #[test]
    fn other_untagged_enums_keep_their_derive() {
        let spec: openapiv3::OpenAPI = serde_json::from_str(
            r##"{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
                "paths": {"/a": {"get": {"operationId": "get_a",
                    "responses": {"200": {"description": "ok", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Either"}}}}}}}},
                "components": {"schemas": {"Either": {"oneOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "string"}]}}}}"##,
        )
        .unwrap();
        let source = crate::generate(&spec).unwrap();
        assert!(!source.contains("array_or_object"), "{source}");
    }
}
