//! PowerShell exports: `Get-MessageTrackingLog ... | Export-Csv`. PascalCase headers, an optional
//! `#TYPE` line, local-format timestamps, and array columns that may have been flattened to the
//! useless `System.String[]`.

use super::export::{body, header, read_export, Dialect};
use super::schema::header_key;
use super::{EntryCtx, LogKind, LogReader, Parsed};
use crate::error::Result;

pub struct PowershellReader;

impl LogReader for PowershellReader {
    fn sniff(&self, _name: &str, head: &str) -> Option<LogKind> {
        let t = head.trim_start_matches('\u{feff}');
        if t.starts_with("#TYPE") {
            let first = t.lines().next().unwrap_or("");
            if !first.contains("MessageTrackingEvent") && !first.contains("TransportLogSearch") {
                return None;
            }
        }
        let (b, _) = body(t);
        let h: Vec<String> = header(b).iter().map(|s| header_key(s)).collect();
        (h.iter().any(|c| c == "timestamp") && h.iter().any(|c| c == "eventid"))
            .then_some(LogKind::PowershellCsv)
    }

    fn read(&self, kind: LogKind, text: &str, ctx: &EntryCtx<'_>) -> Result<Parsed> {
        read_export(
            text,
            ctx,
            &Dialect {
                kind,
                local_time: true,
            },
        )
    }
}
