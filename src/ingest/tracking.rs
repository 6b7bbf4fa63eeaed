//! Exchange message tracking logs (`MSGTRK*.LOG`), every version from 2007 to 2019. Columns come
//! from each file's own `#Fields` line, so one reader serves all versions and a future column is
//! kept rather than rejected; a file that lost its header is read by its column count.

use std::borrow::Cow;

use polars::prelude::*;

use super::fields::{self, split_line, SplitError};
use super::schema::{EventsBuilder, Mapping, Row, RowSink};
use super::{EntryCtx, LogKind, LogReader, Parsed};
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
        21 => (
            "Exchange 2007 (inferred from 21 columns)",
            false,
            false,
            false,
        ),
        26 => (
            "Exchange 2010 (inferred from 26 columns)",
            true,
            false,
            false,
        ),
        27 => (
            "Exchange 2013 (inferred from 27 columns)",
            true,
            true,
            false,
        ),
        30 => (
            "Exchange 2016/2019 (inferred from 30 columns)",
            true,
            true,
            true,
        ),
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

    fn read(&self, _kind: LogKind, text: &str, ctx: &EntryCtx<'_>) -> Result<Parsed> {
        if ctx.opts.build_frames {
            let mut b = EventsBuilder::new(
                ctx.server.unwrap_or(""),
                "message_tracking",
                ctx.path,
                // One row per line: an exact capacity keeps over-allocated (and, once the
                // allocator recycles memory, resident) tails out of the frame.
                memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1,
            );
            let mut p = read_rows(text, ctx, &mut b);
            if ctx.server.is_none() {
                b.set_default_server(p.server.get_or_insert_with(|| "unknown".into()));
            }
            p.events = Some(b.finish()?);
            Ok(p)
        } else {
            let mut sink = super::schema::CountSink::default();
            Ok(read_rows(text, ctx, &mut sink))
        }
    }
}

/// Iterates the records of a header-and-CSV log: `#` directives, then rows; a value whose quotes
/// span a line end continues on the next line. Yields (first line number, record text).
pub(crate) struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    joined: String,
}

/// Longest record (in lines) a quoted value may span before the line is called malformed.
const MAX_CONTINUATION: usize = 64;

pub(crate) enum Record<'a> {
    Directive(&'a str),
    Data(Cow<'a, str>),
    Unterminated,
}

impl<'a> Records<'a> {
    pub fn new(text: &'a str) -> Self {
        Records {
            text,
            pos: 0,
            line: 0,
            joined: String::new(),
        }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, adv) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += adv;
        self.line += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        Some(if self.line == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        })
    }

    /// Next record with its starting line number; blank lines are skipped.
    pub fn next_record(&mut self) -> Option<(u64, Record<'a>)> {
        loop {
            let line = self.next_line()?;
            let start = self.line;
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                return Some((start, Record::Directive(line)));
            }
            if !fields::open_quote(line) {
                return Some((start, Record::Data(Cow::Borrowed(line))));
            }
            let mut joined = std::mem::take(&mut self.joined);
            joined.clear();
            joined.push_str(line);
            let save = (self.pos, self.line);
            for _ in 0..MAX_CONTINUATION {
                let Some(next) = self.next_line() else { break };
                joined.push('\n');
                joined.push_str(next);
                if !fields::open_quote(&joined) {
                    return Some((start, Record::Data(Cow::Owned(joined))));
                }
            }
            // Never closed: report this line alone and resume after it.
            self.pos = save.0;
            self.line = save.1;
            self.joined = joined;
            return Some((start, Record::Unterminated));
        }
    }
}

fn read_rows<S: RowSink>(text: &str, ctx: &EntryCtx<'_>, sink: &mut S) -> Parsed {
    let mut p = Parsed::default();
    let mut mapping: Option<Mapping> = None;
    let mut records = Records::new(text);
    let mut spare: Vec<Cow<'static, str>> = Vec::with_capacity(32);
    let mut extra = String::new();
    let mut host_hint: Option<String> = None;
    while let Some((line, rec)) = records.next_record() {
        let data = match rec {
            Record::Directive(d) => {
                if let Some(f) = d.strip_prefix("#Fields:") {
                    let m = Mapping::new(f.split(','));
                    if m.time_col.is_none() {
                        p.warnings.push(format!(
                            "{}: line {line}: #Fields has no date-time column",
                            ctx.path
                        ));
                    }
                    let unknown = m.unknown();
                    if !unknown.is_empty() {
                        p.warnings.push(format!(
                            "{}: unknown columns kept in `extra`: {}",
                            ctx.path,
                            unknown.join(", ")
                        ));
                    }
                    mapping = Some(m);
                } else if let Some(v) = d.strip_prefix("#Version:") {
                    p.version = Some(v.trim().to_string());
                }
                continue;
            }
            Record::Unterminated => {
                p.bad_line(ctx.path, line, "a quoted value is never closed");
                continue;
            }
            Record::Data(d) => d,
        };
        let mut vals = fields::recycle(std::mem::take(&mut spare));
        if let Err(e) = split_line(&data, &mut vals) {
            let why = match e {
                SplitError::Unterminated => "a quoted value is never closed",
                SplitError::AfterQuote => "text after a closing quote",
            };
            p.bad_line(ctx.path, line, why);
            continue;
        }
        if mapping.is_none() {
            match fields_for_count(vals.len()) {
                Some((cols, label)) => {
                    p.warnings.push(format!(
                        "{}: no #Fields header; read by its column count as {label}",
                        ctx.path
                    ));
                    p.version.get_or_insert_with(|| label.to_string());
                    mapping = Some(Mapping::new(cols));
                }
                None => {
                    p.bad_line(ctx.path, line, format!("no #Fields header before this row and {} values match no Exchange version", vals.len()));
                    continue;
                }
            }
        }
        let Some(m) = mapping.as_ref() else { continue };
        if vals.len() != m.names.len() {
            p.bad_line(
                ctx.path,
                line,
                format!(
                    "{} values where #Fields names {}",
                    vals.len(),
                    m.names.len()
                ),
            );
            continue;
        }
        let Some(tc) = m.time_col else {
            p.bad_line(ctx.path, line, "no date-time column");
            continue;
        };
        let Some(ms) = fields::parse_iso_ms(&vals[tc]) else {
            p.bad_line(
                ctx.path,
                line,
                format!("unreadable date-time {:?}", truncate(&vals[tc], 40)),
            );
            continue;
        };
        m.extra_into(&vals, &mut extra);
        let mut row = Row::new(ms, line.min(u32::MAX as u64) as u32);
        m.fill(&vals, &mut row);
        if !extra.is_empty() {
            row.extra = Some(&extra);
        }
        if ctx.server.is_none() && host_hint.is_none() {
            host_hint = row
                .get(super::schema::Field::ServerHostname)
                .filter(|h| !h.is_empty())
                .map(str::to_string);
        }
        p.rows += 1;
        p.saw_time(ms);
        sink.push(&row);
        spare = fields::recycle(vals);
    }
    if p.version.is_none() && mapping.is_some() {
        p.version = mapping
            .as_ref()
            .and_then(|m| fields_for_count(m.names.len()))
            .map(|(_, l)| l.to_string());
    }
    p.server = host_hint;
    p
}

pub(crate) fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The events frame with no rows, for bundles that hold only protocol logs.
pub fn empty_events() -> PolarsResult<DataFrame> {
    EventsBuilder::new("", "message_tracking", "", 0).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_columns() {
        let (c, _) = fields_for_count(27).unwrap();
        assert_eq!(c.len(), 27);
        assert_eq!(c[11], "network-message-id");
        assert_eq!(fields_for_count(30).unwrap().0.len(), 30);
        assert_eq!(fields_for_count(26).unwrap().0.len(), 26);
        assert_eq!(fields_for_count(21).unwrap().0.len(), 21);
        assert!(fields_for_count(22).is_none());
    }

    #[test]
    fn records_join_quoted_line_breaks() {
        let text = "#Fields: a,b\r\n1,\"x\r\ny\"\r\n2,\"never\r\n3,z\r\n";
        let mut r = Records::new(text);
        let mut got = Vec::new();
        while let Some((line, rec)) = r.next_record() {
            got.push(match rec {
                Record::Directive(d) => format!("{line}:dir:{d}"),
                Record::Data(d) => format!("{line}:data:{d}"),
                Record::Unterminated => format!("{line}:unterminated"),
            });
        }
        assert_eq!(
            got,
            [
                "1:dir:#Fields: a,b",
                "2:data:1,\"x\ny\"",
                "4:unterminated",
                "5:data:3,z"
            ]
        );
    }
}
