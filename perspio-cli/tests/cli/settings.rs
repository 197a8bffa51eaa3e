//! Missing and malformed settings: one line naming the variable and the flag, exit code 2.

use crate::helpers::*;

#[test]
fn no_settings_at_all_names_the_first_missing_variable_and_its_flag() {
    let run = perspio(&["list-assets"], &[]);

    run.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(run.stderr.contains("PERSPIO_CLIENT_ID"), "{run:#?}");
    assert!(run.stderr.contains("--client-id"), "{run:#?}");
    assert!(run.stdout.is_empty());
}

#[test]
fn a_flag_stands_in_for_a_missing_variable() {
    let env = [
        ("PERSPIO_CLIENT_ID", "client"),
        ("PERSPIO_CLIENT_SECRET", "secret-value-123"),
        ("PERSPIO_SUBSCRIPTION_KEY", "key-value-456"),
    ];

    let without = perspio(&["list-sites"], &env);
    without.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(without.stderr.contains("PERSPIO_TENANT_ID"), "{without:#?}");
    assert!(without.stderr.contains("--tenant-id"), "{without:#?}");

    // With the flag the settings are complete; the closed port makes it a network failure.
    let with = perspio(
        &[
            "list-sites",
            "--tenant-id",
            "in-x",
            "--token-url",
            "http://127.0.0.1:1/t/oauth2/v2.0/token",
        ],
        &env,
    );
    with.assert_code(EXIT_NETWORK)
        .assert_one_line_error()
        .assert_nothing_of(&["secret-value-123", "key-value-456"]);
}

#[test]
fn a_malformed_base_url_is_a_usage_error_naming_it() {
    let run = perspio(
        &["list-sites", "--base-url", "talk.perspio.io"],
        &[
            ("PERSPIO_CLIENT_ID", "client"),
            ("PERSPIO_CLIENT_SECRET", "s"),
            ("PERSPIO_TENANT_ID", "in-x"),
            ("PERSPIO_SUBSCRIPTION_KEY", "k"),
        ],
    );

    run.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(
        run.stderr.contains("PERSPIO_BASE_URL (--base-url)"),
        "{run:#?}"
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    perspio(&["list-assets", "--no-such-flag"], &[]).assert_code(EXIT_USAGE);
}
