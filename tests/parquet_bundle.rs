//! Parquet exports as the BUNDLE of `report`, `inspect` and `trace`: the same findings as the
//! zip they were exported from, alone or as per-server exports side by side; what an engine
//! writes (other file names, no inventory) is read; a broken or foreign Parquet file, a column
//! of the wrong type, a missing provenance column and a folder mixing logs and exports each stop
//! the run with exit 2 and a message that names the file.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_io::parquet::read::ParquetReader;
use polars_io::parquet::write::ParquetWriter;
use polars_io::SerReader;
use serde_json::Value;

fn sample() -> PathBuf {
    common::repo("samples/incident.zip")
}

fn export(bundle: &Path, out: &Path) {
    common::stdout_of(common::bin().arg("export").arg(bundle).arg("-o").arg(out));
}

fn findings(bundle: &Path) -> Value {
    let out = common::stdout_of(common::bin().arg("report").arg(bundle).args([
        "-o",
        "/dev/null",
        "--json",
        "-",
    ]));
    serde_json::from_slice(&out).expect("findings JSON")
}

/// The findings with what legitimately differs between a zip and its export made equal: the
/// bundle's name, and the letter case of addresses in evidence (the canonical frames keep
/// addresses lower-cased, as Exchange compares them; a log line keeps them as written).
fn comparable(mut f: Value) -> Value {
    f["bundle"]["bundle"] = Value::Null;
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if k == "sender" || k == "recipients" {
                        if let Value::String(s) = x {
                            *s = s.to_lowercase();
                        }
                    }
                    walk(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut f);
    f
}

fn first_parquet(dir: &Path) -> PathBuf {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.expect("walk").into_path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .expect("a Parquet file")
}

fn fails_with(bundle: &Path, want: &[&str]) {
    for cmd in ["report", "inspect", "trace"] {
        let mut c = common::bin();
        c.arg(cmd).arg(bundle);
        if cmd == "report" {
            c.args(["-o", "/dev/null"]);
        }
        if cmd == "trace" {
            c.args(["--sender", "x@y"]);
        }
        let o = c.output().expect("runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        for w in want {
            assert!(err.contains(w), "{cmd}: {err:?} lacks {w:?}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn an_export_gives_the_findings_of_its_zip() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("export");
    export(&sample(), &out);
    let zip = findings(&sample());
    let parquet = findings(&out);
    // The zip's digest (taken beside the entries while they are read) is that of its bytes.
    let bytes = std::fs::read(sample()).expect("sample");
    let digest = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(zip["bundle"]["sha256"], digest.as_str());
    assert_eq!(parquet["bundle"]["sha256"], zip["bundle"]["sha256"]);
    assert_eq!(parquet["bundle"]["events"], zip["bundle"]["events"]);
    assert!(
        !zip["loops"].as_array().expect("loops").is_empty(),
        "the sample has a loop to compare"
    );
    assert_eq!(comparable(parquet), comparable(zip));

    // inspect: the same inventory.
    let inv = |b: &Path| -> Value {
        let out = common::stdout_of(common::bin().arg("inspect").arg(b).arg("--json"));
        let mut v: Value = serde_json::from_slice(&out).expect("json");
        v["bundle"] = Value::Null;
        v
    };
    assert_eq!(inv(&out), inv(&sample()));

    // trace: the same hops.
    let trace = |b: &Path| {
        common::stdout_of(common::bin().arg("trace").arg(b).args([
            "--recipient",
            "ops.alerts@corp.example",
            "--limit",
            "3",
            "--json",
        ]))
    };
    let t = trace(&out);
    assert!(t.len() > 100, "{}", String::from_utf8_lossy(&t));
    assert_eq!(t, trace(&sample()));
}

#[test]
fn exports_side_by_side_give_the_findings_of_one_zip() {
    let dir = tempfile::tempdir().expect("tmp");
    let zips = common::per_server_zips(&sample(), dir.path());
    assert_eq!(zips.len(), 2, "the sample has two servers");
    let month = dir.path().join("month");
    std::fs::create_dir(&month).expect("mkdir");
    // Folders that list EX02's export first: entries are still numbered in path order, as in
    // the zip, so no figure depends on which export is read first.
    for z in &zips {
        let server = z.file_stem().expect("stem").to_string_lossy();
        let folder = match server.as_ref() {
            "EX01" => "2-EX01",
            "EX02" => "1-EX02",
            other => panic!("server {other}"),
        };
        export(z, &month.join(folder));
    }
    let zip = comparable(findings(&sample()));
    let mut both = comparable(findings(&month));
    // Two exports have no one digest of their own.
    assert_ne!(both["bundle"]["sha256"], zip["bundle"]["sha256"]);
    both["bundle"]["sha256"] = zip["bundle"]["sha256"].clone();
    assert_eq!(both, zip);
}

/// What an engine writes after narrowing an export down: its own file names, the partition
/// columns in the path only, no inventory.json. Simulated with Polars (DuckDB does the same in
/// `tests/export.rs` when it is installed): the rows of one hour, re-written as `data_0.parquet`.
#[test]
fn an_engines_narrowed_copy_is_read_without_an_inventory() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("export");
    export(&sample(), &out);
    let narrowed = dir.path().join("incident");
    let mut kept = 0;
    for t in ["events", "protocol"] {
        for (i, e) in walkdir::WalkDir::new(out.join(t))
            .sort_by_file_name()
            .into_iter()
            .enumerate()
        {
            let p = e.expect("walk").into_path();
            if p.extension().is_none_or(|x| x != "parquet") {
                continue;
            }
            let df = ParquetReader::new(File::open(&p).expect("open"))
                .finish()
                .expect("read");
            let time = df.column("time").expect("time").datetime().expect("dt");
            let start = 1_794_816_000_000i64; // 2026-11-16T08:00:00Z
            let mask: BooleanChunked = time
                .physical()
                .iter()
                .map(|t| t.map(|t| t < start + 3_600_000))
                .collect();
            let mut part = df.filter(&mask).expect("filter");
            if t == "events" {
                kept += part.height();
            }
            let rel = p.parent().expect("dir").strip_prefix(&out).expect("below");
            let to = narrowed.join(rel);
            std::fs::create_dir_all(&to).expect("mkdir");
            ParquetWriter::new(File::create(to.join(format!("data_{i}.parquet"))).expect("create"))
                .finish(&mut part)
                .expect("write");
        }
    }
    assert!(
        kept > 100 && kept < 20_040,
        "kept {kept} of the sample's events"
    );
    let f = findings(&narrowed);
    assert_eq!(f["bundle"]["events"].as_u64(), Some(kept as u64));
    let warnings = f["bundle"]["warnings"].to_string();
    assert!(warnings.contains("without inventory.json"), "{warnings}");
    let files = f["bundle"]["files"].as_array().expect("files");
    assert!(
        files.iter().all(|x| x["sha256"] == ""),
        "unknown, not made up"
    );
    assert!(files.iter().any(|x| x["kind"] == "smtp_receive"));
    // Entries only the rows name are listed in path order.
    let paths: Vec<&str> = files
        .iter()
        .map(|x| x["path"].as_str().expect("path"))
        .collect();
    assert!(paths.len() > 2, "{paths:?}");
    assert!(paths.windows(2).all(|w| w[0] < w[1]), "{paths:?}");
}

#[test]
fn a_truncated_parquet_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("export");
    export(&sample(), &out);
    let victim = first_parquet(&out.join("events"));
    let bytes = std::fs::read(&victim).expect("read");
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).expect("truncate");
    let name = victim
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    fails_with(&out, &["cannot read the Parquet file", &name]);
    // Not Parquet at all.
    std::fs::write(&victim, b"EX01,hello\n").expect("write");
    fails_with(&out, &["cannot read the Parquet file"]);
}

/// The sample exported into `dir/name`, its first events file re-written with `change` applied.
fn broken_export(dir: &Path, name: &str, change: impl Fn(DataFrame) -> DataFrame) -> PathBuf {
    let out = dir.join(name);
    export(&sample(), &out);
    let victim = first_parquet(&out.join("events"));
    let df = ParquetReader::new(File::open(&victim).expect("open"))
        .finish()
        .expect("read");
    let mut df = change(df);
    ParquetWriter::new(File::create(&victim).expect("create"))
        .finish(&mut df)
        .expect("write");
    out
}

#[test]
fn a_column_of_the_wrong_type_or_without_provenance_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = broken_export(dir.path(), "export", |mut df| {
        let line = df
            .column("line")
            .expect("line")
            .cast(&DataType::String)
            .expect("cast");
        df.with_column(line).expect("replace");
        df
    });
    fails_with(&out, &["column `line` is str, expected u32"]);

    let out2 = broken_export(dir.path(), "export2", |df| df.drop("entry").expect("drop"));
    fails_with(&out2, &["column `entry` is missing"]);

    let out3 = broken_export(dir.path(), "export3", |mut df| {
        let r = df
            .column("recipients")
            .expect("r")
            .cast(&DataType::List(Box::new(DataType::UInt32)))
            .unwrap_or_else(|_| {
                Column::full_null(
                    "recipients".into(),
                    df.height(),
                    &DataType::List(Box::new(DataType::UInt32)),
                )
            });
        df.with_column(r).expect("replace");
        df
    });
    fails_with(&out3, &["column `recipients`", "expected list[str]"]);

    // Without an inventory, the rows' `log_kind` says what each entry is: it must be a kind.
    let out4 = broken_export(dir.path(), "export4", |mut df| {
        let bogus = Column::new("log_kind".into(), vec!["bogus"; df.height()]);
        df.with_column(bogus).expect("replace");
        df
    });
    std::fs::remove_file(out4.join("inventory.json")).expect("rm");
    fails_with(&out4, &["log_kind", "\"bogus\"", "not a kind of log"]);
}

#[test]
fn a_folder_mixing_logs_and_exports_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    export(&sample(), &dir.path().join("EX-all"));
    std::fs::write(dir.path().join("MSGTRK2026111608-1.LOG"), "#Fields: x\n").expect("write");
    fails_with(
        dir.path(),
        &["MSGTRK2026111608-1.LOG", "not part of a Parquet export"],
    );
    // A stray file inside a dataset is named too; engines' bookkeeping files are not.
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("export");
    export(&sample(), &out);
    std::fs::write(out.join("events").join("_SUCCESS"), "").expect("write");
    common::stdout_of(common::bin().arg("inspect").arg(&out));
    std::fs::write(out.join("events").join("notes.txt"), "x").expect("write");
    fails_with(&out, &["notes.txt", "not a .parquet file"]);
}

/// Two exports naming the same files (per-server bundles zipped without their server folder):
/// each file is listed once per export, under its export's folder, so evidence says which one a
/// row came from. (The same bundle exported twice is read once: `tests/packing.rs`.)
#[test]
fn exports_naming_the_same_files_are_told_apart_by_their_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let zips = common::per_server_zips(&sample(), dir.path());
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).expect("mkdir");
    for (z, name) in zips.iter().zip(["A", "B"]) {
        // The server's zip as if made inside its folder: `TransportRoles/...`.
        let mut src = ::zip::ZipArchive::new(File::open(z).expect("open")).expect("zip");
        let flat = dir.path().join(format!("{name}.zip"));
        let mut w = ::zip::ZipWriter::new(File::create(&flat).expect("create"));
        for i in 0..src.len() {
            let mut e = src.by_index(i).expect("entry");
            let inner = e
                .name()
                .expect("name")
                .split_once('/')
                .expect("folder")
                .1
                .to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).expect("read");
            w.start_file(inner, ::zip::write::SimpleFileOptions::default())
                .expect("start");
            std::io::Write::write_all(&mut w, &data).expect("write");
        }
        w.finish().expect("finish");
        export(&flat, &exports.join(name));
    }
    let one = findings(&sample());
    let two = findings(&exports);
    assert_eq!(two["bundle"]["events"], one["bundle"]["events"]);
    let paths: Vec<&str> = two["bundle"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    let n = one["bundle"]["files"].as_array().expect("files").len();
    assert_eq!(paths.len(), n);
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with("A/TransportRoles/") || p.starts_with("B/TransportRoles/")),
        "{paths:?}"
    );
    for p in paths.iter().filter_map(|p| p.strip_prefix("A/")) {
        assert!(
            paths.contains(&format!("B/{p}").as_str()),
            "{p} in one export only"
        );
    }
    let evidence = two["loops"][0]["evidence"].as_array().expect("evidence");
    assert!(evidence.iter().all(|e| e["path"]
        .as_str()
        .is_some_and(|p| p.starts_with("A/") || p.starts_with("B/"))));
}

/// The rows of each partition folder of `dir`'s `events/` and `protocol/` datasets (its files
/// stacked in path order), re-written by `change` into the files it returns (names in the same
/// folder) in row groups of `group` rows; the original files are removed.
fn rewrite(dir: &Path, group: usize, change: impl Fn(DataFrame) -> Vec<(String, DataFrame)>) {
    for t in ["events", "protocol"] {
        let mut folders: std::collections::BTreeMap<PathBuf, Vec<PathBuf>> = Default::default();
        for e in walkdir::WalkDir::new(dir.join(t)).sort_by_file_name() {
            let p = e.expect("walk").into_path();
            if p.extension().is_some_and(|x| x == "parquet") {
                let folder = p.parent().expect("dir").to_path_buf();
                folders.entry(folder).or_default().push(p);
            }
        }
        for (folder, files) in folders {
            let mut all: Option<DataFrame> = None;
            for p in &files {
                let df = ParquetReader::new(File::open(p).expect("open"))
                    .finish()
                    .expect("read");
                match &mut all {
                    Some(a) => {
                        a.vstack_mut_owned(df).expect("stack");
                    }
                    None => all = Some(df),
                }
                std::fs::remove_file(p).expect("rm");
            }
            let Some(mut all) = all else { continue };
            all.rechunk_mut();
            for (name, mut part) in change(all) {
                ParquetWriter::new(File::create(folder.join(name)).expect("create"))
                    .with_row_group_size(Some(group))
                    .finish(&mut part)
                    .expect("write");
            }
        }
    }
}

/// An engine may hand rows back in another order and spread one log's rows over several files
/// (a shuffle, a repartition), in row groups of its own size: the rows are put back in the
/// logs' order and each log is fed from every file it is in, so the findings are the zip's.
#[test]
fn rows_reordered_and_spread_over_files_give_the_findings_of_the_zip() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("export");
    export(&sample(), &out);
    let mut spread = 0;
    rewrite(&out, 500, |df| {
        // Rows in reverse, dealt round-robin into three files.
        let n = df.height() as u32;
        (0..3u32)
            .map(|k| {
                let rows: Vec<u32> = (0..n).rev().filter(|i| i % 3 == k).collect();
                let idx = IdxCa::from_vec("idx".into(), rows);
                (format!("part-{k}.parquet"), df.take(&idx).expect("take"))
            })
            .collect()
    });
    for t in ["events", "protocol"] {
        spread += walkdir::WalkDir::new(out.join(t))
            .into_iter()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "parquet"))
            })
            .count();
    }
    assert!(spread >= 6, "{spread} files");
    assert_eq!(comparable(findings(&out)), comparable(findings(&sample())));
    let inv = |b: &Path| -> Value {
        let mut v = common::inspect_json(b);
        v["bundle"] = Value::Null;
        v
    };
    assert_eq!(inv(&out), inv(&sample()));
}

/// A bundle big enough for its files to be read in several units, with logs whose rows cross
/// from one unit into the next: the findings are the zip's. (`export` writes a file per log
/// and partition, read as groups of small units; this is the other shape.)
#[test]
fn an_export_read_in_several_units_gives_the_findings_of_its_zip() {
    let dir = tempfile::tempdir().expect("tmp");
    let zip = dir.path().join("big.zip");
    common::stdout_of(
        common::bin()
            .args(["simulate", "--scenario", "incident"])
            .args(["--events", "300000", "--no-protocol-logs", "-o"])
            .arg(&zip),
    );
    let out = dir.path().join("export");
    export(&zip, &out);
    // Compacted by an engine into one file per partition, in row groups of its own size: each
    // server's file then holds more rows than one unit (131,072).
    rewrite(&out, 50_000, |df| vec![("data_0.parquet".to_string(), df)]);
    let biggest = walkdir::WalkDir::new(out.join("events"))
        .into_iter()
        .map(|e| e.expect("walk").into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| {
            ParquetReader::new(File::open(&p).expect("open"))
                .num_rows()
                .expect("rows")
        })
        .max()
        .unwrap_or(0);
    assert!(biggest > 131_072, "{biggest} rows");
    assert_eq!(comparable(findings(&out)), comparable(findings(&zip)));
}
