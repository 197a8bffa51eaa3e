//! The constructs progenitor 0.15 cannot take, found before it panics on them.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, Operation, ReferenceOr, Response, StatusCode};

use crate::{CodegenError, Problem};

const FIX_WITH_IMPORT: &str = "run `cargo xtask regen --from <upstream spec>` to normalise it";

/// Finds every construct in `spec` that progenitor cannot take.
///
/// # Errors
/// [`CodegenError::Unsupported`] listing each problem with its operation, the construct and
/// the way out.
pub fn check(spec: &OpenAPI) -> Result<(), CodegenError> {
    let mut problems = Vec::new();
    if !spec.openapi.starts_with("3.0.") {
        problems.push(Problem {
            operation: "(document)".into(),
            construct: format!("`openapi: {}` (progenitor takes only 3.0.x)", spec.openapi),
            fix: FIX_WITH_IMPORT.into(),
        });
    }

    let mut seen_ids: BTreeMap<&str, String> = BTreeMap::new();
    for (path, method, op) in spec.operations() {
        let where_ = format!("{} {path}", method.to_uppercase());
        let name = match &op.operation_id {
            Some(id) if !id.trim().is_empty() => {
                if let Some(first) = seen_ids.insert(id, where_.clone()) {
                    problems.push(Problem {
                        operation: id.clone(),
                        construct: format!("operationId used twice ({first} and {where_})"),
                        fix: "give each operation its own operationId".into(),
                    });
                }
                id.clone()
            }
            _ => {
                problems.push(Problem {
                    operation: where_.clone(),
                    construct: "no operationId".into(),
                    fix: format!("add an operationId, or {FIX_WITH_IMPORT}"),
                });
                where_.clone()
            }
        };
        check_responses(spec, &name, op, &mut problems);
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(CodegenError::Unsupported(problems))
    }
}

/// How progenitor classifies one response: by its JSON schema, as raw bytes, or as empty.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Json(serde_json::Value),
    Raw,
    Empty,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Json(schema) => {
                let text = schema.to_string();
                if text.len() > 80 {
                    format!("JSON {}…", &text[..text.floor_char_boundary(80)])
                } else {
                    format!("JSON {text}")
                }
            }
            Kind::Raw => "a non-JSON body".into(),
            Kind::Empty => "no body".into(),
        }
    }
}

fn check_responses(spec: &OpenAPI, op_name: &str, op: &Operation, problems: &mut Vec<Problem>) {
    let mut success: Vec<(String, Kind)> = Vec::new();
    let mut errors: Vec<(String, Kind)> = Vec::new();
    if let Some(default) = &op.responses.default
        && let Some(kind) = classify(spec, op_name, "default", default, problems)
    {
        success.push(("default".into(), kind.clone()));
        errors.push(("default".into(), kind));
    }
    for (status, response) in &op.responses.responses {
        let (label, is_success) = match status {
            StatusCode::Code(c) => (c.to_string(), (100..300).contains(c)),
            StatusCode::Range(r) => (format!("{r}XX"), *r <= 2),
        };
        if let Some(kind) = classify(spec, op_name, &label, response, problems) {
            if is_success {
                success.push((label, kind));
            } else {
                errors.push((label, kind));
            }
        }
    }
    for (side, list) in [("success", &success), ("error", &errors)] {
        let mut distinct: Vec<&(String, Kind)> = Vec::new();
        for item in list {
            if !distinct.iter().any(|d| d.1 == item.1) {
                distinct.push(item);
            }
        }
        if distinct.len() > 1 {
            let described: Vec<String> = distinct
                .iter()
                .map(|(label, kind)| format!("{label} → {}", kind.describe()))
                .collect();
            problems.push(Problem {
                operation: op_name.into(),
                construct: format!(
                    "{} different {side} response types ({}); progenitor takes one{}",
                    distinct.len(),
                    described.join(", "),
                    if side == "success" {
                        " (a `default` response counts as a success type)"
                    } else {
                        ""
                    }
                ),
                fix: format!("make the {side} responses share one schema, or {FIX_WITH_IMPORT}"),
            });
        }
    }
}

fn classify(
    spec: &OpenAPI,
    op_name: &str,
    label: &str,
    response: &ReferenceOr<Response>,
    problems: &mut Vec<Problem>,
) -> Option<Kind> {
    let response = match resolve_response(spec, response) {
        Ok(r) => r,
        Err(reference) => {
            problems.push(Problem {
                operation: op_name.into(),
                construct: format!(
                    "response {label} refers to `{reference}`, which does not exist"
                ),
                fix: "fix the $ref".into(),
            });
            return None;
        }
    };
    let json = response
        .content
        .iter()
        .find(|(mt, _)| *mt == "application/json" || mt.starts_with("application/json;"));
    match json {
        Some((_, media)) => match &media.schema {
            Some(schema) => Some(Kind::Json(
                serde_json::to_value(schema).unwrap_or(serde_json::Value::Null),
            )),
            None => {
                problems.push(Problem {
                    operation: op_name.into(),
                    construct: format!("response {label} is JSON without a schema"),
                    fix: format!("add a schema (`{{}}` accepts any JSON), or {FIX_WITH_IMPORT}"),
                });
                None
            }
        },
        None if response.content.is_empty() => Some(Kind::Empty),
        None => Some(Kind::Raw),
    }
}

fn resolve_response<'a>(
    spec: &'a OpenAPI,
    response: &'a ReferenceOr<Response>,
) -> Result<&'a Response, String> {
    match response {
        ReferenceOr::Item(r) => Ok(r),
        ReferenceOr::Reference { reference } => reference
            .strip_prefix("#/components/responses/")
            .and_then(|name| spec.components.as_ref()?.responses.get(name))
            .and_then(|r| match r {
                ReferenceOr::Item(r) => Some(r),
                ReferenceOr::Reference { .. } => None,
            })
            .ok_or_else(|| reference.clone()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn spec(json: serde_json::Value) -> OpenAPI {
        serde_json::from_value(json).unwrap()
    }

    fn problems(spec: &OpenAPI) -> Vec<Problem> {
        match check(spec) {
            Ok(()) => Vec::new(),
            Err(CodegenError::Unsupported(p)) => p,
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    fn doc(paths: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": paths,
        })
    }

    #[test]
    fn a_default_response_typed_differently_from_200_names_the_operation() {
        let s = spec(doc(serde_json::json!({"/a": {"get": {
            "operationId": "get_a",
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}},
                "default": {"description": "err", "content": {"application/json": {"schema": {"type": "object"}}}}
            }
        }}})));
        let p = problems(&s);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].operation, "get_a");
        assert!(
            p[0].construct.contains("success response types"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn missing_and_duplicate_operation_ids_are_reported() {
        let ok = serde_json::json!({"200": {"description": "ok"}});
        let s = spec(doc(serde_json::json!({
            "/a": {"get": {"responses": ok}},
            "/b": {"get": {"operationId": "same", "responses": ok}},
            "/c": {"get": {"operationId": "same", "responses": ok}},
        })));
        let p = problems(&s);
        assert!(
            p.iter()
                .any(|p| p.operation == "GET /a" && p.construct == "no operationId")
        );
        assert!(
            p.iter()
                .any(|p| p.operation == "same" && p.construct.contains("used twice"))
        );
    }

    #[test]
    fn openapi_3_1_is_reported() {
        let mut d = doc(serde_json::json!({}));
        d["openapi"] = "3.1.0".into();
        let p = problems(&spec(d));
        assert!(p[0].construct.contains("3.1.0"));
    }

    #[test]
    fn json_plus_empty_success_is_reported_and_shared_error_schema_is_fine() {
        let err = serde_json::json!({"description": "e", "content": {"application/json": {"schema": {}}}});
        let s = spec(doc(serde_json::json!({"/a": {"get": {
            "operationId": "a",
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "string"}}}},
                "204": {"description": "empty"},
                "404": err, "5XX": err
            }
        }}})));
        let p = problems(&s);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].construct.contains("no body"));
    }

    #[test]
    fn json_without_schema_is_reported() {
        let s = spec(doc(serde_json::json!({"/a": {"get": {
            "operationId": "a",
            "responses": {"200": {"description": "ok", "content": {"application/json": {}}}}
        }}})));
        let p = problems(&s);
        assert!(p[0].construct.contains("without a schema"));
    }
}
