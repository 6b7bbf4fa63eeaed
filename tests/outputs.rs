//! Where the outputs go and how the command line reads its values: all outputs or none, never
//! two outputs into one place, devices written in place, a closed pipe as a quiet end, and
//! option values that start with `-`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{bin, repo};
use serde_json::Value;

/// A PowerShell export with two rows, `<m5@corp.example>` delivered at 9:04 AM local time.
fn csv() -> PathBuf {
    repo("tests/fixtures/formats/exports/tracking-ex.csv")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn report(args: &[&std::ffi::OsStr]) -> std::process::Output {
    bin()
        .arg("report")
        .arg(csv())
        .arg("-q")
        .args(args)
        .output()
        .expect("runs")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_json_write_leaves_no_report_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("o.html");
    let o = report(&[
        "-o".as_ref(),
        html.as_os_str(),
        "--json".as_ref(),
        "/dev/full".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/dev/full: cannot write: No space left on device"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "no report, no temporary file"
    );
}

#[test]
fn json_into_a_folder_is_refused_before_any_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("o.html");
    let o = report(&[
        "-o".as_ref(),
        html.as_os_str(),
        "--json".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is a folder; name a file to write"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn a_missing_output_folder_is_refused_before_any_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = report(&["-o".as_ref(), dir.path().join("no/such/r.html").as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot write: the folder to write into does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn two_outputs_into_one_file_are_refused_however_spelt() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let a = dir.path().join("r.html");
    let b = dir.path().join("sub/../r.html");
    let o = report(&[
        "-o".as_ref(),
        a.as_os_str(),
        "--json".as_ref(),
        b.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("name the same file"), "{}", stderr(&o));
    assert!(!a.exists());

    // An existing file under a second name (a hard link) is the same file too.
    std::fs::write(&a, "old").expect("write");
    let link = dir.path().join("findings.json");
    std::fs::hard_link(&a, &link).expect("hard link");
    let o = report(&[
        "-o".as_ref(),
        a.as_os_str(),
        "--json".as_ref(),
        link.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("name the same file"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&a).expect("read"), "old");
}

#[test]
fn both_outputs_on_standard_output_are_refused() {
    let o = report(&["-o".as_ref(), "-".as_ref(), "--json".as_ref(), "-".as_ref()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--output and --json both go to standard output"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());

    #[cfg(target_os = "linux")]
    {
        let o = report(&[
            "-o".as_ref(),
            "-".as_ref(),
            "--json".as_ref(),
            "/dev/stdout".as_ref(),
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("name the same file"), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

#[cfg(unix)]
#[test]
fn devices_are_written_in_place_and_files_replaced_whole() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("f.json");
    std::fs::write(&json, "stale").expect("write");
    let o = report(&[
        "-o".as_ref(),
        "/dev/null".as_ref(),
        "--json".as_ref(),
        json.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let meta = std::fs::metadata("/dev/null").expect("/dev/null");
    assert!(
        meta.file_type().is_char_device(),
        "/dev/null is still a device"
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid");
    assert!(v["bundle"].is_object());
    assert_eq!(files_in(dir.path()), ["f.json"], "no temporary file left");
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("r.html");
    let input = csv();
    let cases: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec!["inspect".as_ref(), input.as_os_str()],
        vec![
            "report".as_ref(),
            input.as_os_str(),
            "-q".as_ref(),
            "-o".as_ref(),
            html.as_os_str(),
            "--json".as_ref(),
            "-".as_ref(),
        ],
    ];
    for args in cases {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mailforensics"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        // The reading end is closed before the child can write, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("waits");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    assert!(
        html.exists(),
        "the file output is written even though stdout closed"
    );
}

/// The first hop's time of `<m5@corp.example>` traced with these extra flags.
fn m5_time(extra: &[&str]) -> String {
    let out = bin()
        .arg("trace")
        .arg(csv())
        .args(["--json", "-q", "--message-id", "<m5@corp.example>"])
        .args(extra)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["hops"][0]["time"].as_str().expect("time").to_string()
}

#[test]
fn negative_utc_offsets_are_values_not_flags() {
    // 11/16/2026 9:04:00 AM on a machine five hours behind UTC.
    assert_eq!(m5_time(&["--tz", "-05:00"]), "2026-11-16T14:04:00.000Z");
    assert_eq!(m5_time(&["--tz=-05:00"]), "2026-11-16T14:04:00.000Z");
    assert_eq!(m5_time(&["--tz", "-0530"]), "2026-11-16T14:34:00.000Z");
    assert_eq!(m5_time(&["--tz", "+02:00"]), "2026-11-16T07:04:00.000Z");
    assert_eq!(
        m5_time(&[
            "--csv-time-format",
            "%m/%d/%Y %I:%M:%S %p",
            "--tz",
            "-05:00"
        ]),
        "2026-11-16T14:04:00.000Z"
    );
}

#[test]
fn filter_values_may_start_with_a_hyphen() {
    for flag in ["--sender", "--recipient", "--subject", "--message-id"] {
        let out = bin()
            .arg("trace")
            .arg(csv())
            .args(["-q", flag, "-nobody@corp.example"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            stderr(&out).contains("no message in the bundle matches the filter"),
            "{flag}: {}",
            stderr(&out)
        );
    }
}
