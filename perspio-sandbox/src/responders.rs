//! The sandbox's wiremock responders: the Entra token endpoint, the API gateway in front of
//! every operation, and the gateway's answer for anything else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

use super::state::{SandboxState, TokenProblem, random_guid};
use super::{CLIENT_ID, CLIENT_SECRET, DIRECTORY_TENANT, SUBSCRIPTION_KEY, TENANT_ID};

/// `POST /{directory}/oauth2/v2.0/token`: Entra's client-credentials flow.
///
/// Checks the directory in the path and the form fields `grant_type=client_credentials`,
/// `client_id`, `client_secret` and `scope`, and answers like Entra: `invalid_client` (401)
/// for a wrong secret, `unauthorized_client`, `invalid_scope`, `invalid_request` and
/// `unsupported_grant_type` (400) otherwise, each with `error_codes`, `trace_id` and
/// `correlation_id`. Success: a random token with the sandbox's (short) lifetime.
#[derive(Debug)]
pub(crate) struct TokenEndpoint {
    pub(crate) state: Arc<SandboxState>,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
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
            );
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let missing = |name: &str| {
            entra_error(
                request,
                400,
                "invalid_request",
                900144,
                &format!("The request body must contain the following parameter: '{name}'."),
            )
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
            );
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
            );
        }
        let Some(scope) = field("scope") else {
            return missing("scope");
        };
        if scope != perspio_auth::DEFAULT_SCOPE {
            return entra_error(
                request,
                400,
                "invalid_scope",
                1002012,
                &format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            );
        }
        let Some(secret) = field("client_secret") else {
            return entra_error(
                request,
                400,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
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
            );
        }

        let token = self.state.issue(client_id, Instant::now());
        let lifetime = self.state.token_lifetime().as_secs();
        tracing::debug!(
            client_id,
            expires_in = lifetime,
            "sandbox: issued an access token"
        );
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "scope": scope,
            "access_token": token,
        }))
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

/// One spec operation behind the API gateway: checks the subscription key, the bearer token
/// and `tid` (401 with the gateway's `{"statusCode", "message"}` body otherwise), then the
/// application's rate limit (429 with `Retry-After`), then serves the operation's fixture
/// (501 when the sandbox has none).
#[derive(Debug)]
pub(crate) struct ApiOperation {
    pub(crate) operation_id: String,
    pub(crate) fixture: Option<&'static str>,
    pub(crate) state: Arc<SandboxState>,
}

impl Respond for ApiOperation {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let now = Instant::now();
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
            None | Some(Err(TokenProblem::Unknown)) => {
                return gateway_error(401, "Unauthorized. Access token is missing or invalid.")
                    .insert_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            }
            Some(Err(TokenProblem::Expired)) => {
                return gateway_error(401, "Unauthorized. Access token has expired.").insert_header(
                    "WWW-Authenticate",
                    "Bearer error=\"invalid_token\", error_description=\"The token is expired\"",
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
            return gateway_error(
                429,
                &format!("Rate limit is exceeded. Try again in {seconds} seconds."),
            )
            .insert_header("Retry-After", seconds.to_string());
        }
        tracing::debug!(operation = %self.operation_id, "sandbox: serving");
        match self.fixture {
            Some(body) => ResponseTemplate::new(200).set_body_raw(body, "application/json"),
            None => gateway_error(
                501,
                &format!(
                    "The PerspioTalk sandbox has no fixture for operation '{}': add perspio-cli/src/sandbox/data/{}.json.",
                    self.operation_id, self.operation_id
                ),
            ),
        }
    }
}

/// Anything that is no operation: the gateway's 404.
#[derive(Debug)]
pub(crate) struct NotFound;

impl Respond for NotFound {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        gateway_error(404, "Resource not found")
    }
}

/// The API gateway's error body.
fn gateway_error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "statusCode": status,
        "message": message,
    }))
}
