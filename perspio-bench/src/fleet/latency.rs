//! What the shared limiter adds to one call: the reservation script in Redis (one round trip)
//! against the local limiter's in-memory log. In process, the same server, the same run,
//! interleaved rounds; a bare Redis `PING` shows the round trip alone.
//!
//! The clients have the documented shape of limits (an application window, a tenant window and
//! a bandwidth quota, whose response bytes a shared limiter charges in a second script) with
//! numbers too large to ever make a call wait, so that what is measured is the reservation,
//! not a wait. A third client without the bandwidth quota shows what that charge costs.

use std::time::{Duration, Instant};

use perspio_policy::{Bandwidth, Limit, RateLimit};
use perspio_store::redis;
use perspio_store::{RedisStore, StoreConfig};

use super::{Params, SCENARIO};
use crate::clients;
use crate::server::Server;
use crate::stats::{Row, median, micros};

/// Warm-up calls per variant: token fetched, connections open, the script loaded.
const WARM_UP: usize = 50;

/// The documented windows and quota (the quota unless `bandwidth` is false), scaled up so that
/// no call waits.
fn never_binding(bandwidth: bool) -> anyhow::Result<RateLimit> {
    let hour = Duration::from_secs(3600);
    let limit = RateLimit::new([
        Limit::new(1_000_000, Duration::from_secs(90))?,
        Limit::per_tenant(1_000_000, hour)?,
    ]);
    Ok(if bandwidth {
        limit.with_bandwidth(Bandwidth::new(1 << 40, hour)?)
    } else {
        limit
    })
}

/// The user's client with a rate limit, shared through `redis` when given.
fn client(
    server: &Server,
    redis: Option<&str>,
    bandwidth: bool,
) -> anyhow::Result<perspio_api::Client> {
    let mut builder = perspio_api::Client::builder(clients::credentials()?)
        .with_base_url(server.base_url())
        .with_auth_config(clients::auth_config(server)?)
        .with_rate_limit(never_binding(bandwidth)?);
    if let Some(url) = redis {
        builder = builder.with_redis(url);
    }
    Ok(builder.build()?)
}

enum Variant {
    Client(perspio_api::Client),
    Ping(RedisStore),
}

impl Variant {
    async fn call(&self) -> anyhow::Result<()> {
        match self {
            Variant::Client(client) => clients::perspio_call(client).await.map(drop),
            Variant::Ping(store) => {
                let _: String = store
                    .run("ping", |mut conn| async move {
                        redis::cmd("PING").query_async(&mut conn).await
                    })
                    .await?;
                Ok(())
            }
        }
    }

    /// The median latency of `n` sequential calls, in microseconds.
    async fn round(&self, n: usize) -> anyhow::Result<f64> {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            self.call().await?;
            samples.push(micros(started.elapsed()));
        }
        Ok(median(&samples))
    }
}

/// Slots reserved in Redis for the application windows: every shared call should have one.
async fn reservations_in_redis(store: &RedisStore) -> anyhow::Result<u64> {
    Ok(store
        .run("count reservations", |mut conn| async move {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg("perspio:v1:*:rl:app:*ms")
                .query_async(&mut conn)
                .await?;
            let mut total = 0;
            for key in keys {
                let n: u64 = redis::cmd("ZCARD").arg(key).query_async(&mut conn).await?;
                total += n;
            }
            Ok(total)
        })
        .await?)
}

/// Scripts run (`EVALSHA`) and their mean server time in µs, from `INFO commandstats`.
async fn scripts_run(store: &RedisStore) -> anyhow::Result<(u64, f64)> {
    let info: String = store
        .run("read command stats", |mut conn| async move {
            redis::cmd("INFO")
                .arg("commandstats")
                .query_async(&mut conn)
                .await
        })
        .await?;
    let field = |stats: &str, name: &str| {
        stats.split(',').find_map(|kv| {
            kv.strip_prefix(name)?
                .strip_prefix('=')?
                .parse::<f64>()
                .ok()
        })
    };
    let stats = info
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:"))
        .unwrap_or_default();
    Ok((
        field(stats, "calls").unwrap_or_default() as u64,
        field(stats, "usec_per_call").unwrap_or_default(),
    ))
}

pub(super) async fn run(
    server: &Server,
    redis_url: &str,
    params: Params,
) -> anyhow::Result<Vec<Row>> {
    let store = RedisStore::open(redis_url, StoreConfig::default())?;
    let variants = [
        Variant::Client(client(server, None, true)?),
        Variant::Client(client(server, Some(redis_url), true)?),
        Variant::Client(client(server, Some(redis_url), false)?),
        Variant::Ping(store.clone()),
    ];
    let n = variants.len();
    for variant in &variants {
        variant.round(WARM_UP).await?;
    }
    let mut medians = vec![Vec::new(); n];
    for round in 0..params.latency_rounds {
        let mut order: Vec<usize> = (0..n).map(|i| (i + round) % n).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            medians[i].push(variants[i].round(params.latency_calls).await?);
        }
    }
    // Both shared clients have the same application and windows, so the same keys.
    let shared_calls = 2 * (WARM_UP + params.latency_rounds * params.latency_calls) as u64;
    let reserved = reservations_in_redis(&store).await?;
    let (scripts, script_us) = scripts_run(&store).await?;

    let m: Vec<f64> = medians.iter().map(|round| median(round)).collect();
    let added = |i: usize| {
        let per_round: Vec<f64> = medians[i]
            .iter()
            .zip(&medians[0])
            .map(|(shared, local)| shared - local)
            .collect();
        format!(
            "{:.1} ({:.1}) / {:.2}",
            m[i] - m[0],
            median(&per_round),
            m[i] / m[0]
        )
    };
    Ok(vec![
        Row::new(
            SCENARIO,
            "latency c=1, median µs: local limiter / shared limiter (Redis) / shared without the bandwidth quota / Redis PING alone",
            format!("{:.1} / {:.1} / {:.1} / {:.1}", m[0], m[1], m[2], m[3]),
        ),
        Row::new(
            SCENARIO,
            "shared limiter: latency added per call, µs (difference of medians; median of per-round differences) / ratio of medians, against the local limiter",
            added(1),
        ),
        Row::new(
            SCENARIO,
            "shared limiter without the bandwidth quota: the same",
            added(2),
        ),
        Row::new(
            SCENARIO,
            "shared limiters: slots reserved in Redis / shared calls made",
            format!("{reserved} / {shared_calls}"),
        ),
        Row::new(
            SCENARIO,
            "shared limiters: scripts run per shared call (reservation; bandwidth charge) / server time per script, µs (INFO commandstats)",
            format!(
                "{:.2} / {script_us:.1}",
                scripts as f64 / shared_calls as f64
            ),
        ),
        Row::new(
            SCENARIO,
            "latency rounds (rotated order) × sequential calls per variant",
            format!("{} × {}", params.latency_rounds, params.latency_calls),
        ),
    ])
}
