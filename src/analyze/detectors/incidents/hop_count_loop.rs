//! Routing loops: a message passing the same servers again and again until Exchange's hop
//! counter stops it (`554 5.4.6 Hop count exceeded - possible mail loop` on-premises, `5.4.14`
//! online), typically two servers or connectors each thinking the other is responsible for a
//! domain. Found by the status, and by a message received over SMTP by our servers six times or
//! more even where the final failure is not in the bundle.

use std::collections::BTreeMap;

use super::{detected, domain, Catalogue, Collect, IncidentKind};
use crate::analyze::model::classify::{Ev, Src, StatusKind};
use crate::analyze::model::NONE;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::{count, join_and};

/// Receives of one message by our servers that mean it is going round in circles.
pub const MIN_PASSES: u32 = 6;

pub struct HopCountLoop;

impl Catalogue for HopCountLoop {
    const KIND: IncidentKind = IncidentKind::HopCountLoop;
    fn title(&self) -> &'static str {
        "Routing loops (hop count exceeded)"
    }
    fn methods(&self, _: &Params) -> String {
        format!("Messages with a recipient status of 5.4.6 or 5.4.14 (or the text \"Hop count exceeded\"), or received over SMTP by our servers {MIN_PASSES} times or more: one incident per recipient domain, with the servers they went round between (from their SEND rows).")
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        // By message id: nearly every message is received over SMTP somewhere.
        let mut passes = vec![0u32; m.msgs.len()];
        let mut looped = vec![false; m.msgs.len()];
        for r in 0..m.n {
            let id = m.msg[r] as usize;
            if id >= m.msgs.len() {
                continue;
            }
            if m.row_kinds(r).contains(&StatusKind::HopCount) {
                looped[id] = true;
            }
            if m.ev[r] == Ev::Receive && m.src[r] == Src::Smtp {
                passes[id] += 1;
                if passes[id] >= MIN_PASSES {
                    looped[id] = true;
                }
            }
        }
        if !looped.contains(&true) {
            return Ok(detected(cx, Vec::new(), 1.0));
        }
        // One incident per destination domain.
        // Per domain: the rows, and the hops (from server, to server) with their counts.
        type Hops = BTreeMap<(u32, u32), u64>;
        let mut by_domain: BTreeMap<String, (Collect, Hops)> = BTreeMap::new();
        for &r in &m.order {
            let r = r as usize;
            let id = m.msg[r];
            if id == NONE || !looped[id as usize] {
                continue;
            }
            let msg = &m.msgs[id as usize];
            let Some(&to) = m.msg_recipients(msg).first() else {
                continue;
            };
            let d = domain(m.addrs.name(to)).to_string();
            let (c, hops) = by_domain.entry(d.clone()).or_default();
            c.row(m, r);
            c.addresses.insert(d);
            if matches!(m.ev[r], Ev::Send) && m.server_host[r] != NONE {
                let target = m
                    .servers
                    .iter()
                    .find(|(_, s)| s.eq_ignore_ascii_case(m.hosts.name(m.server_host[r])))
                    .map(|(i, _)| i);
                if let Some(t) = target {
                    *hops.entry((m.server[r], t)).or_default() += 1;
                }
            }
        }
        let mut out = Vec::new();
        for (d, (c, hops)) in by_domain {
            let n = c.msgs.len() as u64;
            let cycle: Vec<String> = hops
                .iter()
                .map(|(&(a, b), k)| format!("{} → {} ×{k}", m.servers.name(a), m.servers.name(b)))
                .collect();
            let codes: Vec<String> = c.codes.iter().cloned().collect();
            let text = format!(
                "{} for {d} went round between our servers ({}) until {}: a routing loop; check the send connectors and accepted or remote domains for {d}.",
                count(n, "message", "messages"),
                if cycle.is_empty() { "hops not logged".into() } else { cycle.join(", ") },
                if codes.is_empty() {
                    "they were passed on again and again".to_string()
                } else {
                    format!("Exchange stopped them ({})", join_and(&codes))
                },
            );
            out.push(c.incident(
                cx,
                IncidentKind::HopCountLoop,
                n,
                text,
                "row of a looping message",
            ));
        }
        Ok(detected(cx, out, 1.0))
    }
}
