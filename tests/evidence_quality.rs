//! Evidence quality on doctored copies of the sample bundle: an hour of one server's logs
//! removed (as rotation deletes them) must show as a coverage gap and a caveat on the loop; one
//! server's clock set back must show as clock skew of that size. And evidence read back from a
//! zip whose bytes were let go after reading: the line as written while the file is unchanged,
//! only what the model knows once it changed.

use std::io::{Read, Write};
use std::path::Path;

mod common;
use common::findings;

/// Copies the sample, dropping entries `keep` rejects and rewriting text with `edit`.
fn doctored(out: &Path, keep: impl Fn(&str) -> bool, edit: impl Fn(&str, String) -> String) {
    let sample = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("samples/incident.zip");
    let mut zin = zip::ZipArchive::new(std::fs::File::open(sample).expect("sample")).expect("zip");
    let mut zout = zip::ZipWriter::new(std::fs::File::create(out).expect("create"));
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).expect("entry");
        let name = f.name().expect("entry name").to_string();
        if !keep(&name) {
            continue;
        }
        let mut text = String::new();
        f.read_to_string(&mut text).expect("utf-8 entry");
        zout.start_file(&name, zip::write::SimpleFileOptions::default())
            .expect("start");
        zout.write_all(edit(&name, text).as_bytes()).expect("write");
    }
    zout.finish().expect("finish");
}

#[test]
fn a_missing_hour_is_a_gap_and_a_caveat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("gap.zip");
    doctored(
        &bundle,
        |n| !(n.starts_with("EX01/") && n.contains("2026111612")),
        |_, t| t,
    );
    let f = findings(&bundle);
    let ex01 = f["coverage"]
        .as_array()
        .expect("coverage")
        .iter()
        .find(|c| c["server"] == "EX01")
        .expect("EX01")
        .clone();
    assert_eq!(
        ex01["gaps"],
        serde_json::json!([{"start": "2026-11-16T12:00:00.000Z", "end": "2026-11-16T13:00:00.000Z"}])
    );
    let ex02 = f["coverage"]
        .as_array()
        .expect("coverage")
        .iter()
        .find(|c| c["server"] == "EX02")
        .expect("EX02")
        .clone();
    assert_eq!(ex02["gaps"], serde_json::json!([]));
    let caveats = f["loops"][0]["caveats"].as_array().expect("caveats");
    assert!(
        caveats.iter().any(|c| c
            .as_str()
            .unwrap_or("")
            .starts_with("EX01 has no log from 2026-11-16 12:00 to 2026-11-16 13:00")),
        "{caveats:?}"
    );
    assert!(f["summary"].as_array().expect("summary").iter().any(|s| s
        .as_str()
        .unwrap_or("")
        .starts_with("Evidence is incomplete")));
}

#[test]
fn a_clock_set_back_is_clock_skew() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("skew.zip");
    let shift = chrono::Duration::seconds(40);
    doctored(
        &bundle,
        |_| true,
        |name, text| {
            if !name.starts_with("EX02/") || !name.contains("MessageTracking") {
                return text;
            }
            text.split_inclusive('\n')
                .map(|line| {
                    if line.starts_with('#') || line.starts_with('\u{feff}') || line.len() < 24 {
                        return line.to_string();
                    }
                    let t = chrono::DateTime::parse_from_rfc3339(&line[..24]).expect("row time");
                    format!(
                        "{}{}",
                        (t - shift).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                        &line[24..]
                    )
                })
                .collect()
        },
    );
    let f = findings(&bundle);
    let skew = f["clock_skew"].as_array().expect("skew");
    let s = skew
        .iter()
        .find(|s| s["from"] == "EX01" && s["to"] == "EX02")
        .expect("EX01 -> EX02 skew");
    let median = s["median_ms"].as_i64().expect("median");
    assert!((median - 40_000).abs() < 2_000, "{s}");
    assert!(
        s["inverted"].as_u64().unwrap_or(0) * 2 > s["messages"].as_u64().unwrap_or(0),
        "{s}"
    );
    assert!(f["summary"].as_array().expect("summary").iter().any(|x| x
        .as_str()
        .unwrap_or("")
        .starts_with("Clocks disagree: EX02")));
    // The undoctored sample has none.
    let clean = findings(
        &Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("samples/incident.zip"),
    );
    assert_eq!(clean["clock_skew"], serde_json::json!([]));
}

#[test]
fn evidence_is_read_back_from_the_file_and_only_while_it_is_unchanged() {
    use mailforensics::analyze::evidence::{EvidenceSource, FromBundle, FromModel};
    use mailforensics::analyze::model::{build::ModelCollector, Model};
    use mailforensics::ingest::{read, Options, Quiet};

    let dir = tempfile::tempdir().expect("tmp");
    let zip = dir.path().join("b.zip");
    doctored(&zip, |_| true, |_, t| t);
    let out = read(&zip, &Options::default(), &ModelCollector, &Quiet).expect("reads");
    let model = Model::from_chunks(out.chunks, out.entries);
    // A row whose status the log words beyond the codes the model keeps.
    let rows: Vec<usize> = (0..model.time.len())
        .filter(|&r| FromModel.evidence(&model, r, "").status.starts_with("5."))
        .take(3)
        .collect();
    assert!(!rows.is_empty(), "the sample has failures");
    let fresh = FromBundle::new(&out.input);
    for &r in &rows {
        let e = fresh.evidence(&model, r, "");
        assert!(
            e.status.len() > 12 && e.status.contains(' '),
            "read back from the released zip: {:?}",
            e.status
        );
    }
    // The same names, other bytes, in a new file put in its place: the bundle is still read
    // through the handle it was opened with, so what comes back is what was analysed.
    let changed = dir.path().join("changed.zip");
    doctored(&changed, |_| true, |_, t| t + "\r\n");
    let changed_bytes = std::fs::read(&changed).expect("read");
    std::fs::rename(&changed, &zip).expect("replace");
    let replaced = FromBundle::new(&out.input);
    for &r in &rows {
        assert_eq!(
            replaced.evidence(&model, r, ""),
            fresh.evidence(&model, r, "")
        );
    }
    // The analysed file itself rewritten: nothing read back may pass for the rows analysed.
    let original = dir.path().join("original.zip");
    doctored(&original, |_| true, |_, t| t);
    let out = read(&original, &Options::default(), &ModelCollector, &Quiet).expect("reads");
    let mut model = Model::from_chunks(out.chunks, out.entries);
    // The check that refuses them is the entries' digest: with recorded digests that the bytes
    // do not have, even the unchanged file gives nothing back.
    let kept: Vec<String> = model.entries.iter().map(|e| e.sha256.clone()).collect();
    for e in &mut model.entries {
        e.sha256 = "0".repeat(64);
    }
    let forged = FromBundle::new(&out.input);
    for &r in &rows {
        assert_eq!(
            forged.evidence(&model, r, ""),
            FromModel.evidence(&model, r, "")
        );
    }
    for (e, sha) in model.entries.iter_mut().zip(kept) {
        e.sha256 = sha;
    }
    std::fs::write(&original, &changed_bytes).expect("rewrite in place");
    let stale = FromBundle::new(&out.input);
    for &r in &rows {
        assert_eq!(
            stale.evidence(&model, r, ""),
            FromModel.evidence(&model, r, "")
        );
    }
}
