//! Safety Net resubmissions: `RESUBMIT`, `RESUBMITDEFER`, `RESUBMITFAIL` from source SAFETYNET,
//! Exchange redelivering messages it kept after a mailbox database failed over or was restored.
//! A sign of a database incident, and the reason users may see old messages again.

use super::{detected, from_rows, server_names, Catalogue, IncidentKind};
use crate::analyze::model::classify::{Ev, Src};
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct SafetyNetResubmit;

impl Catalogue for SafetyNetResubmit {
    const KIND: IncidentKind = IncidentKind::SafetyNetResubmit;
    fn title(&self) -> &'static str {
        "Safety Net resubmissions"
    }
    fn methods(&self, _: &Params) -> String {
        "RESUBMIT, RESUBMITDEFER and RESUBMITFAIL rows (source SAFETYNET): messages Safety Net delivered again, typically after a database failover or restore.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let i = from_rows(
            cx,
            IncidentKind::SafetyNetResubmit,
            "Safety Net resubmission",
            |r| {
                matches!(m.ev[r], Ev::Resubmit | Ev::ResubmitDefer | Ev::ResubmitFail)
                    || (m.src[r] == Src::SafetyNet
                        && m.ev[r] != crate::analyze::model::classify::Ev::Other)
            },
            |_, _| {},
            |c| {
                let failed = c
                    .rows
                    .iter()
                    .filter(|&&r| m.ev[r as usize] == Ev::ResubmitFail)
                    .count() as u64;
                format!(
                    "Safety Net resubmitted {} on {} ({} failed): a mailbox database failed over or was restored, and users may see old messages again.",
                    count(c.msgs.len() as u64, "message", "messages"),
                    server_names(m, c),
                    crate::human::thousands(failed)
                )
            },
        );
        Ok(detected(cx, i.into_iter().collect(), 0.1))
    }
}
