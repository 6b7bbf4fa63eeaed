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
//! Memory follows what a run reads, not the export: only the provenance of every row is held
//! (to put the rows in the logs' order); the columns the collector reads come a unit of row
//! groups at a time and are dropped once their rows are fed, and the few evidence rows are read
//! back from the files when asked for ([`Rows`]), as log lines are read back from a bundle.
//!
//! What an engine may change is accepted: other file names, the partition columns inside the
//! files or only in the path, timestamps in microseconds, columns dropped (read as empty) or
//! added (ignored). What it may not is refused with the file and column named: a file that is
//! not Parquet, a column of the wrong type, rows without provenance (`entry`, `line`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use polars_arrow::array::{Array, ListArray, Utf8ViewArray};
use polars_io::parquet::metadata::FileMetadataRef;
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;
use rayon::prelude::*;
use walkdir::WalkDir;

use super::{DEFAULT_PARTITION, EVENTS, INVENTORY_FILE, NOTES_FILE, PROTOCOL};
use crate::bundle::in_path_order;
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

/// A row's place: (entry, line, file, row of the file) as first read, then (entry, line, unit,
/// row of the unit). Sorted, it is the logs' order.
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

/// Whether a column of type `got` is read as the canonical `want`: any datetime (only its unit
/// and zone may differ), any integer for an integer, a list of strings for a list.
fn fits(got: &DataType, want: &DataType) -> bool {
    match (got, want) {
        (DataType::Datetime(..), DataType::Datetime(..)) => true,
        (DataType::List(a), DataType::List(_)) => **a == DataType::String,
        (a, b) if b.is_integer() => a.is_integer(),
        (a, b) => a == b,
    }
}

/// Checks the type of every canonical column the file has from its schema, whether or not
/// this run reads the column: a file is refused for a bad column by every command alike.
fn check_types(schema: &ArrowSchema, table: Table, path: &Path) -> Result<()> {
    for (name, t) in table.columns() {
        if let Some(field) = schema.get(name) {
            let got = DataType::from_arrow_field(field);
            if !fits(&got, &dtype_of(t)) {
                return Err(Error::ParquetColumn {
                    path: path.to_path_buf(),
                    column: name.to_string(),
                    detail: format!("is {got}, expected {t}"),
                });
            }
        }
    }
    Ok(())
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

/// Where each row comes from, read first for every row, to put the rows in the logs' order.
const PROVENANCE: [&str; 3] = [col::ENTRY, col::LOG_KIND, col::LINE];

/// Columns every row is read with later, whatever the collector reads.
const ROW: [&str; 2] = [col::TIME, col::SERVER];

/// Rows read at once at most (a unit, or a group of small units read side by side). The rows
/// read are handed to their entries' sinks and dropped before the next read but one, so memory
/// holds a unit or two of the columns, never the whole export (the strings of a Parquet column
/// take 16 bytes a value and more).
const UNIT_ROWS: usize = 1 << 17;

/// Rows of one file read back together for evidence.
const EVIDENCE_BLOCK: usize = 4096;

/// One Parquet file of a dataset, as first seen.
struct FileRef {
    path: PathBuf,
    /// The dataset folder (for `key=value` partition folders).
    root: PathBuf,
    table: Table,
    rows: usize,
    bytes: u64,
    /// Its size and modification time: a file changed since is not read back for evidence.
    stamp: (u64, Option<std::time::SystemTime>),
    /// Its footer, parsed once: every later read of the file starts from it.
    metadata: FileMetadataRef,
}

impl FileRef {
    /// Reads `want` of rows `start..start + len`, conformed, in one chunk; `alone` on this
    /// thread only (an evidence block: small, and asked for by a detector, while the other
    /// threads are busy with theirs, so handing its columns to Polars' threads only waits).
    fn read(&self, want: &[&str], start: usize, len: usize, alone: bool) -> Result<DataFrame> {
        let mut reader = open(&self.path)?.with_slice(Some((start, len)));
        if alone {
            reader = reader.read_parallel(ParallelStrategy::None);
        }
        reader.set_metadata(self.metadata.clone());
        let mut df = read_conformed(reader, &self.path, &self.root, self.table, want)?;
        if df.height() != len {
            return Err(Error::ParquetExport {
                path: self.path.clone(),
                detail: format!(
                    "gave {} rows where {len} were expected: changed while being read",
                    df.height()
                ),
            });
        }
        if alone {
            df.rechunk_mut();
        } else {
            df.rechunk_mut_par();
        }
        Ok(df)
    }

    /// Whether the file is the one read.
    fn unchanged(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| (m.len(), m.modified().ok()) == self.stamp)
    }
}

/// Rows `start..start + len` of file `file`: what is read at once.
#[derive(Debug, Clone, Copy)]
struct Unit {
    file: u32,
    start: usize,
    len: usize,
}

/// The units of a file: runs of whole row groups of at most [`UNIT_ROWS`] rows (a row group is
/// read whole to read any of its rows), a longer group cut; fixed cuts if the row groups do not
/// add up to the file's rows.
fn units_of(file: u32, rows: usize, groups: &[usize], out: &mut Vec<Unit>) {
    let push = |start: usize, len: usize, out: &mut Vec<Unit>| {
        let mut at = 0;
        while at < len {
            let n = (len - at).min(UNIT_ROWS);
            out.push(Unit {
                file,
                start: start + at,
                len: n,
            });
            at += n;
        }
    };
    if groups.iter().sum::<usize>() != rows {
        return push(0, rows, out);
    }
    let (mut start, mut len) = (0, 0);
    for &g in groups {
        if len > 0 && len + g > UNIT_ROWS {
            push(start, len, out);
            (start, len) = (start + len, 0);
        }
        len += g;
    }
    push(start, len, out);
}

/// Every Parquet file of a dataset folder in path order, with its [`PROVENANCE`] columns
/// (conformed: a bad or missing one is an error here, before anything is fed; so is a column
/// of the wrong type, read or not). Empty when the folder is missing or holds no file.
fn scan_table(dir: &Path, table: Table) -> Result<Vec<(FileRef, DataFrame)>> {
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
        .map(|path| {
            let meta = std::fs::metadata(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let mut reader = open(path)?;
            let schema = reader.schema().map_err(unreadable(path))?;
            check_types(&schema, table, path)?;
            let metadata = reader.get_metadata().map_err(unreadable(path))?.clone();
            let df = read_conformed(reader, path, dir, table, &PROVENANCE)?;
            let f = FileRef {
                path: path.clone(),
                root: dir.to_path_buf(),
                table,
                rows: df.height(),
                bytes: meta.len(),
                stamp: (meta.len(), meta.modified().ok()),
                metadata,
            };
            Ok((f, df))
        })
        .collect()
}

/// A reader of the Parquet file `path`.
fn open(path: &Path) -> Result<ParquetReader<File>> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ParquetReader::new(file))
}

/// The error of a file Polars cannot read as Parquet.
fn unreadable(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |source| Error::ParquetRead {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the canonical columns among `want` through `reader` (of the file `path`), conformed.
fn read_conformed(
    mut reader: ParquetReader<File>,
    path: &Path,
    root: &Path,
    table: Table,
    want: &[&str],
) -> Result<DataFrame> {
    // Only the wanted columns the file has; the others read as empty in `conform`.
    let schema = reader.schema().map_err(unreadable(path))?;
    let present = want
        .iter()
        .filter(|c| schema.contains(c))
        .map(|c| c.to_string())
        .collect();
    let df = reader
        .with_columns(Some(present))
        .finish()
        .map_err(unreadable(path))?;
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

/// The file's columns in the canonical order and types, those of `want` only: a missing column
/// reads as empty, the server comes from the path where the file does not hold it, unknown
/// columns are left out.
fn conform(
    df: DataFrame,
    parts: &HashMap<String, Option<String>>,
    table: Table,
    want: &[&str],
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
        if !want.contains(&name) {
            continue;
        }
        let want = dtype_of(t);
        let c = match df.column(name) {
            Ok(c) => {
                let got = c.dtype().clone();
                if !fits(&got, &want) {
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

/// What one export folder holds: its inventory and notes, and per file of each dataset the
/// provenance of its rows (the other columns are read unit by unit later).
struct Export {
    dir: PathBuf,
    inventory: Option<Inventory>,
    notes: Vec<EntryNote>,
    events: Vec<(FileRef, DataFrame)>,
    protocol: Vec<(FileRef, DataFrame)>,
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

fn read_export(dir: &Path) -> Result<Export> {
    Ok(Export {
        dir: dir.to_path_buf(),
        inventory: read_json(&dir.join(INVENTORY_FILE))?,
        notes: read_json(&dir.join(NOTES_FILE))?.unwrap_or_default(),
        events: scan_table(&dir.join(EVENTS), Table::Events)?,
        protocol: scan_table(&dir.join(PROTOCOL), Table::Protocol)?,
    })
}

/// The events' evidence, read back from the files for the few rows that become evidence (as
/// rows of logs are read back from the bundle), a block of rows at a time: holding the
/// evidence columns of every row would cost more memory than the rest of the report.
pub struct Rows {
    files: Vec<FileRef>,
    units: Vec<Unit>,
    /// (entry, line, unit, row within the unit), sorted.
    keys: Vec<Key>,
    /// The records of a block of rows by (unit, block), with their lines; `None` where the
    /// file changed or could not be read.
    blocks: Mutex<HashMap<(u32, u32), Option<Block>>>,
}

/// The records of a block of rows, with their lines.
type Block = Arc<Vec<(u32, Record)>>;

/// An entry's rows taken out of the units it has rows in: (unit, rows).
type Parts = Vec<(u32, DataFrame)>;

impl Rows {
    fn block(&self, unit: u32, block: u32) -> Option<Block> {
        if let Some(known) = self.blocks.lock().ok()?.get(&(unit, block)) {
            return known.clone();
        }
        // Read without holding anything: Polars decodes on its own threads, and a thread
        // waiting for them runs other evidence look-ups meanwhile, which must not wait for
        // this one. Two look-ups of one new block may both read it; the first kept wins.
        let read = || {
            let u = self.units.get(unit as usize)?;
            let f = self.files.get(u.file as usize)?;
            let at = block as usize * EVIDENCE_BLOCK;
            let len = u.len.checked_sub(at)?.min(EVIDENCE_BLOCK);
            // Changed since it was read: its rows are no longer the rows analysed.
            if !f.unchanged() {
                return None;
            }
            let mut want = vec![col::LINE];
            want.extend(EVIDENCE_COLUMNS);
            let df = f.read(&want, u.start + at, len, true).ok()?;
            records(&df).map(Arc::new)
        };
        let records = read();
        self.blocks
            .lock()
            .ok()?
            .entry((unit, block))
            .or_insert(records)
            .clone()
    }

    /// The record of the row read from `entry` at `line`.
    pub fn record(&self, entry: u32, line: u32) -> Option<Record> {
        let at = self
            .keys
            .binary_search_by(|k| (k.0, k.1).cmp(&(entry, line)))
            .ok()?;
        let (_, _, unit, row) = self.keys[at];
        let block = self.block(unit, row / EVIDENCE_BLOCK as u32)?;
        let (at_line, record) = block.get(row as usize % EVIDENCE_BLOCK)?;
        // The block is the rows analysed: their line numbers say so.
        (*at_line == line).then(|| record.clone())
    }
}

/// Every row of a frame of [`EVIDENCE_COLUMNS`] (and `line`) as a record, with its line.
fn records(df: &DataFrame) -> Option<Vec<(u32, Record)>> {
    let line = df.column(col::LINE).ok()?.u32().ok()?;
    let text = |f: Field| df.column(f.column()).ok()?.str().ok();
    let (event_id, source, message_id, sender, subject, context) = (
        text(Field::EventId)?,
        text(Field::Source)?,
        text(Field::MessageId)?,
        text(Field::Sender)?,
        text(Field::Subject)?,
        text(Field::SourceContext)?,
    );
    let recipients = Lists::new(df.column(col::RECIPIENTS).ok()?).ok()?;
    let statuses = Lists::new(df.column(col::RECIPIENT_STATUS).ok()?).ok()?;
    let mut buf = String::new();
    let s = |ca: &StringChunked, i: usize| ca.get(i).unwrap_or_default().to_string();
    Some(
        (0..df.height())
            .map(|i| {
                let mut list = |l: &Lists| l.join(i, &mut buf).unwrap_or_default().to_string();
                let record = Record {
                    event_id: s(event_id, i),
                    source: s(source, i),
                    message_id: s(message_id, i),
                    sender: s(sender, i),
                    recipients: list(&recipients),
                    status: list(&statuses),
                    subject: s(subject, i),
                    source_context: s(context, i),
                };
                (line.get(i).unwrap_or(0), record)
            })
            .collect(),
    )
}

/// The columns evidence shows ([`Rows`]).
const EVIDENCE_COLUMNS: [&str; 8] = [
    Field::EventId.column(),
    Field::Source.column(),
    Field::MessageId.column(),
    Field::Sender.column(),
    col::RECIPIENTS,
    col::RECIPIENT_STATUS,
    Field::Subject.column(),
    Field::SourceContext.column(),
];

/// Reads the exports through `collector`, entry by entry as the logs were read.
///
/// First the provenance of every row (`entry`, `line`) is read and sorted into the logs'
/// order; then the columns the collector reads come unit by unit (`UNIT_ROWS`), the next one
/// read while the rows of this one are handed to their entries' sinks. An entry whose rows
/// all lie in one unit is fed from it; an entry spread over units (a file cut by a partition
/// boundary, or rows an engine reordered) has its rows taken out of each unit it touches and
/// is fed after its last one.
pub fn read<C: Collector>(
    path: &Path,
    dirs: &[PathBuf],
    opts: &Options,
    collector: &C,
    progress: &dyn Progress,
) -> Result<ReadOut<C::Chunk>> {
    let exports: Vec<Export> = dirs.iter().map(|d| read_export(d)).collect::<Result<_>>()?;
    let indexed: Vec<Indexed> = exports.iter().map(index_export).collect::<Result<_>>()?;
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
    let mut files: Vec<FileRef> = Vec::new();
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
        for (tables, entries, keys) in [
            (e.events, x.events, &mut ev_keys),
            (e.protocol, x.protocol, &mut pr_keys),
        ] {
            for ((f, df), entries) in tables.into_iter().zip(entries) {
                let line = df.column(col::LINE)?.u32()?;
                let file = files.len() as u32;
                keys.extend(
                    entries
                        .iter()
                        .zip(line.iter())
                        .enumerate()
                        .map(|(i, (&idx, l))| (base + idx, l.unwrap_or(0), file, i as u32)),
                );
                files.push(f);
            }
        }
    }
    // The entries in path order, as a bundle of the same logs lists them, whatever order the
    // exports side by side (or an older export's inventory) list them in: rows are numbered,
    // and ties broken, in this order.
    let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
    let order = in_path_order(&paths);
    let mut new_id = vec![0u32; specs.len()];
    for (rank, &old) in order.iter().enumerate() {
        new_id[old] = rank as u32;
    }
    let mut slots: Vec<Option<EntrySpec>> = specs.into_iter().map(Some).collect();
    let specs: Vec<EntrySpec> = order.iter().filter_map(|&i| slots[i].take()).collect();
    for k in ev_keys.iter_mut().chain(pr_keys.iter_mut()) {
        k.0 = new_id[k.0 as usize];
    }
    progress.start(files.iter().map(|f| f.bytes).sum());

    // The units, and each row's place as (unit, row within it), in the logs' order.
    let mut units: Vec<Unit> = Vec::new();
    let mut first_unit: Vec<usize> = Vec::with_capacity(files.len() + 1);
    for (i, f) in files.iter().enumerate() {
        first_unit.push(units.len());
        let groups: Vec<usize> = f.metadata.row_groups.iter().map(|g| g.num_rows()).collect();
        units_of(i as u32, f.rows, &groups, &mut units);
    }
    first_unit.push(units.len());
    for k in ev_keys.iter_mut().chain(pr_keys.iter_mut()) {
        let (a, b) = (first_unit[k.2 as usize], first_unit[k.2 as usize + 1]);
        let u = a + units[a..b]
            .partition_point(|u| u.start <= k.3 as usize)
            .saturating_sub(1);
        k.3 -= units[u].start as u32;
        k.2 = u as u32;
    }
    ev_keys.par_sort_unstable();
    pr_keys.par_sort_unstable();
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
    let (ev_ranges, pr_ranges) = (ranges(&ev_keys), ranges(&pr_keys));
    // Events before protocol lines, as the logs' readers hand them over.
    let keys_of = |e: usize| {
        let ((a, b), (c, d)) = (ev_ranges[e], pr_ranges[e]);
        ev_keys[a..b].iter().chain(&pr_keys[c..d])
    };

    // Each entry is fed in the last unit it has rows in; one with rows in several has them
    // taken out of each (`spread`: per unit, each such entry's rows there, in line order).
    let mut finishing: Vec<Vec<usize>> = vec![Vec::new(); units.len()];
    let mut spread: Vec<Vec<(usize, Vec<IdxSize>)>> = vec![Vec::new(); units.len()];
    for e in 0..specs.len() {
        let Some(first) = keys_of(e).next() else {
            continue;
        };
        if keys_of(e).all(|k| k.2 == first.2) {
            finishing[first.2 as usize].push(e);
            continue;
        }
        let mut by_unit: Vec<(u32, Vec<IdxSize>)> = Vec::new();
        for k in keys_of(e) {
            match by_unit.iter_mut().find(|(u, _)| *u == k.2) {
                Some((_, rows)) => rows.push(k.3),
                None => by_unit.push((k.2, vec![k.3])),
            }
        }
        let last = by_unit.iter().map(|(u, _)| *u).max().unwrap_or(first.2);
        finishing[last as usize].push(e);
        for (u, rows) in by_unit {
            spread[u as usize].push((e, rows));
        }
    }

    // Columns read per unit: what every row needs and what the collector reads (the
    // provenance is in the keys already).
    let mut ev_want: Vec<&str> = ROW.to_vec();
    ev_want.extend(collector.reads().columns());
    let pr_want: Vec<&str> = Table::Protocol
        .columns()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|c| !PROVENANCE.contains(c))
        .collect();
    let read_unit = |u: usize| -> Result<DataFrame> {
        let unit = units[u];
        let f = &files[unit.file as usize];
        let want = match f.table {
            Table::Events => &ev_want,
            Table::Protocol => &pr_want,
        };
        let df = f.read(want, unit.start, unit.len, false)?;
        progress.advance(f.bytes * unit.len as u64 / f.rows.max(1) as u64);
        Ok(df)
    };
    // Small units (small files: an engine's output, an export of short logs) are read a
    // group at a time, side by side, up to a unit's worth of rows.
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let mut rows_in = 0;
    for (u, unit) in units.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if rows_in + unit.len <= UNIT_ROWS => {
                g.end = u + 1;
                rows_in += unit.len;
            }
            _ => {
                groups.push(u..u + 1);
                rows_in = unit.len;
            }
        }
    }
    let read_group = |g: &std::ops::Range<usize>| -> Result<Vec<DataFrame>> {
        g.clone().into_par_iter().map(read_unit).collect()
    };

    let mut specs: Vec<Option<EntrySpec>> = specs.into_iter().map(Some).collect();
    let mut outcomes: Vec<Option<Outcome<C::Chunk>>> = (0..specs.len()).map(|_| None).collect();
    let mut parts: HashMap<usize, Parts> = HashMap::new();
    let mut next = groups.first().map(read_group);
    for (gi, g) in groups.iter().enumerate() {
        let Some(dfs) = next.take().transpose()? else {
            break;
        };
        let mut cols = Vec::with_capacity(dfs.len());
        let mut jobs: Vec<(usize, EntrySpec, Option<Parts>, usize)> = Vec::new();
        for (u, df) in g.clone().zip(&dfs) {
            for (e, rows) in std::mem::take(&mut spread[u]) {
                let part = df.take(&IdxCa::from_vec(PlSmallStr::EMPTY, rows))?;
                parts.entry(e).or_default().push((u as u32, part));
            }
            jobs.extend(
                finishing[u]
                    .iter()
                    .filter_map(|&e| Some((e, specs[e].take()?, parts.remove(&e), u - g.start))),
            );
            cols.push(Cols::new(df, files[units[u].file as usize].table)?);
        }
        let (done, read) = rayon::join(
            || {
                jobs.into_par_iter()
                    .map(|(e, spec, spread, at)| {
                        let o = match spread {
                            None => {
                                let rows: Vec<(u32, &Cols, usize)> =
                                    keys_of(e).map(|k| (k.1, &cols[at], k.3 as usize)).collect();
                                outcome(spec, &rows, opts, collector)?
                            }
                            Some(parts) => {
                                let pcols = parts
                                    .iter()
                                    .map(|(pu, df)| {
                                        let f = &files[units[*pu as usize].file as usize];
                                        Cols::new(df, f.table)
                                    })
                                    .collect::<Result<Vec<_>>>()?;
                                let mut cursor = vec![0usize; parts.len()];
                                let mut rows = Vec::new();
                                for k in keys_of(e) {
                                    let Some(p) = parts.iter().position(|(pu, _)| *pu == k.2)
                                    else {
                                        continue;
                                    };
                                    rows.push((k.1, &pcols[p], cursor[p]));
                                    cursor[p] += 1;
                                }
                                outcome(spec, &rows, opts, collector)?
                            }
                        };
                        Ok((e, o))
                    })
                    .collect::<Result<Vec<_>>>()
            },
            || groups.get(gi + 1).map(read_group),
        );
        next = read;
        for (e, o) in done? {
            outcomes[e] = Some(o);
        }
    }
    progress.finish();
    release_freed();
    // Entries without rows (an empty log, a skipped file).
    let outcomes: Vec<Outcome<C::Chunk>> = outcomes
        .into_iter()
        .zip(specs)
        .map(|(o, spec)| match (o, spec) {
            (Some(o), _) => Ok(Some(o)),
            (None, Some(spec)) => outcome(spec, &[], opts, collector).map(Some),
            (None, None) => Ok(None),
        })
        .filter_map(Result::transpose)
        .collect::<Result<_>>()?;

    let rows = Rows {
        files,
        units,
        keys: ev_keys,
        blocks: Mutex::new(HashMap::new()),
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
    /// Entries only the rows name (an engine's output has no inventory), as met, with their
    /// kind; they come after the inventory's (the read puts every entry in path order).
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
    // Ids: the inventory's entries by position, then unlisted paths as met.
    let mut ids: HashMap<&str, u32> = listed
        .iter()
        .enumerate()
        .map(|(i, p)| (*p, i as u32))
        .collect();
    let mut met: Vec<(&str, LogKind)> = Vec::new();
    let mut tables: [Vec<Vec<u32>>; 2] = [Vec::new(), Vec::new()];
    for (files, per_file) in [&e.events, &e.protocol].into_iter().zip(&mut tables) {
        for (_, df) in files {
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
    let [events, protocol] = tables;
    Ok(Indexed {
        unlisted: met.into_iter().map(|(p, k)| (p.to_string(), k)).collect(),
        events,
        protocol,
    })
}

/// Gives the memory the units were read into back to the system. The columns were decoded on
/// every thread, and glibc keeps what a thread's arena freed unless it lies at the arena's top:
/// without this the model would be built on top of the freed units, and the report's peak
/// would be theirs plus the model's.
fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A unit's columns (or the rows taken out of it), of either table.
enum Cols<'a> {
    Events(EventCols<'a>),
    Protocol(ProtoCols<'a>),
}

impl<'a> Cols<'a> {
    fn new(df: &'a DataFrame, table: Table) -> Result<Cols<'a>> {
        Ok(match table {
            Table::Events => Cols::Events(EventCols::new(df)?),
            Table::Protocol => Cols::Protocol(ProtoCols::new(df)?),
        })
    }
}

/// Feeds one entry's rows, (line, columns, row) in the logs' order, to a sink of its own.
fn outcome<C: Collector>(
    spec: EntrySpec,
    rows: &[(u32, &Cols<'_>, usize)],
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
            reads: collector.reads(),
        };
        let n = rows.len();
        let mut sink = collector.sink(&ctx, spec.kind, &|| n);
        let (mut rb, mut sb) = (String::new(), String::new());
        for &(line, cols, r) in rows {
            match cols {
                Cols::Events(c) => {
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
                Cols::Protocol(c) => {
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
        copy_of: None,
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
    use super::*;
    use crate::ingest::parquet::partition_value;
    use polars_io::parquet::write::ParquetWriter;

    /// Rows of evidence in one file: `line` 10, 20, ... and the evidence columns.
    fn evidence_file(dir: &Path, rows: usize) -> FileRef {
        let path = dir.join("part-0.parquet");
        let text = |p: &str| {
            Column::new(
                p.into(),
                (0..rows).map(|i| format!("{p}{i}")).collect::<Vec<_>>(),
            )
        };
        let list = |p: &str| {
            let s: Vec<Series> = (0..rows)
                .map(|i| Series::new("".into(), [format!("{p}{i}a"), format!("{p}{i}b")]))
                .collect();
            Column::new(p.into(), s)
        };
        let mut df = DataFrame::new(
            rows,
            vec![
                Column::new(
                    col::LINE.into(),
                    (0..rows as u32).map(|i| 10 * (i + 1)).collect::<Vec<_>>(),
                ),
                text("event_id"),
                text("source"),
                text("message_id"),
                text("sender"),
                list(col::RECIPIENTS),
                list(col::RECIPIENT_STATUS),
                text("subject"),
                text("source_context"),
            ],
        )
        .expect("frame");
        ParquetWriter::new(File::create(&path).expect("create"))
            .with_row_group_size(Some(1000))
            .finish(&mut df)
            .expect("write");
        let meta = std::fs::metadata(&path).expect("meta");
        let metadata = open(&path)
            .expect("open")
            .get_metadata()
            .expect("footer")
            .clone();
        FileRef {
            path,
            root: dir.to_path_buf(),
            table: Table::Events,
            rows,
            bytes: meta.len(),
            stamp: (meta.len(), meta.modified().ok()),
            metadata,
        }
    }

    /// The file's rows as two units, cut at `cut` (not at a block's edge).
    fn rows_of(f: FileRef, cut: usize) -> Rows {
        let units = vec![
            Unit {
                file: 0,
                start: 0,
                len: cut,
            },
            Unit {
                file: 0,
                start: cut,
                len: f.rows - cut,
            },
        ];
        let rows = f.rows as u32;
        // Entry 0, line 10 (i + 1), unit and row within it.
        let keys = (0..rows)
            .map(|i| {
                let u = units
                    .iter()
                    .rposition(|u| u.start <= i as usize)
                    .unwrap_or(0);
                (0, 10 * (i + 1), u as u32, i - units[u].start as u32)
            })
            .collect();
        Rows {
            files: vec![f],
            units,
            keys,
            blocks: Mutex::new(HashMap::new()),
        }
    }

    /// Evidence is read back from the file by line, a block at a time, across units and
    /// blocks; a line the rows do not have, or a file changed since, gives nothing.
    #[test]
    fn evidence_is_read_back_by_line_unless_the_file_changed() {
        let dir = tempfile::tempdir().expect("tmp");
        let rows = rows_of(evidence_file(dir.path(), 9000), 3000);
        // The first unit's ends; the second unit's ends and both sides of its block edge.
        for i in [0u32, 1, 2999, 3000, 7095, 7096, 8999] {
            let r = rows.record(0, 10 * (i + 1)).expect("a record");
            assert_eq!(r.subject, format!("subject{i}"));
            assert_eq!(r.source_context, format!("source_context{i}"));
            assert_eq!(r.recipients, format!("recipients{i}a;recipients{i}b"));
            assert_eq!(
                r.status,
                format!("recipient_status{i}a;recipient_status{i}b")
            );
        }
        assert_eq!(
            rows.blocks.lock().map(|b| b.len()).ok(),
            Some(3),
            "one block of the first unit, two of the second"
        );
        assert!(rows.record(0, 15).is_none(), "no such line");
        assert!(rows.record(1, 10).is_none(), "no such entry");

        let dir2 = tempfile::tempdir().expect("tmp");
        let f = evidence_file(dir2.path(), 2000);
        let path = f.path.clone();
        let rows = rows_of(f, 1000);
        std::fs::write(&path, b"changed").expect("overwrite");
        assert!(
            rows.record(0, 10).is_none(),
            "a changed file is not read back"
        );
    }

    /// Units are runs of whole row groups up to the unit size; a longer group is cut.
    #[test]
    fn units_are_runs_of_whole_row_groups() {
        let f = |groups: Vec<usize>, rows: usize| (groups, rows);
        let units = |(groups, rows): (Vec<usize>, usize)| {
            let mut out = Vec::new();
            units_of(3, rows, &groups, &mut out);
            out.iter()
                .map(|u| {
                    assert_eq!(u.file, 3);
                    (u.start, u.len)
                })
                .collect::<Vec<_>>()
        };
        let g = 1 << 16;
        assert_eq!(
            units(f(vec![g, g, g, 5], 3 * g + 5)),
            [(0, 2 * g), (2 * g, g + 5)]
        );
        assert_eq!(
            units(f(vec![3 * g], 3 * g)),
            [(0, UNIT_ROWS), (UNIT_ROWS, g)]
        );
        // Groups that do not add up: fixed cuts over the rows read.
        assert_eq!(units(f(vec![10], 3 * g)), [(0, UNIT_ROWS), (UNIT_ROWS, g)]);
        assert_eq!(units(f(vec![], 0)), []);
    }

    #[test]
    fn partition_values_decode_to_what_was_encoded() {
        for v in ["EX01", "../x", "a=b/c", "%41", "É", "ex01.corp", "100%"] {
            assert_eq!(percent_decode(&partition_value(v)), v);
        }
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
