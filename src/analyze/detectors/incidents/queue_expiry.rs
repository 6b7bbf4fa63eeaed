//! Queue expiry: messages that could not be delivered before their expiry time (`550 4.4.7
//! QUEUE.Expired`, `5.4.300 Message expired`), with the deferrals that came before and the last
//! reason the next hop gave.

use super::{detected, domain, some, Catalogue, Collect, IncidentKind};
use crate::analyze::model::classify::{Ev, StatusKind};
use crate::analyze::model::NONE;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::{count, span};

pub struct QueueExpiry;

impl Catalogue for QueueExpiry {
    const KIND: IncidentKind = IncidentKind::QueueExpiry;
    fn title(&self) -> &'static str {
        "Queue expiry"
    }
    fn methods(&self, _: &Params) -> String {
        "Messages failed with 4.4.7 QUEUE.Expired, 5.4.300 or 5.4.7 (expired in the queue), with their DEFER history: how many deferrals, over how long, and the codes given; the recipient domains are named.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        // By message id (asked for every row below): whether it expired. Which rows say so
        // does not depend on their order, so they are found in storage order.
        let mut expired = vec![false; m.msgs.len()];
        let mut n = 0u64;
        for r in 0..m.n {
            let id = m.msg[r];
            if id != NONE && m.row_kinds(r).contains(&StatusKind::Expired) {
                let e = &mut expired[id as usize];
                n += u64::from(!*e);
                *e = true;
            }
        }
        if n == 0 {
            return Ok(detected(cx, Vec::new(), 0.2));
        }
        let mut c = Collect::default();
        let mut defers = 0u64;
        for &r in &m.order {
            let r = r as usize;
            let id = m.msg[r];
            if id == NONE || !expired[id as usize] {
                continue;
            }
            match m.ev[r] {
                Ev::Defer => {
                    defers += 1;
                    c.row(m, r);
                }
                _ if m.row_kinds(r).contains(&StatusKind::Expired) => {
                    c.row(m, r);
                    for &a in m.recipients(r) {
                        c.addresses.insert(domain(m.addrs.name(a)).to_string());
                    }
                }
                _ => {}
            }
        }
        let text = format!(
            "{} to {} expired in the queue after {} over {} ({}): the next hop never took them.",
            count(n, "message", "messages"),
            some(&c.addresses, 3),
            count(defers, "deferral", "deferrals"),
            span(c.last - c.first),
            c.codes.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        let i = c.incident(cx, IncidentKind::QueueExpiry, n, text, "deferral or expiry");
        Ok(detected(cx, vec![i], 0.2))
    }
}
