//! How many messages the bundle holds, by class and by generation, and how much of it was the
//! servers talking to themselves (health probes) or shadow copies.

use serde::{Deserialize, Serialize};

use crate::analyze::model::{Class, NONE};
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct MessageCounts {
    pub total: u64,
    pub original: u64,
    pub notification: u64,
    pub auto_reply: u64,
    /// Messages per generation: index 0 originals, 1 notifications about them, 2+ loops.
    pub by_generation: Vec<u64>,
    /// Rows without a message id (cannot be followed across servers).
    pub rows_without_id: u64,
    /// Health probes and monitoring mailboxes (left out of storms, SLIs and tables unless
    /// `--include-probes`).
    pub probes: u64,
    pub probe_rows: u64,
    /// Ids seen only on shadow-redundancy rows (copies, not messages of their own).
    pub shadow_only: u64,
}

pub struct Messages;

impl Detector for Messages {
    fn key(&self) -> &'static str {
        "messages"
    }
    fn title(&self) -> &'static str {
        "Messages"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Traffic
    }
    fn template(&self) -> Option<&'static str> {
        None
    }
    fn methods(&self, _: &Params) -> String {
        "Tracking rows grouped by Message-ID (network message id where it is missing) across all servers. A message from the Exchange system mailbox, postmaster or mailer-daemon, with an \"Undeliverable:\" subject (in any of the usual languages) or a DSN row is a notification; otherwise one written by an inbox rule, with an automatic-reply marker leading its subject, or with return path <> is an automatic reply. Messages from or to HealthMailbox, extest_ and proxy-probe mailboxes are health probes.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut c = MessageCounts::default();
        for (i, msg) in m.msgs.iter().enumerate() {
            if msg.rows == 0 {
                continue;
            }
            if msg.shadow_only {
                c.shadow_only += 1;
                continue;
            }
            if msg.is_probe() {
                c.probes += 1;
                c.probe_rows += msg.rows as u64;
            }
            if !cx.counts(i) {
                continue;
            }
            c.total += 1;
            match msg.class {
                Class::Original => c.original += 1,
                Class::Notification => c.notification += 1,
                Class::AutoReply => c.auto_reply += 1,
            }
            let g = msg.generation as usize;
            if c.by_generation.len() <= g {
                c.by_generation.resize(g + 1, 0);
            }
            c.by_generation[g] += 1;
        }
        c.rows_without_id = m.msg.iter().filter(|&&x| x == NONE).count() as u64;
        Detected::value("messages", c)
    }
}
