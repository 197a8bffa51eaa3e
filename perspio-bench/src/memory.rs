//! Scenario 6: resident memory across 100,000 calls through one client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;

use crate::clients;
use crate::server::Server;
use crate::stats::Row;

const LOOPS: usize = 8;

/// `VmRSS` of this process in KiB.
fn rss_kib() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line in /proc/self/status")
}

/// `calls` calls spread over [`LOOPS`] tasks.
async fn calls(client: &perspio_api::Client, calls: usize) -> anyhow::Result<()> {
    let left = Arc::new(AtomicUsize::new(calls));
    let client = Arc::new(client.clone());
    let tasks: Vec<_> = (0..LOOPS)
        .map(|_| {
            let client = Arc::clone(&client);
            let left = Arc::clone(&left);
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    clients::perspio_call(&client).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

pub(crate) async fn run(server: &Server, total: usize) -> anyhow::Result<Vec<Row>> {
    let client = clients::perspio(server)?;
    let served_before = server.api_requests();
    let checkpoints = [total / 10, total / 2, total];
    let mut done = 0;
    let mut rss = Vec::new();
    for checkpoint in checkpoints {
        calls(&client, checkpoint - done).await?;
        done = checkpoint;
        rss.push((checkpoint, rss_kib()?));
    }
    let served = server.api_requests() - served_before;
    anyhow::ensure!(
        served == total as u64,
        "the server saw {served} API requests for {total} calls"
    );
    let (first_calls, first) = rss[0];
    let (last_calls, last) = rss[rss.len() - 1];
    let per_10k = (last as f64 - first as f64) / ((last_calls - first_calls) as f64 / 10_000.0);
    let s = "6 memory";
    Ok(vec![
        Row::new(
            s,
            "VmRSS KiB at calls",
            rss.iter()
                .map(|(n, kib)| format!("{n}: {kib}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Row::new(
            s,
            format!("growth per 10k calls ({first_calls} → {last_calls})"),
            format!("{per_10k:.1} KiB"),
        )
        .goal("flat (< 16 KiB / 10k)", per_10k < 16.0),
    ])
}
