//! Evidence rows: the raw log lines a finding rests on, with where to find them (entry path and
//! line) so an engineer can open the file and see the same bytes.

use polars::prelude::*;
use serde::Serialize;

use crate::ingest::fields::rfc3339;

#[derive(Debug, Clone, Serialize, PartialEq)]
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
}

/// Looks rows up in the events frame (only for the handful of rows that become evidence).
pub trait EvidenceSource {
    fn evidence(&self, row: usize, why: &str) -> Evidence;
}

pub struct FrameEvidence<'a> {
    pub df: &'a DataFrame,
}

impl FrameEvidence<'_> {
    fn s(&self, col: &str, row: usize) -> String {
        self.df
            .column(col)
            .ok()
            .and_then(|c| c.get(row).ok())
            .map(|v| match v {
                AnyValue::Null => String::new(),
                AnyValue::String(s) => s.to_string(),
                AnyValue::StringOwned(s) => s.to_string(),
                AnyValue::List(s) => s
                    .str()
                    .map(|ca| {
                        ca.iter()
                            .map(|x| x.unwrap_or(""))
                            .collect::<Vec<_>>()
                            .join(";")
                    })
                    .unwrap_or_default(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    }
}

impl EvidenceSource for FrameEvidence<'_> {
    fn evidence(&self, row: usize, why: &str) -> Evidence {
        let time = self
            .df
            .column("time")
            .ok()
            .and_then(|c| c.datetime().ok().and_then(|d| d.physical().get(row)))
            .map(rfc3339)
            .unwrap_or_default();
        let line = self
            .df
            .column("line")
            .ok()
            .and_then(|c| c.u32().ok().and_then(|l| l.get(row)))
            .unwrap_or(0) as u64;
        Evidence {
            path: self.s("entry", row),
            line,
            why: why.to_string(),
            time,
            server: self.s("server", row),
            event_id: self.s("event_id", row),
            source: self.s("source", row),
            message_id: self.s("message_id", row),
            sender: self.s("sender", row),
            recipients: self.s("recipients", row),
            status: self.s("recipient_status", row),
            subject: self.s("subject", row),
        }
    }
}
