//! Scenario 4: steady traffic across a proactive refresh with a slow token endpoint.
//!
//! A [`ManualClock`] puts the cached token (60-minute lifetime, jitter off: `refresh_at` at
//! 48 min, `must_refresh_at` at 59 min) into its refresh-ahead window at 55 min; the token
//! endpoint then takes [`TOKEN_DELAY`] to answer. Closed-loop traffic from [`LOOPS`] tasks
//! runs for [`PHASE`] of wall time, once with a fresh token (control) and once across the
//! refresh. A request *waited for the token endpoint* when its latency is at least half the
//! token delay (typical latencies are three orders of magnitude smaller).

use std::sync::Arc;
use std::time::{Duration, Instant};

use perspio_auth::ManualClock;

use crate::clients;
use crate::server::Server;
use crate::stats::{Row, median, micros, quantile};

pub(crate) const TOKEN_DELAY: Duration = Duration::from_millis(200);
const LOOPS: usize = 8;
const PHASE: Duration = Duration::from_millis(1000);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) rounds: usize,
}

/// `(start, latency µs)` of every call made by [`LOOPS`] closed loops during [`PHASE`].
async fn traffic(client: &perspio_api::Client) -> anyhow::Result<Vec<(Instant, f64)>> {
    let deadline = Instant::now() + PHASE;
    let client = Arc::new(client.clone());
    let tasks: Vec<_> = (0..LOOPS)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    clients::perspio_call(&client).await?;
                    samples.push((started, micros(started.elapsed())));
                }
                anyhow::Ok(samples)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    Ok(all)
}

struct Round {
    token_requests: u64,
    waited: usize,
    during_flight: usize,
    calls: usize,
    control_p99: f64,
    refresh_p99: f64,
}

async fn round(server: &Server) -> anyhow::Result<Round> {
    server.set_token_delay(Duration::ZERO);
    let clock = ManualClock::new();
    let client = clients::perspio_with_clock(server, clock.clone())?;
    clients::perspio_call(&client).await?;

    clock.advance(Duration::from_secs(60));
    let control = traffic(&client).await?;
    let control_lat: Vec<f64> = control.iter().map(|&(_, l)| l).collect();

    server.set_token_delay(TOKEN_DELAY);
    clock.advance(Duration::from_secs(54 * 60));
    let before = server.token_requests();
    let phase_start = Instant::now();
    let refresh = traffic(&client).await?;
    let token_requests = server.token_requests() - before;
    server.set_token_delay(Duration::ZERO);
    let answered = server.last_token_answer().unwrap_or(phase_start);

    let refresh_lat: Vec<f64> = refresh.iter().map(|&(_, l)| l).collect();
    let threshold = micros(TOKEN_DELAY) / 2.0;
    Ok(Round {
        token_requests,
        waited: refresh_lat.iter().filter(|&&l| l >= threshold).count(),
        during_flight: refresh
            .iter()
            .filter(|&&(s, _)| s >= phase_start && s < answered)
            .count(),
        calls: refresh.len(),
        control_p99: quantile(&control_lat, 0.99),
        refresh_p99: quantile(&refresh_lat, 0.99),
    })
}

pub(crate) async fn run(server: &Server, params: Params) -> anyhow::Result<Vec<Row>> {
    let mut rounds = Vec::new();
    for _ in 0..params.rounds {
        rounds.push(round(server).await?);
    }
    let waited: Vec<usize> = rounds.iter().map(|r| r.waited).collect();
    let tokens: Vec<u64> = rounds.iter().map(|r| r.token_requests).collect();
    let flight: Vec<usize> = rounds.iter().map(|r| r.during_flight).collect();
    let calls: Vec<usize> = rounds.iter().map(|r| r.calls).collect();
    let added: Vec<f64> = rounds
        .iter()
        .map(|r| r.refresh_p99 - r.control_p99)
        .collect();
    let control: Vec<f64> = rounds.iter().map(|r| r.control_p99).collect();
    let refresh: Vec<f64> = rounds.iter().map(|r| r.refresh_p99).collect();
    let s = "4 expiry boundary";
    Ok(vec![
        Row::new(
            s,
            format!(
                "requests that waited for the token endpoint ({} ms) per round",
                TOKEN_DELAY.as_millis()
            ),
            format!("{waited:?}"),
        )
        .goal("0", waited.iter().all(|&w| w == 0)),
        Row::new(
            s,
            "requests sent while the refresh was in flight / all calls in the phase, per round",
            format!("{flight:?} / {calls:?}"),
        ),
        Row::new(
            s,
            "token requests in the phase, per round",
            format!("{tokens:?}"),
        )
        .goal("1", tokens.iter().all(|&t| t == 1)),
        Row::new(
            s,
            "p99 µs control → across refresh (median over rounds)",
            format!("{:.0} → {:.0}", median(&control), median(&refresh)),
        ),
        Row::new(
            s,
            "p99 added latency (median over rounds)",
            format!("{:.0} µs", median(&added)),
        ),
    ])
}
