//! Loops: addresses that keep sending each other automated mail. The address-flow graph
//! (petgraph) carries one edge per (logical sender → recipient) of automated messages; a strongly
//! connected component of two or more addresses (or an address with an edge to itself) is a
//! loop, and so is any chain of notifications about notifications (generation 2 and up).

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use serde::Serialize;

use super::evidence::{Evidence, EvidenceSource};
use super::model::{Class, Ev, Model, NONE};
use crate::ingest::fields::rfc3339;

/// Fewest automated messages along an edge for it to count towards a loop: one bounce each way
/// is an accident, not a loop.
pub const MIN_EDGE: u64 = 3;

#[derive(Debug, Clone, Serialize)]
pub struct Loop {
    /// Member addresses, lower-cased, sorted.
    pub members: Vec<String>,
    /// Automated messages (notifications and auto-replies) travelling inside the loop.
    pub messages: u64,
    pub notifications: u64,
    pub auto_replies: u64,
    /// Original messages whose consequences feed the loop.
    pub originals: u64,
    /// DEFER rows (retries) of the loop's messages and of the originals feeding it.
    pub retries: u64,
    /// Tracking rows of all those messages, on all servers.
    pub rows: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub peak_per_minute: u64,
    pub peak_minute: String,
    /// Loop messages per original that fed it.
    pub amplification: f64,
    /// Deepest notification-about-a-notification chain (0 original, 1 notification, 2+ loop).
    pub max_generation: u16,
    pub status_codes: BTreeMap<String, u64>,
    pub servers: Vec<String>,
    /// Senders and client IPs of the original messages feeding the loop (the top few).
    pub fed_by: Vec<String>,
    /// The cycle's edges with counts and the codes that drive them.
    pub edges: Vec<LoopEdge>,
    /// Loop messages per minute, for its own timeline.
    pub per_minute: Vec<(i64, u64)>,
    pub evidence: Vec<Evidence>,
    /// Why the numbers may be incomplete (coverage gaps, ...).
    pub caveats: Vec<String>,
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
    /// Message ids (model ids) in the loop, for blast-radius exclusion.
    #[serde(skip)]
    pub msg_set: Vec<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoopEdge {
    pub from: String,
    pub to: String,
    pub messages: u64,
    pub notifications: u64,
    pub auto_replies: u64,
    pub status_codes: BTreeMap<String, u64>,
}

#[derive(Default, Clone)]
struct EdgeAcc {
    messages: u64,
    notifications: u64,
    auto_replies: u64,
}

pub fn find(m: &Model<'_>, src: &dyn EvidenceSource) -> Vec<Loop> {
    // Address-flow graph of automated traffic.
    let mut g: DiGraphMap<u32, u64> = DiGraphMap::new();
    let mut acc: BTreeMap<(u32, u32), EdgeAcc> = BTreeMap::new();
    let mut logical = vec![NONE; m.msgs.len()];
    for (i, msg) in m.msgs.iter().enumerate() {
        if msg.rows == 0 || msg.class == Class::Original {
            continue;
        }
        let from = m.logical_sender(i as u32);
        logical[i] = from;
        if from == NONE {
            continue;
        }
        for &to in m.msg_recipients(msg) {
            let e = acc.entry((from, to)).or_default();
            e.messages += 1;
            match msg.class {
                Class::Notification => e.notifications += 1,
                _ => e.auto_replies += 1,
            }
        }
    }
    for (&(a, b), e) in &acc {
        if e.messages >= MIN_EDGE {
            g.add_edge(a, b, e.messages);
        }
    }
    let mut comps: Vec<BTreeSet<u32>> = tarjan_scc(&g)
        .into_iter()
        .filter(|c| c.len() >= 2 || (c.len() == 1 && g.contains_edge(c[0], c[0])))
        .map(|c| c.into_iter().collect())
        .collect();
    // Chains of generation >= 2 that no cycle explains are loops of their own addresses.
    let mut in_comp: BTreeMap<u32, usize> = BTreeMap::new();
    for (k, c) in comps.iter().enumerate() {
        for &a in c {
            in_comp.insert(a, k);
        }
    }
    let mut chain_groups: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for (i, msg) in m.msgs.iter().enumerate() {
        if msg.rows == 0 || msg.generation < 2 || logical[i] == NONE {
            continue;
        }
        if in_comp.contains_key(&logical[i]) {
            continue;
        }
        let root = m.root(i as u32);
        let set = chain_groups.entry(root).or_default();
        set.insert(logical[i]);
        set.extend(m.msg_recipients(msg).iter().copied());
    }
    for set in chain_groups.into_values() {
        if set.iter().any(|a| in_comp.contains_key(a)) {
            continue;
        }
        let k = comps.len();
        for &a in &set {
            in_comp.insert(a, k);
        }
        comps.push(set);
    }

    let mut loops = Vec::new();
    for comp in &comps {
        if let Some(l) = describe(m, src, comp, &logical, &acc) {
            loops.push(l);
        }
    }
    loops.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.members.cmp(&b.members))
    });
    loops
}

fn describe(
    m: &Model<'_>,
    src: &dyn EvidenceSource,
    comp: &BTreeSet<u32>,
    logical: &[u32],
    acc: &BTreeMap<(u32, u32), EdgeAcc>,
) -> Option<Loop> {
    let mut in_loop = vec![false; m.msgs.len()];
    let mut feeding = vec![false; m.msgs.len()];
    let (mut notifications, mut auto_replies) = (0u64, 0u64);
    let mut max_generation = 0;
    let mut msg_set = Vec::new();
    for (i, msg) in m.msgs.iter().enumerate() {
        if msg.rows == 0 || msg.class == Class::Original || !comp.contains(&logical[i]) {
            continue;
        }
        if !m.msg_recipients(msg).iter().any(|r| comp.contains(r)) {
            continue;
        }
        in_loop[i] = true;
        msg_set.push(i as u32);
        match msg.class {
            Class::Notification => notifications += 1,
            _ => auto_replies += 1,
        }
        max_generation = max_generation.max(msg.generation);
        let root = m.root(i as u32);
        if m.msgs[root as usize].class == Class::Original {
            feeding[root as usize] = true;
        }
    }
    let messages = notifications + auto_replies;
    if messages == 0 {
        return None;
    }
    let originals = feeding.iter().filter(|&&f| f).count() as u64;
    // One pass over the rows for what the loop's messages left in the logs.
    let mut rows = 0u64;
    let mut retries = 0u64;
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut servers: BTreeSet<&str> = BTreeSet::new();
    let mut per_minute: BTreeMap<i64, u64> = BTreeMap::new();
    let mut evidence_rows: Vec<(u32, &'static str)> = Vec::new();
    let (mut first_fail, mut first_notif, mut first_auto, mut first_gen2) =
        (None, None, None, None);
    let mut last_row = None;
    let mut feeders: BTreeMap<String, u64> = BTreeMap::new();
    let mut entered = vec![false; m.msgs.len()];
    let mut edge_codes: BTreeMap<(u32, u32), BTreeMap<String, u64>> = BTreeMap::new();
    for &r in &m.order {
        let r = r as usize;
        let id = m.msg[r];
        if id == NONE {
            continue;
        }
        let (l, f) = (in_loop[id as usize], feeding[id as usize]);
        if !l && !f {
            continue;
        }
        rows += 1;
        servers.insert(m.servers.name(m.server[r] as u32));
        // Where the feeding mail entered: the client IP of its first SMTP receive only (later
        // receives are hops between our own servers).
        if f && m.ev[r] == Ev::Receive && m.client_ip[r] != NONE && !entered[id as usize] {
            entered[id as usize] = true;
            *feeders
                .entry(m.ips.name(m.client_ip[r]).to_string())
                .or_default() += 1;
        }
        if m.ev[r] == Ev::Defer {
            retries += 1;
        }
        let rc = m.recipients(r);
        for (k, &c) in m.row_codes(r).iter().enumerate() {
            if matches!(m.code_class(c), 4 | 5) {
                let code = m.codes.name(c as u32).to_string();
                *codes.entry(code.clone()).or_default() += 1;
                if first_fail.is_none() && m.ev[r] == Ev::Fail {
                    first_fail = Some(r as u32);
                }
                // The failure of recipient `to` drives the automated edge `to -> sender`.
                if let Some(&to) = rc.get(k) {
                    // ...back to whoever the failed message travelled for (an NDR's system
                    // sender stands for the address whose failure it reports).
                    let back = match logical[id as usize] {
                        NONE => m.msgs[id as usize].sender,
                        a => a,
                    };
                    *edge_codes
                        .entry((to, back))
                        .or_default()
                        .entry(code)
                        .or_default() += 1;
                }
            }
        }
        if l {
            let msg = &m.msgs[id as usize];
            if r as u32 == msg.first_row {
                *per_minute
                    .entry(m.time[r].div_euclid(60_000) * 60_000)
                    .or_default() += 1;
                match msg.class {
                    Class::Notification if first_notif.is_none() => first_notif = Some(r as u32),
                    Class::AutoReply if first_auto.is_none() => first_auto = Some(r as u32),
                    _ => {}
                }
                if msg.generation >= 2 && first_gen2.is_none() {
                    first_gen2 = Some(r as u32);
                }
            }
            last_row = Some(r as u32);
        }
    }
    for (row, why) in [
        (first_fail, "first failure of a message feeding the loop"),
        (first_notif, "first notification in the loop"),
        (first_auto, "first automatic reply in the loop"),
        (
            first_gen2,
            "first notification about a notification (generation 2)",
        ),
        (last_row, "last loop message in the bundle"),
    ] {
        if let Some(r) = row {
            if !evidence_rows.iter().any(|(x, _)| *x == r) {
                evidence_rows.push((r, why));
            }
        }
    }
    evidence_rows.sort_by_key(|(r, _)| m.time[*r as usize]);
    let evidence = evidence_rows
        .into_iter()
        .map(|(r, why)| src.evidence(r as usize, why))
        .collect();
    let (start_ms, end_ms) = msg_set.iter().fold((i64::MAX, i64::MIN), |(a, b), &i| {
        let msg = &m.msgs[i as usize];
        (a.min(msg.first), b.max(msg.last))
    });
    let (peak_minute, peak_per_minute) = per_minute
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, v)| (*k, *v))
        .unwrap_or((start_ms, 0));
    let mut edges: Vec<LoopEdge> = acc
        .iter()
        .filter(|((a, b), e)| comp.contains(a) && comp.contains(b) && e.messages > 0)
        .map(|(&(a, b), e)| LoopEdge {
            from: m.addrs.name(a).to_string(),
            to: m.addrs.name(b).to_string(),
            messages: e.messages,
            notifications: e.notifications,
            auto_replies: e.auto_replies,
            status_codes: edge_codes.get(&(a, b)).cloned().unwrap_or_default(),
        })
        .collect();
    edges.sort_by(|x, y| {
        y.messages
            .cmp(&x.messages)
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    let mut fed: BTreeMap<String, u64> = BTreeMap::new();
    for (i, &is_feed) in feeding.iter().enumerate() {
        if is_feed && m.msgs[i].sender != NONE {
            *fed.entry(m.addrs.name(m.msgs[i].sender).to_string())
                .or_default() += 1;
        }
    }
    let top = |mp: BTreeMap<String, u64>, n: usize| {
        let mut v: Vec<(String, u64)> = mp.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().take(n).map(|(k, _)| k).collect::<Vec<_>>()
    };
    let mut fed_by = top(fed, 2);
    fed_by.extend(top(feeders, 2));
    let mut members: Vec<String> = comp.iter().map(|&a| m.addrs.name(a).to_string()).collect();
    members.sort();
    Some(Loop {
        members,
        messages,
        notifications,
        auto_replies,
        originals,
        retries,
        rows,
        first_seen: rfc3339(start_ms),
        last_seen: rfc3339(end_ms),
        peak_per_minute,
        peak_minute: rfc3339(peak_minute),
        amplification: if originals > 0 {
            (messages as f64 / originals as f64 * 100.0).round() / 100.0
        } else {
            messages as f64
        },
        max_generation,
        status_codes: codes,
        servers: servers.into_iter().map(str::to_string).collect(),
        fed_by,
        edges,
        per_minute: per_minute.into_iter().collect(),
        evidence,
        caveats: Vec::new(),
        start_ms,
        end_ms,
        msg_set,
    })
}
