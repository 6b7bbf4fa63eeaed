//! Per-message trace: every row of one message (or of the messages matching a filter) across
//! servers in time order, each joined to the SMTP protocol session that carried it where the
//! bundle has one (RECEIVE rows by the session id in `source_context`, SEND rows by the message
//! id the next hop queued).

use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::human::rfc3339;
use crate::ingest::schema::{col, Field};
use crate::ingest::Frames;

/// What to follow. Filters combine with AND; text filters are case-insensitive.
#[derive(Debug, Clone, Default)]
pub struct TraceFilter {
    pub message_id: Option<String>,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub subject: Option<String>,
    /// At most this many messages (the earliest first).
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Session {
    pub session_id: String,
    pub log_kind: String,
    pub connector_id: String,
    pub local_endpoint: String,
    pub remote_endpoint: String,
    pub start: String,
    pub end: String,
    pub lines: u32,
    pub entry: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub time: String,
    pub server: String,
    pub event_id: String,
    pub source: String,
    pub connector_id: String,
    pub client_ip: String,
    pub client_hostname: String,
    pub server_ip: String,
    pub server_hostname: String,
    pub recipients: Vec<String>,
    pub status: Vec<String>,
    pub reference: String,
    pub path: String,
    pub line: u32,
    pub session: Option<Session>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub message_id: String,
    pub subject: String,
    pub sender: String,
    pub hops: Vec<Hop>,
}

/// `<abc@x>` and `abc@x` name the same message.
fn bare(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

struct Cols<'a> {
    time: &'a Int64Chunked,
    text: Vec<(&'static str, &'a StringChunked)>,
    recipients: &'a ListChunked,
    status: &'a ListChunked,
    line: &'a UInt32Chunked,
}

impl<'a> Cols<'a> {
    fn new(df: &'a DataFrame) -> Result<Self> {
        let names = [
            Field::MessageId.column(),
            col::SERVER,
            Field::EventId.column(),
            Field::Source.column(),
            Field::ConnectorId.column(),
            Field::ClientIp.column(),
            Field::ClientHostname.column(),
            Field::ServerIp.column(),
            Field::ServerHostname.column(),
            Field::Reference.column(),
            col::ENTRY,
            Field::Sender.column(),
            Field::Subject.column(),
            Field::SourceContext.column(),
        ];
        let mut text = Vec::new();
        for n in names {
            text.push((n, df.column(n)?.str()?));
        }
        Ok(Cols {
            time: df.column(col::TIME)?.datetime()?.physical(),
            text,
            recipients: df.column(col::RECIPIENTS)?.list()?,
            status: df.column(col::RECIPIENT_STATUS)?.list()?,
            line: df.column(col::LINE)?.u32()?,
        })
    }

    fn s(&self, name: &str, i: usize) -> String {
        self.text
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, c)| c.get(i))
            .unwrap_or("")
            .to_string()
    }

    fn list(l: &ListChunked, i: usize) -> Vec<String> {
        l.get_as_series(i)
            .and_then(|s| {
                s.str()
                    .ok()
                    .map(|c| c.iter().map(|x| x.unwrap_or("").to_string()).collect())
            })
            .unwrap_or_default()
    }
}

pub fn trace(frames: &Frames, f: &TraceFilter) -> Result<Vec<Trace>> {
    let df = &frames.events;
    let c = Cols::new(df)?;
    let ids = df.column(Field::MessageId.column())?.str()?;
    // Which message ids match the filter.
    let mut wanted: Vec<(i64, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..df.height() {
        let Some(id) = ids.get(i) else { continue };
        if seen.contains(id) {
            continue;
        }
        if let Some(w) = &f.message_id {
            if bare(id) != bare(w) {
                continue;
            }
        }
        if let Some(s) = &f.sender {
            if !c
                .s(Field::Sender.column(), i)
                .eq_ignore_ascii_case(s.trim())
            {
                continue;
            }
        }
        if let Some(r) = &f.recipient {
            let r = r.trim().to_ascii_lowercase();
            if !Cols::list(c.recipients, i).contains(&r) {
                continue;
            }
        }
        if let Some(s) = &f.subject {
            if !contains_ci(&c.s(Field::Subject.column(), i), s) {
                continue;
            }
        }
        seen.insert(id);
        wanted.push((c.time.get(i).unwrap_or(0), id.to_string()));
    }
    wanted.sort();
    wanted.truncate(f.limit.max(1));
    let sessions = SessionIndex::new(&frames.sessions)?;
    let mut out = Vec::new();
    for (_, id) in wanted {
        let mut rows: Vec<usize> = (0..df.height())
            .filter(|&i| ids.get(i) == Some(id.as_str()))
            .collect();
        rows.sort_by_key(|&i| (c.time.get(i).unwrap_or(0), i));
        let subject = rows
            .iter()
            .map(|&i| c.s(Field::Subject.column(), i))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let sender = rows
            .iter()
            .map(|&i| c.s(Field::Sender.column(), i))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let hops = rows
            .iter()
            .map(|&i| {
                let server = c.s(col::SERVER, i);
                let event_id = c.s(Field::EventId.column(), i);
                let session = match event_id.as_str() {
                    "RECEIVE" => {
                        let ctx = c.s(Field::SourceContext.column(), i);
                        let sid = ctx.split(';').next().unwrap_or("").trim().to_string();
                        sessions.by_id(&server, "smtp_receive", &sid)
                    }
                    "SEND" | "SENDEXTERNAL" => sessions.by_message(&server, "smtp_send", &id),
                    _ => None,
                };
                Hop {
                    time: rfc3339(c.time.get(i).unwrap_or(0)),
                    event_id,
                    source: c.s(Field::Source.column(), i),
                    connector_id: c.s(Field::ConnectorId.column(), i),
                    client_ip: c.s(Field::ClientIp.column(), i),
                    client_hostname: c.s(Field::ClientHostname.column(), i),
                    server_ip: c.s(Field::ServerIp.column(), i),
                    server_hostname: c.s(Field::ServerHostname.column(), i),
                    recipients: Cols::list(c.recipients, i),
                    status: Cols::list(c.status, i),
                    reference: c.s(Field::Reference.column(), i),
                    path: c.s(col::ENTRY, i),
                    line: c.line.get(i).unwrap_or(0),
                    server,
                    session,
                }
            })
            .collect();
        out.push(Trace {
            message_id: id,
            subject,
            sender,
            hops,
        });
    }
    Ok(out)
}

struct SessionIndex {
    rows: Vec<(String, String, String, Vec<String>, Session)>,
}

impl SessionIndex {
    fn new(s: &DataFrame) -> Result<Self> {
        let col = |n: &str| -> Result<&StringChunked> { Ok(s.column(n)?.str()?) };
        let (server, kind, sid, conn, local, remote, entry) = (
            col("server")?,
            col("log_kind")?,
            col("session_id")?,
            col("connector_id")?,
            col("local_endpoint")?,
            col("remote_endpoint")?,
            col("entry")?,
        );
        let start = s.column("start")?.datetime()?.physical();
        let end = s.column("end")?.datetime()?.physical();
        let lines = s.column("lines")?.u32()?;
        let ids = s.column("message_ids")?.list()?;
        let g = |c: &StringChunked, i: usize| c.get(i).unwrap_or("").to_string();
        let rows = (0..s.height())
            .map(|i| {
                (
                    g(server, i),
                    g(kind, i),
                    g(sid, i),
                    Cols::list(ids, i),
                    Session {
                        session_id: g(sid, i),
                        log_kind: g(kind, i),
                        connector_id: g(conn, i),
                        local_endpoint: g(local, i),
                        remote_endpoint: g(remote, i),
                        start: rfc3339(start.get(i).unwrap_or(0)),
                        end: rfc3339(end.get(i).unwrap_or(0)),
                        lines: lines.get(i).unwrap_or(0),
                        entry: g(entry, i),
                    },
                )
            })
            .collect();
        Ok(SessionIndex { rows })
    }

    fn by_id(&self, server: &str, kind: &str, sid: &str) -> Option<Session> {
        if sid.is_empty() {
            return None;
        }
        let hit = |same_server: bool| {
            self.rows
                .iter()
                .find(|(s, k, id, _, _)| {
                    k == kind && id.eq_ignore_ascii_case(sid) && (!same_server || s == server)
                })
                .map(|r| r.4.clone())
        };
        hit(true).or_else(|| hit(false))
    }

    fn by_message(&self, server: &str, kind: &str, id: &str) -> Option<Session> {
        self.rows
            .iter()
            .find(|(s, k, _, ids, _)| {
                s == server && k == kind && ids.iter().any(|x| bare(x) == bare(id))
            })
            .map(|r| r.4.clone())
    }
}
