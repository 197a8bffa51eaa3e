//! The order of the middleware stack, in code.

use reqwest_middleware::{ClientBuilder, Middleware};

use crate::rate_limit::RateLimitMiddleware;
use crate::retry::RetryMiddleware;

/// Adds `retry`, then `auth` (the authentication middleware, e.g. perspio-auth's), then
/// `rate_limit` (if any) to `builder`: the order of the default stack.
///
/// ```text
/// caller ─▶ RetryMiddleware ─▶ AuthMiddleware ─▶ RateLimitMiddleware ─▶ reqwest
/// ```
///
/// - Retry outside auth: every attempt runs auth again and so re-reads the token cache.
/// - Rate limit inside auth: a token is obtained *before* a slot is reserved, so a slot is
///   never spent waiting for the token endpoint (a slow Entra, or another process's lease)
///   and the request leaves when its slot comes; and auth's own 401 refresh-and-retry is a
///   request the server counts, so it takes its own slot.
/// - Rate limit inside retry: every attempt takes a slot, and the limiter sees each `429`
///   and pauses the (shared) budget.
///
/// ```no_run
/// use perspio_policy::{RateLimit, RateLimitMiddleware, RetryMiddleware, policy_stack};
/// # #[derive(Debug)] struct AuthMiddleware;
/// # #[async_trait::async_trait]
/// # impl reqwest_middleware::Middleware for AuthMiddleware {
/// #     async fn handle(&self, req: reqwest::Request, ext: &mut http::Extensions, next: reqwest_middleware::Next<'_>)
/// #         -> reqwest_middleware::Result<reqwest::Response> { next.run(req, ext).await }
/// # }
///
/// let builder = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
/// let client = policy_stack(
///     builder,
///     RetryMiddleware::default(),
///     AuthMiddleware, // e.g. perspio-auth's middleware
///     Some(RateLimitMiddleware::new(RateLimit::perspio_documented())),
/// )
/// .build();
/// ```
pub fn policy_stack(
    builder: ClientBuilder,
    retry: RetryMiddleware,
    auth: impl Middleware,
    rate_limit: Option<RateLimitMiddleware>,
) -> ClientBuilder {
    match rate_limit {
        Some(limiter) => builder.with(retry).with(auth).with(limiter),
        // Nothing below reads the call deadline: it need not travel as an extension.
        None => builder
            .with(retry.with_deadline_extension(false))
            .with(auth),
    }
}
