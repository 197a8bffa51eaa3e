//! The request policy of the PerspioTalk client, as [`reqwest_middleware`] middlewares:
//!
//! - [`RetryMiddleware`]: waits out `429`/`503` `Retry-After` (seconds or HTTP date) up to a
//!   cap, retries transient failures (connect errors, timeouts, resets, 502/503/504) with
//!   exponential backoff and full jitter for idempotent methods only, and bounds each call by
//!   an overall deadline covering all attempts and waits.
//! - [`RateLimitMiddleware`]: optional client-side rate limiting with the documented
//!   PerspioTalk limits as a preset ([`RateLimit::perspio_documented`]) or custom ones; requests
//!   wait for a slot instead of drawing a `429`, and all clones of a client share one budget.
//!
//! Time is injected through [`Clock`] ([`SystemClock`] in production, [`ManualClock`] in
//! tests), so tests check every wait without sleeping.
//!
//! # Stack order
//!
//! Middlewares run in the order they are added. Build the stack as
//! **retry → auth → rate limit** ([`policy_stack`] adds the three in this order):
//!
//! ```text
//! caller ─▶ RetryMiddleware ─▶ AuthMiddleware ─▶ RateLimitMiddleware ─▶ reqwest
//!           (attempts, waits,   (token and headers,  (one slot per request
//!            deadline)           its own 401 refresh)  sent)
//! ```
//!
//! - **Retry outside auth**: every attempt passes through the auth middleware again and so
//!   re-reads the token cache (a token refreshed meanwhile is used), and auth's own
//!   401-refresh-and-retry stays inside one policy attempt.
//! - **Rate limit inside auth**: the token is obtained before the slot is reserved, so no slot
//!   is spent waiting for the token endpoint and a request leaves when its slot comes (a late
//!   request would crowd the next window); auth's 401 retry takes its own slot.
//! - **Rate limit inside retry**: every attempt is a request the server counts, so each takes a
//!   slot; the limiter also sees each `429` and pauses the shared budget for its
//!   `Retry-After`. The limiter refuses a slot beyond the retry middleware's deadline.
//! - Errors of inner middlewares (for example an auth failure) are never retried here.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use perspio_policy::{Limit, PolicyError, RateLimit, RateLimitMiddleware, RetryConfig, RetryMiddleware};
//! use reqwest_middleware::ClientBuilder;
//! # #[derive(Debug)] struct AuthMiddleware;
//! # #[async_trait::async_trait]
//! # impl reqwest_middleware::Middleware for AuthMiddleware {
//! #     async fn handle(&self, req: reqwest::Request, ext: &mut http::Extensions, next: reqwest_middleware::Next<'_>)
//! #         -> reqwest_middleware::Result<reqwest::Response> { next.run(req, ext).await }
//! # }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let http = reqwest::Client::builder()
//!     .timeout(Duration::from_secs(30)) // per request; the deadline covers the whole call
//!     .build()?;
//! let retry = RetryMiddleware::new(
//!     RetryConfig::default()
//!         .with_max_attempts(5)
//!         .with_deadline(Duration::from_secs(300)),
//! );
//! let limiter = RateLimitMiddleware::new(
//!     RateLimit::perspio_documented().with_max_wait(Duration::from_secs(60)),
//! );
//! // Same as `policy_stack(ClientBuilder::new(http), retry, AuthMiddleware, Some(limiter))`:
//! let client = ClientBuilder::new(http)
//!     .with(retry)
//!     .with(AuthMiddleware) // e.g. perspio-auth's middleware
//!     .with(limiter)
//!     .build();
//!
//! match client.get("https://talk.perspio.io/assets/v3/").send().await {
//!     Ok(response) if response.status() == 429 => {
//!         // The advised wait was above `max_retry_after`: the 429 is returned as is.
//!         let wait = perspio_policy::parse_retry_after(response.headers(), std::time::SystemTime::now());
//!         eprintln!("quota exhausted, retry in {wait:?}");
//!     }
//!     Ok(response) => println!("{}", response.text().await?),
//!     Err(err) => match PolicyError::from_middleware_error(&err) {
//!         Some(policy) => eprintln!("{policy} (retryable: {})", policy.is_retryable()),
//!         None => return Err(err.into()),
//!     },
//! }
//! # Ok(()) }
//! ```
//!
//! # Defaults
//!
//! | setting | default |
//! |---|---|
//! | attempts per call ([`RetryConfig::with_max_attempts`]) | 4 |
//! | backoff ([`RetryConfig::with_base_delay`], [`RetryConfig::with_max_delay`]) | 500 ms doubling, at most 30 s, full jitter |
//! | longest `Retry-After` waited out ([`RetryConfig::with_max_retry_after`]) | 90 s |
//! | deadline per call ([`RetryConfig::with_deadline`]) | 180 s |
//! | transient statuses ([`RetryConfig::with_transient_statuses`]) | 502, 503, 504 |
//! | rate limits ([`RateLimit::perspio_documented`]) | 20 / 90 s, 10,000 / hour, 40 MB / hour |
//! | guard margin on every window ([`RateLimit::with_guard`]) | 1 s |
//! | longest wait for a slot ([`RateLimit::with_max_wait`]) | 120 s |
//!
//! # Limitations
//!
//! - POST and PATCH are retried only after a `429` (which the server answers instead of
//!   processing), unless opted in with [`RetryNonIdempotent`]; a connect error, which also
//!   means "not sent", is treated like any transport failure and not retried for them.
//! - A request with a streaming body (which cannot be cloned) is sent once and never retried.
//! - Bandwidth is charged after a response arrives, so the request that crosses the quota
//!   still goes; the ones after it wait.
//! - A local rate limit is per client (all its clones); a shared one (feature `redis`,
//!   `SharedRateLimit`) covers every process on the same Redis. Applications of the tenant
//!   that share neither are not counted.
//! - On a [`ManualClock`], the deadline can only cut a call short at a wait, not while a
//!   request is in flight.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod rate_limit;
mod retry;
mod retry_after;
mod stack;

pub use error::PolicyError;
pub use perspio_core::{BoxFuture, Clock, ManualClock, SystemClock};
pub use rate_limit::{
    Bandwidth, Limit, LimitScope, RateLimit, RateLimitMiddleware, RateLimitStats,
};
#[cfg(feature = "redis")]
pub use rate_limit::{SharedRateLimit, StoreFailure};
pub use retry::{Jitter, RetryConfig, RetryMiddleware, RetryNonIdempotent};
pub use retry_after::parse_retry_after;
pub use stack::policy_stack;
