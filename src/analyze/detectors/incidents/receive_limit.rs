//! Receive and send limits: a mailbox over its hourly receive limit (5.2.121/5.2.122), a sender
//! over its daily recipient limit (5.1.90) or submission quota (a 5.2.2 that says so), or blocked
//! as likely compromised (5.1.8, 5.7.501–503). Recipients are named for receive limits, senders
//! for send limits: a blocked sender is worth a look at the account.

use std::collections::BTreeSet;

use super::{detected, some, Catalogue, Collect, IncidentKind};
use crate::analyze::model::classify::StatusKind;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct ReceiveLimit;

impl Catalogue for ReceiveLimit {
    const KIND: IncidentKind = IncidentKind::ReceiveLimit;
    fn title(&self) -> &'static str {
        "Receive and send limits"
    }
    fn methods(&self, _: &Params) -> String {
        "Recipient statuses with 5.2.121 or 5.2.122 (hourly receive limits: the recipient is named), 5.1.90 (daily recipient limit), 5.1.8 or 5.7.501–503 (a sender blocked, likely compromised), or a submission quota (5.2.2 with \"Submission quota exceeded\"; a bare 5.2.2 from the store driver is a full mailbox instead): the sender is named.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut c = Collect::default();
        let (mut receivers, mut senders) = (BTreeSet::new(), BTreeSet::new());
        let (mut recv_msgs, mut send_msgs) = (BTreeSet::new(), BTreeSet::new());
        for &r in &m.order {
            let r = r as usize;
            let rc = m.recipients(r);
            for (k, kind) in m.row_kinds(r).iter().enumerate() {
                match kind {
                    StatusKind::ReceiveLimit => {
                        if let Some(&a) = rc.get(k) {
                            receivers.insert(m.addrs.name(a).to_string());
                            c.address(m, a);
                        }
                        recv_msgs.insert(m.msg[r]);
                    }
                    StatusKind::SendLimit => {
                        senders.insert(m.addrs.name(m.sender[r]).to_string());
                        c.address(m, m.sender[r]);
                        send_msgs.insert(m.msg[r]);
                    }
                    _ => continue,
                }
                c.row(m, r);
                break;
            }
        }
        if c.is_empty() {
            return Ok(detected(cx, Vec::new(), 0.3));
        }
        let mut parts = Vec::new();
        if !receivers.is_empty() {
            parts.push(format!(
                "{} hit an hourly receive limit ({} refused)",
                some(&receivers, 3),
                count(recv_msgs.len() as u64, "message", "messages")
            ));
        }
        if !senders.is_empty() {
            parts.push(format!(
                "{} {} limited or blocked as a sender ({} refused; a sender blocked by 5.7.501–503 or 5.1.8 is likely compromised)",
                some(&senders, 3),
                if senders.len() == 1 { "was" } else { "were" },
                count(send_msgs.len() as u64, "message", "messages")
            ));
        }
        let n = c.msgs.len() as u64;
        let text = format!(
            "Limits: {} ({}).",
            parts.join("; "),
            c.codes.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        let i = c.incident(
            cx,
            IncidentKind::ReceiveLimit,
            n,
            text,
            "refusal for a limit",
        );
        Ok(detected(cx, vec![i], 0.3))
    }
}
