//! URLs as they may appear in an error or a log line.
//!
//! A URL a user configures can carry a secret: a password in its user information
//! (`redis://:password@host`), or a subscription key in its query (Azure API Management
//! accepts `?subscription-key=…`). Every error and log line of the stack that shows a URL
//! shows it through [`redact_url`] or [`redact_str`]: no user information, no query values,
//! no fragment.
//!
//! ```
//! use perspio_core::redact::redact_str;
//!
//! assert_eq!(
//!     redact_str("https://user:pw@talk.perspio.io/assets/v3/?subscription-key=K3Y&x=1#frag"),
//!     "https://***@talk.perspio.io/assets/v3/?subscription-key=***&x=***"
//! );
//! assert_eq!(redact_str("rediss://:s3cret@cache.example:6380/0"), "rediss://***@cache.example:6380/0");
//! ```

use url::Url;

const HIDDEN: &str = "***";

/// `url` without user information, query values and fragment: safe to show.
pub fn redact_url(url: &Url) -> String {
    redact_str(url.as_str())
}

/// [`redact_url`] for a text that may not even parse as a URL (a malformed configuration
/// value): user information, query values and fragment are removed by position, so nothing
/// after `://` and before `@`, or after `=` in the query, is ever shown.
pub fn redact_str(raw: &str) -> String {
    let raw = raw.trim();
    let (before_fragment, _) = raw.split_once('#').unwrap_or((raw, ""));
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(raw.len());
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str(HIDDEN);
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        // No scheme: a bare `user:pw@host` still loses its user information.
        None => match before_query.rsplit_once('@') {
            Some((_, host)) => {
                out.push_str(HIDDEN);
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(before_query),
        },
    }
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    crate::text::sanitize(&out, crate::text::MAX_REMOTE_TEXT)
}

/// Removes from `url` itself what [`redact_url`] hides when it shows one: user information,
/// query values and fragment. For a URL that travels inside an error of another library
/// (`reqwest::Error::url_mut`), so that its message is safe to show.
///
/// ```
/// let mut url = url::Url::parse("https://u:pw@h/p?subscription-key=K#f").unwrap();
/// perspio_core::redact::scrub(&mut url);
/// assert_eq!(url.as_str(), "https://h/p?subscription-key=***");
/// ```
pub fn scrub(url: &mut Url) {
    // Both fail only for URLs that cannot carry user information in the first place.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if let Some(query) = url.query().map(redact_query) {
        url.set_query(Some(&query));
    }
}

/// `a=1&b=2&secret` → `a=***&b=***&***`.
fn redact_query(query: &str) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}={HIDDEN}"),
            None if pair.is_empty() => String::new(),
            // A bare `?secret` could itself be the secret.
            None => HIDDEN.to_owned(),
        })
        .collect();
    pairs.join("&")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn user_information_query_values_and_fragments_are_never_shown() {
        for (raw, shown) in [
            ("https://talk.perspio.io", "https://talk.perspio.io"),
            (
                "https://talk.perspio.io/assets/v3/",
                "https://talk.perspio.io/assets/v3/",
            ),
            ("https://u:p@h/x?a=1&b=2#f", "https://***@h/x?a=***&b=***"),
            (
                "https://h/?subscription-key=K",
                "https://h/?subscription-key=***",
            ),
            ("https://h/?K3Y", "https://h/?***"),
            (
                "redis://:pw@127.0.0.1:6379/0",
                "redis://***@127.0.0.1:6379/0",
            ),
            ("user:pw@host:11211", "***@host:11211"),
            ("not a url at all", "not a url at all"),
            ("https://a@b@host/p", "https://***@host/p"),
        ] {
            assert_eq!(redact_str(raw), shown, "{raw}");
        }
    }

    #[test]
    fn a_parsed_url_is_redacted_the_same_way() {
        let url = Url::parse("https://me:secret@talk.perspio.io/?subscription-key=k").unwrap();
        let shown = redact_url(&url);
        assert!(
            !shown.contains("secret") && !shown.contains("=k"),
            "{shown}"
        );
    }

    #[test]
    fn control_characters_in_a_configured_url_are_neutralised() {
        let shown = redact_str("https://h/\u{1b}]0;title\u{7}");
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown:?}"
        );
    }
}
