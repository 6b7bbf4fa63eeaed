//! Every supported input format, from the hand-made fixtures in `tests/fixtures/formats/`
//! (written by `tests/fixtures/make_fixtures.py`): versions, header-less files, quoting, extra
//! columns, unknown event ids, PowerShell and Exchange Online exports, gzip and nested zips.

use std::path::{Path, PathBuf};

use mailforensics::ingest::{load, LogKind, Options};
use polars::prelude::*;

mod common;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

struct Rows {
    df: DataFrame,
}

impl Rows {
    /// The row whose message_id is `id` and event id `ev`.
    fn find(&self, id: &str, ev: &str) -> usize {
        let ids = self
            .df
            .column("message_id")
            .expect("col")
            .str()
            .expect("str");
        let evs = self.df.column("event_id").expect("col").str().expect("str");
        (0..self.df.height())
            .find(|&i| ids.get(i) == Some(id) && evs.get(i) == Some(ev))
            .unwrap_or_else(|| panic!("no {ev} row for {id}"))
    }
    fn s(&self, col: &str, i: usize) -> Option<String> {
        common::text(&self.df, col, i)
    }
    fn list(&self, col: &str, i: usize) -> Vec<String> {
        common::list(&self.df, col, i)
    }
    fn time(&self, i: usize) -> i64 {
        self.df
            .column("time")
            .expect("time")
            .datetime()
            .expect("dt")
            .physical()
            .get(i)
            .expect("time")
    }
}

fn loaded(opts: &Options) -> (mailforensics::ingest::Inventory, Rows) {
    let l = load(&fixture(), opts).expect("fixture loads");
    (
        l.inventory,
        Rows {
            df: l.frames.events,
        },
    )
}

#[test]
fn inventory_of_the_mixed_folder() {
    let (inv, rows) = loaded(&Options::default());
    assert_eq!(inv.events, 13);
    assert_eq!(rows.df.height(), 13);
    assert_eq!(inv.protocol_lines, 3);
    assert_eq!(inv.malformed_total, 2);
    let kinds: Vec<(String, LogKind)> =
        inv.files.iter().map(|f| (f.path.clone(), f.kind)).collect();
    let kind_of = |suffix: &str| {
        kinds
            .iter()
            .find(|(p, _)| p.ends_with(suffix))
            .map(|(_, k)| *k)
    };
    assert_eq!(
        kind_of("RECV2026111608-1.LOG"),
        Some(LogKind::SmtpReceive),
        "gz member, name without .gz"
    );
    assert_eq!(
        kind_of("EX20.zip!/TransportRoles/Logs/MessageTracking/MSGTRK2026111608-1.LOG"),
        Some(LogKind::MessageTracking)
    );
    assert_eq!(kind_of("tracking-ex.csv"), Some(LogKind::PowershellCsv));
    assert_eq!(kind_of("messagetrace.csv"), Some(LogKind::ExoTrace));
    assert_eq!(kind_of("historical-extended.csv"), Some(LogKind::ExoTrace));
    assert_eq!(kind_of("README.txt"), Some(LogKind::Skipped));
    assert_eq!(
        inv.servers,
        [
            "EX07",
            "EX10",
            "EX13",
            "EX19",
            "EX20",
            "Exchange Online",
            "EXPS01",
            "EXPS02",
        ]
    );
    let m: Vec<(u64, &str)> = inv
        .malformed_lines
        .iter()
        .map(|m| (m.line, m.reason.as_str()))
        .collect();
    assert_eq!(m[0].0, 7);
    assert!(m[0].1.contains("4 values where #Fields names 31"), "{m:?}");
    assert_eq!(m[1].0, 8);
    assert!(m[1].1.contains("unreadable date-time"));
    assert!(inv
        .malformed_lines
        .iter()
        .all(|m| m.path.starts_with("EX19/")));
}

#[test]
fn exchange_2007_dsn_and_addresses() {
    let (_, r) = loaded(&Options::default());
    let i = r.find("<m1@corp.example>", "RECEIVE");
    assert_eq!(
        r.s("server", i).as_deref(),
        Some("EX07"),
        "folder under `Exchange Server/` layout"
    );
    assert_eq!(
        r.s("sender", i).as_deref(),
        Some("alice@corp.example"),
        "addresses lower-cased"
    );
    assert_eq!(r.s("subject", i).as_deref(), Some("Hello, world"));
    assert_eq!(
        r.s("network_message_id", i),
        None,
        "2007 has no network message id"
    );
    let f = r.find("<m1@corp.example>", "FAIL");
    assert_eq!(r.list("status_code", f), ["5.1.1"]);
    let d = r.find("<ndr1@corp.example>", "DSN");
    assert_eq!(r.s("reference", d).as_deref(), Some("<m1@corp.example>"));
    assert_eq!(r.s("return_path", d).as_deref(), Some("<>"));
}

#[test]
fn exchange_2010_quoted_line_break_and_unknown_event() {
    let (_, r) = loaded(&Options::default());
    let i = r.find("<m2@corp.example>", "SEND");
    assert_eq!(
        r.s("subject", i).as_deref(),
        Some("He said \"hi\"\nand left")
    );
    assert_eq!(
        r.list("recipients", i),
        ["a@contoso.example", "b@contoso.example"]
    );
    assert_eq!(
        r.list("recipient_status", i),
        ["250 2.0.0 OK", "250 2.0.0 OK"]
    );
    assert_eq!(r.list("status_code", i), ["2.0.0", "2.0.0"]);
    let u = r.find("<m2@corp.example>", "FUTUREEVENT");
    assert_eq!(
        r.s("custom_data", u).as_deref(),
        Some("S:Key=Value;S:Other=1")
    );
    let line =
        r.df.column("line")
            .expect("line")
            .u32()
            .expect("u32")
            .get(u);
    assert_eq!(
        line,
        Some(8),
        "the SEND record spans lines 6-7, so the next one is line 8"
    );
}

#[test]
fn headerless_2013_and_extra_column_2016() {
    let (_, r) = loaded(&Options::default());
    let i = r.find("<m3@corp.example>", "DELIVER");
    assert_eq!(
        r.s("network_message_id", i).as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    assert_eq!(r.s("directionality", i).as_deref(), Some("Incoming"));
    let f = r.find("<m4@corp.example>", "FAIL");
    assert_eq!(
        r.list("recipients", f),
        ["ops.alerts@corp.example", "x@corp.example"]
    );
    assert_eq!(r.list("status_code", f), ["5.2.2", "2.1.5"]);
    assert!(r.list("recipient_status", f)[0].ends_with("MapiExceptionShutoffQuotaExceeded"));
    assert_eq!(r.s("extra", f).as_deref(), Some("future-column=kept-value"));
    assert_eq!(
        r.s("subject", f).as_deref(),
        Some("<script>alert(1)</script>")
    );
}

#[test]
fn powershell_export_times_servers_and_lost_arrays() {
    let (inv, r) = loaded(&Options::default());
    let i = r.find("<m5@corp.example>", "DELIVER");
    assert_eq!(r.s("server", i).as_deref(), Some("EXPS01"));
    assert_eq!(
        r.time(i),
        1_794_819_840_000,
        "11/16/2026 9:04:00 AM read as UTC by default"
    );
    assert_eq!(r.s("subject", i).as_deref(), Some("Quarterly, report"));
    let s = r.find("<m6@corp.example>", "SEND");
    assert_eq!(r.s("server", s).as_deref(), Some("EXPS02"));
    assert!(
        r.list("recipients", s).is_empty(),
        "System.String[] is not an address"
    );
    assert!(inv
        .warnings
        .iter()
        .any(|w| w.contains("Recipients exported as `System.String[]`")));
    assert!(inv.warnings.iter().any(|w| w.contains("read as UTC")));

    let opts = Options {
        tz: mailforensics::ingest::fields::parse_offset("+02:00"),
        ..Options::default()
    };
    let (inv2, r2) = loaded(&opts);
    let i2 = r2.find("<m5@corp.example>", "DELIVER");
    assert_eq!(
        r2.time(i2),
        1_794_819_840_000 - 2 * 3600 * 1000,
        "--tz +02:00 shifts to UTC"
    );
    assert!(!inv2.warnings.iter().any(|w| w.contains("read as UTC")));
}

#[test]
fn exchange_online_traces() {
    let (_, r) = loaded(&Options::default());
    let d = r.find("<m7@corp.example>", "DELIVER");
    assert_eq!(r.s("server", d).as_deref(), Some("Exchange Online"));
    assert_eq!(r.s("client_ip", d).as_deref(), Some("198.51.100.7"));
    assert_eq!(r.s("server_ip", d).as_deref(), Some("203.0.113.5"));
    assert_eq!(
        r.s("network_message_id", d).as_deref(),
        Some("bbbbbbbb-2222-3333-4444-555555555555")
    );
    assert_eq!(r.list("recipient_status", d), ["Delivered"]);
    let f = r.find("<m8@corp.example>", "FAIL");
    assert_eq!(r.list("recipients", f), ["nobody@fabrikam.example"]);
    let x = r.find("<m9@corp.example>", "RECEIVE");
    assert_eq!(r.time(x), 1_794_816_480_123);
    assert_eq!(r.s("client_ip", x).as_deref(), Some("198.51.100.9"));
}

#[test]
fn protocol_session_links_to_message() {
    let l = load(&fixture(), &Options::default()).expect("loads");
    let sessions = l.frames.sessions;
    assert_eq!(sessions.height(), 1);
    let ids = sessions
        .column("message_ids")
        .expect("col")
        .list()
        .expect("list");
    let v: Vec<String> = ids
        .get_as_series(0)
        .map(|s| {
            s.str()
                .expect("str")
                .iter()
                .map(|x| x.unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(v, ["<m1@corp.example>"]);
}

struct Counted {
    inventory: mailforensics::ingest::Inventory,
}

#[test]
fn inspect_and_report_agree_on_counts() {
    let full = load(&fixture(), &Options::default()).expect("loads");
    let count_only = mailforensics::ingest::inventory(
        &fixture(),
        &Options::default(),
        &mailforensics::ingest::Quiet,
    )
    .expect("loads");
    let count_only = Counted {
        inventory: count_only,
    };
    assert_eq!(full.inventory.events, count_only.inventory.events);
    assert_eq!(
        full.inventory.malformed_total,
        count_only.inventory.malformed_total
    );
    let a: Vec<(u64, u64)> = full
        .inventory
        .files
        .iter()
        .map(|f| (f.rows, f.malformed))
        .collect();
    let b: Vec<(u64, u64)> = count_only
        .inventory
        .files
        .iter()
        .map(|f| (f.rows, f.malformed))
        .collect();
    assert_eq!(a, b);
}

#[test]
fn frame_columns_are_the_documented_schema() {
    use mailforensics::ingest::schema::{events_schema, PROTOCOL_SCHEMA, SESSIONS_SCHEMA};
    let events = events_schema();
    let l = load(&fixture(), &Options::default()).expect("loads");
    let f = l.frames;
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    for (df, schema) in [
        (&f.events, events.as_slice()),
        (&f.protocol, PROTOCOL_SCHEMA),
        (&f.sessions, SESSIONS_SCHEMA),
    ] {
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let documented: Vec<&str> = schema.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names, documented);
        for (name, ty, _) in schema {
            assert!(
                readme.contains(&format!("| `{name}` | {ty} |")),
                "README lacks the row for {name}"
            );
        }
    }
}

#[test]
fn a_session_spanning_two_hourly_files_is_one_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP Receive Protocol Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\r\n";
    let line = |t: &str, seq: u32, ev: &str, data: &str| {
        format!("2026-11-16T{t}Z,EX01\\Default EX01,08DE00000000ABCD,{seq},192.0.2.1:25,192.0.2.10:40000,{ev},{data},\r\n")
    };
    let folder = dir
        .path()
        .join("EX01/TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let first = format!(
        "{head}{}{}",
        line("08:59:59.000", 0, "+", ""),
        line("08:59:59.500", 1, ">", "\"250 2.6.0 <one@corp.example> [InternalId=1, Hostname=EX01] Queued mail for delivery\"")
    );
    let second = format!(
        "{head}{}{}",
        line("09:00:00.200", 2, ">", "\"250 2.6.0 <two@corp.example> [InternalId=2, Hostname=EX01] Queued mail for delivery\""),
        line("09:00:00.300", 3, "-", "")
    );
    std::fs::write(folder.join("RECV2026111608-1.LOG"), first).expect("write");
    std::fs::write(folder.join("RECV2026111609-1.LOG"), second).expect("write");
    let l = load(dir.path(), &Options::default()).expect("loads");
    let f = l.frames;
    assert_eq!(f.protocol.height(), 4);
    let s = &f.sessions;
    assert_eq!(s.height(), 1, "{s}");
    assert_eq!(
        s.column("lines").expect("lines").u32().expect("u32").get(0),
        Some(4)
    );
    let ids: Vec<String> = s
        .column("message_ids")
        .expect("ids")
        .list()
        .expect("list")
        .get_as_series(0)
        .map(|v| {
            v.str()
                .expect("str")
                .iter()
                .map(|x| x.unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, ["<one@corp.example>", "<two@corp.example>"]);
    let start = s
        .column("start")
        .expect("start")
        .datetime()
        .expect("dt")
        .physical()
        .get(0);
    let end = s
        .column("end")
        .expect("end")
        .datetime()
        .expect("dt")
        .physical()
        .get(0);
    assert_eq!(end.zip(start).map(|(e, s)| e - s), Some(1300));
    assert!(s
        .column("entry")
        .expect("entry")
        .str()
        .expect("str")
        .get(0)
        .is_some_and(|e| e.ends_with("RECV2026111608-1.LOG")));
}
