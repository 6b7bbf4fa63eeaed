//! `export`: the canonical frames as Parquet datasets, for engines beyond one machine.
//!
//! The target folder is written whole or not at all: everything goes into a temporary folder
//! beside it, renamed into place when complete. Each entry's rows are written as soon as it is
//! read, so memory does not grow with the bundle.

use std::path::Path;

use crate::cli::ExportArgs;
use crate::error::Error;
use crate::human::thousands;
use crate::ingest;
use crate::ingest::parquet::{
    partition_value, write_dataset, Exporter, EVENTS, INVENTORY_FILE, NOTES_FILE, PROTOCOL,
    SESSIONS,
};

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let out = args.output.as_path();
    check_target(&args.input.bundle, out)?;
    // Bad options fail before anything is made.
    let opts = super::ingest_options(&args.input)?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stage = tempfile::Builder::new()
        .prefix(".mailforensics-export-")
        .tempdir_in(parent)
        .map_err(|source| Error::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    for dataset in [EVENTS, PROTOCOL, SESSIONS] {
        let dir = stage.path().join(dataset);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Write { path: dir, source })?;
    }
    let exporter = Exporter {
        dir: stage.path().to_path_buf(),
    };
    let read = super::read(&args.input, &opts, &exporter)?;
    // A log that is a copy of another was written as soon as it was read, before the copies
    // were known: its files go, so the export holds its rows once, as the inventory says.
    for f in read.inventory.files.iter().filter(|f| f.copy_of.is_some()) {
        let name = Exporter::file_name(&f.path);
        for dataset in [EVENTS, PROTOCOL] {
            let dir = stage.path().join(dataset);
            remove_named(&dir, &dir, &name)?;
        }
    }
    // So was a log read again as another server's (a Send log outside server folders, a folder
    // named otherwise than its rows say): its first reading's rows, under the server it was
    // first read as, go.
    for (path, first) in &read.read_again {
        let name = Exporter::file_name(path);
        for dataset in [EVENTS, PROTOCOL] {
            let dir = stage.path().join(dataset);
            let under = dir.join(format!("server={}", partition_value(first)));
            remove_named(&dir, &under, &name)?;
        }
    }
    let (mut files, mut events, mut protocol) = (0, 0, 0);
    let mut sessions = Vec::new();
    for (_, e) in read.chunks {
        files += e.files;
        events += e.events;
        protocol += e.protocol;
        sessions.extend(e.sessions);
    }
    let sessions = ingest::protocol::merge_sessions(&sessions)?;
    let dir = stage.path().join(SESSIONS);
    files += write_dataset(&sessions, "start", &dir, "part-0.parquet", true)?.len();
    let counts = [
        (EVENTS, events),
        (PROTOCOL, protocol),
        (SESSIONS, sessions.height()),
    ];
    write_json(&stage.path().join(INVENTORY_FILE), &read.inventory)?;
    write_json(&stage.path().join(NOTES_FILE), &read.notes)?;
    // An empty folder the user made for us gives way to the finished export.
    if out.is_dir() {
        std::fs::remove_dir(out).map_err(|source| Error::Write {
            path: out.to_path_buf(),
            source,
        })?;
    }
    let staged = stage.keep();
    std::fs::rename(&staged, out).map_err(|source| {
        let _ = std::fs::remove_dir_all(&staged);
        Error::Write {
            path: out.to_path_buf(),
            source,
        }
    })?;
    let what: Vec<String> = counts
        .iter()
        .map(|(n, c)| format!("{} {n} rows", thousands(*c as u64)))
        .collect();
    eprintln!(
        "exported {} in {files} Parquet files to {}",
        what.join(", "),
        crate::error::printable(&out.display().to_string())
    );
    Ok(())
}

/// Removes every file called `name` below `from`, inside the dataset folder `dataset`, and the
/// partition folders that leaves empty (an engine would list an empty partition).
fn remove_named(dataset: &Path, from: &Path, name: &str) -> crate::error::Result<()> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Write { path, source }
    };
    // Not there: nothing was written there, or its last file went already.
    if !from.is_dir() {
        return Ok(());
    }
    let mut removed = Vec::new();
    for e in walkdir::WalkDir::new(from).min_depth(1) {
        let e = e.map_err(|e| Error::Write {
            path: from.to_path_buf(),
            source: e.into(),
        })?;
        if e.file_type().is_file() && e.file_name() == name {
            std::fs::remove_file(e.path()).map_err(write_err(e.path()))?;
            removed.push(e.into_path());
        }
    }
    for file in removed {
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(dataset) && *d != dataset) {
            let empty = std::fs::read_dir(d).map_err(write_err(d))?.next().is_none();
            if !empty {
                break;
            }
            std::fs::remove_dir(d).map_err(write_err(d))?;
            dir = d.parent();
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> crate::error::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The export goes into a new or empty folder outside the input, never over anything.
fn check_target(input: &Path, out: &Path) -> crate::error::Result<()> {
    if out.exists() {
        let empty = out.is_dir()
            && std::fs::read_dir(out)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
        if !empty {
            return Err(Error::ExportTargetExists {
                path: out.to_path_buf(),
            });
        }
    }
    if super::inside_input(input, out) {
        return Err(Error::OutputInsideInput {
            path: out.to_path_buf(),
        });
    }
    Ok(())
}
