//! The canonical frames as Parquet datasets, for the engines that take over where one machine
//! stops (Spark, Trino, DuckDB, Polars, DataFusion). Hive layout: a folder per server and UTC
//! date, the partition values in the path (`server=EX01/date=2026-11-16/part-….parquet`) and
//! not in the file, as Spark and Trino expect; events and protocol lines in a file per log
//! ([`Exporter`], written as each log is read), sessions in one file. Timestamps stay
//! timestamps (milliseconds, UTC), lists stay lists.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_io::parquet::write::{ParquetCompression, ParquetWriter};

use crate::error::{Error, Result};
use crate::ingest::builders::{FrameSink, FramesCollector};
use crate::ingest::schema::col;
use crate::ingest::{Collector, EntryCtx, LogKind};

use super::DEFAULT_PARTITION;

/// Rows per row group. A reader takes one row group to find one row: `report` reads its
/// evidence rows back this way, so a group is kept small enough (a few milliseconds to decode)
/// while still large for a scan (DuckDB writes 122,880 rows a group).
const ROW_GROUP_ROWS: usize = 1 << 16;

/// One Parquet file written.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub rows: usize,
}

/// A partition value as a path component. Server names come from the logs: anything but
/// letters, digits, `-`, `_` and inner dots is percent-encoded (as Hive and Spark escape
/// partition values), so a name can neither climb out of the folder nor pass for another.
pub fn partition_value(v: &str) -> String {
    if v.is_empty() {
        return DEFAULT_PARTITION.to_string();
    }
    if v == DEFAULT_PARTITION {
        // A server really named so must not read back as a missing one.
        return format!("%5F{}", &v[1..]);
    }
    let mut s = String::with_capacity(v.len());
    for (i, b) in v.bytes().enumerate() {
        let safe = b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0);
        if safe {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Writes `df` under `dir`, one file named `name` per value of `server` and UTC date of
/// `time_col`, its columns encoded on Polars' threads if `parallel`. An empty frame writes no
/// file (the folder is still made). A file already there is an error, never overwritten.
pub fn write_dataset(
    df: &DataFrame,
    time_col: &str,
    dir: &Path,
    name: &str,
    parallel: bool,
) -> Result<Vec<Written>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let server = df.column(col::SERVER)?.str()?;
    let time = df.column(time_col)?.datetime()?.physical();
    let mut parts: BTreeMap<(String, String), Vec<IdxSize>> = BTreeMap::new();
    for (i, (s, t)) in server.iter().zip(time.iter()).enumerate() {
        let date = t
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map_or_else(
                || DEFAULT_PARTITION.to_string(),
                |d| d.format("%Y-%m-%d").to_string(),
            );
        parts
            .entry((partition_value(s.unwrap_or("")), date))
            .or_default()
            .push(i as IdxSize);
    }
    let mut out = Vec::with_capacity(parts.len());
    let whole = parts.len() == 1;
    for ((server, date), rows) in parts {
        // Most logs are one server's and one day's: their frame is written as it is. Others
        // are cut column by column on this thread: a frame's `take` waits for Polars' threads,
        // and a thread of ours waiting there picks up the other logs' work and leaves the rest
        // of our threads idle (see `parallel`).
        let mut part = if whole {
            df.clone()
        } else {
            let idx = IdxCa::from_vec("".into(), rows);
            let cols = df
                .columns()
                .iter()
                .map(|c| c.take(&idx))
                .collect::<PolarsResult<Vec<_>>>()?;
            DataFrame::new(idx.len(), cols)?
        };
        part.drop_in_place(col::SERVER)?;
        let folder = dir
            .join(format!("server={server}"))
            .join(format!("date={date}"));
        std::fs::create_dir_all(&folder).map_err(|source| Error::Write {
            path: folder.clone(),
            source,
        })?;
        let path = folder.join(name);
        let file = File::create_new(&path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        // The writer issues a write per page header and page: buffered, they cost no syscall
        // each. A flush that fails is an error, not a file cut short.
        let mut buffered = BufWriter::with_capacity(1 << 20, file);
        // Snappy: what Spark, DuckDB and Trino write by default and all of them read. With
        // `parallel` false the columns are encoded on the calling thread: the logs are written
        // side by side already, and a thread of ours waiting for Polars' threads took the other
        // half of the bundle's logs with it (Rayon's bridge over the entries does not hand work
        // to a thread that is already inside it), so the export ran on one core.
        ParquetWriter::new(&mut buffered)
            .with_compression(ParquetCompression::Snappy)
            .with_row_group_size(Some(ROW_GROUP_ROWS))
            .set_parallel(parallel)
            .finish(&mut part)
            .map_err(|source| Error::Parquet {
                path: path.clone(),
                source,
            })?;
        buffered.flush().map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        out.push(Written {
            path,
            rows: part.height(),
        });
    }
    Ok(out)
}

/// Writes each entry's rows as soon as the entry is read, into `DIR/events/` and
/// `DIR/protocol/`, one file per entry and partition (`part-<digest of the entry's path>`), so
/// that memory holds the entries being read and not the bundle. Sessions can span files; their
/// per-entry parts come back to be joined ([`crate::ingest::protocol::merge_sessions`]).
pub struct Exporter {
    pub dir: PathBuf,
}

/// What [`Exporter`] did with one entry.
#[derive(Default)]
pub struct Exported {
    pub files: usize,
    pub events: usize,
    pub protocol: usize,
    pub sessions: Option<DataFrame>,
}

impl Exporter {
    /// The file name of an entry's rows in each partition: the same bundle gives the same names.
    pub fn file_name(entry: &str) -> String {
        let hex = crate::bundle::sha256_hex(entry.as_bytes());
        format!("part-{}.parquet", &hex[..16])
    }
}

impl Collector for Exporter {
    type Sink = FrameSink;
    type Chunk = Exported;

    fn sink(&self, ctx: &EntryCtx<'_>, kind: LogKind, lines: &dyn Fn() -> usize) -> FrameSink {
        FramesCollector.sink(ctx, kind, lines)
    }

    fn finish(&self, sink: FrameSink, ctx: &EntryCtx<'_>, kind: LogKind) -> Result<Exported> {
        let chunk = FramesCollector.finish(sink, ctx, kind)?;
        let name = Exporter::file_name(ctx.path);
        let mut out = Exported {
            sessions: chunk.sessions,
            ..Exported::default()
        };
        for (dataset, df, rows) in [
            (super::EVENTS, chunk.events, &mut out.events),
            (super::PROTOCOL, chunk.protocol, &mut out.protocol),
        ] {
            if let Some(df) = df.filter(|d| d.height() > 0) {
                *rows = df.height();
                let dir = self.dir.join(dataset);
                out.files += write_dataset(&df, col::TIME, &dir, &name, false)?.len();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars_io::parquet::read::ParquetReader;
    use polars_io::SerReader;

    /// Rows of two servers over two days go to their four partitions, each row once and in
    /// order, without the server column; a name already written is not overwritten.
    #[test]
    fn a_frame_is_cut_into_its_partitions() {
        let day = 86_400_000i64;
        let t0 = 1_794_830_400_000i64; // 2026-11-16T12:00:00Z
        let time: Vec<i64> = vec![t0, t0 + day, t0 + 1, t0 + day + 1, t0 + 2];
        let df = DataFrame::new(
            5,
            vec![
                Column::new(col::TIME.into(), time)
                    .cast(&DataType::Datetime(
                        TimeUnit::Milliseconds,
                        Some(TimeZone::UTC),
                    ))
                    .expect("time"),
                Column::new(col::SERVER.into(), ["EX01", "EX01", "EX02", "EX02", "EX01"]),
                Column::new(col::LINE.into(), [1u32, 2, 3, 4, 5]),
            ],
        )
        .expect("frame");
        let dir = tempfile::tempdir().expect("tmp");
        let written =
            write_dataset(&df, col::TIME, dir.path(), "part-x.parquet", false).expect("written");
        let mut got: Vec<(String, Vec<u32>)> = written
            .iter()
            .map(|w| {
                let part = ParquetReader::new(File::open(&w.path).expect("open"))
                    .finish()
                    .expect("read");
                assert!(
                    part.column(col::SERVER).is_err(),
                    "the server is in the path"
                );
                let rel = w.path.strip_prefix(dir.path()).expect("below");
                let lines = part.column(col::LINE).expect("line").u32().expect("u32");
                (
                    rel.display().to_string(),
                    lines.into_no_null_iter().collect(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                (
                    "server=EX01/date=2026-11-16/part-x.parquet".to_string(),
                    vec![1, 5]
                ),
                (
                    "server=EX01/date=2026-11-17/part-x.parquet".to_string(),
                    vec![2]
                ),
                (
                    "server=EX02/date=2026-11-16/part-x.parquet".to_string(),
                    vec![3]
                ),
                (
                    "server=EX02/date=2026-11-17/part-x.parquet".to_string(),
                    vec![4]
                ),
            ]
        );
        let again = write_dataset(&df, col::TIME, dir.path(), "part-x.parquet", false);
        assert!(again.is_err(), "an existing file is not overwritten");
    }

    #[test]
    fn partition_values_cannot_climb_or_collide() {
        assert_eq!(partition_value("EX01"), "EX01");
        assert_eq!(partition_value("ex01.corp.example"), "ex01.corp.example");
        assert_eq!(partition_value("../x"), "%2E.%2Fx");
        assert_eq!(partition_value("a=b/c"), "a%3Db%2Fc");
        assert_eq!(partition_value("%41"), "%2541");
        assert_eq!(partition_value(""), "__HIVE_DEFAULT_PARTITION__");
        assert_eq!(
            partition_value("__HIVE_DEFAULT_PARTITION__"),
            "%5F_HIVE_DEFAULT_PARTITION__"
        );
        assert_eq!(partition_value("É"), "%C3%89");
    }
}
