//! A stable short label for why a spec did not generate, to rank causes across the corpus.

use perspio_codegen::CodegenError;

use crate::regen::normalize::NormalizeError;
use crate::regen::source::SourceError;

/// `(label, message)` for an import error.
pub(crate) fn failure(e: &anyhow::Error) -> (String, String) {
    let message = format!("{e:#}");
    let label = label(e, &message);
    (label, message)
}

/// `(label, message)` for a panic that escaped the import.
pub(crate) fn panic(payload: &(dyn std::any::Any + Send)) -> (String, String) {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)")
        .to_owned();
    (format!("PANIC: {}", generalise(&message)), message)
}

fn label(e: &anyhow::Error, message: &str) -> String {
    for cause in e.chain() {
        if let Some(s) = cause.downcast_ref::<SourceError>() {
            return match s {
                SourceError::Read { .. } | SourceError::Fetch { .. } => "read: cannot read".into(),
                SourceError::Parse { .. } => "read: neither JSON nor YAML".into(),
                SourceError::NotOpenApi { why, .. } => format!("read: {}", generalise(why)),
            };
        }
        if let Some(NormalizeError::Unfaithful(problems)) = cause.downcast_ref::<NormalizeError>() {
            return format!(
                "normalise (no faithful form): {}",
                problems.first().map_or("?", |p| unfaithful(p))
            );
        }
        if let Some(c) = cause.downcast_ref::<CodegenError>() {
            return match c {
                CodegenError::Unsupported(problems) => problems.first().map_or_else(
                    || "check: (no problem listed)".into(),
                    |p| format!("check: {}", construct(&p.construct)),
                ),
                CodegenError::Generator { message, .. } => {
                    format!("progenitor: {}", generator(message))
                }
                other => format!("codegen: {}", generalise(&other.to_string())),
            };
        }
    }
    if message.contains("(step: $ref)") {
        if message.contains("external reference") {
            return "$ref: external reference".into();
        }
        return "$ref: points to nothing".into();
    }
    if message.contains("(step: parse)") {
        let last = e
            .chain()
            .last()
            .map(ToString::to_string)
            .unwrap_or_default();
        return format!("parse (openapiv3): {}", generalise(&last));
    }
    if message.contains("(step: API.md)") {
        return "API.md: reading the generated client".into();
    }
    let last = e
        .chain()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    format!("other: {}", generalise(&last))
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
/// get equal labels, and cuts it short.
pub(crate) fn generalise(message: &str) -> String {
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
    use super::*;

    #[test]
    fn specifics_are_generalised() {
        assert_eq!(
            generalise("unknown variant `foo`, expected one of `a`, `b` at line 3 column 7"),
            "unknown variant _, expected one of _, _"
        );
    }
}
