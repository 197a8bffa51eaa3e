//! Scenario 1: per-call overhead of the generated client (default stack, token cached)
//! against raw `reqwest`, same server, same run, interleaved rounds.
//!
//! Two more variants attribute the difference to layers: the generated client with no
//! middleware at all (progenitor's request building, the hooks, `call()`), and with the
//! authentication middleware alone. The goals apply to the default stack.

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
    /// Only the variant at this index (0 raw reqwest, 1 generated without middleware, 2
    /// generated with auth only, 3 the default stack, 4 a second raw reqwest client).
    pub(crate) variant: Option<usize>,
}

const CONCURRENCY: usize = 64;
/// The index of the default stack among the variants.
const DEFAULT: usize = 3;
/// The index of the control: a second raw reqwest client, made exactly as the first. Its ratios
/// to the first are the measurement's own error (a bias of order, of connection set-up, of where
/// a client's memory lies), which the default stack's ratios carry too.
const CONTROL: usize = 4;
/// Sequential calls per variant for the allocation count.
const ALLOCATION_CALLS: usize = 500;

/// One way of making the call.
#[derive(Debug, Clone)]
enum Variant {
    Raw(Raw),
    Generated(perspio_api::Client),
}

impl Variant {
    async fn call(&self) -> anyhow::Result<()> {
        match self {
            Variant::Raw(raw) => raw.call().await.map(drop),
            Variant::Generated(client) => clients::perspio_call(client).await.map(drop),
        }
    }
}

/// The median latency of `n` sequential calls, in microseconds.
async fn latency_round(variant: &Variant, n: usize) -> anyhow::Result<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        variant.call().await?;
        samples.push(micros(started.elapsed()));
    }
    Ok(median(&samples))
}

/// Calls per second with [`CONCURRENCY`] tasks of `per_task` calls each.
async fn throughput_round(variant: &Variant, per_task: usize) -> anyhow::Result<f64> {
    let variant = Arc::new(variant.clone());
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let variant = Arc::clone(&variant);
            tokio::spawn(async move {
                for _ in 0..per_task {
                    variant.call().await?;
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

/// The order of round `round`: rotated each round, reversed every other round.
fn order(round: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).map(|i| (i + round) % n).collect();
    if (round / n) % 2 == 1 {
        order.reverse();
    }
    order
}

fn range(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.3} – {max:.3}")
}

pub(crate) async fn run(server: &Server, params: Params) -> anyhow::Result<Vec<Row>> {
    let default_stack = clients::perspio(server)?;
    let variants = [
        ("raw reqwest", Variant::Raw(Raw::new(server)?)),
        (
            "generated, no middleware",
            Variant::Generated(clients::generated_with_stack(server, false)?),
        ),
        (
            "generated + auth only",
            Variant::Generated(clients::generated_with_stack(server, true)?),
        ),
        ("default stack (perspio)", Variant::Generated(default_stack)),
        (
            "control: raw reqwest, a second client",
            Variant::Raw(Raw::new(server)?),
        ),
    ];
    // One variant alone (`--variant`): for a profiler or a syscall count of one way of making
    // the call, whose figures are then the process's own; the ratio rows need raw reqwest.
    let variants: Vec<_> = variants
        .into_iter()
        .enumerate()
        .filter(|(i, _)| params.variant.is_none_or(|only| only == *i))
        .map(|(_, v)| v)
        .collect();
    let n = variants.len();
    // Raw reqwest and the default stack both measured: the ratio and goal rows.
    let compared = params.variant.is_none();
    // Warm up: tokens fetched and cached, every pool holds 64 connections.
    for (_, variant) in &variants {
        throughput_round(variant, 20).await?;
    }
    let tokens_before = server.token_requests();

    let mut latency = vec![Vec::new(); n];
    let mut throughput = vec![Vec::new(); n];
    // CPU time of the series (every thread of the process, server included), ns.
    let mut cpu_sequential = vec![0u64; n];
    let mut cpu_concurrent = vec![0u64; n];
    for round in 0..params.rounds {
        for i in order(round, n) {
            let cpu = crate::cpu::process_ns();
            latency[i].push(latency_round(&variants[i].1, params.latency_calls).await?);
            cpu_sequential[i] += crate::cpu::process_ns().saturating_sub(cpu);
        }
    }
    for round in 0..params.rounds {
        for i in order(round, n) {
            let cpu = crate::cpu::process_ns();
            throughput[i].push(throughput_round(&variants[i].1, params.throughput_calls).await?);
            cpu_concurrent[i] += crate::cpu::process_ns().saturating_sub(cpu);
        }
    }
    let extra_tokens = server.token_requests() - tokens_before;
    // Allocations per sequential call, every thread counted (the in-process server's are the
    // same for every variant, so the difference to raw reqwest is what the SDK adds).
    let mut allocations = Vec::with_capacity(n);
    for (_, variant) in &variants {
        allocations.push(crate::allocs::per_call(ALLOCATION_CALLS, || variant.call()).await?);
    }

    let s = "1 overhead";
    let mut rows = Vec::new();
    let lat_raw = median(&latency[0]);
    let thr_raw = median(&throughput[0]);
    for (i, (name, _)) in variants.iter().enumerate() {
        let lat = median(&latency[i]);
        let thr = median(&throughput[i]);
        rows.push(Row::new(
            s,
            format!("{name}: latency c=1 median µs / throughput c=64 median calls/s"),
            format!("{lat:.1} / {thr:.0}"),
        ));
    }
    let per_round = |samples: &[Vec<f64>], i: usize| -> Vec<f64> {
        samples[i]
            .iter()
            .zip(&samples[0])
            .map(|(x, raw)| x / raw)
            .collect()
    };
    for (i, (name, _)) in variants.iter().enumerate().skip(1) {
        let lat_ratio = median(&latency[i]) / lat_raw;
        let thr_ratio = median(&throughput[i]) / thr_raw;
        let is_default = compared && i == DEFAULT;
        let mut lat_row = Row::new(
            s,
            format!(
                "{name}: latency ratio c=1 (÷ raw: ratio of medians; median and range of per-round ratios)"
            ),
            format!(
                "{lat_ratio:.3} ({:.3}; {})",
                median(&per_round(&latency, i)),
                range(&per_round(&latency, i))
            ),
        );
        let mut thr_row = Row::new(
            s,
            format!(
                "{name}: throughput ratio c=64 (÷ raw: ratio of medians; median and range of per-round ratios)"
            ),
            format!(
                "{thr_ratio:.3} ({:.3}; {})",
                median(&per_round(&throughput, i)),
                range(&per_round(&throughput, i))
            ),
        );
        if is_default {
            lat_row = lat_row.goal("≤ 1.03", lat_ratio <= 1.03);
            thr_row = thr_row.goal("≥ 0.95", thr_ratio >= 0.95);
        }
        rows.push(lat_row);
        rows.push(thr_row);
    }
    // CPU per call: what the SDK adds, without the wake-up latency of an idle or shared VM that
    // dominates a loopback call's wall time.
    let per_call = |cpu: &[u64], calls: usize| -> Vec<f64> {
        cpu.iter()
            .map(|&ns| ns as f64 / 1e3 / (calls * params.rounds) as f64)
            .collect()
    };
    let sequential = per_call(&cpu_sequential, params.latency_calls);
    let concurrent = per_call(&cpu_concurrent, CONCURRENCY * params.throughput_calls);
    if cpu_sequential[0] > 0 {
        rows.push(Row::new(
            s,
            format!(
                "CPU µs per call, all threads (server included), c=1 / c=64: {}",
                variants
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(" / ")
            ),
            sequential
                .iter()
                .zip(&concurrent)
                .map(|(a, b)| format!("{a:.1}, {b:.1}"))
                .collect::<Vec<_>>()
                .join(" / "),
        ));
    }
    if cpu_sequential[0] > 0 && compared {
        for (i, what) in [
            (
                DEFAULT,
                "default stack: CPU per call ÷ raw reqwest's, c=1 / c=64 (sums over all rounds)",
            ),
            (
                CONTROL,
                "control (a second raw client): CPU per call ÷ the first's, c=1 / c=64: the measurement's own error",
            ),
        ] {
            rows.push(Row::new(
                s,
                what,
                format!(
                    "{:.3} / {:.3}",
                    sequential[i] / sequential[0],
                    concurrent[i] / concurrent[0]
                ),
            ));
        }
    }
    rows.push(Row::new(
        s,
        format!(
            "allocations per call, all threads (server included): {}",
            variants
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        allocations
            .iter()
            .map(|a| format!("{a:.1}"))
            .collect::<Vec<_>>()
            .join(" / "),
    ));
    if compared {
        let added = allocations[DEFAULT] - allocations[0];
        rows.push(
            Row::new(
                s,
                "allocations per call added by the default stack (default − raw)",
                format!("{added:.1}"),
            )
            .goal("≤ 2", added <= 2.0),
        );
    }
    rows.push(
        Row::new(
            s,
            "token requests during measurement",
            extra_tokens.to_string(),
        )
        .goal("0", extra_tokens == 0),
    );
    rows.push(Row::new(
        s,
        "rounds (rotated order) × calls per variant",
        format!(
            "{} × ({} sequential; {}×{} concurrent)",
            params.rounds, params.latency_calls, CONCURRENCY, params.throughput_calls
        ),
    ));
    Ok(rows)
}
