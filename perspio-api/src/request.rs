//! [`Client::request`]: a request to any path of the API, through the client's own middleware
//! stack, for endpoints the spec does not have.
//!
//! A raw request is built with the client's request-building `reqwest::Client` and sent through
//! its `ClientWithMiddleware`, exactly as a generated operation is (see `hooks.rs`): the same
//! retry policy, rate limit, authentication (token, Perspio headers, one refresh and retry on
//! `401`), body limit, timeouts and redirect policy, and the same [`Error`].
//!
//! Its path is checked before anything is sent ([`PathRefusal`]): it must stay on the
//! configured origin and under the base URL's path, and must not carry characters that a
//! server or proxy may read differently from this client (backslashes, control characters,
//! encoded separators and dot segments). The authentication middleware's own origin check
//! (`AuthError::CredentialsWouldLeak`) stays behind it as a second line.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{ApiErrorResponse, Error, cause_chain, error_body_json, scrubbed};
use crate::generated::Client;

/// The operation name of a raw request ([`Client::request`]): what [`Error::operation`] and
/// the [`OperationId`](crate::OperationId) extension (in a middleware stack) say for it.
pub const REQUEST_OPERATION: &str = "request";

/// Headers a raw request may not set: they would make the request mean something else to the
/// server or a proxy than to this client (another virtual host, another body framing).
const REFUSED_HEADERS: [&str; 5] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
];

/// Headers whose values are secrets: marked sensitive, so no `Debug` shows them.
const SENSITIVE_HEADERS: [&str; 2] = ["authorization", "ocp-apim-subscription-key"];

/// How many rounds of percent-decoding a path segment is checked through: a server or a
/// proxy in front of it may decode more than once (`%252e` → `%2e` → `.`).
const DECODING_ROUNDS: usize = 3;

impl Client {
    /// A request to `path` on the client's API, for an endpoint the spec does not have; send it
    /// with [`RequestBuilder::send`].
    ///
    /// `path` is relative to the base URL (`/assets/v3/IN-000123`; a missing leading `/` is
    /// added) and may carry a query (`/assets/v3/?top=10`); an absolute URL is accepted only on
    /// the client's own origin. The request goes through the client's whole middleware stack
    /// (retry, rate limit, authentication, body limit), so it gets the token, the Perspio
    /// headers, one refresh-and-retry on `401`, `Retry-After` waits and the same [`Error`] as
    /// a generated operation; errors name the operation [`REQUEST_OPERATION`].
    ///
    /// ```no_run
    /// # async fn run(client: perspio_api::Client) -> Result<(), perspio_api::Error> {
    /// use perspio_api::Method;
    ///
    /// // A path from the Perspio portal that the spec does not have (yet).
    /// let asset: serde_json::Value = client
    ///     .request(Method::GET, "/assets/v3/IN-000123")
    ///     .send()
    ///     .await?
    ///     .json()?;
    ///
    /// let created = client
    ///     .request(Method::POST, "/geofences/v3/")
    ///     .json(&serde_json::json!({"name": "Yard"}))
    ///     .send()
    ///     .await?;
    /// println!("{} {}", created.status(), created.text());
    /// # let _ = asset; Ok(()) }
    /// ```
    ///
    /// # Limitations
    /// - Nothing checks the path, the body or the answer against the spec: an endpoint the
    ///   spec has is better called through its generated method.
    /// - A request body given as a stream is not supported: bodies are bytes, so that retries
    ///   and the `401` replay can resend them.
    pub fn request(&self, method: Method, path: impl Into<String>) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            invalid: None,
        }
    }
}

/// A raw request being built; from [`Client::request`].
///
/// Every setter takes and returns the builder; a setter given something unusable (a header
/// name that is not one) records the problem and [`send`](Self::send) reports it, before
/// anything is sent.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<'a> {
    client: &'a Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<Bytes>,
    invalid: Option<String>,
}

impl fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The path and query may hold anything the caller typed: show the method only, the
        // headers through `HeaderMap`'s own Debug (sensitive values hidden).
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Bytes::len))
            .finish_non_exhaustive()
    }
}

impl RequestBuilder<'_> {
    /// Adds a query parameter (percent-encoded when sent). Parameters already in the path come
    /// first; a name given twice is sent twice.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header (a second value of the same name is added, not replaced).
    ///
    /// `Authorization` given here is sent instead of the client's token (and a `401` is then
    /// not retried); `Accept`, `tid` and `Ocp-Apim-Subscription-Key` given here replace the
    /// client's. `Host`, `Content-Length`, `Transfer-Encoding`, `Connection` and `Upgrade` are
    /// refused: they would change what the request means to the server.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| {
                format!(
                    "`{}` is not a header name",
                    perspio_core::text::remote(name)
                )
            })
            .and_then(|name| {
                if REFUSED_HEADERS.contains(&name.as_str()) {
                    return Err(format!(
                        "the `{name}` header is set by the client and cannot be given"
                    ));
                }
                let mut value = HeaderValue::from_str(value.as_ref()).map_err(|_| {
                    format!("the value of the `{name}` header has characters a header cannot carry")
                })?;
                value.set_sensitive(SENSITIVE_HEADERS.contains(&name.as_str()));
                Ok((name, value))
            });
        match parsed {
            Ok((name, value)) => {
                self.headers.append(name, value);
            }
            Err(problem) => {
                self.invalid.get_or_insert(problem);
            }
        }
        self
    }

    /// A JSON body (`Content-Type: application/json` unless a header sets another).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Some(Bytes::from(bytes));
                if !self.headers.contains_key(http::header::CONTENT_TYPE) {
                    self.headers.insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                }
            }
            Err(e) => {
                self.invalid
                    .get_or_insert(format!("the body cannot be encoded as JSON: {e}"));
            }
        }
        self
    }

    /// A body sent as these bytes, with whatever `Content-Type` a [`header`](Self::header)
    /// sets (none otherwise).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Checks the path, then sends the request through the client's middleware stack.
    ///
    /// A status below 400 is returned as a [`RawResponse`] (a redirect to another origin is
    /// not followed, so a `3xx` can arrive); an error status is [`Error::Api`], as for a
    /// generated operation.
    ///
    /// # Errors
    /// - [`Error::PathRefused`] when the path would leave the origin or the base path, or
    ///   carries characters a server may read differently; nothing is sent.
    /// - [`Error::InvalidRequest`] for an unusable header or body; nothing is sent.
    /// - [`Error::InvalidBaseUrl`] when the client's base URL does not parse (a client made
    ///   with the generated `Client::new` and a bad URL).
    /// - Otherwise the errors of a generated call: [`Error::Api`], [`Error::Middleware`]
    ///   (authentication, the request policy), [`Error::BodyTooLarge`], [`Error::Transport`],
    ///   [`Error::ResponseBody`].
    pub async fn send(self) -> Result<RawResponse, Error> {
        const OPERATION: &str = REQUEST_OPERATION;
        if let Some(message) = self.invalid {
            return Err(Error::InvalidRequest {
                operation: OPERATION,
                message,
            });
        }
        let base = Url::parse(&self.client.baseurl).map_err(|_| Error::InvalidBaseUrl {
            url: perspio_core::redact::redact_str(&self.client.baseurl),
            reason: "not an absolute url",
        })?;
        let mut url = resolve(&base, &self.path).map_err(|reason| Error::PathRefused {
            path: shown_path(&self.path),
            reason,
        })?;
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        let mut request = self
            .client
            .client
            .request(self.method, url)
            .headers(self.headers);
        if let Some(body) = self.body {
            request = request.body(body);
        }
        let request = request.build().map_err(|e| Error::InvalidRequest {
            operation: OPERATION,
            message: cause_chain(&e.without_url()),
        })?;

        let outcome = self.client.inner.execute(request, OPERATION).await;
        let response = match outcome {
            Ok(response) => response,
            Err(reqwest_middleware::Error::Reqwest(source)) => {
                return Err(Error::Transport {
                    operation: OPERATION,
                    source: scrubbed(source),
                });
            }
            Err(failure) => return Err(Error::from_middleware(OPERATION, failure)),
        };
        // The body was read (bounded) by the transport; a failed read is its error above.
        let (status, headers, body) = response.into_parts();
        if status.is_client_error() || status.is_server_error() {
            return Err(Error::Api {
                operation: OPERATION,
                response: Box::new(ApiErrorResponse {
                    status,
                    headers,
                    body: error_body_json(&body),
                }),
            });
        }
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

/// The answer to a raw request ([`RequestBuilder::send`]): status, headers and the whole body,
/// read within the client's body limit.
#[derive(Debug, Clone)]
pub struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl RawResponse {
    /// The HTTP status (below 400: error statuses are [`Error::Api`]).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as received.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as received, taken.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// The body as text; bytes that are not UTF-8 become `U+FFFD`. Not neutralised: it is
    /// server text, so pass it through [`perspio_core::text`] before showing it on a terminal.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON into `T` (`serde_json::Value` for any JSON).
    ///
    /// # Errors
    /// [`Error::InvalidResponse`] with the body and the decoder's error.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|source| Error::InvalidResponse {
            operation: REQUEST_OPERATION,
            body: self.body.clone(),
            source,
        })
    }
}

/// Why [`Client::request`] refused a path; nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathRefusal {
    /// An absolute URL on another origin (scheme, host or port) than the client's.
    OtherOrigin,
    /// `//host/…`: a scheme-relative URL, which names another host.
    SchemeRelative,
    /// `..` segments that climb above the base URL's path.
    AboveBasePath,
    /// A backslash, which some servers and proxies read as `/`.
    Backslash,
    /// A control character (also percent-encoded, such as `%0d%0a` or `%00`).
    ControlCharacter,
    /// A percent-encoded `/` or `\` (`%2f`, `%5c`, also encoded twice), which a server may
    /// decode into a separator the client never saw.
    EncodedSeparator,
    /// A percent-encoded `.` or `..` segment (`%2e%2e`, `.%2e`, `%252e%252e`), which a server
    /// may resolve after decoding.
    EncodedDotSegment,
    /// A `#` fragment: never sent, so the path would not mean what it says.
    Fragment,
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathRefusal::OtherOrigin => {
                "an absolute url on another origin; credentials go only to the configured base url"
            }
            PathRefusal::SchemeRelative => "`//` at the start names another host",
            PathRefusal::AboveBasePath => "`..` climbs above the base url's path",
            PathRefusal::Backslash => "a backslash, which some servers read as `/`",
            PathRefusal::ControlCharacter => "a control character",
            PathRefusal::EncodedSeparator => "a percent-encoded `/` or `\\`",
            PathRefusal::EncodedDotSegment => "a percent-encoded `.` or `..` segment",
            PathRefusal::Fragment => "a `#` fragment, which is never sent; encode `#` as %23",
        })
    }
}

/// The path for a message: without its query (which may hold a key), neutralised and bounded.
fn shown_path(path: &str) -> String {
    let without_query = path.split(['?', '#']).next().unwrap_or_default();
    perspio_core::text::remote(without_query)
}

/// The URL `path` names under `base`, or why it is refused (see [`PathRefusal`]).
pub(crate) fn resolve(base: &Url, path: &str) -> Result<Url, PathRefusal> {
    if path.chars().any(char::is_control) {
        return Err(PathRefusal::ControlCharacter);
    }
    if path.contains('\\') {
        return Err(PathRefusal::Backslash);
    }
    if path.contains('#') {
        return Err(PathRefusal::Fragment);
    }
    if path.starts_with("//") {
        return Err(PathRefusal::SchemeRelative);
    }
    let base_path = base.path().trim_end_matches('/');
    let relative = match Url::parse(path) {
        // An absolute URL: only on the client's origin, and then as its path and query.
        Ok(absolute) => {
            if absolute.origin() != base.origin()
                || !absolute.username().is_empty()
                || absolute.password().is_some()
            {
                return Err(PathRefusal::OtherOrigin);
            }
            let after_authority = path
                .split_once("://")
                .and_then(|(_, rest)| rest.find(['/', '?']).map(|at| &rest[at..]))
                .unwrap_or("/");
            let raw_path = if after_authority.starts_with('?') {
                format!("/{after_authority}")
            } else {
                after_authority.to_owned()
            };
            let within = raw_path
                .as_str()
                .strip_prefix(base_path)
                .filter(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
                .ok_or(PathRefusal::AboveBasePath)?;
            within.to_owned()
        }
        Err(_) if path.starts_with('/') => path.to_owned(),
        Err(_) => format!("/{path}"),
    };
    let (raw_path, query) = match relative.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (relative.as_str(), None),
    };
    check_encoded(raw_path)?;
    if let Some(query) = query {
        check_encoded_query(query)?;
    }
    let normalized = remove_dot_segments(raw_path)?;
    if normalized.starts_with("//") {
        // `/a/..//evil.example`: after the dots, a scheme-relative reference.
        return Err(PathRefusal::SchemeRelative);
    }
    let mut joined = format!("{base_path}{normalized}");
    if let Some(query) = query {
        joined.push('?');
        joined.push_str(query);
    }
    // `set_path` would encode a `?`: the path and query are joined to the origin as one
    // absolute-path reference.
    let url = base
        .join(&joined)
        .map_err(|_| PathRefusal::ControlCharacter)?;
    // The second look, at what the URL parser made of it.
    if url.origin() != base.origin() {
        return Err(PathRefusal::OtherOrigin);
    }
    if !base_path.is_empty()
        && url.path() != base_path
        && !url.path().starts_with(&format!("{base_path}/"))
    {
        return Err(PathRefusal::AboveBasePath);
    }
    Ok(url)
}

/// Refuses segments that decode (in up to [`DECODING_ROUNDS`] rounds) into a separator, a
/// control character or a dot segment they did not plainly say.
fn check_encoded(path: &str) -> Result<(), PathRefusal> {
    for segment in path.split('/') {
        let decoded = decoded(segment);
        for round in &decoded {
            if round.contains(['/', '\\']) {
                return Err(PathRefusal::EncodedSeparator);
            }
            if round.chars().any(char::is_control) {
                return Err(PathRefusal::ControlCharacter);
            }
        }
        let plain_dot = segment == "." || segment == "..";
        if !plain_dot && decoded.iter().any(|round| round == "." || round == "..") {
            return Err(PathRefusal::EncodedDotSegment);
        }
    }
    Ok(())
}

/// Refuses a query that decodes into control characters (header injection through a proxy
/// that decodes the query into a log or another request).
fn check_encoded_query(query: &str) -> Result<(), PathRefusal> {
    if decoded(query)
        .iter()
        .any(|round| round.chars().any(char::is_control))
    {
        return Err(PathRefusal::ControlCharacter);
    }
    Ok(())
}

/// `text` percent-decoded once, twice, … ([`DECODING_ROUNDS`]); stops when nothing changes.
fn decoded(text: &str) -> Vec<String> {
    let mut rounds = Vec::new();
    let mut current = text.to_owned();
    for _ in 0..DECODING_ROUNDS {
        let next = percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if next == current {
            break;
        }
        rounds.push(next.clone());
        current = next;
    }
    rounds
}

/// RFC 3986 §5.2.4 on a path that starts with `/`: `.` segments dropped, `..` removing the
/// segment before; a `..` with nothing left to remove climbs above the base path.
fn remove_dot_segments(path: &str) -> Result<String, PathRefusal> {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.pop().is_none() {
                    return Err(PathRefusal::AboveBasePath);
                }
                if i == last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    Ok(format!("/{}", out.join("/")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn base(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    fn sent(base_url: &str, path: &str) -> String {
        resolve(&base(base_url), path).unwrap().to_string()
    }

    fn refused(base_url: &str, path: &str) -> PathRefusal {
        match resolve(&base(base_url), path) {
            Ok(url) => panic!("{path:?} was accepted as {url}"),
            Err(reason) => reason,
        }
    }

    #[test]
    fn paths_under_the_base_url_are_sent_as_written() {
        let api = "https://talk.perspio.io";
        assert_eq!(
            sent(api, "/assets/v3/"),
            "https://talk.perspio.io/assets/v3/"
        );
        assert_eq!(
            sent(api, "assets/v3/"),
            "https://talk.perspio.io/assets/v3/"
        );
        assert_eq!(
            sent(api, "/assets/v3/IN-000123?top=10&x=a%20b"),
            "https://talk.perspio.io/assets/v3/IN-000123?top=10&x=a%20b"
        );
        assert_eq!(
            sent(api, "/assets/v3/../v3/./x"),
            "https://talk.perspio.io/assets/v3/x"
        );
        assert_eq!(sent(api, "/a/b/.."), "https://talk.perspio.io/a/");
        assert_eq!(
            sent(api, "https://talk.perspio.io?x=1"),
            "https://talk.perspio.io/?x=1"
        );
        assert_eq!(
            sent(api, "https://talk.perspio.io/sites/v3/"),
            "https://talk.perspio.io/sites/v3/"
        );
        assert_eq!(
            sent(api, "/geofences/v3/IN-GF-1 copy"),
            "https://talk.perspio.io/geofences/v3/IN-GF-1%20copy"
        );
        let stem = "http://127.0.0.1:8080/stem";
        assert_eq!(
            sent(stem, "/assets/v3/"),
            "http://127.0.0.1:8080/stem/assets/v3/"
        );
        assert_eq!(
            sent(stem, "http://127.0.0.1:8080/stem/x"),
            "http://127.0.0.1:8080/stem/x"
        );
        assert_eq!(sent(stem, "/a/../b"), "http://127.0.0.1:8080/stem/b");
    }

    #[test]
    fn absolute_urls_to_another_origin_are_refused() {
        let api = "https://talk.perspio.io";
        for path in [
            "https://evil.example/assets/v3/",
            "http://talk.perspio.io/assets/v3/",
            "https://talk.perspio.io:8443/assets/v3/",
            "https://talk.perspio.io.evil.example/",
            "https://user:pw@talk.perspio.io/assets/v3/",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ] {
            assert_eq!(refused(api, path), PathRefusal::OtherOrigin, "{path}");
        }
        assert_eq!(
            refused("http://127.0.0.1:8080/stem", "http://127.0.0.1:8080/other"),
            PathRefusal::AboveBasePath
        );
    }

    #[test]
    fn scheme_relative_paths_are_refused() {
        for path in [
            "//evil.example/assets",
            "///evil.example",
            "//talk.perspio.io/x",
            "/a/..//evil.example/x",
        ] {
            assert_eq!(
                refused("https://talk.perspio.io", path),
                PathRefusal::SchemeRelative,
                "{path}"
            );
        }
    }

    #[test]
    fn dot_segments_that_climb_above_the_base_path_are_refused() {
        assert_eq!(
            refused("https://talk.perspio.io", "/.."),
            PathRefusal::AboveBasePath
        );
        assert_eq!(
            refused("https://talk.perspio.io", "/assets/../../x"),
            PathRefusal::AboveBasePath
        );
        assert_eq!(
            refused("https://talk.perspio.io", "../x"),
            PathRefusal::AboveBasePath
        );
        assert_eq!(
            refused("http://127.0.0.1:8080/stem", "/../admin"),
            PathRefusal::AboveBasePath
        );
        assert_eq!(
            refused("http://127.0.0.1:8080/stem/", "/x/../../other/y"),
            PathRefusal::AboveBasePath
        );
    }

    #[test]
    fn encoded_dot_segments_are_refused_however_written() {
        for path in [
            "/%2e%2e/admin",
            "/%2E%2E/admin",
            "/.%2e/admin",
            "/%2e./admin",
            "/assets/%2e",
            "/%252e%252e/admin",
            "/%25252e%25252e/admin",
        ] {
            assert_eq!(
                refused("https://talk.perspio.io", path),
                PathRefusal::EncodedDotSegment,
                "{path}"
            );
        }
    }

    #[test]
    fn encoded_separators_backslashes_and_control_characters_are_refused() {
        let api = "https://talk.perspio.io";
        for (path, reason) in [
            ("/assets/..%2f..%2fadmin", PathRefusal::EncodedSeparator),
            ("/assets/%2F", PathRefusal::EncodedSeparator),
            ("/assets/%5c..%5cadmin", PathRefusal::EncodedSeparator),
            ("/assets/%252f", PathRefusal::EncodedSeparator),
            ("/assets\\..\\admin", PathRefusal::Backslash),
            ("\\\\evil.example\\x", PathRefusal::Backslash),
            ("/\\evil.example", PathRefusal::Backslash),
            (
                "/assets/v3/\r\nX-Injected: 1",
                PathRefusal::ControlCharacter,
            ),
            ("/assets/v3/\n", PathRefusal::ControlCharacter),
            ("/assets\t/v3/", PathRefusal::ControlCharacter),
            ("/assets/v3/\u{7f}", PathRefusal::ControlCharacter),
            ("/assets/v3/\u{9b}", PathRefusal::ControlCharacter),
            (
                "/assets/v3/%0d%0aX-Injected:%201",
                PathRefusal::ControlCharacter,
            ),
            ("/assets/v3/%00", PathRefusal::ControlCharacter),
            ("/assets/v3/?q=%0d%0aX: 1", PathRefusal::ControlCharacter),
            ("/assets/v3/#top", PathRefusal::Fragment),
        ] {
            assert_eq!(refused(api, path), reason, "{path:?}");
        }
    }

    #[test]
    fn a_refused_path_is_shown_without_its_query_and_neutralised() {
        assert_eq!(shown_path("/x/\u{1b}[2J?subscription-key=K3Y"), "/x/\\e[2J");
    }
}
