//! The ingest stage: bundle entries in, rows out, plus the inventory of what was read.
//!
//! Each input format has one reader behind [`LogReader`]; an entry is given to the first reader
//! that recognises its *content* (header lines or CSV header row), whatever its name. Readers
//! push canonical rows ([`schema::Row`]) into a [`Sink`]; what the sink makes of them is the
//! caller's choice, through a [`Collector`]: nothing but counts for the inventory
//! ([`inventory`]), the canonical Polars frames ([`load`]), or the analysis' compact model
//! (`analyze::model`). Every mode sees exactly the same rows, so `inspect`, `report` and the
//! frames never disagree on counts. Entries are read in parallel and their results kept in
//! bundle order: the entries' paths in one fixed order (`bundle::names::path_order`), not the
//! order an archive happens to list them in, so the same logs always give the same output,
//! however zipped.

pub mod builders;
pub mod csv_export;
mod decode;
pub mod evidence;
pub mod fields;
mod inventory;
pub mod layout;
pub mod parquet;
pub mod protocol;
pub mod schema;
pub mod tracking;
pub mod version;
pub(crate) mod w3c;

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bundle::{Bundle, Entry, Limits};
use crate::error::Result;
use crate::human::rfc3339;
use decode::{decode, Decoded};
use layout::{file_name, server_from_path};
use schema::{Reads, Row};

pub use inventory::{Inventory, KindTotal, Period};

/// What an entry was read as. The names are part of the `inspect --json` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogKind {
    MessageTracking,
    SmtpReceive,
    SmtpSend,
    PowershellCsv,
    ExoTrace,
    Skipped,
}

impl LogKind {
    /// The one spelling of each kind, used by the JSON and the tables alike.
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::MessageTracking => "message_tracking",
            LogKind::SmtpReceive => "smtp_receive",
            LogKind::SmtpSend => "smtp_send",
            LogKind::PowershellCsv => "powershell_csv",
            LogKind::ExoTrace => "exo_trace",
            LogKind::Skipped => "skipped",
        }
    }

    /// Kinds whose rows are message events (tracking logs and their exports).
    pub fn has_events(self) -> bool {
        matches!(
            self,
            LogKind::MessageTracking | LogKind::PowershellCsv | LogKind::ExoTrace
        )
    }

    pub const ALL: [LogKind; 6] = [
        LogKind::MessageTracking,
        LogKind::SmtpReceive,
        LogKind::SmtpSend,
        LogKind::PowershellCsv,
        LogKind::ExoTrace,
        LogKind::Skipped,
    ];

    /// The kind [`LogKind::as_str`] spells `s`.
    pub fn parse(s: &str) -> Option<LogKind> {
        LogKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl<'de> Deserialize<'de> for LogKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        LogKind::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown log kind {s:?}")))
    }
}

impl Serialize for LogKind {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Settings that change how entries are read.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: Limits,
    /// chrono format for PowerShell timestamps; detected when `None`.
    pub csv_time_format: Option<String>,
    /// UTC offset of the machine that exported PowerShell CSVs; `None` means assume UTC (and say so).
    pub tz: Option<chrono::FixedOffset>,
}

/// Told how far reading has got (the command shows it; ingest does not draw anything).
pub trait Progress: Sync {
    fn start(&self, _total_bytes: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

/// No progress report.
pub struct Quiet;
impl Progress for Quiet {}

/// One line that could not be read, with where it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Malformed {
    pub path: String,
    pub line: u64,
    pub reason: String,
}

/// The inventory record of one bundle entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    pub kind: LogKind,
    /// The server that wrote the file: its bundle folder, or the host its rows name (several,
    /// comma-separated, where a file mixes rows logged by several servers).
    pub server: Option<String>,
    /// `#Version` of the file, or the build its rows carry, in words.
    pub version: Option<String>,
    pub rows: u64,
    pub malformed: u64,
    pub sha256: String,
    pub bytes: u64,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Why a skipped entry was not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The entry this one is a copy of (the same SHA-256, or the start of its bytes), which
    /// was read in its place: a log collected twice is counted once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
}

/// Where each physical line of a file went. `total = rows + malformed + directives + blank`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Lines {
    pub total: u64,
    pub rows: u64,
    pub directives: u64,
    pub blank: u64,
}

/// What a reader made of one entry.
#[derive(Default)]
pub struct Parsed {
    pub rows: u64,
    pub malformed: Vec<Malformed>,
    /// Physical lines that could not be read (a broken record spanning three lines counts 3).
    pub malformed_total: u64,
    pub warnings: Vec<String>,
    /// `#Version` of the file.
    pub version: Option<String>,
    /// What the column count of a header-less file suggests.
    pub inferred_version: Option<String>,
    /// Rows per server named by the rows (hosts, PSComputerName).
    pub row_servers: BTreeMap<String, u64>,
    /// Rows per `schema-version` value (the build that wrote them).
    pub builds: BTreeMap<String, u64>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Rows per UTC day, with the first row of each day, to find rows far from the rest.
    pub days: BTreeMap<i64, (u64, u64)>,
    pub leap_seconds: u64,
    pub lines: Lines,
    /// A protocol log's local IP addresses (where its sessions start; on every line without a
    /// server folder), each with the server its folder or the line names (`None`: neither, as
    /// no SMTP Send line does). They give a Send log without a folder its server
    /// (`name_servers`).
    pub local_ips: Vec<(String, Option<String>)>,
    /// A tracking log in a server folder: the server its first row that says so for certain
    /// names as the one that logged it (the logging side of its hop, [`schema::hop_sides`],
    /// short).
    pub host: Option<String>,
}

/// At most this many malformed lines are listed per entry; all are counted.
pub const MALFORMED_LISTED_PER_ENTRY: usize = 50;

impl Parsed {
    /// Counts a malformed record of `lines` physical lines starting at `line`.
    pub fn bad_line(&mut self, path: &str, line: u64, lines: u32, reason: impl Into<String>) {
        self.malformed_total += lines as u64;
        if self.malformed.len() < MALFORMED_LISTED_PER_ENTRY {
            let mut reason = reason.into();
            if lines > 1 {
                reason.push_str(&format!(" (a record of {lines} lines)"));
            }
            self.malformed.push(Malformed {
                path: path.to_string(),
                line,
                reason,
            });
        }
    }

    /// Records that a protocol line was written on the local address `ip`, by `server` if the
    /// folder or the line says so.
    pub fn saw_local(&mut self, ip: &str, server: Option<&str>) {
        if !ip.is_empty()
            && !self
                .local_ips
                .iter()
                .any(|(i, s)| i == ip && s.as_deref() == server)
        {
            self.local_ips
                .push((ip.to_string(), server.map(str::to_string)));
        }
    }

    /// Records a row's time and server, for the inventory.
    pub fn saw(&mut self, ms: i64, line: u64, server: &str) {
        self.start = Some(self.start.map_or(ms, |s| s.min(ms)));
        self.end = Some(self.end.map_or(ms, |e| e.max(ms)));
        let d = self.days.entry(ms.div_euclid(DAY_MS)).or_insert((0, line));
        d.0 += 1;
        if !server.is_empty() {
            match self.row_servers.get_mut(server) {
                Some(n) => *n += 1,
                None => {
                    self.row_servers.insert(server.to_string(), 1);
                }
            }
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// Context a reader gets with the text.
pub struct EntryCtx<'a> {
    pub path: &'a str,
    /// Server named by the bundle's folder layout, if any.
    pub server: Option<&'a str>,
    pub opts: &'a Options,
    /// The parts of a row the sink reads ([`Collector::reads`]): a reader may place only these
    /// and what the inventory itself needs (the time, the server, the schema version).
    pub reads: Reads,
}

/// One SMTP protocol log line on its way into a sink.
pub struct ProtoLine<'a> {
    pub time_ms: i64,
    pub line: u32,
    pub server: &'a str,
    pub kind: LogKind,
    pub connector: &'a str,
    pub session: &'a str,
    pub sequence: Option<u32>,
    pub local: &'a str,
    pub remote: &'a str,
    pub event: &'a str,
    pub data: &'a str,
    pub context: &'a str,
    pub extra: &'a str,
}

/// Where readers put what they read.
pub trait Sink {
    fn event(&mut self, row: &Row<'_>);
    fn protocol(&mut self, _line: &ProtoLine<'_>) {}
}

/// A sink that keeps nothing (the inventory's counts are in [`Parsed`]).
pub struct Discard;
impl Sink for Discard {
    fn event(&mut self, _row: &Row<'_>) {}
}

/// Decides what is built from the rows of each entry, and hands the result back per entry.
pub trait Collector: Sync {
    type Sink: Sink;
    type Chunk: Send;
    /// A sink for one entry; `lines` gives the entry's line count (a capacity hint), counted
    /// only when asked for (it is a pass over the entry's bytes).
    fn sink(&self, ctx: &EntryCtx<'_>, kind: LogKind, lines: &dyn Fn() -> usize) -> Self::Sink;
    fn finish(&self, sink: Self::Sink, ctx: &EntryCtx<'_>, kind: LogKind) -> Result<Self::Chunk>;
    /// The parts of an event row its sinks read: what readers place ([`EntryCtx::reads`]), and
    /// the columns a Parquet export is read for. One a sink reads and this does not name reads
    /// as absent from every input alike.
    fn reads(&self) -> Reads {
        Reads::ALL
    }
}

/// One input format.
pub trait LogReader: Sync {
    /// Recognises the format from the entry's name and first lines; returns the kind it reads.
    fn sniff(&self, name: &str, head: &str) -> Option<LogKind>;
    /// Reads the whole text into `sink`. Bad lines are reported in the result, never dropped
    /// silently.
    fn read(
        &self,
        kind: LogKind,
        text: &str,
        ctx: &EntryCtx<'_>,
        sink: &mut dyn Sink,
    ) -> Result<Parsed>;
}

/// Every format, in the order they are tried.
pub static READERS: [&dyn LogReader; 3] = [
    &tracking::TrackingReader,
    &protocol::ProtocolReader,
    &csv_export::CsvExportReader,
];

/// The reader for a kind of entry.
pub fn reader_for(kind: LogKind) -> Option<&'static dyn LogReader> {
    match kind {
        LogKind::MessageTracking => Some(READERS[0]),
        LogKind::SmtpReceive | LogKind::SmtpSend => Some(READERS[1]),
        LogKind::PowershellCsv | LogKind::ExoTrace => Some(READERS[2]),
        LogKind::Skipped => None,
    }
}

/// Where an entry's rows came from, for reading evidence back later.
#[derive(Debug, Clone)]
pub struct EntryRef {
    pub path: String,
    pub kind: LogKind,
    pub server: Option<String>,
    /// The bundle's top-level entry it was read from ([`Bundle::read_one`]).
    pub top: usize,
    /// SHA-256 of the bytes read, to check what is read back against.
    pub sha256: String,
}

/// What the rows were read from, to read evidence rows back from.
pub enum Input {
    /// Logs: evidence is read again from the entry, by line.
    Bundle(Bundle),
    /// Parquet exports: evidence is looked up in the rows kept from the export.
    Parquet(parquet::read::Rows),
}

/// What a reader noted about one entry beyond its rows (its warnings, leap seconds), kept by
/// `export` beside the inventory so that a report on the export says what one on the logs says.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EntryNote {
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leap_seconds: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What reading a bundle with a collector gives.
pub struct ReadOut<C> {
    pub input: Input,
    pub inventory: Inventory,
    /// Every entry, in bundle order; its index is the `index` its rows carry.
    pub entries: Vec<EntryRef>,
    /// One chunk per read entry, in bundle order, with the entry's index.
    pub chunks: Vec<(u32, C)>,
    /// The entries with warnings or leap seconds, in bundle order.
    pub notes: Vec<EntryNote>,
    /// Entries read twice, as another server's the second time (`name_servers`).
    pub read_again: ReadAgain,
}

struct Outcome<C> {
    info: FileInfo,
    top: usize,
    /// The servers the file's rows belong to.
    servers: Vec<String>,
    parsed: Parsed,
    chunk: Option<C>,
}

/// Reads a bundle end to end through `collector`.
pub fn read<C: Collector>(
    path: &Path,
    opts: &Options,
    collector: &C,
    progress: &dyn Progress,
) -> Result<ReadOut<C::Chunk>> {
    if let Some(exports) = parquet::read::find(path)? {
        return parquet::read::read(path, &exports, opts, collector, progress);
    }
    let bundle = Bundle::open(path, opts.limits)?;
    progress.start(bundle.declared_bytes);
    let outcomes = bundle.par_map(|entry| {
        let n = entry.data.len() as u64;
        let out = read_entry(entry, opts, collector, None);
        progress.advance(n);
        out
    })?;
    progress.finish();
    let (outcomes, read_again) = name_servers(&bundle, outcomes, opts, collector)?;
    let mut sw = crate::timing::Stopwatch::start();
    let display = bundle.display.clone();
    let sha256 = bundle.sha256();
    let mut out = inventory::assemble(display, sha256, Input::Bundle(bundle), outcomes)?;
    out.read_again = read_again;
    sw.lap("inventory");
    Ok(out)
}

/// The inventory only (`inspect`): every line is read and checked, nothing is kept.
pub fn inventory(path: &Path, opts: &Options, progress: &dyn Progress) -> Result<Inventory> {
    struct Count;
    impl Collector for Count {
        type Sink = Discard;
        type Chunk = ();
        fn sink(&self, _: &EntryCtx<'_>, _: LogKind, _: &dyn Fn() -> usize) -> Discard {
            Discard
        }
        fn finish(&self, _: Discard, _: &EntryCtx<'_>, _: LogKind) -> Result<()> {
            Ok(())
        }
        fn reads(&self) -> Reads {
            Reads::NOTHING
        }
    }
    Ok(read(path, opts, &Count, progress)?.inventory)
}

/// The frames everything can be exported as: the documented canonical schema.
pub struct Frames {
    /// Canonical message events: one row per tracking/export row (not per recipient).
    pub events: DataFrame,
    /// SMTP protocol log lines.
    pub protocol: DataFrame,
    /// SMTP sessions assembled from the protocol lines.
    pub sessions: DataFrame,
}

/// A bundle read into the canonical frames.
pub struct Loaded {
    pub inventory: Inventory,
    pub frames: Frames,
    /// What the readers noted per entry (see [`EntryNote`]).
    pub notes: Vec<EntryNote>,
}

/// Reads a bundle into the canonical Polars frames (`trace`, `export`, library users).
pub fn load(path: &Path, opts: &Options) -> Result<Loaded> {
    let out = read(path, opts, &builders::FramesCollector, &Quiet)?;
    let mut events = Vec::new();
    let mut protocol = Vec::new();
    let mut sessions = Vec::new();
    for (_, c) in out.chunks {
        events.extend(c.events);
        protocol.extend(c.protocol);
        sessions.extend(c.sessions);
    }
    Ok(Loaded {
        notes: out.notes,
        inventory: out.inventory,
        frames: Frames {
            events: stack(events, tracking::empty_events)?,
            protocol: stack(protocol, protocol::empty_protocol)?,
            sessions: protocol::merge_sessions(&sessions)?,
        },
    })
}

fn skipped<C>(entry: &Entry<'_>, reason: impl Into<String>) -> Outcome<C> {
    Outcome {
        top: entry.top,
        info: FileInfo {
            path: entry.path.clone(),
            kind: LogKind::Skipped,
            server: server_from_path(&entry.path),
            version: None,
            rows: 0,
            malformed: 0,
            sha256: entry.sha256.clone(),
            bytes: entry.data.len() as u64,
            start: None,
            end: None,
            skipped: Some(reason.into()),
            copy_of: None,
        },
        servers: Vec::new(),
        parsed: Parsed::default(),
        chunk: None,
    }
}

/// Reads one entry; `server`, when given, is the server it is read as, in place of its
/// folder's ([`name_servers`]).
fn read_entry<C: Collector>(
    entry: Entry<'_>,
    opts: &Options,
    collector: &C,
    server: Option<&str>,
) -> Result<Outcome<C::Chunk>> {
    if let Some(n) = entry.container {
        return Ok(skipped(
            &entry,
            format!(
                "archive: its {n} members are listed as `{}!/...`",
                entry.path
            ),
        ));
    }
    if let Some(why) = entry.not_read {
        return Ok(skipped(&entry, why));
    }
    if entry.data.is_empty() {
        return Ok(skipped(&entry, "empty file"));
    }
    let text = match decode(&entry.path, entry.data)? {
        Decoded::Text(t) => t,
        Decoded::Binary(why) => return Ok(skipped(&entry, why)),
    };
    let head_end = text.char_indices().nth(8192).map_or(text.len(), |(i, _)| i);
    let head = &text[..head_end];
    let name = file_name(&entry.path);
    let found = READERS
        .iter()
        .find_map(|r| r.sniff(name, head).map(|k| (*r, k)));
    let Some((reader, kind)) = found else {
        return Ok(skipped(
            &entry,
            "not a recognised log: no `#Log-type`/`#Fields` header or known CSV header row",
        ));
    };
    let folder_server = server
        .map(str::to_string)
        .or_else(|| server_from_path(&entry.path));
    let ctx = EntryCtx {
        path: &entry.path,
        server: folder_server.as_deref(),
        opts,
        reads: collector.reads(),
    };
    let lines = || memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    let mut sink = collector.sink(&ctx, kind, &lines);
    let parsed = reader.read(kind, &text, &ctx, &mut sink)?;
    let chunk = collector.finish(sink, &ctx, kind)?;
    let servers = servers_of(folder_server.as_deref(), kind, &parsed.row_servers);
    let server = (!servers.is_empty()).then(|| servers.join(", "));
    Ok(Outcome {
        top: entry.top,
        info: FileInfo {
            path: entry.path.clone(),
            kind,
            server,
            version: describe_version(&parsed, kind),
            rows: parsed.rows,
            malformed: parsed.malformed_total,
            sha256: entry.sha256.clone(),
            bytes: entry.data.len() as u64,
            start: parsed.start.map(rfc3339),
            end: parsed.end.map(rfc3339),
            skipped: None,
            copy_of: None,
        },
        servers,
        parsed,
        chunk: Some(chunk),
    })
}

/// Entries read a second time as another server's, each with the server its first reading
/// wrote its rows as (`export` removes what that reading wrote).
pub type ReadAgain = Vec<(String, String)>;

/// Gives each entry the server that wrote it where its folder or its lines do not say so
/// rightly, by reading it again as that server's once every entry has been read:
/// - A server folder whose tracking logs all name another server as their own
///   (`EX01_logs/` holding EX01's logs, by the first row of each that says so for certain):
///   its files are that server's. Otherwise its rows would take the folder's name, and hops,
///   latency sections and the flow between servers, which name the server, would miss them.
/// - An SMTP Send log without a server folder: a Send line names no server (its connector id
///   is the connector's name alone), so it would be the "unknown" server's. Its local address
///   says whose it is where other lines of the bundle name a server for that address (a
///   receive connector's id is `SERVER\name`); failing that, in a bundle without server
///   folders whose files name one server only, it is that one's (one server's `Logs` folder,
///   zipped as it is). One whose addresses point at several servers, or at none in a bundle of
///   several, stays "unknown".
///
/// `inventory::assemble` says what became of each in a warning, once copies are set aside.
fn name_servers<C: Collector>(
    bundle: &Bundle,
    outcomes: Vec<Outcome<C::Chunk>>,
    opts: &Options,
    collector: &C,
) -> Result<(Vec<Outcome<C::Chunk>>, ReadAgain)> {
    let mut again = Vec::new();
    let renames = folder_renames(&outcomes);
    let outcomes = read_again(bundle, outcomes, opts, collector, &renames, &mut again)?;
    let send = send_log_servers(&outcomes);
    let outcomes = read_again(bundle, outcomes, opts, collector, &send, &mut again)?;
    Ok((outcomes, again))
}

/// The raw logs of server folders whose tracking logs all name one other server as the one
/// that logged them, with that server. Exports are left as they are: their rows name their
/// servers (PSComputerName).
fn folder_renames<C>(outcomes: &[Outcome<C>]) -> Vec<(usize, String)> {
    // Per folder: the server its tracking logs name (None once two disagree).
    let mut hosts: BTreeMap<String, Option<&str>> = BTreeMap::new();
    for o in outcomes {
        let (Some(folder), Some(host)) = (server_from_path(&o.info.path), o.parsed.host.as_deref())
        else {
            continue;
        };
        hosts
            .entry(folder)
            .and_modify(|h| {
                if h.is_some_and(|h| !h.eq_ignore_ascii_case(host)) {
                    *h = None;
                }
            })
            .or_insert(Some(host));
    }
    outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            matches!(
                o.info.kind,
                LogKind::MessageTracking | LogKind::SmtpReceive | LogKind::SmtpSend
            )
        })
        .filter_map(|(i, o)| {
            let folder = server_from_path(&o.info.path)?;
            let host = (*hosts.get(&folder)?)?;
            (!host.eq_ignore_ascii_case(&folder)).then(|| (i, host.to_string()))
        })
        .collect()
}

/// The SMTP Send logs without a server folder whose server is found, with it.
fn send_log_servers<C>(outcomes: &[Outcome<C>]) -> Vec<(usize, String)> {
    let unnamed =
        |o: &Outcome<C>| inventory::send_log_without_folder(&o.info) && o.servers == ["unknown"];
    if !outcomes.iter().any(unnamed) {
        return Vec::new();
    }
    let mut by_ip: BTreeMap<&str, BTreeMap<String, &str>> = BTreeMap::new();
    let mut named: BTreeMap<String, &str> = BTreeMap::new();
    // One server's folder zipped as it is has no server folders at all; a bundle with some has
    // other servers' logs, and a log outside them may come from a server not named anywhere.
    let flat = outcomes
        .iter()
        .all(|o| o.info.kind == LogKind::Skipped || server_from_path(&o.info.path).is_none());
    for o in outcomes {
        for (ip, s) in &o.parsed.local_ips {
            if let Some(s) = s {
                by_ip
                    .entry(ip.as_str())
                    .or_default()
                    .insert(s.to_ascii_lowercase(), s.as_str());
            }
        }
        // An online trace's "server" is the service, not a server of the bundle.
        if o.info.kind == LogKind::ExoTrace {
            continue;
        }
        for s in o.servers.iter().filter(|s| *s != "unknown") {
            named.insert(s.to_ascii_lowercase(), s.as_str());
        }
    }
    let mut found = Vec::new();
    for (i, o) in outcomes.iter().enumerate().filter(|(_, o)| unnamed(o)) {
        let mut servers: BTreeMap<&str, &str> = BTreeMap::new();
        for (ip, _) in &o.parsed.local_ips {
            for (k, s) in by_ip.get(ip.as_str()).into_iter().flatten() {
                servers.insert(k.as_str(), s);
            }
        }
        let server = match (servers.len(), named.len()) {
            (1, _) => servers.values().next(),
            (0, 1) if flat => named.values().next(),
            _ => None,
        };
        if let Some(s) = server {
            found.push((i, s.to_string()));
        }
    }
    found
}

/// Reads the entries `which` names again, each as the server given, in place of their first
/// reading; an entry changed since (another digest) keeps its first reading. One reading of each
/// top-level entry serves all of its members (a server's zip inside the bundle).
fn read_again<C: Collector>(
    bundle: &Bundle,
    mut outcomes: Vec<Outcome<C::Chunk>>,
    opts: &Options,
    collector: &C,
    which: &[(usize, String)],
    again: &mut ReadAgain,
) -> Result<Vec<Outcome<C::Chunk>>> {
    use rayon::iter::{IntoParallelIterator, ParallelIterator};
    // Per top-level entry: (outcome, path, digest, server) of each member to read again.
    let mut by_top: BTreeMap<usize, Vec<(usize, String, String, &str)>> = BTreeMap::new();
    for (i, server) in which {
        let o = &outcomes[*i];
        by_top.entry(o.top).or_default().push((
            *i,
            o.info.path.clone(),
            o.info.sha256.clone(),
            server.as_str(),
        ));
    }
    let read: Vec<Vec<_>> = by_top
        .into_par_iter()
        .map(|(top, jobs)| {
            let paths: Vec<&str> = jobs.iter().map(|j| j.1.as_str()).collect();
            bundle.read_top(top, Some(&paths), &|e: Entry<'_>| {
                // Only the paths asked for are handed over.
                let Some((i, _, was, server)) = jobs.iter().find(|j| j.1 == e.path) else {
                    return Ok(None);
                };
                if e.sha256 != *was {
                    return Ok(None);
                }
                let o: Outcome<C::Chunk> = read_entry(e, opts, collector, Some(server))?;
                Ok(Some((*i, o)))
            })
        })
        .collect::<Result<_>>()?;
    for (i, o) in read.into_iter().flatten().flatten() {
        // What the first reading wrote its rows as: the folder's name, or "unknown".
        let first = server_from_path(&outcomes[i].info.path).unwrap_or_else(|| "unknown".into());
        again.push((outcomes[i].info.path.clone(), first));
        outcomes[i] = o;
    }
    Ok(outcomes)
}

/// The servers an entry's rows belong to. Raw logs belong to the folder they were copied from;
/// exports and folder-less files to the servers their rows name; online traces to the service.
fn servers_of(
    folder: Option<&str>,
    kind: LogKind,
    row_servers: &BTreeMap<String, u64>,
) -> Vec<String> {
    match (folder, kind) {
        (_, LogKind::ExoTrace) => vec![csv_export::ONLINE.to_string()],
        (Some(f), k) if k != LogKind::PowershellCsv || row_servers.is_empty() => {
            vec![f.to_string()]
        }
        _ => row_servers.keys().cloned().collect(),
    }
}

/// The version line of the inventory: the file's `#Version`, else the build its rows carry,
/// in words, saying when the columns were only inferred from their count. Protocol logs write
/// `15.0.0.0` whatever the build, so theirs is shown as it is.
fn describe_version(p: &Parsed, kind: LogKind) -> Option<String> {
    if !kind.has_events() {
        return p.version.clone();
    }
    let build = p
        .builds
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(b, _)| b.as_str());
    let named = |v: &str| match version::product(v) {
        Some(p) => format!("{v} ({p})"),
        None => v.to_string(),
    };
    match (&p.version, build, &p.inferred_version) {
        (Some(v), _, _) => Some(named(v)),
        (None, Some(b), Some(inferred)) => Some(format!("{}; no header, {inferred}", named(b))),
        (None, Some(b), None) => Some(named(b)),
        (None, None, Some(inferred)) => Some(format!("no header; {inferred}")),
        (None, None, None) => None,
    }
}

fn stack(chunks: Vec<DataFrame>, empty: impl Fn() -> PolarsResult<DataFrame>) -> Result<DataFrame> {
    match vstack(chunks)? {
        Some(df) => Ok(df),
        None => Ok(empty()?),
    }
}

/// Frames of one schema stacked in order (their chunks kept); `None` when there are none.
pub(crate) fn vstack(frames: Vec<DataFrame>) -> Result<Option<DataFrame>> {
    let mut it = frames.into_iter();
    let Some(mut df) = it.next() else {
        return Ok(None);
    };
    for f in it {
        df.vstack_mut_owned(f)?;
    }
    Ok(Some(df))
}
