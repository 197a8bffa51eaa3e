//! `perspio api <PATH>` against a sandbox started by the test (the binary reaches it through
//! the `PERSPIO_*` variables), counted by the sandbox's counters.

use perspio_sandbox::Sandbox;

use crate::helpers::*;

#[tokio::test]
async fn a_get_carries_the_perspio_headers_and_prints_the_answer_in_the_servers_order() {
    let sandbox = Sandbox::start().await.unwrap();

    let run = perspio_at(&sandbox, &["api", "/assets/v3/"], &[]);

    // The sandbox answers 200 only with a valid subscription key, bearer token and tid.
    run.assert_code(0).assert_nothing_of(&[
        SANDBOX_SECRET,
        SANDBOX_SUBSCRIPTION_KEY,
        SANDBOX_TOKEN_PREFIX,
    ]);
    let assets = run.json();
    assert_eq!(assets.as_array().unwrap().len(), 5);
    assert!(
        run.stdout
            .starts_with(r#"[{"id":"SBX-000101","name":"Forklift 07","#),
        "keys keep the order the server sent: {run:#?}"
    );
    assert!(run.stderr.is_empty(), "{run:#?}");
    let seen = sandbox.counters();
    assert_eq!(
        (seen.tokens_issued, seen.ok, seen.unauthorized),
        (1, 1, 0),
        "{seen:#?}"
    );
    assert_eq!(seen.operation("list_assets"), 1);
}

#[tokio::test]
async fn a_get_with_fields_sends_them_as_a_query_and_a_path_may_carry_one() {
    let sandbox = Sandbox::start().await.unwrap();

    let run = perspio_at(
        &sandbox,
        &[
            "api",
            "/sites/v3/?timezone=Europe/London",
            "-f",
            "top=2",
            "-F",
            "active=true",
        ],
        &[],
    );

    // The sandbox routes on the path alone (its fixtures ignore parameters).
    run.assert_code(0);
    assert_eq!(run.json()[0]["id"], "SBX-SITE-000001");
    assert_eq!(sandbox.counters().operation("list_sites"), 1);
}

#[tokio::test]
async fn a_post_with_typed_fields_reminds_that_the_flow_is_read_only_and_a_404_exits_4() {
    let sandbox = Sandbox::start().await.unwrap();

    let run = perspio_at(
        &sandbox,
        &[
            "api",
            "-X",
            "POST",
            "/geofences/v3/",
            "-f",
            "name=Yard",
            "-F",
            "radius=50",
            "-F",
            "active=true",
        ],
        &[],
    );

    // The sandbox serves no such path: the gateway's 404, as for any unknown path.
    run.assert_code(EXIT_API);
    assert!(
        run.stdout.is_empty(),
        "an error answer is not data: {run:#?}"
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    assert!(
        lines[0].starts_with("perspio: note: POST with a client-credentials token")
            && lines[0].contains("read only"),
        "{run:#?}"
    );
    assert_eq!(
        lines[1],
        "perspio: error: POST /geofences/v3/: the api answered 404 Not Found: Resource not found"
    );
    let seen = sandbox.counters();
    assert_eq!((seen.tokens_issued, seen.not_found), (1, 1), "{seen:#?}");
}

#[tokio::test]
async fn include_prints_the_status_and_headers_on_stderr_and_stdout_stays_one_document() {
    let sandbox = Sandbox::start().await.unwrap();

    for format in ["json", "csv", "ndjson"] {
        let run = perspio_at(&sandbox, &["api", "/sites/v3/", "-i", "-o", format], &[]);

        run.assert_code(0);
        let head: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(head[0], "HTTP 200 OK", "{run:#?}");
        assert!(head.contains(&"content-type: application/json"), "{run:#?}");
        match format {
            "json" => assert_eq!(run.json().as_array().unwrap().len(), 3),
            "csv" => {
                let rows = csv::Reader::from_reader(run.stdout.as_bytes())
                    .records()
                    .count();
                assert_eq!(rows, 3, "{run:#?}");
            }
            _ => assert_eq!(run.stdout.lines().count(), 3, "{run:#?}"),
        }
    }
}

#[tokio::test]
async fn include_shows_the_status_and_headers_of_an_error_answer_too() {
    let sandbox = Sandbox::start().await.unwrap();

    let run = perspio_at(&sandbox, &["api", "/no/such/v1/", "-i"], &[]);

    run.assert_code(EXIT_API);
    assert!(run.stderr.starts_with("HTTP 404 Not Found\n"), "{run:#?}");
    assert!(run.stdout.is_empty());
}

#[tokio::test]
async fn a_path_that_leaves_the_origin_is_refused_before_anything_is_sent() {
    let sandbox = Sandbox::start().await.unwrap();
    let other_port = format!(
        "http://127.0.0.1:{}/assets/v3/",
        sandbox.address().port().wrapping_add(1)
    );

    for path in [
        "https://evil.example/assets/v3/",
        other_port.as_str(),
        "//evil.example/assets/v3/",
        "/assets/v3/../../../etc/passwd",
        "/%2e%2e/admin",
        "/assets/%2e%2e%2f%2e%2e%2fadmin",
        "/assets\\..\\admin",
        "/assets/v3/\r\nX-Injected: 1",
    ] {
        let run = perspio_at(&sandbox, &["api", path], &[]);

        run.assert_code(EXIT_USAGE).assert_one_line_error();
        assert!(
            run.stderr.contains("refused request path"),
            "{path:?}: {run:#?}"
        );
        assert!(run.stdout.is_empty());
    }
    assert_no_request(&sandbox);
}

#[tokio::test]
async fn a_401_refreshes_the_token_and_retries_once_through_the_raw_request() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.faults().unauthorized_next(1);

    let run = perspio_at(&sandbox, &["api", "/assets/v3/", "--jq", "length"], &[]);

    run.assert_code(0);
    assert_eq!(run.stdout, "5\n");
    let seen = sandbox.counters();
    assert_eq!(
        (seen.tokens_issued, seen.unauthorized, seen.ok),
        (2, 1, 1),
        "{seen:#?}"
    );
    assert_eq!(seen.operation("list_assets"), 2);
}

#[tokio::test]
async fn an_input_body_that_is_not_json_is_refused_before_sending() {
    let sandbox = Sandbox::start().await.unwrap();
    let env: Vec<(&str, String)> = sandbox.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();

    let run = perspio_with_stdin(
        &[
            "api",
            "-X",
            "PATCH",
            "/assets/v3/SBX-000101",
            "--input",
            "-",
        ],
        &env,
        b"{not json",
    );

    run.assert_code(EXIT_USAGE);
    assert!(
        run.stderr.contains("--input: the body is not JSON"),
        "{run:#?}"
    );
    assert_no_request(&sandbox);
}

#[tokio::test]
async fn malformed_methods_headers_and_fields_are_usage_errors_with_no_request() {
    let sandbox = Sandbox::start().await.unwrap();

    for args in [
        &["api", "-X", "GE T", "/assets/v3/"][..],
        &["api", "-H", "no colon", "/assets/v3/"],
        &["api", "-H", "Host: evil.example", "/assets/v3/"],
        &["api", "-f", "novalue", "/assets/v3/"],
        &["api", "-f", "a[b]=1", "/assets/v3/"],
        &["api", "-X", "POST", "-f", "a=1", "-f", "a=2", "/x/v1/"],
        &["api", "-F", "note=@/no/such/file", "-X", "POST", "/x/v1/"],
    ] {
        let run = perspio_at(&sandbox, args, &[]);

        run.assert_code(EXIT_USAGE);
        assert!(run.stdout.is_empty(), "{args:?}: {run:#?}");
    }
    assert_no_request(&sandbox);
}
