//! The output pipeline, as a pipeline sees it (stdout is not a terminal): every format from the
//! same sandbox answer against a golden file, ndjson and csv parsed back, `--jq`, and the
//! command-line reference and completions.
//!
//! The golden files are `tests/cli/data/<name>.stdout`; after an intended change, rewrite them
//! with `PERSPIO_BLESS=1 cargo test -p perspio-cli --test cli output::` and review the diff.

use std::path::PathBuf;

use perspio_sandbox::Sandbox;
use serde_json::Value;

use crate::helpers::*;

/// The formats of `--output`.
const FORMATS: [&str; 6] = ["json", "ndjson", "yaml", "csv", "tsv", "table"];

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/data")
        .join(format!("{name}.stdout"))
}

/// `actual` is the golden file `name`, or (with `PERSPIO_BLESS=1`) becomes it.
#[track_caller]
fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("PERSPIO_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (PERSPIO_BLESS=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{} differs (PERSPIO_BLESS=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[tokio::test]
async fn every_format_of_the_same_answer_matches_its_golden_file() {
    let sandbox = Sandbox::builder()
        .with_rate_limit(100)
        .start()
        .await
        .unwrap();

    for format in FORMATS {
        let run = perspio_at(&sandbox, &["api", "/assets/v3/", "-o", format], &[]);

        run.assert_code(0);
        assert!(run.stderr.is_empty(), "{format}: {run:#?}");
        assert_golden(&format!("assets.{format}"), &run.stdout);
    }
    // The typed command goes through the same pipeline, keys in the same order.
    for format in FORMATS {
        let run = perspio_at(&sandbox, &["list-assets", "-o", format], &[]);
        run.assert_code(0);
        assert_golden(&format!("assets.{format}"), &run.stdout);
    }
}

/// The answer as `-o json` prints it: the reference the other formats are read back against.
fn answer(sandbox: &Sandbox, command: &[&str]) -> Vec<Value> {
    let run = perspio_at(sandbox, command, &[]);
    run.assert_code(0);
    run.json().as_array().unwrap().clone()
}

#[tokio::test]
async fn ndjson_read_back_line_by_line_is_the_answer() {
    let sandbox = Sandbox::builder()
        .with_rate_limit(100)
        .start()
        .await
        .unwrap();

    for command in [
        &["api", "/assets/v3/"][..],
        &["list-assets"],
        &["list-sites"],
    ] {
        let expected = answer(&sandbox, command);
        let run = perspio_at(&sandbox, &[command, &["-o", "ndjson"]].concat(), &[]);

        run.assert_code(0);
        let read_back: Vec<Value> = run
            .stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(read_back, expected, "{command:?}");
    }
}

#[tokio::test]
async fn csv_and_tsv_read_back_cell_by_cell_are_the_answer() {
    let sandbox = Sandbox::builder()
        .with_rate_limit(100)
        .start()
        .await
        .unwrap();

    for (format, delimiter) in [("csv", b','), ("tsv", b'\t'), ("table", b'\t')] {
        for command in [
            &["api", "/assets/v3/"][..],
            &["list-assets"],
            &["list-sites"],
        ] {
            let expected = answer(&sandbox, command);
            let run = perspio_at(&sandbox, &[command, &["-o", format]].concat(), &[]);
            run.assert_code(0);

            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .from_reader(run.stdout.as_bytes());
            let columns: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect();
            let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();

            // Every key of every item is a column, once; every row is its item.
            let mut keys: Vec<&String> = expected
                .iter()
                .flat_map(|item| item.as_object().unwrap().keys())
                .collect();
            keys.sort();
            keys.dedup();
            let mut sorted_columns: Vec<&String> = columns.iter().collect();
            sorted_columns.sort();
            assert_eq!(sorted_columns, keys, "{format} {command:?}");
            assert_eq!(rows.len(), expected.len());
            for (row, item) in rows.iter().zip(&expected) {
                for (column, cell) in columns.iter().zip(row.iter()) {
                    assert_cell(cell, item.get(column), &format!("{format} {column}"));
                }
            }
        }
    }
}

/// A csv cell read back: text as it is, nested values and numbers as JSON, empty for null or
/// a missing key.
#[track_caller]
fn assert_cell(cell: &str, value: Option<&Value>, what: &str) {
    match value {
        None | Some(Value::Null) => assert_eq!(cell, "", "{what}"),
        Some(Value::String(text)) => assert_eq!(cell, text, "{what}"),
        Some(other) => assert_eq!(
            &serde_json::from_str::<Value>(cell).unwrap(),
            other,
            "{what}"
        ),
    }
}

#[tokio::test]
async fn a_jq_filter_shapes_the_document_every_format_prints() {
    let sandbox = Sandbox::builder()
        .with_rate_limit(100)
        .start()
        .await
        .unwrap();
    let filter = r#".[] | select(.status == "active") | {name, id, site: .siteId}"#;

    let csv = perspio_at(&sandbox, &["list-assets", "--jq", filter, "-o", "csv"], &[]);
    csv.assert_code(0);
    assert_eq!(
        csv.stdout,
        "name,id,site\nForklift 07,SBX-000101,SBX-SITE-000001\n\
         Pallet scanner PS-1,SBX-000104,SBX-SITE-000001\n"
    );

    // Several outputs are one JSON document (their list); one output is itself.
    let json = perspio_at(&sandbox, &["api", "/assets/v3/", "--jq", ".[].id"], &[]);
    json.assert_code(0);
    assert_eq!(json.json().as_array().unwrap().len(), 5);
    let one = perspio_at(&sandbox, &["api", "/sites/v3/", "--jq", ".[0].name"], &[]);
    assert_eq!(one.stdout, "\"Bristol distribution centre\"\n");
    let lines = perspio_at(
        &sandbox,
        &["list-sites", "--jq", ".[].id", "-o", "tsv"],
        &[],
    );
    assert_eq!(
        lines.stdout,
        "value\nSBX-SITE-000001\nSBX-SITE-000002\nSBX-SITE-000003\n"
    );
}

#[tokio::test]
async fn a_jq_syntax_error_exits_2_before_any_request_reaches_the_sandbox() {
    let sandbox = Sandbox::start().await.unwrap();

    for args in [
        &["list-assets", "--jq", ".[] | select(.status =="][..],
        &["api", "/assets/v3/", "--jq", "{"],
        &["api", "/assets/v3/", "--jq", ".[] | no_such_filter"],
        &["token", "--jq", "[1,"],
    ] {
        let run = perspio_at(&sandbox, args, &[]);

        run.assert_code(EXIT_USAGE).assert_one_line_error();
        assert!(
            run.stderr.contains("invalid --jq filter: ") && run.stderr.contains("column"),
            "{args:?}: {run:#?}"
        );
        assert!(run.stdout.is_empty());
    }
    assert_no_request(&sandbox);
}

#[tokio::test]
async fn a_jq_filter_that_fails_on_the_answer_prints_nothing_and_exits_1() {
    let sandbox = Sandbox::start().await.unwrap();

    let run = perspio_at(&sandbox, &["list-assets", "--jq", ".name"], &[]);

    run.assert_code(1).assert_one_line_error();
    assert!(run.stderr.contains("--jq filter failed"), "{run:#?}");
    assert!(run.stdout.is_empty());
}

#[test]
fn completions_generate_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = perspio(&["completion", shell], &[]);

        run.assert_code(0);
        for word in ["perspio", "list-assets", "api", "jq"] {
            assert!(run.stdout.contains(word), "{shell}: no {word}");
        }
    }
    let bash = perspio(&["completion", "bash"], &[]);
    if let Ok(check) = std::process::Command::new("bash")
        .args(["-n", "-c", &bash.stdout])
        .output()
    {
        assert!(
            check.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    perspio(&["completion", "tcsh"], &[]).assert_code(EXIT_USAGE);
}

#[test]
fn docs_lists_every_command_flag_and_every_operation_of_the_spec() {
    let run = perspio(&["docs", "--format", "json"], &[]);

    run.assert_code(0);
    let docs = run.json();
    assert_eq!(docs["name"], "perspio");
    let commands = docs["subcommands"].as_array().unwrap();
    let by_operation = |id: &str| {
        commands
            .iter()
            .find(|c| c["operation_id"] == id)
            .unwrap_or_else(|| panic!("{id} is not in perspio docs"))
    };

    let spec: Value = serde_json::from_str(perspio_api::NORMALIZED_SPEC).unwrap();
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            let command = by_operation(id);
            assert_eq!(command["method"], method.to_uppercase(), "{id}");
            assert_eq!(command["path"], path.as_str(), "{id}");
            operations += 1;
        }
    }
    assert!(operations > 0);

    for name in ["token", "sandbox", "schema", "api", "completion", "docs"] {
        assert!(commands.iter().any(|c| c["name"] == name), "{name}");
    }
    let globals: Vec<&str> = docs["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["global"] == true)
        .filter_map(|a| a["long"].as_str())
        .collect();
    for flag in [
        "output",
        "jq",
        "no-rate-limit",
        "sandbox",
        "base-url",
        "timeout",
    ] {
        assert!(globals.contains(&flag), "--{flag}: {globals:?}");
    }
    let output = docs["args"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["long"] == "output")
        .unwrap();
    assert_eq!(
        output["values"],
        serde_json::json!(["json", "ndjson", "yaml", "csv", "tsv", "table"])
    );
    let api = commands.iter().find(|c| c["name"] == "api").unwrap();
    let api_flags: Vec<&str> = api["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["short"].as_str())
        .collect();
    assert_eq!(api_flags, ["X", "H", "f", "F", "i"]);
}
