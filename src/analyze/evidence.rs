//! Evidence rows: the log lines a finding rests on, with where to find them (entry path and
//! line) so an engineer can open the file and see the same bytes. Detectors pick rows; an
//! [`EvidenceSource`] turns a row into what the report shows. The model keeps only what the
//! analysis reads, so the full text of a line (its status text, for one) is read back from the
//! bundle ([`FromBundle`], through [`crate::ingest::evidence`]) for the few rows that become
//! evidence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use super::model::{Model, NONE};
use crate::bundle::Bundle;
use crate::human::rfc3339;
use crate::ingest::evidence::EntryText;
use crate::ingest::Input;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    pub path: String,
    pub line: u64,
    /// Why this row was chosen.
    pub why: String,
    pub time: String,
    pub server: String,
    pub event_id: String,
    pub source: String,
    pub message_id: String,
    pub sender: String,
    pub recipients: String,
    pub status: String,
    pub subject: String,
    /// The row's source-context where it was read back (client type, session, agent, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
}

/// Turns a model row into an evidence record.
pub trait EvidenceSource: Sync {
    fn evidence(&self, m: &Model, row: usize, why: &str) -> Evidence;
}

/// What the model alone knows of a row (status as codes only). Used when the bundle cannot be
/// read again, and as the base the bundle reader fills in.
pub struct FromModel;

impl EvidenceSource for FromModel {
    fn evidence(&self, m: &Model, row: usize, why: &str) -> Evidence {
        from_model(m, row, why)
    }
}

/// Evidence read back from the input: from a bundle of logs, each entry that holds evidence is
/// read and decoded once (in parallel across entries, as detectors ask), and the row's line is
/// parsed again, so the report shows the status text, subject and ids as the server wrote them;
/// from Parquet exports, the row is looked up in the rows kept. Falls back to what the model
/// knows if the entry cannot be read again.
pub struct FromBundle<'a> {
    input: &'a Input,
    cache: Mutex<HashMap<u32, Arc<OnceLock<Option<EntryText>>>>>,
}

impl<'a> FromBundle<'a> {
    pub fn new(input: &'a Input) -> Self {
        FromBundle {
            input,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn entry(
        &self,
        bundle: &Bundle,
        m: &Model,
        e: u32,
    ) -> Option<Arc<OnceLock<Option<EntryText>>>> {
        let slot = {
            let mut cache = self.cache.lock().ok()?;
            cache.entry(e).or_default().clone()
        };
        slot.get_or_init(|| {
            let r = m.entries.get(e as usize)?;
            let (bytes, sha256) = bundle.read_one(r.top, &r.path).ok()??;
            // Changed since it was read: its lines are no longer the rows analysed.
            if sha256 != r.sha256 {
                return None;
            }
            EntryText::new(&r.path, &bytes, r.kind)
        });
        Some(slot)
    }
}

impl EvidenceSource for FromBundle<'_> {
    fn evidence(&self, m: &Model, row: usize, why: &str) -> Evidence {
        let mut ev = from_model(m, row, why);
        let record = match self.input {
            Input::Bundle(b) => self.entry(b, m, m.entry[row]).and_then(|slot| {
                slot.get()
                    .and_then(|t| t.as_ref()?.record(m.line[row] as u64))
            }),
            Input::Parquet(rows) => rows.record(m.entry[row], m.line[row]),
        };
        if let Some(r) = record {
            ev.event_id = r.event_id;
            ev.source = r.source;
            ev.message_id = r.message_id;
            ev.sender = r.sender;
            ev.recipients = r.recipients;
            ev.status = r.status;
            ev.subject = r.subject;
            ev.context = r.source_context;
        }
        ev
    }
}

pub fn from_model(m: &Model, r: usize, why: &str) -> Evidence {
    let name = |i: &super::model::Interner, id: u32| {
        if id == NONE {
            String::new()
        } else {
            i.name(id).to_string()
        }
    };
    let recipients = m
        .recipients(r)
        .iter()
        .map(|&a| m.addrs.name(a))
        .collect::<Vec<_>>()
        .join(";");
    let status = m
        .row_codes(r)
        .iter()
        .zip(m.row_kinds(r))
        .map(|(&c, k)| {
            if c == NONE {
                String::new()
            } else if *k == super::model::classify::StatusKind::Plain {
                m.codes.name(c).to_string()
            } else {
                format!("{} ({})", m.codes.name(c), k.as_str().replace('_', " "))
            }
        })
        .collect::<Vec<_>>()
        .join(";");
    let entry = m.entries.get(m.entry[r] as usize);
    Evidence {
        path: entry.map(|e| e.path.clone()).unwrap_or_default(),
        line: m.line[r] as u64,
        why: why.to_string(),
        time: rfc3339(m.time[r]),
        server: name(&m.servers, m.server[r]),
        event_id: name(&m.ev_names, m.ev_name[r]),
        source: format!("{:?}", m.src[r]).to_ascii_uppercase(),
        message_id: name(&m.msg_ids, m.msg[r]),
        sender: name(&m.addrs, m.sender[r]),
        recipients,
        status,
        subject: name(&m.subjects, m.subject[r]),
        context: String::new(),
    }
}
