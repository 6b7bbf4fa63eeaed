//! The inventory: what the bundle held, file by file, and the periods its rows fall into. Built
//! from every entry's outcome once reading is done; `inspect` prints it, and it is the `bundle`
//! part of the findings.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::*;
use crate::bundle::folder_digest;
use crate::error::{Error, Result};
use crate::human::rfc3339;

/// The bundle's inventory: the `inspect` output and the `bundle` part of the findings.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Stretches of time the rows fall into, separated by days without any row.
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KindTotal {
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

/// A stretch of days with rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Period {
    pub start: String,
    pub end: String,
    pub rows: u64,
}

/// Turns every log whose bytes another one holds into a skipped entry naming that one, its rows
/// dropped: admins collect the same logs twice (a copy in another folder, one server's zip added
/// again, two collection runs), and counting such rows twice would double the very figures a
/// postmortem rests on. Of equal copies the one least deep in folders is read (`EX01/...`
/// rather than `backup/EX01/...`), then the first in bundle order.
fn set_copies_aside<C>(outcomes: &mut [Outcome<C>]) {
    let depth = |i: usize| outcomes[i].info.path.split('/').count();
    let mut read: HashMap<&str, usize> = HashMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        if may_be_a_copy(&o.info) {
            let best = read.entry(o.info.sha256.as_str()).or_insert(i);
            if depth(i) < depth(*best) {
                *best = i;
            }
        }
    }
    let copies: Vec<(usize, usize)> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| may_be_a_copy(&o.info))
        .filter_map(|(i, o)| Some((i, *read.get(o.info.sha256.as_str())?)))
        .filter(|&(i, best)| i != best)
        .collect();
    for (i, best) in copies {
        let of = outcomes[best].info.path.clone();
        set_aside(&mut outcomes[i], &of, "the same SHA-256");
    }
}

/// Sets aside every log that is the start of a longer one: a log still being written when the
/// admin first collected it, collected again later. Candidates share kind, server, file name and
/// earliest row's time (so that a server's FrontEnd and Hub logs of one name are not read
/// twice for nothing); the bytes decide, read again from the bundle.
fn set_snapshots_aside<C>(outcomes: &mut [Outcome<C>], input: &Input) {
    let Input::Bundle(bundle) = input else {
        return;
    };
    let mut groups: BTreeMap<(&'static str, String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        let f = &o.info;
        if !may_be_a_copy(f) {
            continue;
        }
        let name = f.path.rsplit('/').next().unwrap_or(&f.path);
        let key = (
            f.kind.as_str(),
            f.server.clone().unwrap_or_default(),
            name.to_string(),
            f.start.clone().unwrap_or_default(),
        );
        groups.entry(key).or_default().push(i);
    }
    for mut group in groups.into_values().filter(|g| g.len() > 1) {
        // Longest first; of equal length, the first in bundle order.
        group.sort_by_key(|&i| (std::cmp::Reverse(outcomes[i].info.bytes), i));
        // Each file read again at most once, when first compared; `None` if it changed since.
        let mut bytes: HashMap<usize, Option<Vec<u8>>> = HashMap::new();
        for k in 1..group.len() {
            let short = group[k];
            for &long in &group[..k] {
                let longer = outcomes[long].info.bytes > outcomes[short].info.bytes;
                if !longer || outcomes[long].info.copy_of.is_some() {
                    continue;
                }
                for i in [long, short] {
                    bytes.entry(i).or_insert_with(|| {
                        let o = &outcomes[i];
                        let (data, sha) = bundle.read_one(o.top, &o.info.path).ok()??;
                        (sha == o.info.sha256).then_some(data)
                    });
                }
                let (Some(Some(l)), Some(Some(s))) = (bytes.get(&long), bytes.get(&short)) else {
                    continue;
                };
                if l.starts_with(s) {
                    let of = outcomes[long].info.path.clone();
                    set_aside(
                        &mut outcomes[short],
                        &of,
                        "its bytes are the start of that file",
                    );
                    break;
                }
            }
        }
    }
}

/// A warning for each PowerShell export of tracking events (`Export-Csv`) that holds hours of a
/// server whose tracking logs are in the bundle too. Admins sometimes send both; the files
/// differ, so they are not copies, and the same events would count twice. Said, not guessed
/// away: the export may also hold what the logs do not.
fn exports_beside_logs(files: &[FileInfo]) -> Vec<String> {
    let servers = |f: &FileInfo| {
        let names = f.server.as_deref().unwrap_or("");
        names
            .split(", ")
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
    };
    // Each server's span of logged rows: between its first and last, its logs hold every event
    // (a quiet minute falls between two files). RFC 3339 in UTC with milliseconds: the smaller
    // string is the earlier time.
    let mut spans: HashMap<String, (&str, &str)> = HashMap::new();
    for t in files.iter().filter(|f| f.kind == LogKind::MessageTracking) {
        let (Some(a), Some(b)) = (t.start.as_deref(), t.end.as_deref()) else {
            continue;
        };
        for s in servers(t) {
            let span = spans.entry(s).or_insert((a, b));
            *span = (span.0.min(a), span.1.max(b));
        }
    }
    let mut out = Vec::new();
    for e in files.iter().filter(|f| f.kind == LogKind::PowershellCsv) {
        let (Some(from), Some(to)) = (e.start.as_deref(), e.end.as_deref()) else {
            continue;
        };
        let both: Vec<&str> = e
            .server
            .as_deref()
            .unwrap_or("")
            .split(", ")
            .filter(|s| {
                spans
                    .get(&s.to_ascii_lowercase())
                    .is_some_and(|&(a, b)| a <= to && b >= from)
            })
            .collect();
        if !both.is_empty() {
            out.push(format!(
                "{}: a PowerShell export of events that the tracking logs of {} in the bundle cover too (the same hours): rows in both count twice",
                e.path,
                both.join(", ")
            ));
        }
    }
    out
}

/// A warning on the first tracking log of each server folder whose rows name another server
/// as their own (`EX01_logs/` holding EX01's logs): its files were read as that server's
/// (`ingest::name_servers`), or, where its logs disagree, as the folder's, and then hops,
/// latency sections and the flow between servers, which name servers as the rows do, miss
/// them. On the file, so that a report on an export says it too; here, once copies are set
/// aside, so that it is not left on a copy. Whether the folder was read as that server's is
/// what the file was read as.
fn folders_named_otherwise<C>(outcomes: &mut [Outcome<C>]) {
    let mut told: Vec<String> = Vec::new();
    for o in outcomes.iter_mut() {
        let (Some(host), Some(folder)) = (
            o.parsed.host.as_deref(),
            crate::ingest::layout::server_from_path(&o.info.path),
        ) else {
            continue;
        };
        if o.info.kind != LogKind::MessageTracking
            || host.eq_ignore_ascii_case(&folder)
            || told.contains(&folder)
        {
            continue;
        }
        let read_as = o.info.server.as_deref().unwrap_or("");
        let what = if read_as.eq_ignore_ascii_case(host) {
            format!("the folder {folder} holds {host}'s logs (their rows say so): read as {host}'s")
        } else {
            format!(
                "in the folder {folder}, but its rows say {host} wrote them, and other logs there say otherwise: the rows count as {folder}'s, so hops, latency sections and the flow between servers, which name {host}, may miss them (name each server's folder after it)"
            )
        };
        o.parsed.warnings.push(format!("{}: {what}", o.info.path));
        told.push(folder);
    }
}

/// An SMTP Send log outside any server folder: its lines name no server, so its server is the
/// one `ingest::name_servers` gave it, or "unknown".
pub(super) fn send_log_without_folder(f: &FileInfo) -> bool {
    f.kind == LogKind::SmtpSend && crate::ingest::layout::server_from_path(&f.path).is_none()
}

/// What became of the SMTP Send logs without a server folder, whose lines name no server
/// (`ingest::name_servers`): one warning for those given a server, one for those left
/// "unknown". From the files alone, so a report on an export says it too.
fn send_logs_without_server(files: &[FileInfo]) -> Vec<String> {
    let mut given: Vec<&FileInfo> = Vec::new();
    let mut unknown: Vec<&FileInfo> = Vec::new();
    for f in files.iter().filter(|f| send_log_without_folder(f)) {
        match f.server.as_deref() {
            Some("unknown") | None => unknown.push(f),
            Some(_) => given.push(f),
        }
    }
    let which = |fs: &[&FileInfo]| match fs {
        [one] => format!("1 SMTP Send log ({}) has", one.path),
        [first, ..] => format!(
            "{} SMTP Send logs ({} and {} more) have",
            fs.len(),
            first.path,
            fs.len() - 1
        ),
        [] => String::new(),
    };
    let mut out = Vec::new();
    if !given.is_empty() {
        let mut servers: Vec<&str> = given.iter().filter_map(|f| f.server.as_deref()).collect();
        servers.sort_unstable();
        servers.dedup();
        out.push(format!(
            "{} no server folder, and Send lines name no server: read as {}'s, the server whose receive logs use the same local address, or the only server of a bundle without server folders (see files[].server)",
            which(&given),
            servers.join("'s or ")
        ));
    }
    if !unknown.is_empty() {
        out.push(format!(
            "{} no server folder, and Send lines name no server: read as the server \"unknown\" (a folder named after each server, around its logs, tells them apart)",
            which(&unknown)
        ));
    }
    out
}

/// Whether a file may be taken for a copy: it was read, its digest is known (an engine's copy
/// of an export without `inventory.json` has none), and it holds lines (rows or malformed ones).
/// Two servers can write files that are only a header, alike to the byte.
fn may_be_a_copy(f: &FileInfo) -> bool {
    f.kind != LogKind::Skipped && !f.sha256.is_empty() && f.rows + f.malformed > 0
}

/// Makes `o` a skipped copy of `of`, its rows dropped.
fn set_aside<C>(o: &mut Outcome<C>, of: &str, how: &str) {
    let info = &mut o.info;
    info.skipped = Some(format!(
        "a copy of {of} ({how}): its rows are read from there only"
    ));
    info.copy_of = Some(of.to_string());
    info.kind = LogKind::Skipped;
    info.version = None;
    (info.rows, info.malformed) = (0, 0);
    (info.start, info.end) = (None, None);
    o.servers.clear();
    o.parsed = Parsed::default();
    o.chunk = None;
}

/// Joins the entries' outcomes, in bundle order, into the inventory. `sha256` is the input's
/// own digest where it has one (a zip or a file); a folder's is derived from its entries'.
pub(super) fn assemble<C>(
    display: String,
    sha256: Option<String>,
    input: Input,
    mut outcomes: Vec<Outcome<C>>,
) -> Result<ReadOut<C>> {
    if outcomes.is_empty() {
        return Err(Error::EmptyBundle { path: display });
    }
    if outcomes.iter().all(|o| o.info.kind == LogKind::Skipped) {
        let first = &outcomes[0].info;
        return Err(Error::NothingParsed {
            path: display,
            skipped: outcomes.len(),
            first: format!(
                "{}: {}",
                first.path,
                first.skipped.as_deref().unwrap_or("skipped")
            ),
        });
    }
    set_copies_aside(&mut outcomes);
    set_snapshots_aside(&mut outcomes, &input);
    let sha256 = sha256.unwrap_or_else(|| {
        // Lines sorted by their bytes, whatever order the entries are listed in, so a folder's
        // digest stays what it always was.
        let mut lines: Vec<(&str, &str)> = outcomes
            .iter()
            .map(|o| (o.info.path.as_str(), o.info.sha256.as_str()))
            .collect();
        lines.sort_unstable();
        folder_digest(lines.into_iter())
    });
    let mut files = Vec::with_capacity(outcomes.len());
    let mut entries = Vec::with_capacity(outcomes.len());
    let mut chunks = Vec::new();
    let mut warnings = Vec::new();
    let mut malformed_lines = Vec::new();
    let mut malformed_total = 0;
    let (mut events, mut protocol_lines) = (0, 0);
    let (mut start, mut end): (Option<i64>, Option<i64>) = (None, None);
    let mut totals: BTreeMap<String, KindTotal> = BTreeMap::new();
    // Server names compare case-insensitively (`EX01` in a folder, `ex01` in a row).
    let mut servers: BTreeMap<String, String> = BTreeMap::new();
    let mut days: BTreeMap<i64, (u64, String)> = BTreeMap::new();
    let mut leap = 0;
    let mut notes = Vec::new();
    folders_named_otherwise(&mut outcomes);
    for (index, o) in outcomes.into_iter().enumerate() {
        let Outcome {
            info,
            top,
            servers: servers_of,
            parsed,
            chunk,
        } = o;
        let t = totals.entry(info.kind.as_str().to_string()).or_default();
        t.files += 1;
        t.rows += info.rows;
        t.bytes += info.bytes;
        match info.kind {
            k if k.has_events() => events += info.rows,
            LogKind::SmtpReceive | LogKind::SmtpSend => protocol_lines += info.rows,
            _ => {}
        }
        for s in servers_of {
            servers.entry(s.to_ascii_lowercase()).or_insert(s);
        }
        if let Some(s) = parsed.start {
            start = Some(start.map_or(s, |x| x.min(s)));
        }
        if let Some(e) = parsed.end {
            end = Some(end.map_or(e, |x| x.max(e)));
        }
        for (&d, &(n, line)) in &parsed.days {
            let e = days
                .entry(d)
                .or_insert_with(|| (0, format!("{}:{line}", info.path)));
            e.0 += n;
        }
        leap += parsed.leap_seconds;
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
        if !parsed.warnings.is_empty() || parsed.leap_seconds > 0 {
            notes.push(EntryNote {
                path: info.path.clone(),
                warnings: parsed.warnings.clone(),
                leap_seconds: parsed.leap_seconds,
            });
        }
        warnings.extend(parsed.warnings);
        entries.push(EntryRef {
            path: info.path.clone(),
            kind: info.kind,
            server: info.server.clone(),
            top,
            sha256: info.sha256.clone(),
        });
        if let Some(c) = chunk {
            chunks.push((index as u32, c));
        }
        files.push(info);
    }
    if malformed_total > 0 {
        warnings.insert(
            0,
            format!("{malformed_total} malformed lines were not read (listed with entry and line)"),
        );
    }
    if leap > 0 {
        warnings.push(format!(
            "{leap} rows stamped with a leap second (23:59:60) were kept as 23:59:59.999"
        ));
    }
    // From the files, not from this run's finds: an export's inventory brings its copies along.
    let copies: Vec<(&str, &str)> = files
        .iter()
        .filter_map(|f| Some((f.path.as_str(), f.copy_of.as_deref()?)))
        .collect();
    if let Some((copy, of)) = copies.first() {
        let (n, are) = match copies.len() {
            1 => ("1 file is a copy of another".to_string(), "was"),
            n => (format!("{n} files are copies of others"), "were"),
        };
        warnings.push(format!(
            "{n} and {are} not read again: {copy} is {of} again (see files[].copy_of)"
        ));
    }
    warnings.extend(exports_beside_logs(&files));
    warnings.extend(send_logs_without_server(&files));
    let skipped_n = files.iter().filter(|f| f.kind == LogKind::Skipped).count();
    if skipped_n > 0 {
        warnings.push(format!(
            "{} skipped (see files[].skipped)",
            crate::human::count(skipped_n as u64, "entry", "entries")
        ));
    }
    let periods = periods(&days, &mut warnings);
    Ok(ReadOut {
        inventory: Inventory {
            bundle: display,
            sha256,
            events,
            protocol_lines,
            start: start.map(rfc3339),
            end: end.map(rfc3339),
            servers: servers.into_values().collect(),
            files,
            malformed_total,
            malformed_lines,
            warnings,
            totals,
            periods,
        },
        entries,
        chunks,
        notes,
        input,
        read_again: Vec::new(),
    })
}

/// Days more than this apart start a new period.
const PERIOD_GAP_DAYS: i64 = 2;
/// A small period this many days or more from the main one is flagged.
const FAR_DAYS: i64 = 7;

/// Groups the rows' days into periods and flags small periods far from the main one: a row
/// dated 9999-12-31 in a bundle of last week is a corrupted or stray line, and the user should
/// know it is there (it is kept, and analysed where it is).
fn periods(days: &BTreeMap<i64, (u64, String)>, warnings: &mut Vec<String>) -> Vec<Period> {
    let mut groups: Vec<(i64, i64, u64, String)> = Vec::new();
    for (&d, (n, first)) in days {
        match groups.last_mut() {
            Some(g) if d - g.1 <= PERIOD_GAP_DAYS => {
                g.1 = d;
                g.2 += n;
            }
            _ => groups.push((d, d, *n, first.clone())),
        }
    }
    let total: u64 = groups.iter().map(|g| g.2).sum();
    let main = groups
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .2.cmp(&b.1 .2).then_with(|| b.0.cmp(&a.0)))
        .map(|(i, _)| i);
    let main_days = main.map(|i| (groups[i].0, groups[i].1));
    for (i, g) in groups.iter().enumerate() {
        let far = main_days.is_some_and(|(a, b)| g.1 + FAR_DAYS < a || g.0 > b + FAR_DAYS);
        let few = g.2 * 10 <= total || g.2 <= 3;
        if Some(i) != main && far && few {
            let day = |d: i64| rfc3339(d * DAY_MS).get(..10).unwrap_or("").to_string();
            let when = if g.0 == g.1 {
                day(g.0)
            } else {
                format!("{} to {}", day(g.0), day(g.1))
            };
            warnings.push(format!(
                "{} dated {when}, far outside the bundle's main period (first at {})",
                crate::human::count(g.2, "row", "rows"),
                g.3
            ));
        }
    }
    groups
        .into_iter()
        .map(|(a, b, n, _)| Period {
            start: rfc3339(a * DAY_MS),
            end: rfc3339((b + 1) * DAY_MS - 1),
            rows: n,
        })
        .collect()
}
