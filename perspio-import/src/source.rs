//! Reading one upstream spec: a file or a URL, YAML or JSON (detected by content), OpenAPI 3.0
//! or 3.1.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::ImportError;

/// How long a fetch of an `http(s)://` source may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest spec a fetch of an `http(s)://` source reads (the largest public specs are a
/// few tens of MB); a longer answer is refused as it arrives.
pub const MAX_FETCHED_SIZE: u64 = 128 * 1024 * 1024;

/// Why one source could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be read.
    #[error("cannot read {location}")]
    Unreadable {
        /// The path as given.
        location: String,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The URL could not be fetched (no connection, a timeout, or an HTTP error status).
    #[error("cannot fetch {location} (no network? wrong URL?)")]
    FetchFailed {
        /// The URL as given.
        location: String,
        /// What reqwest said.
        #[source]
        source: reqwest::Error,
    },
    /// The URL answered with more than [`MAX_FETCHED_SIZE`] bytes, or with bytes that are not
    /// UTF-8 text.
    #[error("{location} did not answer with a spec: {why}")]
    FetchedNotASpec {
        /// The URL, redacted.
        location: String,
        /// What was wrong with the answer.
        why: String,
    },
    /// The text is neither JSON nor YAML (its first character decides which parser says so).
    #[error("{location} is neither JSON nor YAML ({format} parse failed)")]
    Unparsable {
        /// The path or URL.
        location: String,
        /// `JSON` or `YAML`: the parser that was tried.
        format: &'static str,
        /// What the parser said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The document parses but is not OpenAPI 3.0 or 3.1 (Swagger 2, no `info`, …).
    #[error("{location} is not an OpenAPI 3 document: {why}")]
    NotOpenApi {
        /// The path or URL.
        location: String,
        /// What is missing or wrong, and the way out.
        why: String,
    },
}

/// The format a source was written in (detected by content, not by file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The first non-blank character opens an object.
    Json,
    /// Anything else.
    Yaml,
}

impl Format {
    /// `json` or `yaml`, as `openapi/provenance.json` records it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }
}

/// One upstream document, read and checked to be OpenAPI 3.0 or 3.1.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Source {
    /// The path or URL as given.
    pub location: String,
    /// What it was written in.
    pub format: Format,
    /// sha256 of the bytes read, lowercase hex.
    pub sha256: String,
    /// The document.
    pub doc: Value,
}

/// Reads every location (see [`Source::load`]), in order, for [`import`](crate::import).
///
/// # Errors
/// [`ImportError::ReadUpstream`] for the first location that cannot be read.
pub fn load<S: AsRef<str>>(locations: &[S]) -> Result<Vec<Source>, ImportError> {
    locations
        .iter()
        .map(|location| Source::load(location.as_ref()))
        .collect::<Result<_, _>>()
        .map_err(|source| ImportError::ReadUpstream { source })
}

impl Source {
    /// Reads `location` (a path, or an `http(s)://` URL, fetched within [`FETCH_TIMEOUT`]) and
    /// parses it (see [`Source::parse`]).
    ///
    /// # Errors
    /// [`SourceError`], naming `location`.
    pub fn load(location: &str) -> Result<Self, SourceError> {
        let text = if location.starts_with("http://") || location.starts_with("https://") {
            fetch(location)?
        } else {
            std::fs::read_to_string(location).map_err(|source| SourceError::Unreadable {
                location: location.to_owned(),
                source,
            })?
        };
        Self::parse(location, &text)
    }

    /// Parses `text`, read from `location` (which only names it in errors): JSON when the
    /// first non-blank character opens an object, YAML otherwise; a leading BOM is ignored.
    ///
    /// # Errors
    /// [`SourceError::Unparsable`] or [`SourceError::NotOpenApi`], naming `location`.
    pub fn parse(location: &str, text: &str) -> Result<Self, SourceError> {
        let (format, doc) = parse_text(location, text)?;
        check_openapi(location, &doc)?;
        Ok(Self {
            location: location.to_owned(),
            format,
            sha256: sha256_hex(text.as_bytes()),
            doc,
        })
    }

    /// The `openapi` version string (`3.0.3`, `3.1.0`; empty when absent).
    pub fn version(&self) -> &str {
        self.doc
            .get("openapi")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

fn fetch(url: &str) -> Result<String, SourceError> {
    use std::io::Read as _;

    // A URL can carry a secret (a signed export link): errors show it redacted.
    let location = perspio_core::redact::redact_str(url);
    let fetch_error = |source: reqwest::Error| SourceError::FetchFailed {
        location: location.clone(),
        source: source.without_url(),
    };
    let not_a_spec = |why: String| SourceError::FetchedNotASpec {
        location: location.clone(),
        why,
    };
    perspio_core::tls::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(fetch_error)?;
    let response = client
        .get(url)
        .send()
        .and_then(reqwest::blocking::Response::error_for_status)
        .map_err(fetch_error)?;
    if response
        .content_length()
        .is_some_and(|n| n > MAX_FETCHED_SIZE)
    {
        return Err(not_a_spec(format!(
            "it announces more than {MAX_FETCHED_SIZE} bytes"
        )));
    }
    let mut bytes = Vec::new();
    response
        .take(MAX_FETCHED_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| not_a_spec(format!("reading the answer failed: {e}")))?;
    if bytes.len() as u64 > MAX_FETCHED_SIZE {
        return Err(not_a_spec(format!(
            "it is longer than {MAX_FETCHED_SIZE} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| not_a_spec("it is not UTF-8 text".into()))
}

/// JSON when the first non-blank character opens an object, YAML otherwise.
fn parse_text(location: &str, text: &str) -> Result<(Format, Value), SourceError> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map(|doc| (Format::Json, doc))
            .map_err(|e| SourceError::Unparsable {
                location: location.to_owned(),
                format: "JSON",
                source: Box::new(e),
            })
    } else {
        serde_norway::from_str(text)
            .map(|doc| (Format::Yaml, doc))
            .map_err(|e| SourceError::Unparsable {
                location: location.to_owned(),
                format: "YAML",
                source: Box::new(e),
            })
    }
}

fn check_openapi(location: &str, doc: &Value) -> Result<(), SourceError> {
    let not = |why: String| SourceError::NotOpenApi {
        location: location.to_owned(),
        why,
    };
    let Some(root) = doc.as_object() else {
        return Err(not("the document is not a mapping".into()));
    };
    if let Some(swagger) = root.get("swagger") {
        return Err(not(format!(
            "it is Swagger {swagger}; convert it to OpenAPI 3 first"
        )));
    }
    match root.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") || v.starts_with("3.1") => {}
        Some(v) => return Err(not(format!("`openapi: {v}` is not 3.0 or 3.1"))),
        None => return Err(not("it has no `openapi` version field".into())),
    }
    if !root.get("info").is_some_and(Value::is_object) {
        return Err(not("it has no `info` object".into()));
    }
    Ok(())
}

/// Lowercase hex sha256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A one-shot HTTP server on loopback answering with `head` and then `body_bytes` bytes.
    fn server(head: &'static str, body_bytes: u64) -> String {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(head.as_bytes());
                let chunk = vec![b'a'; 64 * 1024];
                let mut sent = 0;
                while sent < body_bytes && stream.write_all(&chunk).is_ok() {
                    sent += chunk.len() as u64;
                }
            }
        });
        format!("http://127.0.0.1:{port}/spec.yaml?sig=S3CRET-SIGNATURE")
    }

    #[test]
    fn a_fetched_spec_over_the_size_bound_is_refused_as_it_arrives_and_the_url_is_redacted() {
        for head in [
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
        ] {
            let url = server(head, MAX_FETCHED_SIZE + 1024 * 1024);
            let err = Source::load(&url).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                matches!(err, SourceError::FetchedNotASpec { .. }),
                "{shown}"
            );
            assert!(shown.contains("bytes"), "{shown}");
            assert!(!shown.contains("S3CRET"), "{shown}");
        }
    }

    #[test]
    fn yaml_and_json_are_detected_by_content() {
        let yaml = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        200: {description: ok}\n";
        let s = Source::parse("a.txt", yaml).unwrap();
        assert_eq!(s.format, Format::Yaml);
        assert!(s.doc["paths"]["/a"]["get"]["responses"]["200"].is_object());
        let s = Source::parse(
            "b.txt",
            r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"}}"#,
        )
        .unwrap();
        assert_eq!(s.format, Format::Json);
    }

    #[test]
    fn input_that_is_not_openapi_is_a_clear_error() {
        let err = Source::parse("swagger.json", r#"{"swagger":"2.0","info":{}}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("swagger.json is not an OpenAPI 3 document"),
            "{err}"
        );
        assert!(err.to_string().contains("Swagger"), "{err}");
        let err = Source::parse("list.yaml", "- a\n- b\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("list.yaml is not an OpenAPI 3 document"),
            "{err}"
        );
        let err = Source::parse("bad.json", "{ not json").unwrap_err();
        assert!(
            err.to_string()
                .contains("bad.json is neither JSON nor YAML"),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let err = Source::load("/nonexistent/upstream.yaml").unwrap_err();
        assert!(matches!(err, SourceError::Unreadable { .. }));
        assert!(
            err.to_string().contains("/nonexistent/upstream.yaml"),
            "{err}"
        );
    }

    #[test]
    fn an_unreachable_url_is_a_fetch_error_naming_it() {
        // Port 9 on localhost: nothing listens there, so this fails fast without a network.
        let err = Source::load("http://127.0.0.1:9/spec.yaml").unwrap_err();
        assert!(matches!(err, SourceError::FetchFailed { .. }), "{err}");
        assert!(
            err.to_string().contains("http://127.0.0.1:9/spec.yaml"),
            "{err}"
        );
    }
}
