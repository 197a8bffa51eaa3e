//! Scenario 7: a fleet of real OS processes sharing one rate budget and one token through a
//! real `redis-server`, against the same fleet with a limiter per process (the behaviour
//! without a store), all against one gateway that enforces the limit across every process.
//!
//! The limit is PerspioTalk's 20 requests per window, scaled down in time from 90 s to 2 s,
//! and the guard margin with it (1 s of 90 s becomes 22 ms of 2 s). Each process is this
//! binary re-executed as the hidden `fleet-worker` subcommand ([`worker`]), which builds its
//! client with `ClientBuilder::from_env` and `with_rate_limit`; the shared runs also set
//! `PERSPIO_REDIS_URL`. Every configuration is a cold start: new processes, and a client id
//! of its own, so that neither the token record nor the budget in Redis is inherited.
//! Two more runs of 8 processes: one with a wider guard, one with Redis stopped mid-run.
//! [`latency`] measures what the shared limiter adds to one call, in process.

mod latency;
pub(crate) mod worker;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use perspio_store::testing::RedisServer;

use crate::server::{Server, TENANT};
use crate::stats::Row;
use worker::WorkerArgs;

/// The gateway's (and the clients') limit: requests per window.
const LIMIT: u32 = 20;
/// The window: 90 s scaled down to 2 s.
const PER: Duration = Duration::from_secs(2);
/// The clients' guard margin: the default 1 s on a 90 s window, scaled like the window.
const GUARD: Duration = Duration::from_millis(22);
/// A guard that also covers a cold process's first call (tens of ms on this machine; see
/// BENCHMARKS.md), for one more run of 8 processes.
const WIDE_GUARD: Duration = Duration::from_millis(100);
/// How long the token endpoint takes to answer: about 225 ms at the real scale (÷ 45). The
/// first call of a cold process reserves its slot before it has a token, so this delay (and
/// any wait for another process's lease) is spent inside the guard margin.
const TOKEN_DELAY: Duration = Duration::from_millis(5);
const FLEET_SIZES: [u32; 3] = [1, 4, 8];
/// The goal for the share of the allowed rate that the shared limiter uses.
const USE_GOAL: f64 = 0.95;

const SCENARIO: &str = "7 fleet";

#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    /// Calls per configuration, split evenly over its processes (rounded up).
    pub(crate) calls: u32,
    /// Rounds of the in-process latency comparison.
    pub(crate) latency_rounds: usize,
    /// Sequential calls per variant per round.
    pub(crate) latency_calls: usize,
}

/// Whose budget the processes of a run spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// One budget in Redis (and one token), `PERSPIO_REDIS_URL` set.
    Shared,
    /// Each process its own limiter with the full limit, and its own token: no store.
    PerProcess,
}

impl Budget {
    fn name(self) -> &'static str {
        match self {
            Budget::Shared => "shared limiter (Redis)",
            Budget::PerProcess => "per-process limiters",
        }
    }
}

/// One run of the fleet: new processes, and a client id of its own.
#[derive(Debug, Clone, Copy)]
struct Run {
    budget: Budget,
    processes: u32,
    /// Calls of the whole fleet, split evenly over its processes (rounded up).
    calls: u32,
    /// The clients' guard margin.
    guard: Duration,
    /// Redis is stopped this long after the fleet starts.
    stop_redis_after: Option<Duration>,
}

impl Run {
    fn cold(budget: Budget, processes: u32, calls: u32) -> Self {
        Self {
            budget,
            processes,
            calls,
            guard: GUARD,
            stop_redis_after: None,
        }
    }

    fn label(&self) -> String {
        let mut label = format!(
            "{}, {} × {} calls",
            self.budget.name(),
            self.processes,
            self.calls.div_ceil(self.processes)
        );
        if self.guard != GUARD {
            label.push_str(&format!(", guard {} ms", self.guard.as_millis()));
        }
        label
    }
}

/// What one run of a fleet did.
#[derive(Debug)]
struct Outcome {
    ok: u64,
    failed: u64,
    first_error: Option<String>,
    /// When the gateway accepted a request, in seconds from the start of the run.
    accepted_at: Vec<f64>,
    /// When it answered `429`, in seconds from the start of the run.
    rejected_at: Vec<f64>,
    token_requests: u64,
    /// Achieved ÷ allowed rate after the first window ([`budget_use`]).
    budget_use: Option<f64>,
    wall: Duration,
}

impl Outcome {
    fn rejected(&self) -> usize {
        self.rejected_at.len()
    }
}

/// The gateway, the Redis and this binary, to start workers from.
struct Fleet {
    gateway: Server,
    redis: RedisServer,
    exe: PathBuf,
    runs: usize,
}

impl Fleet {
    fn start() -> anyhow::Result<Self> {
        let gateway = Server::start_gateway(LIMIT as usize, PER)?;
        gateway.set_token_delay(TOKEN_DELAY);
        Ok(Self {
            gateway,
            redis: RedisServer::start()?,
            exe: std::env::current_exe().context("locating this binary to start workers")?,
            runs: 0,
        })
    }

    /// Starts the run's workers, stops Redis if asked to, and waits for them all.
    fn run(&mut self, run: Run) -> anyhow::Result<Outcome> {
        self.runs += 1;
        let args = WorkerArgs {
            calls: run.calls.div_ceil(run.processes),
            limit: LIMIT,
            per_ms: PER.as_millis() as u64,
            guard_ms: run.guard.as_millis() as u64,
        };
        let tokens_before = self.gateway.token_requests();
        self.gateway.take_gateway_log();
        let started = Instant::now();
        let workers = (0..run.processes)
            .map(|_| self.worker(&args, run))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if let Some(after) = run.stop_redis_after {
            std::thread::sleep(after);
            self.redis.stop();
        }
        let (mut ok, mut failed, mut first_error) = (0, 0, None);
        for worker in workers {
            let report = report(worker)?;
            ok += report["ok"].as_u64().context("worker report without ok")?;
            failed += report["failed"]
                .as_u64()
                .context("worker report without failed")?;
            if let Some(error) = report["first_error"].as_str() {
                first_error.get_or_insert_with(|| error.to_owned());
            }
        }
        let wall = started.elapsed();
        let log = self.gateway.take_gateway_log();
        ensure!(
            log.accepted.len() as u64 == ok,
            "the gateway accepted {} requests but the workers counted {ok} successful calls",
            log.accepted.len()
        );
        Ok(Outcome {
            ok,
            failed,
            first_error,
            accepted_at: seconds_since(started, &log.accepted),
            rejected_at: seconds_since(started, &log.rejected),
            token_requests: self.gateway.token_requests() - tokens_before,
            budget_use: budget_use(&log.accepted, LIMIT as usize, PER),
            wall,
        })
    }

    /// One worker process, configured through the environment as a user's worker would be.
    fn worker(&self, args: &WorkerArgs, run: Run) -> anyhow::Result<Child> {
        let mut command = Command::new(&self.exe);
        command
            .args(args.to_args())
            // Nothing of the caller's environment (a real PERSPIO_* credential) reaches it.
            .env_clear()
            // A client id per run: a cold token record and a fresh budget in Redis.
            .env(
                "PERSPIO_CLIENT_ID",
                format!("bench-fleet-run-{}", self.runs),
            )
            .env("PERSPIO_CLIENT_SECRET", "bench-secret")
            .env("PERSPIO_TENANT_ID", TENANT)
            .env("PERSPIO_SUBSCRIPTION_KEY", "bench-subscription-key")
            .env("PERSPIO_BASE_URL", self.gateway.base_url())
            .env("PERSPIO_TOKEN_URL", self.gateway.token_url())
            .env("PERSPIO_FLEET_SIZE", run.processes.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if run.budget == Budget::Shared {
            command.env("PERSPIO_REDIS_URL", self.redis.url());
        }
        command.spawn().context("starting a fleet worker")
    }
}

fn seconds_since(start: Instant, times: &[Instant]) -> Vec<f64> {
    times
        .iter()
        .map(|t| t.saturating_duration_since(start).as_secs_f64())
        .collect()
}

/// Waits for a worker and parses its one-line JSON report.
fn report(worker: Child) -> anyhow::Result<serde_json::Value> {
    let output = worker.wait_with_output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "a fleet worker failed ({}): {text}",
        output.status
    );
    serde_json::from_str(text.trim()).with_context(|| format!("a fleet worker printed {text:?}"))
}

/// The share of the allowed rate used after the first window.
///
/// With `accepted` the gateway's accepted arrivals in order (0-based) and L = `limit`: the
/// first L may go at once (a sliding window allows a burst), so the steady rate is counted
/// from arrival L, over whole multiples of L: m·L requests in `accepted[(m+1)L] −
/// accepted[L]`, m as large as the arrivals allow. Divided by the allowed rate L / `per`.
/// A limiter that spaces every request `per + guard` after its L-th predecessor scores
/// `per / (per + guard)`. `None` with fewer than 2L + 1 arrivals.
fn budget_use(accepted: &[Instant], limit: usize, per: Duration) -> Option<f64> {
    let windows = (accepted.len().checked_sub(1)? / limit).checked_sub(1)?;
    if windows == 0 {
        return None;
    }
    let span = accepted[(windows + 1) * limit].duration_since(accepted[limit]);
    let achieved = (windows * limit) as f64 / span.as_secs_f64();
    Some(achieved / (limit as f64 / per.as_secs_f64()))
}

fn fmt_use(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".into(), |v| format!("{v:.3}"))
}

pub(crate) fn run(
    server: &Server,
    runtime: &tokio::runtime::Runtime,
    params: Params,
) -> anyhow::Result<Vec<Row>> {
    let mut fleet = Fleet::start()?;
    let mut rows = runtime.block_on(latency::run(server, &fleet.redis.url(), params))?;

    let mut measured = |run: Run, rows: &mut Vec<Row>| -> anyhow::Result<Outcome> {
        eprintln!("  {}", run.label());
        let outcome = fleet.run(run)?;
        rows.push(Row::new(
            SCENARIO,
            format!(
                "{}: budget use (achieved ÷ allowed) / 429s / failed calls / token requests / wall s",
                run.label()
            ),
            format!(
                "{} / {} / {} / {} / {:.1}",
                fmt_use(outcome.budget_use),
                outcome.rejected(),
                outcome.failed,
                outcome.token_requests,
                outcome.wall.as_secs_f64()
            ),
        ));
        Ok(outcome)
    };
    let (mut shared, mut per_process) = (Vec::new(), Vec::new());
    for processes in FLEET_SIZES {
        shared.push(measured(
            Run::cold(Budget::Shared, processes, params.calls),
            &mut rows,
        )?);
        per_process.push(measured(
            Run::cold(Budget::PerProcess, processes, params.calls),
            &mut rows,
        )?);
    }
    let wide_guard = measured(
        Run {
            guard: WIDE_GUARD,
            ..Run::cold(Budget::Shared, 8, params.calls)
        },
        &mut rows,
    )?;
    let stop_after = 2 * PER;
    eprintln!("  shared limiter, 8 processes, Redis stopped after {stop_after:?}");
    let outage = fleet.run(Run {
        stop_redis_after: Some(stop_after),
        ..Run::cold(Budget::Shared, 8, params.calls)
    })?;

    let eight = FLEET_SIZES.len() - 1;
    rows.push(
        Row::new(
            SCENARIO,
            "token requests per cold start of 8 processes: shared / per-process",
            format!(
                "{} / {}",
                shared[eight].token_requests, per_process[eight].token_requests
            ),
        )
        .goal("1 (shared)", shared[eight].token_requests == 1),
    );
    let list = |f: &dyn Fn(&Outcome) -> String, of: &[Outcome]| {
        of.iter().map(f).collect::<Vec<_>>().join(", ")
    };
    rows.push(
        Row::new(
            SCENARIO,
            "429s, 1 / 4 / 8 cold processes: shared (per-process)",
            format!(
                "{} ({})",
                list(&|o| o.rejected().to_string(), &shared),
                list(&|o| o.rejected().to_string(), &per_process)
            ),
        )
        .goal("0 (shared)", shared.iter().all(|o| o.rejected() == 0)),
    );
    rows.push(Row::new(
        SCENARIO,
        format!(
            "shared limiter: when its 429s came, s from the start (1 / 4 / 8 cold processes; 8 with a {} ms guard)",
            WIDE_GUARD.as_millis()
        ),
        shared
            .iter()
            .chain([&wide_guard])
            .map(|o| match o.rejected_at.as_slice() {
                [] => "none".to_owned(),
                times => times
                    .iter()
                    .map(|t| format!("{t:.3}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            })
            .collect::<Vec<_>>()
            .join(" / "),
    ));
    rows.push(
        Row::new(
            SCENARIO,
            "budget use, 1 / 4 / 8 cold processes: shared (per-process)",
            format!(
                "{} ({})",
                list(&|o| fmt_use(o.budget_use), &shared),
                list(&|o| fmt_use(o.budget_use), &per_process)
            ),
        )
        .goal(
            "≥ 0.95 (shared)",
            shared
                .iter()
                .all(|o| o.budget_use.is_some_and(|u| u >= USE_GOAL)),
        ),
    );
    rows.push(
        Row::new(
            SCENARIO,
            format!(
                "Redis stopped {} s into a run of 8 processes (shared): failed calls / 429s / successful calls (of which after the stop) / token requests / wall s (no stop: {:.1})",
                stop_after.as_secs(),
                shared[eight].wall.as_secs_f64()
            ),
            format!(
                "{} / {} / {} ({}) / {} / {:.1}",
                outage.failed,
                outage.rejected(),
                outage.ok,
                outage
                    .accepted_at
                    .iter()
                    .filter(|t| **t >= stop_after.as_secs_f64())
                    .count(),
                outage.token_requests,
                outage.wall.as_secs_f64()
            ),
        )
        .goal("0 failed calls", outage.failed == 0),
    );
    let first_error = shared
        .iter()
        .chain(&per_process)
        .chain([&wide_guard, &outage])
        .find_map(|o| o.first_error.as_deref());
    if let Some(error) = first_error {
        rows.push(Row::new(
            SCENARIO,
            "first failed call's error",
            one_cell(error),
        ));
    }
    rows.push(Row::new(
        SCENARIO,
        "settings: gateway limit / client guard / calls per configuration / token endpoint delay",
        format!(
            "{LIMIT} per {} s (sliding window, across processes) / {} ms / {} / {} ms",
            PER.as_secs(),
            GUARD.as_millis(),
            params.calls,
            TOKEN_DELAY.as_millis()
        ),
    ));
    Ok(rows)
}

/// An error message fit for one table cell.
fn one_cell(error: &str) -> String {
    let one_line: String = error.replace(['\n', '|'], " ");
    one_line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arrivals in bursts of `limit`, one burst every `every`.
    fn bursts(limit: usize, count: usize, every: Duration) -> Vec<Instant> {
        let start = Instant::now();
        (0..count)
            .map(|i| start + every * (i / limit) as u32 + Duration::from_micros((i % limit) as u64))
            .collect()
    }

    #[test]
    fn a_limiter_spacing_windows_by_per_plus_guard_uses_per_over_per_plus_guard() {
        let per = Duration::from_secs(2);
        let arrivals = bursts(20, 120, per + Duration::from_millis(22));
        let used = budget_use(&arrivals, 20, per).unwrap_or_default();
        assert!((used - 2.0 / 2.022).abs() < 1e-3, "{used}");
    }

    #[test]
    fn the_first_window_and_a_partial_last_window_are_not_counted() {
        let per = Duration::from_secs(2);
        // 2 full windows after the first, then 5 stragglers long after.
        let mut arrivals = bursts(20, 61, per);
        let last = arrivals[60];
        arrivals.extend((1..5).map(|i| last + per * 10 * i));
        let used = budget_use(&arrivals, 20, per).unwrap_or_default();
        assert!((used - 1.0).abs() < 1e-3, "{used}");
    }

    #[test]
    fn fewer_than_two_windows_and_one_arrival_give_no_figure() {
        let per = Duration::from_secs(2);
        assert_eq!(budget_use(&bursts(20, 40, per), 20, per), None);
        assert_eq!(budget_use(&[], 20, per), None);
    }
}
