//! Exchange message tracking logs (`MSGTRK*.LOG`), every version from 2007 to 2019. Columns come
//! from each file's own `#Fields` line, so one reader serves all versions and a future column is
//! kept rather than rejected; a file that lost its header is read by its column count, and its
//! version is taken from the build its rows carry.

use std::borrow::Cow;

use polars::prelude::*;

use super::fields::{self, split_line, TimeError};
use super::schema::{hop_sides, row_host, short_host, Field, Mapping, Reads, Row};
use super::w3c::{self, Dialect};
use super::{EntryCtx, LogKind, LogReader, Parsed, Sink};
use crate::error::Result;

pub struct TrackingReader;

const V2007: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info";
const V2010_TAIL: &str =
    "directionality,tenant-id,original-client-ip,original-server-ip,custom-data";
const V2016_TAIL: &str = "transport-traffic-type,log-id,schema-version";

/// The column list Exchange writes for a given field count, for files whose header is missing.
pub fn fields_for_count(n: usize) -> Option<(Vec<&'static str>, &'static str)> {
    let mut cols: Vec<&'static str> = V2007.split(',').collect();
    let (label, extra2010, nmid, tail2016) = match n {
        21 => ("Exchange 2007 columns (21)", false, false, false),
        26 => ("Exchange 2010 columns (26)", true, false, false),
        27 => ("Exchange 2013 columns (27)", true, true, false),
        30 => ("Exchange 2016/2019 columns (30)", true, true, true),
        _ => return None,
    };
    if extra2010 {
        cols.extend(V2010_TAIL.split(','));
    }
    if nmid {
        let at = cols
            .iter()
            .position(|c| *c == "message-id")
            .map_or(cols.len(), |p| p + 1);
        cols.insert(at, "network-message-id");
    }
    if tail2016 {
        cols.extend(V2016_TAIL.split(','));
    }
    Some((cols, label))
}

fn first_data_line(head: &str) -> Option<&str> {
    head.lines()
        .map(|l| l.trim_start_matches('\u{feff}'))
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
}

impl LogReader for TrackingReader {
    fn sniff(&self, _name: &str, head: &str) -> Option<LogKind> {
        for l in head.lines().take(8) {
            let l = l.trim_start_matches('\u{feff}');
            if let Some(t) = l.strip_prefix("#Log-type:") {
                return t
                    .trim()
                    .eq_ignore_ascii_case("Message Tracking Log")
                    .then_some(LogKind::MessageTracking);
            }
            if let Some(f) = l.strip_prefix("#Fields:") {
                return (f.contains("event-id") && f.contains("message-id"))
                    .then_some(LogKind::MessageTracking);
            }
        }
        // No header at all: a line of 21/26/27/30 values starting with an ISO time.
        let line = first_data_line(head)?;
        let mut vals = Vec::new();
        split_line(line, &mut vals).ok()?;
        (fields_for_count(vals.len()).is_some() && fields::parse_iso_ms(&vals[0]).is_some())
            .then_some(LogKind::MessageTracking)
    }

    fn read(
        &self,
        _kind: LogKind,
        text: &str,
        ctx: &EntryCtx<'_>,
        sink: &mut dyn Sink,
    ) -> Result<Parsed> {
        let mut dialect = Tracking {
            extra: String::new(),
            reads: ctx.reads.union(INVENTORY_READS),
        };
        Ok(w3c::read(text, ctx, &mut dialect, sink))
    }
}

struct Tracking {
    extra: String,
    /// What the sink reads and the inventory needs, placed in every row.
    reads: Reads,
}

/// The server a row names as the one that logged it, only where the row says so for certain
/// (the logging side of its hop, [`hop_sides`]): unlike [`row_host`], never the other side
/// where this one is empty.
fn own_host<'a>(m: &Mapping, vals: &'a [Cow<'a, str>]) -> Option<&'a str> {
    let get = |f| m.text_of(vals, f);
    let (own, _) = hop_sides(get);
    get(own).map(short_host).filter(|h| !h.is_empty())
}

impl Dialect for Tracking {
    fn unknown<'m>(&self, m: &'m Mapping) -> Vec<&'m str> {
        m.unknown()
    }

    fn headerless(&self, values: usize) -> Option<(Vec<&'static str>, String)> {
        fields_for_count(values).map(|(cols, label)| (cols, label.to_string()))
    }

    fn row(
        &mut self,
        line: u64,
        vals: &[Cow<'_, str>],
        m: &Mapping,
        ctx: &EntryCtx<'_>,
        p: &mut Parsed,
        sink: &mut dyn Sink,
    ) -> Result<(), String> {
        let Some(tc) = m.time_col else {
            return Err("no date-time column".into());
        };
        let stamp = match fields::parse_iso(&vals[tc]) {
            Ok(t) => t,
            Err(TimeError::Impossible) => {
                return Err(format!(
                    "impossible date-time {:?}",
                    truncate(&vals[tc], 40)
                ))
            }
            Err(TimeError::Unreadable) => {
                return Err(format!(
                    "unreadable date-time {:?}",
                    truncate(&vals[tc], 40)
                ))
            }
        };
        let mut row = Row::new(stamp.ms, line.min(u32::MAX as u64) as u32);
        m.fill_reads(vals, &mut row, self.reads);
        if self.reads.extra {
            m.extra_into(vals, &mut self.extra);
            if !self.extra.is_empty() {
                row.extra = Some(&self.extra);
            }
        }
        row.server = ctx.server.or_else(|| row_host(&row)).unwrap_or("unknown");
        // The host the rows say wrote them, once per file: a folder named otherwise is read as
        // that server's (`ingest::name_servers`).
        if ctx.server.is_some() && p.host.is_none() {
            p.host = own_host(m, vals).map(str::to_string);
        }
        if stamp.leap {
            p.leap_seconds += 1;
        }
        if p.version.is_none() {
            if let Some(b) = row.get(Field::SchemaVersion) {
                match p.builds.get_mut(b) {
                    Some(n) => *n += 1,
                    None => {
                        p.builds.insert(b.to_string(), 1);
                    }
                }
            }
        }
        p.saw(stamp.ms, line, row.server);
        sink.event(&row);
        Ok(())
    }
}

/// What the inventory reads of every row, whatever the sink reads: the fields [`row_host`]
/// decides the server by, and the schema version.
const INVENTORY_READS: Reads = Reads::fields(&[
    Field::EventId,
    Field::Source,
    Field::ClientHostname,
    Field::ServerHostname,
    Field::SchemaVersion,
]);

pub(crate) fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The events frame with no rows, for bundles that hold only protocol logs.
pub fn empty_events() -> PolarsResult<DataFrame> {
    super::builders::EventsBuilder::new(LogKind::MessageTracking, "", 0).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_columns() {
        let (c, _) = fields_for_count(27).expect("27");
        assert_eq!(c.len(), 27);
        assert_eq!(c[11], "network-message-id");
        assert_eq!(fields_for_count(30).map(|c| c.0.len()), Some(30));
        assert_eq!(fields_for_count(26).map(|c| c.0.len()), Some(26));
        assert_eq!(fields_for_count(21).map(|c| c.0.len()), Some(21));
        assert!(fields_for_count(22).is_none());
    }
}
