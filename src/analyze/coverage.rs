//! Evidence quality: which stretch of time each server's logs cover, where they have holes
//! (Exchange deletes the oldest files when the folder is full), and whether the servers' clocks
//! agree. A finding that rests on incomplete evidence must say so.

use std::collections::BTreeMap;

use polars::prelude::PlHashMap;
use serde::Serialize;

use super::model::{Ev, Model, NONE, NO_SERVER};
use crate::ingest::fields::rfc3339;

/// Coverage is judged per hour: an hour with no row from a server while others carried mail.
pub const GAP_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub server: String,
    pub start: String,
    pub end: String,
    pub rows: u64,
    pub gaps: Vec<Gap>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Gap {
    pub start: String,
    pub end: String,
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skew {
    /// The hop that sent first...
    pub from: String,
    /// ...and the next hop that logged the message earlier than that.
    pub to: String,
    /// Messages seen on both.
    pub messages: u64,
    /// Of those, how many arrived "before" they were sent.
    pub inverted: u64,
    /// Median and largest amount by which the next hop is behind (ms).
    pub median_ms: i64,
    pub max_ms: i64,
}

pub fn coverage(m: &Model<'_>) -> Vec<Coverage> {
    let first_hour = m.start.div_euclid(GAP_MS);
    let hours = (m.end.div_euclid(GAP_MS) - first_hour + 1).max(1) as usize;
    let ns = m.servers.len();
    let mut seen = vec![vec![0u64; hours]; ns];
    let mut span = vec![(i64::MAX, i64::MIN, 0u64); ns];
    for r in 0..m.n {
        let s = m.server[r] as usize;
        let t = m.time[r];
        seen[s][(t.div_euclid(GAP_MS) - first_hour) as usize] += 1;
        let e = &mut span[s];
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
        e.2 += 1;
    }
    let mut out = Vec::new();
    for s in 0..ns {
        if span[s].2 == 0 {
            continue;
        }
        let mut gaps: Vec<Gap> = Vec::new();
        for (h, &mine) in seen[s].iter().enumerate() {
            // Only whole hours inside the bundle: its first and last hours are partial, and a
            // server with no row in a few seconds of them is no gap.
            let hour_start = (first_hour + h as i64) * GAP_MS;
            if hour_start < m.start || hour_start + GAP_MS > m.end {
                continue;
            }
            let others = (0..ns).any(|o| o != s && seen[o][h] > 0);
            if mine == 0 && others {
                let a = (first_hour + h as i64) * GAP_MS;
                match gaps.last_mut() {
                    Some(g) if g.end_ms == a => {
                        g.end_ms = a + GAP_MS;
                        g.end = rfc3339(g.end_ms);
                    }
                    _ => gaps.push(Gap {
                        start: rfc3339(a),
                        end: rfc3339(a + GAP_MS),
                        start_ms: a,
                        end_ms: a + GAP_MS,
                    }),
                }
            }
        }
        out.push(Coverage {
            server: m.servers.name(s as u32).to_string(),
            start: rfc3339(span[s].0),
            end: rfc3339(span[s].1),
            rows: span[s].2,
            gaps,
        });
    }
    out.sort_by(|a, b| a.server.cmp(&b.server));
    out
}

/// Clock skew between hops. A message cannot reach its next hop before it reached the server
/// that sent it on, so where server B logs its SMTP receive earlier than server A (which SENT it
/// to B) logged its own arrival, B's clock is behind A's by at least the difference. (Comparing
/// with A's SEND row would not do: Exchange logs SEND once the next hop has answered, after B's
/// RECEIVE, so small inversions there are normal.)
pub fn clock_skew(m: &Model<'_>) -> Vec<Skew> {
    let mut arrivals: PlHashMap<(u32, u16), i64> = PlHashMap::default();
    let mut hops: Vec<(u32, u16, u16)> = Vec::new();
    let mut recvs: PlHashMap<(u32, u16), i64> = PlHashMap::default();
    for &r in &m.order {
        let r = r as usize;
        if m.msg[r] == NONE {
            continue;
        }
        let k = (m.msg[r], m.server[r]);
        if m.ev[r].is_arrival() {
            arrivals.entry(k).or_insert(m.time[r]);
        }
        if m.ev[r] == Ev::Receive && m.client_ip[r] != NONE {
            recvs.entry(k).or_insert(m.time[r]);
        }
        if m.ev[r] == Ev::Send && m.send_target[r] != NO_SERVER && m.send_target[r] != m.server[r] {
            hops.push((m.msg[r], m.server[r], m.send_target[r]));
        }
    }
    hops.sort_unstable();
    hops.dedup();
    let mut pairs: BTreeMap<(u16, u16), (u64, Vec<i64>)> = BTreeMap::new();
    for (msg, a, b) in hops {
        let (Some(&arrived), Some(&received)) = (arrivals.get(&(msg, a)), recvs.get(&(msg, b)))
        else {
            continue;
        };
        let e = pairs.entry((a, b)).or_default();
        e.0 += 1;
        if received < arrived {
            e.1.push(arrived - received);
        }
    }
    let mut out: Vec<Skew> = pairs
        .into_iter()
        .filter(|(_, (_, inv))| !inv.is_empty())
        .map(|((a, b), (n, mut inv))| {
            inv.sort_unstable();
            Skew {
                from: m.servers.name(a as u32).to_string(),
                to: m.servers.name(b as u32).to_string(),
                messages: n,
                inverted: inv.len() as u64,
                median_ms: inv[inv.len() / 2],
                max_ms: inv[inv.len() - 1],
            }
        })
        .collect();
    out.sort_by(|x, y| {
        y.inverted
            .cmp(&x.inverted)
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    out
}
