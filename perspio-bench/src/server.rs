//! A minimal in-process HTTP/1.1 server (hyper 1): the fake Entra token endpoint and
//! `GET /assets/v3/`. Deliberately tiny, so that the server is not the noise.
//!
//! It runs on its own Tokio runtime and thread, so client and server never share a worker.
//! [`Server::start_gateway`] adds the gateway's rate limit (scenario 7).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The tenant in the token URL and the `tid` header.
pub(crate) const TENANT: &str = "in-bench";

/// The body of `GET /assets/v3/`: a small fixed JSON array (three assets, 352 bytes).
pub(crate) const ASSETS_JSON: &str = r#"[{"id":"IN-000001","name":"Pallet 1","siteId":"S-01","type":"pallet","lastSeen":"2026-01-01T00:00:00Z","battery":97},{"id":"IN-000002","name":"Pallet 2","siteId":"S-01","type":"pallet","lastSeen":"2026-01-01T00:00:00Z","battery":88},{"id":"IN-000003","name":"Forklift 7","siteId":"S-02","type":"vehicle","lastSeen":"2026-01-01T00:00:00Z","battery":54}]"#;

/// Counters and knobs shared with the server tasks.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    token_requests: AtomicU64,
    api_requests: AtomicU64,
    /// Delay before the token endpoint answers, in microseconds.
    token_delay_us: AtomicU64,
    /// `expires_in` of issued tokens, in seconds.
    token_ttl_s: AtomicU64,
    /// When the last token answer was sent, in microseconds since `epoch`.
    last_token_answer_us: AtomicU64,
    /// The gateway's rate limit on `GET /assets/v3/`, if any.
    gateway: Option<Gateway>,
}

/// The gateway's rate limit, counted across every caller: at most `limit` requests in any
/// `per` (a sliding window, as APIM's `rate-limit` policy); `429` with `Retry-After` beyond.
#[derive(Debug)]
struct Gateway {
    limit: usize,
    per: Duration,
    log: Mutex<GatewayLog>,
}

/// What the gateway saw since it was last read.
#[derive(Debug, Default, Clone)]
pub(crate) struct GatewayLog {
    /// Arrival times of the accepted requests, in order.
    pub(crate) accepted: Vec<Instant>,
    /// Arrival times of the requests answered `429`, in order.
    pub(crate) rejected: Vec<Instant>,
    /// The accepted requests still inside the window, oldest first.
    window: VecDeque<Instant>,
}

impl Gateway {
    /// `None` when the request is accepted, else the `Retry-After` in whole seconds.
    fn admit(&self) -> Option<u64> {
        let now = Instant::now();
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        while log
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.per)
        {
            log.window.pop_front();
        }
        if log.window.len() >= self.limit {
            log.rejected.push(now);
            let free_in = self.per.saturating_sub(now.duration_since(log.window[0]));
            return Some((free_in.as_secs_f64().ceil() as u64).max(1));
        }
        log.window.push_back(now);
        log.accepted.push(now);
        None
    }
}

/// A running server; it stops when the process ends.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    epoch: Instant,
}

impl Server {
    /// Starts the server on `127.0.0.1:0` on a dedicated thread with a one-worker runtime.
    pub(crate) fn start() -> anyhow::Result<Self> {
        Self::start_with(Shared::default())
    }

    /// As [`start`](Self::start), `GET /assets/v3/` behind a gateway that lets at most `limit`
    /// requests through in any `per`, across all callers, and answers `429` with
    /// `Retry-After` (whole seconds, rounded up) beyond.
    pub(crate) fn start_gateway(limit: usize, per: Duration) -> anyhow::Result<Self> {
        Self::start_with(Shared {
            gateway: Some(Gateway {
                limit,
                per,
                log: Mutex::default(),
            }),
            ..Shared::default()
        })
    }

    fn start_with(shared: Shared) -> anyhow::Result<Self> {
        let shared = Arc::new(shared);
        shared.token_ttl_s.store(3600, Ordering::Relaxed);
        let epoch = Instant::now();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-server")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let task_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("bench-server-main".into())
            .spawn(move || runtime.block_on(accept_loop(listener, task_shared, epoch)))?;
        Ok(Self {
            addr,
            shared,
            epoch,
        })
    }

    /// `http://127.0.0.1:port`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token endpoint URL.
    pub(crate) fn token_url(&self) -> String {
        format!("http://{}/{TENANT}/oauth2/v2.0/token", self.addr)
    }

    pub(crate) fn token_requests(&self) -> u64 {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    pub(crate) fn api_requests(&self) -> u64 {
        self.shared.api_requests.load(Ordering::SeqCst)
    }

    pub(crate) fn set_token_delay(&self, delay: Duration) {
        self.shared
            .token_delay_us
            .store(delay.as_micros() as u64, Ordering::SeqCst);
    }

    /// What the gateway saw since the last call, and a fresh window for what follows (the
    /// default log for a server without a gateway).
    pub(crate) fn take_gateway_log(&self) -> GatewayLog {
        self.shared
            .gateway
            .as_ref()
            .map_or_else(GatewayLog::default, |gateway| {
                std::mem::take(&mut *gateway.log.lock().unwrap_or_else(PoisonError::into_inner))
            })
    }

    /// When the last token answer was sent (`None` before the first).
    pub(crate) fn last_token_answer(&self) -> Option<Instant> {
        match self.shared.last_token_answer_us.load(Ordering::SeqCst) {
            0 => None,
            us => Some(self.epoch + Duration::from_micros(us)),
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, epoch: Instant) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, Arc::clone(&shared), epoch));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    epoch: Instant,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_token = request.method() == Method::POST
        && request.uri().path() == format!("/{TENANT}/oauth2/v2.0/token");
    let is_assets = request.method() == Method::GET && request.uri().path() == "/assets/v3/";
    // Read the whole body so that the connection can be reused.
    let _ = request.into_body().collect().await;
    if is_assets {
        shared.api_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(retry_after) = shared.gateway.as_ref().and_then(Gateway::admit) {
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                Bytes::from(format!(
                    r#"{{"statusCode":429,"message":"Rate limit is exceeded. Try again in {retry_after} seconds."}}"#
                )),
            );
            response
                .headers_mut()
                .insert(hyper::header::RETRY_AFTER, retry_after.into());
            return Ok(response);
        }
        return Ok(json(
            StatusCode::OK,
            Bytes::from_static(ASSETS_JSON.as_bytes()),
        ));
    }
    if is_token {
        let n = shared.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = Duration::from_micros(shared.token_delay_us.load(Ordering::SeqCst));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let ttl = shared.token_ttl_s.load(Ordering::SeqCst);
        let body = format!(
            r#"{{"token_type":"Bearer","expires_in":{ttl},"access_token":"bench-token-{n:06}"}}"#
        );
        shared
            .last_token_answer_us
            .store(epoch.elapsed().as_micros().max(1) as u64, Ordering::SeqCst);
        return Ok(json(StatusCode::OK, Bytes::from(body)));
    }
    Ok(json(StatusCode::NOT_FOUND, Bytes::from_static(b"null")))
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
