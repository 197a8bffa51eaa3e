//! A fleet of real OS processes (`perspio-fleet-worker`, built the user's way with
//! `ClientBuilder::from_env`) sharing a real `redis-server`, against a fake gateway that
//! enforces one rate limit across all of them (scaled down in time), and a fake Entra.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use perspio_store::testing::RedisServer;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, Perspio, SUBSCRIPTION_KEY, TENANT_ID, TOKEN_PATH, fixture,
};

/// The guard margin of the workers' limiter. Time is scaled down (seconds instead of 90 s),
/// but the scheduling delay between a worker's slot and its request reaching the gateway is
/// not: on a loaded 2-core machine, 8 processes can be 100 ms late. 300 ms on a 4 s window
/// costs 7 % of the rate (1 s on 90 s costs 1 % in production).
const GUARD: Duration = Duration::from_millis(300);

/// The gateway: at most `limit` requests in any `per`, counted across every caller; `429`
/// with `Retry-After` beyond. Records every arrival.
#[derive(Clone)]
struct Gateway {
    limit: usize,
    per: Duration,
    state: Arc<Mutex<GatewayState>>,
}

#[derive(Default)]
struct GatewayState {
    window: VecDeque<Instant>,
    arrivals: Vec<Instant>,
    rejected: usize,
}

impl Gateway {
    fn new(limit: usize, per: Duration) -> Self {
        Gateway {
            limit,
            per,
            state: Arc::default(),
        }
    }

    fn rejected(&self) -> usize {
        self.state.lock().unwrap().rejected
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.state.lock().unwrap().arrivals.clone()
    }
}

impl Respond for Gateway {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        state.arrivals.push(now);
        while state
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.per)
        {
            state.window.pop_front();
        }
        if state.window.len() >= self.limit {
            state.rejected += 1;
            let free_in = self.per - now.duration_since(state.window[0]);
            return ResponseTemplate::new(429)
                .insert_header("Retry-After", (free_in.as_secs() + 1).to_string())
                .set_body_json(fixture("apim_429.json"));
        }
        state.window.push_back(now);
        ResponseTemplate::new(200).set_body_json(fixture("assets.json"))
    }
}

/// Entra: counts token requests; the first `slow` of them hang for a minute.
#[derive(Clone, Default)]
struct Entra {
    issued: Arc<AtomicUsize>,
    slow: usize,
}

impl Respond for Entra {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let answer = ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "access_token": format!("fleet-token-{n}"),
        }));
        if n <= self.slow {
            answer.set_delay(Duration::from_secs(60))
        } else {
            answer
        }
    }
}

/// The fleet tests run one at a time: each measures real time across real processes, and
/// two fleets on two cores would measure each other.
static ONE_FLEET_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Fleet {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    perspio: Perspio,
    redis: RedisServer,
    entra: Entra,
}

impl Fleet {
    async fn start(gateway: &Gateway, entra: Entra) -> Self {
        let turn = ONE_FLEET_AT_A_TIME.lock().await;
        let perspio = Perspio::start().await;
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(entra.clone())
            .mount(&perspio.entra)
            .await;
        Mock::given(method("GET"))
            .and(path("/assets/v3/"))
            .respond_with(gateway.clone())
            .mount(&perspio.api)
            .await;
        Fleet {
            _turn: turn,
            perspio,
            redis: RedisServer::start().unwrap(),
            entra,
        }
    }

    /// One worker process making `calls` calls under `limit` per `per`.
    fn worker(&self, calls: u32, limit: usize, per: Duration, extra: &[(&str, &str)]) -> Child {
        let mut command = Command::new(env!("CARGO_BIN_EXE_perspio-fleet-worker"));
        command
            .env_clear()
            // No profile: a directory that does not exist holds no config.toml.
            .env(
                "PERSPIO_CONFIG_DIR",
                "/nonexistent/perspio-fleet-test-config",
            )
            .env("PERSPIO_CLIENT_ID", CLIENT_ID)
            .env("PERSPIO_CLIENT_SECRET", CLIENT_SECRET)
            .env("PERSPIO_TENANT_ID", TENANT_ID)
            .env("PERSPIO_SUBSCRIPTION_KEY", SUBSCRIPTION_KEY)
            .env("PERSPIO_BASE_URL", self.perspio.api.uri())
            .env("PERSPIO_TOKEN_URL", self.perspio.token_url())
            .env("PERSPIO_REDIS_URL", self.redis.url())
            .env("FLEET_CALLS", calls.to_string())
            .env("FLEET_LIMIT", limit.to_string())
            .env("FLEET_PER_MS", per.as_millis().to_string())
            .env("FLEET_GUARD_MS", GUARD.as_millis().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in extra {
            command.env(name, value);
        }
        command.spawn().unwrap()
    }

    fn token_requests(&self) -> usize {
        self.entra.issued.load(Ordering::SeqCst)
    }
}

/// Waits for a worker and returns its report.
async fn report(child: Child) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("worker printed {text:?} ({e}); status {}", output.status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_cold_processes_fetch_one_token_draw_no_429_and_use_the_shared_rate() {
    const PROCESSES: usize = 8;
    const CALLS: u32 = 25;
    let (limit, per) = (50, Duration::from_secs(4));
    let gateway = Gateway::new(limit, per);
    let fleet = Fleet::start(&gateway, Entra::default()).await;

    let workers: Vec<Child> = (0..PROCESSES)
        .map(|_| fleet.worker(CALLS, limit, per, &[]))
        .collect();
    let mut reports = Vec::new();
    for worker in workers {
        reports.push(report(worker).await);
    }

    for report in &reports {
        assert_eq!(report["ok"], u64::from(CALLS), "{report}");
        assert_eq!(report["failed"], serde_json::json!([]), "{report}");
    }
    assert_eq!(fleet.token_requests(), 1, "one token for the whole fleet");
    assert_eq!(gateway.rejected(), 0, "no 429 anywhere");
    // The steady rate: `limit` requests per the median time the gateway saw between a request
    // and the one `limit` places later (the first full window excluded). The median is robust
    // to the few requests a loaded machine delivers late.
    let mut arrivals = gateway.arrivals();
    assert_eq!(arrivals.len(), PROCESSES * CALLS as usize);
    arrivals.sort();
    let mut spans: Vec<Duration> = (limit..arrivals.len())
        .map(|i| arrivals[i].duration_since(arrivals[i - limit]))
        .collect();
    spans.sort();
    let median = spans[spans.len() / 2];
    let achieved = limit as f64 / median.as_secs_f64();
    let allowed = limit as f64 / per.as_secs_f64();
    eprintln!(
        "fleet: {achieved:.2} requests/s of {allowed:.2} allowed (median {median:?} per {limit})"
    );
    assert!(
        achieved >= 0.9 * allowed,
        "the fleet used {achieved:.1} requests/s of the {allowed:.1} allowed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_holder_killed_mid_fetch_is_replaced_once_its_lease_expires() {
    let gateway = Gateway::new(1000, Duration::from_secs(1));
    let fleet = Fleet::start(
        &gateway,
        Entra {
            slow: 1,
            ..Entra::default()
        },
    )
    .await;
    let lease = [("FLEET_LEASE_TTL_MS", "1500")];

    // The first worker takes the lease and hangs in its token request; kill it there.
    let mut holder = fleet.worker(1, 1000, Duration::from_secs(1), &lease);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fleet.token_requests() == 0 {
        assert!(
            Instant::now() < deadline,
            "the first worker never asked for a token"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = fleet.worker(3, 1000, Duration::from_secs(1), &lease);
    tokio::time::sleep(Duration::from_millis(200)).await;
    holder.kill().unwrap();
    let _ = holder.wait();

    let report = report(second).await;

    assert_eq!(report["ok"], 3, "{report}");
    assert_eq!(report["failed"], serde_json::json!([]), "{report}");
    assert_eq!(
        fleet.token_requests(),
        2,
        "the dead holder's request, then the second worker's once the lease expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_fails_no_call_and_the_fleet_shares_again_after_a_restart() {
    let gateway = Gateway::new(1000, Duration::from_secs(1));
    let mut fleet = Fleet::start(&gateway, Entra::default()).await;
    let run = |fleet: &Fleet| fleet.worker(5, 1000, Duration::from_secs(1), &[]);

    let before = report(run(&fleet)).await;
    fleet.redis.stop();
    let during = report(run(&fleet)).await;
    fleet.redis.restart().unwrap();
    let after = report(run(&fleet)).await;

    for (when, report) in [("before", &before), ("during", &during), ("after", &after)] {
        assert_eq!(report["ok"], 5, "{when}: {report}");
        assert_eq!(report["failed"], serde_json::json!([]), "{when}: {report}");
    }
    // Before: one token, stored. During the outage the worker fetched directly. After the
    // restart (Redis empty) one worker fetched and stored again.
    assert_eq!(fleet.token_requests(), 3);
    let mut conn = redis::Client::open(fleet.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("perspio:v1:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        keys.iter().any(|k| k.contains(":token:")) && keys.iter().any(|k| k.contains(":rl:")),
        "after the restart the fleet shares its token and budget again: {keys:?}"
    );
}
