//! A hostile token endpoint and API, as a user of the CLI meets them: the exit code says what
//! happened, stderr stays readable and safe, no secret is echoed, nothing hangs silently.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const TOKEN_PATH: &str = "/dir/oauth2/v2.0/token";
const SECRET: &str = "hostile-client-secret-value";
const KEY: &str = "hostile-subscription-key-value";

/// The `PERSPIO_*` settings for a token endpoint on `server` and an API at `base_url`.
fn env_for(server: &MockServer, base_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PERSPIO_BASE_URL", base_url.to_owned()),
        ("PERSPIO_TOKEN_URL", format!("{}{TOKEN_PATH}", server.uri())),
        ("PERSPIO_CLIENT_ID", "hostile-client".into()),
        ("PERSPIO_CLIENT_SECRET", SECRET.into()),
        ("PERSPIO_TENANT_ID", "in-hostile".into()),
        ("PERSPIO_SUBSCRIPTION_KEY", KEY.into()),
    ]
}

fn run(args: &[&str], env: &[(&'static str, String)]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
    perspio(args, &env)
}

async fn token_endpoint_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(response)
        .named("token endpoint")
        .mount(server)
        .await;
}

async fn token_endpoint_issues_a_token(server: &MockServer) {
    token_endpoint_answers(
        server,
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "hostile-access-token",
        })),
    )
    .await;
}

/// stderr has no control character but line ends, and no line is longer than `max` characters.
#[track_caller]
fn assert_safe_stderr(run: &Run, max: usize) {
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{run:#?}"
    );
    for line in run.stderr.lines() {
        assert!(
            line.chars().count() <= max,
            "{} chars: {run:#?}",
            line.len()
        );
    }
}

#[tokio::test]
async fn a_token_endpoint_outage_exits_like_the_same_status_from_the_api_never_with_3() {
    for (status, exit) in [(503, EXIT_API), (500, EXIT_API), (429, EXIT_API)] {
        // Arrange
        let server = MockServer::start().await;
        token_endpoint_answers(
            &server,
            ResponseTemplate::new(status).insert_header("Retry-After", "0"),
        )
        .await;

        // Act
        let run = run(&["list-assets"], &env_for(&server, &server.uri()));

        // Assert
        run.assert_code(exit)
            .assert_one_line_error()
            .assert_nothing_of(&[SECRET, KEY]);
        let error = run.stderr.lines().last().unwrap();
        assert!(error.contains("could not get a token"), "{run:#?}");
        assert!(
            !error.contains("rejected") && !error.contains("authentication failed"),
            "{run:#?}"
        );
        assert!(
            error.contains(&status.to_string()) || error.contains("throttled"),
            "{run:#?}"
        );
    }
}

#[tokio::test]
async fn an_invalid_client_is_still_the_authentication_exit() {
    let server = MockServer::start().await;
    token_endpoint_answers(
        &server,
        ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret.",
        })),
    )
    .await;

    let run = run(&["list-assets"], &env_for(&server, &server.uri()));

    run.assert_code(EXIT_AUTH).assert_one_line_error();
    assert!(
        run.stderr
            .contains("authentication failed: token endpoint rejected"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn server_text_reaches_stderr_neutralised_and_bounded() {
    // Arrange: escape sequences and megabytes of text in the token endpoint's and the
    // API's error messages.
    let hostile = |n| {
        format!(
            "no\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}{}",
            "x".repeat(n)
        )
    };
    let server = MockServer::start().await;
    token_endpoint_answers(
        &server,
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_request",
            "error_description": hostile(50_000),
            "trace_id": hostile(5_000),
        })),
    )
    .await;
    let api = MockServer::start().await;
    token_endpoint_issues_a_token(&api).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(serde_json::json!({ "message": hostile(2_000_000) })),
        )
        .mount(&api)
        .await;

    // Act
    let from_token_endpoint = run(&["list-assets"], &env_for(&server, &server.uri()));
    let from_api = run(&["list-assets"], &env_for(&api, &api.uri()));

    // Assert
    for run in [&from_token_endpoint, &from_api] {
        run.assert_one_line_error();
        assert_safe_stderr(run, 2_100);
        assert!(
            run.stderr
                .contains("no\\e]0;pwned\\a\\e[2J\\u{9b}31m\\u{202e}"),
            "{run:#?}"
        );
    }
    from_api.assert_code(EXIT_API);
}

#[tokio::test]
async fn an_unusable_retry_after_is_said_to_be_unusable_and_never_echoed() {
    let api = MockServer::start().await;
    token_endpoint_issues_a_token(&api).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "soon"))
        .mount(&api)
        .await;

    let run = run(
        &["--retries", "0", "list-assets"],
        &env_for(&api, &api.uri()),
    );

    run.assert_code(EXIT_API).assert_one_line_error();
    assert!(
        run.stderr.contains("its Retry-After is unusable"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("soon"), "{run:#?}");
}

#[tokio::test]
async fn a_secret_in_the_base_url_is_never_echoed_and_the_setting_is_named() {
    let server = MockServer::start().await;
    for base_url in [
        "https://talk.perspio.io/?subscription-key=K3Y-FROM-THE-PORTAL",
        "https://me:PA55WORD-IN-URL@talk.perspio.io",
    ] {
        let run = run(&["list-assets"], &env_for(&server, base_url));

        run.assert_code(EXIT_USAGE)
            .assert_one_line_error()
            .assert_nothing_of(&["K3Y-FROM-THE-PORTAL", "PA55WORD-IN-URL", SECRET, KEY]);
        assert!(
            run.stderr.contains("PERSPIO_BASE_URL (--base-url)"),
            "{run:#?}"
        );
    }
}

#[tokio::test]
async fn a_base_url_the_library_refuses_is_named_by_its_variable_and_flag() {
    let server = MockServer::start().await;

    let run = run(&["list-assets"], &env_for(&server, "ftp://talk.perspio.io"));

    run.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(
        run.stderr.contains("PERSPIO_BASE_URL (--base-url)"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("api_base_url"), "{run:#?}");
}

#[tokio::test]
async fn plain_http_elsewhere_is_refused_with_a_switch_that_exists_and_warns_when_used() {
    // Arrange: a TEST-NET address, never routed.
    let server = MockServer::start().await;
    token_endpoint_issues_a_token(&server).await;
    let env = env_for(&server, "http://192.0.2.1:8080");

    // Act
    let refused = run(&["list-assets"], &env);
    let allowed = run(
        &[
            "--allow-insecure-http",
            "--attempt-timeout",
            "0.3",
            "--retries",
            "0",
            "list-assets",
        ],
        &env,
    );

    // Assert
    refused.assert_code(EXIT_USAGE).assert_one_line_error();
    assert!(
        refused.stderr.contains("PERSPIO_BASE_URL (--base-url)"),
        "{refused:#?}"
    );
    assert!(
        refused.stderr.contains("--allow-insecure-http"),
        "{refused:#?}"
    );
    assert!(
        allowed
            .stderr
            .starts_with("perspio: warning: --allow-insecure-http"),
        "{allowed:#?}"
    );
    allowed.assert_code(EXIT_NETWORK);
}

#[tokio::test]
async fn a_silent_api_is_announced_once_per_retry_and_the_error_names_attempts_and_time() {
    // Arrange: an API that accepts, reads the request and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request).await;
            held.push(stream);
        }
    });
    let server = MockServer::start().await;
    token_endpoint_issues_a_token(&server).await;
    let started = Instant::now();

    // Act
    let run = tokio::task::spawn_blocking({
        let env = env_for(&server, &base_url);
        move || {
            run(
                &["--attempt-timeout", "0.3", "--retries", "2", "list-assets"],
                &env,
            )
        }
    })
    .await
    .unwrap();

    // Assert
    assert!(started.elapsed() < Duration::from_secs(10), "{run:#?}");
    run.assert_code(EXIT_NETWORK).assert_one_line_error();
    let notices = run.notices();
    assert_eq!(notices.len(), 2, "{run:#?}");
    assert!(
        notices[0].starts_with("perspio: attempt 1 of 3 timed out; attempt 2 in "),
        "{run:#?}"
    );
    assert!(
        notices[1].starts_with("perspio: attempt 2 of 3 timed out; attempt 3 in "),
        "{run:#?}"
    );
    let error = run.stderr.lines().last().unwrap();
    assert!(
        error.contains("list_assets: the request policy gave up: 3 attempt(s) failed in "),
        "{run:#?}"
    );
    assert!(error.contains("timed out"), "{run:#?}");
}

#[tokio::test]
async fn an_answer_over_the_body_limit_names_the_flag_that_raises_it() {
    let api = MockServer::start().await;
    token_endpoint_issues_a_token(&api).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(format!("[{}]", [r#"{"id":"IN-000001"}"#; 100].join(","))),
        )
        .mount(&api)
        .await;

    let refused = run(
        &["--max-body-size", "1KiB", "list-assets"],
        &env_for(&api, &api.uri()),
    );
    let raised = run(
        &["--max-body-size", "1MiB", "list-assets"],
        &env_for(&api, &api.uri()),
    );

    refused.assert_code(EXIT_API).assert_one_line_error();
    assert!(
        refused.stderr.contains("more than the limit of 1 KiB"),
        "{refused:#?}"
    );
    assert!(refused.stderr.contains("--max-body-size"), "{refused:#?}");
    raised.assert_code(0);
}

#[tokio::test]
async fn a_token_outside_the_rfc_6750_set_is_a_malformed_answer_not_a_refused_secret() {
    let server = MockServer::start().await;
    token_endpoint_answers(
        &server,
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": "tökén",
        })),
    )
    .await;

    let run = run(&["list-assets"], &env_for(&server, &server.uri()));

    run.assert_code(EXIT_API).assert_one_line_error();
    assert!(run.stderr.contains("malformed token response"), "{run:#?}");
    assert!(!run.stderr.contains("tökén"), "{run:#?}");
}

#[tokio::test]
async fn api_to_a_host_that_refuses_connections_is_a_network_failure_naming_the_call() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = MockServer::start().await;
    token_endpoint_issues_a_token(&server).await;

    let run = run(
        &[
            "--retries",
            "0",
            "api",
            "/assets/v3/?key=query-secret-value",
        ],
        &env_for(&server, &base_url),
    );

    run.assert_code(EXIT_NETWORK)
        .assert_one_line_error()
        .assert_nothing_of(&[SECRET, KEY, "query-secret-value"]);
    let error = run.stderr.lines().last().unwrap();
    assert!(
        error.starts_with("perspio: error: GET /assets/v3/: the request failed"),
        "{run:#?}"
    );
}

#[tokio::test]
async fn api_reports_a_redirect_to_another_origin_without_following_it() {
    let server = MockServer::start().await;
    token_endpoint_issues_a_token(&server).await;
    Mock::given(method("GET"))
        .and(path("/assets/v3/"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", "https://elsewhere.example/x"),
        )
        .named("redirect elsewhere")
        .expect(1)
        .mount(&server)
        .await;

    let run = run(&["api", "/assets/v3/"], &env_for(&server, &server.uri()));

    run.assert_code(EXIT_API).assert_one_line_error();
    assert!(
        run.stderr
            .contains("GET /assets/v3/: the api answered 302 Found; redirects to another origin are not followed"),
        "{run:#?}"
    );
    assert!(run.stdout.is_empty());
}
