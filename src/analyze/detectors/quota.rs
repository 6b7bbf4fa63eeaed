//! Mailboxes that hit their quota: per mailbox, the first refusal for a full mailbox and how
//! many followed. Recognised by Exchange's own exception text (`QuotaExceededException`,
//! `MapiExceptionShutoffQuotaExceeded`, also under 5.2.0) or a 4.2.2/5.2.2 from the store
//! driver: a bare 5.2.2 elsewhere is a submission quota (a sender limit), not a full mailbox.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::model::classify::{Ev, StatusKind};
use crate::analyze::model::NONE;
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::error::Result;
use crate::human::{count, minute, rfc3339};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailboxFull {
    pub mailbox: String,
    pub first_failure: String,
    pub last_failure: String,
    /// Refusals (FAIL rows) for the full mailbox, the first one included.
    pub failures: u64,
    /// Deferrals (DEFER rows: tried again later).
    pub deferrals: u64,
    /// The code of the first refusal.
    pub code: String,
}

pub struct Quota;

impl Detector for Quota {
    fn key(&self) -> &'static str {
        "mailbox_full"
    }
    fn title(&self) -> &'static str {
        "Mailboxes that hit their quota"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Incident
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!(
            "../../../templates/sections/mailbox_full.html"
        ))
    }
    fn methods(&self, _: &Params) -> String {
        "FAIL and DEFER rows whose recipient status says the mailbox is over its quota: Exchange's exception text (QuotaExceededException, MapiExceptionShutoffQuotaExceeded, under any code including 5.2.0), or a 4.2.2/5.2.2 from the store driver. A 4.2.2/5.2.2 that says \"Submission quota\" is a sender limit and is listed with the receive and send limits; a bare 5.2.2 from elsewhere is neither.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut by: BTreeMap<u32, (i64, i64, u64, u64, u32)> = BTreeMap::new();
        for &r in &m.order {
            let r = r as usize;
            if !matches!(m.ev[r], Ev::Fail | Ev::Defer | Ev::DeliverFail) {
                continue;
            }
            for (k, kind) in m.row_kinds(r).iter().enumerate() {
                if *kind != StatusKind::MailboxFull {
                    continue;
                }
                let Some(&to) = m.recipients(r).get(k) else {
                    continue;
                };
                let code = m.row_codes(r)[k];
                let e = by.entry(to).or_insert((m.time[r], m.time[r], 0, 0, code));
                e.1 = m.time[r];
                if m.ev[r] == Ev::Defer {
                    e.3 += 1;
                } else {
                    e.2 += 1;
                }
            }
        }
        let mut out: Vec<MailboxFull> = by
            .into_iter()
            .map(|(a, (first, last, f, d, c))| MailboxFull {
                mailbox: m.addrs.name(a).to_string(),
                first_failure: rfc3339(first),
                last_failure: rfc3339(last),
                failures: f,
                deferrals: d,
                code: if c == NONE {
                    String::new()
                } else {
                    m.codes.name(c).to_string()
                },
            })
            .collect();
        out.sort_by(|a, b| {
            (b.failures + b.deferrals)
                .cmp(&(a.failures + a.deferrals))
                .then_with(|| a.mailbox.cmp(&b.mailbox))
        });
        let mut d = Detected {
            found: out.len(),
            ..Detected::default()
        };
        for mb in &out {
            // The first refusal is the quota hit itself; say how many came after it.
            let more = mb.failures.saturating_sub(1);
            let after = match (more, mb.deferrals) {
                (0, 0) => "nothing followed".to_string(),
                (0, d) => format!("{} followed", count(d, "deferral", "deferrals")),
                (f, 0) => format!("{} followed", count(f, "more refusal", "more refusals")),
                (f, d) => format!(
                    "{} and {} followed",
                    count(f, "more refusal", "more refusals"),
                    count(d, "deferral", "deferrals")
                ),
            };
            let last = if more + mb.deferrals > 0 {
                format!(", the last at {}", minute(&mb.last_failure))
            } else {
                String::new()
            };
            d.summary.push(Sentence {
                text: format!(
                    "{} hit its quota at {} UTC ({}); {after}{last}.",
                    mb.mailbox,
                    minute(&mb.first_failure),
                    if mb.code.is_empty() {
                        "mailbox full"
                    } else {
                        &mb.code
                    },
                ),
                weight: 2.0 * cx.share(mb.failures + mb.deferrals),
            });
        }
        d.values.push(("mailbox_full", serde_json::to_value(&out)?));
        Ok(d)
    }
}
