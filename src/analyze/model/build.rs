//! Building the model while parsing. Each bundle entry gets its own [`ChunkBuilder`] (a
//! [`Sink`] the readers push rows into, on the thread that parses the entry); it interns every
//! address, id and name into chunk-local tables and keeps only the narrow, typed columns the
//! analysis reads. [`merge`] then maps the chunks' local ids onto global ones, in bundle order,
//! so ids do not depend on thread timing. Subjects, statuses and the rest of a row's text are
//! not kept: the few rows that become evidence are read back from the bundle.

use crate::analyze::model::classify::{self, flag, Ev, Src, StatusKind};
use crate::analyze::model::intern::{Interner, NONE};
use crate::analyze::model::{LatencyPart, Model, Session};
use crate::error::Result;
use crate::ingest::fields::{self, enhanced_code, parse_iso_ms, split_statuses};
use crate::ingest::schema::{short_host, Field, Reads, Row};
use crate::ingest::{Collector, EntryCtx, LogKind, ProtoLine, Sink};
use crate::timing::timed;

/// The rows of one entry, with chunk-local ids.
#[derive(Default)]
pub struct Chunk {
    pub time: Vec<i64>,
    pub ev: Vec<Ev>,
    pub ev_name: Vec<u32>,
    pub src: Vec<Src>,
    pub msg: Vec<u32>,
    pub sender: Vec<u32>,
    pub server: Vec<u32>,
    pub flags: Vec<u16>,
    pub reference: Vec<u32>,
    pub client_ip: Vec<u32>,
    pub orig_client_ip: Vec<u32>,
    pub server_ip: Vec<u32>,
    pub client_host: Vec<u32>,
    pub server_host: Vec<u32>,
    pub connector: Vec<u32>,
    pub related: Vec<u32>,
    pub rcpt_count: Vec<u32>,
    pub subject: Vec<u32>,
    pub line: Vec<u32>,
    pub rcpt_off: Vec<u32>,
    pub rcpt: Vec<u32>,
    pub rcpt_code: Vec<u32>,
    pub rcpt_kind: Vec<StatusKind>,
    /// (row, origination ms) from `message-info`.
    pub origination: Vec<(u32, i64)>,
    /// (row, component, ms): Exchange's latency parts logged by the row's own server.
    pub parts: Vec<(u32, u32, u32)>,
    pub addrs: Interner,
    pub msg_ids: Interner,
    pub servers: Interner,
    pub ips: Interner,
    pub hosts: Interner,
    pub connectors: Interner,
    pub codes: Interner,
    pub ev_names: Interner,
    pub subjects: Interner,
    pub components: Interner,
    /// Flags of each local subject id (classified once per distinct subject).
    pub subject_flags: Vec<u16>,
    pub sessions: Vec<Session>,
}

/// Builds one [`Chunk`] from the rows a reader pushes.
#[derive(Default)]
pub struct ChunkBuilder {
    c: Chunk,
    lower: String,
    split: Vec<(usize, usize)>,
    rcpt_buf: Vec<u32>,
    /// Per local address id: bit 0 a probe mailbox, bit 1 a system sender.
    addr_kind: Vec<u8>,
    /// Session ids as met, so that finding a line's session costs no allocation.
    session_names: Interner,
    /// (server, kind, session id) → index in the chunk's sessions.
    session_ix: crate::analyze::model::intern::FastMap<(u32, LogKind, u32), usize>,
}

/// `s` lower-cased into `buf` when it has capitals.
fn lower<'a>(s: &'a str, buf: &'a mut String) -> &'a str {
    // Without an early exit the test is a few vector instructions for an address, not a
    // branch per byte; most addresses have no capital and are returned as they are.
    let upper = s
        .bytes()
        .fold(0u8, |acc, b| acc | u8::from(b.wrapping_sub(b'A') < 26));
    if upper == 0 {
        return s;
    }
    buf.clear();
    buf.push_str(s);
    buf.make_ascii_lowercase();
    buf
}

/// The key a message id is known by: `<abc@x>` and `abc@x` are the same message.
pub fn message_key(id: &str) -> &str {
    let t = fields::trim(id);
    t.strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(t)
}

impl ChunkBuilder {
    pub fn with_capacity(rows: usize) -> Self {
        let mut b = ChunkBuilder::default();
        let c = &mut b.c;
        // Every column with one value per row: grown by doubling, they would be copied
        // again and again.
        c.time.reserve_exact(rows);
        c.ev.reserve_exact(rows);
        c.src.reserve_exact(rows);
        c.flags.reserve_exact(rows);
        for col in [
            &mut c.ev_name,
            &mut c.msg,
            &mut c.sender,
            &mut c.server,
            &mut c.reference,
            &mut c.client_ip,
            &mut c.orig_client_ip,
            &mut c.server_ip,
            &mut c.client_host,
            &mut c.server_host,
            &mut c.connector,
            &mut c.related,
            &mut c.rcpt_count,
            &mut c.subject,
            &mut c.line,
        ] {
            col.reserve_exact(rows);
        }
        c.rcpt_off.reserve_exact(rows + 1);
        b
    }

    pub fn finish(mut self) -> Chunk {
        if self.c.rcpt_off.is_empty() {
            self.c.rcpt_off.push(0);
        }
        self.c
    }

    fn opt(interner: &mut Interner, v: Option<&str>) -> u32 {
        match v {
            Some(s) if !s.is_empty() => interner.id(s),
            _ => NONE,
        }
    }
}

/// The parts of a row the model reads ([`ChunkBuilder::event`]): what a reader places, and the
/// columns read from a Parquet export for a report. A field read there and not named here
/// reads as absent from every input.
pub const MODEL_READS: Reads = Reads::fields(&[
    Field::EventId,
    Field::Source,
    Field::MessageId,
    Field::NetworkMessageId,
    Field::Sender,
    Field::ReturnPath,
    Field::Directionality,
    Field::Subject,
    Field::Reference,
    Field::ClientIp,
    Field::OriginalClientIp,
    Field::ServerIp,
    Field::ClientHostname,
    Field::ServerHostname,
    Field::ConnectorId,
    Field::RelatedRecipient,
    Field::MessageInfo,
    Field::MessageLatency,
    Field::MessageLatencyType,
])
.with_lists()
.with_counts();

impl Sink for ChunkBuilder {
    fn event(&mut self, row: &Row<'_>) {
        let c = &mut self.c;
        if c.rcpt_off.is_empty() {
            c.rcpt_off.push(0);
        }
        let r = c.time.len() as u32;
        c.time.push(row.time_ms);
        c.line.push(row.line);
        let ev_text = row.get(Field::EventId).unwrap_or("");
        let ev = Ev::of(ev_text);
        c.ev.push(ev);
        c.ev_name.push(c.ev_names.id(ev_text));
        let src = Src::of(row.get(Field::Source).unwrap_or(""));
        c.src.push(src);
        let id = row
            .get(Field::MessageId)
            .map(message_key)
            .filter(|s| !s.is_empty())
            .or(row.get(Field::NetworkMessageId));
        c.msg.push(Self::opt(&mut c.msg_ids, id));
        let sender_id = {
            let sender = row.get(Field::Sender).map(|s| lower(s, &mut self.lower));
            Self::opt(&mut c.addrs, sender)
        };
        c.sender.push(sender_id);
        c.server.push(c.servers.id(row.server));
        let mut flags = 0u16;
        if row.get(Field::ReturnPath) == Some("<>") {
            flags |= flag::NULL_RETURN_PATH;
        }
        if src == Src::MailboxRule {
            flags |= flag::MAILBOX_RULE;
        }
        if ev == Ev::Dsn {
            flags |= flag::DSN_ROW;
        }
        if row
            .get(Field::Directionality)
            .is_some_and(|d| d.eq_ignore_ascii_case("Incoming") || d == "1")
        {
            flags |= flag::INCOMING;
        }
        let subject = match row.get(Field::Subject) {
            Some(s) => {
                let before = c.subjects.len();
                let id = c.subjects.id(s);
                if c.subjects.len() > before {
                    c.subject_flags.push(classify::subject_flags(s));
                }
                flags |= c.subject_flags.get(id as usize).copied().unwrap_or(0);
                id
            }
            None => NONE,
        };
        c.subject.push(subject);
        // A reference names the message an automated one answers (DSN, inbox rule, journal);
        // on SEND rows it lists DSN internal ids, and on THROTTLE the loop-header count.
        let reference = match row.get(Field::Reference) {
            Some(r) if r.starts_with("XLoopHeaderCount") => {
                flags |= flag::LOOP_HEADER;
                NONE
            }
            Some(r) if ev != Ev::Send && r.bytes().any(|b| b == b'@' || b == b'<') => {
                c.msg_ids.id(message_key(r))
            }
            _ => NONE,
        };
        c.reference.push(reference);
        c.client_ip
            .push(Self::opt(&mut c.ips, row.get(Field::ClientIp)));
        c.orig_client_ip
            .push(Self::opt(&mut c.ips, row.get(Field::OriginalClientIp)));
        c.server_ip
            .push(Self::opt(&mut c.ips, row.get(Field::ServerIp)));
        c.client_host.push(Self::opt(
            &mut c.hosts,
            row.get(Field::ClientHostname).map(short_host),
        ));
        c.server_host.push(Self::opt(
            &mut c.hosts,
            row.get(Field::ServerHostname).map(short_host),
        ));
        c.connector
            .push(Self::opt(&mut c.connectors, row.get(Field::ConnectorId)));
        let related = {
            let r = row
                .get(Field::RelatedRecipient)
                .map(|s| lower(s, &mut self.lower));
            Self::opt(&mut c.addrs, r)
        };
        c.related.push(related);
        c.rcpt_count.push(row.recipient_count.unwrap_or(0));
        // Recipients, aligned with their statuses.
        self.rcpt_buf.clear();
        if let Some(rc) = row.recipients {
            for a in fields::split_ascii(rc, b';')
                .map(fields::trim)
                .filter(|s| !s.is_empty())
            {
                let a = lower(a, &mut self.lower);
                self.rcpt_buf.push(c.addrs.id(a));
            }
        }
        let status = row.recipient_status.unwrap_or("");
        split_statuses(status, self.rcpt_buf.len(), &mut self.split);
        for (k, &a) in self.rcpt_buf.iter().enumerate() {
            c.rcpt.push(a);
            let (code, kind) = match self.split.get(k) {
                Some(&(x, y)) => {
                    let st = fields::trim(&status[x..y]);
                    let code = enhanced_code(st).unwrap_or("");
                    let kind = classify::status_kind(st, code, src);
                    (
                        if code.is_empty() {
                            NONE
                        } else {
                            c.codes.id(code)
                        },
                        kind,
                    )
                }
                None => (NONE, StatusKind::Plain),
            };
            c.rcpt_code.push(code);
            c.rcpt_kind.push(kind);
        }
        c.rcpt_off.push(c.rcpt.len() as u32);
        // Probes and monitoring mailboxes, and system senders: classified once per address.
        for a in self.addr_kind.len()..c.addrs.len() {
            let name = c.addrs.name(a as u32);
            self.addr_kind.push(
                u8::from(classify::is_probe_address(name))
                    | u8::from(classify::is_system_sender(name)) << 1,
            );
        }
        let kind = |a: u32| self.addr_kind.get(a as usize).copied().unwrap_or(0);
        if kind(sender_id) & 1 != 0 || self.rcpt_buf.first().is_some_and(|&a| kind(a) & 1 != 0) {
            flags |= flag::PROBE;
        }
        if kind(sender_id) & 2 != 0 {
            flags |= flag::SYSTEM_SENDER;
        }
        c.flags.push(flags);
        if let Some(info) = row.get(Field::MessageInfo) {
            message_info(c, r, row.server, info);
        }
        if let Some(l) = row.get(Field::MessageLatency) {
            if let Some(ms) = dotnet_timespan_ms(l) {
                let kind = row
                    .get(Field::MessageLatencyType)
                    .unwrap_or("MessageLatency");
                let comp = c.components.id(kind);
                c.parts.push((r, comp, ms));
            }
        }
    }

    fn protocol(&mut self, l: &ProtoLine<'_>) {
        let c = &mut self.c;
        let server = c.servers.id(l.server);
        let key = (server, l.kind, self.session_names.id(l.session));
        let ix = match self.session_ix.get(&key) {
            Some(&i) => i,
            None => {
                let i = c.sessions.len();
                c.sessions.push(Session {
                    server,
                    kind: l.kind,
                    session: l.session.to_string(),
                    connector: Self::opt(&mut c.connectors, Some(l.connector)),
                    remote: l.remote.to_string(),
                    start: l.time_ms,
                    end: l.time_ms,
                    lines: 0,
                    turned_away: None,
                    first_line: l.line,
                    entry: 0,
                });
                self.session_ix.insert(key, i);
                i
            }
        };
        let s = &mut c.sessions[ix];
        s.start = s.start.min(l.time_ms);
        s.end = s.end.max(l.time_ms);
        s.lines += 1;
        // Back pressure: the server answered with 452 4.3.1 and sent the client away.
        if l.event == ">" && s.turned_away.is_none() && l.data.starts_with("452") {
            let code = enhanced_code(l.data).unwrap_or("");
            if classify::status_kind(l.data, code, Src::Smtp) == StatusKind::Resources {
                s.turned_away = Some(l.line);
            }
        }
    }
}

/// `00:00:01.2340000` (a .NET TimeSpan, as Exchange 2010 exports MessageLatency) → ms.
fn dotnet_timespan_ms(s: &str) -> Option<u32> {
    let s = fields::trim(s);
    let (days, rest) = match fields::split_once_ascii(s, b'.') {
        Some((d, r)) if !d.contains(':') => (d.parse::<u64>().ok()?, r),
        _ => (0, s),
    };
    let mut it = rest.splitn(3, ':');
    let h: u64 = it.next()?.parse().ok()?;
    let m: u64 = it.next()?.parse().ok()?;
    let sec: f64 = it.next()?.parse().ok()?;
    let ms = ((days * 24 + h) * 60 + m) as f64 * 60_000.0 + sec * 1000.0;
    (ms.is_finite() && ms >= 0.0 && ms < u32::MAX as f64).then_some(ms.round() as u32)
}

/// Reads `message-info`: the origination time, then `SRV=host:` (or `LSRV=`) sections of
/// `NAME=seconds(...)` parts separated by `|`. Only the sections the row's own server wrote are
/// kept: earlier hops' sections ride along on later rows and would be counted twice.
fn message_info(c: &mut Chunk, row: u32, server: &str, info: &str) {
    let mut sections = fields::split_ascii(info, b';');
    let Some(first) = sections.next() else { return };
    if let Some(t) = parse_iso_ms(fields::trim(first)) {
        c.origination.push((row, t));
    } else {
        return;
    }
    for sec in sections {
        let sec = fields::trim(sec);
        let Some(rest) = sec
            .strip_prefix("SRV=")
            .or_else(|| sec.strip_prefix("LSRV="))
        else {
            continue;
        };
        let Some((host, parts)) = fields::split_once_ascii(rest, b':') else {
            continue;
        };
        if !short_host(host).eq_ignore_ascii_case(server) {
            continue;
        }
        let mut depth = 0i32;
        let mut start = 0;
        let bytes = parts.as_bytes();
        for i in 0..=bytes.len() {
            let b = bytes.get(i).copied().unwrap_or(b'|');
            match b {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'|' if depth <= 0 => {
                    let item = fields::trim(&parts[start..i]);
                    start = i + 1;
                    let head = fields::split_ascii(item, b'(').next().unwrap_or("");
                    if let Some((name, v)) = fields::split_once_ascii(head, b'=') {
                        if let Ok(secs) = fields::trim(v).parse::<f64>() {
                            if (0.0..4e6).contains(&secs) {
                                let comp = c.components.id(fields::trim(name));
                                c.parts.push((row, comp, (secs * 1000.0).round() as u32));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Builds the model's chunks from a bundle.
pub struct ModelCollector;

impl Collector for ModelCollector {
    type Sink = ChunkBuilder;
    type Chunk = Chunk;

    fn sink(&self, _ctx: &EntryCtx<'_>, kind: LogKind, lines: &dyn Fn() -> usize) -> ChunkBuilder {
        ChunkBuilder::with_capacity(if kind.has_events() { lines() } else { 0 })
    }

    fn finish(&self, sink: ChunkBuilder, _ctx: &EntryCtx<'_>, _kind: LogKind) -> Result<Chunk> {
        Ok(sink.finish())
    }

    fn reads(&self) -> Reads {
        MODEL_READS
    }
}

/// Local ids of one interner mapped onto the global one.
fn remap(global: &mut Interner, local: &Interner) -> Vec<u32> {
    local.iter().map(|(_, s)| global.id(s)).collect()
}

fn map_ids(out: &mut Vec<u32>, local: &[u32], map: &[u32]) {
    out.extend(
        local
            .iter()
            .map(|&i| if i == NONE { NONE } else { map[i as usize] }),
    );
}

/// Each table's local ids of every chunk, mapped onto the global ids.
fn remap_all(
    global: &mut Interner,
    chunks: &[(u32, Chunk)],
    local: impl Fn(&Chunk) -> &Interner,
) -> Vec<Vec<u32>> {
    chunks
        .iter()
        .map(|(_, c)| remap(global, local(c)))
        .collect()
}

/// The global table of names most of which are new to every chunk (message ids: half a
/// million at 2 M events, each seen by a chunk or two), and each chunk's map onto it, built on
/// every core. The names are split by hash into shards, each shard finds which of its names
/// were seen before in its own small table, and one pass over the chunks in order then hands
/// out the global ids, so they are the ids [`remap_all`] gives into an empty table: in order of
/// first appearance in the bundle.
fn intern_sharded(locals: &[&Interner]) -> (Interner, Vec<Vec<u32>>) {
    use hashbrown::HashTable;
    use rayon::prelude::*;
    const SHARDS: usize = 16;
    let mut global = Interner::default();
    // Bits the tables do not use for their buckets (low bits) or tags (top 7 bits).
    let shard = |h: u64| ((h >> 40) as usize) % SHARDS;
    let hashes: Vec<Vec<u64>> = locals
        .par_iter()
        .map(|l| l.iter().map(|(_, s)| global.hash(s)).collect())
        .collect();
    // Per shard, in bundle order, the shard's index of each of its names, and how many.
    let per_shard: Vec<(Vec<u32>, usize)> = (0..SHARDS)
        .into_par_iter()
        .map(|s| {
            let mut table: HashTable<u32> = HashTable::new();
            // First sighting (chunk, local id) and hash of each shard index.
            let mut first: Vec<(u32, u32, u64)> = Vec::new();
            let mut out = Vec::new();
            for (k, (l, hs)) in locals.iter().zip(&hashes).enumerate() {
                for (j, &h) in hs.iter().enumerate().filter(|(_, &h)| shard(h) == s) {
                    let name = l.name_raw(j as u32);
                    let found = table.find(h, |&i| {
                        let (fk, fj, _) = first[i as usize];
                        locals[fk as usize].name_raw(fj) == name
                    });
                    out.push(match found {
                        Some(&i) => i,
                        None => {
                            let i = first.len() as u32;
                            first.push((k as u32, j as u32, h));
                            table.insert_unique(h, i, |&x| first[x as usize].2);
                            i
                        }
                    });
                }
            }
            (out, first.len())
        })
        .collect();
    let names: usize = per_shard.iter().map(|(_, n)| n).sum();
    global.reserve(names, locals.iter().map(|l| l.name_bytes()).sum());
    let mut global_of: Vec<Vec<u32>> = per_shard.iter().map(|(_, n)| vec![NONE; *n]).collect();
    let mut cursor = [0usize; SHARDS];
    let maps = locals
        .iter()
        .zip(&hashes)
        .map(|(l, hs)| {
            hs.iter()
                .enumerate()
                .map(|(j, &h)| {
                    let s = shard(h);
                    let i = per_shard[s].0[cursor[s]] as usize;
                    cursor[s] += 1;
                    let g = &mut global_of[s][i];
                    if *g == NONE {
                        *g = global.len() as u32;
                        global.push_unindexed(l.name(j as u32));
                    }
                    *g
                })
                .collect()
        })
        .collect();
    (global, maps)
}

/// Every chunk's local ids mapped onto the global ones, table by table (`ids[k]` is chunk
/// `k`'s map of message ids).
struct Maps {
    addrs: Vec<Vec<u32>>,
    ids: Vec<Vec<u32>>,
    ips: Vec<Vec<u32>>,
    hosts: Vec<Vec<u32>>,
    conns: Vec<Vec<u32>>,
    codes: Vec<Vec<u32>>,
    evn: Vec<Vec<u32>>,
    subj: Vec<Vec<u32>>,
    comps: Vec<Vec<u32>>,
    servers: Vec<Vec<u32>>,
}

/// Global ids for every table, handed out in bundle order (so they never depend on thread
/// timing). Tables do not depend on each other, so they are built side by side: message ids
/// and addresses are most of the work.
fn global_ids(m: &mut Model, chunks: &[(u32, Chunk)]) -> Maps {
    let Model {
        addrs,
        msg_ids,
        ips,
        hosts,
        connectors,
        codes,
        ev_names,
        subjects,
        components,
        servers,
        ..
    } = m;
    let ((ids, addr_maps), small) = rayon::join(
        || {
            rayon::join(
                || {
                    timed("ids: message ids", || {
                        let locals: Vec<&Interner> =
                            chunks.iter().map(|(_, c)| &c.msg_ids).collect();
                        let (table, maps) = intern_sharded(&locals);
                        *msg_ids = table;
                        maps
                    })
                },
                || timed("ids: addresses", || remap_all(addrs, chunks, |c| &c.addrs)),
            )
        },
        || {
            timed("ids: other tables", || {
                // Server names compare case-insensitively: `EX01` in a folder, `ex01` in a row;
                // the first spelling in bundle order names the server. Ids go in the names'
                // order (the bundle's path order), so lists of servers by id read as the
                // folders do, however each is spelt.
                let mut server_key = Interner::default();
                let mut spelling: Vec<&str> = Vec::new();
                let key_maps: Vec<Vec<u32>> = chunks
                    .iter()
                    .map(|(_, c)| {
                        c.servers
                            .iter()
                            .map(|(_, s)| {
                                let k = server_key.id(&s.to_ascii_lowercase());
                                if k as usize == spelling.len() {
                                    spelling.push(s);
                                }
                                k
                            })
                            .collect()
                    })
                    .collect();
                let mut server_of_key = vec![0u32; spelling.len()];
                for k in crate::bundle::in_path_order(&spelling) {
                    server_of_key[k] = servers.id(spelling[k]);
                }
                let server_maps: Vec<Vec<u32>> = key_maps
                    .into_iter()
                    .map(|m| m.into_iter().map(|k| server_of_key[k as usize]).collect())
                    .collect();
                Maps {
                    addrs: Vec::new(),
                    ids: Vec::new(),
                    ips: remap_all(ips, chunks, |c| &c.ips),
                    hosts: remap_all(hosts, chunks, |c| &c.hosts),
                    conns: remap_all(connectors, chunks, |c| &c.connectors),
                    codes: remap_all(codes, chunks, |c| &c.codes),
                    evn: remap_all(ev_names, chunks, |c| &c.ev_names),
                    subj: remap_all(subjects, chunks, |c| &c.subjects),
                    comps: remap_all(components, chunks, |c| &c.components),
                    servers: server_maps,
                }
            })
        },
    );
    Maps {
        addrs: addr_maps,
        ids,
        ..small
    }
}

/// Joins the chunks, in bundle order, into one model (rows in bundle order; `order` sorts them
/// by time). Ids first (`global_ids`), then the columns, two halves side by side.
pub fn merge(mut chunks: Vec<(u32, Chunk)>, entries: Vec<crate::ingest::EntryRef>) -> Model {
    let n: usize = chunks.iter().map(|(_, c)| c.time.len()).sum();
    let n_rcpt: usize = chunks.iter().map(|(_, c)| c.rcpt.len()).sum();
    let mut sw = crate::timing::Stopwatch::start();
    let mut m = Model::empty(entries);
    let maps = global_ids(&mut m, &chunks);
    sw.lap("merge: ids");
    let mut sessions: Vec<Vec<Session>> = chunks
        .iter_mut()
        .map(|(_, c)| std::mem::take(&mut c.sessions))
        .collect();
    let Model {
        time,
        ev,
        ev_name,
        src,
        msg,
        sender,
        server,
        flags,
        reference,
        client_ip,
        orig_client_ip,
        server_ip,
        client_host,
        server_host,
        connector,
        related,
        rcpt_count,
        subject,
        entry,
        line,
        rcpt_off,
        rcpt,
        rcpt_code,
        rcpt_kind,
        origination,
        parts,
        subject_flags,
        sessions: all_sessions,
        ..
    } = &mut m;
    let chunks = &chunks;
    let maps = &maps;
    rayon::join(
        || {
            time.reserve_exact(n);
            ev.reserve_exact(n);
            msg.reserve_exact(n);
            for (k, (e, c)) in chunks.iter().enumerate() {
                time.extend_from_slice(&c.time);
                ev.extend_from_slice(&c.ev);
                map_ids(ev_name, &c.ev_name, &maps.evn[k]);
                src.extend_from_slice(&c.src);
                map_ids(msg, &c.msg, &maps.ids[k]);
                map_ids(sender, &c.sender, &maps.addrs[k]);
                map_ids(server, &c.server, &maps.servers[k]);
                flags.extend_from_slice(&c.flags);
                map_ids(reference, &c.reference, &maps.ids[k]);
                map_ids(client_ip, &c.client_ip, &maps.ips[k]);
                map_ids(orig_client_ip, &c.orig_client_ip, &maps.ips[k]);
                map_ids(server_ip, &c.server_ip, &maps.ips[k]);
                entry.extend(std::iter::repeat_n(*e, c.time.len()));
                line.extend_from_slice(&c.line);
            }
        },
        || {
            rcpt.reserve_exact(n_rcpt);
            rcpt_off.reserve_exact(n + 1);
            rcpt_off.push(0);
            let mut base = 0u32;
            for (k, ((e, c), chunk_sessions)) in chunks.iter().zip(&mut sessions).enumerate() {
                for (local, &f) in maps.subj[k].iter().zip(&c.subject_flags) {
                    if *local as usize >= subject_flags.len() {
                        subject_flags.resize(*local as usize + 1, 0);
                    }
                    subject_flags[*local as usize] = f;
                }
                map_ids(client_host, &c.client_host, &maps.hosts[k]);
                map_ids(server_host, &c.server_host, &maps.hosts[k]);
                map_ids(connector, &c.connector, &maps.conns[k]);
                map_ids(related, &c.related, &maps.addrs[k]);
                rcpt_count.extend_from_slice(&c.rcpt_count);
                map_ids(subject, &c.subject, &maps.subj[k]);
                let off = rcpt.len() as u32;
                rcpt_off.extend(c.rcpt_off.iter().skip(1).map(|&o| o + off));
                map_ids(rcpt, &c.rcpt, &maps.addrs[k]);
                map_ids(rcpt_code, &c.rcpt_code, &maps.codes[k]);
                rcpt_kind.extend_from_slice(&c.rcpt_kind);
                origination.extend(c.origination.iter().map(|&(r, t)| (r + base, t)));
                parts.extend(c.parts.iter().map(|&(r, comp, ms)| LatencyPart {
                    row: r + base,
                    component: maps.comps[k][comp as usize],
                    ms,
                }));
                for mut s in chunk_sessions.drain(..) {
                    s.server = maps.servers[k][s.server as usize];
                    s.connector = if s.connector == NONE {
                        NONE
                    } else {
                        maps.conns[k][s.connector as usize]
                    };
                    s.entry = *e;
                    all_sessions.push(s);
                }
                base += c.time.len() as u32;
            }
        },
    );
    sw.lap("merge: columns");
    m.n = m.time.len();
    m.merge_sessions();
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model asks a row only for fields `MODEL_READS` names: one it asked for and the list
    /// missed would be left unplaced by the readers and unread from Parquet, absent from every
    /// input alike, and no comparison between inputs would notice.
    #[test]
    fn the_model_reads_only_what_it_says_it_reads() {
        let mut asked = Reads::NOTHING;
        // Every field set, in shapes that take the model's branches: a DSN answering a message,
        // with latency parts, a loop-header count, a mailbox rule, a SEND with DSN ids.
        let rows: [&[(Field, &str)]; 4] = [
            &[
                (Field::EventId, "DSN"),
                (Field::Source, "DSN"),
                (Field::Reference, "<orig@corp.example>"),
                (Field::MessageLatency, "00:00:01.2340000"),
                (Field::MessageLatencyType, "EndToEnd"),
            ],
            &[
                (Field::EventId, "THROTTLE"),
                (Field::Reference, "XLoopHeaderCount:3/3"),
            ],
            &[
                (Field::EventId, "RECEIVE"),
                (Field::Source, "MAILBOXRULE"),
                (Field::Directionality, "Incoming"),
            ],
            &[
                (Field::EventId, "SEND"),
                (Field::Source, "SMTP"),
                (Field::Reference, "<dsn@corp.example>"),
            ],
        ];
        for shape in rows {
            let mut b = ChunkBuilder::with_capacity(1);
            let mut row = Row::new(1_794_816_000_000, 1);
            row.server = "EX01";
            for f in Field::ALL {
                row.set(f, "x@corp.example");
            }
            row.set(
                Field::MessageInfo,
                "2026-11-16T08:00:00.000Z;SRV=ex01.corp:TOTAL-HUB=0.2",
            );
            row.set(Field::ReturnPath, "<>");
            for &(f, v) in shape {
                row.set(f, v);
            }
            row.recipients = Some("a@corp.example;b@corp.example");
            row.recipient_status = Some("550 5.2.2 full;250 2.1.5 OK");
            row.recipient_count = Some(2);
            Reads::asked();
            b.event(&row);
            asked = asked.union(Reads::asked());
        }
        assert!(
            asked.within(MODEL_READS),
            "the model asked for {:?}, beyond {:?}",
            asked.text_fields().collect::<Vec<_>>(),
            MODEL_READS.text_fields().collect::<Vec<_>>()
        );
        assert!(
            MODEL_READS.within(asked),
            "MODEL_READS names fields the model never asks for: {:?}",
            MODEL_READS
                .text_fields()
                .filter(|&f| !asked.has(f))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn lower_copies_only_names_with_capitals() {
        let mut buf = String::new();
        // The bytes around A-Z ('@', '[', '`', '{') and non-ASCII letters are not capitals.
        for s in ["a@b.c", "x[y]`z{", "ümlaut@exämple", "", "0123456789"] {
            let out = lower(s, &mut buf);
            assert_eq!(out, s);
            assert!(std::ptr::eq(out, s), "{s} was copied");
        }
        for (s, want) in [("A@B.C", "a@b.c"), ("aZ", "az"), ("Ümlaut@X", "Ümlaut@x")] {
            assert_eq!(lower(s, &mut buf), want);
        }
    }

    #[test]
    fn message_info_keeps_the_rows_own_server() {
        let mut c = Chunk::default();
        message_info(
            &mut c,
            7,
            "1mail-edge01",
            "2023-04-02T14:45:54.400Z;SRV=1mail-exch01.test.com:TOTAL-SUB=0.167|SA=0.087|MTSS-PEN=0.080(MTSSD-PEN=0.078(MTSSDA=0.002));SRV=1mail-edge01.test.com:TOTAL-EDGE=1.362|SMR=0.122(SMRDI=0.006)|QDE=0.228|SMS=0.785",
        );
        assert_eq!(c.origination, [(7, 1680446754400)]);
        let parts: Vec<(&str, u32)> = c
            .parts
            .iter()
            .map(|&(_, comp, ms)| (c.components.name(comp), ms))
            .collect();
        assert_eq!(
            parts,
            [
                ("TOTAL-EDGE", 1362),
                ("SMR", 122),
                ("QDE", 228),
                ("SMS", 785)
            ]
        );
    }

    #[test]
    fn sharded_ids_are_the_ids_of_first_appearance() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for (chunks, names, per_chunk) in [(1, 5, 3), (7, 300, 200), (40, 20_000, 3_000)] {
            let locals: Vec<Interner> = (0..chunks)
                .map(|_| {
                    let mut l = Interner::default();
                    for _ in 0..per_chunk {
                        // Short and long names, the empty name, and many repeats.
                        let n: u32 = rng.random_range(0..names);
                        l.id(&if n == 0 {
                            String::new()
                        } else {
                            format!("<{n:x}@x>")
                        });
                    }
                    l
                })
                .collect();
            let refs: Vec<&Interner> = locals.iter().collect();
            let mut plain = Interner::default();
            let want: Vec<Vec<u32>> = locals.iter().map(|l| remap(&mut plain, l)).collect();
            let (sharded, maps) = intern_sharded(&refs);
            assert_eq!(maps, want);
            assert_eq!(sharded.len(), plain.len());
            for (i, name) in plain.iter() {
                assert_eq!(sharded.name(i), name);
                assert_eq!(
                    sharded.get(name),
                    Some(i),
                    "the table finds what was pushed"
                );
            }
        }
    }

    #[test]
    fn timespans() {
        assert_eq!(dotnet_timespan_ms("00:00:01.2340000"), Some(1234));
        assert_eq!(dotnet_timespan_ms("1.02:00:00"), Some(93_600_000));
        assert_eq!(dotnet_timespan_ms("garbage"), None);
        assert_eq!(message_key("<a@b>"), "a@b");
        assert_eq!(message_key(" a@b "), "a@b");
    }
}
