//! The plain tables a postmortem needs: top senders, recipients and pairs (the heaviest edges of
//! the address-flow graph, split into original, notification and auto-reply traffic), status
//! codes in plain language, and rows per event id (unknown ids under their own name).

use std::collections::BTreeMap;

use petgraph::graphmap::DiGraphMap;
use polars::prelude::PlHashMap;
use serde::{Deserialize, Serialize};

use crate::analyze::model::{Class, Msg, NONE};
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Top {
    pub key: String,
    pub messages: u64,
    pub original: u64,
    pub notifications: u64,
    pub auto_replies: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tops {
    pub senders: Vec<Top>,
    pub recipients: Vec<Top>,
    /// The heaviest edges of the address-flow graph.
    pub pairs: Vec<Top>,
    pub address_flow: AddressFlow,
}

/// Size of the address-flow graph: addresses as nodes, one edge per sender → recipient, its
/// weight split into original, notification and auto-reply traffic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressFlow {
    pub addresses: usize,
    pub edges: usize,
    pub original: u64,
    pub notification: u64,
    pub auto_reply: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusCount {
    pub code: String,
    pub rows: u64,
    pub meaning: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

pub const TOP_N: usize = 15;

#[derive(Default, Clone, Copy)]
struct Weight {
    n: u64,
    original: u64,
    notif: u64,
    auto: u64,
    failed: u64,
}

impl Weight {
    fn add(&mut self, msg: &Msg) {
        self.n += 1;
        match msg.class {
            Class::Notification => self.notif += 1,
            Class::AutoReply => self.auto += 1,
            Class::Original => self.original += 1,
        }
        if msg.failed {
            self.failed += 1;
        }
    }

    fn plus(&mut self, v: &Weight) {
        self.n += v.n;
        self.original += v.original;
        self.notif += v.notif;
        self.auto += v.auto;
        self.failed += v.failed;
    }
}

pub struct Tables;

impl Detector for Tables {
    fn key(&self) -> &'static str {
        "top"
    }
    fn title(&self) -> &'static str {
        "Tables"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Appendix
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/top.html"))
    }
    fn methods(&self, _: &Params) -> String {
        format!("Top {TOP_N} senders, recipients and sender → recipient pairs by messages (each message once per recipient; health probes left out unless asked for), recipient statuses by enhanced status code, and tracking rows by event id (all rows).")
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut g: DiGraphMap<u32, Weight> = DiGraphMap::new();
        let mut senders: PlHashMap<u32, Weight> = PlHashMap::default();
        for (i, msg) in m.msgs.iter().enumerate() {
            if !cx.counts(i) {
                continue;
            }
            senders.entry(msg.sender).or_default().add(msg);
            for &to in m.msg_recipients(msg) {
                match g.edge_weight_mut(msg.sender, to) {
                    Some(w) => w.add(msg),
                    None => {
                        let mut w = Weight::default();
                        w.add(msg);
                        g.add_edge(msg.sender, to, w);
                    }
                }
            }
        }
        let mut recipients: PlHashMap<u32, Weight> = PlHashMap::default();
        let mut total = Weight::default();
        for (_, to, w) in g.all_edges() {
            recipients.entry(to).or_default().plus(w);
            total.plus(w);
        }
        let name = |a: u32| {
            if a == NONE {
                "(none)".to_string()
            } else {
                m.addrs.name(a).to_string()
            }
        };
        let tops = Tops {
            senders: top(senders.into_iter().collect(), name),
            recipients: top(recipients.into_iter().collect(), name),
            pairs: top(
                g.all_edges().map(|(a, b, w)| ((a, b), *w)).collect(),
                |(a, b)| format!("{} → {}", name(a), name(b)),
            ),
            address_flow: AddressFlow {
                addresses: g.node_count(),
                edges: g.edge_count(),
                original: total.original,
                notification: total.notif,
                auto_reply: total.auto,
            },
        };
        // Recipient statuses by code.
        let mut codes = vec![0u64; m.codes.len()];
        for &c in &m.rcpt_code {
            if c != NONE {
                codes[c as usize] += 1;
            }
        }
        let mut status: Vec<StatusCount> = codes
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(i, n)| {
                let code = m.codes.name(i as u32).to_string();
                StatusCount {
                    meaning: meaning(&code).to_string(),
                    code,
                    rows: n,
                }
            })
            .collect();
        status.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.code.cmp(&b.code)));
        // Rows per event id, as logged.
        let mut evs = vec![0u64; m.ev_names.len()];
        for &e in &m.ev_name {
            if e != NONE {
                evs[e as usize] += 1;
            }
        }
        let mut events: Vec<Count> = evs
            .into_iter()
            .enumerate()
            .filter(|(_, n)| *n > 0)
            .map(|(i, n)| Count {
                key: match m.ev_names.name(i as u32) {
                    "" => "(none)".to_string(),
                    s => s.to_string(),
                },
                count: n,
            })
            .collect();
        let mut merged: BTreeMap<String, u64> = BTreeMap::new();
        for c in events.drain(..) {
            *merged.entry(c.key).or_default() += c.count;
        }
        let mut events: Vec<Count> = merged
            .into_iter()
            .map(|(key, count)| Count { key, count })
            .collect();
        events.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        Ok(Detected {
            values: vec![
                ("top", serde_json::to_value(&tops)?),
                ("status_codes", serde_json::to_value(&status)?),
                ("event_counts", serde_json::to_value(&events)?),
            ],
            ..Detected::default()
        })
    }
}

/// The [`TOP_N`] heaviest of `items` by messages, ties by name. Only the items that can make
/// the table are named: naming every address and pair of a big bundle to keep fifteen cost
/// more than counting them.
fn top<K>(mut items: Vec<(K, Weight)>, name: impl Fn(K) -> String) -> Vec<Top> {
    if items.len() > TOP_N {
        // Nothing with fewer messages than the TOP_N-th heaviest can make the table.
        let (_, nth, _) = items.select_nth_unstable_by(TOP_N - 1, |a, b| b.1.n.cmp(&a.1.n));
        let floor = nth.1.n;
        items.retain(|(_, w)| w.n >= floor);
    }
    let mut out: Vec<Top> = items
        .into_iter()
        .map(|(k, a)| Top {
            key: name(k),
            messages: a.n,
            original: a.original,
            notifications: a.notif,
            auto_replies: a.auto,
            failed: a.failed,
        })
        .collect();
    out.sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.key.cmp(&b.key)));
    out.truncate(TOP_N);
    out
}

/// Plain-language meaning of the enhanced status codes that matter in an incident.
pub fn meaning(code: &str) -> &'static str {
    match code {
        "2.0.0" => "accepted / delivered",
        "2.1.5" => "recipient OK, delivered",
        "2.6.0" => "queued for delivery",
        "4.2.2" => "mailbox full (temporary: will retry)",
        "5.2.2" => "mailbox full (quota exceeded): rejected",
        "5.1.1" => "no such recipient address",
        "5.1.10" => "recipient not found (Exchange Online)",
        "4.4.7" => "message expired in the queue",
        "5.4.7" => "message expired",
        "5.3.5" => "mail loop detected",
        "5.4.6" | "5.4.14" => "hop count exceeded: possible mail loop",
        "5.7.1" => "not authorized / relay denied",
        "5.7.708" | "5.7.750" => "tenant or IP blocked for sending",
        "4.4.1" | "4.4.2" => "connection to the next hop failed (temporary)",
        "5.0.0" => "permanent failure (unspecified)",
        "4.0.0" => "temporary failure (unspecified)",
        "5.3.4" => "message too large",
        "5.2.3" => "message larger than the recipient accepts",
        "4.3.2" => "server shutting down or not accepting mail (or delivery throttled)",
        "4.3.1" => "insufficient system resources (back pressure)",
        "5.7.128" => "transport rules loop count exceeded",
        "5.2.121" | "5.2.122" => "hourly receive limit exceeded",
        "5.1.90" => "daily recipient limit reached",
        "5.1.8" => "sender blocked (bad outbound sender)",
        "5.7.501" | "5.7.502" | "5.7.503" => "sender blocked: likely compromised",
        "5.4.300" => "message expired",
        _ => match code.as_bytes().first() {
            Some(b'2') => "success",
            Some(b'4') => "temporary failure",
            Some(b'5') => "permanent failure",
            _ => "",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Every item named and sorted: what `top` must equal.
    fn all_sorted(items: &[(u32, Weight)]) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = items.iter().map(|(k, w)| (format!("a{k}"), w.n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(TOP_N);
        v
    }

    #[test]
    fn the_top_tables_name_only_candidates_and_equal_the_full_sort() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..300 {
            // Few distinct counts, so the fifteenth place is tied more often than not.
            let len = rng.random_range(0..60usize);
            let spread = rng.random_range(1..6u64);
            let items: Vec<(u32, Weight)> = (0..len as u32)
                .map(|k| {
                    let n = rng.random_range(1..=spread);
                    (
                        k,
                        Weight {
                            n,
                            ..Weight::default()
                        },
                    )
                })
                .collect();
            let named = std::cell::Cell::new(0usize);
            let got: Vec<(String, u64)> = top(items.clone(), |k| {
                named.set(named.get() + 1);
                format!("a{k}")
            })
            .into_iter()
            .map(|t| (t.key, t.messages))
            .collect();
            assert_eq!(got, all_sorted(&items), "case {case}");
            // Only what reaches the fifteenth count is named.
            let mut counts: Vec<u64> = items.iter().map(|(_, w)| w.n).collect();
            counts.sort_unstable_by(|a, b| b.cmp(a));
            let floor = counts.get(TOP_N - 1).copied().unwrap_or(0);
            let can = items.iter().filter(|(_, w)| w.n >= floor).count();
            assert_eq!(named.get(), can, "case {case}");
        }
    }
}
