//! What the two CSV-export readers share: PowerShell's `Export-Csv` of `Get-MessageTrackingLog`
//! and Exchange Online trace downloads are both quoted CSVs with a header row, read through the
//! `csv` crate (they are small next to the raw logs, and quoting is everywhere in them).

use std::borrow::Cow;

use super::fields::{detect_local_format, LocalTime};
use super::schema::{EventsBuilder, Field, Mapping, Row, RowSink};
use super::tracking::truncate;
use super::{EntryCtx, LogKind, Parsed};
use crate::error::{Error, Result};

/// The differences between the export flavours.
pub struct Dialect {
    pub kind: LogKind,
    /// Timestamps are local time of the exporting machine (PowerShell) rather than UTC (online).
    pub local_time: bool,
}

/// The CSV text after an optional `#TYPE ...` line, and how many lines were skipped.
pub fn body(text: &str) -> (&str, u64) {
    let t = text.trim_start_matches('\u{feff}');
    if t.starts_with("#TYPE") {
        match t.find('\n') {
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

pub fn read_export(text: &str, ctx: &EntryCtx<'_>, d: &Dialect) -> Result<Parsed> {
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
        return Err(Error::Other(format!(
            "{}: the CSV has no Timestamp/Received/date_time column",
            ctx.path
        )));
    };
    let rows: Vec<(u64, csv::StringRecord)> = records
        .filter_map(|r| match r {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line()) + skipped_lines;
                Some((line, rec))
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line()) + skipped_lines;
                p.bad_line(ctx.path, line, format!("unreadable CSV record: {e}"));
                None
            }
        })
        .collect();
    let clock = clock_for(&rows, tc, ctx, d, &mut p)?;
    let mut sink = ctx.opts.build_frames.then(|| {
        EventsBuilder::new(
            &default_server(ctx, d),
            d.kind.as_str(),
            ctx.path,
            rows.len(),
        )
    });
    let mut count = super::schema::CountSink::default();
    let mut lost = [0u64; 3];
    let mut extra = String::new();
    let mut host_hint: Option<String> = None;
    for (line, rec) in &rows {
        let vals: Vec<Cow<'_, str>> = rec.iter().map(Cow::Borrowed).collect();
        if vals.len() != m.names.len() {
            p.bad_line(
                ctx.path,
                *line,
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
        if row.server.is_none() && d.kind == LogKind::PowershellCsv {
            row.server = row.get(Field::ServerHostname).filter(|s| !s.is_empty());
        }
        if let Some(s) = row.server {
            if host_hint.is_none() {
                host_hint = Some(s.to_string());
            }
            if d.kind == LogKind::PowershellCsv && !p.row_servers.contains(s) {
                p.row_servers.insert(s.to_string());
            }
        }
        p.rows += 1;
        p.saw_time(ms);
        match sink.as_mut() {
            Some(s) => s.push(&row),
            None => count.push(&row),
        }
    }
    for (n, col) in lost
        .iter()
        .zip(["Recipients", "RecipientStatus", "Reference"])
    {
        if *n > 0 {
            p.warnings.push(format!(
                "{}: {n} rows have {col} exported as `System.String[]`: that data was lost in the export \
                 (re-export with @{{n='{col}';e={{$_.{col} -join ';'}}}})",
                ctx.path
            ));
        }
    }
    p.server = match d.kind {
        LogKind::ExoTrace => Some(ONLINE.to_string()),
        _ => host_hint,
    };
    let flavour = match (
        d.kind,
        m.slots.contains(&super::schema::Slot::Text(Field::EventId)),
    ) {
        (LogKind::PowershellCsv, _) => "Export-Csv",
        (_, true) => "historical search, extended",
        _ => "message trace",
    };
    p.version = Some(format!("{flavour}; times {}", clock.format));
    if let Some(s) = sink {
        p.events = Some(s.finish()?);
    }
    Ok(p)
}

/// Online traces come from the service, not from a server in the bundle layout.
pub const ONLINE: &str = "Exchange Online";

fn default_server(ctx: &EntryCtx<'_>, d: &Dialect) -> String {
    match d.kind {
        LogKind::ExoTrace => ONLINE.to_string(),
        _ => ctx.server.unwrap_or("unknown").to_string(),
    }
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
    let utc = chrono::FixedOffset::east_opt(0).ok_or_else(|| Error::Other("offset".into()))?;
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
