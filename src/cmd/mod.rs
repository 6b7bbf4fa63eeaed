//! One file per subcommand; this file routes to them and holds what they share: turning flags
//! into ingest options and writing outputs without ever touching the input.

mod inspect;
mod report;
mod simulate;
mod trace;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::bundle::Limits;
use crate::cli::{Cli, Command, InputArgs};
use crate::error::{Error, Result};
use crate::ingest::{self, fields::parse_offset, Options};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Report(a) => report::run(a),
        Command::Trace(a) => trace::run(a),
        Command::Simulate(a) => simulate::run(a),
    }
}

pub(crate) fn ingest_options(input: &InputArgs) -> Result<Options> {
    let tz = match &input.tz {
        None => None,
        Some(s) => Some(parse_offset(s).ok_or_else(|| Error::BadOption {
            option: "--tz",
            detail: format!("{s:?} is not a UTC offset; use +02:00, -0500 or UTC (zone names are not supported: give the offset in force when the logs were written)"),
        })?),
    };
    Ok(Options {
        limits: Limits {
            max_uncompressed: input.max_uncompressed,
            max_ratio: input.max_ratio,
            ..Limits::default()
        },
        csv_time_format: input.csv_time_format.clone(),
        tz,
    })
}

/// The progress bar on stderr (only on a terminal, and not with `--quiet`).
pub(crate) struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub(crate) fn new(input: &InputArgs) -> Bar {
        use std::io::IsTerminal;
        if input.quiet || !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = indicatif::ProgressBar::new(1);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "reading {bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Bar(Some(bar))
    }
}

impl ingest::Progress for Bar {
    fn start(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total.max(1));
        }
    }
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// The canonical frames of a bundle (`trace`).
pub(crate) fn load(input: &InputArgs) -> Result<ingest::Loaded> {
    ingest::load(&input.bundle, &ingest_options(input)?)
}

/// The inventory of a bundle (`inspect`).
pub(crate) fn inventory(input: &InputArgs) -> Result<ingest::Inventory> {
    ingest::inventory(&input.bundle, &ingest_options(input)?, &Bar::new(input))
}

fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    // The output may not exist yet: resolve its folder instead.
    let parent = p
        .parent()
        .filter(|x| !x.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (parent.canonicalize(), p.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    }
}

/// Refuses an output path that is the input, or inside an input folder: the tool never writes
/// into what it is examining.
pub(crate) fn check_output(input: &Path, out: &Path) -> Result<()> {
    if out == Path::new("-") {
        return Ok(());
    }
    let i = absolute(input);
    let o = absolute(out);
    if o == i || (i.is_dir() && o.starts_with(&i)) {
        return Err(Error::OutputInsideInput {
            path: out.to_path_buf(),
        });
    }
    Ok(())
}

/// Writes `bytes` to `path` (`-` is standard output), via a temporary file so that a failed run
/// never leaves half a report behind.
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    if path == Path::new("-") {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|_| out.flush())
            .map_err(|e| Error::Write {
                path: path.to_path_buf(),
                source: e,
            });
    }
    // A device or pipe (`-o /dev/null`, a FIFO) is written in place: renaming a temporary file
    // over it would replace the device with a file.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return std::fs::write(path, bytes).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: e,
        });
    }
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::Write {
                path: path.to_path_buf(),
                source: e,
            }
        })
}
