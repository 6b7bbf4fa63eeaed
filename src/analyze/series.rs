//! Time series without the cost of time. Everything per minute (storms, timeline, SLI windows)
//! is laid on an [`Axis`] made of the bundle's populated periods: stretches where rows follow
//! each other with gaps shorter than [`Axis::GAP_MS`]. Empty years between two rows cost
//! nothing, so time and memory follow the rows, never the span; a chart draws each period with
//! a break between them.
//!
//! Storms are found as level shifts in a key's per-minute counts: [`segment`] splits a count
//! series where a Poisson likelihood says the rate changed (binary segmentation).

/// A bundle's time axis: its populated periods, in minutes.
#[derive(Debug, Clone, Default)]
pub struct Axis {
    /// (first minute, number of minutes), in time order; minutes are epoch ms / 60 000.
    pub periods: Vec<(i64, usize)>,
    /// Index of each period's first minute on the axis.
    offsets: Vec<usize>,
    pub len: usize,
}

pub const MINUTE_MS: i64 = 60_000;

impl Axis {
    /// Rows further apart than this (with nothing between) start a new period.
    pub const GAP_MS: i64 = 60 * MINUTE_MS;

    /// The axis of a set of times (any order).
    pub fn of(times: impl Iterator<Item = i64>) -> Axis {
        // Rows come in runs of the same minute (each file is in time order): a run is kept
        // once before sorting, so the sort sees minutes per file, not every row.
        let mut minutes: Vec<i64> = Vec::new();
        for t in times {
            let m = t.div_euclid(MINUTE_MS);
            if minutes.last() != Some(&m) {
                minutes.push(m);
            }
        }
        minutes.sort_unstable();
        minutes.dedup();
        let gap = Self::GAP_MS / MINUTE_MS;
        let mut periods: Vec<(i64, usize)> = Vec::new();
        for m in minutes {
            match periods.last_mut() {
                Some((a, n)) if m - (*a + *n as i64 - 1) <= gap => *n = (m - *a + 1) as usize,
                _ => periods.push((m, 1)),
            }
        }
        let mut offsets = Vec::with_capacity(periods.len());
        let mut len = 0;
        for &(_, n) in &periods {
            offsets.push(len);
            len += n;
        }
        Axis {
            periods,
            offsets,
            len,
        }
    }

    /// The axis index of a time, if it falls in a period.
    pub fn index(&self, t: i64) -> Option<usize> {
        let m = t.div_euclid(MINUTE_MS);
        let p = self
            .periods
            .partition_point(|&(a, _)| a <= m)
            .checked_sub(1)?;
        let (a, n) = self.periods[p];
        let k = (m - a) as usize;
        (k < n).then(|| self.offsets[p] + k)
    }

    /// The start (epoch ms) of the minute at an axis index.
    pub fn time(&self, i: usize) -> i64 {
        let p = self.offsets.partition_point(|&o| o <= i).saturating_sub(1);
        match self.periods.get(p) {
            Some(&(a, _)) => (a + (i - self.offsets[p]) as i64) * MINUTE_MS,
            None => 0,
        }
    }

    /// Minutes on the axis between two times (inclusive of the minutes they fall in).
    pub fn minutes_between(&self, a: i64, b: i64) -> usize {
        match (self.index(a), self.index(b)) {
            (Some(x), Some(y)) if y >= x => y - x + 1,
            _ => 1,
        }
    }
}

/// Segments of a count series: (start index, end index exclusive, mean count).
pub type Segments = Vec<(usize, usize, f64)>;

/// Poisson cost (twice the negative log-likelihood, without the terms every segmentation shares)
/// of a segment with `s` events over `n` minutes.
fn cost(s: f64, n: f64) -> f64 {
    if s <= 0.0 {
        0.0
    } else {
        2.0 * (s - s * (s / n).ln())
    }
}

/// Most change points looked for in one series.
const MAX_CHANGES: usize = 200;

/// Segments `counts` into stretches of constant rate by binary segmentation: split where the
/// Poisson likelihood gains most, as long as the gain beats `penalty`, then split the parts the
/// same way. A single step is found exactly at its minute; the cost is linear per change found.
pub fn segment(counts: &[u64], penalty: f64) -> Segments {
    let n = counts.len();
    if n == 0 {
        return Vec::new();
    }
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0u64);
    for &c in counts {
        prefix.push(prefix[prefix.len() - 1] + c);
    }
    let seg = |a: usize, b: usize| cost((prefix[b] - prefix[a]) as f64, (b - a) as f64);
    let mut cuts = vec![0, n];
    let mut todo = vec![(0usize, n)];
    while let Some((a, b)) = todo.pop() {
        if b - a < 2 || cuts.len() > MAX_CHANGES {
            continue;
        }
        let whole = seg(a, b);
        let mut best = (0.0f64, 0usize);
        for k in a + 1..b {
            let gain = whole - seg(a, k) - seg(k, b);
            if gain > best.0 {
                best = (gain, k);
            }
        }
        if best.0 > penalty {
            cuts.push(best.1);
            todo.push((a, best.1));
            todo.push((best.1, b));
        }
    }
    cuts.sort_unstable();
    cuts.windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            (a, b, (prefix[b] - prefix[a]) as f64 / (b - a) as f64)
        })
        .collect()
}

/// The penalty per change point for a series of `n` minutes: the BIC's (two parameters per
/// change) and a little more. Noise may still split a series now and then; that is harmless, as
/// a storm must also be far above its baseline and add up.
pub fn penalty(n: usize) -> f64 {
    2.0 * (n.max(2) as f64).ln() + 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_skips_empty_years() {
        let a = Axis::of([0, 30 * MINUTE_MS, 10 * 365 * 86_400_000].into_iter());
        assert_eq!(a.periods.len(), 2);
        assert_eq!(a.len, 32);
        assert_eq!(a.index(30 * MINUTE_MS), Some(30));
        assert_eq!(a.index(10 * 365 * 86_400_000), Some(31));
        assert_eq!(a.time(31), 10 * 365 * 86_400_000);
        assert_eq!(a.index(5 * 86_400_000), None);
    }

    #[test]
    fn a_step_is_found_at_its_minute() {
        let mut c = vec![0u64; 60];
        c.extend(std::iter::repeat_n(3, 400));
        let s = segment(&c, penalty(c.len()));
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].1, 60);
        // Flat noise is one segment.
        let flat: Vec<u64> = (0..600).map(|i| [4, 6, 5, 3, 7, 5][i % 6]).collect();
        assert_eq!(segment(&flat, penalty(flat.len())).len(), 1);
    }
}
