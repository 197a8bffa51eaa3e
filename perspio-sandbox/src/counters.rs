//! [`Counters`]: what the sandbox has seen and served.

use std::collections::BTreeMap;

/// The requests a [`Sandbox`](crate::Sandbox) has seen and what it answered, since it started
/// or since [`Sandbox::reset_counters`](crate::Sandbox::reset_counters).
///
/// A snapshot: [`Sandbox::counters`](crate::Sandbox::counters) returns a copy, so compare it
/// with `assert_eq!` field by field. Every request is counted when the sandbox decides its
/// answer, before any [delay](crate::Faults::set_api_delay).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sandbox = perspio_sandbox::Sandbox::start().await?;
/// sandbox.client()?.list_sites().call().await?;
///
/// let seen = sandbox.counters();
/// assert_eq!(seen.tokens_issued, 1);
/// assert_eq!(seen.operation("list_sites"), 1);
/// assert_eq!(seen.api_requests, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Requests to the token endpoint, whatever the answer (issued, refused, or failed while
    /// the endpoint is [down](crate::Faults::set_token_endpoint_down)).
    pub token_requests: u64,
    /// Token requests answered with a token.
    pub tokens_issued: u64,
    /// Token requests refused by the checks Entra makes (`invalid_client`, `invalid_scope`, …).
    pub tokens_refused: u64,
    /// Token requests answered `503` because the endpoint is down.
    pub token_endpoint_unavailable: u64,
    /// Requests to an operation of the spec, whatever the answer.
    pub api_requests: u64,
    /// Requests per operation, by `operationId` (`list_assets`, …); see [`operation`](Self::operation).
    pub by_operation: BTreeMap<String, u64>,
    /// `200` answers with a fixture.
    pub ok: u64,
    /// `401` answers to API requests: missing or wrong subscription key, unknown or expired
    /// token, missing or wrong `tid`, or the [injected](crate::Faults::unauthorized_next) 401.
    pub unauthorized: u64,
    /// `429` answers: the rate limit, or the [injected](crate::Faults::throttle_next) 429.
    pub rate_limited: u64,
    /// `501` answers: an operation the sandbox has no fixture for.
    pub not_implemented: u64,
    /// Requests to no operation and no token endpoint, answered with the gateway's `404`.
    pub not_found: u64,
    /// Requests to the authorize endpoint (interactive logins), whatever the answer.
    pub authorize_requests: u64,
    /// Logins answered with an authorization code (consented).
    pub authorizations: u64,
    /// Logins answered with an error redirect: a declined consent, no PKCE, a bad scope, …
    pub logins_refused: u64,
    /// Authorization codes redeemed for tokens.
    pub logins: u64,
    /// Refresh-token grants answered with a token (and a rotated refresh token).
    pub refreshes: u64,
}

impl Counters {
    /// Requests to the operation `operation_id` (`list_assets`, …); 0 for one never called.
    pub fn operation(&self, operation_id: &str) -> u64 {
        self.by_operation.get(operation_id).copied().unwrap_or(0)
    }
}
