//! `perspio schema <operation>`: the JSON Schema of each operation's success body.

use serde_json::Value;

use crate::helpers::*;

/// `(subcommand, component name, component)` of every operation's success body in the spec.
fn spec_operations() -> Vec<(String, String, Value)> {
    let spec: Value = serde_json::from_str(perspio_api::NORMALIZED_SPEC).unwrap();
    let mut operations = Vec::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            let reference = operation["responses"]["200"]["content"]["application/json"]["schema"]
                ["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: the success body is not a component"));
            let name = reference.rsplit('/').next().unwrap().to_owned();
            let component = spec["components"]["schemas"][&name].clone();
            operations.push((id.replace('_', "-"), name, component));
        }
    }
    operations
}

#[test]
fn every_operation_prints_its_response_schema_as_one_line_of_json() {
    let operations = spec_operations();
    let mut subcommands: Vec<&str> = operations.iter().map(|(s, _, _)| s.as_str()).collect();
    subcommands.sort_unstable();
    assert_eq!(
        subcommands,
        [
            "get-current-user",
            "list-assets",
            "list-location-labels",
            "list-sites"
        ]
    );

    for (subcommand, title, component) in &operations {
        let run = perspio(&["schema", subcommand], &[]);

        run.assert_code(0);
        assert_eq!(run.stdout.lines().count(), 1, "{subcommand}: not compact");
        let schema = run.json();
        assert_eq!(
            schema["$schema"], "http://json-schema.org/draft-07/schema#",
            "{subcommand}"
        );
        assert_eq!(schema["title"], title.as_str(), "{subcommand}");
        assert_eq!(
            schema["description"].as_str().map(str::trim),
            component["description"]
                .as_str()
                .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
                .as_deref(),
            "{subcommand}: the spec's description"
        );
        match component["oneOf"].as_array() {
            // A oneOf of the spec is an untagged enum: any of its shapes.
            Some(shapes) => {
                assert_eq!(schema["anyOf"].as_array().unwrap().len(), shapes.len());
                assert_eq!(schema["anyOf"][0]["type"], "array", "{subcommand}");
            }
            None => assert_eq!(schema["type"], component["type"], "{subcommand}"),
        }
        assert!(run.stderr.is_empty(), "{subcommand}: {run:#?}");
    }
}

#[test]
fn typed_fields_appear_in_the_schema_as_nullable_strings() {
    let run = perspio(&["schema", "get-current-user"], &[]);

    run.assert_code(0);
    let schema = run.json();
    assert_eq!(
        schema["properties"]["userPrincipalName"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(schema["additionalProperties"], true);
}

#[test]
fn an_unknown_operation_is_a_usage_error_listing_the_valid_ones() {
    let run = perspio(&["schema", "get-tenant-info"], &[]);

    run.assert_code(EXIT_USAGE);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("'get-tenant-info'"), "{run:#?}");
    for (subcommand, _, _) in spec_operations() {
        assert!(run.stderr.contains(&subcommand), "{subcommand}: {run:#?}");
    }
}
