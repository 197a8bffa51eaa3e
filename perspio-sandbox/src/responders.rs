//! The sandbox's wiremock responders: the Entra token endpoint, the API gateway in front of
//! every operation, and the gateway's answer for anything else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::state::{ApiFault, SandboxState, TokenProblem, random_guid};
use crate::{CLIENT_ID, CLIENT_SECRET, DIRECTORY_TENANT, SUBSCRIPTION_KEY, TENANT_ID};

/// `POST /{directory}/oauth2/v2.0/token`: Entra's client-credentials flow.
///
/// Checks the directory in the path and the form fields `grant_type=client_credentials`,
/// `client_id`, `client_secret` and `scope`, and answers like Entra: `invalid_client` (401)
/// for a wrong secret, `unauthorized_client`, `invalid_scope`, `invalid_request` and
/// `unsupported_grant_type` (400) otherwise, each with `error_codes`, `trace_id` and
/// `correlation_id`. Success: a random token with the sandbox's (short) lifetime. While the
/// endpoint is switched down: `503 temporarily_unavailable`.
#[derive(Debug)]
pub(crate) struct TokenEndpoint {
    pub(crate) state: Arc<SandboxState>,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.state.count(|c| c.token_requests += 1);
        if self.state.token_endpoint_down() {
            self.state.count(|c| c.token_endpoint_unavailable += 1);
            tracing::debug!("sandbox: token endpoint down (fault), answering 503");
            return entra_error(
                request,
                503,
                "temporarily_unavailable",
                90033,
                "The sandbox's token endpoint is down: a fault switched on with Faults::set_token_endpoint_down.",
            );
        }
        let response = self.check_and_issue(request);
        self.state.count(|c| {
            if response.issued {
                c.tokens_issued += 1;
            } else {
                c.tokens_refused += 1;
            }
        });
        response.template
    }
}

/// A token endpoint answer, and whether it carries a token.
struct TokenAnswer {
    template: ResponseTemplate,
    issued: bool,
}

impl From<ResponseTemplate> for TokenAnswer {
    fn from(template: ResponseTemplate) -> Self {
        TokenAnswer {
            template,
            issued: false,
        }
    }
}

impl TokenEndpoint {
    fn check_and_issue(&self, request: &Request) -> TokenAnswer {
        let directory = request.url.path().split('/').nth(1).unwrap_or_default();
        if directory != DIRECTORY_TENANT {
            return entra_error(
                request,
                400,
                "invalid_request",
                90002,
                &format!(
                    "Tenant '{directory}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            ).into();
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let missing = |name: &str| -> TokenAnswer {
            entra_error(
                request,
                400,
                "invalid_request",
                900144,
                &format!("The request body must contain the following parameter: '{name}'."),
            )
            .into()
        };

        let Some(grant_type) = field("grant_type") else {
            return missing("grant_type");
        };
        if grant_type != "client_credentials" {
            return entra_error(
                request,
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type. The sandbox supports client_credentials only.",
            ).into();
        }
        let Some(client_id) = field("client_id") else {
            return missing("client_id");
        };
        if client_id != CLIENT_ID {
            return entra_error(
                request,
                400,
                "unauthorized_client",
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory 'Perspio sandbox'."
                ),
            ).into();
        }
        let Some(scope) = field("scope") else {
            return missing("scope");
        };
        if scope != perspio_api::auth::DEFAULT_SCOPE {
            return entra_error(
                request,
                400,
                "invalid_scope",
                1002012,
                &format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            ).into();
        }
        let Some(secret) = field("client_secret") else {
            return entra_error(
                request,
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ).into();
        };
        if secret != CLIENT_SECRET {
            tracing::debug!(client_id, "sandbox: refused a wrong client secret");
            return entra_error(
                request,
                401,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            ).into();
        }

        let token = self.state.issue(client_id, Instant::now());
        let lifetime = self.state.token_lifetime().as_secs();
        tracing::debug!(
            client_id,
            expires_in = lifetime,
            "sandbox: issued an access token"
        );
        TokenAnswer {
            template: ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "scope": scope,
                "access_token": token,
            })),
            issued: true,
        }
    }
}

/// An Entra error body, with the `AADSTS` code in the description as Entra writes it.
fn entra_error(
    request: &Request,
    status: u16,
    error: &str,
    code: u64,
    description: &str,
) -> ResponseTemplate {
    let trace_id = random_guid();
    let correlation_id = request
        .headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map_or_else(random_guid, str::to_owned);
    let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    ResponseTemplate::new(status).set_body_json(json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    }))
}

/// One spec operation behind the API gateway: answers with an injected fault when one is
/// pending; otherwise checks the subscription key, the bearer token and `tid` (401 with the
/// gateway's `{"statusCode", "message"}` body), then the application's rate limit (429 with
/// `Retry-After`), then serves the operation's fixture (501 when the sandbox has none). Every
/// answer is counted, and sent late when a delay is set.
#[derive(Debug)]
pub(crate) struct ApiOperation {
    pub(crate) operation_id: String,
    pub(crate) fixture: Option<&'static str>,
    pub(crate) state: Arc<SandboxState>,
}

impl Respond for ApiOperation {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (status, template) = self.answer(request);
        self.state.count(|c| {
            c.api_requests += 1;
            *c.by_operation.entry(self.operation_id.clone()).or_default() += 1;
            match status {
                200 => c.ok += 1,
                401 => c.unauthorized += 1,
                429 => c.rate_limited += 1,
                501 => c.not_implemented += 1,
                _ => {}
            }
        });
        let delay = self.state.api_delay();
        if delay.is_zero() {
            template
        } else {
            template.set_delay(delay)
        }
    }
}

impl ApiOperation {
    /// The status and the answer to one request.
    fn answer(&self, request: &Request) -> (u16, ResponseTemplate) {
        let now = Instant::now();
        match self.state.take_api_fault() {
            Some(ApiFault::Unauthorized) => {
                tracing::debug!(operation = %self.operation_id, "sandbox: injected 401");
                return invalid_token();
            }
            Some(ApiFault::Throttled { retry_after_s }) => {
                tracing::debug!(operation = %self.operation_id, retry_after_s, "sandbox: injected 429");
                return too_many_requests(retry_after_s);
            }
            None => {}
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };

        match header("ocp-apim-subscription-key") {
            None => {
                return gateway_error(
                    401,
                    "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
                );
            }
            Some(key) if key != SUBSCRIPTION_KEY => {
                return gateway_error(
                    401,
                    "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
                );
            }
            Some(_) => {}
        }
        let token = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        let client_id = match token.map(|t| self.state.client_of(t.trim(), now)) {
            None | Some(Err(TokenProblem::Unknown)) => return invalid_token(),
            Some(Err(TokenProblem::Expired)) => {
                let (status, template) =
                    gateway_error(401, "Unauthorized. Access token has expired.");
                return (
                    status,
                    template.insert_header(
                        "WWW-Authenticate",
                        "Bearer error=\"invalid_token\", error_description=\"The token is expired\"",
                    ),
                );
            }
            Some(Ok(client_id)) => client_id,
        };
        match header("tid") {
            None => return gateway_error(401, "Unauthorized. The tid header is missing."),
            Some(tid) if tid != TENANT_ID => {
                return gateway_error(
                    401,
                    "Unauthorized. The tid header does not name a tenant of this application.",
                );
            }
            Some(_) => {}
        }
        if let Err(seconds) = self.state.admit(&client_id, now) {
            tracing::debug!(
                client_id,
                retry_after_s = seconds,
                "sandbox: rate limit exceeded"
            );
            return too_many_requests(seconds);
        }
        tracing::debug!(operation = %self.operation_id, "sandbox: serving");
        match self.fixture {
            Some(body) => (
                200,
                ResponseTemplate::new(200).set_body_raw(body, "application/json"),
            ),
            None => gateway_error(
                501,
                &format!(
                    "The PerspioTalk sandbox has no fixture for operation '{}': add perspio-sandbox/data/{}.json.",
                    self.operation_id, self.operation_id
                ),
            ),
        }
    }
}

/// The gateway's 401 for a missing, unknown or revoked token.
fn invalid_token() -> (u16, ResponseTemplate) {
    let (status, template) =
        gateway_error(401, "Unauthorized. Access token is missing or invalid.");
    (
        status,
        template.insert_header("WWW-Authenticate", "Bearer error=\"invalid_token\""),
    )
}

/// The gateway's 429 with `Retry-After` in seconds.
fn too_many_requests(retry_after_s: u64) -> (u16, ResponseTemplate) {
    let (status, template) = gateway_error(
        429,
        &format!("Rate limit is exceeded. Try again in {retry_after_s} seconds."),
    );
    (
        status,
        template.insert_header("Retry-After", retry_after_s.to_string()),
    )
}

/// Anything that is no operation: the gateway's 404.
#[derive(Debug)]
pub(crate) struct NotFound {
    pub(crate) state: Arc<SandboxState>,
}

impl Respond for NotFound {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        self.state.count(|c| c.not_found += 1);
        gateway_error(404, "Resource not found").1
    }
}

/// The API gateway's error body, with its status.
fn gateway_error(status: u16, message: &str) -> (u16, ResponseTemplate) {
    (
        status,
        ResponseTemplate::new(status).set_body_json(json!({
            "statusCode": status,
            "message": message,
        })),
    )
}
