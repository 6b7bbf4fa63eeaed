//! Submission failures: `SUBMITDEFER` and `SUBMITFAIL`, mail that could not leave a mailbox for
//! transport (the mailbox transport submission service could not reach a hub, or the item was
//! bad). The client that submitted it is in the source-context (`ClientType:OWA`, `MOMT` for
//! Outlook, ...), read back with the evidence.

use super::{detected, from_rows, server_names, some, Catalogue, IncidentKind};
use crate::analyze::model::classify::Ev;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::count;

pub struct SubmissionFailure;

/// `ClientType:OWA` in a source-context → `OWA`.
fn client_type(context: &str) -> Option<&str> {
    let at = context.find("ClientType:")? + "ClientType:".len();
    context[at..]
        .split([',', ';'])
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl Catalogue for SubmissionFailure {
    const KIND: IncidentKind = IncidentKind::SubmissionFailure;
    fn title(&self) -> &'static str {
        "Submission failures"
    }
    fn methods(&self, _: &Params) -> String {
        "SUBMITDEFER and SUBMITFAIL rows: mail that could not be submitted from a mailbox to transport, per sender, with the client type from the source-context.".into()
    }
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut i = from_rows(
            cx,
            IncidentKind::SubmissionFailure,
            "submission deferral or failure",
            |r| matches!(m.ev[r], Ev::SubmitDefer | Ev::SubmitFail),
            |c, r| c.address(m, m.sender[r]),
            |c| {
                let failed = c
                    .rows
                    .iter()
                    .filter(|&&r| m.ev[r as usize] == Ev::SubmitFail)
                    .count() as u64;
                format!(
                    "{} from {} could not be submitted to transport on {} ({} deferred, {} failed for good).",
                    count(c.msgs.len() as u64, "message", "messages"),
                    some(&c.addresses, 3),
                    server_names(m, c),
                    crate::human::thousands(c.rows.len() as u64 - failed),
                    crate::human::thousands(failed)
                )
            },
        );
        if let Some(inc) = i.as_mut() {
            let clients: std::collections::BTreeSet<&str> = inc
                .evidence
                .iter()
                .filter_map(|e| client_type(&e.context))
                .collect();
            if !clients.is_empty() {
                inc.summary = format!(
                    "{} Client: {}.",
                    inc.summary,
                    clients.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
        }
        Ok(detected(cx, i.into_iter().collect(), 0.1))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_types() {
        assert_eq!(
            super::client_type("MDB:x, Mailbox:y, Event:1, ClientType:MOMT, SubmissionAssistant:z"),
            Some("MOMT")
        );
        assert_eq!(super::client_type("no client here"), None);
    }
}
