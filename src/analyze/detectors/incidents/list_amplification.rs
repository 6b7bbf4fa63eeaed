//! Distribution-list amplification: one message multiplied by a list into thousands of copies
//! (`EXPAND` rows, the list in `related-recipient-address`, `recipient-count` the members), and,
//! in the classic incident, a list full of invalid members answering every message with a
//! storm of non-delivery reports.

use std::collections::BTreeMap;

use super::{detected, Catalogue, Collect, IncidentKind};
use crate::analyze::model::classify::Ev;
use crate::analyze::model::{Class, NONE};
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::{count, thousands};

/// A list expanding one message to this many recipients is an amplification in itself...
pub const LARGE_LIST: u64 = 1_000;
/// ...and a smaller one (from this size) when a tenth or more of its members bounce.
pub const BOUNCING_LIST: u64 = 100;

pub struct ListAmplification;

impl Catalogue for ListAmplification {
    const KIND: IncidentKind = IncidentKind::ListAmplification;
    fn title(&self) -> &'static str {
        "Distribution-list amplification"
    }
    fn methods(&self, _: &Params) -> String {
        format!("EXPAND rows, per list (the related recipient): a message expanded to {LARGE_LIST} recipients or more, or to {BOUNCING_LIST} or more of whom a tenth or more failed; counts the recipients the list produced and the failures and non-delivery reports that followed.")
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        // Per list: per expanded message, the recipients it produced.
        let mut lists: BTreeMap<u32, (Collect, BTreeMap<u32, u64>)> = BTreeMap::new();
        for &r in &m.order {
            let r = r as usize;
            if m.ev[r] != Ev::Expand || m.related[r] == NONE || m.msg[r] == NONE {
                continue;
            }
            let (c, per_msg) = lists.entry(m.related[r]).or_default();
            c.row(m, r);
            let n = (m.rcpt_count[r] as u64).max(m.recipients(r).len() as u64);
            *per_msg.entry(m.msg[r]).or_default() += n;
        }
        let mut out = Vec::new();
        for (list, (mut c, per_msg)) in lists {
            let expanded: u64 = per_msg.values().sum();
            let largest = per_msg.values().copied().max().unwrap_or(0);
            // Failures of the expanded messages and the reports they drew.
            let mut failed = 0u64;
            let mut reports = 0u64;
            for &id in per_msg.keys() {
                let msg = &m.msgs[id as usize];
                if msg.failed {
                    failed += 1;
                }
            }
            for &r in &m.order {
                let r = r as usize;
                let id = m.msg[r];
                if id != NONE && per_msg.contains_key(&id) && m.ev[r].is_failure() {
                    failed += m.recipients(r).len() as u64;
                    c.row(m, r);
                }
            }
            for (i, msg) in m.msgs.iter().enumerate() {
                if cx.counts(i)
                    && msg.class == Class::Notification
                    && msg.parent != NONE
                    && per_msg.contains_key(&msg.parent)
                {
                    reports += 1;
                }
            }
            let bouncing = largest >= BOUNCING_LIST && failed * 10 >= largest;
            if largest < LARGE_LIST && !bouncing {
                continue;
            }
            c.address(m, list);
            let text = format!(
                "The list {} multiplied {} into {} copies (up to {} for one message); {} of its members failed and {} came back.",
                m.addrs.name(list),
                count(per_msg.len() as u64, "message", "messages"),
                thousands(expanded),
                thousands(largest),
                thousands(failed),
                count(reports, "non-delivery report", "non-delivery reports")
            );
            out.push(c.incident(
                cx,
                IncidentKind::ListAmplification,
                expanded,
                text,
                "expansion or member failure",
            ));
        }
        Ok(detected(cx, out, 0.3))
    }
}
