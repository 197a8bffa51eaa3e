//! A minimal in-process HTTP/1.1 server (hyper 1): the fake Entra token endpoint and
//! `GET /assets/v3/`. Deliberately tiny, so that the server is not the noise.
//!
//! It runs on its own Tokio runtime and thread, so client and server never share a worker.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
        let shared = Arc::new(Shared::default());
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
