//! One error type for the whole pipeline. Every variant names the bundle entry (and line, where
//! there is one) so that the one-line message a user sees tells them where to look.
//!
//! Where an underlying error exists it is kept as the `#[source]` rather than flattened into the
//! message: the binary prints the whole chain on one line, and a caller can still ask what
//! happened (a broken pipe, a full disk) without parsing text. So a message never repeats its
//! source.

use std::path::PathBuf;

/// Everything that stops a run. Input problems carry the path inside the bundle; the binary
/// prints the message on one line and exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no such file or folder")]
    NotFound { path: PathBuf },
    #[error("{path}: not a regular file or folder (a pipe or device?); pass a .zip, a folder or a single log file")]
    NotRegular { path: PathBuf },
    #[error("{path}: the bundle is larger than the --max-uncompressed limit of {limit} bytes; raise it if the bundle is genuine")]
    InputTooLarge { path: PathBuf, limit: u64 },
    #[error("{path}: not a zip archive ({detail}); pass a .zip, a folder or a single log file")]
    NotAZip { path: String, detail: String },
    #[error("{path}: the zip archive is truncated or corrupt")]
    CorruptZip {
        path: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{entry}: encrypted entry; export the logs without a password")]
    Encrypted { entry: String },
    /// `names` says which two spellings met, when the zip reader let us see both.
    #[error("{path}: two or more entries share a name{names}, so one would hide the other; re-create the archive with distinct paths")]
    DuplicateNames { path: String, names: String },
    #[error("{entry}: unsafe path inside the archive (absolute, or climbing out with `..`); refusing the bundle")]
    UnsafePath { entry: String },
    #[error("{entry}: inflates past the limit of {limit} bytes (a zip bomb?); raise --max-uncompressed if the bundle is genuine")]
    TooLarge { entry: String, limit: u64 },
    #[error("{entry}: inflates more than {ratio} times its compressed size (a zip bomb?); raise --max-ratio if the bundle is genuine")]
    Bomb { entry: String, ratio: u64 },
    #[error("{entry}: archives nested more than {depth} deep; refusing (a zip bomb?)")]
    TooDeep { entry: String, depth: usize },
    #[error("{entry}: line {line}: undecodable text (byte {offset} is not valid {encoding}); Exchange logs are UTF-8 or UTF-16 with a byte-order mark")]
    Encoding {
        entry: String,
        line: u64,
        offset: usize,
        encoding: &'static str,
    },
    #[error("{entry}: cannot decompress (is the archive truncated?)")]
    Decompress {
        entry: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the bundle is empty (no files in it)")]
    EmptyBundle { path: String },
    #[error("{path}: nothing in the bundle could be read as an Exchange log ({skipped} entries skipped; first: {first})")]
    NothingParsed {
        path: String,
        skipped: usize,
        first: String,
    },
    #[error("{option}: {detail}")]
    BadOption {
        option: &'static str,
        detail: String,
    },
    #[error("{path}: refusing to write into the input bundle; choose an output outside it")]
    OutputInsideInput { path: PathBuf },
    #[error("{path}: is a folder; name a file to write")]
    OutputIsFolder { path: PathBuf },
    #[error("{path} and {other} name the same file, so one output would overwrite the other; name two different files")]
    SameOutput { path: PathBuf, other: PathBuf },
    #[error("--output and --json both go to standard output (`-`), which would mix HTML and JSON; send one of them to a file")]
    BothStdout,
    #[error("{path}: cannot write")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{entry}: the CSV has no Timestamp/Received/date_time column")]
    NoTimeColumn { entry: String },
    #[error("writing the findings")]
    Json(#[from] serde_json::Error),
    #[error("building the frames")]
    Frame(#[from] polars::error::PolarsError),
    #[error("{path}: already exists and is not empty; export into a new or empty folder")]
    ExportTargetExists { path: PathBuf },
    #[error("{path}: cannot write the Parquet file")]
    Parquet {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },
    #[error("{path}: cannot read the Parquet file (truncated, or not Parquet?)")]
    ParquetRead {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },
    #[error("{path}: column `{column}` {detail}")]
    ParquetColumn {
        path: PathBuf,
        column: String,
        detail: String,
    },
    #[error("{path}: {detail}")]
    ParquetExport { path: PathBuf, detail: String },
    #[error("rendering the report")]
    Render(#[from] tera::Error),
    #[error("drawing a chart")]
    Chart(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("no message in the bundle matches the filter")]
    NoMatch,
    /// A broken promise between our own modules, not a problem with the input.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Text from the input (entry names, log fields) made safe for a terminal: control characters,
/// which a crafted name or line can use to move the cursor, rewrite the screen or break one
/// message into several lines, are shown as U+FFFD.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_hides_control_characters() {
        assert_eq!(
            printable("a\x1b[2Jb\nc\u{9b}d"),
            "a\u{fffd}[2Jb\u{fffd}c\u{fffd}d"
        );
        assert_eq!(printable("EX01/ü.LOG"), "EX01/ü.LOG");
    }

    #[test]
    fn messages_do_not_repeat_their_source() {
        let e = Error::Write {
            path: "r.html".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(e.to_string(), "r.html: cannot write");
        let chain = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(chain, "r.html: cannot write: disk full");
    }
}
