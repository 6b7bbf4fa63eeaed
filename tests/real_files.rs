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

/// The 15 real Exchange 2016 lines of one message crossing an Edge and two Mailbox servers, in a
/// file with no header and no server folder.
#[test]
fn edge_mailbox_flow_frames() {
    let loaded = load(
        &real("MSGTRK-2016-edge-mailbox-flow.log"),
        &Options::default(),
    )
    .expect("loads");
    let ev = loaded.frames.events;
    assert_eq!(ev.height(), 15);
    // Each row belongs to the host that logged it: the local side of the hop.
    let servers: Vec<String> = (0..15)
        .map(|i| s(&ev, "server", i).unwrap_or_default())
        .collect();
    assert_eq!(
        servers,
        [
            "1mail-edge01", // SMTP RECEIVE on the Edge: server-hostname
            "1mail-exch01", // STOREDRIVER RECEIVE
            "1mail-exch01", // SMTP RECEIVE
            "1mail-exch01", // HAREDIRECT
            "1mail-exch01", // AGENT TRANSFER
            "1mail-exch01", // AGENTINFO: only client-hostname is there
            "1mail-exch01", // STOREDRIVER SUBMIT (server-hostname 1mail-exch01.test.com)
            "1mail-exch01", // ROUTING TRANSFER
            "5mail-exch01", // HARECEIVE on the shadow server
            "1mail-exch01", // AGENTINFO
            "1mail-exch01", // ROUTING TRANSFER
            "1mail-exch01", // STOREDRIVER DELIVER
            "1mail-exch01", // SMTP SEND: client-hostname is the sender
            "1mail-exch01", // SMTP SEND to the Edge
            "1mail-edge01", // SMTP SENDEXTERNAL from the Edge
        ]
    );
    // The STOREDRIVER RECEIVE lists one address twice (Bcc to self): kept as logged in the frame.
    assert_eq!(
        list(&ev, "recipients", 1),
        [
            "email3@gmail.com",
            "email1@test.com",
            "email1@test.com",
            "email2@gmail.com"
        ]
    );
    assert_eq!(list(&ev, "recipient_status", 1), ["Cc", "Bcc", "Bcc", "To"]);
    assert_eq!(s(&ev, "event_id", 8).as_deref(), Some("HARECEIVE"));
    assert_eq!(
        s(&ev, "original_client_ip", 0).as_deref(),
        Some("10.10.10.10")
    );
    assert!(s(&ev, "message_info", 14).is_some_and(
        |m| m.starts_with("2023-04-02T14:45:54.400Z;SRV=1mail-exch01.test.com:TOTAL-SUB=0.167")
    ));
    let f = &loaded.inventory.files[0];
    assert_eq!(
        f.version.as_deref(),
        Some("15.01.2507.023 (Exchange 2016 CU23); no header, Exchange 2016/2019 columns (30)")
    );
    assert_eq!(
        f.server.as_deref(),
        Some("1mail-edge01, 1mail-exch01, 5mail-exch01")
    );
}

/// What the analysis makes of that one message.
#[test]
fn edge_mailbox_flow_findings() {
    let f = common::findings(&real("MSGTRK-2016-edge-mailbox-flow.log"));
    // One message, not 15 rows; shadow-redundancy events are not failures.
    assert_eq!(f["messages"]["total"], 1);
    assert_eq!(f["sli"]["messages"], 1);
    assert_eq!(f["sli"]["failed"], 0);
    assert_eq!(f["sli"]["failure_ratio"], 0.0);
    // Its recipients are the union over all its rows, each once.
    let rcpts: Vec<&str> = f["top"]["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .map(|t| t["key"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        rcpts,
        ["email1@test.com", "email2@gmail.com", "email3@gmail.com"]
    );
    for t in f["top"]["recipients"].as_array().expect("recipients") {
        assert_eq!(t["messages"], 1, "{t}");
    }
    assert_eq!(f["top"]["address_flow"]["edges"], 3);
    // Latency as Exchange measured it: SENDEXTERNAL at 14:45:55.635, origination 14:45:54.400.
    assert_eq!(f["sli"]["latency_ms"]["measured"], 1);
    assert_eq!(f["sli"]["latency_ms"]["p50"], 1235);
    // Each hop counts the message once, however many rows it left there.
    let edges = f["server_flow"]["edges"].as_array().expect("edges");
    for e in edges {
        assert_eq!(e["messages"], 1, "{e}");
    }
    let hop = |from: &str, to: &str| {
        edges.iter().any(|e| {
            e["from"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(from))
                && e["to"] == to
        })
    };
    assert!(hop("1mail-exch01", "1mail-edge01"), "{edges:?}");
    assert!(hop("1mail-edge01", "gmail-smtp-in"), "{edges:?}");
    // The sender's own address, not our front end, is the client; our servers are never sources.
    let ips = f["client_ips"].as_array().expect("client ips");
    assert_eq!(ips.len(), 1, "{ips:?}");
    assert_eq!(ips[0]["ip"], "10.10.10.10");
    assert_eq!(ips[0]["anomalous"], false);
    // Connectors are named as connectors.
    let conns = f["connectors"].as_array().expect("connectors");
    assert!(conns
        .iter()
        .all(|c| c.get("connector").is_some() && c.get("ip").is_none()));
    assert_eq!(f["loops"], serde_json::json!([]));
    assert_eq!(f["storms"], serde_json::json!([]));
    // Sub-second clock differences between servers are not reported.
    assert_eq!(f["clock_skew"], serde_json::json!([]));
}

/// The real folder spans 2017 to 2023: four periods, no per-minute structure over the years.
#[test]
fn real_folder_is_four_periods() {
    let f = common::findings(&real(""));
    let periods = f["bundle"]["periods"].as_array().expect("periods");
    assert_eq!(periods.len(), 4, "{periods:?}");
    // The timeline is of tracking rows: the protocol log's day is not among its periods.
    assert_eq!(f["timeline"]["periods"].as_array().map(Vec::len), Some(3));
    assert!(f["timeline"]["points"].as_array().map_or(0, Vec::len) < 50);
    assert_eq!(f["sli"]["windows"].as_array().map(Vec::len), Some(3));
    // No server is "missing" from periods it never logged in.
    for c in f["coverage"].as_array().expect("coverage") {
        assert_eq!(c["gaps"], serde_json::json!([]), "{c}");
    }
    // Only an SMTP protocol log: no message, no window, no time axis from 1970.
    let p = common::findings(&real("RECV2023011116-1.LOG"));
    assert_eq!(p["sli"]["windows"], serde_json::json!([]));
    assert_eq!(p["timeline"]["points"], serde_json::json!([]));
    assert_eq!(p["messages"]["total"], 0);
}
