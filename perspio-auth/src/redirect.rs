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

/// The text every URL of `base`'s origin starts with when it carries no user name or password
/// (`https://talk.perspio.io`, `http://127.0.0.1:8080`): the origin as `Url` writes it. Empty
/// for an opaque origin. See [`has_origin_prefix`].
pub(crate) fn origin_prefix(base: &Url) -> Box<str> {
    match base.origin() {
        origin @ url::Origin::Tuple(..) => origin.ascii_serialization().into(),
        url::Origin::Opaque(_) => "".into(),
    }
}

/// Whether `url` is written as `prefix` (an [`origin_prefix`]) followed by its path, query or
/// fragment: then it is of that origin, found by one comparison of text instead of
/// [`same_origin`]'s three accessors. `false` says nothing (a URL with a user name, say): ask
/// [`same_origin`].
pub(crate) fn has_origin_prefix(url: &Url, prefix: &str) -> bool {
    !prefix.is_empty()
        && url
            .as_str()
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_ordinary_url_of_the_origin_is_found_by_its_prefix() {
        let prefix = origin_prefix(&"https://talk.perspio.io".parse().unwrap());
        assert_eq!(&*prefix, "https://talk.perspio.io");
        for same in [
            "https://talk.perspio.io/assets/v3/",
            "https://TALK.perspio.io:443/sites/v3?x=1",
        ] {
            assert!(has_origin_prefix(&same.parse().unwrap(), &prefix), "{same}");
        }
        for other in [
            "https://talk.perspio.io.evil.example/",
            "https://talk.perspio.io:8443/",
            "http://talk.perspio.io/",
            "https://user@talk.perspio.io/",
        ] {
            assert!(
                !has_origin_prefix(&other.parse().unwrap(), &prefix),
                "{other}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1024,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The prefix never admits a URL of another origin, and admits every URL of the same
        /// origin without a user name or password.
        #[test]
        fn the_prefix_agrees_with_same_origin(
            base in url_text(),
            other in url_text(),
        ) {
            let (Ok(base), Ok(other)) = (Url::parse(&base), Url::parse(&other)) else {
                return Ok(());
            };
            let fast = has_origin_prefix(&other, &origin_prefix(&base));
            let same = same_origin(&base, &other);
            prop_assert!(!fast || same, "{base} {other}");
            if same && other.username().is_empty() && other.password().is_none()
                && matches!(base.origin(), url::Origin::Tuple(..))
            {
                prop_assert!(fast, "{base} {other}");
            }
        }
    }

    fn url_text() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                Just("https"),
                Just("http"),
                Just("HTTPS"),
                Just("ftp"),
                Just("x-app")
            ],
            prop_oneof![Just(""), Just("user@"), Just("u:p@")],
            prop_oneof![
                Just("talk.perspio.io"),
                Just("TALK.Perspio.io"),
                Just("talk.perspio.io.evil"),
                Just("127.0.0.1"),
                Just("[::1]"),
                Just("b\u{fc}cher.example"),
                Just("xn--bcher-kva.example"),
            ],
            prop_oneof![
                Just(""),
                Just(":443"),
                Just(":80"),
                Just(":8080"),
                Just(":0"),
                Just(":")
            ],
            prop_oneof![
                Just(""),
                Just("/"),
                Just("/a/b"),
                Just("?q"),
                Just("#f"),
                Just("/a?b#c")
            ],
        )
            .prop_map(|(scheme, user, host, port, rest)| {
                format!("{scheme}://{user}{host}{port}{rest}")
            })
    }

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
