//! What one measurement produced, and the summary of several rounds of it.

use std::time::Duration;

/// One timed run of a load: how many requests succeeded, how long it ran, their latencies.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sample {
    pub(crate) ok: u64,
    pub(crate) failed: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<Duration>,
}

impl Sample {
    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn quantile(&self, q: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        if l.is_empty() {
            return Duration::ZERO;
        }
        let i = ((l.len() as f64 - 1.0) * q).round() as usize;
        l[i.min(l.len() - 1)]
    }

    pub(crate) fn p50_ms(&self) -> f64 {
        self.quantile(0.5).as_secs_f64() * 1000.0
    }

    pub(crate) fn p99_ms(&self) -> f64 {
        self.quantile(0.99).as_secs_f64() * 1000.0
    }

    pub(crate) fn merge(&mut self, other: Sample) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.elapsed = self.elapsed.max(other.elapsed);
        self.latencies.extend(other.latencies);
    }
}

/// min, median and max of a figure's values over the rounds.
pub(crate) fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => (0.0, 0.0, 0.0),
        n => (v[0], v[n / 2], v[n - 1]),
    }
}
