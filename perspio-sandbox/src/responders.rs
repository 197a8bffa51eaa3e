//! The sandbox's wiremock responders: the Entra token endpoint, the API gateway in front of
//! every operation, and the gateway's answer for anything else.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::state::{
    ApiFault, CodeProblem, RefreshProblem, SandboxState, TokenProblem, random_guid,
};
use crate::{
    CLIENT_ID, CLIENT_SECRET, DIRECTORY_TENANT, SUBSCRIPTION_KEY, TENANT_ID, USER_DISPLAY_NAME,
    USER_ID, USER_PRINCIPAL_NAME,
};

/// `POST /{directory}/oauth2/v2.0/token`: Entra's client-credentials, authorization-code and
/// refresh-token grants.
///
/// Checks the directory in the path and the form fields of each grant, and answers like
/// Entra: `invalid_client` (401) for a wrong secret, `unauthorized_client`, `invalid_scope`,
/// `invalid_request`, `invalid_grant` and `unsupported_grant_type` (400) otherwise, each with
/// `error_codes`, `trace_id` and `correlation_id`. Success: a random token with the sandbox's
/// (short) lifetime, and for the user grants a new refresh token (the old one is then used
/// up: the sandbox rotates strictly). While the endpoint is switched down:
/// `503 temporarily_unavailable`.
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
        if !matches!(
            grant_type,
            "client_credentials" | "authorization_code" | "refresh_token"
        ) {
            return entra_error(
                request,
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type. The sandbox supports client_credentials, authorization_code and refresh_token.",
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
        if grant_type != "client_credentials" {
            return self.user_grant(request, grant_type, &field, scope);
        }
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

impl TokenEndpoint {
    /// The authorization-code and refresh-token grants (the client id is checked already).
    fn user_grant<'a>(
        &self,
        request: &Request,
        grant_type: &str,
        field: &dyn Fn(&str) -> Option<&'a str>,
        scope: &str,
    ) -> TokenAnswer {
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
        let invalid_grant = |code: u64, description: &str| -> TokenAnswer {
            entra_error(request, 400, "invalid_grant", code, description).into()
        };
        if !scope.split_whitespace().all(|s| USER_SCOPES.contains(&s))
            || !scope
                .split_whitespace()
                .any(|s| s.starts_with("api://perspiotalk/"))
        {
            return entra_error(
                request,
                400,
                "invalid_scope",
                70011,
                &format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid for a user login; the sandbox knows {}.",
                    USER_SCOPES.join(", ")
                ),
            )
            .into();
        }
        match field("client_secret") {
            None => {
                return entra_error(
                    request,
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )
                .into();
            }
            Some(secret) if secret != CLIENT_SECRET => {
                return entra_error(
                    request,
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                )
                .into();
            }
            Some(_) => {}
        }
        let now = Instant::now();
        let user = if grant_type == "authorization_code" {
            let Some(code) = field("code") else {
                return missing("code");
            };
            let Some(redirect_uri) = field("redirect_uri") else {
                return missing("redirect_uri");
            };
            let Some(verifier) = field("code_verifier") else {
                return missing("code_verifier");
            };
            match self
                .state
                .redeem_code(code, CLIENT_ID, redirect_uri, verifier, now)
            {
                Ok(user) => {
                    self.state.count(|c| c.logins += 1);
                    user
                }
                Err(CodeProblem::Unknown) => {
                    return invalid_grant(
                        70008,
                        "The provided authorization code or refresh token has expired due to inactivity, or was already redeemed. Send a new interactive authorization request for this user and resource.",
                    );
                }
                Err(CodeProblem::OtherClient) => {
                    return invalid_grant(
                        70002,
                        "The authorization code was issued to another application.",
                    );
                }
                Err(CodeProblem::RedirectMismatch) => {
                    return invalid_grant(
                        500112,
                        "The reply address does not match the reply address of the authorization request.",
                    );
                }
                Err(CodeProblem::VerifierMismatch) => {
                    return invalid_grant(
                        501481,
                        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                    );
                }
            }
        } else {
            let Some(refresh_token) = field("refresh_token") else {
                return missing("refresh_token");
            };
            match self.state.use_refresh_token(refresh_token, CLIENT_ID) {
                Ok(user) => {
                    self.state.count(|c| c.refreshes += 1);
                    user
                }
                Err(RefreshProblem::Unknown) => {
                    return invalid_grant(
                        9002313,
                        "Invalid request. Request is malformed or invalid: the refresh token was not issued by this sandbox to this application.",
                    );
                }
                Err(RefreshProblem::Used) => {
                    return invalid_grant(
                        70000,
                        "The provided grant has already been used: the sandbox's refresh tokens rotate, and each one is accepted once.",
                    );
                }
                Err(RefreshProblem::Expired) => {
                    return invalid_grant(
                        700082,
                        "The refresh token has expired due to inactivity. The token was inactive for 90.00:00:00.",
                    );
                }
            }
        };
        let (access, refresh) = self.state.issue_user_tokens(CLIENT_ID, &user, now);
        let lifetime = self.state.token_lifetime().as_secs();
        tracing::debug!(
            grant_type,
            expires_in = lifetime,
            "sandbox: issued a user token"
        );
        TokenAnswer {
            template: ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "scope": perspio_api::auth::DEFAULT_USER_SCOPE,
                "access_token": access,
                "refresh_token": refresh,
            })),
            issued: true,
        }
    }
}

/// The scopes a user login and its refreshes may ask for.
const USER_SCOPES: [&str; 3] = [
    perspio_api::auth::DEFAULT_USER_SCOPE,
    "api://perspiotalk/all_readwrite",
    perspio_api::auth::OFFLINE_ACCESS,
];

/// `GET /{directory}/oauth2/v2.0/authorize`: the interactive login, consented at once.
///
/// Checks, like Entra, before anything can be redirected: the directory, the `client_id`, and
/// a `redirect_uri` on a loopback host (`http://localhost`, `127.0.0.1`, `[::1]`, any port:
/// RFC 8252 §7.3); those failures are a `400` page. Then, answered by a redirect to
/// `redirect_uri` with `error`, `error_description` and `state`: `response_type=code`, a user
/// scope, a `state` (the sandbox requires one), PKCE with `code_challenge_method=S256`, and
/// the consent (declined while [`Faults::deny_consent_next`](crate::Faults::deny_consent_next)
/// says so). Success: `302` to `redirect_uri?code=…&state=…` for the sandbox's user
/// ([`USER_PRINCIPAL_NAME`](crate::USER_PRINCIPAL_NAME)).
#[derive(Debug)]
pub(crate) struct Authorize {
    pub(crate) state: Arc<SandboxState>,
}

impl Respond for Authorize {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.state.count(|c| c.authorize_requests += 1);
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let field = |name: &str| {
            query
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let directory = request.url.path().split('/').nth(1).unwrap_or_default();
        if directory != DIRECTORY_TENANT {
            return login_page(400, 90002, &format!("Tenant '{directory}' not found."));
        }
        match field("client_id") {
            Some(CLIENT_ID) => {}
            Some(other) => {
                return login_page(
                    400,
                    700016,
                    &format!(
                        "Application with identifier '{other}' was not found in the directory 'Perspio sandbox'."
                    ),
                );
            }
            None => {
                return login_page(
                    400,
                    900144,
                    "The request must contain the parameter 'client_id'.",
                );
            }
        }
        let Some(redirect) = field("redirect_uri").and_then(|r| url::Url::parse(r).ok()) else {
            return login_page(
                400,
                900144,
                "The request must contain a valid 'redirect_uri'.",
            );
        };
        if redirect.scheme() != "http"
            || !matches!(
                redirect.host_str(),
                Some("localhost" | "127.0.0.1" | "[::1]")
            )
        {
            return login_page(
                400,
                50011,
                "The redirect URI does not match the redirect URIs configured for the application: the sandbox application accepts http://localhost (any port) and the loopback addresses.",
            );
        }
        let state = field("state");
        let refuse = |error: &str, code: u64, description: &str| {
            self.state.count(|c| c.logins_refused += 1);
            redirect_to(
                &redirect,
                &[
                    ("error", error),
                    ("error_description", &format!("AADSTS{code}: {description}")),
                    ("state", state.unwrap_or_default()),
                ],
            )
        };
        if field("response_type") != Some("code") {
            return refuse(
                "unsupported_response_type",
                700054,
                "The sandbox supports response_type=code only.",
            );
        }
        if field("response_mode").is_some_and(|mode| mode != "query") {
            return refuse(
                "invalid_request",
                900144,
                "The sandbox supports response_mode=query only.",
            );
        }
        let scope = field("scope").unwrap_or_default();
        if !scope
            .split_whitespace()
            .any(|s| s == perspio_api::auth::DEFAULT_USER_SCOPE)
        {
            return refuse(
                "invalid_scope",
                70011,
                &format!(
                    "The scope must include {}.",
                    perspio_api::auth::DEFAULT_USER_SCOPE
                ),
            );
        }
        if state.is_none() {
            return refuse(
                "invalid_request",
                900144,
                "The sandbox requires a 'state' parameter.",
            );
        }
        let Some(challenge) = field("code_challenge") else {
            return refuse(
                "invalid_request",
                9002325,
                "Proof Key for Code Exchange is required: send code_challenge and code_challenge_method=S256.",
            );
        };
        if field("code_challenge_method") != Some("S256") {
            return refuse(
                "invalid_request",
                50148,
                "The code_challenge_method must be S256.",
            );
        }
        if self.state.take_deny_consent() {
            return refuse(
                "access_denied",
                65004,
                "User declined to consent to access the app.",
            );
        }
        let code = self.state.issue_code(
            CLIENT_ID,
            redirect.as_str(),
            challenge,
            USER_ID,
            Instant::now(),
        );
        self.state.count(|c| c.authorizations += 1);
        tracing::debug!("sandbox: login consented, redirecting with a code");
        redirect_to(
            &redirect,
            &[("code", &code), ("state", state.unwrap_or_default())],
        )
    }
}

/// `302` to `redirect` with `pairs` added to its query.
fn redirect_to(redirect: &url::Url, pairs: &[(&str, &str)]) -> ResponseTemplate {
    let mut location = redirect.clone();
    {
        let mut query = location.query_pairs_mut();
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
    }
    ResponseTemplate::new(302)
        .insert_header("Location", location.as_str())
        .set_body_raw(
            format!("Redirecting to {}", redirect.origin().ascii_serialization()),
            "text/plain",
        )
}

/// Entra's login error page, as plain text: the error cannot be sent back to the application.
fn login_page(status: u16, code: u64, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!("Sign in failed (PerspioTalk sandbox). AADSTS{code}: {description}"),
        "text/plain",
    )
}

/// The profile of the sandbox's user, the answer of `get_current_user` to a delegated token.
fn user_profile(user: &str) -> serde_json::Value {
    json!({
        "id": user,
        "tenantId": null,
        "mail": USER_PRINCIPAL_NAME,
        "surName": "User",
        "givenName": "Sandbox API",
        "displayName": USER_DISPLAY_NAME,
        "oDataType": "microsoft.graph.user",
        "userPrincipalName": USER_PRINCIPAL_NAME,
    })
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
        let bearer = match token.map(|t| self.state.bearer(t.trim(), now)) {
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
            Some(Ok(bearer)) => bearer,
        };
        let client_id = bearer.client_id;
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
        if let (Some(user), "get_current_user") = (&bearer.user, self.operation_id.as_str()) {
            return (
                200,
                ResponseTemplate::new(200).set_body_json(user_profile(user)),
            );
        }
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
