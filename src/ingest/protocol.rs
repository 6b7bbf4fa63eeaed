//! SMTP Receive and Send protocol logs (`RECV*.LOG`, `SEND*.LOG`): the conversation behind each
//! tracking row. Lines become the protocol frame; lines sharing a `session-id` become the
//! sessions frame, which carries the message ids the server queued (`250 2.6.0 <id> ...`), the
//! link back to message tracking.

use std::borrow::Cow;

use polars::prelude::*;

use super::builders::DedupStrings;
use super::fields::{self, split_line, TimeError};
use super::schema::Mapping;
use super::tracking::truncate;
use super::w3c::{self, Dialect};
use super::{EntryCtx, LogKind, LogReader, Parsed, ProtoLine, Sink};
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

    fn read(
        &self,
        kind: LogKind,
        text: &str,
        ctx: &EntryCtx<'_>,
        sink: &mut dyn Sink,
    ) -> Result<Parsed> {
        let mut d = Protocol {
            kind,
            idx: None,
            extra: String::new(),
        };
        let mut p = w3c::read(text, ctx, &mut d, sink);
        if p.version.is_none() {
            p.version = Some("unknown (no #Version)".into());
        }
        Ok(p)
    }
}

struct Protocol {
    kind: LogKind,
    /// Column positions for the mapping in force (keyed by the mapping's address).
    idx: Option<(usize, [usize; 9])>,
    extra: String,
}

impl Dialect for Protocol {
    fn unknown<'m>(&self, m: &'m Mapping) -> Vec<&'m str> {
        m.names
            .iter()
            .filter(|n| !FIELDS.iter().any(|f| f.eq_ignore_ascii_case(n)))
            .map(String::as_str)
            .collect()
    }

    fn headerless(&self, values: usize) -> Option<(Vec<&'static str>, String)> {
        (values == FIELDS.len()).then(|| (FIELDS.to_vec(), "its 9 columns".to_string()))
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
        let key = m.names.as_ptr() as usize;
        let idx = match self.idx {
            Some((k, idx)) if k == key => idx,
            _ => {
                let idx = column_index(&m.names);
                self.idx = Some((key, idx));
                idx
            }
        };
        let get = |k: usize| -> &str { vals.get(idx[k]).map_or("", |v| v.as_ref()) };
        let stamp = match fields::parse_iso(get(0)) {
            Ok(t) => t,
            Err(TimeError::Impossible) => {
                return Err(format!("impossible date-time {:?}", truncate(get(0), 40)))
            }
            Err(TimeError::Unreadable) => {
                return Err(format!("unreadable date-time {:?}", truncate(get(0), 40)))
            }
        };
        self.extra.clear();
        for (i, (name, v)) in m.names.iter().zip(vals).enumerate() {
            if !idx.contains(&i) && !v.is_empty() {
                if !self.extra.is_empty() {
                    self.extra.push('\t');
                }
                self.extra.push_str(name);
                self.extra.push('=');
                self.extra.push_str(v);
            }
        }
        // The connector id is `SERVER\Connector name`: the server where there is no folder.
        // A Send connector's is its name alone; the local address then says whose it is
        // (`ingest::name_servers`): noted where a session starts, and on every line of a log
        // without a server folder (one cut from its sessions' starts).
        let server = ctx.server.or_else(|| {
            get(1)
                .split_once('\\')
                .map(|(s, _)| s)
                .filter(|s| !s.is_empty())
        });
        if ctx.server.is_none() || get(6) == "+" {
            p.saw_local(endpoint_ip(get(4)), server);
        }
        let server = server.unwrap_or("unknown");
        if stamp.leap {
            p.leap_seconds += 1;
        }
        p.saw(stamp.ms, line, server);
        sink.protocol(&ProtoLine {
            time_ms: stamp.ms,
            line: line.min(u32::MAX as u64) as u32,
            server,
            kind: self.kind,
            connector: get(1),
            session: get(2),
            sequence: get(3).trim().parse().ok(),
            local: get(4),
            remote: get(5),
            event: get(6),
            data: get(7),
            context: get(8),
            extra: &self.extra,
        });
        Ok(())
    }
}

/// The address of an endpoint: `10.0.0.5:25` → `10.0.0.5`, `[fe80::1]:25` → `fe80::1`.
fn endpoint_ip(endpoint: &str) -> &str {
    let e = endpoint.trim();
    match e.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(ip, _)| ip),
        None if e.matches(':').count() == 1 => e.split_once(':').map_or(e, |(ip, _)| ip),
        None => e,
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
pub struct ProtocolBuilder {
    time: Vec<i64>,
    line: Vec<u32>,
    seq: Vec<Option<u32>>,
    server: DedupStrings,
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
    pub(crate) fn new(capacity: usize) -> Self {
        ProtocolBuilder {
            time: Vec::with_capacity(capacity),
            line: Vec::with_capacity(capacity),
            seq: Vec::with_capacity(capacity),
            server: DedupStrings::new("server", capacity, true),
            text: TEXT_COLUMNS.map(|name| DedupStrings::new(name, capacity, true)),
            extra: DedupStrings::new("extra", capacity, true),
        }
    }

    pub(crate) fn push(&mut self, l: &ProtoLine<'_>) {
        self.time.push(l.time_ms);
        self.line.push(l.line);
        self.seq.push(l.sequence);
        self.server.push(l.server);
        let text = [
            l.connector,
            l.session,
            l.local,
            l.remote,
            l.event,
            l.data,
            l.context,
        ];
        for (col, v) in self.text.iter_mut().zip(text) {
            col.push(v);
        }
        if l.extra.is_empty() {
            self.extra.push_null();
        } else {
            self.extra.push(l.extra);
        }
    }

    pub(crate) fn finish(self, kind: &str, entry: &str) -> PolarsResult<DataFrame> {
        let n = self.time.len();
        let [connector, session, local, remote, event, data, context] = self.text;
        let lit = |name: &str, v: &str| super::builders::constant(name, v, n);
        DataFrame::new(
            n,
            vec![
                Int64Chunked::from_vec("time".into(), self.time)
                    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
                    .into_column(),
                self.server.finish(),
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
    ProtocolBuilder::new(0).finish("smtp_receive", "")
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
    fn endpoint_addresses() {
        assert_eq!(endpoint_ip("10.0.1.12:62734"), "10.0.1.12");
        assert_eq!(endpoint_ip("[fe80::1%12]:25"), "fe80::1%12");
        assert_eq!(endpoint_ip("fe80::1"), "fe80::1");
        assert_eq!(endpoint_ip(" 10.0.1.12 "), "10.0.1.12");
        assert_eq!(endpoint_ip(""), "");
    }

    #[test]
    fn queued_ids() {
        assert_eq!(
            queued_message_id("250 2.6.0 <abc@corp.example> [InternalId=1, Hostname=EX01] Queued mail for delivery"),
            Some("<abc@corp.example>")
        );
        assert_eq!(queued_message_id("250 2.1.0 Sender OK"), None);
    }
}
