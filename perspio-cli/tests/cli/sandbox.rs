//! `--sandbox` and `perspio sandbox`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::helpers::*;

#[test]
fn every_subcommand_prints_the_sandbox_data_as_compact_json_when_piped() {
    for (subcommand, expected) in [
        ("list-assets", "SBX-000101"),
        ("list-sites", "SBX-SITE-000001"),
        ("list-location-labels", "Loading bay 1"),
        ("get-current-user", "sandbox.user@example.com"),
    ] {
        let run = perspio(&["--sandbox", subcommand], &[]);

        run.assert_code(0);
        assert!(run.stdout.contains(expected), "{subcommand}: {run:#?}");
        assert_eq!(run.stdout.lines().count(), 1, "{subcommand}: not compact");
        run.json();
        assert!(run.stderr.is_empty(), "{subcommand}: {run:#?}");
    }
}

#[test]
fn output_table_is_tab_separated_with_a_header_when_piped() {
    let run = perspio(&["--sandbox", "list-sites", "--output", "table"], &[]);

    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{run:#?}");
    assert!(lines[0].split('\t').any(|c| c == "id"), "{run:#?}");
    assert!(lines[1].contains("SBX-SITE-000001\t"), "{run:#?}");
    let tsv = perspio(&["--sandbox", "list-sites", "--output", "tsv"], &[]);
    assert_eq!(
        run.stdout, tsv.stdout,
        "table is tsv when stdout is not a terminal"
    );
}

#[test]
fn a_wrong_secret_is_an_authentication_failure_that_prints_no_secret() {
    let wrong = "not-the-secret-9f8e7d";

    let run = perspio(
        &["--sandbox", "-vv", "--client-secret", wrong, "list-assets"],
        &[],
    );

    run.assert_code(EXIT_AUTH).assert_nothing_of(&[
        wrong,
        SANDBOX_SECRET,
        SANDBOX_SUBSCRIPTION_KEY,
    ]);
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("perspio: error: authentication failed"),
        "{run:#?}"
    );
    assert!(last.contains("invalid_client"), "{run:#?}");
    assert!(run.stdout.is_empty());
}

#[test]
fn a_wrong_subscription_key_is_a_401_with_the_authentication_exit_code() {
    let run = perspio(
        &[
            "--sandbox",
            "--subscription-key",
            "wrong-key-1234",
            "list-sites",
        ],
        &[],
    );

    run.assert_code(EXIT_AUTH)
        .assert_one_line_error()
        .assert_nothing_of(&["wrong-key-1234", SANDBOX_TOKEN_PREFIX]);
    assert!(run.stderr.contains("401"), "{run:#?}");
}

#[test]
fn vv_shows_the_token_lifecycle_and_no_secret_or_token() {
    let run = perspio(&["--sandbox", "-vv", "list-assets"], &[]);

    run.assert_code(0).assert_nothing_of(&[
        SANDBOX_SECRET,
        SANDBOX_SUBSCRIPTION_KEY,
        SANDBOX_TOKEN_PREFIX,
        "Bearer",
    ]);
    assert!(run.stderr.contains("acquire_token"), "{run:#?}");
    assert!(run.stderr.contains("reason=\"initial\""), "{run:#?}");
    assert!(run.stderr.contains("status=\"ok\""), "{run:#?}");
    assert!(
        run.stderr.contains("sending with the cached token"),
        "{run:#?}"
    );
}

#[test]
fn token_shows_metadata_and_the_token_only_with_show_token() {
    let run = perspio(&["--sandbox", "token"], &[]);
    run.assert_code(0)
        .assert_nothing_of(&[SANDBOX_TOKEN_PREFIX]);
    let metadata = run.json();
    assert_eq!(metadata["scope"], "api://perspiotalk/.default");
    assert!(metadata["expires_in"].as_u64().unwrap() <= 120);
    assert!(metadata["expires_at"].is_string() && metadata.get("access_token").is_none());

    let run = perspio(&["--sandbox", "token", "--show-token"], &[]);
    run.assert_code(0);
    let token = run.json()["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(SANDBOX_TOKEN_PREFIX), "{token}");
}

/// Kills the standalone sandbox this test started, even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_standalone_sandbox_prints_its_variables_and_enforces_the_rate_limit() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_perspio"));
    command
        .env_clear()
        .args(["sandbox", "--port", "0", "--rate-limit", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Child(command.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let exports: Vec<(String, String)> = BufReader::new(stdout)
        .lines()
        .take(6)
        .map(|line| {
            let line = line.unwrap();
            let (name, value) = line
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let env: Vec<(&str, &str)> = exports
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert!(env.iter().any(|(n, _)| *n == "PERSPIO_BASE_URL"), "{env:?}");

    perspio(&["list-sites"], &env).assert_code(0);
    // The client would wait out the sandbox's Retry-After; refuse any wait to see the 429.
    let limited = perspio(&["--max-retry-wait", "0", "list-sites"], &env);

    limited.assert_code(EXIT_API).assert_one_line_error();
    assert!(limited.stderr.contains("429"), "{limited:#?}");
    assert!(limited.stderr.contains("retry after"), "{limited:#?}");
}
