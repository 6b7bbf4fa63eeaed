//! Inputs that are not what a bundle should be, built on the spot because they cannot be
//! committed (pipes, sockets, sparse giants, names that are not UTF-8) or are clearest next to
//! their assertion. Each must end within seconds, with exit 0 and the input read, or exit 2 and
//! one line saying why; never a hang, a panic, or reading gigabytes first.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{bin, repo};

/// Longer than any of these runs takes, far shorter than the hang or the gigabytes it guards
/// against.
const PATIENCE: Duration = Duration::from_secs(30);

/// A PowerShell export with two rows: small, and read by every command.
fn csv() -> PathBuf {
    repo("tests/fixtures/formats/exports/tracking-ex.csv")
}

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(args: &[&std::ffi::OsStr]) -> Run {
    let out = bin().args(args).timeout(PATIENCE).output().expect("runs");
    Run {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Exit 2 with exactly one line on stderr holding `expected`.
fn assert_refused(r: &Run, expected: &str, what: &str) {
    assert_eq!(
        r.code,
        Some(2),
        "{what}: exit code (None: killed after {PATIENCE:?}); stderr: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(expected),
        "{what}: {:?} lacks {expected:?}",
        r.stderr
    );
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "{what}: {:?}",
        r.stderr
    );
}

/// A zip written on the spot, each entry stored under exactly the given name.
fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
    let f = std::fs::File::create(path).expect("create");
    let mut z = zip::ZipWriter::new(f);
    for (name, data) in entries {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(data).expect("write");
    }
    z.finish().expect("finish");
}

#[test]
fn control_characters_in_names_stay_off_the_terminal() {
    let data = std::fs::read(csv()).expect("fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("b.zip");
    zip_of(
        &bundle,
        &[
            ("EX01/\x1b[2Ja.csv", &data),
            ("../\x1b]0;x\x07\nfake line", &data),
        ],
    );
    let r = run(&[os("inspect"), bundle.as_os_str()]);
    assert_refused(&r, "unsafe path inside the archive", "escape in name");
    assert!(!r.stderr.contains('\x1b'), "{:?}", r.stderr);
    assert!(r.stdout.is_empty());
}
