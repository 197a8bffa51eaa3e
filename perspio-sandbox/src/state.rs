//! What the sandbox remembers: the tokens it issued and each application's recent calls.
//!
//! Every method takes `now`, so the unit tests drive time without sleeping.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::Rng;

/// Why a bearer token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Never issued by this sandbox.
    Unknown,
    /// Issued, but its lifetime is over.
    Expired,
}

/// Tokens and rate-limit windows, shared by every responder of one sandbox.
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
}

#[derive(Debug)]
struct Issued {
    client_id: String,
    expires_at: Instant,
}

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

    /// Issues a new random token to `client_id`, valid for the token lifetime from `now`.
    pub(crate) fn issue(&self, client_id: &str, now: Instant) -> String {
        let token = random_token();
        let mut inner = self.lock();
        inner.tokens.retain(|_, issued| issued.expires_at > now);
        inner.tokens.insert(
            token.clone(),
            Issued {
                client_id: client_id.to_owned(),
                expires_at: now + self.token_lifetime,
            },
        );
        token
    }

    /// The client id a token was issued to, if it is valid at `now`.
    pub(crate) fn client_of(&self, token: &str, now: Instant) -> Result<String, TokenProblem> {
        match self.lock().tokens.get(token) {
            None => Err(TokenProblem::Unknown),
            Some(issued) if issued.expires_at <= now => Err(TokenProblem::Expired),
            Some(issued) => Ok(issued.client_id.clone()),
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
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(seconds.max(1))
    }
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
    fn guids_have_the_entra_shape() {
        let g = random_guid();
        assert_eq!(g.len(), 36);
        assert_eq!(g.matches('-').count(), 4);
    }
}
