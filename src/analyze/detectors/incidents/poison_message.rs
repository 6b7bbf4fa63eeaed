//! Poison messages: messages that crashed the transport service repeatedly and were moved to the
//! poison queue (`POISONMESSAGE`), where they stay until an administrator deals with them.

use super::{detected, from_rows, server_names, some, Catalogue, IncidentKind};
use crate::analyze::model::classify::Ev;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct PoisonMessage;

impl Catalogue for PoisonMessage {
    const KIND: IncidentKind = IncidentKind::PoisonMessage;
    fn title(&self) -> &'static str {
        "Poison messages"
    }
    fn methods(&self, _: &Params) -> String {
        "POISONMESSAGE rows: messages the transport service moved to (or released from) the poison message queue after crashing while handling them.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let i = from_rows(
            cx,
            IncidentKind::PoisonMessage,
            "poison-queue row",
            |r| m.ev[r] == Ev::Poison,
            |c, r| {
                for &a in m.recipients(r) {
                    c.address(m, a);
                }
            },
            |c| {
                format!(
                    "{} went to the poison message queue on {} (recipients {}): they crashed the transport service and are held until an administrator releases or deletes them.",
                    count(c.msgs.len() as u64, "message", "messages"),
                    server_names(m, c),
                    some(&c.addresses, 3)
                )
            },
        );
        Ok(detected(cx, i.into_iter().collect(), 0.3))
    }
}
