//! Delivery throttling: `432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded`, the store
//! driver refusing more concurrent deliveries to a mailbox (usually one mailbox receiving a
//! burst); the messages wait in the queue.

use super::{detected, some, Catalogue, Collect, IncidentKind};
use crate::analyze::model::classify::StatusKind;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::{count, span};

pub struct DeliveryThrottling;

impl Catalogue for DeliveryThrottling {
    const KIND: IncidentKind = IncidentKind::DeliveryThrottling;
    fn title(&self) -> &'static str {
        "Delivery throttling"
    }
    fn methods(&self, _: &Params) -> String {
        "Deferrals with 4.3.2 and \"recipient thread limit exceeded\" (the store driver's limit of concurrent deliveries per mailbox), per server, naming the mailboxes.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut c = Collect::default();
        for &r in &m.order {
            let r = r as usize;
            let rc = m.recipients(r);
            let mut hit = false;
            for (k, kind) in m.row_kinds(r).iter().enumerate() {
                if *kind == StatusKind::ThreadLimit {
                    hit = true;
                    if let Some(&a) = rc.get(k) {
                        c.address(m, a);
                    }
                }
            }
            if hit {
                c.row(m, r);
            }
        }
        if c.is_empty() {
            return Ok(detected(cx, Vec::new(), 0.2));
        }
        let n = c.msgs.len() as u64;
        let text = format!(
            "Deliveries to {} were throttled ({} deferred with 4.3.2, recipient thread limit exceeded) over {}: more concurrent deliveries than the store accepts.",
            some(&c.addresses, 3),
            count(n, "message", "messages"),
            span(c.last - c.first)
        );
        let i = c.incident(
            cx,
            IncidentKind::DeliveryThrottling,
            n,
            text,
            "deferral for the thread limit",
        );
        Ok(detected(cx, vec![i], 0.2))
    }
}
