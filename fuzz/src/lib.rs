//! What the fuzz targets and the stable mutation test (`tests/mutations.rs`, which includes this
//! file as a module) share: feeding bytes to a reader, a bundle or the whole report chain, and
//! the invariants each must keep whatever the bytes. A violated invariant panics: that is how a
//! fuzz target reports, and how a test fails.
//!
//! Only the crate's public API is used, so the checks see what a library user sees.

use std::io::Write;
use std::path::{Path, PathBuf};

use mailforensics::analyze::evidence::FromModel;
use mailforensics::analyze::model::build::ModelCollector;
use mailforensics::analyze::model::Model;
use mailforensics::analyze::{analyze, Params};
use mailforensics::bundle::Limits;
use mailforensics::ingest::schema::{Reads, Row};
use mailforensics::ingest::{
    self, EntryCtx, Inventory, LogKind, Options, Parsed, ProtoLine, Quiet, Sink,
};
use mailforensics::render::{self, RenderOptions};

/// The four formats a reader target feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tracking,
    Protocol,
    Powershell,
    Exo,
}

pub const FORMATS: [Format; 4] = [
    Format::Tracking,
    Format::Protocol,
    Format::Powershell,
    Format::Exo,
];

/// A 30-column Exchange 2016/2019 header: puts any text past the tracking reader's sniffing.
pub const TRACKING_HEADER: &str = "#Software: Microsoft Exchange Server\r\n#Version: 15.02.1544.004\r\n#Log-type: Message Tracking Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version\r\n";

pub const PROTOCOL_HEADER: &str = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n";

pub const POWERSHELL_HEADER: &str = "#TYPE Microsoft.Exchange.Management.TransportLogSearchTasks.MessageTrackingEvent\r\n\"PSComputerName\",\"RunspaceId\",\"PSShowComputerName\",\"Timestamp\",\"ClientIp\",\"ClientHostname\",\"ServerIp\",\"ServerHostname\",\"SourceContext\",\"ConnectorId\",\"Source\",\"EventId\",\"InternalMessageId\",\"MessageId\",\"NetworkMessageId\",\"Recipients\",\"RecipientStatus\",\"TotalBytes\",\"RecipientCount\",\"RelatedRecipientAddress\",\"Reference\",\"MessageSubject\",\"Sender\",\"ReturnPath\",\"Directionality\",\"TenantId\",\"OriginalClientIp\",\"MessageInfo\",\"MessageLatency\",\"MessageLatencyType\",\"EventData\",\"TransportTrafficType\",\"SchemaVersion\"\r\n";

/// The reporting-service message trace.
pub const EXO_HEADER: &str = "\"Organization\",\"MessageId\",\"Received\",\"SenderAddress\",\"RecipientAddress\",\"Subject\",\"Status\",\"ToIP\",\"FromIP\",\"Size\",\"MessageTraceId\",\"StartDate\",\"EndDate\",\"Index\"\r\n";

/// The extended historical search (tracking columns in snake case).
pub const EXO_EXTENDED_HEADER: &str = "\"date_time_utc\",\"client_ip\",\"client_hostname\",\"server_ip\",\"server_hostname\",\"source_context\",\"connector_id\",\"source\",\"event_id\",\"internal_message_id\",\"message_id\",\"network_message_id\",\"recipient_address\",\"recipient_status\",\"total_bytes\",\"recipient_count\",\"related_recipient_address\",\"reference\",\"message_subject\",\"sender_address\",\"return_path\",\"message_info\",\"directionality\",\"tenant_id\",\"original_client_ip\",\"original_server_ip\",\"custom_data\"\r\n";

impl Format {
    pub fn kind(self) -> LogKind {
        match self {
            Format::Tracking => LogKind::MessageTracking,
            Format::Protocol => LogKind::SmtpReceive,
            Format::Powershell => LogKind::PowershellCsv,
            Format::Exo => LogKind::ExoTrace,
        }
    }

    /// A valid header of the format; `alt` picks the other flavour where there is one.
    pub fn header(self, alt: bool) -> &'static str {
        match (self, alt) {
            (Format::Tracking, _) => TRACKING_HEADER,
            (Format::Protocol, _) => PROTOCOL_HEADER,
            (Format::Powershell, _) => POWERSHELL_HEADER,
            (Format::Exo, false) => EXO_HEADER,
            (Format::Exo, true) => EXO_EXTENDED_HEADER,
        }
    }

    /// A file name that goes with the format (protocol logs take Send/Receive from the name).
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Tracking => "MSGTRK2026111608-1.LOG",
            Format::Protocol => "RECV2026111608-1.LOG",
            Format::Powershell => "tracking.csv",
            Format::Exo => "messagetrace.csv",
        }
    }

    fn w3c(self) -> bool {
        matches!(self, Format::Tracking | Format::Protocol)
    }
}

/// Bytes as a reader would get them: UTF-16 with a byte-order mark decoded, a UTF-8 BOM dropped,
/// anything undecodable replaced (the readers take `&str`; strict decoding is the bundle's job
/// and is fuzzed through the bundle target).
pub fn text_of(data: &[u8]) -> String {
    if let Some(rest) = data.strip_prefix(b"\xFF\xFE") {
        return encoding_rs::UTF_16LE
            .decode_without_bom_handling(rest)
            .0
            .into_owned();
    }
    if let Some(rest) = data.strip_prefix(b"\xFE\xFF") {
        return encoding_rs::UTF_16BE
            .decode_without_bom_handling(rest)
            .0
            .into_owned();
    }
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    String::from_utf8_lossy(data).into_owned()
}

/// Physical lines of a text as the W3C record loop counts them: every `\n` ends one, and a last
/// line without one counts too.
pub fn physical_lines(text: &str) -> u64 {
    let n = memchr::memchr_iter(b'\n', text.as_bytes()).count() as u64;
    n + u64::from(!text.is_empty() && !text.ends_with('\n'))
}

/// Physical lines of a text as the CSV reader (the `csv` crate) counts them: `\r\n`, a lone
/// `\n` and a lone `\r` each end one, and a last line without an ending counts too.
pub fn csv_lines(text: &str) -> u64 {
    let b = text.as_bytes();
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n + u64::from(!b.is_empty() && !matches!(b.last(), Some(b'\n' | b'\r')))
}

/// A sink that keeps nothing but counts what it was given ([`ingest::Discard`] plus two
/// counters, so the rows a reader reports can be checked against the rows it pushed).
#[derive(Default)]
pub struct Counting {
    pub events: u64,
    pub protocol: u64,
}

impl Sink for Counting {
    fn event(&mut self, _row: &Row<'_>) {
        self.events += 1;
    }
    fn protocol(&mut self, _line: &ProtoLine<'_>) {
        self.protocol += 1;
    }
}

/// Reading options for the fuzzed inputs: `variant` picks UTC or a `--tz`, and detection or a
/// given `--csv-time-format`.
pub fn options(variant: u8) -> Options {
    Options {
        limits: fuzz_limits(),
        csv_time_format: match variant % 4 {
            3 => Some("%d/%m/%Y %H:%M:%S".to_string()),
            _ => None,
        },
        tz: match variant % 3 {
            1 => chrono::FixedOffset::east_opt(2 * 3600),
            2 => chrono::FixedOffset::west_opt(11 * 3600 + 1800),
            _ => None,
        },
    }
}

/// The bundle limits of the fuzzed runs: the defaults, with a budget small enough that a bomb the
/// fuzzer builds stops in milliseconds, not after inflating gigabytes (the guard is the same code
/// whatever the number).
pub fn fuzz_limits() -> Limits {
    Limits {
        max_uncompressed: 64 << 20,
        ..Limits::default()
    }
}

/// Every reader's `sniff` on the text (none may panic), and what the first that claims it says.
pub fn sniff_all(name: &str, text: &str) -> Option<LogKind> {
    let head_end = text.char_indices().nth(8192).map_or(text.len(), |(i, _)| i);
    let head = &text[..head_end];
    let mut first = None;
    for r in ingest::READERS.iter() {
        let k = r.sniff(name, head);
        if first.is_none() {
            first = k;
        }
    }
    first
}

/// Runs `text` through the reader of `format` (whatever sniffing would say) with a counting sink,
/// and checks the invariants: no panic; every row reported was pushed to the sink; the malformed
/// list is capped and never longer than the count; for the W3C logs every physical line is in
/// exactly one place (`total = rows + malformed + directives + blank`, `total` being the text's
/// line count); for the CSV exports `rows + malformed <= lines`. An `Err` is a fine outcome.
pub fn check_reader(
    format: Format,
    text: &str,
    server: Option<&str>,
    opts: &Options,
) -> Option<Parsed> {
    let name = format.file_name();
    sniff_all(name, text);
    let path = format!("fuzz/{name}");
    let ctx = EntryCtx {
        path: &path,
        server,
        opts,
        reads: Reads::ALL,
    };
    let kind = format.kind();
    let reader = ingest::reader_for(kind).expect("a reader for every format");
    let mut sink = Counting::default();
    let p = reader.read(kind, text, &ctx, &mut sink).ok()?;
    check_parsed(format, text, &p, &sink);
    Some(p)
}

fn check_parsed(format: Format, text: &str, p: &Parsed, sink: &Counting) {
    let lines = physical_lines(text);
    let l = p.lines;
    let what = || {
        format!(
            "{format:?}: rows {} malformed {} (listed {}) lines {l:?}, text has {lines} lines, sink got {} events {} protocol lines",
            p.rows,
            p.malformed_total,
            p.malformed.len(),
            sink.events,
            sink.protocol
        )
    };
    let pushed = match format {
        Format::Protocol => sink.protocol,
        _ => sink.events,
    };
    assert_eq!(pushed, p.rows, "rows counted but not pushed: {}", what());
    assert!(
        p.malformed.len() <= ingest::MALFORMED_LISTED_PER_ENTRY
            && p.malformed.len() as u64 <= p.malformed_total,
        "malformed list: {}",
        what()
    );
    if format.w3c() {
        assert_eq!(
            l.total,
            l.rows + p.malformed_total + l.directives + l.blank,
            "a line in no place or two: {}",
            what()
        );
        assert_eq!(l.total, lines, "lines counted: {}", what());
        assert!(l.rows >= p.rows, "row lines: {}", what());
    } else {
        assert_eq!(l.rows, p.rows, "row lines: {}", what());
        // The csv crate also ends a record at a lone `\r` (its line numbers count only `\n`).
        assert!(
            p.rows + p.malformed_total <= csv_lines(text),
            "more records than lines: {}",
            what()
        );
    }
    // CSV exports number lines with a lone `\r` as a line end too (old Mac files).
    let last_line = if format.w3c() { lines } else { csv_lines(text) };
    for m in &p.malformed {
        assert!(
            m.line >= 1 && m.line <= last_line.max(1),
            "malformed line {} outside the text: {}",
            m.line,
            what()
        );
    }
}

/// Feeds arbitrary bytes to one reader the two ways a target does: as they are, and behind a
/// valid header of the format (so the fuzzer's rows get past sniffing and the header row).
pub fn fuzz_reader(format: Format, data: &[u8]) {
    let variant = data.first().copied().unwrap_or(0);
    let text = text_of(data);
    check_reader(format, &text, None, &options(variant));
    let mut with_header = String::from(format.header(variant & 1 == 1));
    with_header.push_str(&text);
    check_reader(
        format,
        &with_header,
        Some("EX01"),
        &options(variant.wrapping_add(1)),
    );
}

/// A place for the bundles the targets write: the library's reading starts from a path.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("mf-fuzz-")
                .tempdir()
                .expect("a temporary folder"),
        }
    }

    /// Writes `data` as `name` in the scratch folder (replacing what was there).
    pub fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        let mut f = std::fs::File::create(&p).expect("scratch file");
        f.write_all(data).expect("scratch write");
        p
    }
}

/// An in-memory zip of `entries`, stored or deflated.
pub fn zip_of(entries: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        w.start_file(name.as_str(), opts).expect("zip entry");
        w.write_all(data).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// Gzip of `data`, as Exchange admins compress old logs.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Checks what the inventory says about itself: totals add up, counts match the file list.
pub fn check_inventory(inv: &Inventory) {
    let malformed: u64 = inv.files.iter().map(|f| f.malformed).sum();
    assert_eq!(inv.malformed_total, malformed, "malformed total");
    let events: u64 = inv
        .files
        .iter()
        .filter(|f| f.kind.has_events())
        .map(|f| f.rows)
        .sum();
    assert_eq!(inv.events, events, "event total");
    assert!(
        inv.malformed_lines.len() as u64 <= inv.malformed_total,
        "malformed listed"
    );
    for f in &inv.files {
        assert!(
            f.kind != LogKind::Skipped || f.rows == 0,
            "a skipped entry with rows: {}",
            f.path
        );
    }
}

/// The inventory of a bundle at `path` (errors are fine; a panic is not), then the same bundle
/// into the canonical Polars frames (`trace` and library users read it so), which must hold as
/// many rows as the inventory counted.
pub fn check_bundle(path: &Path) -> Option<Inventory> {
    let opts = options(0);
    let inv = ingest::inventory(path, &opts, &Quiet).ok()?;
    check_inventory(&inv);
    let loaded = ingest::load(path, &opts).expect("the inventory read it, so must the frames");
    assert_eq!(
        loaded.frames.events.height() as u64,
        inv.events,
        "events frame vs inventory"
    );
    assert_eq!(
        loaded.frames.protocol.height() as u64,
        inv.protocol_lines,
        "protocol frame vs inventory"
    );
    Some(inv)
}

/// Arbitrary bytes as a bundle: as a `.zip` and as a plain log file.
pub fn fuzz_bundle(scratch: &Scratch, data: &[u8]) {
    let zip = scratch.file("bundle.zip", data);
    check_bundle(&zip);
    let log = scratch.file("MSGTRK2026111608-1.LOG", data);
    check_bundle(&log);
}

/// The whole `report` chain on a bundle: read into the model, analyse, render. Returns the HTML,
/// or `None` when the bundle is refused (an error is fine). Checks that the page holds no
/// `<script` but its own one, whatever the logs said.
pub fn check_report(path: &Path, opts: &Options) -> Option<String> {
    let read = ingest::read(path, opts, &ModelCollector, &Quiet).ok()?;
    check_inventory(&read.inventory);
    let model = Model::from_chunks(read.chunks, read.entries);
    let findings = analyze(&model, &read.inventory, &Params::default(), &FromModel).ok()?;
    let html = render::html(&findings, &RenderOptions::default()).ok()?;
    let scripts = count_ci(&html, "<script");
    assert_eq!(
        scripts, 1,
        "{scripts} `<script` in the page: only the report's own may be there"
    );
    Some(html)
}

/// Occurrences of an ASCII needle, case-insensitively.
pub fn count_ci(hay: &str, needle: &str) -> usize {
    let hay = hay.as_bytes();
    let n = needle.as_bytes();
    hay.windows(n.len())
        .filter(|w| w.eq_ignore_ascii_case(n))
        .count()
}

/// The entry names a report bundle can use: a server folder each, so the servers differ.
const ENTRY_NAMES: [&str; 6] = [
    "EX01/TransportRoles/Logs/MessageTracking/MSGTRK2026111608-1.LOG",
    "EX02/TransportRoles/Logs/MessageTracking/MSGTRK2026111608-1.LOG",
    "EX01/TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive/RECV2026111608-1.LOG",
    "EX02/TransportRoles/Logs/Hub/ProtocolLog/SmtpSend/SEND2026111608-1.LOG",
    "exports/tracking.csv",
    "exports/messagetrace.csv",
];

/// The entries of a report bundle from fuzz input: the first byte says how many (1 to 3), their
/// names, and whether to deflate and gzip; the rest is split at `0xFF` bytes (never in UTF-8
/// text, so the seeds can be log files joined by one).
pub fn report_entries(data: &[u8]) -> (Vec<(String, Vec<u8>)>, bool) {
    let Some((&sel, rest)) = data.split_first() else {
        return (Vec::new(), false);
    };
    let n = 1 + (sel % 3) as usize;
    let mut out = Vec::new();
    for (i, part) in rest.splitn(n, |&b| b == 0xFF).enumerate() {
        let pick = (sel as usize / 3 + i * 5) % ENTRY_NAMES.len();
        // Two entries may not share a name: the bundle would be refused before any reading.
        let mut name = ENTRY_NAMES[pick].to_string();
        if out.iter().any(|(n, _): &(String, Vec<u8>)| *n == name) {
            name = format!("EX0{}/{}", 3 + i, name);
        }
        let mut bytes = part.to_vec();
        if sel & 0x80 != 0 && i == 0 {
            bytes = gzip(&bytes);
            name.push_str(".gz");
        }
        out.push((name, bytes));
    }
    (out, sel & 0x40 != 0)
}

/// Fuzz input as a small zip bundle through the whole report chain.
pub fn fuzz_report(scratch: &Scratch, data: &[u8]) {
    let (entries, deflate) = report_entries(data);
    if entries.is_empty() {
        return;
    }
    let zip = zip_of(&entries, deflate);
    let path = scratch.file("bundle.zip", &zip);
    check_report(&path, &options(data[0] >> 2));
}
