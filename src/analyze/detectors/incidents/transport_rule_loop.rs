//! Transport-rule loops: `550 5.7.128 TRANSPORT.RULES.RejectMessage; Transport rules loop count
//! exceeded`, a message redirected or copied back and forth by transport rules until Exchange
//! rejected it.

use super::{detected, some, Catalogue, Collect, IncidentKind};
use crate::analyze::model::classify::StatusKind;
use crate::analyze::model::NONE;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct TransportRuleLoop;

impl Catalogue for TransportRuleLoop {
    const KIND: IncidentKind = IncidentKind::TransportRuleLoop;
    fn title(&self) -> &'static str {
        "Transport-rule loops"
    }
    fn methods(&self, _: &Params) -> String {
        "Messages with a recipient status of 5.7.128 (or the text \"Transport rules loop count exceeded\"), with the addresses they travelled between.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut c = Collect::default();
        for &r in &m.order {
            let r = r as usize;
            if m.row_kinds(r).contains(&StatusKind::RuleLoop) {
                c.row(m, r);
            }
        }
        if c.is_empty() {
            return Ok(detected(cx, Vec::new(), 0.5));
        }
        for &id in &c.msgs.clone() {
            if id != NONE {
                for &a in m.msg_recipients(&m.msgs[id as usize]) {
                    c.address(m, a);
                }
            }
        }
        let n = c.msgs.len() as u64;
        let text = format!(
            "{} bounced between {} by transport rules until Exchange rejected them (5.7.128, rules loop count exceeded): check the transport rules that redirect or copy mail between them.",
            count(n, "message", "messages"),
            some(&c.addresses, 4)
        );
        let i = c.incident(
            cx,
            IncidentKind::TransportRuleLoop,
            n,
            text,
            "rejection for a rules loop",
        );
        Ok(detected(cx, vec![i], 0.5))
    }
}
