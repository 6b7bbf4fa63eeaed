//! How the logs were packed is an accident of the admin's day, so findings must not depend on
//! it. The order a bundle lists its logs in comes from the tool that zipped them (Explorer,
//! 7-Zip, `Compress-Archive`, a script walking the folders): the same logs zipped in any order,
//! nested in a zip, or left in a folder give the same findings, and where a figure takes one of
//! several rows it is chosen by time, not by whose file happens to come first.
//! And logs are often collected twice (a copy in another folder, a server's zip added again, the
//! same export side by side): a copy is read once, and said so. And one server's `Logs` folder
//! is often zipped as it is, without a folder named after the server, or the folders are named
//! as a script or a hand spelt them (`ex01`, `ex01.corp.example`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;

fn sample() -> PathBuf {
    common::repo("samples/incident.zip")
}

/// The members of a zip, in its own order.
fn members(zip: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = ::zip::ZipArchive::new(std::fs::File::open(zip).expect("open")).expect("zip");
    (0..z.len())
        .filter_map(|i| {
            let mut e = z.by_index(i).expect("entry");
            if e.is_dir() {
                return None;
            }
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("read");
            Some((e.name().expect("name").to_string(), data))
        })
        .collect()
}

fn write_zip(path: &Path, members: &[(String, Vec<u8>)]) {
    let mut w = ::zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    for (name, data) in members {
        w.start_file(name, ::zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish");
}

fn write_folder(dir: &Path, members: &[(String, Vec<u8>)]) {
    for (name, data) in members {
        let to = dir.join(name);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::write(to, data).expect("write");
    }
}

/// The findings without what names the container itself (its path and the zip's digest).
fn findings(bundle: &Path) -> Value {
    let mut f = common::findings(bundle);
    f["bundle"]["bundle"] = Value::Null;
    f["bundle"]["sha256"] = Value::Null;
    f
}

#[test]
fn the_same_logs_in_any_order_give_the_same_findings() {
    let dir = tempfile::tempdir().expect("tmp");
    let original = members(&sample());
    assert!(original.len() > 20, "{} members", original.len());
    let mut reversed = original.clone();
    reversed.reverse();
    // By name, as most zip tools add a folder's files: MSGTRK…-10.LOG before MSGTRK…-2.LOG.
    let mut by_name = original.clone();
    by_name.sort_by(|a, b| a.0.cmp(&b.0));
    // Dealt out: every third member, then the rest.
    let dealt: Vec<_> = (0..3)
        .flat_map(|k| original.iter().skip(k).step_by(3).cloned())
        .collect();
    let want = findings(&sample());
    for (name, order) in [
        ("reversed", &reversed),
        ("by-name", &by_name),
        ("dealt", &dealt),
    ] {
        assert_ne!(
            order.iter().map(|m| &m.0).collect::<Vec<_>>(),
            original.iter().map(|m| &m.0).collect::<Vec<_>>(),
            "{name} is another order"
        );
        let zip = dir.path().join(format!("{name}.zip"));
        write_zip(&zip, order);
        assert!(
            findings(&zip) == want,
            "the {name} zip gives other findings"
        );
    }
    // The same inside a zip inside the bundle (an admin zipping each server's zip).
    let nested = |order: &[(String, Vec<u8>)], name: &str| {
        let inner = dir.path().join(format!("{name}-inner.zip"));
        write_zip(&inner, order);
        let outer = dir.path().join(format!("{name}-outer.zip"));
        write_zip(
            &outer,
            &[(
                "logs.zip".to_string(),
                std::fs::read(&inner).expect("inner"),
            )],
        );
        let mut f = findings(&outer);
        // The inner zip is a file of its own, with its own digest.
        for file in f["bundle"]["files"].as_array_mut().expect("files") {
            if file["path"] == "logs.zip" {
                file["sha256"] = Value::Null;
            }
        }
        f
    };
    assert!(
        nested(&original, "original") == nested(&dealt, "dealt"),
        "a nested zip gives findings that depend on its order"
    );
    let folder = dir.path().join("folder");
    write_folder(&folder, &dealt);
    assert!(findings(&folder) == want, "the folder gives other findings");
}

/// The sample as admins often pack it: each server's folder zipped, and the servers' zips
/// zipped together (stored, as Info-ZIP stores a `.zip`, or deflated, as Explorer and
/// `Compress-Archive` do). Its findings are the sample's, evidence included: each quoted row
/// is read back from inside its server's zip.
#[test]
fn a_bundle_of_one_zip_per_server_gives_the_samples_findings() {
    let dir = tempfile::tempdir().expect("tmp");
    let all = members(&sample());
    let want = findings(&sample());
    let mut zips = Vec::new();
    for server in ["EX01", "EX02"] {
        let mine: Vec<_> = all
            .iter()
            .filter(|m| m.0.starts_with(&format!("{server}/")))
            .cloned()
            .collect();
        assert!(mine.len() > 10, "{server}: {} logs", mine.len());
        let inner = dir.path().join(format!("{server}.zip"));
        write_zip(&inner, &mine);
        zips.push((
            format!("{server}.zip"),
            std::fs::read(&inner).expect("inner"),
        ));
    }
    assert!(
        all.iter()
            .all(|m| m.0.starts_with("EX01/") || m.0.starts_with("EX02/")),
        "the sample holds the two servers' folders only"
    );
    for stored in [true, false] {
        let outer = dir.path().join(format!("servers-{stored}.zip"));
        let mut w = ::zip::ZipWriter::new(std::fs::File::create(&outer).expect("create"));
        let method = if stored {
            ::zip::CompressionMethod::Stored
        } else {
            ::zip::CompressionMethod::Deflated
        };
        for (name, data) in &zips {
            let opts = ::zip::write::SimpleFileOptions::default().compression_method(method);
            w.start_file(name, opts).expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish");
        let got = findings(&outer);
        assert!(
            analysis(without_paths(got.clone())) == analysis(without_paths(want.clone())),
            "one zip per server (stored: {stored}) gives other findings"
        );
        // The logs are listed as in the sample, in path order, each inside its server's zip.
        let listed = |f: &Value| -> Vec<String> {
            f["bundle"]["files"]
                .as_array()
                .expect("files")
                .iter()
                .filter_map(|e| e["path"].as_str())
                .filter(|p| !p.ends_with(".zip"))
                .map(|p| p.split_once("!/").map_or(p, |(_, log)| log).to_string())
                .collect()
        };
        assert_eq!(listed(&got), listed(&want));
        // The evidence names its log inside its server's zip.
        let paths: Vec<&str> = got["loops"][0]["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .filter_map(|e| e["path"].as_str())
            .collect();
        assert!(!paths.is_empty());
        for p in paths {
            assert!(
                p.starts_with("EX01.zip!/EX01/") || p.starts_with("EX02.zip!/EX02/"),
                "{p}"
            );
        }
    }
}

const FIELDS: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";

/// A tracking log of EX01 with one DELIVER row per `(time, recipient, TOTAL-HUB seconds)`, all
/// of one message submitted at 08:00:00.
fn deliveries(rows: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut text = format!("#Software: Microsoft Exchange Server\r\n#Version: 15.01.2507.039\r\n#Log-type: Message Tracking Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n#Fields: {FIELDS}\r\n");
    for (time, rcpt, hub) in rows {
        text.push_str(&format!(
            "2026-11-16T{time}Z,10.0.1.11,EX01.corp.example,10.0.1.11,EX01,,,STOREDRIVER,DELIVER,7,<one@corp.example>,0f0e0d0c-0000-4000-8000-000000000001,{rcpt},250 2.1.5 Recipient OK,1000,1,,,hello,ana@corp.example,ana@corp.example,2026-11-16T08:00:00.000Z;SRV=EX01.corp.example:TOTAL-HUB={hub},Originating,,,,,Email,,15.01.2507.039\r\n"
        ));
    }
    text.into_bytes()
}

#[test]
fn a_message_delivered_in_two_rows_counts_its_last_latency() {
    let dir = tempfile::tempdir().expect("tmp");
    // The later delivery (a retry, 40 minutes on) sits in the file whose name comes last, so
    // neither the first row of the bundle nor the earliest row is the one that counts.
    let logs = vec![
        (
            "EX01/z.LOG".to_string(),
            deliveries(&[("08:40:00.000", "bo@corp.example", "2400.000")]),
        ),
        (
            "EX01/a.LOG".to_string(),
            deliveries(&[("08:00:02.500", "cy@corp.example", "2.500")]),
        ),
    ];
    let zip = dir.path().join("bundle.zip");
    write_zip(&zip, &logs);
    let f = common::findings(&zip);
    let hub: Vec<&Value> = f["latency"]["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter(|c| c["component"] == "TOTAL-HUB" && c["server"] == "EX01")
        .collect();
    assert_eq!(hub.len(), 1, "{hub:?}");
    assert_eq!(hub[0]["messages"], 1, "counted once per message and server");
    assert_eq!(
        hub[0]["max_ms"], 2_400_000,
        "the latency of the row that finished with the message"
    );
}

#[test]
fn logs_are_listed_in_the_order_they_were_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let name = |n: u32| format!("EX01/MessageTracking/MSGTRK2026111608-{n}.LOG");
    // Zipped by name: -1, -10, -2 (and a server folder that sorts after EX01 first).
    let logs: Vec<(String, Vec<u8>)> = [
        "EX02/MessageTracking/MSGTRK2026111608-1.LOG".to_string(),
        name(1),
        name(10),
        name(2),
    ]
    .into_iter()
    .map(|n| {
        (
            n,
            deliveries(&[("08:00:01.000", "bo@corp.example", "1.000")]),
        )
    })
    .collect();
    let zip = dir.path().join("bundle.zip");
    write_zip(&zip, &logs);
    let inv = common::inspect_json(&zip);
    let paths: Vec<&str> = inv["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    assert_eq!(
        paths,
        [
            name(1).as_str(),
            name(2).as_str(),
            name(10).as_str(),
            "EX02/MessageTracking/MSGTRK2026111608-1.LOG"
        ]
    );
}

/// The sample with one tracking log and one protocol log added again under `copy/`, and the
/// first 60% of another tracking log under `early/` (collected while it was being written, cut
/// in the middle of a line).
fn with_copies(dir: &Path) -> (PathBuf, Vec<String>) {
    let mut logs = members(&sample());
    let copied: Vec<(String, Vec<u8>)> = logs
        .iter()
        .filter(|(n, _)| {
            n.starts_with("EX01/")
                && (n.ends_with("MessageTracking/MSGTRK2026111614-1.LOG")
                    || n.ends_with("FrontEnd/ProtocolLog/SmtpReceive/RECV2026111614-1.LOG"))
        })
        .map(|(n, d)| (format!("copy/{n}"), d.clone()))
        .collect();
    assert_eq!(copied.len(), 2, "a tracking log and a protocol log");
    let mut names: Vec<String> = copied.iter().map(|c| c.0.clone()).collect();
    let (name, data) = logs
        .iter()
        .find(|(n, _)| n == "EX02/TransportRoles/Logs/MessageTracking/MSGTRK2026111615-1.LOG")
        .expect("log")
        .clone();
    let cut = data.len() * 3 / 5;
    assert!(data[cut - 1] != b'\n', "cut inside a line");
    logs.push((format!("early/{name}"), data[..cut].to_vec()));
    names.push(format!("early/{name}"));
    logs.extend(copied);
    let zip = dir.join("twice.zip");
    write_zip(&zip, &logs);
    (zip, names)
}

/// Findings without the `bundle` part (which lists the copies).
fn analysis(mut f: Value) -> Value {
    f["bundle"] = Value::Null;
    f
}

/// `v` without the evidence's file paths (two exports side by side name their files `a/...` and
/// `b/...`).
fn without_paths(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.remove("path");
                o.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn a_log_collected_twice_is_read_once_and_said_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let (zip, copies) = with_copies(dir.path());
    let f = common::findings(&zip);
    assert!(analysis(f.clone()) == analysis(common::findings(&sample())));
    let want = common::inspect_json(&sample());
    assert_eq!(f["bundle"]["events"], want["events"]);
    assert_eq!(f["bundle"]["protocol_lines"], want["protocol_lines"]);
    let files = f["bundle"]["files"].as_array().expect("files");
    let entry =
        |path: &str| -> &Value { files.iter().find(|x| x["path"] == path).expect("listed") };
    for copy in &copies {
        let of = copy.split_once('/').expect("folder").1;
        // The early copy is set aside for the whole one; of two equal ones, the one deeper in
        // folders (`copy/EX01/...`, though it comes first in path order).
        let (e, original) = (entry(copy), entry(of));
        assert_eq!(e["copy_of"], of, "{e}");
        assert_eq!(e["kind"], "skipped");
        assert_eq!(e["rows"], 0);
        assert!(original["rows"].as_u64() > Some(0) && original.get("copy_of").is_none());
        let why = e["skipped"].as_str().expect("why");
        if copy.starts_with("early/") {
            assert_ne!(e["sha256"], original["sha256"]);
            assert!(
                why.contains("its bytes are the start of that file"),
                "{why}"
            );
        } else {
            assert_eq!(e["sha256"], original["sha256"]);
            assert!(why.contains("the same SHA-256"), "{why}");
        }
    }
    // The line cut short is not a malformed line of the bundle: the copy is not read.
    assert_eq!(f["bundle"]["malformed_total"], want["malformed_total"]);
    let warnings = f["bundle"]["warnings"].to_string();
    assert!(
        warnings.contains("3 files are copies of others and were not read again"),
        "{warnings}"
    );
    // `inspect` says the same.
    let inv = common::inspect_json(&zip);
    assert_eq!(inv["events"], want["events"]);
    assert_eq!(inv["warnings"], f["bundle"]["warnings"]);
}

fn export(bundle: &Path, out: &Path) {
    let st = common::bin()
        .args(["export", "-q"])
        .arg(bundle)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

#[test]
fn an_export_holds_a_copied_log_once_and_two_exports_of_the_same_logs_count_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let (zip, _) = with_copies(dir.path());
    let parquet_files = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = walkdir::WalkDir::new(dir)
            .into_iter()
            .map(|e| e.expect("walk"))
            .filter(|e| e.path().extension().is_some_and(|x| x == "parquet"))
            .map(|e| {
                let rel = e.path().strip_prefix(dir).expect("below");
                rel.to_string_lossy().into_owned()
            })
            .collect();
        v.sort();
        v
    };
    let (twice, once) = (dir.path().join("twice"), dir.path().join("once"));
    export(&zip, &twice);
    export(&sample(), &once);
    // The copies' rows are not in the export: the sample's own files, byte for byte.
    let files = parquet_files(&twice);
    assert_eq!(files, parquet_files(&once));
    for f in &files {
        let same = std::fs::read(twice.join(f)).expect("read")
            == std::fs::read(once.join(f)).expect("read");
        assert!(same, "{f}");
    }
    let zip_findings = analysis(common::findings(&zip));
    // Exports keep addresses lower-cased (as Exchange compares them).
    let lower = |v: Value| -> String { without_paths(v).to_string().to_lowercase() };
    let from_export = common::findings(&twice);
    assert_eq!(
        from_export["bundle"]["events"],
        common::findings(&once)["bundle"]["events"]
    );
    assert!(
        lower(analysis(from_export)) == lower(zip_findings.clone()),
        "the export of a bundle with copies gives other findings than the bundle"
    );
    // The same export twice, side by side: read once.
    let month = dir.path().join("month");
    std::fs::create_dir(&month).expect("mkdir");
    for side in ["a", "b"] {
        export(&sample(), &month.join(side));
    }
    let f = common::findings(&month);
    assert!(
        lower(analysis(f.clone())) == lower(zip_findings),
        "the same export twice gives other findings than once"
    );
    assert!(f["bundle"]["warnings"]
        .to_string()
        .contains("files are copies of others"));
}

#[test]
fn files_that_are_only_a_header_are_not_taken_for_copies() {
    let dir = tempfile::tempdir().expect("tmp");
    // Two servers started a log in the same second and wrote nothing more: alike to the byte.
    let header = deliveries(&[]);
    let mut logs = members(&sample());
    for server in ["EX01", "EX02"] {
        logs.push((
            format!("{server}/TransportRoles/Logs/MessageTracking/MSGTRK2026111620-1.LOG"),
            header.clone(),
        ));
    }
    let zip = dir.path().join("headers.zip");
    write_zip(&zip, &logs);
    let f = common::findings(&zip);
    let files = f["bundle"]["files"].as_array().expect("files");
    let empty: Vec<&Value> = files
        .iter()
        .filter(|x| {
            x["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("MSGTRK2026111620-1.LOG"))
        })
        .collect();
    assert_eq!(empty.len(), 2);
    assert!(empty
        .iter()
        .all(|x| x.get("copy_of").is_none() && x["kind"] == "message_tracking"));
    assert_eq!(empty[0]["sha256"], empty[1]["sha256"]);
    assert!(!f["bundle"]["warnings"].to_string().contains("cop"));
}

/// A `Get-MessageTrackingLog | Export-Csv` of `server`, one DELIVER row at 10:00 UTC.
fn powershell_export(server: &str) -> Vec<u8> {
    format!(
        "#TYPE Microsoft.Exchange.Management.TransportLogSearchTasks.MessageTrackingEvent\r\n\
\"PSComputerName\",\"Timestamp\",\"Source\",\"EventId\",\"MessageId\",\"Recipients\",\"RecipientStatus\",\"TotalBytes\",\"RecipientCount\",\"MessageSubject\",\"Sender\"\r\n\
\"{server}\",\"11/16/2026 10:00:00 AM\",\"STOREDRIVER\",\"DELIVER\",\"<ps1@corp.example>\",\"bo@corp.example\",\"250 2.1.5 OK\",\"5000\",\"1\",\"hello\",\"ana@corp.example\"\r\n"
    )
    .into_bytes()
}

#[test]
fn an_export_of_hours_the_logs_hold_too_is_warned_about() {
    let dir = tempfile::tempdir().expect("tmp");
    let warned = |server: &str| -> String {
        let mut logs = members(&sample());
        logs.push((
            "exports/tracking.csv".to_string(),
            powershell_export(server),
        ));
        let zip = dir.path().join(format!("{server}.zip"));
        write_zip(&zip, &logs);
        let f = common::findings(&zip);
        let kinds: Vec<&Value> = f["bundle"]["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|x| x["path"] == "exports/tracking.csv")
            .collect();
        assert_eq!(kinds[0]["kind"], "powershell_csv", "{kinds:?}");
        f["bundle"]["warnings"].to_string()
    };
    let both = warned("EX01");
    assert!(
        both.contains("exports/tracking.csv: a PowerShell export of events that the tracking logs of EX01 in the bundle cover too"),
        "{both}"
    );
    let other = warned("EX09");
    assert!(!other.contains("PowerShell export of events"), "{other}");
}

/// The sample's files of one server, with their `EX02/` folder or without it.
fn ex02(folder: bool) -> Vec<(String, Vec<u8>)> {
    members(&sample())
        .into_iter()
        .filter_map(|(n, d)| {
            let rest = n.strip_prefix("EX02/")?.to_string();
            Some((if folder { n } else { rest }, d))
        })
        .collect()
}

/// The servers of the SMTP Send logs listed, by path.
fn send_servers(f: &Value) -> Vec<(String, String)> {
    f["bundle"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|x| x["kind"] == "smtp_send")
        .map(|x| {
            let s = x["server"].as_str().unwrap_or("(none)");
            (x["path"].as_str().expect("path").to_string(), s.to_string())
        })
        .collect()
}

#[test]
fn one_servers_logs_zipped_without_a_server_folder_are_that_servers() {
    let dir = tempfile::tempdir().expect("tmp");
    let (flat, folder) = (dir.path().join("flat.zip"), dir.path().join("ex02.zip"));
    write_zip(&flat, &ex02(false));
    write_zip(&folder, &ex02(true));
    let f = common::findings(&flat);
    // Send lines name no server: before, the Send logs were the server "unknown"'s.
    assert_eq!(f["bundle"]["servers"], serde_json::json!(["EX02"]));
    let send = send_servers(&f);
    assert_eq!(send.len(), 12, "{send:?}");
    assert!(send.iter().all(|(_, s)| s == "EX02"), "{send:?}");
    let warnings = f["bundle"]["warnings"].to_string();
    assert!(
        warnings.contains(
            "12 SMTP Send logs (TransportRoles/Logs/Hub/ProtocolLog/SmtpSend/SEND2026111608-1.LOG and 11 more) have no server folder, and Send lines name no server: read as EX02's"
        ),
        "{warnings}"
    );
    assert_eq!(
        common::inspect_json(&flat)["warnings"],
        f["bundle"]["warnings"]
    );
    // What the analysis finds is what the same logs in their server's folder give.
    let want = common::findings(&folder);
    assert!(without_paths(analysis(f.clone())) == without_paths(analysis(want.clone())));
    assert!(send_servers(&want).iter().all(|(_, s)| s == "EX02"));
    assert!(!want["bundle"]["warnings"].to_string().contains("Send log"));
    // The export wrote the Send logs' rows as "unknown"'s on the first reading: they are
    // there once, under EX02, and no partition is left empty.
    let out = dir.path().join("export");
    export(&flat, &out);
    for e in walkdir::WalkDir::new(&out)
        .into_iter()
        .map(|e| e.expect("walk"))
    {
        let p = e.path().to_string_lossy().into_owned();
        assert!(!p.contains("server=unknown"), "{p}");
        if e.file_type().is_dir() {
            assert!(
                std::fs::read_dir(e.path()).expect("dir").next().is_some(),
                "{p} empty"
            );
        }
    }
    let g = common::findings(&out);
    assert_eq!(g["bundle"]["servers"], f["bundle"]["servers"]);
    assert_eq!(g["bundle"]["protocol_lines"], f["bundle"]["protocol_lines"]);
    assert_eq!(g["bundle"]["warnings"], f["bundle"]["warnings"]);
    assert_eq!(send_servers(&g), send);
    // Without the receive logs no line names a server for the Send logs' address: EX02 is the
    // only server named (an online trace beside it names the service, not a server).
    let trace = std::fs::read(common::repo(
        "tests/fixtures/formats/exports/messagetrace.csv",
    ))
    .expect("trace");
    let mut no_receive: Vec<_> = ex02(false)
        .into_iter()
        .filter(|(n, _)| !n.contains("/SmtpReceive/"))
        .collect();
    no_receive.push(("messagetrace.csv".to_string(), trace));
    let bare = dir.path().join("bare.zip");
    write_zip(&bare, &no_receive);
    let b = common::inspect_json(&bare);
    let send = send_servers(&serde_json::json!({ "bundle": b }));
    assert_eq!(send.len(), 12);
    assert!(send.iter().all(|(_, s)| s == "EX02"), "{send:?}");
}

/// `members` zipped: the servers of its SMTP Send logs outside the `EX01/` and `EX02/` folders,
/// and `inspect`'s warnings.
fn loose_send_logs(dir: &Path, name: &str, members: &[(String, Vec<u8>)]) -> (Vec<String>, String) {
    let zip = dir.join(name);
    write_zip(&zip, members);
    let f = common::inspect_json(&zip);
    let servers = send_servers(&serde_json::json!({ "bundle": f }))
        .into_iter()
        .filter(|(p, _)| !p.starts_with("EX01/") && !p.starts_with("EX02/"))
        .map(|(_, s)| s)
        .collect();
    (servers, f["warnings"].to_string())
}

/// EX02's Send logs (`SmtpSend/SEND….LOG`) out of their folder; the rest of EX02's files in it
/// with `rest`.
fn send_logs_out(rest: bool) -> Vec<(String, Vec<u8>)> {
    ex02(true)
        .into_iter()
        .filter_map(|(n, d)| match n.split_once("/SmtpSend/") {
            Some((_, name)) => Some((format!("SmtpSend/{name}"), d)),
            None => rest.then_some((n, d)),
        })
        .collect()
}

#[test]
fn a_send_log_outside_server_folders_is_named_by_its_local_address_or_left_unknown() {
    let dir = tempfile::tempdir().expect("tmp");
    let ex01: Vec<_> = members(&sample())
        .into_iter()
        .filter(|(n, _)| n.starts_with("EX01/"))
        .collect();
    // EX02's receive lines start their sessions on the local address its Send logs use
    // (10.0.1.12; EX01's is 10.0.1.11), whether they are in EX02's folder or loose too.
    for (name, ex02) in [
        ("all-loose.zip", ex02(false)),
        ("send-loose.zip", send_logs_out(true)),
    ] {
        let (servers, _) = loose_send_logs(dir.path(), name, &[ex01.clone(), ex02].concat());
        assert_eq!(servers, vec!["EX02"; 12], "{name}");
    }
    // Only EX02's Send logs, beside EX01's folder: nothing names a server for their address,
    // and EX01, the only server named, is not taken for theirs.
    let (servers, warnings) = loose_send_logs(
        dir.path(),
        "lost.zip",
        &[ex01, send_logs_out(false)].concat(),
    );
    assert_eq!(servers, vec!["unknown"; 12]);
    assert!(
        warnings.contains(
            "12 SMTP Send logs (SmtpSend/SEND2026111608-1.LOG and 11 more) have no server folder, and Send lines name no server: read as the server \\\"unknown\\\""
        ),
        "{warnings}"
    );
}

#[test]
fn server_folders_spelt_otherwise_give_the_same_findings() {
    let dir = tempfile::tempdir().expect("tmp");
    let want = analysis(common::findings(&sample())).to_string();
    // EX01's folder in lower case (listed after EX02 by bytes), or named by its DNS name, which
    // the rows, the connector ids and the latency sections do not use (they say EX01); EX02's
    // inside another folder, so that its files come first in the bundle.
    for (ex01, ex02) in [
        ("ex01", "EX02"),
        ("ex01.corp.example", "EX02"),
        ("EX01", "2026-11-16/EX02"),
        // Copied from the servers' administrative shares with the whole path.
        (
            "EX01/C$/Program Files/Microsoft/Exchange Server/V15",
            "EX02/C$/Program Files/Microsoft/Exchange Server/V15",
        ),
    ] {
        let renamed: Vec<_> = members(&sample())
            .into_iter()
            .map(
                |(n, d)| match (n.strip_prefix("EX01/"), n.strip_prefix("EX02/")) {
                    (Some(rest), _) => (format!("{ex01}/{rest}"), d),
                    (_, Some(rest)) => (format!("{ex02}/{rest}"), d),
                    _ => (n, d),
                },
            )
            .collect();
        let zip = dir.path().join("renamed.zip");
        write_zip(&zip, &renamed);
        let f = common::findings(&zip);
        let servers = f["bundle"]["servers"].to_string().to_ascii_uppercase();
        assert_eq!(servers, r#"["EX01","EX02"]"#, "{ex01}");
        let got = analysis(f)
            .to_string()
            .replace(&format!("{ex01}/"), "EX01/")
            .replace(&format!("{ex02}/"), "EX02/")
            .replace("ex01", "EX01");
        assert!(got == want, "{ex01} {ex02}");
    }
}

/// The sample with EX01's folder renamed, and `moved` of EX02's files (by path below `EX02/`)
/// moved into it, numbered `-9` so as not to meet EX01's of the same hour.
fn ex01_logs(moved: &[&str]) -> Vec<(String, Vec<u8>)> {
    members(&sample())
        .into_iter()
        .map(|(n, d)| match n.split_once('/') {
            Some(("EX01", rest)) => (format!("EX01_logs/{rest}"), d),
            Some(("EX02", rest)) if moved.contains(&rest) => {
                (format!("EX01_logs/{}", rest.replace("-1.LOG", "-9.LOG")), d)
            }
            _ => (n, d),
        })
        .collect()
}

#[test]
fn a_server_folder_named_otherwise_than_its_rows_say_is_read_as_that_server() {
    let dir = tempfile::tempdir().expect("tmp");
    let zip = dir.path().join("renamed.zip");
    write_zip(&zip, &ex01_logs(&[]));
    let f = common::findings(&zip);
    // Read as EX01's: the sample's findings, where the folder's name gave the rows to a server
    // the hops, the latency sections and the flow between servers do not name.
    let want = analysis(common::findings(&sample())).to_string();
    assert!(
        analysis(f.clone())
            .to_string()
            .replace("EX01_logs/", "EX01/")
            == want
    );
    assert_eq!(f["bundle"]["servers"], serde_json::json!(["EX01", "EX02"]));
    let said: Vec<&str> = f["bundle"]["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("EX01_logs"))
        .collect();
    // Once for the folder, on its first tracking log, in report, inspect and on an export.
    assert_eq!(
        said,
        ["EX01_logs/TransportRoles/Logs/MessageTracking/MSGTRK2026111608-1.LOG: the folder EX01_logs holds EX01's logs (their rows say so): read as EX01's"]
    );
    assert_eq!(
        common::inspect_json(&zip)["warnings"],
        f["bundle"]["warnings"]
    );
    let out = dir.path().join("export");
    export(&zip, &out);
    let g = common::findings(&out);
    assert_eq!(g["bundle"]["warnings"], f["bundle"]["warnings"]);
    assert_eq!(g["bundle"]["events"], f["bundle"]["events"]);
    assert_eq!(g["bundle"]["protocol_lines"], f["bundle"]["protocol_lines"]);
    for e in walkdir::WalkDir::new(&out)
        .into_iter()
        .map(|e| e.expect("walk"))
    {
        let p = e.path().to_string_lossy().into_owned();
        assert!(!p.contains("EX01_logs") || p.ends_with(".json"), "{p}");
    }
    // The same as a zip per server, `EX01_logs.zip` beside `EX02.zip` (its members are read
    // again from one reading of it).
    let mut inner = Vec::new();
    for (server, name) in [("EX01", "EX01_logs.zip"), ("EX02", "EX02.zip")] {
        let logs: Vec<_> = members(&sample())
            .into_iter()
            .filter_map(|(n, d)| Some((n.strip_prefix(&format!("{server}/"))?.to_string(), d)))
            .collect();
        let at = dir.path().join(name);
        write_zip(&at, &logs);
        inner.push((name.to_string(), std::fs::read(&at).expect("inner")));
    }
    let nested = dir.path().join("nested.zip");
    write_zip(&nested, &inner);
    let got = analysis(common::findings(&nested))
        .to_string()
        .replace("EX01_logs.zip!/", "EX01/")
        .replace("EX02.zip!/", "EX02/");
    assert!(got == want, "nested");
    // Its first log collected again under `backup/` (listed first, and set aside as a copy):
    // the warning is on the log that is read, not on the copy.
    let first = "EX01_logs/TransportRoles/Logs/MessageTracking/MSGTRK2026111608-1.LOG";
    let mut with_copy = ex01_logs(&[]);
    let data = with_copy
        .iter()
        .find(|(n, _)| n == first)
        .expect("first")
        .1
        .clone();
    with_copy.push((format!("backup/{first}"), data));
    let copied = dir.path().join("copied.zip");
    write_zip(&copied, &with_copy);
    let c = common::findings(&copied);
    assert!(
        analysis(c.clone())
            .to_string()
            .replace("EX01_logs/", "EX01/")
            == want
    );
    let told: Vec<&str> = c["bundle"]["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w.as_str())
        .filter(|w| w.contains("the folder EX01_logs"))
        .collect();
    assert_eq!(told, said, "copied");
    // One of EX02's tracking logs in there too: the folder's logs disagree, so it stays the
    // folder's, and the warning says what that costs.
    let mixed = dir.path().join("mixed.zip");
    write_zip(
        &mixed,
        &ex01_logs(&["TransportRoles/Logs/MessageTracking/MSGTRK2026111619-1.LOG"]),
    );
    let f = common::inspect_json(&mixed);
    assert_eq!(f["servers"], serde_json::json!(["EX01_logs", "EX02"]));
    let w = f["warnings"].to_string();
    assert!(
        w.contains("in the folder EX01_logs, but its rows say EX01 wrote them, and other logs there say otherwise"),
        "{w}"
    );
    // Folders named after their servers, or by their DNS names, are not warned about.
    let sample = common::findings(&sample())["bundle"]["warnings"].to_string();
    assert!(
        !sample.contains("its rows say") && !sample.contains("holds"),
        "{sample}"
    );
}
