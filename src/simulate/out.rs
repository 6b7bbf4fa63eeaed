//! Output side of the simulator: row text, per-server log files that roll like Exchange's,
//! and the thread that compresses finished files into the zip.
//!
//! Flows emit rows slightly ahead of the simulation clock (a message's SEND row a few hundred
//! ms after its RECEIVE), so rows wait in a small time-ordered heap until the clock has passed
//! them; only then are they appended to their file. That keeps every file in time order
//! without holding more than a few seconds of rows.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context, Result};

/// Milliseconds since the Unix epoch, UTC.
pub(super) type Ms = i64;

pub(super) const HOUR_MS: Ms = 3_600_000;
const DAY_MS: Ms = 24 * HOUR_MS;
/// Exchange starts a new file when the current one reaches its size limit (10 MB).
const ROLL_BYTES: usize = 10 * 1024 * 1024;
/// Deflate level 3: ~7x smaller logs at ~250 MB/s of text; level 6 would buy 10% less zip
/// for half the speed, and the generator must keep up with gigabytes on a 2-core box.
const ZIP_LEVEL: i64 = 3;
/// Finished files queued for the zip thread; bounds memory to a few files in flight.
const ZIP_QUEUE: usize = 3;

pub(super) const EXCHANGE_BUILD: &str = "15.01.2507.039";
const TRK_FIELDS: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";
const PROTO_FIELDS: &str =
    "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum LogKind {
    /// MSGTRK: the Transport service.
    Trk,
    /// MSGTRKMS: Mailbox Transport Submission.
    TrkMs,
    /// MSGTRKMD: Mailbox Transport Delivery.
    TrkMd,
    /// RECV under FrontEnd: sessions from outside (firewall, apps).
    Recv,
    /// RECV under Hub: sessions from the other servers.
    HubRecv,
    /// SEND under Hub.
    Send,
    /// MSGTRKMA: moderated transport (approvals). Last, so older bundles keep their order.
    TrkMa,
}

const KINDS: usize = 7;
const ALL_KINDS: [LogKind; KINDS] = [
    LogKind::Trk,
    LogKind::TrkMs,
    LogKind::TrkMd,
    LogKind::Recv,
    LogKind::HubRecv,
    LogKind::Send,
    LogKind::TrkMa,
];

impl LogKind {
    pub(super) fn prefix(self) -> &'static str {
        match self {
            LogKind::Trk => "MSGTRK",
            LogKind::TrkMs => "MSGTRKMS",
            LogKind::TrkMd => "MSGTRKMD",
            LogKind::TrkMa => "MSGTRKMA",
            LogKind::Recv | LogKind::HubRecv => "RECV",
            LogKind::Send => "SEND",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            LogKind::Trk | LogKind::TrkMs | LogKind::TrkMd | LogKind::TrkMa => {
                "TransportRoles/Logs/MessageTracking"
            }
            LogKind::Recv => "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive",
            LogKind::HubRecv => "TransportRoles/Logs/Hub/ProtocolLog/SmtpReceive",
            LogKind::Send => "TransportRoles/Logs/Hub/ProtocolLog/SmtpSend",
        }
    }

    fn header(self, first_row: Ms) -> Vec<u8> {
        let (version, log_type, fields) = match self {
            LogKind::Trk | LogKind::TrkMs | LogKind::TrkMd | LogKind::TrkMa => {
                (EXCHANGE_BUILD, "Message Tracking Log", TRK_FIELDS)
            }
            LogKind::Recv | LogKind::HubRecv => {
                ("15.0.0.0", "SMTP Receive Protocol Log", PROTO_FIELDS)
            }
            LogKind::Send => ("15.0.0.0", "SMTP Send Protocol Log", PROTO_FIELDS),
        };
        let mut date = String::with_capacity(24);
        push_time(&mut date, first_row);
        let text = format!(
            "#Software: Microsoft Exchange Server\r\n#Version: {version}\r\n#Log-type: {log_type}\r\n#Date: {date}\r\n#Fields: {fields}\r\n"
        );
        let mut out = Vec::with_capacity(ROLL_BYTES / 4);
        out.extend_from_slice(b"\xEF\xBB\xBF");
        out.extend_from_slice(text.as_bytes());
        out
    }
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Broken-down UTC time: (year, month, day, hour, minute, second, millisecond).
pub(super) fn parts(ms: Ms) -> (i64, u32, u32, u32, u32, u32, u32) {
    let (y, mo, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let rem = ms.rem_euclid(DAY_MS);
    let h = (rem / HOUR_MS) as u32;
    let mi = ((rem / 60_000) % 60) as u32;
    let s = ((rem / 1000) % 60) as u32;
    (y, mo, d, h, mi, s, (rem % 1000) as u32)
}

fn push_digits(out: &mut String, v: u32, width: u32) {
    let mut div = 10u32.pow(width - 1);
    while div > 0 {
        out.push(char::from(b'0' + ((v / div) % 10) as u8));
        div /= 10;
    }
}

/// Appends `yyyy-mm-ddThh:mm:ss.fffZ`, the only time format these logs use.
pub(super) fn push_time(out: &mut String, ms: Ms) {
    let (y, mo, d, h, mi, s, f) = parts(ms);
    push_digits(out, y.clamp(0, 9999) as u32, 4);
    out.push('-');
    push_digits(out, mo, 2);
    out.push('-');
    push_digits(out, d, 2);
    out.push('T');
    push_digits(out, h, 2);
    out.push(':');
    push_digits(out, mi, 2);
    out.push(':');
    push_digits(out, s, 2);
    out.push('.');
    push_digits(out, f, 3);
    out.push('Z');
}

pub(super) fn fmt_time(ms: Ms) -> String {
    let mut s = String::with_capacity(24);
    push_time(&mut s, ms);
    s
}

/// Appends seconds with three decimals, as in message-info latencies.
pub(super) fn push_secs(out: &mut String, ms: Ms) {
    let ms = ms.max(0);
    let _ = write!(out, "{}.", ms / 1000);
    push_digits(out, (ms % 1000) as u32, 3);
}

/// Appends one CSV value with RFC 4180 quoting, as Exchange writes it.
pub(super) fn push_field(out: &mut String, v: &str) {
    if v.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        out.push('"');
        for (i, part) in v.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(v);
    }
}

struct Pending {
    t: Ms,
    seq: u64,
    target: usize,
    line: String,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.t, self.seq) == (other.t, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Reversed: BinaryHeap is a max-heap and we want the earliest row first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.t.cmp(&self.t).then(other.seq.cmp(&self.seq))
    }
}

struct OpenFile {
    path: String,
    hour: Ms,
    last: Ms,
    buf: Vec<u8>,
}

struct Job {
    path: String,
    data: Vec<u8>,
    mtime: Ms,
}

pub(super) struct Output {
    servers: Vec<String>,
    files: Vec<Option<OpenFile>>,
    /// Hour and `-n` of the last file opened per target, to number size rolls.
    last_name: Vec<(Ms, u32)>,
    pending: BinaryHeap<Pending>,
    seq: u64,
    tx: Option<SyncSender<Job>>,
    worker: Option<JoinHandle<Result<()>>>,
    pub(super) entries: Vec<String>,
    pub(super) bytes: u64,
}

impl Output {
    pub(super) fn new(out: &Path, servers: Vec<String>) -> Result<Self> {
        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let (tx, rx) = sync_channel::<Job>(ZIP_QUEUE);
        let worker = std::thread::Builder::new()
            .name("simulate-zip".into())
            .spawn(move || -> Result<()> {
                let mut zip = zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
                for job in rx {
                    let options = zip::write::SimpleFileOptions::default()
                        .compression_method(zip::CompressionMethod::Deflated)
                        .compression_level(Some(ZIP_LEVEL))
                        .last_modified_time(zip_time(job.mtime))
                        .unix_permissions(0o644);
                    zip.start_file(job.path.as_str(), options)
                        .with_context(|| format!("adding {} to the zip", job.path))?;
                    zip.write_all(&job.data)
                        .with_context(|| format!("writing {} into the zip", job.path))?;
                }
                let mut inner = zip.finish().context("finishing the zip")?;
                inner.flush().context("flushing the zip")?;
                Ok(())
            })
            .context("starting the zip writer thread")?;
        let targets = servers.len() * KINDS;
        Ok(Self {
            servers,
            files: (0..targets).map(|_| None).collect(),
            last_name: vec![(Ms::MIN, 0); targets],
            pending: BinaryHeap::new(),
            seq: 0,
            tx: Some(tx),
            worker: Some(worker),
            entries: Vec::new(),
            bytes: 0,
        })
    }

    /// Queues a finished line (without line end) for `server`'s log of `kind`.
    pub(super) fn push(&mut self, t: Ms, server: usize, kind: LogKind, line: String) {
        self.seq += 1;
        self.pending.push(Pending {
            t,
            seq: self.seq,
            target: server * KINDS + kind as usize,
            line,
        });
    }

    /// Writes every queued row stamped at or before `t`: nothing earlier can be emitted now.
    pub(super) fn flush_until(&mut self, t: Ms) -> Result<()> {
        while self.pending.peek().is_some_and(|p| p.t <= t) {
            if let Some(p) = self.pending.pop() {
                self.write_line(p.target, p.t, &p.line)?;
            }
        }
        Ok(())
    }

    fn write_line(&mut self, target: usize, t: Ms, line: &str) -> Result<()> {
        let hour = t.div_euclid(HOUR_MS);
        let roll = self.files[target]
            .as_ref()
            .is_some_and(|f| f.hour != hour || f.buf.len() + line.len() + 2 > ROLL_BYTES);
        if roll {
            self.close(target)?;
        }
        let file = match &mut self.files[target] {
            Some(f) => f,
            slot => {
                let (last_hour, last_n) = self.last_name[target];
                let n = if last_hour == hour { last_n + 1 } else { 1 };
                self.last_name[target] = (hour, n);
                let server = &self.servers[target / KINDS];
                let kind = ALL_KINDS[target % KINDS];
                let (y, mo, d, h, ..) = parts(t);
                let path = format!(
                    "{server}/{}/{}{y:04}{mo:02}{d:02}{h:02}-{n}.LOG",
                    kind.dir(),
                    kind.prefix()
                );
                slot.insert(OpenFile {
                    path,
                    hour,
                    last: t,
                    buf: kind.header(t),
                })
            }
        };
        file.buf.extend_from_slice(line.as_bytes());
        file.buf.extend_from_slice(b"\r\n");
        file.last = t;
        Ok(())
    }

    fn close(&mut self, target: usize) -> Result<()> {
        let Some(file) = self.files[target].take() else {
            return Ok(());
        };
        self.bytes += file.buf.len() as u64;
        self.entries.push(file.path.clone());
        let job = Job {
            path: file.path,
            data: file.buf,
            mtime: file.last,
        };
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(job).is_ok())
            .unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The worker only hangs up after an error: report that error, not the hang-up.
            Err(self
                .join_worker()
                .err()
                .unwrap_or_else(|| anyhow!("zip writer stopped early")))
        }
    }

    fn join_worker(&mut self) -> Result<()> {
        self.tx = None;
        match self.worker.take() {
            Some(handle) => handle
                .join()
                .map_err(|_| anyhow!("zip writer thread panicked"))?,
            None => Ok(()),
        }
    }

    /// Writes what is left, closes every file and the zip.
    pub(super) fn finish(&mut self) -> Result<()> {
        self.flush_until(Ms::MAX)?;
        for target in 0..self.files.len() {
            self.close(target)?;
        }
        self.join_worker()
    }
}

/// Zip entry times are local DOS times without a zone; the row's UTC time is what an admin's
/// copy would most plausibly show, and fixing it keeps the archive byte-identical.
fn zip_time(ms: Ms) -> zip::DateTime {
    let (y, mo, d, h, mi, s, _) = parts(ms);
    u16::try_from(y)
        .ok()
        .and_then(|y| {
            zip::DateTime::from_date_and_time(y, mo as u8, d as u8, h as u8, mi as u8, s as u8).ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format_matches_exchange() {
        // 2026-11-16T08:00:01.123Z
        let ms = 1_794_816_001_123;
        assert_eq!(fmt_time(ms), "2026-11-16T08:00:01.123Z");
        assert_eq!(fmt_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fmt_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn quoting_follows_rfc4180() {
        let mut s = String::new();
        push_field(&mut s, "a, \"b\"");
        assert_eq!(s, "\"a, \"\"b\"\"\"");
        s.clear();
        push_field(&mut s, "plain;list");
        assert_eq!(s, "plain;list");
    }
}
