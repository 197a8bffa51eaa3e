//! A redirect policy that keeps PerspioTalk credentials on their origin.

use reqwest::redirect::Policy;
use url::Url;

/// Redirects followed by [`same_origin_redirect_policy`] before it stops.
pub const MAX_SAME_ORIGIN_REDIRECTS: usize = 10;

/// Follows redirects only to the same scheme, host and port as the original request (at most
/// [`MAX_SAME_ORIGIN_REDIRECTS`]); any other redirect is not followed and the `3xx` response
/// goes back to the caller.
///
/// Use it for every client that carries [`AuthMiddleware`](crate::AuthMiddleware). reqwest
/// removes `Authorization` when a redirect leaves the host, but not
/// `Ocp-Apim-Subscription-Key` or `tid`, and the middleware does not see redirects (they are
/// followed inside reqwest): with reqwest's default policy a redirect to another host would
/// hand the subscription key to that host.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // rustls' provider (ring by default); the perspio constructors call this themselves.
/// perspio_core::tls::install_crypto_provider();
/// let client = reqwest::Client::builder()
///     .redirect(perspio_auth::same_origin_redirect_policy())
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
pub fn same_origin_redirect_policy() -> Policy {
    Policy::custom(|attempt| {
        let Some(original) = attempt.previous().first() else {
            return attempt.stop();
        };
        if attempt.previous().len() > MAX_SAME_ORIGIN_REDIRECTS {
            tracing::debug!("too many redirects; returning the redirect response");
            return attempt.stop();
        }
        if same_origin(original, attempt.url()) {
            attempt.follow()
        } else {
            tracing::info!(
                to = %attempt.url().origin().ascii_serialization(),
                "not following a redirect to another origin; returning the redirect response"
            );
            attempt.stop()
        }
    })
}

/// Same scheme, host and port (default ports made explicit).
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn origins_differ_by_scheme_host_or_port_but_not_path() {
        let base: Url = "https://talk.perspio.io/assets/v3/".parse().unwrap();
        assert!(same_origin(
            &base,
            &"https://talk.perspio.io:443/sites/v3".parse().unwrap()
        ));
        for other in [
            "http://talk.perspio.io/",
            "https://evil.example/",
            "https://talk.perspio.io:8443/",
        ] {
            assert!(!same_origin(&base, &other.parse().unwrap()), "{other}");
        }
    }
}
