//! The list decoder (issue 16, reported on its own: raw reqwest decodes into the same type, so
//! the overhead ratios of scenario 1 do not show it). The generated `AssetList` decodes by its
//! first token (perspio-codegen `decode.rs`); `Untagged` is what serde's derive does for the
//! same variants (buffer the value, try each variant).

use std::hint::black_box;
use std::time::Instant;

use perspio_api::types::{Asset, AssetList, OpenObject};

use crate::server::ASSETS_JSON;
use crate::stats::{Row, median};

#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
#[allow(dead_code, reason = "decoded and dropped")]
enum Untagged {
    Array(Vec<Asset>),
    OpenObject(OpenObject),
}

fn batch<T: serde::de::DeserializeOwned>(iterations: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(serde_json::from_str::<T>(black_box(ASSETS_JSON))?);
    }
    Ok(started.elapsed().as_secs_f64() * 1e9 / iterations as f64)
}

pub(crate) fn run(batches: usize, iterations: usize) -> anyhow::Result<Vec<Row>> {
    let (mut first_token, mut untagged) = (Vec::new(), Vec::new());
    batch::<AssetList>(iterations)?;
    batch::<Untagged>(iterations)?;
    for round in 0..batches {
        if round % 2 == 0 {
            first_token.push(batch::<AssetList>(iterations)?);
            untagged.push(batch::<Untagged>(iterations)?);
        } else {
            untagged.push(batch::<Untagged>(iterations)?);
            first_token.push(batch::<AssetList>(iterations)?);
        }
    }
    let (new, old) = (median(&first_token), median(&untagged));
    let allocations = |calls: usize, decode: fn() -> anyhow::Result<()>| {
        let region = stats_alloc::Region::new(crate::allocs::global());
        for _ in 0..calls {
            let _ = decode();
        }
        region.change().allocations as f64 / calls as f64
    };
    let new_allocs = allocations(1_000, || {
        black_box(serde_json::from_str::<AssetList>(ASSETS_JSON)?);
        Ok(())
    });
    let old_allocs = allocations(1_000, || {
        black_box(serde_json::from_str::<Untagged>(ASSETS_JSON)?);
        Ok(())
    });
    Ok(vec![Row::new(
        "2 cache hit",
        "list decoding, the 352-byte answer of three assets: generated first-token decoder / serde's untagged derive, ns and allocations per decode (ratio of medians)",
        format!(
            "{new:.0} / {old:.0} ns ({:.2}); {new_allocs:.1} / {old_allocs:.1} allocations",
            new / old
        ),
    )])
}
