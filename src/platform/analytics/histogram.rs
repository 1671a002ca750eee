//! Request durations in fixed, log-spaced buckets, so that two isolates' counts merge by adding
//! them and a percentile is read from the sum.
//!
//! Bucket 0 holds durations under 1 ms; bucket `i` (1 to 72) holds `[2^((i-1)/4), 2^(i/4))` ms, four
//! buckets per doubling; the last holds everything from 2^18 ms (about 4.4 minutes) up. A
//! percentile is its bucket's geometric middle, `2^((i-0.5)/4)` ms, which is within 2^(1/8)
//! (9.1 %) of every duration in that bucket; under 1 ms it reads 0.5 ms (off by at most 0.5 ms);
//! in the last bucket it reads the bucket's lower bound.

/// How many buckets there are: under 1 ms, 72 log-spaced ones, and the open-ended last one.
pub const BUCKETS: usize = 74;

/// Buckets per doubling of the duration.
const PER_DOUBLING: f64 = 4.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u32; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: [0; BUCKETS] }
    }
}

impl Histogram {
    /// Counts one duration (negative or not a number counts as under 1 ms).
    pub fn add(&mut self, duration_ms: f64) {
        let bucket = bucket_of(duration_ms);
        self.counts[bucket] = self.counts[bucket].saturating_add(1);
    }

    /// Adds another histogram's counts to these.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// The duration (ms) at quantile `q` (0 to 1) of the counted ones, `None` when none was counted.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        // The smallest duration with at least q of the counted ones at or below it.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        let bucket = self
            .counts
            .iter()
            .position(|&count| {
                seen += u64::from(count);
                seen >= rank
            })
            .unwrap_or(BUCKETS - 1);
        Some(representative(bucket))
    }

    /// The counts, bucket by bucket (the stored form).
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// From stored counts; missing buckets count 0, extra ones are ignored.
    pub fn from_counts(counts: &[u32]) -> Histogram {
        let mut histogram = Histogram::default();
        for (slot, &count) in histogram.counts.iter_mut().zip(counts) {
            *slot = count;
        }
        histogram
    }
}

fn bucket_of(duration_ms: f64) -> usize {
    if duration_ms.is_nan() || duration_ms < 1.0 {
        return 0;
    }
    let bucket = (duration_ms.log2() * PER_DOUBLING).floor() + 1.0;
    if bucket >= (BUCKETS - 1) as f64 {
        BUCKETS - 1
    } else {
        bucket as usize
    }
}

/// The value a bucket reports, rounded to hundredths of a millisecond.
fn representative(bucket: usize) -> f64 {
    let value = match bucket {
        0 => 0.5,
        last if last == BUCKETS - 1 => (((BUCKETS - 2) as f64) / PER_DOUBLING).exp2(),
        i => ((i as f64 - 0.5) / PER_DOUBLING).exp2(),
    };
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(durations: &[f64]) -> Histogram {
        let mut histogram = Histogram::default();
        durations.iter().for_each(|&d| histogram.add(d));
        histogram
    }

    #[test]
    fn every_percentile_is_within_the_stated_error_of_the_exact_one() {
        // Durations spread from 1 ms to 60 s; each percentile against the exact order statistic.
        let durations: Vec<f64> = (0..2000).map(|i| 1.0 + (i as f64 * 7.3) % 60_000.0).collect();
        let mut sorted = durations.clone();
        sorted.sort_by(f64::total_cmp);
        let histogram = of(&durations);
        for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let exact = sorted[((q * sorted.len() as f64).ceil() as usize).max(1) - 1];
            let read = histogram.percentile(q).unwrap();
            let error = (read / exact - 1.0).abs();
            assert!(error <= 2f64.powf(1.0 / 8.0) - 1.0 + 1e-3, "q {q}: {read} for {exact}");
        }
    }

    #[test]
    fn small_large_and_odd_durations_land_at_the_ends() {
        assert_eq!(of(&[0.0, 0.3, -5.0, f64::NAN]).percentile(1.0), Some(0.5));
        let huge = of(&[1e12, f64::INFINITY]);
        assert_eq!(huge.percentile(0.5), Some(262_144.0));
        assert_eq!(of(&[]).percentile(0.5), None);
        // 1 ms is the first log-spaced bucket: [1, 1.19) reads its middle.
        assert_eq!(of(&[1.0]).percentile(0.5), Some(1.09));
    }

    #[test]
    fn merged_histograms_read_as_one_histogram_of_all_durations() {
        let (a, b) = ([3.0, 40.0, 41.0, 900.0], [2.0, 5.0, 5000.0]);
        let mut merged = of(&a);
        merged.merge(&of(&b));
        assert_eq!(merged, of(&[&a[..], &b[..]].concat()));
        assert_eq!(merged.percentile(0.5), of(&[2.0, 3.0, 5.0, 40.0, 41.0, 900.0, 5000.0]).percentile(0.5));
        assert_eq!(Histogram::from_counts(merged.counts()), merged);
    }
}
