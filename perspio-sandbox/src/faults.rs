//! [`Faults`]: switches that make a running sandbox misbehave on purpose.

use std::sync::Arc;
use std::time::Duration;

use crate::state::SandboxState;

/// The fault switches of one [`Sandbox`](crate::Sandbox), from
/// [`Sandbox::faults`](crate::Sandbox::faults).
///
/// Every switch takes effect for the next request the sandbox answers, while it runs; a clone
/// of the handle (it is cheap) can flip them from another task. All are off when the sandbox
/// starts.
///
/// | switch | what the sandbox then does |
/// |---|---|
/// | [`unauthorized_next(n)`](Self::unauthorized_next) | answers the next `n` API requests `401` (invalid token), even with a valid token |
/// | [`throttle_next(n, retry_after)`](Self::throttle_next) | answers the next `n` API requests `429` with `Retry-After` |
/// | [`set_token_endpoint_down(true)`](Self::set_token_endpoint_down) | answers every token request `503 temporarily_unavailable` until switched off |
/// | [`set_api_delay(d)`](Self::set_api_delay) | sends every API answer `d` late until set to zero |
/// | [`deny_consent_next(n)`](Self::deny_consent_next) | answers the next `n` logins as a declined consent (`access_denied`) |
/// | [`expire_refresh_tokens()`](Self::expire_refresh_tokens) | every refresh token issued so far is refused from now on as expired (`AADSTS700082`) |
///
/// "API requests" are requests to an operation of the spec; the token endpoint and unknown
/// paths never consume a `401` or `429` fault. A request takes at most one fault, a pending
/// `401` before a pending `429` (the gateway checks authentication first). A faulted request
/// is counted ([`Counters::unauthorized`](crate::Counters::unauthorized),
/// [`Counters::rate_limited`](crate::Counters::rate_limited)) but takes no slot of the rate
/// limit.
#[derive(Debug, Clone)]
pub struct Faults {
    pub(crate) state: Arc<SandboxState>,
}

impl Faults {
    /// Answers the next `requests` API requests with the gateway's `401` for an invalid token
    /// (`{"statusCode":401,"message":"Unauthorized. Access token is missing or invalid."}`
    /// with `WWW-Authenticate: Bearer error="invalid_token"`), whatever they carry: as if the
    /// token had been revoked. Replaces any count still pending; `0` cancels.
    ///
    /// The client answers one `401` by fetching a new token and retrying once; it forces such
    /// a refresh at most once per 30 s (`AuthConfig::with_forced_refresh_interval`), so a
    /// second `401` soon after reaches the caller.
    pub fn unauthorized_next(&self, requests: u32) {
        self.state.set_unauthorized(requests);
    }

    /// Answers the next `requests` API requests with the gateway's `429` and
    /// `Retry-After: {retry_after}` in whole seconds, rounded up (`Duration::ZERO` sends
    /// `Retry-After: 0`, which the client's retry layer waits out at once). Replaces any count
    /// still pending; `0` cancels.
    pub fn throttle_next(&self, requests: u32, retry_after: Duration) {
        self.state.set_throttled(requests, retry_after);
    }

    /// Takes the token endpoint down (`true`) or brings it back (`false`). While down, every
    /// token request is answered `503 Service Unavailable` with an Entra error body
    /// (`"error":"temporarily_unavailable"`): the server stays reachable, so the client sees
    /// a retryable token-endpoint failure (it tries 3 times with backoff), not a refused
    /// connection. Tokens issued before stay valid.
    pub fn set_token_endpoint_down(&self, down: bool) {
        self.state.set_token_endpoint_down(down);
    }

    /// Sends every API answer (fixtures and errors alike, not the token endpoint's) `delay`
    /// late; `Duration::ZERO` switches it off. Use it with the client's
    /// `ClientBuilder::with_timeout` to see a timeout.
    pub fn set_api_delay(&self, delay: Duration) {
        self.state.set_api_delay(delay);
    }

    /// Answers the next `logins` authorize requests as if the user had declined consent: a
    /// redirect to the application with `error=access_denied` and Entra's `AADSTS65004`
    /// description, and no code. Replaces any count still pending; `0` cancels.
    pub fn deny_consent_next(&self, logins: u32) {
        self.state.set_deny_consent(logins);
    }

    /// Expires every refresh token issued so far: using one is answered `400 invalid_grant`
    /// with Entra's `AADSTS700082` ("expired due to inactivity"), as after 90 idle days.
    /// Logins made afterwards get valid refresh tokens. Not undone by [`clear`](Self::clear).
    pub fn expire_refresh_tokens(&self) {
        self.state.expire_refresh_tokens();
    }

    /// Switches every fault off: no pending `401` or `429`, token endpoint up, no delay.
    pub fn clear(&self) {
        self.state.clear_faults();
    }
}
