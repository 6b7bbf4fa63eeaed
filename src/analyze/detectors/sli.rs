//! Service level indicators of mail flow: messages, failures and delivery latency per window and
//! overall, and an optional latency SLO with its error budget. A message's latency is Exchange's
//! own where its completing row carries the origination time (`message-info`), else from its
//! first arrival to its last completion on our servers; a message seen on one row only measures
//! nothing and is left out. Shadow-redundancy events say nothing about delivery and never count
//! as failures. Windows are kept only where there is mail.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::detectors::sources::ratio;
use crate::analyze::model::Class;
use crate::analyze::summary::{Sentence, FOOTER};
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::error::Result;
use crate::human::{count, rfc3339, secs, span};

#[derive(Debug, Clone, Copy, Serialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Latency {
    pub p50: Option<i64>,
    pub p95: Option<i64>,
    pub p99: Option<i64>,
    /// Messages with a measured latency.
    pub measured: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sli {
    pub messages: u64,
    pub failed: u64,
    pub failure_ratio: f64,
    pub latency_ms: Latency,
    pub window_seconds: i64,
    /// Windows with mail, in time order (empty stretches are left out).
    pub windows: Vec<SliWindow>,
    pub slo: Option<Slo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliWindow {
    pub start: String,
    pub messages: u64,
    pub failed: u64,
    pub failure_ratio: f64,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
    Some(sorted[nearest_rank(sorted.len(), p)?])
}

/// The index of the nearest-rank `p`th percentile among `n` sorted values; `None` when `n` is 0.
pub(crate) fn nearest_rank(n: usize, p: f64) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(rank.clamp(1, n) - 1)
}

/// Nearest-rank p50, p95 and p99 of `v`. Each rank is selected in linear time (the values are
/// those of [`percentile`] on the sorted list, without sorting it: the blast radius asks this of
/// large windows once per storm).
pub fn latency_of(mut v: Vec<i64>) -> Latency {
    let n = v.len();
    let mut at = |p: f64| Some(*v.select_nth_unstable(nearest_rank(n, p)?).1);
    Latency {
        p50: at(50.0),
        p95: at(95.0),
        p99: at(99.0),
        measured: n as u64,
    }
}

pub struct Slis;

impl Detector for Slis {
    fn key(&self) -> &'static str {
        "sli"
    }
    fn title(&self) -> &'static str {
        "Service level indicators"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Traffic
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/sli.html"))
    }
    fn methods(&self, p: &Params) -> String {
        format!(
            "A message fails if any of its rows is FAIL, DELIVERFAIL, DROP, BADMAIL, POISONMESSAGE or SUBMITFAIL; shadow-redundancy events (HA*) say nothing about delivery and are left out. Latency is Exchange's own where the message's completing row carries its origination time in message-info (end-to-end, as Exchange measures it), else from its first arrival on any of our servers to its last DELIVER, SEND or SENDEXTERNAL; a message seen on one row only, or with an origination time from a client whose clock is off (negative, or over a week), measures nothing and is left out. Percentiles are nearest-rank, over {} windows with mail.{}",
            span(p.sli.window_ms),
            match p.sli.slo_latency_ms {
                Some(l) => format!(" Objective: {:.2}% of messages within {}.", p.sli.slo_target * 100.0, secs(Some(l))),
                None => String::new(),
            }
        )
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let p = &cx.p.sli;
        let w = p.window_ms.max(1000);
        let mut windows: BTreeMap<i64, (u64, u64, Vec<i64>)> = BTreeMap::new();
        let mut all = Vec::new();
        let (mut total, mut failed, mut bad) = (0u64, 0u64, 0u64);
        let (mut notif, mut auto) = (0u64, 0u64);
        for (i, msg) in m.msgs.iter().enumerate() {
            if !cx.counts(i) {
                continue;
            }
            total += 1;
            match msg.class {
                Class::Notification => notif += 1,
                Class::AutoReply => auto += 1,
                Class::Original => {}
            }
            let slot = windows.entry(msg.arrival.div_euclid(w) * w).or_default();
            slot.0 += 1;
            if msg.failed {
                slot.1 += 1;
                failed += 1;
            }
            let l = m.latency(msg);
            if let Some(l) = l {
                slot.2.push(l);
                all.push(l);
            }
            if let Some(slo) = p.slo_latency_ms {
                if l.is_none_or(|l| l > slo) && (l.is_some() || msg.failed) {
                    bad += 1;
                }
            }
        }
        let windows: Vec<SliWindow> = windows
            .into_iter()
            .map(|(t, (n, f, l))| SliWindow {
                start: rfc3339(t),
                messages: n,
                failed: f,
                failure_ratio: ratio(f, n),
                latency_ms: latency_of(l),
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
        let sli = Sli {
            messages: total,
            failed,
            failure_ratio: ratio(failed, total),
            latency_ms: latency_of(all),
            window_seconds: w / 1000,
            windows,
            slo,
        };
        let mut d = Detected::default();
        d.summary.push(Sentence {
            text: format!(
                "Overall: {} ({}, {}), {:.2}% failed; delivery latency p50 {}, p95 {}, p99 {} ({} measured).",
                count(total, "message", "messages"),
                count(notif, "notification", "notifications"),
                count(auto, "automatic reply", "automatic replies"),
                sli.failure_ratio * 100.0,
                secs(sli.latency_ms.p50),
                secs(sli.latency_ms.p95),
                secs(sli.latency_ms.p99),
                crate::human::thousands(sli.latency_ms.measured),
            ),
            weight: FOOTER,
        });
        if let Some(slo) = &sli.slo {
            d.summary.push(Sentence {
                text: format!(
                    "Latency objective {} for {:.2}% of messages: {:.2}% met it; {:.0}% of the error budget burned.",
                    secs(Some(slo.latency_ms)),
                    slo.target * 100.0,
                    slo.good_ratio * 100.0,
                    slo.budget_burned * 100.0
                ),
                weight: FOOTER,
            });
        }
        d.values.push(("sli", serde_json::to_value(&sli)?));
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_ranks_equal_sorted_ranks() {
        let mut x: u64 = 7;
        for n in [0usize, 1, 2, 3, 10, 99, 100, 1001] {
            let v: Vec<i64> = (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 40) as i64 % 5000
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            let l = latency_of(v);
            assert_eq!(l.p50, percentile(&sorted, 50.0), "{n}");
            assert_eq!(l.p95, percentile(&sorted, 95.0), "{n}");
            assert_eq!(l.p99, percentile(&sorted, 99.0), "{n}");
            assert_eq!(l.measured, n as u64);
        }
    }

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
