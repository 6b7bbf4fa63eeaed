//! Moderation stalls: `MODERATIONEXPIRE` (nobody approved a message to a moderated list in time)
//! and `MODERATORSALLNDR` (every moderator's copy bounced: the moderators do not exist any more).
//! Mail to that list waits and then disappears for its senders.

use super::{detected, from_rows, some, Catalogue, IncidentKind};
use crate::analyze::model::classify::Ev;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct ModerationStall;

impl Catalogue for ModerationStall {
    const KIND: IncidentKind = IncidentKind::ModerationStall;
    fn title(&self) -> &'static str {
        "Moderation stalls"
    }
    fn methods(&self, _: &Params) -> String {
        "MODERATIONEXPIRE and MODERATORSALLNDR rows: messages to moderated recipients that expired unapproved, or whose moderators all bounced; the moderated lists are named.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let i = from_rows(
            cx,
            IncidentKind::ModerationStall,
            "moderation expiry or moderator bounce",
            |r| matches!(m.ev[r], Ev::ModerationExpire | Ev::ModeratorsAllNdr),
            |c, r| {
                for &a in m.recipients(r) {
                    c.address(m, a);
                }
            },
            |c| {
                let all_ndr = c
                    .rows
                    .iter()
                    .filter(|&&r| m.ev[r as usize] == Ev::ModeratorsAllNdr)
                    .count() as u64;
                format!(
                    "{} to {} stalled in moderation ({} expired unapproved, {} with every moderator bouncing): check the list's moderators.",
                    count(c.msgs.len() as u64, "message", "messages"),
                    some(&c.addresses, 3),
                    crate::human::thousands(c.rows.len() as u64 - all_ndr),
                    crate::human::thousands(all_ndr)
                )
            },
        );
        Ok(detected(cx, i.into_iter().collect(), 0.05))
    }
}
