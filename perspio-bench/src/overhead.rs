//! Scenario 1: per-call overhead of the generated client (default stack, token cached)
//! against raw `reqwest`, same server, same run, interleaved rounds.

use std::sync::Arc;
use std::time::Instant;

use crate::clients::{self, Raw};
use crate::server::Server;
use crate::stats::{Row, median, micros};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) rounds: usize,
    /// Sequential calls per round at concurrency 1.
    pub(crate) latency_calls: usize,
    /// Calls per task per round at concurrency 64.
    pub(crate) throughput_calls: usize,
}

const CONCURRENCY: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Raw,
    Perspio,
}

/// Calls one side once.
async fn call(side: Side, raw: &Raw, client: &perspio_api::Client) -> anyhow::Result<()> {
    match side {
        Side::Raw => raw.call().await.map(drop),
        Side::Perspio => clients::perspio_call(client).await.map(drop),
    }
}

/// The median latency of `n` sequential calls, in microseconds.
async fn latency_round(
    side: Side,
    n: usize,
    raw: &Raw,
    client: &perspio_api::Client,
) -> anyhow::Result<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        call(side, raw, client).await?;
        samples.push(micros(started.elapsed()));
    }
    Ok(median(&samples))
}

/// Calls per second with [`CONCURRENCY`] tasks of `per_task` calls each.
async fn throughput_round(
    side: Side,
    per_task: usize,
    raw: &Raw,
    client: &perspio_api::Client,
) -> anyhow::Result<f64> {
    let raw = Arc::new(raw.clone());
    let client = Arc::new(client.clone());
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let raw = Arc::clone(&raw);
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                for _ in 0..per_task {
                    call(side, &raw, &client).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((CONCURRENCY * per_task) as f64 / elapsed)
}

/// ABBA order: round `i` starts with raw when `i` is even.
fn order(round: usize) -> [Side; 2] {
    if round.is_multiple_of(2) {
        [Side::Raw, Side::Perspio]
    } else {
        [Side::Perspio, Side::Raw]
    }
}

pub(crate) async fn run(server: &Server, params: Params) -> anyhow::Result<Vec<Row>> {
    let raw = Raw::new(server)?;
    let client = clients::perspio(server)?;
    // Warm up: the token is fetched and cached, both pools hold 64 connections.
    throughput_round(Side::Raw, 20, &raw, &client).await?;
    throughput_round(Side::Perspio, 20, &raw, &client).await?;
    let tokens_before = server.token_requests();

    let (mut lat_raw, mut lat_sdk, mut lat_ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..params.rounds {
        let (mut r, mut p) = (0.0, 0.0);
        for side in order(round) {
            let m = latency_round(side, params.latency_calls, &raw, &client).await?;
            match side {
                Side::Raw => r = m,
                Side::Perspio => p = m,
            }
        }
        lat_raw.push(r);
        lat_sdk.push(p);
        lat_ratio.push(p / r);
    }

    let (mut thr_raw, mut thr_sdk, mut thr_ratio) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..params.rounds {
        let (mut r, mut p) = (0.0, 0.0);
        for side in order(round) {
            let t = throughput_round(side, params.throughput_calls, &raw, &client).await?;
            match side {
                Side::Raw => r = t,
                Side::Perspio => p = t,
            }
        }
        thr_raw.push(r);
        thr_sdk.push(p);
        thr_ratio.push(p / r);
    }
    let extra_tokens = server.token_requests() - tokens_before;

    let lat_ratio_of_medians = median(&lat_sdk) / median(&lat_raw);
    let thr_ratio_of_medians = median(&thr_sdk) / median(&thr_raw);
    let s = "1 overhead";
    Ok(vec![
        Row::new(
            s,
            "latency c=1, median µs (raw → perspio)",
            format!("{:.1} → {:.1}", median(&lat_raw), median(&lat_sdk)),
        ),
        Row::new(
            s,
            "latency ratio c=1 (perspio/raw, ratio of medians)",
            format!(
                "{lat_ratio_of_medians:.3} (median of per-round ratios {:.3})",
                median(&lat_ratio)
            ),
        )
        .goal("≤ 1.05", lat_ratio_of_medians <= 1.05),
        Row::new(s, "latency ratio c=1, per-round range", range(&lat_ratio)),
        Row::new(
            s,
            "throughput c=64, median calls/s (raw → perspio)",
            format!("{:.0} → {:.0}", median(&thr_raw), median(&thr_sdk)),
        ),
        Row::new(
            s,
            "throughput ratio c=64 (perspio/raw, ratio of medians)",
            format!(
                "{thr_ratio_of_medians:.3} (median of per-round ratios {:.3})",
                median(&thr_ratio)
            ),
        )
        .goal("≥ 0.95", thr_ratio_of_medians >= 0.95),
        Row::new(
            s,
            "throughput ratio c=64, per-round range",
            range(&thr_ratio),
        ),
        Row::new(
            s,
            "token requests during measurement",
            extra_tokens.to_string(),
        )
        .goal("0", extra_tokens == 0),
        Row::new(
            s,
            "rounds (ABBA) × calls",
            format!(
                "{} × ({} seq, {}×{} conc)",
                params.rounds, params.latency_calls, CONCURRENCY, params.throughput_calls
            ),
        ),
    ])
}

fn range(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.3} – {max:.3}")
}
