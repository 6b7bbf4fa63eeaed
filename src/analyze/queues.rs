//! Queue velocity per server, rebuilt from the tracking log with Exchange's own definition:
//! arrivals and departures counted in 5-second buckets, rate = count / 5 s, IncomingRate and
//! OutgoingRate = mean of the last six buckets, Velocity = Outgoing − Incoming. Negative means
//! the queue grows. A message counts once per server: arriving at its first RECEIVE/SUBMIT there,
//! departing at its first SEND/DELIVER/FAIL/DROP there.

use std::collections::HashSet;

use serde::Serialize;

use super::model::{Model, NONE};
use crate::ingest::fields::rfc3339;

pub const BUCKET_MS: i64 = 5_000;
const WINDOW: usize = 6;

/// Settings for reporting growth.
#[derive(Debug, Clone, Copy)]
pub struct QueueParams {
    /// Velocity (messages/s) at or below which the queue counts as growing. Exchange's own
    /// guidance: values near zero (−0.02) are no problem.
    pub growing_below: f64,
    /// Shortest growing period worth reporting.
    pub min_duration_ms: i64,
    /// Dips shorter than this do not split a period.
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

#[derive(Debug, Clone, Serialize)]
pub struct Growing {
    pub start: String,
    pub end: String,
    pub duration_s: i64,
    /// Most negative velocity in the period (messages per second).
    pub min_velocity: f64,
    /// Messages that piled up: arrivals minus departures since the period began, at its peak.
    pub backlog_peak: i64,
    pub backlog_peak_at: String,
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    pub server: String,
    pub arrivals: u64,
    pub departures: u64,
    pub worst_velocity: f64,
    pub growing: Vec<Growing>,
    /// Per minute: the minute's lowest velocity and the backlog at its end (arrivals minus
    /// departures since the bundle began), for the chart.
    pub series: Vec<QueuePoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueuePoint {
    pub t: i64,
    pub velocity: f64,
    pub backlog: i64,
}

pub fn find(m: &Model<'_>, p: &QueueParams) -> Vec<QueueReport> {
    let nb = ((m.end - m.start) / BUCKET_MS + 1).max(1) as usize;
    let ns = m.servers.len();
    let mut inc = vec![vec![0u32; nb]; ns];
    let mut out = vec![vec![0u32; nb]; ns];
    let mut arrived: HashSet<(u32, u16)> = HashSet::new();
    let mut departed: HashSet<(u32, u16)> = HashSet::new();
    for &r in &m.order {
        let r = r as usize;
        let ev = m.ev[r];
        let (arr, dep) = (ev.is_arrival(), ev.is_departure());
        if !arr && !dep {
            continue;
        }
        let b = ((m.time[r] - m.start) / BUCKET_MS) as usize;
        let s = m.server[r] as usize;
        let key = (m.msg[r], m.server[r]);
        if arr && (m.msg[r] == NONE || arrived.insert(key)) {
            inc[s][b.min(nb - 1)] += 1;
        }
        if dep && (m.msg[r] == NONE || departed.insert(key)) {
            out[s][b.min(nb - 1)] += 1;
        }
    }
    let mut reports = Vec::new();
    for s in 0..ns {
        let (ins, outs) = (&inc[s], &out[s]);
        let arrivals: u64 = ins.iter().map(|&x| x as u64).sum();
        let departures: u64 = outs.iter().map(|&x| x as u64).sum();
        if arrivals + departures == 0 {
            continue;
        }
        let mut velocity = vec![0f64; nb];
        let (mut sum_in, mut sum_out) = (0i64, 0i64);
        for b in 0..nb {
            sum_in += ins[b] as i64;
            sum_out += outs[b] as i64;
            if b >= WINDOW {
                sum_in -= ins[b - WINDOW] as i64;
                sum_out -= outs[b - WINDOW] as i64;
            }
            let w = (b + 1).min(WINDOW) as f64;
            let rate = |sum: i64| sum as f64 / BUCKET_MS as f64 * 1000.0 / w;
            velocity[b] = rate(sum_out) - rate(sum_in);
        }
        // Growing periods: runs at or below the threshold, merged over short dips.
        let gap = (p.merge_gap_ms / BUCKET_MS) as usize;
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (b, &v) in velocity.iter().enumerate() {
            if v > p.growing_below {
                continue;
            }
            match runs.last_mut() {
                Some(r) if b - r.1 <= gap + 1 => r.1 = b,
                _ => runs.push((b, b)),
            }
        }
        let mut growing = Vec::new();
        for (a, b) in runs {
            let start_ms = m.start + a as i64 * BUCKET_MS;
            let end_ms = m.start + (b as i64 + 1) * BUCKET_MS;
            if end_ms - start_ms < p.min_duration_ms {
                continue;
            }
            // The backlog is counted from a little before the run, since the six-bucket mean
            // lags the arrivals that started it.
            let from = a.saturating_sub(WINDOW);
            let mut backlog = 0i64;
            let (mut peak, mut peak_at) = (0i64, from);
            for k in from..=b {
                backlog += ins[k] as i64 - outs[k] as i64;
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
                backlog_peak_at: rfc3339(m.start + (peak_at as i64 + 1) * BUCKET_MS),
                start_ms,
                end_ms,
            });
        }
        let per_min = (60_000 / BUCKET_MS) as usize;
        let mut series = Vec::with_capacity(nb / per_min + 1);
        let mut backlog = 0i64;
        for (k, chunk) in velocity.chunks(per_min).enumerate() {
            for b in k * per_min..(k * per_min + chunk.len()) {
                backlog += ins[b] as i64 - outs[b] as i64;
            }
            series.push(QueuePoint {
                t: m.start + (k * per_min) as i64 * BUCKET_MS,
                velocity: round2(chunk.iter().copied().fold(f64::INFINITY, f64::min)),
                backlog,
            });
        }
        reports.push(QueueReport {
            server: m.servers.name(s as u32).to_string(),
            arrivals,
            departures,
            worst_velocity: round2(velocity.iter().copied().fold(0.0, f64::min)),
            growing,
            series,
        });
    }
    reports.sort_by(|a, b| a.server.cmp(&b.server));
    reports
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
