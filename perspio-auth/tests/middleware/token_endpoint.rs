//! Token-endpoint failures become the right typed error, with the right number of attempts.

use std::time::{Duration, SystemTime};

use perspio_auth::{AuthError, AuthMiddleware, Clock};
use wiremock::ResponseTemplate;

use crate::helpers::*;

#[tokio::test]
async fn a_500_from_the_token_endpoint_is_retried_to_three_attempts_then_reported_as_an_outage() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .named("token endpoint failing")
        .mount(&f.server)
        .await;

    let err = f.client.get(f.url("/x")).send().await.unwrap_err();

    let auth = auth_error(&err);
    assert!(
        matches!(auth, AuthError::TokenEndpointFailed { status, attempts: 3, .. } if *status == 500),
        "{auth:?}"
    );
    assert!(auth.is_retryable());
    assert!(
        !auth.is_rejection(),
        "an outage is no verdict on the credentials"
    );
    assert!(!auth.to_string().contains("rejected"), "{auth}");
    assert_eq!(
        auth.status(),
        Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR)
    );
}

#[tokio::test]
async fn a_transient_500_is_recovered_by_the_next_attempt() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .named("token endpoint failing once")
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .with_priority(2)
        .expect(1)
        .named("token endpoint recovered")
        .mount(&f.server)
        .await;

    let info = f.auth.token_info().await.unwrap();

    assert_eq!(info.access_token().expose_secret(), TOKEN_A);
}

#[tokio::test]
async fn invalid_client_is_not_retried_and_carries_entras_fields() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(entra_error(401, "invalid_client", 7000215))
        .expect(1)
        .named("token endpoint refusing the secret")
        .mount(&f.server)
        .await;

    let err = f.auth.token_info().await.unwrap_err();

    match &err {
        AuthError::TokenRejected {
            status,
            error,
            error_codes,
            error_description,
            trace_id,
            correlation_id,
            attempts,
        } => {
            assert_eq!(*status, 401);
            assert_eq!(error.as_deref(), Some("invalid_client"));
            assert_eq!(error_codes, &[7000215]);
            assert!(
                error_description
                    .as_deref()
                    .unwrap()
                    .starts_with("AADSTS7000215")
            );
            assert_eq!(trace_id.as_deref(), Some("trace-0001"));
            assert_eq!(correlation_id.as_deref(), Some("correlation-0001"));
            assert_eq!(*attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("invalid_client"));
}

#[tokio::test]
async fn unauthorized_client_invalid_scope_and_invalid_request_are_not_retried() {
    for (status, error) in [
        (400, "unauthorized_client"),
        (400, "invalid_scope"),
        (400, "invalid_request"),
    ] {
        let f = Fixture::start().await;
        token_endpoint()
            .respond_with(entra_error(status, error, 700016))
            .expect(1)
            .named(error)
            .mount(&f.server)
            .await;

        let err = f.auth.token_info().await.unwrap_err();

        assert!(
            matches!(&err, AuthError::TokenRejected { error: Some(e), .. } if e == error),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_seconds_and_reported_as_throttled() {
    let f = Fixture::start_with(|c| c.with_token_deadline(Duration::from_secs(30))).await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2"))
        .expect(3)
        .named("token endpoint throttling")
        .mount(&f.server)
        .await;
    let start = f.clock.now();

    let err = f.auth.token_info().await.unwrap_err();

    assert!(
        matches!(
            err,
            AuthError::TokenEndpointThrottled { retry_after: Some(d), attempts: 3 } if d == Duration::from_secs(2)
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let waited = f.clock.now().duration_since(start).unwrap();
    assert_eq!(waited, Duration::from_secs(4), "two waits of Retry-After");
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let f = Fixture::start_with(|c| c.with_token_deadline(Duration::from_secs(30))).await;
    let start = f.clock.now();
    let date = httpdate::fmt_http_date(start + Duration::from_secs(5));
    token_endpoint()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", date.as_str()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .with_priority(2)
        .expect(1)
        .mount(&f.server)
        .await;

    f.auth.token_info().await.unwrap();

    let waited = f.clock.now().duration_since(start).unwrap();
    // HTTP dates have whole seconds; the wait is at most 5 s and more than 4 s.
    assert!(
        waited > Duration::from_secs(4) && waited <= Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_cap_is_cut_to_the_cap() {
    let f = Fixture::start_with(|c| {
        c.with_retry_after_cap(Duration::from_secs(3))
            .with_token_deadline(Duration::from_secs(30))
    })
    .await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.server)
        .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599))
        .with_priority(2)
        .mount(&f.server)
        .await;
    let start = f.clock.now();

    f.auth.token_info().await.unwrap();

    assert_eq!(
        f.clock.now().duration_since(start).unwrap(),
        Duration::from_secs(3)
    );
}

#[tokio::test]
async fn a_token_endpoint_that_does_not_answer_in_time_is_unreachable_after_three_attempts() {
    let f = Fixture::start_with(|c| c.with_token_attempt_timeout(Duration::from_millis(100))).await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599).set_delay(Duration::from_secs(2)))
        .expect(3)
        .named("token endpoint hanging")
        .mount(&f.server)
        .await;

    let err = f.auth.token_info().await.unwrap_err();

    match &err {
        AuthError::TokenEndpointUnreachable { attempts, source } => {
            assert_eq!(*attempts, 3);
            assert!(source.is_timeout());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        std::error::Error::source(&err).is_some(),
        "the cause is kept"
    );
}

#[tokio::test]
async fn a_retry_is_not_attempted_when_its_wait_would_pass_the_deadline() {
    let f = Fixture::start_with(|c| c.with_token_deadline(Duration::from_secs(3))).await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "5"))
        .expect(1)
        .named("token endpoint throttling for longer than the deadline")
        .mount(&f.server)
        .await;

    let err = f.auth.token_info().await.unwrap_err();

    assert!(
        matches!(err, AuthError::TokenEndpointThrottled { attempts: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_overall_deadline_bounds_the_whole_acquisition() {
    let f = Fixture::start_with(|c| {
        c.with_token_attempt_timeout(Duration::from_millis(100))
            .with_token_deadline(Duration::from_millis(150))
    })
    .await;
    token_endpoint()
        .respond_with(token_response(TOKEN_A, 3599).set_delay(Duration::from_secs(2)))
        .mount(&f.server)
        .await;
    let wall = std::time::Instant::now();

    let err = f.auth.token_info().await.unwrap_err();

    assert!(
        matches!(err, AuthError::TokenEndpointTimedOut { deadline, attempts } if deadline == Duration::from_millis(150) && attempts >= 1),
        "{err:?}"
    );
    assert!(wall.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_reported_with_its_cause() {
    let server = wiremock::MockServer::start().await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let auth = AuthMiddleware::builder(credentials())
        .with_config(
            test_config(&server).with_token_url(
                format!("http://127.0.0.1:{closed_port}/token")
                    .parse()
                    .unwrap(),
            ),
        )
        .build()
        .unwrap();

    let err = auth.token_info().await.unwrap_err();

    assert!(
        matches!(&err, AuthError::TokenEndpointUnreachable { attempts: 3, source } if source.is_connect()),
        "{err:?}"
    );
}

#[tokio::test]
async fn garbage_json_is_a_malformed_token_response_and_is_not_retried() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"access_token\": tru"))
        .expect(1)
        .named("token endpoint answering garbage")
        .mount(&f.server)
        .await;

    let err = f.auth.token_info().await.unwrap_err();

    assert!(
        matches!(err, AuthError::MalformedTokenResponse { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn expires_in_as_a_string_is_honoured_and_a_missing_one_means_five_minutes() {
    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "access_token": TOKEN_A, "expires_in": "600"
        })))
        .mount(&f.server)
        .await;
    let info = f.auth.token_info().await.unwrap();
    assert_eq!(
        lifetime(info.issued_at(), info.expires_at()),
        Duration::from_secs(600)
    );

    let f = Fixture::start().await;
    token_endpoint()
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "access_token": TOKEN_A
        })))
        .mount(&f.server)
        .await;
    let info = f.auth.token_info().await.unwrap();
    assert_eq!(
        lifetime(info.issued_at(), info.expires_at()),
        Duration::from_secs(300)
    );
}

fn lifetime(issued: SystemTime, expires: SystemTime) -> Duration {
    expires.duration_since(issued).unwrap()
}
