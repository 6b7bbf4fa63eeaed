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

#[cfg(unix)]
fn mkfifo(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", p.display());
}

#[cfg(unix)]
#[test]
fn a_pipe_as_the_bundle_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("MSGTRK2026111608-1.LOG");
    mkfifo(&fifo);
    let out = dir.path().join("r.html");
    for (what, args) in [
        ("inspect", vec![os("inspect"), fifo.as_os_str()]),
        (
            "report",
            vec![os("report"), fifo.as_os_str(), os("-o"), out.as_os_str()],
        ),
        (
            "trace",
            vec![
                os("trace"),
                fifo.as_os_str(),
                os("--sender"),
                os("a@b.example"),
            ],
        ),
    ] {
        let r = run(&args);
        assert_refused(&r, "not a regular file or folder (a pipe or device?)", what);
    }
    assert!(!out.exists());
}

#[cfg(unix)]
#[test]
fn devices_are_refused_before_a_byte_is_read() {
    // /dev/zero never ends: reading it "until the limit" would still read 16 GB.
    for dev in ["/dev/zero", "/dev/urandom", "/dev/null"] {
        let r = run(&[os("inspect"), os(dev)]);
        assert_refused(&r, "not a regular file or folder (a pipe or device?)", dev);
    }
}

#[test]
fn a_file_larger_than_the_limit_is_refused_from_its_size() {
    // Sparse: 64 GiB of nothing on disk. Reading it whole first (as `std::fs::read` does) would
    // take minutes or abort on the allocation; the size alone says no.
    let dir = tempfile::tempdir().expect("tempdir");
    let huge = dir.path().join("MSGTRK2026111608-1.LOG");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(64 << 30))
        .expect("sparse file");
    let r = run(&[os("inspect"), huge.as_os_str()]);
    assert_refused(
        &r,
        "the bundle is larger than the --max-uncompressed limit",
        "single file",
    );

    // The same inside a folder, with the limit lowered below a small real file.
    let folder = tempfile::tempdir().expect("tempdir");
    std::fs::copy(csv(), folder.path().join("a.csv")).expect("copy");
    let r = run(&[
        os("inspect"),
        folder.path().as_os_str(),
        os("--max-uncompressed"),
        os("100"),
    ]);
    assert_refused(
        &r,
        "a.csv: the bundle is larger than the --max-uncompressed limit of 100 bytes",
        "folder entry",
    );
    let r = run(&[
        os("inspect"),
        csv().as_os_str(),
        os("--max-uncompressed"),
        os("100"),
    ]);
    assert_refused(
        &r,
        "the bundle is larger than the --max-uncompressed limit of 100 bytes",
        "small file",
    );
}

#[cfg(unix)]
#[test]
fn pipes_sockets_and_links_in_a_folder_are_listed_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::copy(csv(), root.join("a.csv")).expect("copy");
    mkfifo(&root.join("b-pipe.LOG"));
    let _listener =
        std::os::unix::net::UnixListener::bind(root.join("c-socket.LOG")).expect("socket");
    std::os::unix::fs::symlink(root.join("a.csv"), root.join("d-link.csv")).expect("symlink");
    std::os::unix::fs::symlink("/dev/zero", root.join("e-zero.LOG")).expect("symlink");
    let r = run(&[os("inspect"), os("--json"), os("-q"), root.as_os_str()]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let inv: serde_json::Value = serde_json::from_slice(&r.stdout).expect("json");
    assert_eq!(
        inv["events"], 2,
        "the link to a.csv is not read a second time"
    );
    let files = inv["files"].as_array().expect("files");
    let paths: Vec<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            "a.csv",
            "b-pipe.LOG",
            "c-socket.LOG",
            "d-link.csv",
            "e-zero.LOG"
        ]
    );
    assert_eq!(files[0]["kind"], "powershell_csv");
    for f in &files[1..] {
        assert_eq!(f["kind"], "skipped", "{f}");
        assert_eq!(f["bytes"], 0, "{f}");
        assert!(f["skipped"].is_string(), "{f}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn names_that_are_not_utf8_are_read_by_their_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().expect("tempdir");
    // Latin-1 names, as copied from an old Windows share: "café" and "Zürich".
    let sub = dir.path().join(std::ffi::OsStr::from_bytes(b"Z\xfcrich"));
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::copy(csv(), sub.join(std::ffi::OsStr::from_bytes(b"caf\xe9.csv"))).expect("copy");
    let r = run(&[
        os("inspect"),
        os("--json"),
        os("-q"),
        dir.path().as_os_str(),
    ]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let inv: serde_json::Value = serde_json::from_slice(&r.stdout).expect("json");
    assert_eq!(inv["events"], 2);
    assert_eq!(inv["files"][0]["path"], "Z\u{fffd}rich/caf\u{fffd}.csv");
    assert_eq!(inv["files"][0]["kind"], "powershell_csv");
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
fn zip_names_get_one_spelling() {
    let data = std::fs::read(csv()).expect("fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("b.zip");
    zip_of(
        &bundle,
        &[
            ("EX01\\Logs\\a.csv", &data),
            ("./EX02//Logs/./b.csv", &data),
        ],
    );
    let r = run(&[os("inspect"), os("--json"), os("-q"), bundle.as_os_str()]);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let inv: serde_json::Value = serde_json::from_slice(&r.stdout).expect("json");
    let paths: Vec<&str> = inv["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(paths, ["EX01/Logs/a.csv", "EX02/Logs/b.csv"]);

    // The same file under two spellings, in an archive inside the bundle.
    let inner = dir.path().join("inner.zip");
    zip_of(&inner, &[("EX01\\a.csv", &data), ("EX01/./a.csv", &data)]);
    let outer = dir.path().join("outer.zip");
    zip_of(
        &outer,
        &[("EX01.zip", &std::fs::read(&inner).expect("inner"))],
    );
    let r = run(&[os("inspect"), outer.as_os_str()]);
    assert_refused(
        &r,
        "EX01.zip: two or more entries share a name (`EX01\\a.csv` and `EX01/./a.csv`)",
        "nested",
    );
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
