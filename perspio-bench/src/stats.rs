//! Medians, percentiles and the result table.

use std::fmt::Write as _;
use std::time::Duration;

/// The `q`-quantile (0..=1) of `values`, nearest rank; `0` when empty.
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

pub(crate) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// One line of the result table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) scenario: &'static str,
    pub(crate) metric: String,
    pub(crate) value: String,
    pub(crate) goal: &'static str,
    /// `None`: no goal.
    pub(crate) met: Option<bool>,
}

impl Row {
    pub(crate) fn new(scenario: &'static str, metric: impl Into<String>, value: String) -> Self {
        Self {
            scenario,
            metric: metric.into(),
            value,
            goal: "",
            met: None,
        }
    }

    pub(crate) fn goal(mut self, goal: &'static str, met: bool) -> Self {
        self.goal = goal;
        self.met = Some(met);
        self
    }
}

/// A Markdown table, so that the output can be pasted into `BENCHMARKS.md`.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| Scenario | Metric | Value | Goal | Met |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.scenario, row.metric, row.value, row.goal, met
        );
    }
    out
}

/// The goals of the run alone (every row with a goal), so that what is met reads at a glance.
pub(crate) fn goal_table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| Scenario | Metric | Value | Goal | Met |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for row in rows.iter().filter(|row| row.met.is_some()) {
        let met = if row.met == Some(true) {
            "yes"
        } else {
            "**no**"
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            row.scenario, row.metric, row.value, row.goal, met
        );
    }
    out
}
