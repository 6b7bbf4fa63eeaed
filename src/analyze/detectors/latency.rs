//! Latency as Exchange measures it. `message-info` on SUBMIT, DELIVER and SEND rows (2013 and
//! later) holds the origination time and Exchange's own latency parts (`TOTAL-SUB`,
//! `TOTAL-HUB`, `TOTAL-DEL`, `SMR`, `CAT`, `QDM`, ...); Exchange 2010 exports carry
//! `MessageLatency` and its type. This shows where the time went, per server and component,
//! and which clients' clocks are off (their origination times make latency negative or absurd,
//! so those messages are left out of the figures).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::detectors::sli::percentile;
use crate::analyze::model::{LATENCY_PLAUSIBLE_MS, NONE};
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::bundle::path_order;
use crate::error::Result;
use crate::human::{count, secs};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Component {
    pub server: String,
    pub component: String,
    /// Messages that logged this part on this server.
    pub messages: u64,
    pub p50_ms: i64,
    pub p95_ms: i64,
    pub max_ms: i64,
}

/// A client whose origination times cannot be right.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkewedClient {
    /// Its IP (original-client-ip), else the sender address.
    pub client: String,
    pub messages: u64,
    /// Median of completion time minus origination time: negative means the client's clock is
    /// ahead.
    pub median_offset_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LatencyParts {
    pub components: Vec<Component>,
    pub skewed_clients: Vec<SkewedClient>,
}

pub struct Latency;

impl Detector for Latency {
    fn key(&self) -> &'static str {
        "latency"
    }
    fn title(&self) -> &'static str {
        "Where the time went"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Traffic
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/latency.html"))
    }
    fn methods(&self, _: &Params) -> String {
        format!("Exchange's own latency parts from message-info (each part counted once per message and server, from the last row that server wrote with it: after deferrals, the one that delivered or gave up), and Exchange 2010's MessageLatency by its type: p50, p95 and the largest value per server and component. A message whose completing row makes its latency negative or over {} (origination time minus completion time) has a client with a wrong clock: it is listed under its client and left out of every latency figure.", crate::human::span(LATENCY_PLAUSIBLE_MS))
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        // A part per row and component: millions. Each message's parts are gathered (a
        // counting sort by message, keeping row order) and its last part per server and
        // component kept; groups are indexed by (server, component) ids, names only at the end.
        let comps = m.components.len();
        let group = |p: &crate::analyze::model::LatencyPart| {
            m.server[p.row as usize] as usize * comps + p.component as usize
        };
        let mut groups: Vec<Vec<i64>> = vec![Vec::new(); m.servers.len() * comps];
        let mut start = vec![0u32; m.msgs.len() + 1];
        for p in &m.parts {
            let id = m.msg[p.row as usize];
            if id == NONE {
                groups[group(p)].push(p.ms as i64);
            } else {
                start[id as usize + 1] += 1;
            }
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut of_msg = vec![0u32; start.last().copied().unwrap_or(0) as usize];
        for (j, p) in m.parts.iter().enumerate() {
            let id = m.msg[p.row as usize];
            if id != NONE {
                of_msg[next[id as usize] as usize] = j as u32;
                next[id as usize] += 1;
            }
        }
        // A message with several rows on one server (deferred and retried, recipients
        // delivered apart) counts with its last row there, the one that finished with it (its
        // parts then hold the whole time spent), not with whichever row comes first in the
        // bundle: a server's logs need not be listed in the order they were written.
        let mut seen: Vec<(usize, i64, u32)> = Vec::new();
        for id in 0..m.msgs.len() {
            if !cx.counts(id) {
                continue;
            }
            seen.clear();
            for &j in &of_msg[start[id] as usize..start[id + 1] as usize] {
                let p = &m.parts[j as usize];
                let (g, t) = (group(p), m.time[p.row as usize]);
                match seen.iter_mut().find(|s| s.0 == g) {
                    Some(s) if t > s.1 => *s = (g, t, p.ms),
                    Some(_) => {}
                    None => seen.push((g, t, p.ms)),
                }
            }
            for &(g, _, ms) in &seen {
                groups[g].push(ms as i64);
            }
        }
        // Names are unique per id, so ordering by name is what a map keyed by name gave.
        let by: BTreeMap<(String, String), Vec<i64>> = groups
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(g, v)| ((g / comps) as u32, (g % comps) as u32, v))
            .map(|(server, comp, v)| {
                (
                    (
                        m.servers.name(server).to_string(),
                        m.components.name(comp).to_string(),
                    ),
                    v,
                )
            })
            .collect();
        let mut components: Vec<Component> = by
            .into_iter()
            .map(|((server, component), mut v)| {
                v.sort_unstable();
                Component {
                    server,
                    component,
                    messages: v.len() as u64,
                    p50_ms: percentile(&v, 50.0).unwrap_or(0),
                    p95_ms: percentile(&v, 95.0).unwrap_or(0),
                    max_ms: v.last().copied().unwrap_or(0),
                }
            })
            .collect();
        // Totals first (TOTAL-SUB, TOTAL-HUB, ...), then the rest, per server.
        components.sort_by(|a, b| {
            path_order(&a.server, &b.server).then_with(|| {
                (!a.component.starts_with("TOTAL"), &a.component)
                    .cmp(&(!b.component.starts_with("TOTAL"), &b.component))
            })
        });
        // Clients whose clocks are off.
        let mut skewed: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (i, msg) in m.msgs.iter().enumerate() {
            if !cx.counts(i) {
                continue;
            }
            let (Some(done), Some(orig)) = (msg.done, m.origination_of(msg.done_row)) else {
                continue;
            };
            let l = done - orig;
            if (0..=LATENCY_PLAUSIBLE_MS).contains(&l) {
                continue;
            }
            let r = msg.first_row as usize;
            let client = if m.orig_client_ip[r] != NONE {
                m.ips.name(m.orig_client_ip[r]).to_string()
            } else {
                m.addrs.name(msg.sender).to_string()
            };
            skewed.entry(client).or_default().push(l);
        }
        let skewed_clients: Vec<SkewedClient> = skewed
            .into_iter()
            .map(|(client, mut v)| {
                v.sort_unstable();
                SkewedClient {
                    client,
                    messages: v.len() as u64,
                    median_offset_ms: v[v.len() / 2],
                }
            })
            .collect();
        let mut d = Detected::default();
        if let Some(worst) = skewed_clients.iter().max_by_key(|s| s.messages) {
            d.summary.push(Sentence {
                text: format!(
                    "{} with a wrong clock left origination times that cannot be right (e.g. {}, {} off by {}); their latency is left out of the figures.",
                    count(skewed_clients.len() as u64, "client", "clients"),
                    worst.client,
                    count(worst.messages, "message", "messages"),
                    secs(Some(worst.median_offset_ms.abs()))
                ),
                weight: 0.05,
            });
        }
        d.found = skewed_clients.len();
        d.values.push((
            "latency",
            serde_json::to_value(LatencyParts {
                components,
                skewed_clients,
            })?,
        ));
        Ok(d)
    }
}
