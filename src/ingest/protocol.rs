//! SMTP Receive and Send protocol logs (`RECV*.LOG`, `SEND*.LOG`): the conversation behind each
//! tracking row. Lines become the protocol frame; lines sharing a `session-id` become the
//! sessions frame, which carries the message ids the server queued (`250 2.6.0 <id> ...`), the
//! link back to message tracking.

use std::borrow::Cow;

use polars::prelude::*;

use super::fields::{self, split_line};
use super::schema::{DedupStrings, Mapping};
use super::tracking::{truncate, Record, Records};
use super::{EntryCtx, LogKind, LogReader, Parsed};
use crate::error::Result;

pub struct ProtocolReader;

const FIELDS: [&str; 9] = [
    "date-time",
    "connector-id",
    "session-id",
    "sequence-number",
    "local-endpoint",
    "remote-endpoint",
    "event",
    "data",
    "context",
];

fn kind_from_name(name: &str) -> LogKind {
    if name.to_ascii_uppercase().starts_with("SEND") {
        LogKind::SmtpSend
    } else {
        LogKind::SmtpReceive
    }
}

impl LogReader for ProtocolReader {
    fn sniff(&self, name: &str, head: &str) -> Option<LogKind> {
        for l in head.lines().take(8) {
            let l = l.trim_start_matches('\u{feff}');
            if let Some(t) = l.strip_prefix("#Log-type:") {
                let t = t.trim().to_ascii_lowercase();
                return match t.as_str() {
                    "smtp receive protocol log" => Some(LogKind::SmtpReceive),
                    "smtp send protocol log" => Some(LogKind::SmtpSend),
                    _ => None,
                };
            }
            if let Some(f) = l.strip_prefix("#Fields:") {
                return (f.contains("session-id") && f.contains("sequence-number"))
                    .then(|| kind_from_name(name));
            }
        }
        let line = head
            .lines()
            .map(|l| l.trim_start_matches('\u{feff}'))
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))?;
        let mut vals = Vec::new();
        split_line(line, &mut vals).ok()?;
        (vals.len() == 9
            && fields::parse_iso_ms(&vals[0]).is_some()
            && vals[2].len() == 16
            && vals[2].bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| kind_from_name(name))
    }

    fn read(&self, kind: LogKind, text: &str, ctx: &EntryCtx<'_>) -> Result<Parsed> {
        let mut p = Parsed::default();
        let build = ctx.opts.build_frames;
        let mut b = ProtocolBuilder::new(if build {
            memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1
        } else {
            0
        });
        let mut mapping: Option<Mapping> = None;
        let mut idx = [usize::MAX; 9];
        let mut records = Records::new(text);
        let mut spare: Vec<Cow<'static, str>> = Vec::with_capacity(12);
        let mut extra = String::new();
        let mut connector_server: Option<String> = None;
        while let Some((line, rec)) = records.next_record() {
            let data = match rec {
                Record::Directive(d) => {
                    if let Some(f) = d.strip_prefix("#Fields:") {
                        let m = Mapping::new(f.split(','));
                        idx = column_index(&m.names);
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
            if split_line(&data, &mut vals).is_err() {
                p.bad_line(ctx.path, line, "malformed quoting");
                continue;
            }
            if mapping.is_none() {
                if vals.len() != FIELDS.len() {
                    p.bad_line(
                        ctx.path,
                        line,
                        format!(
                            "no #Fields header and {} values (a protocol log has 9)",
                            vals.len()
                        ),
                    );
                    continue;
                }
                p.warnings.push(format!(
                    "{}: no #Fields header; read by its 9 columns",
                    ctx.path
                ));
                let m = Mapping::new(FIELDS);
                idx = column_index(&m.names);
                mapping = Some(m);
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
            let get = |k: usize| -> &str { vals.get(idx[k]).map_or("", |v| v.as_ref()) };
            let Some(ms) = fields::parse_iso_ms(get(0)) else {
                p.bad_line(
                    ctx.path,
                    line,
                    format!("unreadable date-time {:?}", truncate(get(0), 40)),
                );
                continue;
            };
            p.rows += 1;
            p.saw_time(ms);
            if connector_server.is_none() {
                connector_server = get(1)
                    .split_once('\\')
                    .map(|(s, _)| s.to_string())
                    .filter(|s| !s.is_empty());
            }
            if build {
                extra.clear();
                for (i, (name, v)) in m.names.iter().zip(&vals).enumerate() {
                    if !idx.contains(&i) && !v.is_empty() {
                        if !extra.is_empty() {
                            extra.push('\t');
                        }
                        extra.push_str(name);
                        extra.push('=');
                        extra.push_str(v);
                    }
                }
                b.push(
                    ms,
                    line,
                    [get(1), get(2), get(4), get(5), get(6), get(7), get(8)],
                    get(3),
                    &extra,
                );
            }
            spare = fields::recycle(vals);
        }
        if p.version.is_none() {
            p.version = Some("unknown (no #Version)".into());
        }
        p.server = connector_server;
        if build {
            let server = ctx
                .server
                .map(str::to_string)
                .or_else(|| p.server.clone())
                .unwrap_or_else(|| "unknown".into());
            let frame = b.finish(&server, kind.as_str(), ctx.path)?;
            p.sessions = Some(sessions(&frame)?);
            p.protocol = Some(frame);
        }
        Ok(p)
    }
}

fn column_index(names: &[String]) -> [usize; 9] {
    let mut idx = [usize::MAX; 9];
    for (k, f) in FIELDS.iter().enumerate() {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(f)) {
            idx[k] = i;
        }
    }
    idx
}

/// One chunk of the protocol frame. Text goes through [`DedupStrings`]: session ids, endpoints
/// and connector names repeat on every line of a session.
struct ProtocolBuilder {
    time: Vec<i64>,
    line: Vec<u32>,
    seq: Vec<Option<u32>>,
    /// connector, session, local, remote, event, data, context
    text: [DedupStrings; 7],
    extra: DedupStrings,
}

const TEXT_COLUMNS: [&str; 7] = [
    "connector_id",
    "session_id",
    "local_endpoint",
    "remote_endpoint",
    "event",
    "data",
    "context",
];

impl ProtocolBuilder {
    fn new(capacity: usize) -> Self {
        ProtocolBuilder {
            time: Vec::with_capacity(capacity),
            line: Vec::with_capacity(capacity),
            seq: Vec::with_capacity(capacity),
            text: TEXT_COLUMNS.map(|name| DedupStrings::new(name, capacity, true)),
            extra: DedupStrings::new("extra", capacity, true),
        }
    }

    fn push(&mut self, ms: i64, line: u64, text: [&str; 7], seq: &str, extra: &str) {
        self.time.push(ms);
        self.line.push(line.min(u32::MAX as u64) as u32);
        self.seq.push(seq.trim().parse().ok());
        for (col, v) in self.text.iter_mut().zip(text) {
            col.push(v);
        }
        if extra.is_empty() {
            self.extra.push_null();
        } else {
            self.extra.push(extra);
        }
    }

    fn finish(self, server: &str, kind: &str, entry: &str) -> PolarsResult<DataFrame> {
        let n = self.time.len();
        let [connector, session, local, remote, event, data, context] = self.text;
        let lit = |name: &str, v: &str| super::schema::constant(name, v, n);
        DataFrame::new(
            n,
            vec![
                Int64Chunked::from_vec("time".into(), self.time)
                    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                    .into_column(),
                lit("server", server),
                lit("log_kind", kind),
                connector.finish(),
                session.finish(),
                UInt32Chunked::from_iter_options("sequence_number".into(), self.seq.into_iter())
                    .into_column(),
                local.finish(),
                remote.finish(),
                event.finish(),
                data.finish(),
                context.finish(),
                self.extra.finish(),
                lit("entry", entry),
                UInt32Chunked::from_vec("line".into(), self.line).into_column(),
            ],
        )
    }
}

/// The protocol frame with no rows.
pub fn empty_protocol() -> PolarsResult<DataFrame> {
    ProtocolBuilder::new(0).finish("", "smtp_receive", "")
}

/// The message id in a `250 2.6.0 <id> [InternalId=...] Queued mail for delivery` reply.
pub fn queued_message_id(data: &str) -> Option<&str> {
    let at = data.find("2.6.0")?;
    let rest = &data[at + 5..];
    let open = rest.find('<')?;
    let close = rest[open..].find('>')? + open;
    Some(rest[open..=close].trim())
}

/// What is known of one session so far.
#[derive(Default)]
struct S {
    connector: String,
    local: String,
    remote: String,
    start: i64,
    end: i64,
    lines: u32,
    ids: Vec<String>,
    entry: String,
}

impl S {
    /// Folds in what another file saw of the same session (sessions span hourly files).
    fn absorb(&mut self, o: S) {
        self.start = self.start.min(o.start);
        self.end = self.end.max(o.end);
        self.lines += o.lines;
        self.ids.extend(o.ids);
        for (mine, theirs) in [
            (&mut self.connector, o.connector),
            (&mut self.local, o.local),
            (&mut self.remote, o.remote),
        ] {
            if mine.is_empty() {
                *mine = theirs;
            }
        }
    }
}

/// Groups one file's protocol lines into sessions. Runs per file, in parallel; the parts are
/// joined by [`merge_sessions`].
pub fn sessions(protocol: &DataFrame) -> PolarsResult<DataFrame> {
    let time = protocol.column("time")?.datetime()?.physical().clone();
    let server = protocol.column("server")?.str()?.clone();
    let kind = protocol.column("log_kind")?.str()?.clone();
    let session = protocol.column("session_id")?.str()?.clone();
    let connector = protocol.column("connector_id")?.str()?.clone();
    let local = protocol.column("local_endpoint")?.str()?.clone();
    let remote = protocol.column("remote_endpoint")?.str()?.clone();
    let data = protocol.column("data")?.str()?.clone();
    let entry = protocol.column("entry")?.str()?.clone();
    // Keys borrow the frame's strings; sorted at the end so the frame's order is stable.
    let mut map: PlHashMap<(&str, &str, &str), S> = PlHashMap::default();
    // Columns walked in step with iterators: `get(i)` on a many-chunk column is a search per call.
    let rows = server
        .iter()
        .zip(kind.iter())
        .zip(session.iter())
        .zip(time.iter())
        .zip(entry.iter())
        .zip(connector.iter().zip(local.iter()).zip(remote.iter()))
        .zip(data.iter());
    for ((((((srv, knd), sid), t), ent), ((con, loc), rem)), dat) in rows {
        let key = (srv.unwrap_or(""), knd.unwrap_or(""), sid.unwrap_or(""));
        let t = t.unwrap_or(0);
        let s = map.entry(key).or_insert_with(|| S {
            start: t,
            end: t,
            entry: ent.unwrap_or("").to_string(),
            ..S::default()
        });
        s.absorb(S {
            connector: con.unwrap_or("").to_string(),
            local: loc.unwrap_or("").to_string(),
            remote: rem.unwrap_or("").to_string(),
            start: t,
            end: t,
            lines: 1,
            ids: dat
                .and_then(queued_message_id)
                .map(str::to_string)
                .into_iter()
                .collect(),
            entry: String::new(),
        });
    }
    let mut rows: Vec<((&str, &str, &str), S)> = map.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    session_frame(rows)
}

/// Joins the per-file session frames, merging a session that spans files into one row.
pub fn merge_sessions(parts: &[DataFrame]) -> PolarsResult<DataFrame> {
    let mut map: PlHashMap<(String, String, String), S> = PlHashMap::default();
    for part in parts {
        let col = |n: &str| -> PolarsResult<StringChunked> { Ok(part.column(n)?.str()?.clone()) };
        let (server, kind, session) = (col("server")?, col("log_kind")?, col("session_id")?);
        let (connector, local, remote) = (
            col("connector_id")?,
            col("local_endpoint")?,
            col("remote_endpoint")?,
        );
        let entry = col("entry")?;
        let start = part.column("start")?.datetime()?.physical().clone();
        let end = part.column("end")?.datetime()?.physical().clone();
        let lines = part.column("lines")?.u32()?.clone();
        let ids = part.column("message_ids")?.list()?.clone();
        let g = |c: &StringChunked, i: usize| c.get(i).unwrap_or("").to_string();
        for i in 0..part.height() {
            let s = S {
                connector: g(&connector, i),
                local: g(&local, i),
                remote: g(&remote, i),
                start: start.get(i).unwrap_or(0),
                end: end.get(i).unwrap_or(0),
                lines: lines.get(i).unwrap_or(0),
                ids: ids
                    .get_as_series(i)
                    .and_then(|s| {
                        s.str()
                            .ok()
                            .map(|c| c.iter().flatten().map(str::to_string).collect())
                    })
                    .unwrap_or_default(),
                entry: g(&entry, i),
            };
            let key = (g(&server, i), g(&kind, i), g(&session, i));
            match map.get_mut(&key) {
                Some(known) => known.absorb(s),
                None => {
                    map.insert(key, s);
                }
            }
        }
    }
    let mut rows: Vec<((String, String, String), S)> = map.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    session_frame(rows)
}

fn session_frame<K: AsRef<str>>(rows: Vec<((K, K, K), S)>) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let mut cols: [Vec<String>; 6] = Default::default();
    let mut start = Vec::with_capacity(n);
    let mut end = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    let mut entries = Vec::with_capacity(n);
    let mut ids = ListStringChunkedBuilder::new("message_ids".into(), n, n);
    for ((server, kind, session), s) in rows {
        for (c, v) in cols.iter_mut().zip([
            server.as_ref().to_string(),
            kind.as_ref().to_string(),
            session.as_ref().to_string(),
            s.connector,
            s.local,
            s.remote,
        ]) {
            c.push(v);
        }
        start.push(s.start);
        end.push(s.end);
        lines.push(s.lines);
        entries.push(s.entry);
        ids.append_values_iter(s.ids.iter().map(String::as_str));
    }
    let names = [
        "server",
        "log_kind",
        "session_id",
        "connector_id",
        "local_endpoint",
        "remote_endpoint",
    ];
    let mut out: Vec<Column> = cols
        .iter()
        .zip(names)
        .map(|(v, name)| {
            StringChunked::from_iter_values(name.into(), v.iter().map(String::as_str)).into_column()
        })
        .collect();
    let dt = |name: &str, v: Vec<i64>| {
        Int64Chunked::from_vec(name.into(), v)
            .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
            .into_column()
    };
    out.push(dt("start", start));
    out.push(dt("end", end));
    out.push(UInt32Chunked::from_vec("lines".into(), lines).into_column());
    out.push(ids.finish().into_column());
    out.push(
        StringChunked::from_iter_values("entry".into(), entries.iter().map(String::as_str))
            .into_column(),
    );
    DataFrame::new(n, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_ids() {
        assert_eq!(
            queued_message_id("250 2.6.0 <abc@corp.example> [InternalId=1, Hostname=EX01] Queued mail for delivery"),
            Some("<abc@corp.example>")
        );
        assert_eq!(queued_message_id("250 2.1.0 Sender OK"), None);
    }
}
