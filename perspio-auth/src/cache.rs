//! The token cache: lifetimes, the fresh / refresh-ahead / must-refresh / expired states,
//! failure backoff, single flight and the 401 compare-and-refresh.
//!
//! ```text
//! issued_at ── fresh ──▶ refresh_at ── refresh-ahead ──▶ must_refresh_at ── must-refresh ──▶ expires_at ── expired
//!              (use)                  (use; one caller       (wait for the new token)
//!                                      refreshes in the
//!                                      background, unless
//!                                      backing off)
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use reqwest::header::HeaderValue;
use tokio::sync::OnceCell;
use tracing::Instrument;
use tracing::field::Empty;

use crate::clock::elapsed_between;
use crate::config::Timings;
use crate::credentials::AccessToken;
use crate::error::AuthError;
use crate::source::{FetchContext, RefreshReason, Token, TokenSource};
use crate::store::{StoredToken, TokenStore};
use perspio_core::Clock;

/// When a token is to be refreshed and when it may no longer be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    pub(crate) issued_at: SystemTime,
    pub(crate) refresh_at: SystemTime,
    pub(crate) must_refresh_at: SystemTime,
    pub(crate) expires_at: SystemTime,
}

impl Lifetime {
    /// `refresh_at = issued + min(max_ttl, lifetime − margin, 80 % of lifetime) − jitter`
    /// (the `lifetime − margin` term only when the lifetime exceeds the margin; jitter at most
    /// a fifth of that span), `must_refresh_at = max(refresh_at, expires_at − expiry_margin)`.
    /// A missing lifetime uses the fallback TTL.
    pub(crate) fn compute(
        timings: &Timings,
        issued_at: SystemTime,
        expires_in: Option<Duration>,
        jitter: Duration,
    ) -> Self {
        let lifetime = expires_in
            .filter(|d| !d.is_zero())
            .unwrap_or(timings.fallback_ttl);
        let mut serve_for = timings.max_token_ttl.min(lifetime.mul_f64(0.8));
        if lifetime > timings.refresh_margin {
            serve_for = serve_for.min(lifetime - timings.refresh_margin);
        }
        let serve_for = serve_for.saturating_sub(jitter.min(serve_for / 5));
        let at = |d: Duration| issued_at.checked_add(d).unwrap_or(issued_at);
        let expires_at = at(lifetime);
        let refresh_at = at(serve_for);
        let must_refresh_at = at(lifetime.saturating_sub(timings.expiry_margin)).max(refresh_at);
        Self {
            issued_at,
            refresh_at,
            must_refresh_at,
            expires_at,
        }
    }
}

/// Where a token stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Before `refresh_at`: use it.
    Fresh,
    /// Between `refresh_at` and `must_refresh_at`: use it, and refresh in the background.
    RefreshAhead,
    /// Between `must_refresh_at` and `expires_at`: do not send it; wait for a new one.
    MustRefresh,
    /// Past `expires_at`.
    Expired,
}

/// A cached token with its prebuilt `Authorization` header.
pub(crate) struct Entry {
    pub(crate) token: AccessToken,
    /// `Bearer …`, marked sensitive.
    pub(crate) header: HeaderValue,
    /// Identifies this token for the 401 compare-and-refresh.
    pub(crate) generation: u64,
    pub(crate) lifetime: Lifetime,
    pub(crate) scope: Option<String>,
}

impl Entry {
    pub(crate) fn freshness(&self, now: SystemTime) -> Freshness {
        let l = &self.lifetime;
        if now < l.refresh_at {
            Freshness::Fresh
        } else if now < l.must_refresh_at {
            Freshness::RefreshAhead
        } else if now < l.expires_at {
            Freshness::MustRefresh
        } else {
            Freshness::Expired
        }
    }

    fn usable(&self, now: SystemTime) -> bool {
        matches!(
            self.freshness(now),
            Freshness::Fresh | Freshness::RefreshAhead
        )
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("token", &self.token)
            .field("generation", &self.generation)
            .field("lifetime", &self.lifetime)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `Bearer {token}`, sensitive.
fn bearer_header(token: &AccessToken) -> Result<HeaderValue, AuthError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            AuthError::MalformedTokenResponse {
                reason: "access_token is not a valid header value".into(),
            }
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Failure backoff for proactive refreshes: first `failure_backoff`, doubling to the maximum,
/// jittered into `[delay / 2, delay]`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    failures: u32,
    not_before: Option<SystemTime>,
}

impl Backoff {
    pub(crate) fn record_failure(&mut self, now: SystemTime, timings: &Timings, jitter: bool) {
        self.failures = self.failures.saturating_add(1);
        let factor = 1u32
            .checked_shl(self.failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let delay = timings
            .failure_backoff
            .saturating_mul(factor)
            .min(timings.max_failure_backoff);
        let delay = if jitter {
            delay.mul_f64(1.0 - rand::random::<f64>() / 2.0)
        } else {
            delay
        };
        self.not_before = now.checked_add(delay);
    }

    pub(crate) fn allows(&self, now: SystemTime) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }
}

/// What a caller that needs a token does.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Send this token.
    Use(Arc<Entry>),
    /// Send this token and start a background refresh.
    UseAndRefresh(Arc<Entry>),
    /// Wait for a new token.
    Wait,
}

/// The pure state machine.
pub(crate) fn decide(
    current: Option<Arc<Entry>>,
    now: SystemTime,
    backoff: &Backoff,
    refresh_in_flight: bool,
) -> Decision {
    let Some(entry) = current else {
        return Decision::Wait;
    };
    match entry.freshness(now) {
        Freshness::Fresh => Decision::Use(entry),
        Freshness::RefreshAhead if refresh_in_flight || !backoff.allows(now) => {
            Decision::Use(entry)
        }
        Freshness::RefreshAhead => Decision::UseAndRefresh(entry),
        Freshness::MustRefresh | Freshness::Expired => Decision::Wait,
    }
}

/// Public view of the current token: its timings and scope; the token only on request.
#[derive(Clone)]
pub struct TokenInfo {
    access_token: AccessToken,
    lifetime: Lifetime,
    scope: Option<String>,
}

impl TokenInfo {
    /// The token itself; `Debug`/`Display` print a placeholder, use
    /// [`AccessToken::expose_secret`] to read it.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// When the token request was sent.
    pub fn issued_at(&self) -> SystemTime {
        self.lifetime.issued_at
    }

    /// When a background refresh starts.
    pub fn refresh_at(&self) -> SystemTime {
        self.lifetime.refresh_at
    }

    /// When the token stops being sent.
    pub fn must_refresh_at(&self) -> SystemTime {
        self.lifetime.must_refresh_at
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        self.lifetime.expires_at
    }

    /// The granted scopes, as announced by the token endpoint.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
}

impl fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenInfo")
            .field("access_token", &self.access_token)
            .field("issued_at", &self.lifetime.issued_at)
            .field("refresh_at", &self.lifetime.refresh_at)
            .field("must_refresh_at", &self.lifetime.must_refresh_at)
            .field("expires_at", &self.lifetime.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

impl From<&Entry> for TokenInfo {
    fn from(entry: &Entry) -> Self {
        Self {
            access_token: entry.token.clone(),
            lifetime: entry.lifetime,
            scope: entry.scope.clone(),
        }
    }
}

type FlightResult = Result<Arc<Entry>, AuthError>;

/// First wait for another process's token while it holds the lease; doubles up to the maximum.
const LEASE_POLL_FIRST: Duration = Duration::from_millis(20);
/// Longest wait between two looks at the store while another process holds the lease.
const LEASE_POLL_MAX: Duration = Duration::from_millis(250);

/// One token acquisition that any number of callers share.
#[derive(Clone)]
struct Flight {
    cell: Arc<OnceCell<FlightResult>>,
    reason: RefreshReason,
}

struct State {
    flight: Option<Flight>,
    backoff: Backoff,
    last_forced_at: Option<SystemTime>,
    next_generation: u64,
    ever_had_token: bool,
}

impl State {
    fn start_flight(&mut self, reason: RefreshReason) -> Flight {
        let flight = Flight {
            cell: Arc::new(OnceCell::new()),
            reason,
        };
        self.flight = Some(flight.clone());
        flight
    }
}

/// The cache shared by all clones of one middleware.
pub(crate) struct TokenCache {
    snapshot: ArcSwapOption<Entry>,
    state: Mutex<State>,
    source: Arc<dyn TokenSource>,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    timings: Timings,
    jitter: bool,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field(
                "current",
                &self.snapshot.load().as_ref().map(|e| e.lifetime),
            )
            .field("source", &self.source)
            .field("store", &self.store)
            .field("clock", &self.clock)
            .field("timings", &self.timings)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub(crate) fn new(
        source: Arc<dyn TokenSource>,
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn Clock>,
        timings: Timings,
        jitter: bool,
    ) -> Self {
        Self {
            snapshot: ArcSwapOption::empty(),
            state: Mutex::new(State {
                flight: None,
                backoff: Backoff::default(),
                last_forced_at: None,
                next_generation: 1,
                ever_had_token: false,
            }),
            source,
            store,
            clock,
            timings,
            jitter,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fast path: a lock-free look at the snapshot. `Some` only for a fresh token.
    #[inline]
    pub(crate) fn fresh_header(&self, now: SystemTime) -> Option<(HeaderValue, u64)> {
        let guard = self.snapshot.load();
        let entry = guard.as_ref()?;
        (entry.freshness(now) == Freshness::Fresh).then(|| (entry.header.clone(), entry.generation))
    }

    /// The fast path of [`authorization`](Self::authorization): the cached value when it is
    /// fresh, without a future.
    pub(crate) fn fresh_authorization(&self) -> Option<(HeaderValue, u64)> {
        self.fresh_header(self.clock.now())
    }

    /// `Authorization` value and generation to send now; waits only when no usable token exists.
    pub(crate) async fn authorization(self: &Arc<Self>) -> Result<(HeaderValue, u64), AuthError> {
        let now = self.clock.now();
        if let Some(fresh) = self.fresh_header(now) {
            return Ok(fresh);
        }
        let entry = self.usable_entry(now).await?;
        Ok((entry.header.clone(), entry.generation))
    }

    /// A usable token, acquiring one if needed.
    pub(crate) async fn token_info(self: &Arc<Self>) -> Result<TokenInfo, AuthError> {
        let entry = self.usable_entry(self.clock.now()).await?;
        Ok(TokenInfo::from(entry.as_ref()))
    }

    /// The cached token, without acquiring one.
    pub(crate) fn cached_token_info(&self) -> Option<TokenInfo> {
        self.snapshot
            .load()
            .as_ref()
            .map(|e| TokenInfo::from(e.as_ref()))
    }

    async fn usable_entry(self: &Arc<Self>, now: SystemTime) -> FlightResult {
        let flight = {
            let mut state = self.lock();
            let in_flight = state.flight.is_some();
            match decide(self.snapshot.load_full(), now, &state.backoff, in_flight) {
                Decision::Use(entry) => return Ok(entry),
                Decision::UseAndRefresh(entry) => {
                    let flight = state.start_flight(RefreshReason::Proactive);
                    drop(state);
                    self.drive_in_background(flight);
                    return Ok(entry);
                }
                Decision::Wait => match &state.flight {
                    Some(flight) => flight.clone(),
                    None => {
                        let reason = if state.ever_had_token {
                            RefreshReason::Expired
                        } else {
                            RefreshReason::Initial
                        };
                        state.start_flight(reason)
                    }
                },
            }
        };
        self.drive(flight).await
    }

    /// The API answered 401 to the token of `sent_generation`.
    ///
    /// Returns the token to retry with: a newer one another caller already obtained, the
    /// result of a refresh in flight, or of a forced refresh (at most one per interval).
    /// `Ok(None)`: do not retry (rate limited, or `will_retry` is false and a refresh was
    /// only started in the background).
    pub(crate) async fn on_unauthorized(
        self: &Arc<Self>,
        sent_generation: u64,
        will_retry: bool,
    ) -> Result<Option<Arc<Entry>>, AuthError> {
        let now = self.clock.now();
        let (flight, refused) = {
            let mut state = self.lock();
            let current = self.snapshot.load_full();
            if let Some(entry) = current
                .as_ref()
                .filter(|e| e.generation != sent_generation && e.usable(now))
            {
                tracing::debug!(
                    "401 for a token that was already replaced; retrying with the new token"
                );
                return Ok(Some(Arc::clone(entry)));
            }
            if let Some(flight) = &state.flight {
                (flight.clone(), None)
            } else if state
                .last_forced_at
                .is_some_and(|t| elapsed_between(t, now) < self.timings.forced_refresh_interval)
            {
                tracing::info!(
                    interval_ms = self.timings.forced_refresh_interval.as_millis() as u64,
                    "401 again within the forced-refresh interval; not refreshing, returning the 401"
                );
                return Ok(None);
            } else {
                state.last_forced_at = Some(now);
                let refused = current.filter(|e| e.generation == sent_generation);
                (state.start_flight(RefreshReason::Invalidated401), refused)
            }
        };
        if let Some(refused) = refused
            && let Err(error) = self.store.remove(&refused.token).await
        {
            tracing::warn!(%error, "could not remove a refused token from the token store");
        }
        if !will_retry {
            self.drive_in_background(flight);
            return Ok(None);
        }
        self.drive(flight).await.map(Some)
    }

    /// Waits for `flight`, running it if nobody is (yet, or any more: a cancelled driver is
    /// replaced by the next waiter).
    async fn drive(self: &Arc<Self>, flight: Flight) -> FlightResult {
        let reason = flight.reason;
        flight
            .cell
            .get_or_init(|| self.acquire(reason))
            .await
            .clone()
    }

    fn drive_in_background(self: &Arc<Self>, flight: Flight) {
        // Without a runtime the flight stays pending and the next caller that needs a token
        // drives it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let this = Arc::clone(self);
            runtime.spawn(async move {
                let _ = this.drive(flight).await;
            });
        }
    }

    /// One acquisition: the store, else the source; then the snapshot, backoff and flight.
    async fn acquire(self: &Arc<Self>, reason: RefreshReason) -> FlightResult {
        let span = tracing::info_span!(
            "acquire_token",
            reason = reason.as_str(),
            status = Empty,
            from = Empty,
            duration_ms = Empty,
            error = Empty,
            trace_id = Empty,
            correlation_id = Empty,
        );
        async move {
            let started = std::time::Instant::now();
            let obtained = self.obtain(reason).await;
            let span = tracing::Span::current();
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            let now = self.clock.now();
            let prepared = obtained.and_then(|(token, from)| {
                let header = bearer_header(token.access_token())?;
                Ok((token, header, from))
            });
            {
                let mut state = self.lock();
                state.flight = None;
                match prepared {
                    Ok((token, header, from)) => {
                        let entry = Arc::new(Entry {
                            lifetime: Lifetime::compute(
                                &self.timings,
                                token.issued_at(),
                                token.expires_in(),
                                self.refresh_jitter(),
                            ),
                            header,
                            generation: state.next_generation,
                            scope: token.scope().map(str::to_owned),
                            token: token.access_token().clone(),
                        });
                        state.next_generation += 1;
                        state.ever_had_token = true;
                        state.backoff.reset();
                        self.snapshot.store(Some(Arc::clone(&entry)));
                        span.record("status", "ok");
                        span.record("from", from);
                        Ok(entry)
                    }
                    Err(error) => {
                        state
                            .backoff
                            .record_failure(now, &self.timings, self.jitter);
                        span.record("status", "error");
                        span.record("error", tracing::field::display(&error));
                        if let Some(id) = error.trace_id() {
                            span.record("trace_id", id);
                        }
                        if let Some(id) = error.correlation_id() {
                            span.record("correlation_id", id);
                        }
                        let still_valid =
                            self.snapshot.load().as_ref().is_some_and(|e| e.usable(now));
                        tracing::warn!(
                            reason = reason.as_str(),
                            %error,
                            retryable = error.is_retryable(),
                            keeping_valid_token = still_valid,
                            "token refresh failed"
                        );
                        Err(error)
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// A token from the store if it holds a usable one, else from the source. With a shared
    /// store, one process of the fleet fetches (it holds the store's lease) while the others
    /// wait for its token, at most twice the lease's lifetime, and then fetch themselves.
    async fn obtain(&self, reason: RefreshReason) -> Result<(Token, &'static str), AuthError> {
        if let Some(token) = self.stored_token().await {
            return Ok((token, "store"));
        }
        if !self.store.is_shared() {
            return self.fetch(reason).await.map(|t| (t, "source"));
        }
        let lease_ttl = self.timings.lease_ttl;
        let give_up_at =
            perspio_core::clock::later(self.clock.instant(), lease_ttl.saturating_mul(2));
        let mut poll = LEASE_POLL_FIRST;
        loop {
            match self.store.try_lease(lease_ttl).await {
                Ok(Some(lease)) => {
                    // Another process may have written between our read and our lease.
                    let outcome = match self.stored_token().await {
                        Some(token) => Ok((token, "store")),
                        None => self.fetch(reason).await.map(|t| (t, "source")),
                    };
                    if let Err(error) = self.store.release(lease).await {
                        tracing::warn!(%error, "could not release the token lease; it expires by itself");
                    }
                    return outcome;
                }
                Ok(None) if self.clock.instant() >= give_up_at => {
                    tracing::warn!(
                        waited = ?lease_ttl.saturating_mul(2),
                        "another process holds the token lease but no token appeared; fetching directly"
                    );
                    return self.fetch(reason).await.map(|t| (t, "source"));
                }
                Ok(None) => {
                    self.clock.sleep(poll).await;
                    poll = poll.saturating_mul(2).min(LEASE_POLL_MAX);
                    if let Some(token) = self.stored_token().await {
                        return Ok((token, "store"));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "could not take the token lease; fetching directly");
                    return self.fetch(reason).await.map(|t| (t, "source"));
                }
            }
        }
    }

    /// A usable token from the store, if it holds one; store errors are logged, not returned.
    async fn stored_token(&self) -> Option<Token> {
        match self.store.get().await {
            Ok(Some(stored)) => self.adoptable(stored),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(%error, "could not read the token store");
                None
            }
        }
    }

    /// A token from the source, written to the store (a failed write is logged).
    async fn fetch(&self, reason: RefreshReason) -> Result<Token, AuthError> {
        let context = FetchContext::new(reason, Arc::clone(&self.clock));
        let token = self.source.fetch_token(&context).await?;
        let lifetime = Lifetime::compute(
            &self.timings,
            token.issued_at(),
            token.expires_in(),
            Duration::ZERO,
        );
        let stored = StoredToken {
            access_token: token.access_token().clone(),
            issued_at: lifetime.issued_at,
            expires_at: lifetime.expires_at,
        };
        if let Err(error) = self.store.put(stored).await {
            tracing::warn!(%error, "could not write the token to the token store");
        }
        Ok(token)
    }

    /// A stored token worth using instead of fetching: fresh, and not the one we already hold.
    fn adoptable(&self, stored: StoredToken) -> Option<Token> {
        let now = self.clock.now();
        let lifetime = elapsed_between(stored.issued_at, stored.expires_at);
        let timings = Lifetime::compute(
            &self.timings,
            stored.issued_at,
            Some(lifetime),
            Duration::ZERO,
        );
        let held = self.snapshot.load();
        let same = held
            .as_ref()
            .is_some_and(|e| e.token == stored.access_token);
        (now < timings.refresh_at && !same && !lifetime.is_zero()).then(|| {
            Token::new(stored.access_token, stored.issued_at).with_expires_in(Some(lifetime))
        })
    }

    fn refresh_jitter(&self) -> Duration {
        if self.jitter {
            self.timings.refresh_jitter.mul_f64(rand::random::<f64>())
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;
    use crate::source::StaticTokenSource;
    use crate::store::InMemoryTokenStore;
    use crate::token_endpoint::parse_expires_in;
    use perspio_core::ManualClock;

    const MIN: Duration = Duration::from_secs(60);

    fn timings() -> Timings {
        Timings::default()
    }

    fn lifetime_for(expires_in: serde_json::Value) -> (Lifetime, SystemTime) {
        let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parsed = parse_expires_in(Some(&expires_in));
        (
            Lifetime::compute(&timings(), issued, parsed, Duration::ZERO),
            issued,
        )
    }

    fn entry_at(lifetime: Lifetime) -> Entry {
        let token = AccessToken::new("t");
        Entry {
            header: bearer_header(&token).unwrap(),
            token,
            generation: 1,
            lifetime,
            scope: None,
        }
    }

    #[test]
    fn an_hour_token_is_refreshed_at_80_percent_and_stops_being_sent_a_minute_before_expiry() {
        let (l, issued) = lifetime_for(json!(3600));
        assert_eq!(l.refresh_at, issued + 48 * MIN);
        assert_eq!(l.must_refresh_at, issued + 59 * MIN);
        assert_eq!(l.expires_at, issued + 60 * MIN);
    }

    #[test]
    fn a_long_token_is_served_at_most_the_max_ttl_of_50_minutes() {
        let (l, issued) = lifetime_for(json!(24 * 3600));
        assert_eq!(l.refresh_at, issued + 50 * MIN);
        assert_eq!(l.expires_at, issued + 24 * 60 * MIN);
    }

    #[test]
    fn a_ten_minute_token_is_refreshed_five_minutes_before_expiry() {
        let (l, issued) = lifetime_for(json!(600));
        assert_eq!(l.refresh_at, issued + 5 * MIN);
        assert_eq!(l.must_refresh_at, issued + 9 * MIN);
    }

    #[test]
    fn missing_zero_negative_or_unreadable_expires_in_uses_the_five_minute_fallback() {
        for value in [json!(null), json!(0), json!(-100), json!("later")] {
            let (l, issued) = lifetime_for(value.clone());
            assert_eq!(l.expires_at, issued + 5 * MIN, "{value}");
            assert!(l.refresh_at > issued, "never already expired: {value}");
            assert_eq!(l.refresh_at, issued + 4 * MIN, "{value}");
        }
    }

    #[test]
    fn expires_in_as_a_string_is_honoured() {
        let (l, issued) = lifetime_for(json!("600"));
        assert_eq!(l.expires_at, issued + 10 * MIN);
    }

    #[test]
    fn a_huge_expires_in_is_served_no_longer_than_the_max_ttl() {
        let (l, issued) = lifetime_for(json!(1e15));
        assert_eq!(l.refresh_at, issued + 50 * MIN);
        assert!(l.expires_at > l.must_refresh_at);
    }

    #[test]
    fn jitter_only_moves_refresh_at_earlier_and_by_at_most_a_fifth() {
        let issued = SystemTime::UNIX_EPOCH;
        let jittered = Lifetime::compute(&timings(), issued, Some(60 * MIN), MIN);
        assert_eq!(jittered.refresh_at, issued + 47 * MIN);
        let short = Lifetime::compute(&timings(), issued, Some(MIN), MIN);
        assert!(short.refresh_at >= issued + Duration::from_secs(38));
    }

    #[test]
    fn the_states_follow_each_other_as_the_clock_advances() {
        let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH);
        let (l, _) = {
            let l = Lifetime::compute(&timings(), clock.now(), Some(60 * MIN), Duration::ZERO);
            (l, ())
        };
        let entry = entry_at(l);
        assert_eq!(entry.freshness(clock.now()), Freshness::Fresh);
        clock.advance(48 * MIN);
        assert_eq!(entry.freshness(clock.now()), Freshness::RefreshAhead);
        clock.advance(11 * MIN);
        assert_eq!(entry.freshness(clock.now()), Freshness::MustRefresh);
        clock.advance(MIN);
        assert_eq!(entry.freshness(clock.now()), Freshness::Expired);
    }

    #[test]
    fn decisions_per_state() {
        let now = SystemTime::UNIX_EPOCH;
        let entry = Arc::new(entry_at(Lifetime::compute(
            &timings(),
            now,
            Some(60 * MIN),
            Duration::ZERO,
        )));
        let idle = Backoff::default();
        assert!(matches!(decide(None, now, &idle, false), Decision::Wait));
        assert!(matches!(
            decide(Some(entry.clone()), now, &idle, false),
            Decision::Use(_)
        ));
        let ahead = now + 50 * MIN;
        assert!(matches!(
            decide(Some(entry.clone()), ahead, &idle, false),
            Decision::UseAndRefresh(_)
        ));
        assert!(
            matches!(
                decide(Some(entry.clone()), ahead, &idle, true),
                Decision::Use(_)
            ),
            "only one caller refreshes"
        );
        assert!(matches!(
            decide(Some(entry.clone()), now + 59 * MIN, &idle, true),
            Decision::Wait
        ));
        assert!(matches!(
            decide(Some(entry), now + 61 * MIN, &idle, false),
            Decision::Wait
        ));
    }

    #[test]
    fn after_a_failure_proactive_refresh_backs_off_doubling_to_the_maximum() {
        let now = SystemTime::UNIX_EPOCH + 50 * MIN;
        let entry = Arc::new(entry_at(Lifetime::compute(
            &timings(),
            SystemTime::UNIX_EPOCH,
            Some(60 * MIN),
            Duration::ZERO,
        )));
        let mut backoff = Backoff::default();
        backoff.record_failure(now, &timings(), false);
        assert!(matches!(
            decide(
                Some(entry.clone()),
                now + Duration::from_secs(29),
                &backoff,
                false
            ),
            Decision::Use(_)
        ));
        assert!(matches!(
            decide(
                Some(entry.clone()),
                now + Duration::from_secs(30),
                &backoff,
                false
            ),
            Decision::UseAndRefresh(_)
        ));
        backoff.record_failure(now, &timings(), false);
        assert!(!backoff.allows(now + Duration::from_secs(59)));
        assert!(backoff.allows(now + Duration::from_secs(60)));
        for _ in 0..10 {
            backoff.record_failure(now, &timings(), false);
        }
        assert!(backoff.allows(now + 5 * MIN));
        assert!(
            matches!(
                decide(
                    Some(entry),
                    now + 9 * MIN + Duration::from_secs(30),
                    &backoff,
                    false
                ),
                Decision::Wait
            ),
            "backoff never keeps a token past must_refresh_at"
        );
        let mut jittered = Backoff::default();
        jittered.record_failure(now, &timings(), true);
        assert!(!jittered.allows(now + Duration::from_secs(14)));
        assert!(jittered.allows(now + Duration::from_secs(30)));
    }

    fn cache_with(clock: &ManualClock, source: Arc<StaticTokenSource>) -> Arc<TokenCache> {
        Arc::new(TokenCache::new(
            source,
            Arc::new(InMemoryTokenStore::new()),
            Arc::new(clock.clone()),
            timings(),
            false,
        ))
    }

    #[tokio::test]
    async fn a_fresh_token_is_served_from_the_snapshot_without_fetching() {
        let clock = ManualClock::new();
        let source =
            Arc::new(StaticTokenSource::new(AccessToken::new("a")).with_expires_in(60 * MIN));
        let cache = cache_with(&clock, source.clone());
        let (_, first) = cache.authorization().await.unwrap();
        clock.advance(40 * MIN);
        let (_, again) = cache.authorization().await.unwrap();
        assert_eq!(first, again);
        assert_eq!(source.fetch_count(), 1);
    }

    #[tokio::test]
    async fn an_expired_token_is_never_sent_callers_wait_for_a_new_one() {
        let clock = ManualClock::new();
        let source =
            Arc::new(StaticTokenSource::new(AccessToken::new("old")).with_expires_in(60 * MIN));
        let cache = cache_with(&clock, source.clone());
        cache.authorization().await.unwrap();
        source.set_token(AccessToken::new("new"));
        clock.advance(59 * MIN + Duration::from_secs(30));
        let (header, generation) = cache.authorization().await.unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer new");
        assert_eq!(generation, 2);
        assert_eq!(source.fetch_count(), 2);
    }

    #[tokio::test]
    async fn in_the_refresh_ahead_window_the_old_token_is_sent_while_one_refresh_runs() {
        let clock = ManualClock::new();
        let source =
            Arc::new(StaticTokenSource::new(AccessToken::new("old")).with_expires_in(60 * MIN));
        let cache = cache_with(&clock, source.clone());
        cache.authorization().await.unwrap();
        source.set_token(AccessToken::new("new"));
        clock.advance(50 * MIN);
        let (header, _) = cache.authorization().await.unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer old");
        // The background refresh runs on this runtime; let it.
        for _ in 0..100 {
            if source.fetch_count() == 2
                && cache
                    .cached_token_info()
                    .is_some_and(|i| i.access_token().expose_secret() == "new")
            {
                break;
            }
            tokio::task::yield_now().await;
        }
        let (header, _) = cache.authorization().await.unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer new");
        assert_eq!(source.fetch_count(), 2);
    }
}
