//! Queue velocity per server, rebuilt from the tracking log with Exchange's own definition:
//! arrivals and departures counted in 5-second buckets, rate = count / 5 s, IncomingRate and
//! OutgoingRate = mean of the last six buckets, Velocity = Outgoing − Incoming. Negative means
//! the queue grows. A message counts once per server: arriving at its first RECEIVE/SUBMIT there,
//! departing at its first SEND/DELIVER/FAIL/DROP there. Buckets are kept sparse: velocity is
//! zero more than six buckets after the last event, so only buckets near events are visited and
//! the cost follows the rows, not the span.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::model::intern::FastSet;
use crate::analyze::model::NONE;
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::bundle::path_order;
use crate::error::Result;
use crate::human::{count, minute, rfc3339, span};

pub const BUCKET_MS: i64 = 5_000;
const WINDOW: i64 = 6;

/// Settings for reporting growth.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct QueueParams {
    /// Velocity (messages/s) at or below which the queue counts as growing. Exchange's own
    /// guidance: values near zero (−0.02) are no problem.
    pub growing_below: f64,
    /// Shortest growing period worth reporting (ms).
    pub min_duration_ms: i64,
    /// Dips shorter than this do not split a period (ms).
    pub merge_gap_ms: i64,
}

impl Default for QueueParams {
    fn default() -> Self {
        QueueParams {
            growing_below: -0.1,
            min_duration_ms: 2 * 60_000,
            merge_gap_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Growing {
    pub start: String,
    pub end: String,
    pub duration_s: i64,
    /// Most negative velocity in the period (messages per second).
    pub min_velocity: f64,
    /// Messages that piled up: arrivals minus departures since the period began, at its peak.
    pub backlog_peak: i64,
    pub backlog_peak_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueReport {
    pub server: String,
    pub arrivals: u64,
    pub departures: u64,
    pub worst_velocity: f64,
    /// The largest backlog any growing period reached, and how long the queue grew in all.
    pub backlog_peak: i64,
    pub grew_for_s: i64,
    pub growing: Vec<Growing>,
    /// Per minute with activity: the minute's lowest velocity and the backlog at its end
    /// (arrivals minus departures since the bundle began), for the chart.
    pub series: Vec<QueuePoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuePoint {
    pub t: i64,
    pub velocity: f64,
    pub backlog: i64,
}

pub struct Queues;

impl Detector for Queues {
    fn key(&self) -> &'static str {
        "queues"
    }
    fn title(&self) -> &'static str {
        "Queues"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Traffic
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/queues.html"))
    }
    fn methods(&self, p: &Params) -> String {
        let q = &p.queues;
        format!(
            "Per server, a message arrives at its first RECEIVE/SUBMIT there and departs at its first SEND, SENDEXTERNAL, DELIVER, DELIVERFAIL, FAIL, DROP, BADMAIL or POISONMESSAGE there. Counts per 5-second bucket, rates over the last six buckets, velocity = outgoing − incoming (Exchange's definition). Growing: velocity at or below {} msg/s for at least {} (dips of under {} merged); the backlog is arrivals minus departures from just before the period began.",
            q.growing_below,
            span(q.min_duration_ms),
            span(q.merge_gap_ms)
        )
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let reports = find(cx);
        let minutes = ((cx.m.end - cx.m.start) / 60_000).max(1) as f64;
        let mut d = Detected {
            found: reports.iter().map(|q| q.growing.len()).sum(),
            ..Detected::default()
        };
        for q in &reports {
            if let Some(g) = q
                .growing
                .iter()
                .max_by(|a, b| a.backlog_peak.cmp(&b.backlog_peak))
            {
                d.summary.push(Sentence {
                    text: format!(
                        "The queue on {} grew for {} from {}, to a backlog of {} (velocity down to {} msg/s).",
                        q.server,
                        span(g.duration_s * 1000),
                        minute(&g.start),
                        count(g.backlog_peak.max(0) as u64, "message", "messages"),
                        g.min_velocity
                    ),
                    weight: cx.share(g.backlog_peak.max(0) as u64)
                        + 0.1 * (q.grew_for_s as f64 / 60.0) / minutes,
                });
            }
        }
        d.values.push(("queues", serde_json::to_value(&reports)?));
        Ok(d)
    }
}

/// Whether this is the first time message `id` is seen at server `s` (rows without an id always
/// count): in `bits` when the servers fit in a word, else in `set`.
fn first(bits: &mut [u64], set: &mut FastSet<(u32, u32)>, id: u32, s: u32) -> bool {
    if id == NONE {
        true
    } else if let Some(w) = bits.get_mut(id as usize) {
        let had = *w & (1 << s) != 0;
        *w |= 1 << s;
        !had
    } else {
        set.insert((id, s))
    }
}

pub fn find(cx: &Cx<'_>) -> Vec<QueueReport> {
    let m = cx.m;
    let p = &cx.p.queues;
    let ns = m.servers.len();
    // Per server: (bucket, (in, out)), in bucket order: the rows come in time order, so a row
    // adds to its server's last bucket or opens the next one.
    let mut runs_of: Vec<Vec<(i64, (u32, u32))>> = vec![Vec::new(); ns];
    // Whether a message already arrived at / left a server: one bit per server and message
    // while the servers fit in a word, else a set.
    let words = if ns <= 64 { m.msgs.len() } else { 0 };
    let (mut arrived_bits, mut departed_bits) = (vec![0u64; words], vec![0u64; words]);
    let mut arrived: FastSet<(u32, u32)> = FastSet::default();
    let mut departed: FastSet<(u32, u32)> = FastSet::default();
    for &r in &m.order {
        let r = r as usize;
        let e = m.ev[r];
        let (arr, dep) = (e.is_arrival(), e.is_departure());
        if !arr && !dep {
            continue;
        }
        let id = m.msg[r];
        if id != NONE && !cx.counts(id as usize) {
            continue;
        }
        let b = m.time[r].div_euclid(BUCKET_MS);
        let s = m.server[r];
        let list = &mut runs_of[s as usize];
        if list.last().is_none_or(|l| l.0 != b) {
            list.push((b, (0, 0)));
        }
        let Some((_, slot)) = list.last_mut() else {
            continue;
        };
        if arr && first(&mut arrived_bits, &mut arrived, id, s) {
            slot.0 += 1;
        }
        if dep && first(&mut departed_bits, &mut departed, id, s) {
            slot.1 += 1;
        }
    }
    let ev: Vec<BTreeMap<i64, (u32, u32)>> = runs_of
        .into_iter()
        .map(|l| l.into_iter().collect())
        .collect();
    let mut reports = Vec::new();
    for (s, events) in ev.iter().enumerate() {
        let arrivals: u64 = events.values().map(|x| x.0 as u64).sum();
        let departures: u64 = events.values().map(|x| x.1 as u64).sum();
        if arrivals + departures == 0 {
            continue;
        }
        // Buckets where the velocity can be non-zero: each event's bucket and the five after.
        let mut active: Vec<i64> = Vec::with_capacity(events.len() * 2);
        for &b in events.keys() {
            let from = active.last().map_or(b, |&l| (l + 1).max(b));
            active.extend(from..b + WINDOW);
        }
        let list: Vec<(i64, (u32, u32))> = events.iter().map(|(k, v)| (*k, *v)).collect();
        let mut velocity = Vec::with_capacity(active.len());
        let (mut lo, mut hi) = (0usize, 0usize);
        let (mut sum_in, mut sum_out) = (0i64, 0i64);
        for &b in &active {
            while hi < list.len() && list[hi].0 <= b {
                sum_in += list[hi].1 .0 as i64;
                sum_out += list[hi].1 .1 as i64;
                hi += 1;
            }
            while lo < hi && list[lo].0 <= b - WINDOW {
                sum_in -= list[lo].1 .0 as i64;
                sum_out -= list[lo].1 .1 as i64;
                lo += 1;
            }
            let rate = |sum: i64| sum as f64 / (BUCKET_MS * WINDOW) as f64 * 1000.0;
            velocity.push(rate(sum_out) - rate(sum_in));
        }
        // Growing periods: runs at or below the threshold, merged over short dips.
        let gap = p.merge_gap_ms / BUCKET_MS;
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (k, &v) in velocity.iter().enumerate() {
            if v > p.growing_below {
                continue;
            }
            match runs.last_mut() {
                Some(r) if active[k] - active[r.1] <= gap + 1 => r.1 = k,
                _ => runs.push((k, k)),
            }
        }
        let mut growing = Vec::new();
        for (a, b) in runs {
            let start_ms = active[a] * BUCKET_MS;
            let end_ms = (active[b] + 1) * BUCKET_MS;
            if end_ms - start_ms < p.min_duration_ms {
                continue;
            }
            // The backlog is counted from a little before the run, since the six-bucket mean
            // lags the arrivals that started it.
            let from = active[a] - WINDOW;
            let mut backlog = 0i64;
            let (mut peak, mut peak_at) = (0i64, from);
            for (&k, &(i, o)) in events.range(from..=active[b]) {
                backlog += i as i64 - o as i64;
                if backlog > peak {
                    peak = backlog;
                    peak_at = k;
                }
            }
            let min_v = velocity[a..=b]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            growing.push(Growing {
                start: rfc3339(start_ms),
                end: rfc3339(end_ms),
                duration_s: (end_ms - start_ms) / 1000,
                min_velocity: round2(min_v),
                backlog_peak: peak,
                backlog_peak_at: rfc3339((peak_at + 1) * BUCKET_MS),
            });
        }
        // Chart series: per active minute, the lowest velocity and the backlog at its end.
        let per_min = 60_000 / BUCKET_MS;
        let mut series: Vec<QueuePoint> = Vec::new();
        let mut backlog = 0i64;
        let mut it = events.iter().peekable();
        for (k, &b) in active.iter().enumerate() {
            let minute = b.div_euclid(per_min) * per_min;
            while let Some((&eb, &(i, o))) = it.peek() {
                if eb > b {
                    break;
                }
                backlog += i as i64 - o as i64;
                it.next();
            }
            match series.last_mut() {
                Some(pt) if pt.t == minute * BUCKET_MS => {
                    pt.velocity = pt.velocity.min(round2(velocity[k]));
                    pt.backlog = backlog;
                }
                _ => series.push(QueuePoint {
                    t: minute * BUCKET_MS,
                    velocity: round2(velocity[k]),
                    backlog,
                }),
            }
        }
        reports.push(QueueReport {
            server: m.servers.name(s as u32).to_string(),
            arrivals,
            departures,
            worst_velocity: round2(velocity.iter().copied().fold(0.0, f64::min)),
            backlog_peak: growing.iter().map(|g| g.backlog_peak).max().unwrap_or(0),
            grew_for_s: growing.iter().map(|g| g.duration_s).sum(),
            growing,
            series,
        });
    }
    reports.sort_by(|a, b| path_order(&a.server, &b.server));
    reports
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sightings_agree_with_bits_and_with_a_set() {
        let seq = [
            (0, 0),
            (0, 0),
            (0, 63),
            (1, 0),
            (0, 63),
            (NONE, 5),
            (NONE, 5),
            (2, 7),
            (1, 0),
        ];
        let mut bits = vec![0u64; 3];
        let (mut unused, mut set) = (FastSet::default(), FastSet::default());
        let with_bits: Vec<bool> = seq
            .iter()
            .map(|&(id, s)| first(&mut bits, &mut unused, id, s))
            .collect();
        let with_set: Vec<bool> = seq
            .iter()
            .map(|&(id, s)| first(&mut [], &mut set, id, s))
            .collect();
        assert_eq!(
            with_bits,
            [true, false, true, true, false, true, true, true, false]
        );
        assert_eq!(with_bits, with_set);
        assert!(unused.is_empty(), "bits used alone while they fit");
    }
}
