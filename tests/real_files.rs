//! The real files in `../shared/formats/real/` (published by others, kept unmodified): row counts
//! through the binary, field values through the library's frames.

use mailforensics::ingest::{load, Options};

mod common;
use common::{inspect_json, list, real, text as s};

#[test]
fn inspect_counts_the_real_folder() {
    let v = inspect_json(&real(""));
    assert_eq!(v["events"], 19);
    assert_eq!(v["protocol_lines"], 16);
    let files = v["files"].as_array().expect("files");
    let by = |p: &str| files.iter().find(|f| f["path"] == p).expect(p).clone();
    let t13 = by("MSGTRK2013-kinesis-test.LOG");
    assert_eq!(t13["kind"], "message_tracking");
    assert_eq!(t13["version"], "15.00.1104.000 (Exchange 2013 CU9)");
    assert_eq!(t13["rows"], 2);
    assert_eq!(t13["malformed"], 0);
    let ms = by("MSGTRKMS2022091915-1.LOG");
    assert_eq!(ms["version"], "15.01.2375.007 (Exchange 2016 CU22)");
    assert_eq!(ms["rows"], 2);
    assert_eq!(ms["start"], "2022-09-19T15:02:29.339Z");
    assert_eq!(ms["end"], "2022-09-19T15:02:29.450Z");
    assert_eq!(ms["server"], "SERVER-HOSTNAME");
    let recv = by("RECV2023011116-1.LOG");
    assert_eq!(recv["kind"], "smtp_receive");
    assert_eq!(recv["rows"], 16);
    assert_eq!(recv["version"], "15.0.0.0");
    let src = by("SOURCES.md");
    assert_eq!(src["kind"], "skipped");
    assert_eq!(src["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn exchange_2016_submission_log_fields() {
    let loaded = load(&real("MSGTRKMS2022091915-1.LOG"), &Options::default()).expect("loads");
    let ev = loaded.frames.events;
    assert_eq!(ev.height(), 2);
    assert_eq!(s(&ev, "event_id", 0).as_deref(), Some("NOTIFYMAPI"));
    assert_eq!(s(&ev, "source", 0).as_deref(), Some("STOREDRIVER"));
    assert_eq!(
        s(&ev, "client_ip", 0).as_deref(),
        Some("fe80::1234:5678:4321:1010%3")
    );
    assert!(s(&ev, "source_context", 0)
        .is_some_and(|c| c.starts_with("MDB:12345678-3232-2323-1111-12345679666, Mailbox:")));
    assert_eq!(s(&ev, "event_id", 1).as_deref(), Some("RECEIVE"));
    assert_eq!(s(&ev, "message_id", 1).as_deref(), Some("<XXX@domain.com>"));
    assert_eq!(
        s(&ev, "network_message_id", 1).as_deref(),
        Some("6a638d20-1e63-493a-80a2-08da9a4ff8da")
    );
    assert_eq!(s(&ev, "internal_message_id", 1).as_deref(), Some("438"));
    assert_eq!(list(&ev, "recipients", 1), ["user.name4@gmail.com"]);
    assert_eq!(list(&ev, "recipient_status", 1), ["To"]);
    assert_eq!(s(&ev, "subject", 1).as_deref(), Some("MAIL SUBJECT"));
    assert_eq!(
        s(&ev, "sender", 1).as_deref(),
        Some("user.name1@domain.com")
    );
    assert_eq!(s(&ev, "directionality", 1).as_deref(), Some("Originating"));
    assert_eq!(
        s(&ev, "schema_version", 1).as_deref(),
        Some("15.01.2375.007")
    );
    assert_eq!(
        s(&ev, "entry", 1).as_deref(),
        Some("MSGTRKMS2022091915-1.LOG")
    );
    let total = ev
        .column("total_bytes")
        .expect("col")
        .u64()
        .expect("u64")
        .get(1);
    assert_eq!(total, Some(3750222));
    let line = ev.column("line").expect("col").u32().expect("u32");
    assert_eq!((line.get(0), line.get(1)), (Some(6), Some(7)));
    let t = ev
        .column("time")
        .expect("col")
        .datetime()
        .expect("dt")
        .physical()
        .get(0);
    assert_eq!(t, Some(1663599749339));
}

#[test]
fn exchange_2013_multi_recipient_row() {
    let loaded = load(&real("MSGTRK2013-kinesis-test.LOG"), &Options::default()).expect("loads");
    let ev = loaded.frames.events;
    assert_eq!(ev.height(), 2);
    assert_eq!(s(&ev, "event_id", 0).as_deref(), Some("AGENTINFO"));
    assert!(s(&ev, "custom_data", 0).is_some_and(|c| c.starts_with("S:AMA=SUM|action=p")));
    assert_eq!(s(&ev, "event_id", 1).as_deref(), Some("HAREDIRECT"));
    assert_eq!(
        list(&ev, "recipients", 1),
        [
            "abannert@amazon.com",
            "bryanson@amazon.com",
            "zihoncao@amazon.com"
        ]
    );
    assert!(s(&ev, "source_context", 1)
        .is_some_and(|c| c.starts_with("EX13D13UWB004.ant.amazon.com = 250 2.6.0")));
    assert_eq!(
        s(&ev, "network_message_id", 1).as_deref(),
        Some("13fad5b7-39c5-46e7-130e-08d4a138ac67")
    );
    assert_eq!(
        s(&ev, "original_server_ip", 0).as_deref(),
        Some("10.43.162.232")
    );
    let count = ev
        .column("recipient_count")
        .expect("col")
        .u32()
        .expect("u32")
        .get(1);
    assert_eq!(count, Some(3));
}

#[test]
fn smtp_receive_session() {
    let loaded = load(&real("RECV2023011116-1.LOG"), &Options::default()).expect("loads");
    let frames = loaded.frames;
    let p = &frames.protocol;
    assert_eq!(p.height(), 16);
    assert_eq!(s(p, "session_id", 0).as_deref(), Some("123453EC62278461"));
    assert_eq!(s(p, "event", 0).as_deref(), Some(">"));
    assert!(s(p, "data", 0)
        .is_some_and(|d| d.starts_with("220 SERVER-HOSTNAME.DOMAIN.TEST Microsoft ESMTP")));
    assert_eq!(
        s(p, "remote_endpoint", 0).as_deref(),
        Some("95.10.20.33:56026")
    );
    assert_eq!(s(p, "server", 0).as_deref(), Some("SERVER-HOSTNAME"));
    let seq: Vec<Option<u32>> = p
        .column("sequence_number")
        .expect("col")
        .u32()
        .expect("u32")
        .iter()
        .collect();
    assert!(
        !seq.contains(&Some(13)),
        "13 is missing in the published file"
    );
    assert_eq!(seq.iter().filter(|x| **x == Some(15)).count(), 3);
    let sess = &frames.sessions;
    assert_eq!(sess.height(), 1);
    assert_eq!(
        sess.column("lines")
            .expect("col")
            .u32()
            .expect("u32")
            .get(0),
        Some(16)
    );
}
