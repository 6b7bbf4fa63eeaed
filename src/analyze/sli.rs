//! Service level indicators of mail flow: messages, failures and delivery latency per window and
//! overall, an optional latency SLO with its error budget, and the blast radius of each loop or
//! storm on the ordinary mail around it.

use serde::Serialize;

use super::clients::ratio;
use super::model::{Class, Model};
use crate::ingest::fields::rfc3339;

#[derive(Debug, Clone, Copy)]
pub struct SliParams {
    pub window_ms: i64,
    /// Latency objective (ms) and the share of messages that must meet it.
    pub slo_latency_ms: Option<i64>,
    pub slo_target: f64,
}

impl Default for SliParams {
    fn default() -> Self {
        SliParams {
            window_ms: 5 * 60_000,
            slo_latency_ms: None,
            slo_target: 0.99,
        }
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Latency {
    pub p50: Option<i64>,
    pub p95: Option<i64>,
    pub p99: Option<i64>,
    /// Messages with a measured latency (arrival and completion both in the bundle).
    pub measured: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sli {
    pub messages: u64,
    pub failed: u64,
    pub failure_ratio: f64,
    pub latency_ms: Latency,
    pub window_seconds: i64,
    pub windows: Vec<SliWindow>,
    pub slo: Option<Slo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SliWindow {
    pub start: String,
    #[serde(skip)]
    pub start_ms: i64,
    pub messages: u64,
    pub failed: u64,
    pub failure_ratio: f64,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    pub latency_ms: i64,
    pub target: f64,
    /// Messages slower than the objective (or never completed while failing).
    pub bad: u64,
    pub good_ratio: f64,
    /// Share of the error budget used: 1.0 means all of it.
    pub budget_burned: f64,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn latency_of(mut v: Vec<i64>) -> Latency {
    v.sort_unstable();
    Latency {
        p50: percentile(&v, 50.0),
        p95: percentile(&v, 95.0),
        p99: percentile(&v, 99.0),
        measured: v.len() as u64,
    }
}

/// A message's delivery latency: first arrival anywhere to its last completion.
pub fn latency(m: &super::model::Msg) -> Option<i64> {
    m.done.map(|d| (d - m.arrival).max(0))
}

pub fn compute(m: &Model<'_>, p: &SliParams) -> Sli {
    let w = p.window_ms.max(1000);
    let first = m.start.div_euclid(w) * w;
    let nw = ((m.end - first) / w + 1).max(1) as usize;
    let mut lat: Vec<Vec<i64>> = vec![Vec::new(); nw];
    let mut count = vec![0u64; nw];
    let mut failed = vec![0u64; nw];
    let mut all = Vec::new();
    let (mut total, mut total_failed, mut bad) = (0u64, 0u64, 0u64);
    for msg in &m.msgs {
        if msg.rows == 0 {
            continue;
        }
        let k = (((msg.arrival - first) / w).max(0) as usize).min(nw - 1);
        count[k] += 1;
        total += 1;
        if msg.failed {
            failed[k] += 1;
            total_failed += 1;
        }
        let l = latency(msg);
        if let Some(l) = l {
            lat[k].push(l);
            all.push(l);
        }
        if let Some(slo) = p.slo_latency_ms {
            if l.is_none_or(|l| l > slo) && (l.is_some() || msg.failed) {
                bad += 1;
            }
        }
    }
    let windows = (0..nw)
        .map(|k| SliWindow {
            start: rfc3339(first + k as i64 * w),
            start_ms: first + k as i64 * w,
            messages: count[k],
            failed: failed[k],
            failure_ratio: ratio(failed[k], count[k]),
            latency_ms: latency_of(std::mem::take(&mut lat[k])),
        })
        .collect();
    let slo = p.slo_latency_ms.map(|l| {
        let good = ratio(total - bad, total);
        let allowed = (1.0 - p.slo_target).max(1e-9);
        Slo {
            latency_ms: l,
            target: p.slo_target,
            bad,
            good_ratio: good,
            budget_burned: (((1.0 - good) / allowed) * 1000.0).round() / 1000.0,
        }
    });
    Sli {
        messages: total,
        failed: total_failed,
        failure_ratio: ratio(total_failed, total),
        latency_ms: latency_of(all),
        window_seconds: w / 1000,
        windows,
        slo,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Radius {
    pub messages: u64,
    pub failure_ratio: f64,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlastRadius {
    /// `loop` or `storm`, with the index into `loops` / `storms`.
    pub finding: String,
    pub index: usize,
    pub start: String,
    pub end: String,
    /// Ordinary mail (not part of any loop or storm) before the finding began, over as long a
    /// stretch as the finding itself (or what the bundle has).
    pub before: Radius,
    pub during: Radius,
}

/// Ordinary mail before and during a period. `excluded[i]` marks messages of loops and storms.
pub fn blast_radius(m: &Model<'_>, excluded: &[bool], start: i64, end: i64) -> (Radius, Radius) {
    let len = (end - start).max(60_000);
    let before_from = (start - len).max(m.start);
    let mut acc = [(0u64, 0u64, Vec::new()), (0u64, 0u64, Vec::new())];
    for (i, msg) in m.msgs.iter().enumerate() {
        if msg.rows == 0
            || excluded.get(i).copied().unwrap_or(false)
            || msg.class != Class::Original
        {
            continue;
        }
        let slot = if msg.arrival >= before_from && msg.arrival < start {
            0
        } else if msg.arrival >= start && msg.arrival <= end {
            1
        } else {
            continue;
        };
        let a = &mut acc[slot];
        a.0 += 1;
        if msg.failed {
            a.1 += 1;
        }
        if let Some(l) = latency(msg) {
            a.2.push(l);
        }
    }
    let [b, d] = acc;
    let r = |(n, f, l): (u64, u64, Vec<i64>)| Radius {
        messages: n,
        failure_ratio: ratio(f, n),
        latency_ms: latency_of(l),
    };
    (r(b), r(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
