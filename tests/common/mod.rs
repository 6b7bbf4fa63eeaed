//! Helpers shared by the integration tests: running the binary, reading its JSON, and reading
//! cells of the frames. Each test crate uses only some of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use polars::prelude::*;
use serde_json::Value;

pub fn bin() -> Command {
    Command::cargo_bin("mailforensics").expect("binary")
}

/// A path inside the repository: the one cargo names when it runs the test (`CARGO_MANIFEST_DIR`
/// at run time), so that a test binary built in another clone sharing the target folder does not
/// read that clone's files; the build-time path where the variable is unset.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join(rel)
}

/// One of the real files in `../shared/formats/real/` (CI runs with shared/ beside the clone).
pub fn real(name: &str) -> PathBuf {
    let p = repo("../shared/formats/real").join(name);
    assert!(p.exists(), "{} is missing", p.display());
    p
}

/// Runs the binary, asserts success, returns stdout.
pub fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `report --json -` of a bundle (the HTML goes to /dev/null).
pub fn findings(bundle: &Path) -> Value {
    let out =
        stdout_of(
            bin()
                .arg("report")
                .arg(bundle)
                .args(["-o", "/dev/null", "--json", "-", "-q"]),
        );
    serde_json::from_slice(&out).expect("findings json")
}

/// `inspect --json` of a bundle.
pub fn inspect_json(bundle: &Path) -> Value {
    let out = stdout_of(bin().args(["inspect", "--json", "-q"]).arg(bundle));
    serde_json::from_slice(&out).expect("inventory json")
}

/// A text cell of a frame.
pub fn text(df: &DataFrame, col: &str, row: usize) -> Option<String> {
    df.column(col)
        .expect(col)
        .str()
        .expect("str")
        .get(row)
        .map(str::to_string)
}

/// A `list[str]` cell of a frame.
pub fn list(df: &DataFrame, col: &str, row: usize) -> Vec<String> {
    let l = df.column(col).expect(col).list().expect("list");
    l.get_as_series(row)
        .map(|v| {
            v.str()
                .expect("str list")
                .iter()
                .map(|x| x.unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Splits a zip into one zip per top-level folder (server), keeping the entries' order: what
/// the admins of each server would have zipped.
pub fn per_server_zips(bundle: &Path, dir: &Path) -> Vec<PathBuf> {
    use std::fs::File;
    use std::io::Write;
    let mut src = ::zip::ZipArchive::new(File::open(bundle).expect("open")).expect("zip");
    let mut outs: Vec<(String, ::zip::ZipWriter<File>)> = Vec::new();
    for i in 0..src.len() {
        let mut e = src.by_index(i).expect("entry");
        let name = e.name().expect("entry name").to_string();
        let server = name.split('/').next().expect("folder").to_string();
        if !outs.iter().any(|(s, _)| *s == server) {
            let f = File::create(dir.join(format!("{server}.zip"))).expect("create");
            outs.push((server.clone(), ::zip::ZipWriter::new(f)));
        }
        let w = &mut outs.iter_mut().find(|(s, _)| *s == server).expect("w").1;
        if e.is_dir() {
            continue;
        }
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).expect("read");
        w.start_file(&name, ::zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(&data).expect("write");
    }
    outs.into_iter()
        .map(|(s, w)| {
            w.finish().expect("finish");
            dir.join(format!("{s}.zip"))
        })
        .collect()
}
