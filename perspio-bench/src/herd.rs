//! Scenario 3: 1,000 concurrent first calls on a fresh client (empty token cache).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use crate::clients::{self, Raw};
use crate::server::Server;
use crate::stats::{Row, median, micros, quantile};

pub(crate) const CALLERS: usize = 1000;
/// The token endpoint's answer time during the herd, so that all callers overlap it.
pub(crate) const TOKEN_DELAY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) rounds: usize,
}

/// Latencies in microseconds of `CALLERS` simultaneous first calls.
async fn herd<F, Fut>(call: F) -> anyhow::Result<Vec<f64>>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(CALLERS));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let fut = call();
            tokio::spawn(async move {
                barrier.wait().await;
                let started = Instant::now();
                fut.await?;
                anyhow::Ok(micros(started.elapsed()))
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(CALLERS);
    for task in tasks {
        latencies.push(task.await??);
    }
    Ok(latencies)
}

pub(crate) async fn run(server: &Server, params: Params) -> anyhow::Result<Vec<Row>> {
    server.set_token_delay(TOKEN_DELAY);
    let (mut tokens, mut p50, mut p99, mut raw50, mut raw99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..params.rounds {
        // Raw baseline: 1,000 first calls on a fresh client (cold connection pool).
        let raw = Raw::new(server)?;
        let lat = herd(|| {
            let raw = raw.clone();
            async move { raw.call().await.map(drop) }
        })
        .await?;
        raw50.push(quantile(&lat, 0.5));
        raw99.push(quantile(&lat, 0.99));

        let client = clients::perspio(server)?;
        let before = server.token_requests();
        let lat = herd(|| {
            let client = client.clone();
            async move { clients::perspio_call(&client).await.map(drop) }
        })
        .await?;
        tokens.push(server.token_requests() - before);
        p50.push(quantile(&lat, 0.5));
        p99.push(quantile(&lat, 0.99));
    }
    server.set_token_delay(Duration::ZERO);
    let s = "3 cold-start herd";
    Ok(vec![
        Row::new(
            s,
            format!("token requests for {CALLERS} concurrent first calls (each round)"),
            format!("{tokens:?}"),
        )
        .goal("exactly 1", tokens.iter().all(|&t| t == 1)),
        Row::new(
            s,
            format!(
                "perspio p50 / p99 ms (token endpoint answers in {} ms)",
                TOKEN_DELAY.as_millis()
            ),
            format!("{:.1} / {:.1}", median(&p50) / 1e3, median(&p99) / 1e3),
        ),
        Row::new(
            s,
            "raw reqwest p50 / p99 ms (same herd, no token)",
            format!("{:.1} / {:.1}", median(&raw50) / 1e3, median(&raw99) / 1e3),
        ),
        Row::new(s, "rounds (medians over rounds)", params.rounds.to_string()),
    ])
}
