//! CSV exports: PowerShell's `Get-MessageTrackingLog ... | Export-Csv` and Exchange Online
//! message traces (the reporting-service download, and the extended historical search with the
//! tracking columns in snake case). Both are quoted CSVs with a header row, read through the
//! `csv` crate (they are small next to the raw logs, and quoting is everywhere in them); one
//! reader serves both, with a [`Dialect`] for what differs: PowerShell timestamps are the
//! exporting machine's local time and its array columns may have been flattened to the useless
//! `System.String[]`, while online traces are UTC and come from the service.

use std::borrow::Cow;

use super::fields::{detect_local_format, LocalTime};
use super::schema::{header_key, row_host, Field, Mapping, Row};
use super::tracking::truncate;
use super::{EntryCtx, LogKind, LogReader, Parsed, Sink};
use crate::error::{Error, Result};

/// Online traces come from the service, not from a server in the bundle layout.
pub const ONLINE: &str = "Exchange Online";

/// The differences between the export flavours.
pub struct Dialect {
    pub kind: LogKind,
    /// Timestamps are local time of the exporting machine (PowerShell) rather than UTC (online).
    pub local_time: bool,
}

impl Dialect {
    fn of(kind: LogKind) -> Dialect {
        Dialect {
            kind,
            local_time: kind == LogKind::PowershellCsv,
        }
    }
}

pub struct CsvExportReader;

impl LogReader for CsvExportReader {
    fn sniff(&self, _name: &str, head: &str) -> Option<LogKind> {
        let t = head.trim_start_matches('\u{feff}');
        let typed = t.starts_with("#TYPE");
        if typed {
            let first = t.lines().next().unwrap_or("");
            if !first.contains("MessageTrackingEvent") && !first.contains("TransportLogSearch") {
                return None;
            }
        }
        let h: Vec<String> = header(t).iter().map(|s| header_key(s)).collect();
        let has = |c: &str| h.iter().any(|x| x == c);
        if has("timestamp") && has("eventid") {
            return Some(LogKind::PowershellCsv);
        }
        let reporting = has("received") && has("senderaddress") && has("recipientaddress");
        let extended = has("datetimeutc") && has("eventid");
        (!typed && (reporting || extended)).then_some(LogKind::ExoTrace)
    }

    fn read(
        &self,
        kind: LogKind,
        text: &str,
        ctx: &EntryCtx<'_>,
        sink: &mut dyn Sink,
    ) -> Result<Parsed> {
        read_export(text, ctx, &Dialect::of(kind), sink)
    }
}

/// The CSV text after an optional `#TYPE ...` line, and how many lines were skipped.
pub fn body(text: &str) -> (&str, u64) {
    let t = text.trim_start_matches('\u{feff}');
    if t.starts_with("#TYPE") {
        // The `#TYPE` line ends at its first line end: CRLF, LF or a lone CR (old Mac files).
        match t.find(['\n', '\r']) {
            Some(i) if t[i..].starts_with("\r\n") => (&t[i + 2..], 1),
            Some(i) => (&t[i + 1..], 1),
            None => ("", 1),
        }
    } else {
        (t, 0)
    }
}

/// Header names of the first CSV record, unquoted.
pub fn header(text: &str) -> Vec<String> {
    let (b, _) = body(text);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(b.as_bytes());
    match r.records().next() {
        Some(Ok(rec)) => rec.iter().map(|s| s.trim().to_string()).collect(),
        _ => Vec::new(),
    }
}

const LOST: &str = "System.String[]";

/// Physical line numbers of CSV records, from their byte offsets. The `csv` crate's own line
/// count is one short after a CRLF (it ends a record at the `\r` and starts the next at the
/// `\n`), and PowerShell writes CRLF; it also ends records at a lone `\r` without counting a
/// line. Counting line ends ourselves (`\r\n`, `\n`, or a lone `\r`) gives the line a user sees.
pub struct LineOf<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineOf<'a> {
    pub fn new(text: &'a str) -> Self {
        LineOf {
            text: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record starting at `byte` (offsets must not go backwards).
    pub fn line(&mut self, byte: u64) -> u64 {
        let mut b = (byte as usize).min(self.text.len());
        if self.text.get(b) == Some(&b'\n') {
            b += 1;
        }
        if b >= self.at {
            let t = self.text;
            self.line += memchr::memchr2_iter(b'\n', b'\r', &t[self.at..b])
                .filter(|&i| {
                    let i = self.at + i;
                    // A CR followed by LF is one line end, counted at the LF.
                    t[i] == b'\n' || t.get(i + 1) != Some(&b'\n')
                })
                .count() as u64;
            self.at = b;
        }
        self.line
    }
}

pub fn read_export(
    text: &str,
    ctx: &EntryCtx<'_>,
    d: &Dialect,
    sink: &mut dyn Sink,
) -> Result<Parsed> {
    let (b, skipped_lines) = body(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(b.as_bytes());
    let mut records = reader.records();
    let mut p = Parsed::default();
    let Some(Ok(head)) = records.next() else {
        p.warnings.push(format!("{}: no header row", ctx.path));
        return Ok(p);
    };
    let m = Mapping::new(head.iter());
    let unknown = m.unknown();
    if !unknown.is_empty() {
        p.warnings.push(format!(
            "{}: columns kept in `extra`: {}",
            ctx.path,
            unknown.join(", ")
        ));
    }
    let Some(tc) = m.time_col else {
        return Err(Error::NoTimeColumn {
            entry: ctx.path.to_string(),
        });
    };
    let mut lines = LineOf::new(b);
    let rows: Vec<(u64, csv::StringRecord)> = records
        .filter_map(|r| match r {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| lines.line(p.byte())) + skipped_lines;
                Some((line, rec))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line(p.byte())) + skipped_lines;
                p.bad_line(ctx.path, line, 1, format!("unreadable CSV record: {e}"));
                None
            }
        })
        .collect();
    let clock = clock_for(&rows, tc, ctx, d, &mut p)?;
    let mut lost = [0u64; 3];
    let mut extra = String::new();
    for (line, rec) in &rows {
        let vals: Vec<Cow<'_, str>> = rec.iter().map(Cow::Borrowed).collect();
        if vals.len() != m.names.len() {
            p.bad_line(
                ctx.path,
                *line,
                1,
                format!(
                    "{} values where the header names {}",
                    vals.len(),
                    m.names.len()
                ),
            );
            continue;
        }
        let Some(ms) = clock.parse_ms(&vals[tc]) else {
            p.bad_line(
                ctx.path,
                *line,
                1,
                format!(
                    "unreadable timestamp {:?} (format {})",
                    truncate(&vals[tc], 40),
                    clock.format
                ),
            );
            continue;
        };
        m.extra_into(&vals, &mut extra);
        let mut row = Row::new(ms, (*line).min(u32::MAX as u64) as u32);
        m.fill(&vals, &mut row);
        if !extra.is_empty() {
            row.extra = Some(&extra);
        }
        // PowerShell flattens arrays to their type name: the data is gone, and must not pass
        // for an address.
        if row.recipients == Some(LOST) {
            row.recipients = None;
            lost[0] += 1;
        }
        if row.recipient_status == Some(LOST) {
            row.recipient_status = None;
            lost[1] += 1;
        }
        if row.get(Field::Reference) == Some(LOST) {
            row.text[Field::Reference as usize] = None;
            lost[2] += 1;
        }
        // PSComputerName names the server that answered the export; without it, the folder the
        // file was found in, else the row's own host. Online traces come from the service.
        let ps = m
            .server_col
            .and_then(|c| vals.get(c))
            .map(|v| v.as_ref())
            .filter(|v| !v.is_empty());
        row.server = match d.kind {
            LogKind::ExoTrace => ONLINE,
            _ => ps
                .or(ctx.server)
                .or_else(|| row_host(&row))
                .unwrap_or("unknown"),
        };
        p.rows += 1;
        p.lines.rows += 1;
        p.saw(ms, *line, row.server);
        sink.event(&row);
    }
    for (n, col) in lost
        .iter()
        .zip(["Recipients", "RecipientStatus", "Reference"])
    {
        if *n > 0 {
            p.warnings.push(format!(
                "{}: {} {col} exported as `System.String[]`: that data was lost in the export \
                 (re-export with @{{n='{col}';e={{$_.{col} -join ';'}}}})",
                ctx.path,
                if *n == 1 {
                    "1 row has".to_string()
                } else {
                    format!("{n} rows have")
                }
            ));
        }
    }
    let flavour = match (d.kind, m.has(Field::EventId)) {
        (LogKind::PowershellCsv, _) => "Export-Csv",
        (_, true) => "historical search, extended",
        _ => "message trace",
    };
    p.version = Some(format!("{flavour}; times {}", clock.format));
    Ok(p)
}

/// Decides how to read this file's timestamps: the user's `--csv-time-format`/`--tz`, else the
/// format that reads every sampled value, in UTC for online traces and for PowerShell unless
/// told otherwise (and then said so).
fn clock_for(
    rows: &[(u64, csv::StringRecord)],
    tc: usize,
    ctx: &EntryCtx<'_>,
    d: &Dialect,
    p: &mut Parsed,
) -> Result<LocalTime> {
    let utc = chrono::Offset::fix(&chrono::Utc);
    let offset = if d.local_time {
        ctx.opts.tz.unwrap_or(utc)
    } else {
        utc
    };
    if d.local_time && ctx.opts.tz.is_none() {
        p.warnings.push(format!(
            "{}: PowerShell timestamps are the exporting machine's local time; read as UTC (pass --tz +HH:MM to correct)",
            ctx.path
        ));
    }
    if let Some(f) = &ctx.opts.csv_time_format {
        return Ok(LocalTime {
            format: f.clone(),
            offset,
        });
    }
    let samples: Vec<&str> = rows
        .iter()
        .filter_map(|(_, r)| r.get(tc))
        .filter(|s| !s.trim().is_empty() && super::fields::parse_iso_ms(s.trim()).is_none())
        .take(500)
        .collect();
    if samples.is_empty() {
        return Ok(LocalTime {
            format: "ISO 8601".into(),
            offset,
        });
    }
    match detect_local_format(&samples) {
        Some((f, ambiguous)) => {
            if ambiguous {
                p.warnings.push(format!(
                    "{}: timestamps such as {:?} read as month/day; pass --csv-time-format '%d/%m/%Y %H:%M:%S' if they are day/month",
                    ctx.path, samples[0]
                ));
            }
            Ok(LocalTime {
                format: f.to_string(),
                offset,
            })
        }
        None => Err(Error::BadOption {
            option: "--csv-time-format",
            detail: format!(
                "{}: cannot tell the timestamp format of values such as {:?}; pass it, e.g. --csv-time-format '%d/%m/%Y %H:%M:%S'",
                ctx.path, samples[0]
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_numbered_by_physical_line_after_crlf() {
        let text = "a,b\r\n1,2\r\n\"x\r\ny\",3\r\n4,5\r\n";
        let mut lines = LineOf::new(text);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let got: Vec<u64> = r
            .records()
            .map(|rec| lines.line(rec.expect("record").position().expect("pos").byte()))
            .collect();
        assert_eq!(got, [1, 2, 3, 5]);
    }
}
