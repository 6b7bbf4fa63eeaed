//! Silent drops: `DROP` (a message removed without a non-delivery report: an agent's verdict, an
//! administrator's action) and `BADMAIL` (a file the pickup or replay directory could not read).
//! Nobody is told, so they are easy to miss in a postmortem.

use super::{detected, from_rows, server_names, some, Catalogue, IncidentKind};
use crate::analyze::model::classify::Ev;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct SilentDrop;

impl Catalogue for SilentDrop {
    const KIND: IncidentKind = IncidentKind::SilentDrop;
    fn title(&self) -> &'static str {
        "Silent drops"
    }
    fn methods(&self, _: &Params) -> String {
        "DROP and BADMAIL rows: messages removed without a non-delivery report; the organisation's own addresses among their senders and recipients are named.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let i = from_rows(
            cx,
            IncidentKind::SilentDrop,
            "drop",
            |r| matches!(m.ev[r], Ev::Drop | Ev::Badmail),
            |c, r| {
                for &a in m.recipients(r).iter().chain([&m.sender[r]]) {
                    if m.is_internal(a) {
                        c.address(m, a);
                    }
                }
            },
            |c| {
                let bad = c
                    .rows
                    .iter()
                    .filter(|&&r| m.ev[r as usize] == Ev::Badmail)
                    .count() as u64;
                format!(
                    "{} were dropped silently on {} ({} as badmail), without a non-delivery report; involving {}.",
                    count(c.msgs.len() as u64, "message", "messages"),
                    server_names(m, c),
                    crate::human::thousands(bad),
                    some(&c.addresses, 3)
                )
            },
        );
        Ok(detected(cx, i.into_iter().collect(), 0.1))
    }
}
