//! The order of the middleware stack, in code.

use reqwest_middleware::ClientBuilder;

use crate::rate_limit::RateLimitMiddleware;
use crate::retry::RetryMiddleware;

/// Adds the policy middlewares to `builder` in the right order: `retry`, then `rate_limit` (if
/// any). Add the auth middleware *after* this call, so that it runs inside every attempt.
///
/// ```text
/// caller ─▶ RetryMiddleware ─▶ RateLimitMiddleware ─▶ AuthMiddleware ─▶ reqwest
/// ```
///
/// - Retry outside auth: every attempt runs auth again and so re-reads the token cache, and
///   auth's own 401 refresh-and-retry stays inside one policy attempt.
/// - Rate limit inside retry: every attempt is a request the server counts, so each takes a
///   slot, and the limiter sees each `429` and pauses the shared budget.
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
///     Some(RateLimitMiddleware::new(RateLimit::perspio_documented())),
/// )
/// .with(AuthMiddleware)
/// .build();
/// ```
pub fn policy_stack(
    builder: ClientBuilder,
    retry: RetryMiddleware,
    rate_limit: Option<RateLimitMiddleware>,
) -> ClientBuilder {
    let builder = builder.with(retry);
    match rate_limit {
        Some(limiter) => builder.with(limiter),
        None => builder,
    }
}
