//! `perspio-fleet-worker`: one process of a test fleet (started several times by
//! `contract/fleet.rs`). It builds the client the way a user's worker does,
//! `ClientBuilder::from_env()`, with these variables besides the `PERSPIO_*` ones:
//!
//! | variable | what |
//! |---|---|
//! | `FLEET_CALLS` | how many `list_assets` calls to make (default 25) |
//! | `FLEET_LIMIT`, `FLEET_PER_MS`, `FLEET_GUARD_MS` | the rate limit (scaled down in time) |
//! | `FLEET_LEASE_TTL_MS` | the shared token lease |
//!
//! It prints one JSON line: `{"ok": n, "failed": [messages…]}` and exits 0 when every call
//! succeeded.

#![allow(clippy::print_stdout, reason = "the report is the program's output")]

use std::time::Duration;

use perspio_api::{Client, ClientBuilder};
use perspio_auth::AuthConfig;
use perspio_policy::{Limit, RateLimit};

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client() -> Result<Client, perspio_api::Error> {
    let limit = u32::try_from(number("FLEET_LIMIT", 20)).unwrap_or(20);
    let per = Duration::from_millis(number("FLEET_PER_MS", 90_000));
    let rate_limit = RateLimit::new([Limit::new(limit, per).map_err(|e| {
        perspio_api::Error::AuthConfig(perspio_auth::AuthError::extension("fleet limit", e))
    })?])
    .with_guard(Duration::from_millis(number("FLEET_GUARD_MS", 1000)))
    .with_max_wait(Duration::from_secs(120));
    let auth = AuthConfig::from_env()
        .map_err(perspio_api::Error::AuthConfig)?
        .with_lease_ttl(Duration::from_millis(number("FLEET_LEASE_TTL_MS", 15_000)));
    ClientBuilder::from_env()?
        .with_auth_config(auth)
        .with_rate_limit(rate_limit)
        .build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let client = match client() {
        Ok(client) => client,
        Err(e) => {
            println!(
                "{}",
                serde_json::json!({"ok": 0, "failed": [perspio_api::cause_chain(&e)]})
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut ok = 0u64;
    let mut failed = Vec::new();
    for _ in 0..number("FLEET_CALLS", 25) {
        match client.list_assets().call().await {
            Ok(_) => ok += 1,
            Err(e) => failed.push(perspio_api::cause_chain(&e)),
        }
    }
    println!("{}", serde_json::json!({"ok": ok, "failed": failed}));
    if failed.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
