//! Benchmarks of the PerspioTalk SDK: what the generated client and its default middleware
//! stack cost compared with a raw `reqwest` call, what the token cache costs, how it behaves
//! in a cold-start herd and at the expiry boundary, memory across many calls, build cost, a
//! fleet of processes sharing one budget and one token through Redis, and how `regen`'s steps
//! grow with the number of operations.
//!
//! Run `cargo xtask bench` (release build of this binary); `--build-cost` adds scenario 5,
//! which runs cargo in a scratch copy of the workspace. See `BENCHMARKS.md`.

// Printing the table is this binary's job; the workspace lint is meant for library code.
#![allow(clippy::print_stdout)]

mod allocs;
mod build_cost;
mod cache_hit;
mod clients;
mod cpu;
mod decode;
mod expiry;
mod fleet;
mod herd;
mod memory;
mod overhead;
mod scaling;
mod server;
mod stats;

use clap::Parser;

use crate::server::Server;
use crate::stats::Row;

/// Runs the benchmark scenarios and prints a Markdown table of ratios and counts.
#[derive(Debug, Parser)]
#[command(name = "perspio-bench")]
struct Args {
    #[command(subcommand)]
    internal: Option<Internal>,
    /// Also measure build cost (scenario 5): runs `cargo build` in a scratch copy of the
    /// workspace, which takes minutes.
    #[arg(long)]
    build_cost: bool,
    /// Only build cost (scenario 5).
    #[arg(long)]
    build_cost_only: bool,
    /// Fewer rounds and calls: a smoke run, not figures to quote.
    #[arg(long)]
    quick: bool,
    /// Rounds of the interleaved overhead comparison. Many short rounds: the machine's load
    /// drifts on a scale of seconds, and each round compares the variants under the same load.
    #[arg(long, default_value_t = 61)]
    rounds: usize,
    /// Run only these scenarios (comma-separated): overhead, cache-hit, herd, expiry, memory, scaling,
    /// fleet.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Scenario 1 with one of its variants only, for profiling it alone (`valgrind
    /// --tool=callgrind`, `perf stat`): 0 raw reqwest, 1 the generated client without
    /// middleware, 2 with auth only, 3 the default stack, 4 a second raw reqwest client (the
    /// control). Its rows then carry no ratios.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..5))]
    variant: Option<u8>,
    /// Client runtime worker threads (defaults to the number of CPUs).
    #[arg(long)]
    workers: Option<usize>,
}

/// Subcommands the benchmark starts itself with.
#[derive(Debug, clap::Subcommand)]
enum Internal {
    /// One process of the fleet scenario.
    #[command(hide = true)]
    FleetWorker(fleet::worker::WorkerArgs),
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Internal::FleetWorker(worker)) = &args.internal {
        return fleet::worker::run(worker);
    }
    let mut rows: Vec<Row> = Vec::new();
    if !args.build_cost_only {
        run_runtime_scenarios(&args, &mut rows)?;
    }
    if args.build_cost || args.build_cost_only {
        eprintln!("scenario 5: build cost");
        build_cost::run(&mut rows)?;
    }
    println!("{}", stats::table(&rows));
    println!("Goals:\n\n{}", stats::goal_table(&rows));
    Ok(())
}

fn run_runtime_scenarios(args: &Args, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let server = Server::start()?;
    let quick = args.quick;
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);

    if wanted("scaling") {
        eprintln!("scenario 8: regen scaling");
        rows.extend(scaling::run(&build_cost::checked_in_spec()?)?);
    }

    if wanted("cache-hit") {
        eprintln!("scenario 2: cache-hit cost");
        rows.extend(cache_hit::run(
            &server,
            cache_hit::Params {
                batches: if quick { 6 } else { 30 },
                iterations: if quick { 5_000 } else { 20_000 },
            },
        )?);
        rows.extend(decode::run(
            if quick { 6 } else { 30 },
            if quick { 2_000 } else { 10_000 },
        )?);
    }

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = args.workers {
        runtime.worker_threads(workers);
    }
    let runtime = runtime.thread_name("bench-client").enable_all().build()?;
    runtime.block_on(async {
        if wanted("overhead") {
            eprintln!("scenario 1: per-call overhead");
            let mut overhead = overhead::run(
                &server,
                overhead::Params {
                    rounds: if quick { 3 } else { args.rounds },
                    latency_calls: if quick { 100 } else { 200 },
                    throughput_calls: if quick { 5 } else { 10 },
                    variant: args.variant.map(usize::from),
                },
            )
            .await?;
            rows.append(&mut overhead);
        }

        if wanted("herd") {
            eprintln!("scenario 3: cold-start herd");
            rows.extend(
                herd::run(
                    &server,
                    herd::Params {
                        rounds: if quick { 1 } else { 5 },
                    },
                )
                .await?,
            );
        }

        if wanted("expiry") {
            eprintln!("scenario 4: expiry boundary");
            rows.extend(
                expiry::run(
                    &server,
                    expiry::Params {
                        rounds: if quick { 1 } else { 5 },
                    },
                )
                .await?,
            );
        }

        if wanted("memory") {
            eprintln!("scenario 6: memory");
            rows.extend(memory::run(&server, if quick { 20_000 } else { 100_000 }).await?);
        }
        anyhow::Ok(())
    })?;

    if wanted("fleet") {
        eprintln!("scenario 7: fleet of processes (Redis)");
        rows.extend(fleet::run(
            &server,
            &runtime,
            fleet::Params {
                calls: if quick { 60 } else { 120 },
                latency_rounds: if quick { 3 } else { 31 },
                latency_calls: if quick { 100 } else { 200 },
            },
        )?);
    }
    rows.sort_by_key(|row| row.scenario);
    Ok(())
}
