//! Evidence quality: which stretch of time each server's logs cover, where they have holes
//! (Exchange deletes the oldest files when the folder is full), and whether the servers' clocks
//! agree. A finding that rests on incomplete evidence must say so. Hours are kept sparse (only
//! hours with rows exist), so a bundle spanning years costs what its rows cost.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::analyze::model::classify::Ev;
use crate::analyze::model::intern::FastMap;
use crate::analyze::model::{Model, NONE};
use crate::analyze::series::{Axis, MINUTE_MS};
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::bundle::path_order;
use crate::error::Result;
use crate::human::{count, rfc3339, secs};

/// Inversions smaller than this are ordinary clock jitter.
pub const MIN_SKEW_MS: i64 = 1_000;

/// Coverage is judged per hour: an hour with no row from a server while others carried mail.
pub const GAP_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Coverage {
    pub server: String,
    pub start: String,
    pub end: String,
    pub rows: u64,
    pub gaps: Vec<Gap>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gap {
    pub start: String,
    pub end: String,
}

/// A gap with its server and times, for other detectors' caveats.
#[derive(Debug, Clone)]
pub struct GapAt {
    pub server: String,
    pub start: String,
    pub end: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// Servers with rows, per hour (sparse).
type ByHour = BTreeMap<i64, BTreeSet<u32>>;

/// Per server: its rows per hour (sparse) and covered span (first, last, rows).
fn hours(m: &Model) -> (ByHour, Vec<(i64, i64, u64)>) {
    let ns = m.servers.len();
    let mut by_hour: BTreeMap<i64, BTreeSet<u32>> = BTreeMap::new();
    let mut span = vec![(i64::MAX, i64::MIN, 0u64); ns];
    // Rows come file by file, so the same (hour, server) repeats row after row: only a change
    // touches the map.
    let mut last = None;
    for r in 0..m.n {
        let s = m.server[r];
        let t = m.time[r];
        let hour = t.div_euclid(GAP_MS);
        if last != Some((hour, s)) {
            by_hour.entry(hour).or_default().insert(s);
            last = Some((hour, s));
        }
        let e = &mut span[s as usize];
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
        e.2 += 1;
    }
    (by_hour, span)
}

/// Hours inside the bundle where other servers have rows and a server has none (merged into
/// stretches), within the periods of the bundle where that server logged at all: a server
/// whose logs begin late in a period lost its oldest files; one with no rows in a whole period
/// (the real files of several years) simply is not part of that period.
/// Each server's rows (first, last, count, by server id) and gaps: worked out once per analysis
/// ([`crate::analyze::Cx::spans`]), for this section and for the loops' caveats.
pub struct Spans {
    pub gaps: Vec<GapAt>,
    span: Vec<(i64, i64, u64)>,
}

pub fn spans(m: &Model) -> Spans {
    let hours = hours(m);
    Spans {
        gaps: gaps_of(m, &hours),
        span: hours.1,
    }
}

fn gaps_of(m: &Model, (by_hour, span): &(ByHour, Vec<(i64, i64, u64)>)) -> Vec<GapAt> {
    let periods = Axis::of(m.time.iter().copied()).periods;
    let period_of = |t: i64| {
        let minute = t.div_euclid(MINUTE_MS);
        let p = periods
            .partition_point(|&(a, _)| a <= minute)
            .checked_sub(1)?;
        let (a, n) = periods[p];
        (minute < a + n as i64).then_some(p)
    };
    let mut logged: BTreeSet<(u32, usize)> = BTreeSet::new();
    let mut last = None;
    for r in 0..m.n {
        let key = (m.server[r], m.time[r].div_euclid(MINUTE_MS));
        if last == Some(key) {
            continue;
        }
        last = Some(key);
        if let Some(p) = period_of(m.time[r]) {
            logged.insert((m.server[r], p));
        }
    }
    let mut out = Vec::new();
    for (s, &(_, _, n)) in span.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let name = m.servers.name(s as u32).to_string();
        let mut cur: Option<(i64, i64)> = None;
        for (&h, present) in by_hour {
            let hour_start = h * GAP_MS;
            // Only whole hours inside the bundle: its first and last hours are partial.
            if hour_start < m.start || hour_start + GAP_MS > m.end {
                continue;
            }
            // Any minute of the hour inside a period the server logged in.
            let in_own_period = (0..60).any(|k| {
                period_of(hour_start + k * MINUTE_MS)
                    .is_some_and(|p| logged.contains(&(s as u32, p)))
            });
            if !in_own_period {
                continue;
            }
            let others = present.iter().any(|&o| o as usize != s);
            if !present.contains(&(s as u32)) && others {
                match &mut cur {
                    Some((_, e)) if *e == hour_start => *e = hour_start + GAP_MS,
                    _ => {
                        if let Some((x, y)) = cur.take() {
                            out.push(gap(&name, x, y));
                        }
                        cur = Some((hour_start, hour_start + GAP_MS));
                    }
                }
            }
        }
        if let Some((x, y)) = cur {
            out.push(gap(&name, x, y));
        }
    }
    out
}

fn gap(server: &str, a: i64, b: i64) -> GapAt {
    GapAt {
        server: server.to_string(),
        start: rfc3339(a),
        end: rfc3339(b),
        start_ms: a,
        end_ms: b,
    }
}

pub fn coverage(m: &Model, Spans { gaps, span }: &Spans) -> Vec<Coverage> {
    let mut out: Vec<Coverage> = span
        .iter()
        .enumerate()
        .filter(|(_, x)| x.2 > 0)
        .map(|(s, &(a, b, n))| {
            let name = m.servers.name(s as u32).to_string();
            Coverage {
                gaps: gaps
                    .iter()
                    .filter(|g| g.server == name)
                    .map(|g| Gap {
                        start: g.start.clone(),
                        end: g.end.clone(),
                    })
                    .collect(),
                server: name,
                start: rfc3339(a),
                end: rfc3339(b),
                rows: n,
            }
        })
        .collect();
    out.sort_by(|a, b| path_order(&a.server, &b.server));
    out
}

pub struct CoverageDetector;

impl Detector for CoverageDetector {
    fn key(&self) -> &'static str {
        "coverage"
    }
    fn title(&self) -> &'static str {
        "Evidence quality"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Appendix
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/coverage.html"))
    }
    fn methods(&self, _: &Params) -> String {
        "Per server and whole UTC hour inside the bundle: no row while other servers had rows is a gap (Exchange deletes the oldest log files when their folder is full; a gap makes every count over it a lower bound). Clock skew: a message received over SMTP by the next hop before the sending server had received it; the difference is how far the next hop's clock is behind.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let cov = coverage(cx.m, cx.spans());
        let skew = clock_skew(cx.m);
        let gaps: usize = cov.iter().map(|c| c.gaps.len()).sum();
        let mut d = Detected::default();
        if gaps > 0 {
            d.summary.push(Sentence {
                text: format!(
                    "Evidence is incomplete: {} where a server has no log while others do (see Evidence quality).",
                    count(gaps as u64, "stretch", "stretches")
                ),
                weight: 0.5,
            });
        }
        if let Some(s) = skew.first() {
            d.summary.push(Sentence {
                text: format!(
                    "Clocks disagree: {} logged {} before {} sent {} (by up to {}).",
                    s.to,
                    count(s.inverted, "message", "messages"),
                    s.from,
                    if s.inverted == 1 { "it" } else { "them" },
                    secs(Some(s.max_ms))
                ),
                weight: 0.4,
            });
        }
        d.found = gaps + skew.len();
        d.values.push(("coverage", serde_json::to_value(&cov)?));
        d.values.push(("clock_skew", serde_json::to_value(&skew)?));
        Ok(d)
    }
}

/// Clock skew between hops. A message cannot reach its next hop before it reached the server
/// that sent it on, so where server B logs its SMTP receive earlier than server A (which SENT it
/// to B) logged its own arrival, B's clock is behind A's by at least the difference. (Comparing
/// with A's SEND row would not do: Exchange logs SEND once the next hop has answered, after B's
/// RECEIVE, so small inversions there are normal.)
pub fn clock_skew(m: &Model) -> Vec<Skew> {
    let server_of_host: Vec<u32> = m
        .hosts
        .iter()
        .map(|(_, h)| {
            m.servers
                .iter()
                .find(|(_, s)| s.eq_ignore_ascii_case(h))
                .map_or(NONE, |(i, _)| i)
        })
        .collect();
    // The hops first: only the messages that took one need their arrival times, and rows are
    // walked in storage order (the first arrival in time order is the earliest one).
    let mut hops: Vec<(u32, u32, u32)> = Vec::new();
    for r in 0..m.n {
        if m.msg[r] != NONE && m.ev[r] == Ev::Send && m.server_host[r] != NONE {
            let target = server_of_host[m.server_host[r] as usize];
            if target != NONE && target != m.server[r] {
                hops.push((m.msg[r], m.server[r], target));
            }
        }
    }
    hops.sort_unstable();
    hops.dedup();
    let mut hopped = vec![false; m.msgs.len()];
    for &(msg, _, _) in &hops {
        hopped[msg as usize] = true;
    }
    let mut arrivals: FastMap<(u32, u32), i64> = FastMap::default();
    let mut recvs: FastMap<(u32, u32), i64> = FastMap::default();
    let earliest = |map: &mut FastMap<(u32, u32), i64>, k: (u32, u32), t: i64| {
        map.entry(k).and_modify(|v| *v = (*v).min(t)).or_insert(t);
    };
    for r in 0..m.n {
        let id = m.msg[r];
        if id == NONE || !hopped.get(id as usize).copied().unwrap_or(false) {
            continue;
        }
        let k = (id, m.server[r]);
        if m.ev[r].is_arrival() {
            earliest(&mut arrivals, k, m.time[r]);
        }
        if m.ev[r] == Ev::Receive && m.client_ip[r] != NONE {
            earliest(&mut recvs, k, m.time[r]);
        }
    }
    let mut pairs: BTreeMap<(u32, u32), (u64, Vec<i64>)> = BTreeMap::new();
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
        // Windows time service keeps clocks within a second or so; less is not worth a word.
        .filter(|(_, (_, inv))| inv.iter().any(|&d| d >= MIN_SKEW_MS))
        .map(|((a, b), (n, mut inv))| {
            inv.sort_unstable();
            Skew {
                from: m.servers.name(a).to_string(),
                to: m.servers.name(b).to_string(),
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
            .then_with(|| path_order(&x.from, &y.from))
            .then_with(|| path_order(&x.to, &y.to))
    });
    out
}
