//! `export`: the canonical frames as Hive-partitioned Parquet. Read back with Polars' reader
//! (row counts and column types against `ingest::load`), and with an independent engine, DuckDB,
//! when its Python package is there (CI installs it and sets `MAILFORENSICS_DUCKDB=required`).
//! Refusals: a folder that is not empty, a folder inside the input, and a failed run that must
//! leave nothing behind.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use mailforensics::ingest::{load, Options};
use polars::prelude::*;
use polars_io::parquet::read::ParquetReader;
use polars_io::SerReader;

fn sample() -> PathBuf {
    common::repo("samples/incident.zip")
}

fn export(bundle: &Path, out: &Path) -> std::process::Output {
    common::bin()
        .arg("export")
        .arg(bundle)
        .arg("-o")
        .arg(out)
        .output()
        .expect("runs")
}

/// Every `part-*.parquet` below `dir`, with the Hive partition values of its path.
fn parts(dir: &Path) -> Vec<(PathBuf, String, String)> {
    let mut out = Vec::new();
    for e in parquet_files(dir) {
        let rel = e
            .strip_prefix(dir)
            .expect("below")
            .to_string_lossy()
            .to_string();
        let mut server = String::new();
        let mut date = String::new();
        for c in rel.split('/') {
            if let Some(v) = c.strip_prefix("server=") {
                server = v.to_string();
            }
            if let Some(v) = c.strip_prefix("date=") {
                date = v.to_string();
            }
        }
        out.push((e, server, date));
    }
    out.sort();
    out
}

/// The Parquet files below `dir`.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk").into_path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "parquet"))
        .collect()
}

fn read(p: &Path) -> DataFrame {
    ParquetReader::new(File::open(p).expect("open"))
        .finish()
        .expect("a Parquet file Polars reads")
}

#[test]
fn export_writes_every_row_with_its_types_partitioned_by_server_and_date() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("export");
    let o = export(&sample(), &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let frames = load(&sample(), &Options::default()).expect("loads").frames;
    for (name, df, time) in [
        ("events", &frames.events, "time"),
        ("protocol", &frames.protocol, "time"),
        ("sessions", &frames.sessions, "start"),
    ] {
        let ps = parts(&out.join(name));
        assert!(!ps.is_empty(), "{name}: no files");
        let mut rows = 0;
        let mut servers = std::collections::BTreeSet::new();
        for (p, server, date) in &ps {
            let part = read(p);
            rows += part.height();
            servers.insert(server.clone());
            // The partition columns are in the path, not in the file (Spark refuses both).
            assert!(part.column("server").is_err(), "{}", p.display());
            // Every other column, with the frame's type.
            let want: Vec<(String, DataType)> = df
                .schema()
                .iter()
                .filter(|(n, _)| n.as_str() != "server")
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect();
            let got: Vec<(String, DataType)> = part
                .schema()
                .iter()
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect();
            assert_eq!(got, want, "{}", p.display());
            // Each row sits in its server's and date's partition.
            let t = part
                .column(time)
                .expect("time")
                .datetime()
                .expect("datetime");
            for ms in t.physical().iter().flatten() {
                let d = chrono::DateTime::from_timestamp_millis(ms).expect("ms");
                assert_eq!(&d.format("%Y-%m-%d").to_string(), date, "{}", p.display());
            }
        }
        assert_eq!(rows, df.height(), "{name}: every row exported once");
        let frame_servers: std::collections::BTreeSet<String> = df
            .column("server")
            .expect("server")
            .str()
            .expect("str")
            .iter()
            .flatten()
            .map(str::to_string)
            .collect();
        assert_eq!(servers, frame_servers, "{name}");
    }
    // The inventory travels with the data.
    let inv: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("inventory.json")).expect("inventory.json"))
            .expect("json");
    assert_eq!(inv["events"].as_u64(), Some(frames.events.height() as u64));
    // Lists stay lists and timestamps stay timestamps (UTC).
    let ev = read(&parts(&out.join("events"))[0].0);
    assert!(matches!(
        ev.column("recipients").expect("recipients").dtype(),
        DataType::List(_)
    ));
    assert!(matches!(
        ev.column("time").expect("time").dtype(),
        DataType::Datetime(TimeUnit::Milliseconds, Some(_))
    ));
    // Events and protocol lines are written as each log is read: a file per log and
    // partition, which holds that log's rows only.
    for name in ["events", "protocol"] {
        for (p, _, _) in parts(&out.join(name)) {
            let entries = read(&p)
                .column("entry")
                .expect("entry")
                .n_unique()
                .expect("n");
            assert_eq!(entries, 1, "{}", p.display());
        }
    }
    // Nothing else was left beside the export (the staging folder is renamed, not copied).
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["export"]);
    // The same bundle gives the same files, byte for byte.
    let again = dir.path().join("again");
    assert!(export(&sample(), &again).status.success());
    let files = |root: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.expect("walk").into_path())
            .filter(|p| p.is_file())
            .map(|p| {
                let bytes = std::fs::read(&p).expect("read");
                (p.strip_prefix(root).expect("below").to_path_buf(), bytes)
            })
            .collect()
    };
    let (a, b) = (files(&out), files(&again));
    assert!(a.len() > 10, "{} files", a.len());
    assert!(a == b, "two exports of one bundle differ");
}

#[test]
fn export_refuses_a_folder_that_holds_something_and_one_inside_the_input() {
    let dir = tempfile::tempdir().expect("tmp");
    let full = dir.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("keep.txt"), "mine").expect("write");
    let o = export(&sample(), &full);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("already exists and is not empty"), "{err}");
    assert_eq!(
        std::fs::read_to_string(full.join("keep.txt")).expect("kept"),
        "mine"
    );

    // An empty folder is taken.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    assert!(export(&sample(), &empty).status.success());
    assert!(empty.join("events").is_dir());

    // Never into the input: below a folder bundle, or "below" a zip.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    std::fs::copy(
        common::real("MSGTRKMS2022091915-1.LOG"),
        logs.join("MSGTRKMS2022091915-1.LOG"),
    )
    .expect("copy");
    for (input, out) in [
        (&logs, logs.join("export")),
        (&sample(), sample().join("x")),
    ] {
        let o = export(input, &out);
        assert_eq!(o.status.code(), Some(2), "{}", out.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("refusing to write into the input"), "{err}");
    }
    assert!(!logs.join("export").exists());
}

#[test]
fn a_failed_export_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.zip");
    std::fs::write(&bad, b"PK\x03\x04 this is not a whole zip").expect("write");
    let out = dir.path().join("export");
    let o = export(&bad, &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["bad.zip"], "no staging folder left behind");
}

/// DuckDB, an engine that shares no code with us, reads the export with Hive partitioning:
/// the same row counts, the partition columns back, timestamps as timestamps, lists as lists.
#[test]
fn duckdb_reads_the_export() {
    let required = std::env::var("MAILFORENSICS_DUCKDB").is_ok_and(|v| v == "required");
    let have = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            !required,
            "MAILFORENSICS_DUCKDB=required but python3 cannot import duckdb"
        );
        eprintln!("skipped: python3 with the duckdb package is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("export");
    assert!(export(&sample(), &out).status.success());
    let frames = load(&sample(), &Options::default()).expect("loads").frames;
    let script = r#"
import duckdb, json, sys
root = sys.argv[1]
c = duckdb.connect()
out = {}
for t in ["events", "protocol", "sessions"]:
    src = f"read_parquet('{root}/{t}/**/*.parquet', hive_partitioning = true)"
    out[t] = c.execute(f"select count(*) from {src}").fetchall()[0][0]
    out[t + "_types"] = {r[0]: r[1] for r in c.execute(f"describe select * from {src}").fetchall()}
print(json.dumps(out))
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&out)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(got["events"].as_u64(), Some(frames.events.height() as u64));
    assert_eq!(
        got["protocol"].as_u64(),
        Some(frames.protocol.height() as u64)
    );
    assert_eq!(
        got["sessions"].as_u64(),
        Some(frames.sessions.height() as u64)
    );
    let ev = &got["events_types"];
    assert_eq!(ev["time"], "TIMESTAMP WITH TIME ZONE", "{ev}");
    assert_eq!(ev["recipients"], "VARCHAR[]", "{ev}");
    assert_eq!(ev["line"], "UINTEGER", "{ev}");
    assert_eq!(ev["server"], "VARCHAR", "{ev}");
    assert_eq!(ev["date"], "DATE", "{ev}");
    assert_eq!(got["sessions_types"]["start"], "TIMESTAMP WITH TIME ZONE");

    // The README's DuckDB recipe, as written there, on exports side by side in `month/`.
    let readme = std::fs::read_to_string(common::repo("README.md")).expect("README");
    let recipe = readme
        .split("```sql\n-- duckdb\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .expect("a ```sql block starting `-- duckdb` in the README");
    let month = dir.path().join("month");
    std::fs::create_dir(&month).expect("mkdir");
    for z in common::per_server_zips(&sample(), dir.path()) {
        let name = z.file_stem().expect("stem").to_owned();
        assert!(export(&z, &month.join(name)).status.success());
    }
    std::fs::create_dir(dir.path().join("incident")).expect("mkdir");
    let o = Command::new("python3")
        .args([
            "-c",
            "import duckdb, sys\nc = duckdb.connect()\nfor q in sys.stdin.read().split(';'):\n    q = '\\n'.join(l for l in q.splitlines() if not l.strip().startswith('--'))\n    if q.strip():\n        print(c.execute(q).fetchall())",
        ])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(recipe.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ops.alerts@corp.example"), "{out}");
    let csv = std::fs::read_to_string(dir.path().join("incident.csv")).expect("incident.csv");
    assert!(
        csv.lines().count() > 100,
        "the recipe's CSV: {} lines",
        csv.lines().count()
    );
    // `mailforensics report incident`: what DuckDB wrote is a bundle, and the loop is in it.
    let o = common::bin()
        .arg("report")
        .arg(dir.path().join("incident"))
        .args(["-o", "/dev/null", "--json", "-"])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).expect("findings");
    let count = Command::new("python3")
        .args(["-c", "import duckdb, sys\nprint(duckdb.connect().execute(\"select count(*) from read_parquet('incident/events/**/*.parquet')\").fetchall()[0][0])"])
        .current_dir(dir.path())
        .output()
        .expect("python3 runs");
    let count: u64 = String::from_utf8_lossy(&count.stdout)
        .trim()
        .parse()
        .expect("a count");
    assert!(
        count > 1000 && count < frames.events.height() as u64,
        "{count}"
    );
    assert_eq!(f["bundle"]["events"].as_u64(), Some(count));
    assert_eq!(
        f["loops"].as_array().map(Vec::len),
        Some(1),
        "{}",
        f["loops"]
    );
}
