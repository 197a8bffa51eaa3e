//! Shared fixtures: clients on a virtual clock, a rate-enforcing responder, a raw TCP server
//! that resets connections, and a tracing capture.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use perspio_policy::{
    Clock, Jitter, ManualClock, PolicyError, RateLimitMiddleware, RetryConfig, RetryMiddleware,
};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const SECOND: Duration = Duration::from_secs(1);

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Retry settings with no jitter, so every wait is predictable: backoff 1 s, 2 s, 4 s, … ≤ 8 s.
pub(crate) fn deterministic_retry() -> RetryConfig {
    RetryConfig::default()
        .with_jitter(Jitter::None)
        .with_base_delay(SECOND)
        .with_max_delay(secs(8))
}

/// Mounts, for `verb` requests: `first` for the first `times` requests, then `then` once.
/// Each mock expects exactly its count, so one request too many or too few fails the test.
pub(crate) async fn answers_then(
    server: &MockServer,
    verb: &str,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method(verb))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .expect(times)
        .named(format!("the first {times} answer(s)"))
        .mount(server)
        .await;
    Mock::given(method(verb))
        .respond_with(then)
        .expect(1)
        .named("the answer after them")
        .mount(server)
        .await;
}

/// A client with only the retry middleware, on `clock`.
pub(crate) fn retry_client(config: RetryConfig, clock: &ManualClock) -> ClientWithMiddleware {
    install_global_tracing();
    perspio_core::tls::install_crypto_provider();
    ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(config).with_clock(clock.clone()))
        .build()
}

/// A client with only `limiter`.
pub(crate) fn limited_client(limiter: RateLimitMiddleware) -> ClientWithMiddleware {
    install_global_tracing();
    perspio_core::tls::install_crypto_provider();
    ClientBuilder::new(reqwest::Client::new())
        .with(limiter)
        .build()
}

/// The policy error inside a middleware-stack error, or a panic naming what came instead.
#[track_caller]
pub(crate) fn policy_error(err: &reqwest_middleware::Error) -> &PolicyError {
    PolicyError::from_middleware_error(err)
        .unwrap_or_else(|| panic!("expected a PolicyError, got {err:?}"))
}

/// A server that enforces "at most `limit` requests in any `per`" on the given (virtual)
/// clock, answering `429` with `Retry-After` when a request exceeds it, like PerspioTalk.
///
/// The window is half-open: a request exactly `per` after another no longer counts it.
#[derive(Debug, Clone)]
pub(crate) struct RateEnforcingServer {
    clock: ManualClock,
    limit: usize,
    per: Duration,
    seen: Arc<Mutex<VecDeque<Instant>>>,
    rejected: Arc<AtomicUsize>,
}

impl RateEnforcingServer {
    pub(crate) fn new(clock: &ManualClock, limit: usize, per: Duration) -> Self {
        Self {
            clock: clock.clone(),
            limit,
            per,
            seen: Arc::default(),
            rejected: Arc::default(),
        }
    }

    /// How many requests were answered `429`.
    pub(crate) fn rejected(&self) -> usize {
        self.rejected.load(Ordering::SeqCst)
    }
}

impl Respond for RateEnforcingServer {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let now = self.clock.instant();
        let mut seen = self.seen.lock().unwrap();
        while seen
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.per)
        {
            seen.pop_front();
        }
        if seen.len() >= self.limit {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            let wait = self.per - now.duration_since(seen[0]);
            return ResponseTemplate::new(429)
                .insert_header("Retry-After", wait.as_secs().max(1).to_string().as_str());
        }
        seen.push_back(now);
        ResponseTemplate::new(200).set_body_string("ok")
    }
}

/// A raw HTTP/1.1 server on 127.0.0.1 whose first `resets` connections are reset (read, then
/// closed with `SO_LINGER 0`, so the client sees a reset without any response), and every later
/// connection gets `200 ok`. Returns its base URL and a connection counter.
pub(crate) async fn reset_then_ok_server(resets: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            if n < resets {
                // SO_LINGER 0 turns the close into a reset; it cannot block with a zero linger.
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
                drop(stream);
            } else {
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = stream.shutdown().await;
            }
        }
    });
    (url, connections)
}

type EventLog = Arc<Mutex<Vec<HashMap<String, String>>>>;

thread_local! {
    /// The capture of the test running on this thread, if any.
    static CURRENT_CAPTURE: std::cell::RefCell<Option<EventLog>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once per test binary) a global subscriber that hands each event to the capture of
/// the thread that emitted it.
///
/// A global subscriber, not `tracing::subscriber::set_default`: while only one scoped
/// subscriber is alive, tracing computes a new callsite's interest from the *registering*
/// thread's default, so a test on another thread (no subscriber) can cache "never" for our
/// callsites and the capture misses events.
pub(crate) fn install_global_tracing() {
    static INSTALLED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(ThreadCaptureLayer);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Every tracing event emitted on this thread while installed: its fields (including
/// `message`), as text. Tests run on their own thread (tokio's current-thread runtime), so
/// each test sees only its own events.
#[derive(Debug, Clone, Default)]
pub(crate) struct CapturedEvents {
    events: EventLog,
}

/// Ends the capture when dropped.
#[derive(Debug)]
pub(crate) struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CURRENT_CAPTURE.with(|current| current.borrow_mut().take());
    }
}

impl CapturedEvents {
    /// Captures this thread's events until the guard is dropped.
    pub(crate) fn install() -> (Self, CaptureGuard) {
        install_global_tracing();
        let captured = Self::default();
        CURRENT_CAPTURE.with(|current| *current.borrow_mut() = Some(captured.events.clone()));
        (captured, CaptureGuard)
    }

    /// Events whose `message` is `message`.
    pub(crate) fn with_message(&self, message: &str) -> Vec<HashMap<String, String>> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|event| event.get("message").map(String::as_str) == Some(message))
            .cloned()
            .collect()
    }

    /// Everything captured, as one string (to check what must *not* be logged).
    pub(crate) fn all_text(&self) -> String {
        format!("{:?}", self.events.lock().unwrap())
    }
}

struct FieldVisitor<'a>(&'a mut HashMap<String, String>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct ThreadCaptureLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ThreadCaptureLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let Some(log) = CURRENT_CAPTURE.with(|current| current.borrow().clone()) else {
            return;
        };
        let mut fields = HashMap::new();
        fields.insert("level".to_owned(), event.metadata().level().to_string());
        fields.insert("target".to_owned(), event.metadata().target().to_owned());
        event.record(&mut FieldVisitor(&mut fields));
        log.lock().unwrap().push(fields);
    }
}
