//! Parquet exports read back as a bundle, so that a month narrowed down in Spark, Trino or
//! DuckDB can be reported on, and exports made on each server can be reported on together.
//!
//! An export is a folder with an `events/` dataset (and usually `protocol/`, `sessions/`,
//! `inventory.json` and `entries.json`); a bundle is one export or a folder of them side by
//! side. The rows go through the same collectors as rows read from logs, in the same order
//! (entry by entry, line by line), so the model, and so the findings, are the ones the logs
//! give. The inventory is rebuilt from the rows with what `inventory.json` and `entries.json`
//! add (checksums, sizes, versions, malformed lines, the readers' warnings); where an engine
//! wrote the folder without them, the entries are those the rows name, and the report says what
//! is not known.
//!
//! What an engine may change is accepted: other file names, the partition columns inside the
//! files or only in the path, timestamps in microseconds, columns dropped (read as empty) or
//! added (ignored). What it may not is refused with the file and column named: a file that is
//! not Parquet, a column of the wrong type, rows without provenance (`entry`, `line`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_arrow::array::{Array, ListArray, Utf8ViewArray};
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;
use rayon::prelude::*;
use walkdir::WalkDir;

use super::{DEFAULT_PARTITION, EVENTS, INVENTORY_FILE, NOTES_FILE, PROTOCOL};
use crate::error::{Error, Result};
use crate::human::rfc3339;
use crate::ingest::evidence::Record;
use crate::ingest::layout::server_from_path;
use crate::ingest::schema::{self, col, Field, Row};
use crate::ingest::{
    inventory, servers_of, Collector, EntryCtx, EntryNote, FileInfo, Input, Inventory, LogKind,
    Malformed, Options, Outcome, Parsed, Progress, ProtoLine, ReadOut, Sink,
};

/// The Parquet exports `path` holds: itself, or the exports in folders below it. `None` when
/// it holds none (a folder of logs). A folder that holds exports and other files is refused:
/// reading only half of it would be silent loss.
pub fn find(path: &Path) -> Result<Option<Vec<PathBuf>>> {
    if !path.is_dir() {
        return Ok(None);
    }
    if is_export(path) {
        return Ok(Some(vec![path.to_path_buf()]));
    }
    let mut exports = Vec::new();
    let mut other: Option<PathBuf> = None;
    let mut walk = WalkDir::new(path)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter();
    while let Some(e) = walk.next() {
        let Ok(e) = e else { continue };
        if e.file_type().is_dir() {
            if is_export(e.path()) {
                exports.push(e.path().to_path_buf());
                walk.skip_current_dir();
            }
        } else if other.is_none() && !hidden(e.path()) {
            other = Some(e.path().to_path_buf());
        }
    }
    if exports.is_empty() {
        return Ok(None);
    }
    if let Some(other) = other {
        return Err(Error::ParquetExport {
            path: other,
            detail: format!(
                "not part of a Parquet export, in a folder that holds {} (give the logs and the exports separately)",
                crate::human::count(exports.len() as u64, "export", "exports")
            ),
        });
    }
    Ok(Some(exports))
}

fn is_export(dir: &Path) -> bool {
    let events = dir.join(EVENTS);
    events.is_dir()
        && (dir.join(INVENTORY_FILE).is_file()
            || WalkDir::new(&events)
                .into_iter()
                .flatten()
                .any(|e| e.file_type().is_file() && is_parquet_name(e.path())))
}

fn is_parquet_name(p: &Path) -> bool {
    p.extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("parquet"))
}

/// Engines' bookkeeping files (`_SUCCESS`, `.part-0.crc`) and the desktop's (`.DS_Store`).
fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

/// A row's place: (entry, line, file, row of that file's frame). Sorted, it is the logs'
/// order.
type Key = (u32, u32, u32, u32);

/// The dataset a frame is read from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Events,
    Protocol,
}

impl Table {
    fn columns(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Table::Events => schema::events_schema()
                .into_iter()
                .map(|(n, t, _)| (n, t))
                .collect(),
            Table::Protocol => schema::PROTOCOL_SCHEMA
                .iter()
                .map(|(n, t, _)| (*n, *t))
                .collect(),
        }
    }
}

/// The type a column of the canonical schema has, from the schema table's spelling.
fn dtype_of(t: &str) -> DataType {
    match t {
        "datetime[ms, UTC]" => DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
        "list[str]" => DataType::List(Box::new(DataType::String)),
        "u32" => DataType::UInt32,
        "u64" => DataType::UInt64,
        _ => DataType::String,
    }
}

/// Columns without which a row cannot be placed or traced back.
const REQUIRED: [&str; 3] = [col::TIME, col::ENTRY, col::LINE];

/// Columns every row is read with, whatever the collector reads: its time, server and
/// provenance.
const ALWAYS: [&str; 5] = [col::TIME, col::SERVER, col::LOG_KIND, col::ENTRY, col::LINE];

/// Every Parquet file of a dataset folder in path order, each conformed to the canonical
/// columns among `want` (all of them for `None`) and in one chunk, so that its rows are fetched
/// by position in constant time. The files are not stacked: stacking would copy every column
/// once more. Empty when the folder is missing or holds no file.
fn read_table(
    dir: &Path,
    table: Table,
    want: Option<&[&str]>,
    progress: &dyn Progress,
) -> Result<Vec<DataFrame>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for e in WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let e = e.map_err(|e| Error::Io {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e.into(),
        })?;
        if !e.file_type().is_file() || hidden(e.path()) {
            continue;
        }
        if !is_parquet_name(e.path()) {
            return Err(Error::ParquetExport {
                path: e.path().to_path_buf(),
                detail: "not a .parquet file, inside a Parquet dataset; remove it".into(),
            });
        }
        files.push(e.path().to_path_buf());
    }
    files
        .par_iter()
        .map(|f| {
            let mut df = read_file(f, dir, table, want)?;
            df.rechunk_mut_par();
            progress.advance(std::fs::metadata(f).map_or(0, |m| m.len()));
            Ok(df)
        })
        .collect()
}

fn read_file(path: &Path, root: &Path, table: Table, want: Option<&[&str]>) -> Result<DataFrame> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |source| Error::ParquetRead {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = ParquetReader::new(file);
    if let Some(want) = want {
        // Only the wanted columns the file has; the others read as empty in `conform`.
        let schema = reader.schema().map_err(bad)?;
        let present = want
            .iter()
            .filter(|c| schema.contains(c))
            .map(|c| c.to_string())
            .collect();
        reader = reader.with_columns(Some(present));
    }
    let df = reader.finish().map_err(bad)?;
    conform(df, &partitions(path, root), table, want, path)
}

/// `key=value` folders between the dataset folder and the file, values percent-decoded.
fn partitions(path: &Path, root: &Path) -> HashMap<String, Option<String>> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = HashMap::new();
    let parts: Vec<_> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        let c = c.as_os_str().to_string_lossy();
        if let Some((k, v)) = c.split_once('=') {
            let v = (v != DEFAULT_PARTITION).then(|| percent_decode(v));
            out.insert(k.to_string(), v);
        }
    }
    out
}

fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The file's columns in the canonical order and types, those of `want` only (all for `None`):
/// a missing column reads as empty, the server comes from the path where the file does not
/// hold it, unknown columns are left out.
fn conform(
    df: DataFrame,
    parts: &HashMap<String, Option<String>>,
    table: Table,
    want: Option<&[&str]>,
    path: &Path,
) -> Result<DataFrame> {
    let n = df.height();
    let bad = |column: &str, detail: String| Error::ParquetColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        detail,
    };
    let mut cols = Vec::new();
    for (name, t) in table.columns() {
        if want.is_some_and(|w| !w.contains(&name)) {
            continue;
        }
        let want = dtype_of(t);
        let c = match df.column(name) {
            Ok(c) => {
                let got = c.dtype().clone();
                let ok = match (&got, &want) {
                    (DataType::Datetime(..), DataType::Datetime(..)) => true,
                    (DataType::List(a), DataType::List(_)) => **a == DataType::String,
                    (a, b) if b.is_integer() => a.is_integer(),
                    (a, b) => a == b,
                };
                if !ok {
                    return Err(bad(name, format!("is {got}, expected {t}")));
                }
                // A datetime's physical value is the UTC instant whatever its zone; only the
                // unit changes.
                let want = match (&got, &want) {
                    (DataType::Datetime(_, tz), DataType::Datetime(u, _)) => {
                        DataType::Datetime(*u, tz.clone())
                    }
                    _ => want,
                };
                c.strict_cast(&want)
                    .map_err(|e| bad(name, format!("cannot be read as {t}: {e}")))?
            }
            Err(_) if name == col::SERVER => match parts.get(col::SERVER) {
                Some(v) => Column::new(name.into(), vec![v.clone().unwrap_or_default(); n]),
                None => {
                    return Err(bad(
                        name,
                        "is missing, and no `server=` folder names it".into(),
                    ))
                }
            },
            Err(_) if REQUIRED.contains(&name) => {
                return Err(bad(
                    name,
                    "is missing; every row needs its time and provenance (`entry`, `line`)".into(),
                ))
            }
            Err(_) => Column::full_null(name.into(), n, &want),
        };
        cols.push(c.with_name(name.into()));
    }
    for name in REQUIRED {
        if df.column(name).map_or(0, |c| c.null_count()) > 0 {
            return Err(bad(name, "has empty values".into()));
        }
    }
    Ok(DataFrame::new(n, cols)?)
}

/// A list-of-strings column read row by row, joined with `;` as the logs write it.
struct Lists<'a> {
    arr: Option<(&'a ListArray<i64>, &'a Utf8ViewArray)>,
}

impl<'a> Lists<'a> {
    fn new(c: &'a Column) -> Result<Lists<'a>> {
        let ca = c.list()?;
        let arr = ca.downcast_iter().next().and_then(|a| {
            let values = a.values().as_any().downcast_ref::<Utf8ViewArray>()?;
            Some((a, values))
        });
        Ok(Lists { arr })
    }

    fn join<'b>(&self, i: usize, buf: &'b mut String) -> Option<&'b str> {
        let (arr, values) = self.arr?;
        if i >= arr.len() || arr.is_null(i) {
            return None;
        }
        buf.clear();
        let (a, b) = arr.offsets().start_end(i);
        for j in a..b {
            if values.is_null(j) {
                continue;
            }
            if !buf.is_empty() {
                buf.push(';');
            }
            buf.push_str(values.value(j));
        }
        Some(buf.as_str())
    }
}

/// One file's events columns, to make rows from; those the collector does not read were not
/// read ([`Reads::columns`]).
struct EventCols<'a> {
    time: &'a Int64Chunked,
    server: &'a StringChunked,
    text: Vec<Option<&'a StringChunked>>,
    recipients: Lists<'a>,
    statuses: Lists<'a>,
    count: Option<&'a UInt32Chunked>,
    bytes: Option<&'a UInt64Chunked>,
    extra: Option<&'a StringChunked>,
}

impl<'a> EventCols<'a> {
    fn new(df: &'a DataFrame) -> Result<EventCols<'a>> {
        let text = |name: &str| -> Result<Option<&'a StringChunked>> {
            df.column(name)
                .ok()
                .map(|c| c.str())
                .transpose()
                .map_err(Into::into)
        };
        let lists = |name: &str| -> Result<Lists<'a>> {
            match df.column(name) {
                Ok(c) => Lists::new(c),
                Err(_) => Ok(Lists { arr: None }),
            }
        };
        Ok(EventCols {
            time: df.column(col::TIME)?.datetime()?.physical(),
            server: df.column(col::SERVER)?.str()?,
            text: Field::ALL
                .iter()
                .map(|f| text(f.column()))
                .collect::<Result<_>>()?,
            recipients: lists(col::RECIPIENTS)?,
            statuses: lists(col::RECIPIENT_STATUS)?,
            count: df
                .column(col::RECIPIENT_COUNT)
                .ok()
                .map(|c| c.u32())
                .transpose()?,
            bytes: df
                .column(col::TOTAL_BYTES)
                .ok()
                .map(|c| c.u64())
                .transpose()?,
            extra: text(col::EXTRA)?,
        })
    }
}

/// The protocol frame's columns.
struct ProtoCols<'a> {
    time: &'a Int64Chunked,
    server: &'a StringChunked,
    seq: &'a UInt32Chunked,
    /// connector, session, local, remote, event, data, context, extra
    text: [&'a StringChunked; 8],
}

impl<'a> ProtoCols<'a> {
    fn new(df: &'a DataFrame) -> Result<ProtoCols<'a>> {
        let s = |n: &str| -> Result<&'a StringChunked> { Ok(df.column(n)?.str()?) };
        Ok(ProtoCols {
            time: df.column(col::TIME)?.datetime()?.physical(),
            server: s(col::SERVER)?,
            seq: df.column("sequence_number")?.u32()?,
            text: [
                s("connector_id")?,
                s("session_id")?,
                s("local_endpoint")?,
                s("remote_endpoint")?,
                s("event")?,
                s("data")?,
                s("context")?,
                s(col::EXTRA)?,
            ],
        })
    }
}

/// One entry of the bundle being rebuilt.
struct EntrySpec {
    path: String,
    kind: LogKind,
    /// Its inventory record, where the export has one.
    info: Option<FileInfo>,
    malformed: Vec<Malformed>,
    note: EntryNote,
}

/// What one export folder holds, read.
struct Export {
    dir: PathBuf,
    inventory: Option<Inventory>,
    notes: Vec<EntryNote>,
    /// One frame per file, in path order.
    events: Vec<DataFrame>,
    protocol: Vec<DataFrame>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::ParquetExport {
            path: path.to_path_buf(),
            detail: format!("not what `export` writes ({e})"),
        })
}

fn read_export(dir: &Path, events: &[&str], progress: &dyn Progress) -> Result<Export> {
    Ok(Export {
        dir: dir.to_path_buf(),
        inventory: read_json(&dir.join(INVENTORY_FILE))?,
        notes: read_json(&dir.join(NOTES_FILE))?.unwrap_or_default(),
        events: read_table(&dir.join(EVENTS), Table::Events, Some(events), progress)?,
        protocol: read_table(&dir.join(PROTOCOL), Table::Protocol, None, progress)?,
    })
}

/// The evidence columns of the events read, to answer for the rows that become evidence.
pub struct Rows {
    /// One frame per file read.
    dfs: Vec<DataFrame>,
    /// (entry, line, file, row of that file's frame), sorted.
    keys: Vec<Key>,
}

impl Rows {
    /// The record of the row read from `entry` at `line`.
    pub fn record(&self, entry: u32, line: u32) -> Option<Record> {
        let at = self
            .keys
            .binary_search_by(|k| (k.0, k.1).cmp(&(entry, line)))
            .ok()?;
        let (_, _, file, row) = self.keys[at];
        let (df, row) = (self.dfs.get(file as usize)?, row as usize);
        let text = |f: Field| -> String {
            df.column(f.column())
                .ok()
                .and_then(|c| c.str().ok()?.get(row).map(str::to_string))
                .unwrap_or_default()
        };
        let list = |name: &str| -> String {
            let mut buf = String::new();
            df.column(name)
                .ok()
                .and_then(|c| Lists::new(c).ok()?.join(row, &mut buf).map(str::to_string))
                .unwrap_or_default()
        };
        Some(Record {
            event_id: text(Field::EventId),
            source: text(Field::Source),
            message_id: text(Field::MessageId),
            sender: text(Field::Sender),
            recipients: list(col::RECIPIENTS),
            status: list(col::RECIPIENT_STATUS),
            subject: text(Field::Subject),
            source_context: text(Field::SourceContext),
        })
    }
}

/// The columns [`Rows`] keeps.
const EVIDENCE_COLUMNS: [&str; 8] = [
    "event_id",
    "source",
    "message_id",
    "sender",
    col::RECIPIENTS,
    col::RECIPIENT_STATUS,
    "subject",
    "source_context",
];

/// Reads the exports through `collector`, entry by entry as the logs were read.
pub fn read<C: Collector>(
    path: &Path,
    dirs: &[PathBuf],
    opts: &Options,
    collector: &C,
    progress: &dyn Progress,
) -> Result<ReadOut<C::Chunk>> {
    let total: u64 = dirs
        .iter()
        .flat_map(|d| WalkDir::new(d).into_iter().flatten())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .sum();
    progress.start(total);
    // What every row needs, what the collector reads, and what evidence shows.
    let mut want: Vec<&str> = ALWAYS.to_vec();
    for c in collector
        .reads()
        .columns()
        .into_iter()
        .chain(EVIDENCE_COLUMNS)
    {
        if !want.contains(&c) {
            want.push(c);
        }
    }
    let mut exports: Vec<Export> = dirs
        .iter()
        .map(|d| read_export(d, &want, progress))
        .collect::<Result<_>>()?;
    progress.finish();

    let indexed: Vec<Indexed> = exports.iter().map(index_export).collect::<Result<_>>()?;
    // The paths and kinds are in the index now: their columns go.
    for df in exports
        .iter_mut()
        .flat_map(|e| e.events.iter_mut().chain(e.protocol.iter_mut()))
    {
        for name in [col::ENTRY, col::LOG_KIND] {
            if df.get_column_index(name).is_some() {
                df.drop_in_place(name)?;
            }
        }
    }
    // Paths that two exports share get the export's folder in front, so evidence stays
    // unambiguous.
    let clash = exports.len() > 1 && {
        let mut seen: HashSet<&str> = HashSet::new();
        exports.iter().zip(&indexed).any(|(e, x)| {
            let mine: HashSet<&str> = e
                .inventory
                .iter()
                .flat_map(|i| i.files.iter().map(|f| f.path.as_str()))
                .chain(x.unlisted.iter().map(|(p, _)| p.as_str()))
                .collect();
            mine.into_iter().any(|p| !seen.insert(p))
        })
    };
    // One export of a zip keeps the zip's digest; several are digested from their entries.
    let sha256 = match exports.as_slice() {
        [one] => one.inventory.as_ref().map(|i| i.sha256.clone()),
        _ => None,
    };
    let mut specs: Vec<EntrySpec> = Vec::new();
    let mut events = Vec::new();
    let mut protocol = Vec::new();
    let mut ev_keys: Vec<Key> = Vec::new();
    let mut pr_keys: Vec<Key> = Vec::new();
    let mut unknown_origin = false;
    for (e, x) in exports.into_iter().zip(indexed) {
        let prefix = if clash {
            let rel = e.dir.strip_prefix(path).unwrap_or(&e.dir);
            format!("{}/", rel.to_string_lossy())
        } else {
            String::new()
        };
        let base = specs.len() as u32;
        let notes: HashMap<&str, &EntryNote> =
            e.notes.iter().map(|n| (n.path.as_str(), n)).collect();
        if let Some(inv) = &e.inventory {
            let mut malformed: HashMap<&str, Vec<Malformed>> = HashMap::new();
            for m in &inv.malformed_lines {
                malformed
                    .entry(m.path.as_str())
                    .or_default()
                    .push(m.clone());
            }
            for f in &inv.files {
                let mut info = f.clone();
                info.path = format!("{prefix}{}", f.path);
                let mut note = notes
                    .get(f.path.as_str())
                    .map(|n| (*n).clone())
                    .unwrap_or_default();
                note.path = info.path.clone();
                specs.push(EntrySpec {
                    path: info.path.clone(),
                    kind: f.kind,
                    malformed: malformed
                        .remove(f.path.as_str())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|mut m| {
                            m.path = info.path.clone();
                            m
                        })
                        .collect(),
                    info: Some(info),
                    note,
                });
            }
        } else {
            unknown_origin = true;
        }
        for (p, kind) in x.unlisted {
            let path = format!("{prefix}{p}");
            specs.push(EntrySpec {
                note: EntryNote {
                    path: path.clone(),
                    ..EntryNote::default()
                },
                path,
                kind,
                info: None,
                malformed: Vec::new(),
            });
        }
        for (dfs, entries, keys, first) in [
            (&e.events, x.events, &mut ev_keys, events.len()),
            (&e.protocol, x.protocol, &mut pr_keys, protocol.len()),
        ] {
            for (j, (df, entries)) in dfs.iter().zip(entries).enumerate() {
                let line = df.column(col::LINE)?.u32()?;
                let file = (first + j) as u32;
                keys.extend(
                    entries
                        .iter()
                        .zip(line.iter())
                        .enumerate()
                        .map(|(i, (&idx, l))| (base + idx, l.unwrap_or(0), file, i as u32)),
                );
            }
        }
        events.extend(e.events);
        protocol.extend(e.protocol);
    }
    ev_keys.par_sort_unstable();
    pr_keys.par_sort_unstable();

    let ev_cols: Vec<EventCols> = events.iter().map(EventCols::new).collect::<Result<_>>()?;
    let pr_cols: Vec<ProtoCols> = protocol.iter().map(ProtoCols::new).collect::<Result<_>>()?;
    let ranges = |keys: &[Key]| {
        let mut r: Vec<(usize, usize)> = vec![(0, 0); specs.len()];
        let mut i = 0;
        while i < keys.len() {
            let e = keys[i].0;
            let j = i + keys[i..].partition_point(|k| k.0 == e);
            r[e as usize] = (i, j);
            i = j;
        }
        r
    };
    let ev_ranges = ranges(&ev_keys);
    let pr_ranges = ranges(&pr_keys);
    let outcomes: Vec<Outcome<C::Chunk>> = specs
        .into_par_iter()
        .enumerate()
        .map(|(i, spec)| {
            let (a, b) = ev_ranges[i];
            let (c, d) = pr_ranges[i];
            let rows = Feed {
                events: (&ev_cols, &ev_keys[a..b]),
                protocol: (&pr_cols, &pr_keys[c..d]),
            };
            outcome(spec, rows, opts, collector)
        })
        .collect::<Result<_>>()?;
    drop(ev_cols);
    drop(pr_cols);
    drop(protocol);

    let rows = Rows {
        dfs: events
            .into_iter()
            .map(|df| df.select(EVIDENCE_COLUMNS))
            .collect::<PolarsResult<_>>()?,
        keys: ev_keys,
    };
    let display = crate::error::printable(&path.display().to_string());
    let mut out = inventory::assemble(display, sha256, Input::Parquet(rows), outcomes)?;
    if unknown_origin {
        out.inventory.warnings.push(
            "read from Parquet without inventory.json: the original files' sizes, checksums, versions and malformed lines are not known".into(),
        );
    }
    Ok(out)
}

/// One export's entries and which of them each row belongs to, from one pass over the `entry`
/// column of each table.
struct Indexed {
    /// Entries only the rows name (an engine's output has no inventory), in path order, with
    /// their kind; they come after the inventory's.
    unlisted: Vec<(String, LogKind)>,
    /// Per file of the events and the protocol table, per row: its entry (inventory entries
    /// first, then `unlisted`).
    events: Vec<Vec<u32>>,
    protocol: Vec<Vec<u32>>,
}

fn index_export(e: &Export) -> Result<Indexed> {
    let listed: Vec<&str> = e
        .inventory
        .iter()
        .flat_map(|i| i.files.iter().map(|f| f.path.as_str()))
        .collect();
    // Provisional ids: the inventory's entries by position, then unlisted paths as met.
    let mut ids: HashMap<&str, u32> = listed
        .iter()
        .enumerate()
        .map(|(i, p)| (*p, i as u32))
        .collect();
    let mut met: Vec<(&str, LogKind)> = Vec::new();
    let mut tables: [Vec<Vec<u32>>; 2] = [Vec::new(), Vec::new()];
    for (dfs, per_file) in [&e.events, &e.protocol].into_iter().zip(&mut tables) {
        for df in dfs {
            let entry = df.column(col::ENTRY)?.str()?;
            let kinds = df.column(col::LOG_KIND)?.str()?;
            let mut rows = Vec::with_capacity(df.height());
            let mut last: Option<(&str, u32)> = None;
            for (p, k) in entry.iter().zip(kinds.iter()) {
                let p = p.unwrap_or("");
                let id = match last {
                    Some((q, id)) if q == p => id,
                    _ => match ids.get(p) {
                        Some(&id) => id,
                        None => {
                            let kind = k
                            .and_then(LogKind::parse)
                            .filter(|k| *k != LogKind::Skipped)
                            .ok_or_else(|| Error::ParquetColumn {
                                path: e.dir.clone(),
                                column: col::LOG_KIND.into(),
                                detail: format!(
                                    "of a row of {:?} is {:?}, not a kind of log (message_tracking, smtp_receive, ...)",
                                    crate::error::printable(p),
                                    crate::error::printable(k.unwrap_or(""))
                                ),
                            })?;
                            let id = (listed.len() + met.len()) as u32;
                            met.push((p, kind));
                            ids.insert(p, id);
                            id
                        }
                    },
                };
                last = Some((p, id));
                rows.push(id);
            }
            per_file.push(rows);
        }
    }
    // Unlisted entries in path order: provisional id -> final id.
    let mut order: Vec<usize> = (0..met.len()).collect();
    order.sort_by_key(|&k| met[k].0);
    let mut final_id: Vec<u32> = vec![0; met.len()];
    for (rank, &k) in order.iter().enumerate() {
        final_id[k] = (listed.len() + rank) as u32;
    }
    let n = listed.len() as u32;
    let [mut events, mut protocol] = tables;
    for id in events.iter_mut().chain(protocol.iter_mut()).flatten() {
        if *id >= n {
            *id = final_id[(*id - n) as usize];
        }
    }
    Ok(Indexed {
        unlisted: order
            .into_iter()
            .map(|k| (met[k].0.to_string(), met[k].1))
            .collect(),
        events,
        protocol,
    })
}

/// The rows of one entry, in line order, and the files' columns they are in.
struct Feed<'a> {
    events: (&'a [EventCols<'a>], &'a [Key]),
    protocol: (&'a [ProtoCols<'a>], &'a [Key]),
}

fn outcome<C: Collector>(
    spec: EntrySpec,
    feed: Feed<'_>,
    opts: &Options,
    collector: &C,
) -> Result<Outcome<C::Chunk>> {
    let folder = server_from_path(&spec.path);
    let skipped = spec.kind == LogKind::Skipped;
    let mut parsed = Parsed::default();
    let chunk = if skipped {
        None
    } else {
        let ctx = EntryCtx {
            path: &spec.path,
            server: folder.as_deref(),
            opts,
        };
        let n = feed.events.1.len() + feed.protocol.1.len();
        let mut sink = collector.sink(&ctx, spec.kind, &|| n);
        let (files, keys) = feed.events;
        let (mut rb, mut sb) = (String::new(), String::new());
        for &(_, line, file, r) in keys {
            let (c, r) = (&files[file as usize], r as usize);
            let mut row = Row::new(c.time.get(r).unwrap_or(0), line);
            row.server = c.server.get(r).unwrap_or("");
            for (slot, ca) in row.text.iter_mut().zip(&c.text) {
                *slot = ca.and_then(|ca| ca.get(r));
            }
            row.recipients = c.recipients.join(r, &mut rb);
            row.recipient_status = c.statuses.join(r, &mut sb);
            row.recipient_count = c.count.and_then(|ca| ca.get(r));
            row.total_bytes = c.bytes.and_then(|ca| ca.get(r));
            row.extra = c.extra.and_then(|ca| ca.get(r));
            parsed.rows += 1;
            parsed.saw(row.time_ms, line as u64, row.server);
            sink.event(&row);
        }
        let (files, keys) = feed.protocol;
        {
            for &(_, line, file, r) in keys {
                let (c, r) = (&files[file as usize], r as usize);
                let t = |i: usize| c.text[i].get(r).unwrap_or("");
                let l = ProtoLine {
                    time_ms: c.time.get(r).unwrap_or(0),
                    line,
                    server: c.server.get(r).unwrap_or(""),
                    kind: spec.kind,
                    connector: t(0),
                    session: t(1),
                    sequence: c.seq.get(r),
                    local: t(2),
                    remote: t(3),
                    event: t(4),
                    data: t(5),
                    context: t(6),
                    extra: t(7),
                };
                parsed.rows += 1;
                parsed.saw(l.time_ms, line as u64, l.server);
                sink.protocol(&l);
            }
        }
        Some(collector.finish(sink, &ctx, spec.kind)?)
    };
    parsed.malformed_total = spec.info.as_ref().map_or(0, |i| i.malformed);
    parsed.malformed = spec.malformed;
    parsed.warnings = spec.note.warnings;
    parsed.leap_seconds = spec.note.leap_seconds;
    let servers = if skipped {
        Vec::new()
    } else {
        servers_of(folder.as_deref(), spec.kind, &parsed.row_servers)
    };
    let mut info = spec.info.unwrap_or_else(|| FileInfo {
        path: spec.path.clone(),
        kind: spec.kind,
        server: (!servers.is_empty()).then(|| servers.join(", ")),
        version: None,
        rows: 0,
        malformed: 0,
        sha256: String::new(),
        bytes: 0,
        start: None,
        end: None,
        skipped: None,
    });
    if !skipped {
        info.rows = parsed.rows;
        info.start = parsed.start.map(rfc3339);
        info.end = parsed.end.map(rfc3339);
    }
    Ok(Outcome {
        info,
        top: 0,
        servers,
        parsed,
        chunk,
    })
}

#[cfg(test)]
mod tests {
    use super::percent_decode;
    use crate::ingest::parquet::partition_value;

    #[test]
    fn partition_values_decode_to_what_was_encoded() {
        for v in ["EX01", "../x", "a=b/c", "%41", "É", "ex01.corp", "100%"] {
            assert_eq!(percent_decode(&partition_value(v)), v);
        }
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
