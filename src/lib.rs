//! mailforensics: postmortems of Exchange mail incidents from the servers' own logs.
//!
//! The pipeline runs one way, one module per stage:
//! `bundle` (zip/folder in, entries out) → `ingest` (entries in, rows out to a collector: the
//! canonical Polars frames for `trace` and `export`, or the analysis model, built while parsing,
//! for `report`; and an inventory) → `analyze` (model in, [`analyze::Findings`] out) → `render`
//! (findings in, HTML out). `Findings` is the one contract between analysis and rendering; the
//! JSON output is that struct.

pub mod analyze;
pub mod bundle;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod human;
pub mod ingest;
pub mod render;
pub mod simulate;
pub mod timing;

pub use error::{Error, Result};
