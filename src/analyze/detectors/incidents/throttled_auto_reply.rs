//! Auto-reply loops that Exchange stopped: a `THROTTLE` row from an inbox rule whose reference is
//! `XLoopHeaderCount:n/m` means two mailboxes' rules were answering each other and Exchange cut
//! the chain silently. The incident names both mailboxes and counts their automatic replies.

use std::collections::{BTreeMap, BTreeSet};

use super::{detected, Catalogue, Collect, IncidentKind};
use crate::analyze::model::classify::{flag, Ev, Src};
use crate::analyze::model::{Class, NONE};
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct ThrottledAutoReply;

impl Catalogue for ThrottledAutoReply {
    const KIND: IncidentKind = IncidentKind::ThrottledAutoReply;
    fn title(&self) -> &'static str {
        "Auto-reply loops Exchange stopped"
    }
    fn methods(&self, _: &Params) -> String {
        "THROTTLE rows written by an inbox rule (source MAILBOXRULE, or a reference XLoopHeaderCount:n/m): per pair of mailboxes, the throttled replies and the automatic replies they had exchanged before.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut pairs: BTreeMap<(u32, u32), Collect> = BTreeMap::new();
        for &r in &m.order {
            let r = r as usize;
            if m.ev[r] != Ev::Throttle
                || (m.src[r] != Src::MailboxRule && m.flags[r] & flag::LOOP_HEADER == 0)
            {
                continue;
            }
            let (a, b) = (
                m.sender[r],
                m.recipients(r).first().copied().unwrap_or(NONE),
            );
            let key = (a.min(b), a.max(b));
            let c = pairs.entry(key).or_default();
            c.row(m, r);
            c.address(m, a);
            c.address(m, b);
        }
        let mut out = Vec::new();
        let mut looped = Vec::new();
        for ((a, b), mut c) in pairs {
            let throttled = c.msgs.len() as u64;
            // The automatic replies the two exchanged (the throttled ones among them).
            let mut replies: BTreeSet<u32> = BTreeSet::new();
            for (i, msg) in m.msgs.iter().enumerate() {
                if !cx.counts(i) || msg.class == Class::Original {
                    continue;
                }
                let rc = m.msg_recipients(msg);
                if (msg.sender == a && rc.contains(&b)) || (msg.sender == b && rc.contains(&a)) {
                    replies.insert(i as u32);
                }
            }
            for &r in &m.order {
                let r = r as usize;
                if m.msg[r] != NONE && replies.contains(&m.msg[r]) && !c.msgs.contains(&m.msg[r]) {
                    c.first = c.first.min(m.time[r]);
                    c.servers.insert(m.server[r]);
                }
            }
            let in_loop = replies
                .iter()
                .filter(|&&i| cx.board.in_loop.get(i as usize).copied().unwrap_or(false))
                .count();
            let n = replies.union(&c.msgs).count() as u64;
            let replies_only = replies.difference(&c.msgs).count() as u64;
            let text = format!(
                "{} and {} answered each other with automatic replies ({}) until Exchange throttled {} ({}): an auto-reply loop cut off silently; check those mailboxes' inbox rules.",
                m.addrs.name(a),
                m.addrs.name(b),
                count(replies_only, "reply", "replies"),
                count(throttled, "further reply", "further replies"),
                "loop header count"
            );
            let mut i = c.incident(
                cx,
                IncidentKind::ThrottledAutoReply,
                n,
                text,
                "throttled automatic reply",
            );
            if in_loop * 2 >= replies.len().max(1) {
                // The loop detector tells this story already; its section shows the throttling.
                i.part_of_loop = cx
                    .board
                    .loops
                    .iter()
                    .position(|l| replies.iter().any(|r| l.msgs.binary_search(r).is_ok()))
                    .map(|p| p + 1);
                looped.push(i);
            } else {
                out.push(i);
            }
        }
        out.extend(looped);
        Ok(detected(cx, out, 0.5))
    }
}
