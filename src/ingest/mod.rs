//! The ingest stage: bundle entries in, canonical Polars frames and an inventory out.
//!
//! Each input format has one reader module behind [`LogReader`]; an entry is given to the first
//! reader that recognises its *content* (header lines or CSV header row), whatever its name.
//! Entries are decoded, parsed and turned into frame chunks in parallel, then stacked in bundle
//! order so that the same bundle always gives the same frames.

pub mod exo;
pub mod export;
pub mod fields;
pub mod powershell;
pub mod protocol;
pub mod schema;
pub mod tracking;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::*;
use serde::Serialize;

use crate::bundle::{folder_digest, Bundle, Entry, Limits};
use crate::error::{Error, Result};

/// What an entry was read as. The JSON names are part of the `inspect --json` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    MessageTracking,
    SmtpReceive,
    SmtpSend,
    PowershellCsv,
    ExoTrace,
    Skipped,
}

impl LogKind {
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
}

/// Settings that change how entries are read.
#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    /// chrono format for PowerShell timestamps; detected when `None`.
    pub csv_time_format: Option<String>,
    /// UTC offset of the machine that exported PowerShell CSVs; `None` means assume UTC (and say so).
    pub tz: Option<chrono::FixedOffset>,
    /// Build the frames (`report`, `trace`) or only count (`inspect`).
    pub build_frames: bool,
    /// Show a progress bar on stderr (only honoured on a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            csv_time_format: None,
            tz: None,
            build_frames: true,
            progress: false,
        }
    }
}

/// One line that could not be read, with where it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Malformed {
    pub path: String,
    pub line: u64,
    pub reason: String,
}

/// The inventory record of one bundle entry.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub kind: LogKind,
    pub server: Option<String>,
    /// `#Version` of the file, or what the column count says for a header-less file.
    pub version: Option<String>,
    pub rows: u64,
    pub malformed: u64,
    pub sha256: String,
    pub bytes: u64,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Why a skipped entry was not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// What a reader made of one entry.
#[derive(Default)]
pub struct Parsed {
    pub rows: u64,
    pub malformed: Vec<Malformed>,
    pub malformed_total: u64,
    pub warnings: Vec<String>,
    pub version: Option<String>,
    pub server: Option<String>,
    /// Servers named by the rows themselves (PowerShell exports cover several servers).
    pub row_servers: std::collections::BTreeSet<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub events: Option<DataFrame>,
    pub protocol: Option<DataFrame>,
    /// This file's part of the sessions frame (joined across files at the end).
    pub sessions: Option<DataFrame>,
}

/// At most this many malformed lines are listed per entry; all are counted.
pub const MALFORMED_LISTED_PER_ENTRY: usize = 50;

impl Parsed {
    pub fn bad_line(&mut self, path: &str, line: u64, reason: impl Into<String>) {
        self.malformed_total += 1;
        if self.malformed.len() < MALFORMED_LISTED_PER_ENTRY {
            self.malformed.push(Malformed {
                path: path.to_string(),
                line,
                reason: reason.into(),
            });
        }
    }

    pub fn saw_time(&mut self, ms: i64) {
        self.start = Some(self.start.map_or(ms, |s| s.min(ms)));
        self.end = Some(self.end.map_or(ms, |e| e.max(ms)));
    }
}

/// Context a reader gets with the text.
pub struct EntryCtx<'a> {
    pub path: &'a str,
    /// Server named by the bundle's folder layout, if any.
    pub server: Option<&'a str>,
    pub opts: &'a Options,
}

/// One input format.
pub trait LogReader: Sync {
    /// Recognises the format from the entry's name and first lines; returns the kind it reads.
    fn sniff(&self, name: &str, head: &str) -> Option<LogKind>;
    /// Reads the whole text. Bad lines are reported in the result, never dropped silently.
    fn read(&self, kind: LogKind, text: &str, ctx: &EntryCtx<'_>) -> Result<Parsed>;
}

static READERS: [&dyn LogReader; 4] = [
    &tracking::TrackingReader,
    &protocol::ProtocolReader,
    &powershell::PowershellReader,
    &exo::ExoReader,
];

/// The frames everything downstream works on.
pub struct Frames {
    /// Canonical message events: one row per tracking/export row (not per recipient).
    pub events: DataFrame,
    /// SMTP protocol log lines.
    pub protocol: DataFrame,
    /// SMTP sessions assembled from the protocol lines.
    pub sessions: DataFrame,
}

/// The bundle's inventory: the `inspect` output and the `bundle` part of the findings.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub bundle: String,
    pub sha256: String,
    /// Message-tracking rows (tracking logs, PowerShell exports and online traces).
    pub events: u64,
    pub protocol_lines: u64,
    pub start: Option<String>,
    pub end: Option<String>,
    pub servers: Vec<String>,
    pub files: Vec<FileInfo>,
    pub malformed_total: u64,
    /// Malformed lines with entry and line number (at most 50 listed per entry; all counted).
    pub malformed_lines: Vec<Malformed>,
    pub warnings: Vec<String>,
    pub totals: BTreeMap<String, KindTotal>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KindTotal {
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// The result of reading a bundle.
pub struct Loaded {
    pub inventory: Inventory,
    pub frames: Option<Frames>,
}

struct Outcome {
    info: FileInfo,
    parsed: Parsed,
}

/// Reads a bundle end to end.
pub fn load(path: &Path, opts: &Options) -> Result<Loaded> {
    let bundle = Bundle::open(path, opts.limits)?;
    let bar = progress_bar(&bundle, opts);
    let done = AtomicU64::new(0);
    let outcomes = bundle.par_map(|entry| {
        let n = entry.data.len() as u64;
        let out = read_entry(entry, opts);
        if let Some(bar) = &bar {
            let total = done.fetch_add(n, Ordering::Relaxed) + n;
            bar.set_position(total);
        }
        out
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut sw = crate::timing::Stopwatch::start();
    let out = assemble(&bundle, outcomes, opts);
    sw.lap("stack frames");
    out
}

fn progress_bar(bundle: &Bundle, opts: &Options) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !opts.progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(bundle.declared_bytes.max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "reading {bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

/// Folder names that are part of Exchange's own log layout, so never a server name.
const LAYOUT_DIRS: &[&str] = &[
    "transportroles",
    "logs",
    "messagetracking",
    "hub",
    "frontend",
    "mailbox",
    "protocollog",
    "smtpreceive",
    "smtpsend",
    "delivery",
    "submission",
    "program files",
    "microsoft",
    "exchange server",
    "exchange",
    "v14",
    "v15",
    "edge",
    "messagetrace",
    "powershell",
];

/// The server a file belongs to, from the bundle layout (`EX01/TransportRoles/Logs/...`): the
/// nearest enclosing folder that is not part of Exchange's own layout.
pub fn server_from_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split(['/', '!']).filter(|p| !p.is_empty()).collect();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    dirs.iter().rev().find_map(|d| {
        let lower = d.to_ascii_lowercase();
        if LAYOUT_DIRS.contains(&lower.as_str()) {
            return None;
        }
        let name = d
            .strip_suffix(".zip")
            .or_else(|| d.strip_suffix(".ZIP"))
            .unwrap_or(d);
        (!name.is_empty()).then(|| name.to_string())
    })
}

enum Decoded<'a> {
    Text(Cow<'a, str>),
    Binary(String),
}

/// Exchange writes UTF-8 (usually with a BOM); historical-search exports are UTF-16 with a BOM.
/// Anything else that looks like a log and does not decode is an error, not a guess.
fn decode<'a>(path: &str, data: &'a [u8]) -> Result<Decoded<'a>> {
    if let Some(rest) = data.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(path, rest, 3).map(Decoded::Text);
    }
    for (bom, enc, name) in [
        (&b"\xFF\xFE"[..], encoding_rs::UTF_16LE, "UTF-16LE"),
        (&b"\xFE\xFF"[..], encoding_rs::UTF_16BE, "UTF-16BE"),
    ] {
        if let Some(rest) = data.strip_prefix(bom) {
            return match enc.decode_without_bom_handling_and_without_replacement(rest) {
                Some(s) => Ok(Decoded::Text(Cow::Owned(s.into_owned()))),
                None => {
                    let (offset, line) = utf16_error_at(rest, enc == encoding_rs::UTF_16LE);
                    Err(Error::Encoding {
                        entry: path.to_string(),
                        line,
                        offset: offset + 2,
                        encoding: name,
                    })
                }
            };
        }
    }
    let head = &data[..data.len().min(4096)];
    if head.contains(&0) {
        return Ok(Decoded::Binary(
            "binary content (NUL bytes, no UTF-16 byte-order mark)".into(),
        ));
    }
    match std::str::from_utf8(data) {
        Ok(s) => Ok(Decoded::Text(Cow::Borrowed(s))),
        Err(e) if looks_like_log_name(path) || looks_like_log_head(head) => {
            let offset = e.valid_up_to();
            Err(Error::Encoding {
                entry: path.to_string(),
                line: 1 + memchr::memchr_iter(b'\n', &data[..offset]).count() as u64,
                offset,
                encoding: "UTF-8",
            })
        }
        Err(_) => Ok(Decoded::Binary("not text (invalid UTF-8)".into())),
    }
}

fn utf8<'a>(path: &str, data: &'a [u8], skipped: usize) -> Result<Cow<'a, str>> {
    std::str::from_utf8(data).map(Cow::Borrowed).map_err(|e| {
        let offset = e.valid_up_to();
        Error::Encoding {
            entry: path.to_string(),
            line: 1 + memchr::memchr_iter(b'\n', &data[..offset]).count() as u64,
            offset: offset + skipped,
            encoding: "UTF-8",
        }
    })
}

fn utf16_error_at(data: &[u8], le: bool) -> (usize, u64) {
    let units: Vec<u16> = data
        .chunks(2)
        .map(|c| {
            let pair = [c[0], *c.get(1).unwrap_or(&0)];
            if le {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        })
        .collect();
    let mut line = 1;
    let mut unit = 0;
    for r in char::decode_utf16(units.iter().copied()) {
        match r {
            Ok('\n') => line += 1,
            Ok(_) => {}
            Err(_) => return (unit * 2, line),
        }
        unit += r.map_or(1, char::len_utf16);
    }
    (data.len(), line)
}

fn looks_like_log_name(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".log") || lower.ends_with(".csv") || lower.ends_with(".txt")
}

fn looks_like_log_head(head: &[u8]) -> bool {
    head.starts_with(b"#Software") || head.starts_with(b"#Fields") || head.starts_with(b"#TYPE")
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '!']).next().unwrap_or(path)
}

fn skipped(entry: &Entry<'_>, reason: impl Into<String>) -> Outcome {
    Outcome {
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
        },
        parsed: Parsed::default(),
    }
}

fn read_entry(entry: Entry<'_>, opts: &Options) -> Result<Outcome> {
    if let Some(n) = entry.container {
        return Ok(skipped(
            &entry,
            format!(
                "archive: its {n} members are listed as `{}!/...`",
                entry.path
            ),
        ));
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
    let folder_server = server_from_path(&entry.path);
    let ctx = EntryCtx {
        path: &entry.path,
        server: folder_server.as_deref(),
        opts,
    };
    let parsed = reader.read(kind, &text, &ctx)?;
    // Exports name their servers in the rows (PSComputerName, ServerHostname) and online traces
    // come from the service; only raw logs belong to the folder they were copied from.
    let server = match kind {
        LogKind::PowershellCsv | LogKind::ExoTrace => parsed.server.clone().or(folder_server),
        _ => folder_server.or_else(|| parsed.server.clone()),
    };
    Ok(Outcome {
        info: FileInfo {
            path: entry.path.clone(),
            kind,
            server,
            version: parsed.version.clone(),
            rows: parsed.rows,
            malformed: parsed.malformed_total,
            sha256: entry.sha256.clone(),
            bytes: entry.data.len() as u64,
            start: parsed.start.map(fields::rfc3339),
            end: parsed.end.map(fields::rfc3339),
            skipped: None,
        },
        parsed,
    })
}

fn assemble(bundle: &Bundle, outcomes: Vec<Outcome>, opts: &Options) -> Result<Loaded> {
    if outcomes.is_empty() {
        return Err(Error::EmptyBundle {
            path: bundle.display.clone(),
        });
    }
    if outcomes.iter().all(|o| o.info.kind == LogKind::Skipped) {
        let first = &outcomes[0].info;
        return Err(Error::NothingParsed {
            path: bundle.display.clone(),
            skipped: outcomes.len(),
            first: format!(
                "{}: {}",
                first.path,
                first.skipped.as_deref().unwrap_or("skipped")
            ),
        });
    }
    let sha256 = bundle.sha256.clone().unwrap_or_else(|| {
        folder_digest(
            outcomes
                .iter()
                .map(|o| (o.info.path.as_str(), o.info.sha256.as_str())),
        )
    });
    let mut files = Vec::with_capacity(outcomes.len());
    let mut warnings = Vec::new();
    let mut malformed_lines = Vec::new();
    let mut malformed_total = 0;
    let mut events = 0;
    let mut protocol_lines = 0;
    let mut start: Option<i64> = None;
    let mut end: Option<i64> = None;
    let mut totals: BTreeMap<String, KindTotal> = BTreeMap::new();
    let mut event_chunks = Vec::new();
    let mut protocol_chunks = Vec::new();
    let mut session_parts = Vec::new();
    let mut servers = std::collections::BTreeSet::new();
    for o in outcomes {
        let Outcome { info, parsed } = o;
        let t = totals.entry(info.kind.as_str().to_string()).or_default();
        t.files += 1;
        t.rows += info.rows;
        t.bytes += info.bytes;
        match info.kind {
            LogKind::MessageTracking | LogKind::PowershellCsv | LogKind::ExoTrace => {
                events += info.rows
            }
            LogKind::SmtpReceive | LogKind::SmtpSend => protocol_lines += info.rows,
            LogKind::Skipped => {}
        }
        if info.kind != LogKind::Skipped {
            if let Some(s) = &info.server {
                servers.insert(s.clone());
            }
            servers.extend(parsed.row_servers.iter().cloned());
        }
        if let Some(s) = parsed.start {
            start = Some(start.map_or(s, |x| x.min(s)));
        }
        if let Some(e) = parsed.end {
            end = Some(end.map_or(e, |x| x.max(e)));
        }
        malformed_total += parsed.malformed_total;
        if parsed.malformed_total > parsed.malformed.len() as u64 {
            warnings.push(format!(
                "{}: {} malformed lines, the first {} listed",
                info.path,
                parsed.malformed_total,
                parsed.malformed.len()
            ));
        }
        malformed_lines.extend(parsed.malformed);
        warnings.extend(parsed.warnings);
        if let Some(df) = parsed.events {
            event_chunks.push(df);
        }
        if let Some(df) = parsed.protocol {
            protocol_chunks.push(df);
        }
        if let Some(df) = parsed.sessions {
            session_parts.push(df);
        }
        files.push(info);
    }
    if malformed_total > 0 {
        warnings.insert(
            0,
            format!("{malformed_total} malformed lines were not read (listed with entry and line)"),
        );
    }
    let skipped_n = files.iter().filter(|f| f.kind == LogKind::Skipped).count();
    if skipped_n > 0 {
        warnings.push(format!("{skipped_n} entries skipped (see files[].skipped)"));
    }
    let frames = if opts.build_frames {
        let events = stack(event_chunks, tracking::empty_events)?;
        let protocol = stack(protocol_chunks, protocol::empty_protocol)?;
        let sessions = protocol::merge_sessions(&session_parts)?;
        Some(Frames {
            events,
            protocol,
            sessions,
        })
    } else {
        None
    };
    Ok(Loaded {
        inventory: Inventory {
            bundle: bundle.display.clone(),
            sha256,
            events,
            protocol_lines,
            start: start.map(fields::rfc3339),
            end: end.map(fields::rfc3339),
            servers: servers.into_iter().collect(),
            files,
            malformed_total,
            malformed_lines,
            warnings,
            totals,
        },
        frames,
    })
}

fn stack(chunks: Vec<DataFrame>, empty: impl Fn() -> PolarsResult<DataFrame>) -> Result<DataFrame> {
    let mut it = chunks.into_iter();
    let Some(mut df) = it.next() else {
        return Ok(empty()?);
    };
    for c in it {
        df.vstack_mut_owned(c)?;
    }
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_from_layout() {
        assert_eq!(
            server_from_path("EX01/TransportRoles/Logs/MessageTracking/MSGTRK1.LOG").as_deref(),
            Some("EX01")
        );
        assert_eq!(
            server_from_path(
                "export/EX02/V15/TransportRoles/Logs/Hub/ProtocolLog/SmtpSend/SEND1.LOG"
            )
            .as_deref(),
            Some("EX02")
        );
        assert_eq!(
            server_from_path("EX03.zip!/Logs/MSGTRK1.LOG").as_deref(),
            Some("EX03")
        );
        assert_eq!(server_from_path("MSGTRK1.LOG"), None);
        assert_eq!(server_from_path("TransportRoles/Logs/MSGTRK1.LOG"), None);
    }
}
