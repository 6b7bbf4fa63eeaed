//! One folder per bad input under `tests/invalid/`: the bundle, optional extra arguments, and the
//! text its one-line error must contain. Every case must exit with code 2, print exactly one line
//! on stderr, and never panic.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/invalid exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn input_of(case: &Path) -> PathBuf {
    std::fs::read_dir(case)
        .expect("case folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bundle"))
        })
        .unwrap_or_else(|| case.join("bundle.zip"))
}

fn check(cmd: &str, case: &Path) {
    let expected = std::fs::read_to_string(case.join("expected")).expect("expected file");
    let expected = expected.trim();
    let args = std::fs::read_to_string(case.join("args")).unwrap_or_default();
    let out_dir = tempfile::tempdir().expect("tempdir");
    let mut c = Command::cargo_bin("mailforensics").expect("binary");
    c.arg(cmd).arg(input_of(case)).args(args.split_whitespace());
    if cmd == "report" {
        c.arg("-o").arg(out_dir.path().join("r.html"));
    }
    let out = c.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name} ({cmd}): exit code; stderr: {stderr}"
    );
    assert!(
        stderr.contains(expected),
        "{name} ({cmd}): stderr {stderr:?} lacks {expected:?}"
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{name} ({cmd}): one line expected: {stderr:?}"
    );
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    assert!(
        !out_dir.path().join("r.html").exists(),
        "{name}: a report was written despite the error"
    );
}

#[test]
fn every_bad_input_gets_its_own_message_and_exit_code_2() {
    let cases = cases();
    assert!(cases.len() >= 12, "fixtures missing: {cases:?}");
    for case in &cases {
        check("inspect", case);
        check("report", case);
    }
}

#[test]
fn empty_folder_is_an_empty_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("mailforensics")
        .expect("binary")
        .arg("inspect")
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the bundle is empty"));
}

#[test]
fn report_refuses_to_write_into_its_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/formats/real/MSGTRKMS2022091915-1.LOG");
    std::fs::copy(&real, dir.path().join("MSGTRKMS2022091915-1.LOG")).expect("copy");
    let out = Command::cargo_bin("mailforensics")
        .expect("binary")
        .arg("report")
        .arg(dir.path())
        .arg("-o")
        .arg(dir.path().join("report.html"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to write into the input bundle")
    );
    assert!(!dir.path().join("report.html").exists());
}

#[test]
fn garbage_bytes_never_panic() {
    // A poor man's fuzz: deterministic junk, as a file and inside a zip, must end in a clean
    // result (exit 0 or 2), never a crash.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for i in 0..24 {
        let mut bytes = Vec::new();
        let len = 64 + (i * 97) % 2000;
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(match seed % 7 {
                0 => b',',
                1 => b'"',
                2 => b'\n',
                3 => b'#',
                _ => (seed >> 8) as u8,
            });
        }
        let prefix: &[u8] = match i % 3 {
            0 => b"#Software: Microsoft Exchange Server\r\n#Fields: date-time,event-id,message-id\r\n",
            1 => b"PK\x03\x04",
            _ => b"",
        };
        let p = dir.path().join(format!("junk{i}.LOG"));
        std::fs::write(&p, [prefix, &bytes].concat()).expect("write");
        let out = Command::cargo_bin("mailforensics")
            .expect("binary")
            .arg("inspect")
            .arg(&p)
            .output()
            .expect("runs");
        let code = out.status.code();
        assert!(
            code == Some(0) || code == Some(2),
            "junk{i}: {code:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
