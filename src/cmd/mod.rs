//! One file per subcommand; this file routes to them and holds what they share: turning flags
//! into ingest options and writing outputs without ever touching the input.
//!
//! Outputs are all-or-nothing: a run that fails, or whose second output cannot be written,
//! leaves no first output behind (a stale report next to a failed run would be taken for the
//! answer). Each file output is written to a temporary file in its target folder and renamed
//! into place only once every output was written in full.

mod export;
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
        Command::Export(a) => export::run(a),
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

/// A bundle read with `opts` ([`ingest_options`]) through `collector` (`report`, `export`),
/// with the progress bar the flags ask for.
pub(crate) fn read<C: ingest::Collector>(
    input: &InputArgs,
    opts: &Options,
    collector: &C,
) -> Result<ingest::ReadOut<C::Chunk>> {
    ingest::read(&input.bundle, opts, collector, &Bar::new(input))
}

/// The inventory of a bundle (`inspect`).
pub(crate) fn inventory(input: &InputArgs) -> Result<ingest::Inventory> {
    ingest::inventory(&input.bundle, &ingest_options(input)?, &Bar::new(input))
}

fn is_stdout(p: &Path) -> bool {
    p == Path::new("-")
}

/// The file standard output is, for comparing it with other outputs: `-o - --json /dev/stdout`
/// mixes two outputs as surely as `-o - --json -` does.
fn as_file(p: &Path) -> &Path {
    if is_stdout(p) {
        Path::new("/dev/stdout")
    } else {
        p
    }
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

/// Whether two paths are one file: the same canonical path (however spelt), or, for files that
/// exist, the same file under two names (a hard link). Only `stat`, never `open`: opening a
/// FIFO to compare it would wait for a writer.
fn same_file(a: &Path, b: &Path) -> bool {
    if absolute(a) == absolute(b) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

/// Whether `out` is part of the input: anything below it (an input folder's files; a path "below"
/// an input file cannot be written and is refused the same way), or a second name of it (a link,
/// another spelling).
pub(crate) fn inside_input(input: &Path, out: &Path) -> bool {
    absolute(out).starts_with(absolute(input)) || same_file(input, out)
}

/// Checks where the outputs go before any work is done, so that a mistake costs nothing:
/// nothing inside the input (the tool never writes into what it is examining), no folder, no
/// folder that does not exist, and no two outputs into one file or both onto standard output.
pub(crate) fn check_outputs(input: &Path, outs: &[&Path]) -> Result<()> {
    for (k, &out) in outs.iter().enumerate() {
        for &earlier in &outs[..k] {
            if is_stdout(out) && is_stdout(earlier) {
                return Err(Error::BothStdout);
            }
            // Writing twice into the null device loses nothing.
            if same_file(as_file(out), as_file(earlier))
                && absolute(as_file(out)) != Path::new("/dev/null")
            {
                return Err(Error::SameOutput {
                    path: earlier.to_path_buf(),
                    other: out.to_path_buf(),
                });
            }
        }
        if is_stdout(out) {
            continue;
        }
        if inside_input(input, out) {
            return Err(Error::OutputInsideInput {
                path: out.to_path_buf(),
            });
        }
        match std::fs::metadata(out) {
            Ok(m) if m.is_dir() => {
                return Err(Error::OutputIsFolder {
                    path: out.to_path_buf(),
                })
            }
            Ok(_) => {}
            Err(_) => {
                if !folder_of(out).is_dir() {
                    return Err(Error::Write {
                        path: out.to_path_buf(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "the folder to write into does not exist",
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

fn folder_of(p: &Path) -> &Path {
    p.parent()
        .filter(|x| !x.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Where one output goes.
enum Target {
    Stdout,
    /// A device or pipe (`-o /dev/null`, a FIFO): written in place, since renaming a file over
    /// it would replace the device with a file.
    InPlace,
    /// A regular file, existing or not: staged, then renamed over this path. An existing file
    /// is resolved through links so that the rename replaces what the link points at, not the
    /// link (and never a link such as `/dev/stdout`).
    File(PathBuf),
}

fn target(path: &Path) -> Result<Target> {
    if is_stdout(path) {
        return Ok(Target::Stdout);
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::OutputIsFolder {
            path: path.to_path_buf(),
        }),
        Ok(m) if !m.is_file() => Ok(Target::InPlace),
        Ok(_) => Ok(Target::File(
            path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
        )),
        Err(_) => Ok(Target::File(path.to_path_buf())),
    }
}

/// A temporary file next to `dest`, holding `bytes` in full.
fn stage(dest: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".mailforensics-").suffix(".tmp");
    // A report is an ordinary file: the umask decides, not the tempfile's private 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = b.tempfile_in(folder_of(dest))?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    Ok(tmp)
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Writes every output or none (`-` is standard output). Files are staged first; then devices
/// and standard output are written; only when all of that succeeded are the staged files renamed
/// into place. A reader that closes standard output early (`| head`) is not a failure of the
/// files: they are still put in place, and the broken pipe is returned for `main` to treat as
/// the quiet end it is.
pub(crate) fn write_outputs(outs: &[(&Path, &[u8])]) -> Result<()> {
    let mut staged = Vec::new();
    let mut direct = Vec::new();
    for &(path, bytes) in outs {
        match target(path)? {
            Target::File(dest) => {
                let tmp = stage(&dest, bytes).map_err(|e| Error::Write {
                    path: path.to_path_buf(),
                    source: e,
                })?;
                staged.push((path, dest, tmp));
            }
            t => direct.push((path, t, bytes)),
        }
    }
    let mut broken_pipe = None;
    for (path, t, bytes) in direct {
        let written = match t {
            Target::Stdout => write_stdout(bytes),
            _ => std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut f| f.write_all(bytes).and_then(|_| f.flush())),
        };
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                broken_pipe = Some(Error::Write {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
            Err(e) => {
                return Err(Error::Write {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        }
    }
    for (path, dest, tmp) in staged {
        tmp.persist(&dest).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: e.error,
        })?;
    }
    broken_pipe.map_or(Ok(()), Err)
}

/// Writes one output; see [`write_outputs`].
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    write_outputs(&[(path, bytes)])
}
