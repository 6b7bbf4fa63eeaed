//! Client IPs and receive connectors: who handed mail to the servers, since when, and how much of
//! it failed. This tool began as the search for mail dropped in over an IP nobody expected, so a
//! source that appears after the bundle starts, or fails far more than the rest, is flagged.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Ev, Model, NONE};
use crate::ingest::fields::rfc3339;

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// The client IP or the connector id.
    #[serde(rename = "ip")]
    pub name: String,
    pub first_seen: String,
    pub last_seen: String,
    pub messages: u64,
    pub failures: u64,
    pub failure_ratio: f64,
    pub anomalous: bool,
    /// Why it is flagged, in words.
    pub reasons: Vec<String>,
    pub connectors: Vec<String>,
    #[serde(skip)]
    pub first_ms: i64,
}

#[derive(Default)]
struct Acc {
    first: i64,
    last: i64,
    msgs: Vec<u32>,
    connectors: BTreeMap<u32, u64>,
}

/// A source first seen this long after the bundle starts is "new" (the bundle's first minutes
/// always bring the first sight of everything).
fn late_after(m: &Model<'_>) -> i64 {
    let span = m.end - m.start;
    (span / 10).max(15 * 60 * 1000)
}

fn finish(
    m: &Model<'_>,
    by: BTreeMap<u32, Acc>,
    names: &super::model::Interner<'_>,
    with_connectors: bool,
) -> Vec<Source> {
    let late = m.start + late_after(m);
    let mut out: Vec<Source> = by
        .into_iter()
        .map(|(k, mut a)| {
            a.msgs.sort_unstable();
            a.msgs.dedup();
            let failures = a
                .msgs
                .iter()
                .filter(|&&i| m.msgs[i as usize].failed)
                .count() as u64;
            let messages = a.msgs.len() as u64;
            Source {
                name: names.name(k).to_string(),
                first_seen: rfc3339(a.first),
                last_seen: rfc3339(a.last),
                messages,
                failures,
                failure_ratio: ratio(failures, messages),
                anomalous: false,
                reasons: Vec::new(),
                connectors: if with_connectors {
                    a.connectors
                        .keys()
                        .map(|&c| m.connectors.name(c).to_string())
                        .collect()
                } else {
                    Vec::new()
                },
                first_ms: a.first,
            }
        })
        .collect();
    let total_msgs: u64 = out.iter().map(|s| s.messages).sum();
    let total_fail: u64 = out.iter().map(|s| s.failures).sum();
    for s in &mut out {
        let others = ratio(total_fail - s.failures, total_msgs - s.messages);
        let first = s.first_ms;
        if first > late && m.end - m.start > 2 * late_after(m) {
            s.reasons.push(format!(
                "first seen {} after the bundle starts",
                human_span(first - m.start)
            ));
        }
        if s.messages >= 20 && s.failure_ratio >= 0.2 && s.failure_ratio > 3.0 * others {
            s.reasons.push(format!(
                "{:.0}% of its messages failed, against {:.1}% for all other sources",
                s.failure_ratio * 100.0,
                others * 100.0
            ));
        }
        s.anomalous = !s.reasons.is_empty();
    }
    out.sort_by(|a, b| {
        b.anomalous
            .cmp(&a.anomalous)
            .then_with(|| b.messages.cmp(&a.messages))
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        ((a as f64 / b as f64) * 10_000.0).round() / 10_000.0
    }
}

pub fn human_span(ms: i64) -> String {
    let s = ms / 1000;
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else {
        format!("{:.1} h", s as f64 / 3600.0)
    }
}

/// Per client IP of SMTP RECEIVE rows.
pub fn client_ips(m: &Model<'_>) -> Vec<Source> {
    let mut by: BTreeMap<u32, Acc> = BTreeMap::new();
    for &r in &m.order {
        let r = r as usize;
        if m.ev[r] != Ev::Receive || m.client_ip[r] == NONE || m.msg[r] == NONE {
            continue;
        }
        let a = by.entry(m.client_ip[r]).or_insert_with(|| Acc {
            first: m.time[r],
            ..Acc::default()
        });
        a.last = m.time[r];
        a.msgs.push(m.msg[r]);
        if m.connector[r] != NONE {
            *a.connectors.entry(m.connector[r]).or_default() += 1;
        }
    }
    finish(m, by, &m.ips, true)
}

/// Per receive connector.
pub fn connectors(m: &Model<'_>) -> Vec<Source> {
    let mut by: BTreeMap<u32, Acc> = BTreeMap::new();
    for &r in &m.order {
        let r = r as usize;
        if m.ev[r] != Ev::Receive || m.connector[r] == NONE || m.msg[r] == NONE {
            continue;
        }
        let a = by.entry(m.connector[r]).or_insert_with(|| Acc {
            first: m.time[r],
            ..Acc::default()
        });
        a.last = m.time[r];
        a.msgs.push(m.msg[r]);
    }
    finish(m, by, &m.connectors, false)
}
