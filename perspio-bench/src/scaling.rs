//! Scenario 8: how `regen`'s steps grow with the number of operations. The same synthetic spec
//! (scenario 5's: each operation a `GET` with its own item and list schemas) at 1,000, 2,000 and
//! 4,000 operations, through `perspio_import::derive` (what `cargo xtask regen` runs: parse,
//! normalise, generate the client with the build script's generator, read it back for
//! API.md), timed per step ([`perspio_import::Timings`]).
//!
//! A step grows linearly when 4× the operations take about 4× the time. Steps under 50 ms at
//! the largest size are shown but not judged (their ratio is timer noise). Each size runs
//! [`RUNS`] times and each step keeps its fastest run: the work is deterministic, so what a
//! slower run adds is the machine's other load (one run each gave 2.9× and 5.4× for the same
//! step on the same commit).

use std::time::Duration;

use perspio_import::Timings;

use serde_json::Value;

use crate::build_cost::synthetic_spec;
use crate::stats::Row;

/// The sizes, smallest first.
const SIZES: [usize; 3] = [1_000, 2_000, 4_000];

/// The largest ratio t(4,000) ÷ t(1,000) called linear: 4× with 25 % for a shared machine.
const LINEAR: f64 = 5.0;

/// Steps shorter than this at the largest size are not judged.
const JUDGED_FROM: Duration = Duration::from_millis(50);

/// Runs per size.
const RUNS: usize = 3;

/// Each step's fastest time over several runs of `derive`.
fn fastest(runs: &[Timings]) -> Timings {
    let mut steps: Vec<(&'static str, Duration)> = Vec::new();
    for timings in runs {
        for &(step, took) in timings.steps() {
            match steps.iter_mut().find(|(name, _)| *name == step) {
                Some((_, fastest)) => *fastest = (*fastest).min(took),
                None => steps.push((step, took)),
            }
        }
    }
    steps.into_iter().collect()
}

pub(crate) fn run(base: &Value) -> anyhow::Result<Vec<Row>> {
    let s = "8 scaling";
    let mut runs = Vec::new();
    for operations in SIZES {
        let spec = serde_json::to_string(&synthetic_spec(base, operations)?)?;
        eprintln!("scaling: regen of {operations} operations, {RUNS} runs");
        let mut timings = Vec::with_capacity(RUNS);
        let mut bytes = 0;
        for _ in 0..RUNS {
            let derived = perspio_import::derive(&spec)?;
            bytes = derived.code.len();
            timings.push(derived.timings);
        }
        runs.push((operations, bytes, fastest(&timings)));
    }
    let mut rows = Vec::new();
    for (operations, bytes, timings) in &runs {
        rows.push(Row::new(
            s,
            format!(
                "regen of {operations} synthetic operations ({:.1} MB of Rust): per step, fastest of {RUNS} runs",
                *bytes as f64 / 1e6
            ),
            format!("{timings} (total {:.1} s)", timings.total().as_secs_f64()),
        ));
    }
    let (first, last) = (&runs[0].2, &runs[runs.len() - 1].2);
    let mut judged = Vec::new();
    let mut worst: Option<(&'static str, f64)> = None;
    for (step, took) in last.steps() {
        let Some((_, before)) = first.steps().iter().find(|(s, _)| s == step) else {
            continue;
        };
        let ratio = took.as_secs_f64() / before.as_secs_f64().max(1e-9);
        let judge = *took >= JUDGED_FROM;
        judged.push(format!(
            "{step} {ratio:.1}×{}",
            if judge { "" } else { " (not judged)" }
        ));
        if judge && worst.is_none_or(|(_, w)| ratio > w) {
            worst = Some((step, ratio));
        }
    }
    let total = last.total().as_secs_f64() / first.total().as_secs_f64().max(1e-9);
    rows.push(Row::new(
        s,
        format!(
            "regen, each step's time at {} ÷ at {} operations (4× the operations; linear ≈ 4×)",
            SIZES[SIZES.len() - 1],
            SIZES[0]
        ),
        format!("{}; total {total:.1}×", judged.join(", ")),
    ));
    let (step, ratio) = worst.unwrap_or(("none", 0.0));
    rows.push(
        Row::new(
            s,
            "regen, the step that grows fastest: time at 4,000 ÷ at 1,000 operations",
            format!("{step}: {ratio:.2}×"),
        )
        .goal("≤ 5× (linear, 25 % noise)", ratio <= LINEAR),
    );
    Ok(rows)
}
