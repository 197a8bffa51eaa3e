//! One process of the fleet: `perspio-bench fleet-worker` (hidden), started by
//! [`super::Fleet`]. It builds its client the way a user's worker does,
//! `ClientBuilder::from_env()` (the `PERSPIO_*` variables, `PERSPIO_REDIS_URL` for the shared
//! runs) with `with_rate_limit`, makes its calls one after the other, and prints one JSON
//! line: `{"ok": n, "failed": n, "first_error": "…" | null}`.

use std::time::Duration;

use perspio_api::ClientBuilder;
use perspio_policy::{Limit, RateLimit};

/// Arguments of `perspio-bench fleet-worker`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WorkerArgs {
    /// `list_assets` calls to make.
    #[arg(long)]
    pub(crate) calls: u32,
    /// Requests per window of the client's rate limit.
    #[arg(long)]
    pub(crate) limit: u32,
    /// Length of the window, in milliseconds.
    #[arg(long)]
    pub(crate) per_ms: u64,
    /// The rate limit's guard margin (`RateLimit::with_guard`), in milliseconds.
    #[arg(long)]
    pub(crate) guard_ms: u64,
}

impl WorkerArgs {
    /// The arguments that start a worker with these settings.
    pub(crate) fn to_args(&self) -> Vec<String> {
        vec![
            "fleet-worker".into(),
            format!("--calls={}", self.calls),
            format!("--limit={}", self.limit),
            format!("--per-ms={}", self.per_ms),
            format!("--guard-ms={}", self.guard_ms),
        ]
    }
}

pub(crate) fn run(args: &WorkerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rate_limit = RateLimit::new([Limit::new(args.limit, Duration::from_millis(args.per_ms))?])
        .with_guard(Duration::from_millis(args.guard_ms));
    let (ok, failed, first_error) = runtime.block_on(async {
        let client = ClientBuilder::from_env()?
            .with_rate_limit(rate_limit)
            .build()?;
        let (mut ok, mut failed, mut first_error) = (0u32, 0u32, None);
        for _ in 0..args.calls {
            match client.list_assets().call().await {
                Ok(_) => ok += 1,
                Err(error) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| perspio_api::cause_chain(&error));
                }
            }
        }
        anyhow::Ok((ok, failed, first_error))
    })?;
    println!(
        "{}",
        serde_json::json!({"ok": ok, "failed": failed, "first_error": first_error})
    );
    Ok(())
}
