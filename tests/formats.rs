//! Every supported input format, from the hand-made fixtures in `tests/fixtures/formats/`
//! (written by `tests/fixtures/make_fixtures.py`): versions, header-less files, quoting, extra
//! columns, unknown event ids, PowerShell and Exchange Online exports, gzip and nested zips.
//!
//! What each fixture must read as is data: `tests/fixtures/formats-expected/NAME.toml` is one
//! test, named NAME. The case loads a bundle with `mailforensics::ingest::load` (the folder
//! `tests/fixtures/formats` unless `bundle = "..."` names another path under `tests/fixtures`,
//! with `[options]` `tz` and `csv_time_format` as the command line gives them) and checks this
//! document with the check language of `tests/scenarios.rs`:
//!
//! ```text
//! { "inventory": the Inventory (as `inspect --json` prints it),
//!   "events":    [one object per row of Frames::events,   column name → value],
//!   "protocol":  [one object per row of Frames::protocol, ...],
//!   "sessions":  [one object per row of Frames::sessions, ...] }
//! ```
//!
//! Cells are JSON as they read: text as strings, missing values as null, `list[str]` as lists of
//! strings, integers as numbers, datetimes as RFC 3339 UTC with milliseconds
//! (`2026-11-16T09:04:00.000Z`). A row is picked with a filter, e.g.
//! `events[message_id=<m1@corp.example>,event_id=RECEIVE]`, which must match exactly one row.
//! (The expectations live beside the fixture folder, not inside it: files in it would be read as
//! part of the bundle.)
//!
//! The tests that are not about one fixture (the schema against the README, inspect against
//! report, a session spanning two files) follow as Rust functions.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed};
use mailforensics::ingest::{load, Options};
use polars::prelude::*;
use serde::Deserialize;
use serde_json::Value;

mod common;

#[path = "common/checks.rs"]
mod checks;

/// At least this many case files: a lost case must not shrink the suite unnoticed.
const AT_LEAST_CASES: usize = 9;

fn fixtures() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/fixtures")
}

fn fixture() -> PathBuf {
    fixtures().join("formats")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    bundle: Option<String>,
    #[serde(default)]
    options: CaseOptions,
    check: Vec<checks::Check>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseOptions {
    tz: Option<String>,
    csv_time_format: Option<String>,
}

fn main() {
    let args = Arguments::from_args();
    let plain: &[(&'static str, fn())] = &[
        (
            "inspect_and_report_agree_on_counts",
            inspect_and_report_agree_on_counts,
        ),
        (
            "frame_columns_are_the_documented_schema",
            frame_columns_are_the_documented_schema,
        ),
        (
            "a_session_spanning_two_hourly_files_is_one_session",
            a_session_spanning_two_hourly_files_is_one_session,
        ),
    ];
    let trials = checks::trials(
        &fixtures().join("formats-expected"),
        AT_LEAST_CASES,
        run_case,
        plain,
    );
    libtest_mimic::run(&args, trials).exit();
}

fn run_case(name: &str, path: &Path) -> Result<(), Failed> {
    let case: Case = checks::read_case(path).map_err(|e| format!("{name}: {e}"))?;
    let bundle = match &case.bundle {
        Some(b) => fixtures().join(b),
        None => fixture(),
    };
    let tz = match &case.options.tz {
        Some(t) => Some(
            mailforensics::ingest::fields::parse_offset(t)
                .ok_or_else(|| format!("{name}: options.tz {t:?} is not an offset"))?,
        ),
        None => None,
    };
    let opts = Options {
        tz,
        csv_time_format: case.options.csv_time_format.clone(),
        ..Options::default()
    };
    let l = load(&bundle, &opts)
        .map_err(|e| format!("{name}: {} does not load: {e}", bundle.display()))?;
    let doc = serde_json::json!({
        "inventory": serde_json::to_value(&l.inventory).map_err(|e| format!("{name}: inventory: {e}"))?,
        "events": rows(&l.frames.events).map_err(|e| format!("{name}: events: {e}"))?,
        "protocol": rows(&l.frames.protocol).map_err(|e| format!("{name}: protocol: {e}"))?,
        "sessions": rows(&l.frames.sessions).map_err(|e| format!("{name}: sessions: {e}"))?,
    });
    let d = checks::Doc {
        main: &doc,
        roots: Vec::new(),
    };
    let failures = checks::run(&case.check, &d);
    checks::verdict(name, case.check.len(), failures).map_err(Failed::from)
}

/// A frame as a list of row objects (column name → cell).
fn rows(df: &DataFrame) -> Result<Value, String> {
    let mut out = vec![serde_json::Map::new(); df.height()];
    for c in df.columns() {
        let name = c.name().to_string();
        for (i, row) in out.iter_mut().enumerate() {
            row.insert(name.clone(), cell(c, i)?);
        }
    }
    Ok(Value::Array(out.into_iter().map(Value::Object).collect()))
}

fn cell(c: &Column, i: usize) -> Result<Value, String> {
    let e = |err: PolarsError| format!("{}: {err}", c.name());
    Ok(match c.dtype() {
        DataType::String => c.str().map_err(e)?.get(i).map_or(Value::Null, Value::from),
        DataType::UInt32 => c.u32().map_err(e)?.get(i).map_or(Value::Null, Value::from),
        DataType::UInt64 => c.u64().map_err(e)?.get(i).map_or(Value::Null, Value::from),
        DataType::Datetime(TimeUnit::Milliseconds, _) => {
            match c.datetime().map_err(e)?.physical().get(i) {
                None => Value::Null,
                Some(ms) => Value::from(
                    chrono::DateTime::from_timestamp_millis(ms)
                        .ok_or_else(|| format!("{}: {ms} ms is out of range", c.name()))?
                        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                        .to_string(),
                ),
            }
        }
        DataType::List(inner) if **inner == DataType::String => {
            match c.list().map_err(e)?.get_as_series(i) {
                None => Value::Null,
                Some(s) => Value::Array(
                    s.str()
                        .map_err(e)?
                        .iter()
                        .map(|x| x.map_or(Value::Null, Value::from))
                        .collect(),
                ),
            }
        }
        other => return Err(format!("{}: no JSON form for {other}", c.name())),
    })
}

// ---- Not about one fixture ----

fn inspect_and_report_agree_on_counts() {
    let full = load(&fixture(), &Options::default()).expect("fixture loads");
    let count_only = mailforensics::ingest::inventory(
        &fixture(),
        &Options::default(),
        &mailforensics::ingest::Quiet,
    )
    .expect("fixture loads");
    assert_eq!(
        full.inventory.events, count_only.events,
        "formats fixture: events of load vs inventory"
    );
    assert_eq!(
        full.inventory.malformed_total, count_only.malformed_total,
        "formats fixture: malformed lines of load vs inventory"
    );
    let per_file = |inv: &mailforensics::ingest::Inventory| -> Vec<(String, u64, u64)> {
        inv.files
            .iter()
            .map(|f| (f.path.clone(), f.rows, f.malformed))
            .collect()
    };
    assert_eq!(
        per_file(&full.inventory),
        per_file(&count_only),
        "formats fixture: rows and malformed lines per file, load vs inventory"
    );
}

fn frame_columns_are_the_documented_schema() {
    use mailforensics::ingest::schema::{events_schema, PROTOCOL_SCHEMA, SESSIONS_SCHEMA};
    let events = events_schema();
    let l = load(&fixture(), &Options::default()).expect("fixture loads");
    let f = l.frames;
    let readme = std::fs::read_to_string(
        Path::new(
            &std::env::var("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("README.md"),
    )
    .expect("README");
    for (frame, df, schema) in [
        ("events", &f.events, events.as_slice()),
        ("protocol", &f.protocol, PROTOCOL_SCHEMA),
        ("sessions", &f.sessions, SESSIONS_SCHEMA),
    ] {
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let documented: Vec<&str> = schema.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names, documented, "{frame} frame: columns vs schema");
        for (name, ty, _) in schema {
            assert!(
                readme.contains(&format!("| `{name}` | {ty} |")),
                "{frame} frame: README lacks the row for {name}"
            );
        }
    }
}

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
    assert_eq!(f.protocol.height(), 4, "two-file session: protocol lines");
    let s = &f.sessions;
    assert_eq!(s.height(), 1, "two-file session: sessions {s}");
    assert_eq!(
        s.column("lines").expect("lines").u32().expect("u32").get(0),
        Some(4),
        "two-file session: lines"
    );
    assert_eq!(
        common::list(s, "message_ids", 0),
        ["<one@corp.example>", "<two@corp.example>"],
        "two-file session: message ids"
    );
    let time = |col: &str| {
        s.column(col)
            .expect(col)
            .datetime()
            .expect("dt")
            .physical()
            .get(0)
    };
    assert_eq!(
        time("end").zip(time("start")).map(|(e, s)| e - s),
        Some(1300),
        "two-file session: end - start"
    );
    let entry = common::text(s, "entry", 0);
    assert!(
        entry
            .as_deref()
            .is_some_and(|e| e.ends_with("RECV2026111608-1.LOG")),
        "two-file session: entry {entry:?} is not the first file"
    );
}
