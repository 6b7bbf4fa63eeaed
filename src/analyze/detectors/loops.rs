//! Loops: addresses that keep sending each other automated mail. The address-flow graph
//! (petgraph) carries one edge per (logical sender → recipient) of automated messages; a strongly
//! connected component of two or more addresses (or an address with an edge to itself) is a
//! loop, and so is any chain of notifications about notifications (generation 2 and up). An
//! outside responder's answers count as automated once the model has recognised them by their
//! timing (see `model::causality`), so a loop through a party outside our logs is found too.
//!
//! Accounting: a DEFER is a retry of the same message, not another message; an automated message
//! answers one message. `originals` counts the distinct original messages whose chain entered
//! the loop, `retries` the DEFER rows apart, and `amplification` is automated messages in the
//! loop per feeding original.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graphmap::DiGraphMap;
use serde::{Deserialize, Serialize};

use crate::analyze::evidence::Evidence;
use crate::analyze::model::classify::{flag, Ev};
use crate::analyze::model::intern::Interner;
use crate::analyze::model::{Class, NONE};
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Mark, Params, Place, Stage};
use crate::error::Result;
use crate::human::{count, join_and, minute, rfc3339, thousands};

/// Settings for loop detection.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LoopParams {
    /// Fewest automated messages along an edge for it to count towards a loop: one bounce each
    /// way is an accident, not a loop.
    pub min_edge: u64,
}

impl Default for LoopParams {
    fn default() -> Self {
        LoopParams { min_edge: 3 }
    }
}

/// What drives a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoopKind {
    /// Non-delivery reports answering each other.
    Bounce,
    /// Automatic replies (inbox rules, out-of-office, "mailbox full" notices).
    AutoReply,
    /// Our automated mail answered by a responder outside our logs.
    Responder,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Loop {
    pub kind: LoopKind,
    /// Member addresses, lower-cased, sorted.
    pub members: Vec<String>,
    /// Members outside the organisation (whose own logs we do not have).
    pub outside: Vec<String>,
    /// Automated messages (notifications and auto-replies) travelling inside the loop.
    pub messages: u64,
    pub notifications: u64,
    pub auto_replies: u64,
    /// Of the auto-replies, answers from outside recognised by their timing.
    pub inferred_replies: u64,
    /// Distinct original messages whose chain entered the loop.
    pub originals: u64,
    /// DEFER rows (retries) of the loop's messages and of the originals feeding it.
    pub retries: u64,
    /// Tracking rows of all those messages, on all servers.
    pub rows: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub peak_per_minute: u64,
    pub peak_minute: String,
    /// Automated messages in the loop per feeding original.
    pub amplification: f64,
    /// Deepest notification-about-a-notification chain (0 original, 1 notification, 2+ loop).
    pub max_generation: u16,
    pub status_codes: BTreeMap<String, u64>,
    pub servers: Vec<String>,
    /// Senders and client IPs of the original messages feeding the loop (the top few).
    pub fed_by: Vec<String>,
    /// THROTTLE rows where Exchange cut an auto-reply of a member (`XLoopHeaderCount`).
    pub throttled: u64,
    /// The cycle's edges with counts and the codes that drive them.
    pub edges: Vec<LoopEdge>,
    /// Loop messages per minute, for its own timeline.
    pub per_minute: Vec<(i64, u64)>,
    pub evidence: Vec<Evidence>,
    /// Why the numbers may be incomplete (coverage gaps, ...).
    pub caveats: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

pub struct Loops;

impl Detector for Loops {
    fn key(&self) -> &'static str {
        "loops"
    }
    fn title(&self) -> &'static str {
        "Loops"
    }
    fn stage(&self) -> Stage {
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Incident
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/loops.html"))
    }

    fn methods(&self, p: &Params) -> String {
        format!(
            "Each automated message (non-delivery report, automatic reply, \"mailbox full\" notice) is linked to the message it answers: through the row's reference where it carries one (DSN rows, inbox-rule replies), else to the nearest earlier message that reached, failed for, or left towards the answering address within 15 minutes, each message answered at most once. An answer from outside that arrives within {} s of our automated message leaving, round after round (at least {} rounds, median under {} s, with a related subject or within {} s), counts as automated too: that finds loops through responders outside our logs. The address-flow graph has an edge from the address on whose behalf automated mail travels (the failed recipient for an NDR, the sender of an auto-reply) to its recipient; a strongly connected set of two or more addresses (or one with an edge to itself), each edge carrying at least {} automated messages, is a loop; so is any chain of notification about notification (generation 2 and up). Originals are the distinct original messages whose chain entered the loop; retries are DEFER rows (the same message tried again) and are counted apart; amplification is automated messages in the loop per original.",
            crate::analyze::model::causality::RESPONDER_WINDOW_MS / 1000,
            crate::analyze::model::causality::RESPONDER_MIN_ROUNDS,
            crate::analyze::model::causality::RESPONDER_MAX_MEDIAN_MS / 1000,
            crate::analyze::model::causality::RESPONDER_TIGHT_MS / 1000,
            p.loops.min_edge
        )
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let loops = find(cx);
        let gaps = &cx.spans().gaps;
        let mut out = Detected::default();
        let mut views = Vec::new();
        for (l, mark) in loops {
            let mut l = l;
            for g in gaps {
                if l.servers.contains(&g.server) && g.start_ms <= mark.end && mark.start <= g.end_ms
                {
                    l.caveats.push(format!(
                        "{} has no log from {} to {} while other servers carried mail: counts for that stretch are a lower bound",
                        g.server, minute(&g.start), minute(&g.end)
                    ));
                }
            }
            out.summary.push(sentence(&l, cx.share(l.messages)));
            out.marks.loops.push(mark);
            views.push(l);
        }
        out.found = views.len();
        out.values.push(("loops", serde_json::to_value(&views)?));
        Ok(out)
    }
}

fn sentence(l: &Loop, share: f64) -> Sentence {
    let kind = match l.kind {
        LoopKind::Bounce => "a bounce loop",
        LoopKind::AutoReply => "an auto-reply loop",
        LoopKind::Responder => "an auto-reply loop with a responder outside our logs",
    };
    let fed = if l.fed_by.is_empty() {
        String::new()
    } else {
        format!(" from {}", l.fed_by.join(", "))
    };
    let driven = if l.status_codes.is_empty() {
        "Driven by automatic replies.".to_string()
    } else {
        format!("Driven by {}.", codes(&l.status_codes))
    };
    let mut text = format!(
        "Between {} and {} UTC, {} exchanged {} in {kind} ({}, {}), fed by {}{fed}: {}× amplification (automated messages per original), up to {} per minute at {}. {driven}",
        minute(&l.first_seen),
        minute(&l.last_seen),
        join_and(&l.members),
        count(l.messages, "automated message", "automated messages"),
        count(l.notifications, "notification", "notifications"),
        count(l.auto_replies, "automatic reply", "automatic replies"),
        count(l.originals, "original message", "original messages"),
        l.amplification,
        thousands(l.peak_per_minute),
        minute(&l.peak_minute),
    );
    if !l.outside.is_empty() {
        let one = l.outside.len() == 1;
        text.push_str(&format!(
            " {} {} outside the organisation: {} side is seen only as the mail {} sent us.",
            join_and(&l.outside),
            if one { "is" } else { "are" },
            if one { "its" } else { "their" },
            if one { "it" } else { "they" },
        ));
    }
    for c in &l.caveats {
        text.push_str(&format!(" Caveat: {c}."));
    }
    Sentence {
        text,
        // A loop is the incident this tool exists for: it always leads the summary.
        weight: 10.0 + share,
    }
}

/// Counts by id as counts by name.
fn named(by_id: &BTreeMap<u32, u64>, names: &Interner) -> BTreeMap<String, u64> {
    by_id
        .iter()
        .map(|(&id, &n)| (names.name(id).to_string(), n))
        .collect()
}

pub fn codes(map: &BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.iter()
        .take(3)
        .map(|(c, n)| {
            format!(
                "{c} ({}) ×{}",
                crate::analyze::detectors::tables::meaning(c),
                thousands(**n)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Loops with the working state later stages need (their messages and feeding originals).
pub fn find(cx: &Cx<'_>) -> Vec<(Loop, Mark)> {
    let m = cx.m;
    let mut g: DiGraphMap<u32, u64> = DiGraphMap::new();
    let mut acc: BTreeMap<(u32, u32), EdgeAcc> = BTreeMap::new();
    let mut logical = vec![NONE; m.msgs.len()];
    for (i, msg) in m.msgs.iter().enumerate() {
        if !cx.counts(i) || msg.class == Class::Original {
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
        if e.messages >= cx.p.loops.min_edge {
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
        if !cx.counts(i) || msg.generation < 2 || logical[i] == NONE {
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
    let mut loops: Vec<(Loop, Mark)> = comps
        .iter()
        .filter_map(|comp| describe(cx, comp, &logical, &acc))
        .collect();
    loops.sort_by(|a, b| {
        b.0.messages
            .cmp(&a.0.messages)
            .then_with(|| a.0.members.cmp(&b.0.members))
    });
    loops
}

fn describe(
    cx: &Cx<'_>,
    comp: &BTreeSet<u32>,
    logical: &[u32],
    acc: &BTreeMap<(u32, u32), EdgeAcc>,
) -> Option<(Loop, Mark)> {
    let m = cx.m;
    let mut in_loop = vec![false; m.msgs.len()];
    let mut feeding = vec![false; m.msgs.len()];
    let (mut notifications, mut auto_replies, mut inferred) = (0u64, 0u64, 0u64);
    let mut max_generation = 0;
    let mut msg_set = Vec::new();
    for (i, msg) in m.msgs.iter().enumerate() {
        if !cx.counts(i) || msg.class == Class::Original || !comp.contains(&logical[i]) {
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
        if msg.flags & flag::INFERRED_REPLY != 0 {
            inferred += 1;
        }
        max_generation = max_generation.max(msg.generation);
        let root = m.root(i as u32);
        if m.msgs[root as usize].class == Class::Original && m.msgs[root as usize].rows > 0 {
            feeding[root as usize] = true;
        }
    }
    let messages = notifications + auto_replies;
    if messages == 0 {
        return None;
    }
    let roots: Vec<u32> = (0..m.msgs.len() as u32)
        .filter(|&i| feeding[i as usize])
        .collect();
    let originals = roots.len() as u64;
    // One pass over the rows for what the loop's messages left in the logs.
    let mut rows = 0u64;
    let mut retries = 0u64;
    let mut throttled = 0u64;
    // Counted by id over the rows, named once at the end (names are unique per id, so the
    // maps come out in the same order as maps keyed by name).
    let mut codes: BTreeMap<u32, u64> = BTreeMap::new();
    let mut on_server = vec![false; m.servers.len()];
    let mut per_minute: BTreeMap<i64, u64> = BTreeMap::new();
    let mut evidence_rows: Vec<(u32, &'static str)> = Vec::new();
    let (mut first_fail, mut first_notif, mut first_auto, mut first_gen2, mut first_inferred) =
        (None, None, None, None, None);
    let mut first_throttle = None;
    let mut last_row = None;
    let mut feeders: BTreeMap<u32, u64> = BTreeMap::new();
    let mut entered = vec![false; m.msgs.len()];
    let mut edge_codes: BTreeMap<(u32, u32), BTreeMap<u32, u64>> = BTreeMap::new();
    for &r in &m.order {
        let r = r as usize;
        if m.ev[r] == Ev::Throttle
            && m.flags[r] & flag::LOOP_HEADER != 0
            && (comp.contains(&m.sender[r]) || m.recipients(r).iter().any(|a| comp.contains(a)))
        {
            throttled += 1;
            first_throttle.get_or_insert(r as u32);
        }
        let id = m.msg[r];
        if id == NONE {
            continue;
        }
        let (l, f) = (in_loop[id as usize], feeding[id as usize]);
        if !l && !f {
            continue;
        }
        rows += 1;
        if let Some(s) = on_server.get_mut(m.server[r] as usize) {
            *s = true;
        }
        // Where the feeding mail entered: the client of its first SMTP receive from outside.
        if f && m.ev[r] == Ev::Receive && !entered[id as usize] {
            let ip = m.effective_client_ip(r);
            if ip != NONE {
                entered[id as usize] = true;
                *feeders.entry(ip).or_default() += 1;
            }
        }
        if m.ev[r] == Ev::Defer {
            retries += 1;
        }
        let rc = m.recipients(r);
        for (k, &c) in m.row_codes(r).iter().enumerate() {
            if matches!(m.code_class(c), 4 | 5) {
                *codes.entry(c).or_default() += 1;
                if first_fail.is_none() && m.ev[r] == Ev::Fail {
                    first_fail = Some(r as u32);
                }
                // The failure of recipient `to` drives the automated edge `to -> sender`...
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
                        .entry(c)
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
                if msg.flags & flag::INFERRED_REPLY != 0 && first_inferred.is_none() {
                    first_inferred = Some(r as u32);
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
            first_inferred,
            "first answer from outside recognised as automatic (by its timing)",
        ),
        (
            first_gen2,
            "first notification about a notification (generation 2)",
        ),
        (
            first_throttle,
            "Exchange throttled an automatic reply of a member (loop header count)",
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
        .map(|(r, why)| cx.evidence.evidence(m, r as usize, why))
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
            status_codes: edge_codes
                .get(&(a, b))
                .map(|c| named(c, &m.codes))
                .unwrap_or_default(),
        })
        .collect();
    edges.sort_by(|x, y| {
        y.messages
            .cmp(&x.messages)
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    let mut fed: BTreeMap<u32, u64> = BTreeMap::new();
    for &i in &roots {
        let s = m.msgs[i as usize].sender;
        if s != NONE {
            *fed.entry(s).or_default() += 1;
        }
    }
    let fed = named(&fed, &m.addrs);
    let top = |mp: BTreeMap<String, u64>, n: usize| {
        let mut v: Vec<(String, u64)> = mp.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().take(n).map(|(k, _)| k).collect::<Vec<_>>()
    };
    let mut fed_by = top(fed, 2);
    fed_by.extend(top(named(&feeders, &m.ips), 2));
    let mut members: Vec<String> = comp.iter().map(|&a| m.addrs.name(a).to_string()).collect();
    members.sort();
    let outside: Vec<String> = comp
        .iter()
        .filter(|&&a| !m.is_internal(a))
        .map(|&a| m.addrs.name(a).to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let kind = if inferred > 0 {
        LoopKind::Responder
    } else if notifications >= auto_replies {
        LoopKind::Bounce
    } else {
        LoopKind::AutoReply
    };
    let l = Loop {
        kind,
        members,
        outside,
        messages,
        notifications,
        auto_replies,
        inferred_replies: inferred,
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
        status_codes: named(&codes, &m.codes),
        // In id order, which is the names' order.
        servers: on_server
            .iter()
            .enumerate()
            .filter(|(_, &on)| on)
            .map(|(s, _)| m.servers.name(s as u32).to_string())
            .collect(),
        fed_by,
        throttled,
        edges,
        per_minute: per_minute.into_iter().collect(),
        evidence,
        caveats: Vec::new(),
    };
    let mark = Mark {
        start: start_ms,
        end: end_ms,
        msgs: msg_set,
        roots,
    };
    Some((l, mark))
}
