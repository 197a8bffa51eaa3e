//! Allocation counts: the benchmark binary's global allocator counts every allocation, so a
//! scenario can say how many a call makes (exact on a current-thread runtime; on the
//! multi-thread runtime of scenario 1 the in-process server's allocations are counted too, the
//! same for every variant, so only the difference to raw reqwest is meaningful there).

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations made while `run` runs (every thread), divided by `calls`.
pub(crate) async fn per_call<F, Fut>(calls: usize, mut run: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let region = Region::new(GLOBAL);
    for _ in 0..calls {
        run().await?;
    }
    let stats = region.change();
    Ok(stats.allocations as f64 / calls as f64)
}

/// The counting allocator, for a count of one's own.
pub(crate) fn global() -> &'static StatsAlloc<System> {
    GLOBAL
}
