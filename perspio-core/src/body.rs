//! Reading a body someone else sends, with a size bound: the one way the stack reads one.
//!
//! A server chooses how much it sends. [`read_limited`] refuses a declared length above the
//! limit before reading a byte, reads the rest chunk by chunk, and stops as soon as the limit
//! would be crossed, so at most `limit` bytes are ever held. A body that arrives in one chunk
//! is returned as it is (no copy); a longer one is gathered into one buffer sized from its
//! declared length, so the body is in memory once, not twice.
//!
//! Each crate turns [`BodyTooLarge`] into its own typed error, which names the setting that
//! raises the limit (`perspio_api::ClientBuilder::with_max_body_size`,
//! `perspio_auth::AuthConfig::with_max_token_response_size`).
//!
//! ```
//! use bytes::Bytes;
//! use perspio_core::body::{read_limited, ReadError};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let chunks = || futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from("abc")), Ok(Bytes::from("def"))]);
//! assert_eq!(read_limited(chunks(), None, 6).await.unwrap(), "abcdef");
//! match read_limited(chunks(), None, 5).await {
//!     Err(ReadError::TooLarge(too_large)) => assert_eq!(too_large.limit, 5),
//!     other => panic!("{other:?}"),
//! }
//! # });
//! ```

use std::fmt;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

/// A body that is (or says it is) larger than the limit it was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: u64,
    /// The length the sender declared (`Content-Length`), when it declared one.
    pub declared: Option<u64>,
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.declared {
            Some(declared) if declared > self.limit => write!(
                f,
                "the body is {} long, more than the limit of {}",
                size(declared),
                size(self.limit)
            ),
            _ => write!(
                f,
                "the body is longer than the limit of {}",
                size(self.limit)
            ),
        }
    }
}

impl std::error::Error for BodyTooLarge {}

/// Why [`read_limited`] stopped.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The body is larger than the limit; reading stopped there.
    TooLarge(BodyTooLarge),
    /// The stream failed (a cut connection, a timeout).
    Read(E),
}

/// The whole of `body`, if it is at most `limit` bytes long; `declared` is the length the
/// sender announced (`Content-Length`), which is checked before anything is read and used to
/// size the buffer (never beyond `limit`, whatever the sender claims).
///
/// # Errors
/// [`ReadError::TooLarge`] as soon as the body is known to exceed `limit`;
/// [`ReadError::Read`] when the stream fails.
pub async fn read_limited<S, E>(
    body: S,
    declared: Option<u64>,
    limit: u64,
) -> Result<Bytes, ReadError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let too_large = || ReadError::TooLarge(BodyTooLarge { limit, declared });
    if declared.is_some_and(|declared| declared > limit) {
        return Err(too_large());
    }
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut gathered: Option<BytesMut> = None;
    let mut length: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(ReadError::Read)?;
        length = length.saturating_add(chunk.len() as u64);
        if length > limit {
            return Err(too_large());
        }
        match (&mut gathered, first.take()) {
            (Some(buffer), _) => buffer.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(earlier)) => {
                let capacity = declared.unwrap_or(0).clamp(length, limit);
                let mut buffer = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
                buffer.extend_from_slice(&earlier);
                buffer.extend_from_slice(&chunk);
                gathered = Some(buffer);
            }
        }
    }
    Ok(match gathered {
        Some(buffer) => buffer.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// A byte count for people: `512 bytes`, `64 KiB`, `1.5 MiB`, `2 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chunks(parts: &[&'static str]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p.as_bytes()))))
    }

    #[tokio::test]
    async fn a_declared_length_above_the_limit_is_refused_before_reading() {
        let never = futures::stream::pending::<Result<Bytes, std::io::Error>>();
        match read_limited(never, Some(11), 10).await {
            Err(ReadError::TooLarge(e)) => {
                assert_eq!(e.declared, Some(11));
                assert_eq!(
                    e.to_string(),
                    "the body is 11 bytes long, more than the limit of 10 bytes"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_undeclared_body_stops_at_the_limit_and_a_lying_length_does_not_help() {
        for declared in [None, Some(3)] {
            match read_limited(chunks(&["abcd", "efgh", "ij", "never read"]), declared, 10).await {
                Err(ReadError::TooLarge(e)) => assert_eq!(e.limit, 10),
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_are_returned_whole() {
        assert_eq!(
            read_limited(chunks(&["ab", "cd", "ef"]), Some(6), 6)
                .await
                .unwrap(),
            "abcdef"
        );
        assert_eq!(
            read_limited(chunks(&["one"]), None, 3).await.unwrap(),
            "one"
        );
        assert_eq!(read_limited(chunks(&[]), None, 0).await.unwrap(), "");
    }

    #[tokio::test]
    async fn a_read_error_is_handed_back() {
        let failing = futures::stream::iter([
            Ok(Bytes::from_static(b"a")),
            Err(std::io::Error::other("cut")),
        ]);
        assert!(matches!(
            read_limited(failing, None, 10).await,
            Err(ReadError::Read(_))
        ));
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(64 * 1024), "64 KiB");
        assert_eq!(size(64 * 1024 * 1024), "64 MiB");
        assert_eq!(size(1536 * 1024), "1.5 MiB");
        assert_eq!(size(u64::MAX), "16777216 TiB");
    }
}
