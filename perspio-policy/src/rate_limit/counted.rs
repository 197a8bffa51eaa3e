//! Charging response bytes to the bandwidth quota: the `Content-Length` when the response has
//! one, else the body's bytes as they are read (charged when the body ends or is dropped).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use reqwest::Response;
use reqwest::ResponseBuilderExt as _;

/// Where charged bytes go.
pub(crate) type Sink = Arc<dyn Fn(u64) + Send + Sync>;

/// `response`, its bytes charged to `sink`.
pub(crate) fn charge(response: Response, sink: Sink) -> Response {
    if let Some(length) = response.content_length() {
        sink(length);
        return response;
    }
    let url = response.url().clone();
    let (mut parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    // Keep the URL reqwest reports for the response (it travels in the extensions).
    if let Ok(with_url) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(with_url.into_parts().0.extensions);
    }
    let counted = Counted {
        inner: body,
        bytes: 0,
        sink: Some(sink),
    };
    Response::from(http::Response::from_parts(
        parts,
        reqwest::Body::wrap(counted),
    ))
}

/// A body that counts the bytes that pass through it.
struct Counted {
    inner: reqwest::Body,
    bytes: u64,
    sink: Option<Sink>,
}

impl Counted {
    fn settle(&mut self) {
        if let Some(sink) = self.sink.take() {
            sink(self.bytes);
        }
    }
}

impl Body for Counted {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes = self.bytes.saturating_add(data.len() as u64);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.settle(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        // A body dropped unread still cost whatever crossed the wire before.
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn sink() -> (Sink, Arc<AtomicU64>) {
        let total = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&total);
        (
            Arc::new(move |n| {
                seen.fetch_add(n, Ordering::SeqCst);
            }),
            total,
        )
    }

    #[tokio::test]
    async fn a_body_without_content_length_is_charged_as_it_is_read() {
        let stream = futures::stream::iter([
            Ok::<_, std::io::Error>(Bytes::from_static(b"hello ")),
            Ok(Bytes::from_static(b"world")),
        ]);
        let response = Response::from(
            http::Response::builder()
                .url("https://talk.perspio.io/assets/v3/".parse().unwrap())
                .body(reqwest::Body::wrap_stream(stream))
                .unwrap(),
        );
        assert_eq!(response.content_length(), None);
        let (sink, total) = sink();
        let response = charge(response, sink);
        assert_eq!(
            response.url().as_str(),
            "https://talk.perspio.io/assets/v3/"
        );
        assert_eq!(total.load(Ordering::SeqCst), 0, "nothing read yet");
        assert_eq!(response.text().await.unwrap(), "hello world");
        assert_eq!(total.load(Ordering::SeqCst), 11);
    }

    #[tokio::test]
    async fn a_body_with_content_length_is_charged_at_once() {
        let response = Response::from(http::Response::builder().body("abc").unwrap());
        let (sink, total) = sink();
        let _ = charge(response, sink);
        assert_eq!(total.load(Ordering::SeqCst), 3);
    }
}
