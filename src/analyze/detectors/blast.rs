//! The blast radius of each loop or storm on ordinary mail: the failure ratio and latency of
//! the mail that had nothing to do with it, during the finding and over as long a stretch before
//! it. That is what the users felt.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze::detectors::sli::{nearest_rank, Latency};
use crate::analyze::detectors::sources::ratio;
use crate::analyze::model::Class;
use crate::analyze::{Cx, Detected, Detector, Mark, Params, Place, Stage};
use crate::error::Result;
use crate::human::rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Radius {
    pub messages: u64,
    pub failure_ratio: f64,
    pub latency_ms: Latency,
}

/// Which finding a blast radius belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Loop,
    Storm,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlastRadius {
    /// `loop` or `storm`, with the index into `loops` / `storms`.
    pub finding: FindingKind,
    pub index: usize,
    pub start: String,
    pub end: String,
    /// Ordinary mail (not part of any loop or storm) before the finding began, over as long a
    /// stretch as the finding itself (or what the bundle has).
    pub before: Radius,
    pub during: Radius,
}

pub struct Blast;

impl Detector for Blast {
    fn key(&self) -> &'static str {
        "blast_radius"
    }
    fn title(&self) -> &'static str {
        "Blast radius"
    }
    fn stage(&self) -> Stage {
        Stage::Third
    }
    fn place(&self) -> Place {
        Place::Incident
    }
    fn template(&self) -> Option<&'static str> {
        None
    }
    fn methods(&self, _: &Params) -> String {
        "Ordinary mail is every original message that is not in a loop, does not feed one, and is not part of a storm. Its failure ratio and latency during a loop or storm are compared with the same length of time just before it.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut excluded = vec![false; m.msgs.len()];
        for mark in cx.board.loops.iter().chain(&cx.board.storms) {
            for &i in mark.msgs.iter().chain(&mark.roots) {
                excluded[i as usize] = true;
            }
        }
        // Ordinary originals by arrival, each with its latency worked out once: every mark then
        // reads two slices of this list (binary search), not the whole model.
        let mut ordinary: Vec<(i64, bool, Option<i64>)> = m
            .msgs
            .iter()
            .enumerate()
            .filter(|&(i, msg)| cx.counts(i) && !excluded[i] && msg.class == Class::Original)
            .map(|(_, msg)| (msg.arrival, msg.failed, m.latency(msg)))
            .collect();
        ordinary.sort_unstable_by_key(|x| x.0);
        // Marks are many (a loop each) and their windows long (a storm can span the bundle):
        // counts come from running sums and percentiles from a rank index, so a window costs
        // a few binary searches rather than a pass over its messages.
        let mut failed_before = Vec::with_capacity(ordinary.len() + 1);
        let mut measured_before = Vec::with_capacity(ordinary.len() + 1);
        let (mut f, mut n) = (0u64, 0usize);
        for x in &ordinary {
            failed_before.push(f);
            measured_before.push(n);
            f += u64::from(x.1);
            n += usize::from(x.2.is_some());
        }
        failed_before.push(f);
        measured_before.push(n);
        let latencies: Vec<i64> = ordinary.iter().filter_map(|x| x.2).collect();
        let ranks = RangeRank::new(&latencies);
        let radius = |mark: &Mark| {
            let len = (mark.end - mark.start).max(60_000);
            let before_from = (mark.start - len).max(m.start);
            let lo = ordinary.partition_point(|x| x.0 < before_from);
            let mid = ordinary.partition_point(|x| x.0 < mark.start).max(lo);
            let hi = ordinary.partition_point(|x| x.0 <= mark.end).max(mid);
            let r = |a: usize, b: usize| {
                let (from, to) = (measured_before[a], measured_before[b]);
                let at = |p: f64| Some(ranks.nth(from, to, nearest_rank(to - from, p)?));
                Radius {
                    messages: (b - a) as u64,
                    failure_ratio: ratio(failed_before[b] - failed_before[a], (b - a) as u64),
                    latency_ms: Latency {
                        p50: at(50.0),
                        p95: at(95.0),
                        p99: at(99.0),
                        measured: (to - from) as u64,
                    },
                }
            };
            (r(lo, mid), r(mid, hi))
        };
        let marks: Vec<(FindingKind, usize, &Mark)> = [
            (FindingKind::Loop, &cx.board.loops),
            (FindingKind::Storm, &cx.board.storms),
        ]
        .into_iter()
        .flat_map(|(kind, marks)| marks.iter().enumerate().map(move |(i, x)| (kind, i, x)))
        .collect();
        // A storm's window can hold most of the bundle's messages: the marks are measured side
        // by side (and kept in their order).
        let out: Vec<BlastRadius> = marks
            .par_iter()
            .map(|&(kind, index, mark)| {
                let (before, during) = radius(mark);
                BlastRadius {
                    finding: kind,
                    index,
                    start: rfc3339(mark.start),
                    end: rfc3339(mark.end),
                    before,
                    during,
                }
            })
            .collect();
        Detected::value("blast_radius", out)
    }
}

/// Order statistics of any stretch of a list: a merge-sort tree (level `l` holds the list in
/// sorted blocks of `2^l`), so the k-th smallest of `vals[a..b]` costs O(log³ n) instead of a
/// pass over the stretch.
struct RangeRank {
    levels: Vec<Vec<i64>>,
}

impl RangeRank {
    fn new(vals: &[i64]) -> Self {
        let mut levels = vec![vals.to_vec()];
        let mut width = 1;
        while width < vals.len() {
            let prev = &levels[levels.len() - 1];
            let mut next = Vec::with_capacity(prev.len());
            for block in prev.chunks(2 * width) {
                let (l, r) = block.split_at(width.min(block.len()));
                let (mut i, mut j) = (0, 0);
                while i < l.len() && j < r.len() {
                    if r[j] < l[i] {
                        next.push(r[j]);
                        j += 1;
                    } else {
                        next.push(l[i]);
                        i += 1;
                    }
                }
                next.extend_from_slice(&l[i..]);
                next.extend_from_slice(&r[j..]);
            }
            levels.push(next);
            width *= 2;
        }
        RangeRank { levels }
    }

    /// How many of `vals[a..b]` are at most `x`: the stretch is cut into aligned blocks, at
    /// most two per level.
    fn count_le(&self, mut a: usize, mut b: usize, x: i64) -> usize {
        let mut count = 0;
        let mut level = 0;
        while a < b && level < self.levels.len() {
            let w = 1usize << level;
            let blocks = &self.levels[level];
            if a & w != 0 {
                count += blocks[a..a + w].partition_point(|&v| v <= x);
                a += w;
            }
            if a < b && b & w != 0 {
                b -= w;
                count += blocks[b..b + w].partition_point(|&v| v <= x);
            }
            level += 1;
        }
        count
    }

    /// The `k`-th smallest (from 0) of `vals[a..b]`; `k < b - a`.
    fn nth(&self, a: usize, b: usize, k: usize) -> i64 {
        // The answer is the smallest value of the whole list with more than `k` of the stretch
        // at or below it.
        let all = &self.levels[self.levels.len() - 1];
        let (mut lo, mut hi) = (0, all.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.count_le(a, b, all[mid]) > k {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        all[lo]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::detectors::sli::latency_of;
    use rand::{Rng, SeedableRng};

    #[test]
    fn ranks_of_any_stretch_are_those_of_sorting_it() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [1usize, 2, 3, 5, 8, 13, 64, 100, 1000] {
            // Few distinct values (ties) and many.
            for spread in [3i64, 1_000_000] {
                let vals: Vec<i64> = (0..n).map(|_| rng.random_range(0..spread)).collect();
                let ranks = RangeRank::new(&vals);
                for _ in 0..200 {
                    let a = rng.random_range(0..n);
                    let b = rng.random_range(a + 1..=n);
                    let mut sorted = vals[a..b].to_vec();
                    sorted.sort_unstable();
                    let k = rng.random_range(0..b - a);
                    assert_eq!(ranks.nth(a, b, k), sorted[k], "{n} {spread} {a}..{b} k {k}");
                    let want = latency_of(vals[a..b].to_vec());
                    let at = |p: f64| Some(ranks.nth(a, b, nearest_rank(b - a, p)?));
                    assert_eq!(
                        (at(50.0), at(95.0), at(99.0)),
                        (want.p50, want.p95, want.p99)
                    );
                }
            }
        }
    }
}
