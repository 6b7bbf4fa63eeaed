//! Shadow-redundancy failures: `HAREDIRECTFAIL`, no shadow server could take a copy of a message
//! ("No suitable shadow servers"), so it was accepted without the redundancy Exchange promises.
//! Usually another server of the DAG or site was unreachable; the details are in the row's
//! source-context, shown with the evidence. Says nothing about delivery.

use super::{detected, from_rows, server_names, Catalogue, IncidentKind};
use crate::analyze::model::classify::Ev;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::{count, span};

pub struct ShadowRedundancyFailure;

impl Catalogue for ShadowRedundancyFailure {
    const KIND: IncidentKind = IncidentKind::ShadowRedundancyFailure;
    fn title(&self) -> &'static str {
        "Shadow redundancy failures"
    }
    fn methods(&self, _: &Params) -> String {
        "HAREDIRECTFAIL rows: messages for which no shadow server could take a redundant copy (details in the source-context of the evidence). They are not delivery failures and never count in the failure ratios.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let i = from_rows(
            cx,
            IncidentKind::ShadowRedundancyFailure,
            "shadow redundancy failure",
            |r| m.ev[r] == Ev::HaRedirectFail,
            |_, _| {},
            |c| {
                format!(
                    "{} on {} found no shadow server for {} over {}: mail was accepted without a redundant copy (is another server of the site down or unreachable?).",
                    count(c.rows.len() as u64, "attempt", "attempts"),
                    server_names(m, c),
                    count(c.msgs.len() as u64, "message", "messages"),
                    span(c.last - c.first)
                )
            },
        );
        Ok(detected(cx, i.into_iter().collect(), 0.05))
    }
}
