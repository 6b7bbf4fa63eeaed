//! Duplicate deliveries: `DUPLICATEDELIVER`, `DUPLICATEEXPAND`, `DUPLICATEREDIRECT`, Exchange
//! noticing it was about to deliver, expand or redirect the same message twice (nested lists, a
//! forward to a member of the same list) and suppressing the copy.

use super::{detected, from_rows, some, Catalogue, IncidentKind};
use crate::analyze::model::classify::Ev;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct DuplicateDelivery;

impl Catalogue for DuplicateDelivery {
    const KIND: IncidentKind = IncidentKind::DuplicateDelivery;
    fn title(&self) -> &'static str {
        "Duplicate deliveries"
    }
    fn methods(&self, _: &Params) -> String {
        "DUPLICATEDELIVER, DUPLICATEEXPAND and DUPLICATEREDIRECT rows: copies Exchange suppressed because the same message would have reached the same mailbox or list twice; the mailboxes and lists (related recipient) are named.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let i = from_rows(
            cx,
            IncidentKind::DuplicateDelivery,
            "duplicate suppressed",
            |r| {
                matches!(
                    m.ev[r],
                    Ev::DuplicateDeliver | Ev::DuplicateExpand | Ev::DuplicateRedirect
                )
            },
            |c, r| {
                for &a in m.recipients(r) {
                    c.address(m, a);
                }
                c.address(m, m.related[r]);
            },
            |c| {
                format!(
                    "{} would have reached the same place twice ({}); Exchange suppressed the copies. Nested lists or forwarding rules overlap.",
                    count(c.msgs.len() as u64, "message", "messages"),
                    some(&c.addresses, 4)
                )
            },
        );
        Ok(detected(cx, i.into_iter().collect(), 0.01))
    }
}
