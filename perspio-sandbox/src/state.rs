//! What the sandbox remembers: the tokens it issued, each application's recent calls, the
//! requests it has seen and the faults it has been asked to inject.
//!
//! Every method that depends on time takes `now`, so the unit tests drive time without
//! sleeping.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::counters::Counters;

/// Why a bearer token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Never issued by this sandbox.
    Unknown,
    /// Issued, but its lifetime is over.
    Expired,
}

/// Tokens, rate-limit windows, counters and faults, shared by every responder of one sandbox
/// and by its [`Faults`](crate::Faults) handles.
#[derive(Debug)]
pub(crate) struct SandboxState {
    token_lifetime: Duration,
    rate_limit: usize,
    rate_window: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Access token → who it was issued to and until when.
    tokens: HashMap<String, Issued>,
    /// Client id → times of its admitted calls within the window.
    calls: HashMap<String, VecDeque<Instant>>,
    /// Authorization codes not redeemed yet.
    codes: HashMap<String, PendingCode>,
    /// Refresh tokens ever issued, and whether each may still be used.
    refresh_tokens: HashMap<String, RefreshGrant>,
    counters: Counters,
    faults: FaultSettings,
}

/// The fault switches (see [`Faults`](crate::Faults)).
#[derive(Debug, Default)]
struct FaultSettings {
    /// API requests still to be answered 401.
    unauthorized: u32,
    /// API requests still to be answered 429, and the `Retry-After` (whole seconds) they carry.
    throttled: u32,
    throttle_retry_after_s: u64,
    token_endpoint_down: bool,
    api_delay: Duration,
    /// Logins still to be answered as a declined consent.
    deny_consent: u32,
}

/// A fault one API request is answered with instead of its real answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiFault {
    /// 401, whatever the request carries.
    Unauthorized,
    /// 429 with this `Retry-After` in seconds.
    Throttled { retry_after_s: u64 },
}

#[derive(Debug)]
struct Issued {
    client_id: String,
    /// The user of a delegated token; `None` for an application token.
    user: Option<String>,
    expires_at: Instant,
}

/// Who a valid access token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bearer {
    pub(crate) client_id: String,
    /// The user of a delegated token (authorization code, refresh); `None` for an
    /// application token (client credentials).
    pub(crate) user: Option<String>,
}

/// An authorization code waiting to be redeemed.
#[derive(Debug)]
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    user: String,
    expires_at: Instant,
}

/// What the sandbox remembers of a refresh token.
#[derive(Debug)]
struct RefreshGrant {
    client_id: String,
    user: String,
    state: RefreshState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Valid,
    /// Used once: its successor replaced it (the sandbox rotates strictly).
    Used,
    /// Expired by [`Faults::expire_refresh_tokens`](crate::Faults::expire_refresh_tokens).
    Expired,
}

/// Why an authorization code is not redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeProblem {
    /// Never issued, already redeemed, or expired (codes live 10 minutes).
    Unknown,
    /// Issued to another application.
    OtherClient,
    /// The `redirect_uri` is not the one of the authorize request.
    RedirectMismatch,
    /// `BASE64URL(SHA256(code_verifier))` is not the authorize request's `code_challenge`.
    VerifierMismatch,
}

/// Why a refresh token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshProblem {
    /// Never issued by this sandbox, or issued to another application.
    Unknown,
    /// Already used: the sandbox's refresh tokens rotate strictly.
    Used,
    /// Expired (a fault): Entra's `AADSTS700082`.
    Expired,
}

/// How long an authorization code can be redeemed (Entra: about 10 minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(600);

impl SandboxState {
    pub(crate) fn new(token_lifetime: Duration, rate_limit: usize, rate_window: Duration) -> Self {
        SandboxState {
            token_lifetime,
            rate_limit,
            rate_window,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn token_lifetime(&self) -> Duration {
        self.token_lifetime
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data: keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Issues a new random application token to `client_id`, valid for the token lifetime
    /// from `now`.
    pub(crate) fn issue(&self, client_id: &str, now: Instant) -> String {
        self.issue_to(client_id, None, now)
    }

    fn issue_to(&self, client_id: &str, user: Option<&str>, now: Instant) -> String {
        let token = random_token();
        let mut inner = self.lock();
        inner.tokens.retain(|_, issued| issued.expires_at > now);
        inner.tokens.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_owned(),
                user: user.map(str::to_owned),
                expires_at: now + self.token_lifetime,
            },
        );
        token
    }

    /// The client id a token was issued to, if it is valid at `now`.
    #[cfg(test)]
    pub(crate) fn client_of(&self, token: &str, now: Instant) -> Result<String, TokenProblem> {
        self.bearer(token, now).map(|bearer| bearer.client_id)
    }

    /// Who a token was issued to, if it is valid at `now`.
    pub(crate) fn bearer(&self, token: &str, now: Instant) -> Result<Bearer, TokenProblem> {
        match self.lock().tokens.get(token) {
            None => Err(TokenProblem::Unknown),
            Some(issued) if issued.expires_at <= now => Err(TokenProblem::Expired),
            Some(issued) => Ok(Bearer {
                client_id: issued.client_id.clone(),
                user: issued.user.clone(),
            }),
        }
    }

    /// A new authorization code for `user`, bound to the client, the redirect and the PKCE
    /// challenge of its authorize request.
    pub(crate) fn issue_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        user: &str,
        now: Instant,
    ) -> String {
        let code = format!("sbxcode_{}", &random_token()[4..]);
        let mut inner = self.lock();
        inner.codes.retain(|_, pending| pending.expires_at > now);
        inner.codes.insert(
            code.clone(),
            PendingCode {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: code_challenge.to_owned(),
                user: user.to_owned(),
                expires_at: now + CODE_LIFETIME,
            },
        );
        code
    }

    /// Redeems a code (once: a failed attempt uses it up too, as Entra does) and returns
    /// its user.
    pub(crate) fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        code_verifier: &str,
        now: Instant,
    ) -> Result<String, CodeProblem> {
        let pending = self
            .lock()
            .codes
            .remove(code)
            .filter(|pending| pending.expires_at > now)
            .ok_or(CodeProblem::Unknown)?;
        if pending.client_id != client_id {
            return Err(CodeProblem::OtherClient);
        }
        if pending.redirect_uri != redirect_uri {
            return Err(CodeProblem::RedirectMismatch);
        }
        if pkce_challenge(code_verifier) != pending.code_challenge {
            return Err(CodeProblem::VerifierMismatch);
        }
        Ok(pending.user)
    }

    /// A delegated access token and a new refresh token for `user`.
    pub(crate) fn issue_user_tokens(
        &self,
        client_id: &str,
        user: &str,
        now: Instant,
    ) -> (String, String) {
        let access = self.issue_to(client_id, Some(user), now);
        let refresh = format!("sbxrt_{}", &random_token()[4..]);
        self.lock().refresh_tokens.insert(
            refresh.clone(),
            RefreshGrant {
                client_id: client_id.to_owned(),
                user: user.to_owned(),
                state: RefreshState::Valid,
            },
        );
        (access, refresh)
    }

    /// Uses up a refresh token of `client_id` and returns its user.
    pub(crate) fn use_refresh_token(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<String, RefreshProblem> {
        let mut inner = self.lock();
        let grant = inner
            .refresh_tokens
            .get_mut(token)
            .filter(|grant| grant.client_id == client_id)
            .ok_or(RefreshProblem::Unknown)?;
        match grant.state {
            RefreshState::Valid => {
                grant.state = RefreshState::Used;
                Ok(grant.user.clone())
            }
            RefreshState::Used => Err(RefreshProblem::Used),
            RefreshState::Expired => Err(RefreshProblem::Expired),
        }
    }

    /// Every refresh token issued so far expires (new logins get valid ones).
    pub(crate) fn expire_refresh_tokens(&self) {
        for grant in self.lock().refresh_tokens.values_mut() {
            if grant.state == RefreshState::Valid {
                grant.state = RefreshState::Expired;
            }
        }
    }

    /// Whether a refresh token may still be used (for tests).
    pub(crate) fn refresh_token_is_valid(&self, token: &str) -> bool {
        self.lock()
            .refresh_tokens
            .get(token)
            .is_some_and(|grant| grant.state == RefreshState::Valid)
    }

    pub(crate) fn set_deny_consent(&self, logins: u32) {
        self.lock().faults.deny_consent = logins;
    }

    /// Whether this login is to be answered as a declined consent (consumes one).
    pub(crate) fn take_deny_consent(&self) -> bool {
        let faults = &mut self.lock().faults;
        if faults.deny_consent > 0 {
            faults.deny_consent -= 1;
            true
        } else {
            false
        }
    }

    /// Admits one call of `client_id` at `now`, or says how long to wait (whole seconds, at
    /// least one) under the sliding-window rate limit.
    pub(crate) fn admit(&self, client_id: &str, now: Instant) -> Result<(), u64> {
        let mut inner = self.lock();
        let calls = inner.calls.entry(client_id.to_owned()).or_default();
        while calls
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.rate_window)
        {
            calls.pop_front();
        }
        if calls.len() < self.rate_limit {
            calls.push_back(now);
            return Ok(());
        }
        let oldest = calls.front().copied().unwrap_or(now);
        let wait = self.rate_window.saturating_sub(now.duration_since(oldest));
        Err(whole_seconds(wait).max(1))
    }
}

impl SandboxState {
    /// Updates the counters.
    pub(crate) fn count(&self, update: impl FnOnce(&mut Counters)) {
        update(&mut self.lock().counters);
    }

    /// A copy of the counters.
    pub(crate) fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }

    /// Sets every counter back to zero.
    pub(crate) fn reset_counters(&self) {
        self.lock().counters = Counters::default();
    }

    /// The fault the next API request gets, if any, consumed by this call: a pending 401
    /// before a pending 429 (the gateway checks authentication before the rate limit).
    pub(crate) fn take_api_fault(&self) -> Option<ApiFault> {
        let faults = &mut self.lock().faults;
        if faults.unauthorized > 0 {
            faults.unauthorized -= 1;
            return Some(ApiFault::Unauthorized);
        }
        if faults.throttled > 0 {
            faults.throttled -= 1;
            return Some(ApiFault::Throttled {
                retry_after_s: faults.throttle_retry_after_s,
            });
        }
        None
    }

    pub(crate) fn set_unauthorized(&self, requests: u32) {
        self.lock().faults.unauthorized = requests;
    }

    pub(crate) fn set_throttled(&self, requests: u32, retry_after: Duration) {
        let faults = &mut self.lock().faults;
        faults.throttled = requests;
        faults.throttle_retry_after_s = whole_seconds(retry_after);
    }

    pub(crate) fn set_token_endpoint_down(&self, down: bool) {
        self.lock().faults.token_endpoint_down = down;
    }

    pub(crate) fn token_endpoint_down(&self) -> bool {
        self.lock().faults.token_endpoint_down
    }

    pub(crate) fn set_api_delay(&self, delay: Duration) {
        self.lock().faults.api_delay = delay;
    }

    pub(crate) fn api_delay(&self) -> Duration {
        self.lock().faults.api_delay
    }

    /// Every fault switch off.
    pub(crate) fn clear_faults(&self) {
        self.lock().faults = FaultSettings::default();
    }
}

/// `duration` in whole seconds, rounded up (`Retry-After` carries whole seconds).
pub(crate) fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// 48 random alphanumeric characters after a `sbx_` prefix (opaque, like a real token to a client).
fn random_token() -> String {
    let body: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    format!("sbx_{body}")
}

/// PKCE's S256: `BASE64URL(SHA256(verifier))`, without padding (RFC 7636 §4.2).
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// A random GUID-shaped id, for Entra's `trace_id` and `correlation_id`.
pub(crate) fn random_guid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn state() -> SandboxState {
        SandboxState::new(Duration::from_secs(120), 20, Duration::from_secs(90))
    }

    #[test]
    fn an_issued_token_is_valid_for_its_lifetime_then_expired() {
        let s = state();
        let t0 = Instant::now();
        let token = s.issue("app", t0);
        assert_ne!(token, s.issue("app", t0), "tokens are random");
        assert_eq!(
            s.client_of(&token, t0 + Duration::from_secs(119)).unwrap(),
            "app"
        );
        assert_eq!(
            s.client_of(&token, t0 + Duration::from_secs(120)),
            Err(TokenProblem::Expired)
        );
        assert_eq!(s.client_of("sbx_other", t0), Err(TokenProblem::Unknown));
    }

    #[test]
    fn the_21st_call_within_90_seconds_waits_until_the_first_leaves_the_window() {
        let s = state();
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(s.admit("app", t0 + Duration::from_secs(i)), Ok(()));
        }
        assert_eq!(s.admit("app", t0 + Duration::from_secs(30)), Err(60));
        assert_eq!(s.admit("other-app", t0 + Duration::from_secs(30)), Ok(()));
        assert_eq!(s.admit("app", t0 + Duration::from_secs(90)), Ok(()));
    }

    #[test]
    fn a_pending_401_is_served_before_a_pending_429_and_each_only_as_often_as_asked() {
        let s = state();
        s.set_throttled(2, Duration::from_millis(1500));
        s.set_unauthorized(1);
        assert_eq!(s.take_api_fault(), Some(ApiFault::Unauthorized));
        assert_eq!(
            s.take_api_fault(),
            Some(ApiFault::Throttled { retry_after_s: 2 })
        );
        assert_eq!(
            s.take_api_fault(),
            Some(ApiFault::Throttled { retry_after_s: 2 })
        );
        assert_eq!(s.take_api_fault(), None);
    }

    #[test]
    fn clearing_the_faults_turns_every_switch_off() {
        let s = state();
        s.set_unauthorized(3);
        s.set_throttled(3, Duration::ZERO);
        s.set_token_endpoint_down(true);
        s.set_api_delay(Duration::from_secs(1));
        s.clear_faults();
        assert_eq!(s.take_api_fault(), None);
        assert!(!s.token_endpoint_down());
        assert_eq!(s.api_delay(), Duration::ZERO);
    }

    #[test]
    fn a_code_is_redeemed_once_with_its_redirect_and_verifier() {
        let s = state();
        let t0 = Instant::now();
        let challenge = pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let code = s.issue_code("app", "http://localhost:1/", &challenge, "user-1", t0);
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s.redeem_code(&code, "app", "http://localhost:1/", verifier, t0),
            Ok("user-1".to_owned())
        );
        assert_eq!(
            s.redeem_code(&code, "app", "http://localhost:1/", verifier, t0),
            Err(CodeProblem::Unknown)
        );
        let code = s.issue_code("app", "http://localhost:1/", &challenge, "user-1", t0);
        assert_eq!(
            s.redeem_code(&code, "app", "http://localhost:1/", "wrong", t0),
            Err(CodeProblem::VerifierMismatch)
        );
        let code = s.issue_code("app", "http://localhost:1/", &challenge, "user-1", t0);
        assert_eq!(
            s.redeem_code(
                &code,
                "app",
                "http://localhost:1/",
                verifier,
                t0 + CODE_LIFETIME
            ),
            Err(CodeProblem::Unknown)
        );
    }

    #[test]
    fn refresh_tokens_rotate_strictly_and_can_be_expired() {
        let s = state();
        let t0 = Instant::now();
        let (access, refresh) = s.issue_user_tokens("app", "user-1", t0);
        assert_eq!(
            s.bearer(&access, t0).unwrap().user.as_deref(),
            Some("user-1")
        );
        assert_eq!(
            s.use_refresh_token(&refresh, "other"),
            Err(RefreshProblem::Unknown)
        );
        assert_eq!(
            s.use_refresh_token(&refresh, "app"),
            Ok("user-1".to_owned())
        );
        assert_eq!(
            s.use_refresh_token(&refresh, "app"),
            Err(RefreshProblem::Used)
        );
        let (_, refresh) = s.issue_user_tokens("app", "user-1", t0);
        s.expire_refresh_tokens();
        assert_eq!(
            s.use_refresh_token(&refresh, "app"),
            Err(RefreshProblem::Expired)
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
    }

    #[test]
    fn guids_have_the_entra_shape() {
        let g = random_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
