//! Short, stable labels for why an import failed, to rank causes across many specs (see
//! [`ImportError::cause`]).

use std::error::Error;

use perspio_codegen::CodegenError;

use crate::ImportError;
use crate::normalize::NormalizeError;
use crate::source::SourceError;

/// The label of a [`SourceError`].
pub(crate) fn of_source(e: &SourceError) -> String {
    match e {
        SourceError::Unreadable { .. }
        | SourceError::FetchFailed { .. }
        | SourceError::FetchedNotASpec { .. } => "read: cannot read".into(),
        SourceError::Unparsable { .. } => "read: neither JSON nor YAML".into(),
        SourceError::NotOpenApi { why, .. } => format!("read: {}", generalise(why)),
    }
}

/// The label of an [`ImportError`].
pub(crate) fn of_import(e: &ImportError) -> String {
    match e {
        ImportError::ReadUpstream { source } | ImportError::Spec { source } => of_source(source),
        ImportError::DeriveImported { source } => of_import(source),
        ImportError::Normalize {
            source: NormalizeError::Unfaithful { problems },
            ..
        } => format!(
            "normalise (no faithful form): {}",
            problems.first().map_or("?", |p| unfaithful(p))
        ),
        ImportError::Generate { source, .. } => of_codegen(source),
        ImportError::UpstreamRefs { source } | ImportError::SpecRefs { source } => {
            if source.refs.iter().any(|r| r.external) {
                "$ref: external reference".into()
            } else {
                "$ref: points to nothing".into()
            }
        }
        ImportError::NotOpenApi30 { source, .. } => {
            format!("parse (openapiv3): {}", generalise(&source.to_string()))
        }
        ImportError::ApiSurface { .. } => "API.md: reading the generated client".into(),
        ImportError::GeneratedSourceUnparsable { source, .. } => format!(
            "other: {}",
            generalise(&format!("the generated source does not parse: {source}"))
        ),
        other => format!("other: {}", generalise(&innermost(other))),
    }
}

/// The label of a panic that escaped an import, and its message.
pub(crate) fn of_panic(payload: &(dyn std::any::Any + Send)) -> (String, String) {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
        .to_owned();
    (format!("PANIC: {}", generalise(&message)), message)
}

fn of_codegen(e: &CodegenError) -> String {
    match e {
        CodegenError::Unsupported(problems) => problems.first().map_or_else(
            || "check: (no problem listed)".into(),
            |p| format!("check: {}", construct(&p.construct)),
        ),
        CodegenError::Generator { message, .. } => {
            format!("progenitor: {}", generator(message))
        }
        other => format!("codegen: {}", generalise(&other.to_string())),
    }
}

/// `e` and its sources, joined by `: ` (as `anyhow` shows an error with `{:#}`).
pub(crate) fn chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut at = e.source();
    while let Some(cause) = at {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        at = cause.source();
    }
    out
}

/// The message of the innermost cause.
fn innermost(e: &dyn Error) -> String {
    let mut last: &dyn Error = e;
    while let Some(cause) = last.source() {
        last = cause;
    }
    last.to_string()
}

/// The kind of construct a `perspio_codegen::check` problem names.
fn construct(text: &str) -> String {
    for (needle, label) in [
        (
            "different success response types",
            "several success response types",
        ),
        (
            "different error response types",
            "several error response types",
        ),
        ("no operationId", "no operationId"),
        ("operationId used twice", "operationId used twice"),
        ("progenitor takes only 3.0.x", "not OpenAPI 3.0.x"),
        ("JSON without a schema", "JSON response without a schema"),
        ("which does not exist", "response $ref points to nothing"),
    ] {
        if text.contains(needle) {
            return label.into();
        }
    }
    generalise(text)
}

/// The kind of construct a normaliser problem names.
fn unfaithful(problem: &str) -> &'static str {
    if problem.contains("has an object schema") {
        "required object-typed query/header parameter"
    } else if problem.contains("has style") {
        "required parameter in a style progenitor cannot send"
    } else if problem.contains("cookie") {
        "required cookie parameter"
    } else if problem.contains("same name") {
        "two parameters with one name"
    } else {
        "other"
    }
}

/// A label for a progenitor error or panic message.
fn generator(message: &str) -> String {
    let m = message
        .replace(
            "unexpected or unhandled format in the OpenAPI document ",
            "",
        )
        .replace("progenitor panicked: ", "panic: ");
    if m.contains("more media types than expected") {
        return "panic: request body with several media types".into();
    }
    if let Some(rest) = m.split("unexpected content type: ").nth(1) {
        let essence = rest.split(';').next().unwrap_or("").trim();
        return format!("request body content type {essence}");
    }
    if m.contains("missing from path") {
        return "panic: a path parameter missing from the path".into();
    }
    if m.contains("media type encoding not empty") {
        return "panic: request body media type with `encoding`".into();
    }
    if let Some(rest) = m.split("unsupported style of ").nth(1) {
        return format!(
            "unsupported style of {}",
            rest.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if m.contains("cookie parameters are not supported") {
        return "cookie parameters".into();
    }
    if m.contains("unexpected content Content") || m.contains("unexpected content {") {
        return "parameter with `content` instead of `schema`".into();
    }
    generalise(&m)
}

/// Replaces the specifics of a message (quoted names, numbers, positions) so that equal causes
/// get equal labels, and cuts it short (the first line, at most 90 characters).
///
/// ```
/// assert_eq!(
///     perspio_import::corpus::generalise("unknown variant `foo` at line 3 column 7"),
///     "unknown variant _"
/// );
/// ```
pub fn generalise(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or("");
    let mut out = String::new();
    let mut chars = first_line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' | '"' => {
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
                out.push('_');
            }
            c if c.is_ascii_digit() => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('N');
            }
            c => out.push(c),
        }
    }
    let out = out
        .split(" at line N column N")
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if out.chars().count() > 90 {
        out.chars().take(90).collect::<String>() + "…"
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{Source, derive, import};

    #[test]
    fn import_failures_get_the_labels_of_their_step() {
        let swagger = Source::parse("s.json", r#"{"swagger": "2.0", "info": {}}"#).unwrap_err();
        assert_eq!(
            swagger.cause(),
            "read: it is Swagger _; convert it to OpenAPI N first"
        );
        let cookie = r#"{"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"get": {"operationId": "a", "parameters": [
                {"name": "c", "in": "cookie", "required": true, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}}}}}}"#;
        assert_eq!(
            derive(cookie).unwrap_err().cause(),
            "normalise (no faithful form): required cookie parameter"
        );
        let source = Source::parse("u.json", cookie).unwrap();
        let err = import(&[source]).unwrap_err();
        assert!(matches!(err, ImportError::DeriveImported { .. }), "{err}");
        assert_eq!(
            err.cause(),
            "normalise (no faithful form): required cookie parameter"
        );
        assert!(chain(&err).starts_with(
            "regen --from: deriving (step: normalise): normalising openapi/perspio-talk.yaml: 1 \
             construct(s)"
        ));
    }

    #[test]
    fn specifics_are_generalised() {
        assert_eq!(
            generalise("unknown variant `foo`, expected one of `a`, `b` at line 3 column 7"),
            "unknown variant _, expected one of _, _"
        );
    }
}
