//! One folder per bad input under `tests/invalid/` (written by `make_fixtures.py` there): the
//! bundle (`bundle.*`; none for a missing file), optional extra arguments (`args`), and the text
//! its one-line error must contain (`expected`). Each folder is two tests, `FOLDER::inspect` and
//! `FOLDER::report`: exit code 2, exactly one line on stderr containing `expected`, no panic,
//! nothing on stdout and nothing written. The other bad-input tests follow as plain tests.
//!
//! This target runs its own harness (libtest-mimic, `harness = false`); filter as usual:
//! `cargo test --release --test invalid_inputs -- zip-bomb`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use libtest_mimic::{Arguments, Failed, Trial};

/// At least this many folders: a lost fixture must not shrink the suite unnoticed.
const AT_LEAST_CASES: usize = 17;

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let cases = cases();
    for case in &cases {
        let name = case_name(case);
        for cmd in ["inspect", "report"] {
            let case = case.clone();
            trials.push(Trial::test(format!("{name}::{cmd}"), move || {
                check(cmd, &case)
            }));
        }
    }
    let found = cases.len();
    trials.push(Trial::test("every_case_folder_is_there", move || {
        if found >= AT_LEAST_CASES {
            Ok(())
        } else {
            Err(format!(
                "tests/invalid holds {found} case folders, expected at least {AT_LEAST_CASES}"
            )
            .into())
        }
    }));
    for (name, f) in [
        (
            "empty_folder_is_an_empty_bundle",
            empty_folder_is_an_empty_bundle as fn(),
        ),
        (
            "report_refuses_to_write_into_its_input",
            report_refuses_to_write_into_its_input,
        ),
        ("garbage_bytes_never_panic", garbage_bytes_never_panic),
    ] {
        trials.push(Trial::test(name, move || {
            f();
            Ok(())
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/invalid");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/invalid exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn case_name(case: &Path) -> String {
    case.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| case.display().to_string())
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

/// Runs `cmd` on the case's bundle in an empty working folder; every broken promise is listed.
fn check(cmd: &str, case: &Path) -> Result<(), Failed> {
    let name = case_name(case);
    let expected = std::fs::read_to_string(case.join("expected"))
        .map_err(|e| format!("{name} ({cmd}): cannot read its `expected` file: {e}"))?;
    let expected = expected.trim();
    if expected.is_empty() {
        return Err(format!("{name} ({cmd}): its `expected` file is empty").into());
    }
    let args = std::fs::read_to_string(case.join("args")).unwrap_or_default();
    let work = tempfile::tempdir().expect("tempdir");
    let mut c = Command::cargo_bin("mailforensics").expect("binary");
    c.current_dir(work.path())
        .arg(cmd)
        .arg(input_of(case))
        .args(args.split_whitespace());
    if cmd == "report" {
        c.arg("-o").arg(work.path().join("r.html"));
    }
    let out = c.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut broken = Vec::new();
    if out.status.code() != Some(2) {
        broken.push(format!("exit code {:?}, expected 2", out.status.code()));
    }
    if !stderr.contains(expected) {
        broken.push(format!("stderr lacks {expected:?}"));
    }
    if stderr.trim_end().lines().count() != 1 {
        broken.push("stderr is not exactly one line".to_string());
    }
    if stderr.contains("panicked") {
        broken.push("it panicked".to_string());
    }
    if !out.stdout.is_empty() {
        broken.push(format!(
            "stdout is not empty: {:?}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let written: Vec<String> = std::fs::read_dir(work.path())
        .expect("work folder")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    if !written.is_empty() {
        broken.push(format!("files written despite the error: {written:?}"));
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("{name} ({cmd}): {}; stderr: {stderr:?}", broken.join("; ")).into())
    }
}

fn empty_folder_is_an_empty_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("mailforensics")
        .expect("binary")
        .arg("inspect")
        .arg(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "empty folder: {stderr}");
    assert!(
        stderr.contains("the bundle is empty"),
        "empty folder: {stderr}"
    );
}

fn report_refuses_to_write_into_its_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "output inside input: {stderr}");
    assert!(
        stderr.contains("refusing to write into the input bundle"),
        "output inside input: {stderr}"
    );
    assert!(
        !dir.path().join("report.html").exists(),
        "output inside input: the report was written"
    );
}

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
