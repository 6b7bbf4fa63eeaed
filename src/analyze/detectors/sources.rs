//! Client IPs and receive connectors: who handed mail to the servers, since when, and how much of
//! it failed. This tool began as the search for mail dropped in over an IP nobody expected, so a
//! source that appears well after the bundle starts, or fails far more than the rest, is flagged.
//! One function serves both, over a different column. Hops between our own servers are not
//! sources: a front end proxying a connection logs our own server as the client, and the
//! sender's real address as `original-client-ip`, which is used instead.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::analyze::model::classify::{Ev, Src};
use crate::analyze::model::{Model, NONE};
use crate::analyze::series::Axis;
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::bundle::path_order;
use crate::error::Result;
use crate::human::{count, rfc3339, span};

/// What a source is named by.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SourceName {
    Ip(String),
    Connector(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    #[serde(flatten)]
    pub name: SourceName,
    pub first_seen: String,
    pub last_seen: String,
    pub messages: u64,
    pub failures: u64,
    pub failure_ratio: f64,
    pub anomalous: bool,
    /// Why it is flagged, in words.
    pub reasons: Vec<String>,
    /// Receive connectors it used (client IPs only).
    pub connectors: Vec<String>,
}

/// The column a [`Sources`] detector groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    ClientIp,
    Connector,
}

pub struct Sources(pub By);

struct Acc {
    first: i64,
    last: i64,
    msgs: Vec<u32>,
    /// Receive connectors used, by id (ordered, as they are listed).
    connectors: BTreeSet<u32>,
    /// The connector of the source's previous row: most rows repeat it.
    last_connector: u32,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            first: 0,
            last: 0,
            msgs: Vec::new(),
            connectors: BTreeSet::new(),
            last_connector: NONE,
        }
    }
}

pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        ((a as f64 / b as f64) * 10_000.0).round() / 10_000.0
    }
}

impl Detector for Sources {
    fn key(&self) -> &'static str {
        match self.0 {
            By::ClientIp => "client_ips",
            By::Connector => "connectors",
        }
    }
    fn title(&self) -> &'static str {
        match self.0 {
            By::ClientIp => "Client IPs",
            By::Connector => "Receive connectors",
        }
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Appendix
    }
    fn template(&self) -> Option<&'static str> {
        match self.0 {
            By::ClientIp => Some(include_str!("../../../templates/sections/client_ips.html")),
            By::Connector => Some(include_str!("../../../templates/sections/connectors.html")),
        }
    }
    fn methods(&self, _: &Params) -> String {
        if self.0 == By::Connector {
            return "As for client IPs, per receive connector (the SMTP RECEIVE row's connector id), with the same flags.".into();
        }
        "SMTP RECEIVE rows per client IP and per receive connector. Where our own server is the client (a front end proxying the connection: the client IP is one of the bundle's servers, or equals the server IP) the sender's own address from original-client-ip is used, and hops between our servers are left out, so our own servers are never sources. Flagged: first seen more than a tenth of the bundle's populated time (at least 15 minutes) after it starts, or at least 20 messages with a failure ratio of 20% or more and over three times that of all other sources.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        // Accumulators by id, not a search tree: one lookup per RECEIVE row. Rows are walked
        // in storage order (only first and last seen depend on the order, and min and max
        // give them).
        let slots = match self.0 {
            By::ClientIp => m.ips.len(),
            By::Connector => m.connectors.len(),
        };
        let mut by: Vec<Option<Acc>> = (0..slots).map(|_| None).collect();
        for r in 0..m.n {
            if m.ev[r] != Ev::Receive || m.src[r] != Src::Smtp || m.msg[r] == NONE {
                continue;
            }
            if !cx.counts(m.msg[r] as usize) {
                continue;
            }
            let ip = m.effective_client_ip(r);
            if ip == NONE {
                continue;
            }
            let k = match self.0 {
                By::ClientIp => ip,
                By::Connector => m.connector[r],
            };
            let Some(slot) = by.get_mut(k as usize) else {
                continue;
            };
            let t = m.time[r];
            let a = slot.get_or_insert_with(|| Acc {
                first: t,
                last: t,
                ..Acc::default()
            });
            a.first = a.first.min(t);
            a.last = a.last.max(t);
            a.msgs.push(m.msg[r]);
            let c = m.connector[r];
            if c != NONE && a.last_connector != c {
                a.connectors.insert(c);
                a.last_connector = c;
            }
        }
        let by: Vec<(u32, Acc)> = by
            .into_iter()
            .enumerate()
            .filter_map(|(k, a)| Some((k as u32, a?)))
            .collect();
        let out = finish(m, by, self.0);
        let mut d = Detected {
            found: out.iter().filter(|s| s.anomalous).count(),
            ..Detected::default()
        };
        for s in out.iter().filter(|s| s.anomalous).take(3) {
            let (what, name) = match &s.name {
                SourceName::Ip(n) => ("Client IP", n),
                SourceName::Connector(n) => ("Receive connector", n),
            };
            d.summary.push(Sentence {
                text: format!(
                    "{what} {name} is unexpected: {} ({}, {} failed).",
                    s.reasons.join("; "),
                    count(s.messages, "message", "messages"),
                    crate::human::thousands(s.failures)
                ),
                // The storm or loop that the same mail makes weighs more than where it came in.
                weight: 0.05 + 0.5 * cx.share(s.messages),
            });
        }
        d.values.push((self.key(), serde_json::to_value(&out)?));
        Ok(d)
    }
}

fn finish(m: &Model, by: Vec<(u32, Acc)>, kind: By) -> Vec<Source> {
    let axis = Axis::of(m.time.iter().copied());
    // The bundle's first minutes always bring the first sight of everything.
    let late_minutes = (axis.len / 10).max(15);
    let mut out: Vec<(Source, usize)> = by
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
            let name = match kind {
                By::ClientIp => SourceName::Ip(m.ips.name(k).to_string()),
                By::Connector => SourceName::Connector(m.connectors.name(k).to_string()),
            };
            (
                Source {
                    name,
                    first_seen: rfc3339(a.first),
                    last_seen: rfc3339(a.last),
                    messages,
                    failures,
                    failure_ratio: ratio(failures, messages),
                    anomalous: false,
                    reasons: Vec::new(),
                    // By name: the ids go in the order the bundle first shows them, which
                    // is how it was packed.
                    connectors: if kind == By::ClientIp {
                        let mut names: Vec<String> = a
                            .connectors
                            .iter()
                            .map(|&c| m.connectors.name(c).to_string())
                            .collect();
                        names.sort_by(|x, y| path_order(x, y));
                        names
                    } else {
                        Vec::new()
                    },
                },
                axis.index(a.first).unwrap_or(0),
            )
        })
        .collect();
    let total_msgs: u64 = out.iter().map(|s| s.0.messages).sum();
    let total_fail: u64 = out.iter().map(|s| s.0.failures).sum();
    for (s, first) in &mut out {
        let others = ratio(total_fail - s.failures, total_msgs - s.messages);
        if *first > late_minutes && axis.len > 2 * late_minutes {
            s.reasons.push(format!(
                "first seen {} after the bundle starts",
                span(*first as i64 * 60_000)
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
    let mut out: Vec<Source> = out.into_iter().map(|(s, _)| s).collect();
    let key = |s: &Source| match &s.name {
        SourceName::Ip(n) | SourceName::Connector(n) => n.clone(),
    };
    out.sort_by(|a, b| {
        b.anomalous
            .cmp(&a.anomalous)
            .then_with(|| b.messages.cmp(&a.messages))
            .then_with(|| path_order(&key(a), &key(b)))
    });
    out
}
