//! Backscatter: non-delivery reports about mail nobody here wrote. Spam with forged senders sent
//! to addresses that do not exist makes us send NDRs to outside addresses that never had mail
//! from us; and the reverse, NDRs arriving from outside for messages our logs never sent (our
//! domain forged by someone else's spam).

use std::collections::BTreeSet;

use super::{detected, some, Catalogue, Collect, IncidentKind};
use crate::analyze::model::{Class, NONE};
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

/// Fewest reports (to this many distinct outside addresses) that make backscatter.
pub const MIN_REPORTS: usize = 10;
pub const MIN_ADDRESSES: usize = 5;

pub struct Backscatter;

impl Catalogue for Backscatter {
    const KIND: IncidentKind = IncidentKind::Backscatter;
    fn title(&self) -> &'static str {
        "Backscatter"
    }
    fn methods(&self, _: &Params) -> String {
        format!("Outgoing: non-delivery reports from us to outside addresses that received no original mail from us in the bundle, about messages that came from outside ({MIN_REPORTS} or more, to {MIN_ADDRESSES} or more addresses). Incoming: non-delivery reports from outside to our users that answer no message our logs sent ({MIN_REPORTS} or more). The organisation's own addresses involved are named.")
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        // Outside addresses we wrote to ourselves: their reports are honest bounces.
        let mut wrote_to: BTreeSet<u32> = BTreeSet::new();
        for (i, msg) in m.msgs.iter().enumerate() {
            if cx.counts(i) && msg.class == Class::Original && m.is_internal(msg.sender) {
                wrote_to.extend(m.msg_recipients(msg).iter().copied());
            }
        }
        let mut out_c = Collect::default();
        let mut in_c = Collect::default();
        let (mut outgoing, mut incoming) = (BTreeSet::new(), BTreeSet::new());
        let mut out_to: BTreeSet<u32> = BTreeSet::new();
        for (i, msg) in m.msgs.iter().enumerate() {
            if !cx.counts(i) || msg.class != Class::Notification {
                continue;
            }
            let Some(&to) = m.msg_recipients(msg).first() else {
                continue;
            };
            let ours = !m.is_internal(to);
            if ours {
                let parent = msg.parent;
                let about_outside_mail = parent == NONE
                    || m.msgs[parent as usize].rows == 0
                    || !m.is_internal(m.msgs[parent as usize].sender);
                if about_outside_mail && !wrote_to.contains(&to) {
                    outgoing.insert(i as u32);
                    out_to.insert(to);
                    if parent != NONE && m.msgs[parent as usize].fail_rcpt != NONE {
                        out_c.address(m, m.msgs[parent as usize].fail_rcpt);
                    }
                }
            } else if !m.is_internal(msg.sender)
                && (msg.parent == NONE || m.msgs[msg.parent as usize].rows == 0)
            {
                incoming.insert(i as u32);
                in_c.address(m, to);
            }
        }
        let out_ok = outgoing.len() >= MIN_REPORTS && out_to.len() >= MIN_ADDRESSES;
        let in_ok = incoming.len() >= MIN_REPORTS;
        if !out_ok && !in_ok {
            return Ok(detected(cx, Vec::new(), 0.2));
        }
        let mut c = Collect::default();
        let mut parts = Vec::new();
        for (ok, set, side) in [(out_ok, &outgoing, &out_c), (in_ok, &incoming, &in_c)] {
            if !ok {
                continue;
            }
            for &i in set {
                let r = m.msgs[i as usize].first_row;
                if r != NONE {
                    c.row(m, r as usize);
                }
            }
            c.addresses.extend(side.addresses.iter().cloned());
        }
        if out_ok {
            parts.push(format!(
                "we sent {} to {} outside addresses that never had mail from us (spam with forged senders to {})",
                count(outgoing.len() as u64, "non-delivery report", "non-delivery reports"),
                out_to.len(),
                some(&out_c.addresses, 3)
            ));
        }
        if in_ok {
            parts.push(format!(
                "{} arrived from outside for mail our logs never sent (our domain forged elsewhere), to {}",
                count(incoming.len() as u64, "non-delivery report", "non-delivery reports"),
                some(&in_c.addresses, 3)
            ));
        }
        let n = (if out_ok { outgoing.len() } else { 0 } + if in_ok { incoming.len() } else { 0 })
            as u64;
        let text = format!("Backscatter: {}.", parts.join("; "));
        let i = c.incident(cx, IncidentKind::Backscatter, n, text, "backscatter report");
        Ok(detected(cx, vec![i], 0.2))
    }
}
