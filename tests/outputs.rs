//! Where the outputs go and how the command line reads its values: all outputs or none, never
//! two outputs into one place, devices written in place, a closed pipe as a quiet end, and
//! option values that start with `-`.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::repo;

/// A PowerShell export with two rows, `<m5@corp.example>` delivered at 9:04 AM local time.
fn csv() -> PathBuf {
    repo("tests/fixtures/formats/exports/tracking-ex.csv")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
