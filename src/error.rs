//! One error type for the whole pipeline. Every variant names the bundle entry (and line, where
//! there is one) so that the one-line message a user sees tells them where to look.

use std::path::PathBuf;

/// Everything that stops a run. Input problems carry the path inside the bundle; the binary
/// prints the message on one line and exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no such file or folder")]
    NotFound { path: PathBuf },
    #[error("{path}: not a zip archive ({detail}); pass a .zip, a folder or a single log file")]
    NotAZip { path: String, detail: String },
    #[error("{path}: the zip archive is truncated or corrupt: {detail}")]
    CorruptZip { path: String, detail: String },
    #[error("{path}: two or more entries share a name, so one would hide the other; re-create the archive with distinct paths")]
    DuplicateNames { path: String },
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
    #[error("{entry}: cannot decompress: {detail}")]
    Decompress { entry: String, detail: String },
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
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{entry}: the CSV has no Timestamp/Received/date_time column")]
    NoTimeColumn { entry: String },
    #[error("no message in the bundle matches the filter")]
    NoMatch,
    #[error("writing the findings: {0}")]
    Json(#[from] serde_json::Error),
    #[error("building the frames: {0}")]
    Frame(#[from] polars::error::PolarsError),
    #[error("rendering the report: {0}")]
    Render(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
