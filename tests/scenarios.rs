//! Scenario tests: the generator writes a bundle with a known truth (`simulate --truth`), the
//! binary analyses it (`report BUNDLE -o /dev/null --json -`), and the findings must match the
//! truth. Each `tests/scenarios/NAME.toml` is one test, named NAME; the tests the case files
//! cannot express (trace, byte-for-byte determinism, arithmetic on the truth) follow as Rust
//! functions. This target runs its own harness (libtest-mimic, `harness = false`); filter as
//! usual: `cargo test --release --test scenarios -- flood`.
//!
//! # Case files
//!
//! ```toml
//! # What the case is about (comments are free).
//! simulate = ["--scenario", "flood", "--events", "20000", "--flood-rate", "3"]
//! report = ["--storm-floor", "20"]    # optional: more arguments of `report`
//!
//! [[check]]                           # one or more
//! path = "storms[kind=pair,sender={truth.flood_sender}]"
//! why = "the flood is one pair storm" # optional: printed when the check fails
//! [check.fields]
//! recipient = "{truth.flood_recipient}"
//! first_seen = { near = "{truth.flood_onset}", within_ms = 60000 }
//! messages = "{truth.flood_messages}"
//! ```
//!
//! The runner adds `-o` and `--truth` to `simulate`. Every check of a case runs, and a failing
//! case lists each failed check with the numbers it saw. Unknown keys, unknown operators,
//! `near` without `within_ms`, a check that asserts nothing and a malformed path all fail the
//! case: a typo never passes silently.
//!
//! # The check language
//!
//! A check selects values with `path`, starting at the top of the findings, then asserts:
//!
//! - nothing else given: the path selects exactly one value (it exists, and is the only one);
//! - `count = N` or `count = { at_least = N, at_most = M }`: the path selects that many values.
//!   The path must end in a selector: `loops[*]` with `count = 0` says there is no loop;
//! - `each = true`: any number of values (even none), and `value` and `fields` hold for each;
//! - `value = E`: the selected value itself matches E;
//! - `fields`: `NAME = E` for values under the selected one (a `[check.fields]` table, or
//!   `fields.NAME = E`). TOML nesting is path nesting: `during.messages = E`; a key holding `[`
//!   is read as a path: `"recipient_status[0]" = E`; any other key is one key, dots and all:
//!   `status_codes."5.2.2" = E`.
//!
//! **Paths**: keys joined by `.`; a key is a run of characters other than `.[]'=,!{}` and
//! blanks, or 'quoted'. After a key, selectors pick list elements: `[*]` all, `[N]` the N-th
//! from 0 (none when out of range), `[k=v,k2!=w]` those whose `k` is v and whose `k2` is not w.
//! Filters compare text: a string as it is, anything else as JSON (`anomalous=true`, `null`).
//! A filter value runs to the next `,` or `]`, or is 'quoted', or is a `{reference}`. A key
//! that is not there fails the check: a wrong path never passes for an empty list.
//!
//! **References**: `{truth.PATH}` (the truth file) and `{findings.PATH}` (the findings), in any
//! string. A string that is just one reference stands for the value itself (a number, a list,
//! ...); inside a longer string a reference is replaced by its text. A reference must select
//! exactly one value, and not null (a null truth means the case was written for another
//! scenario). Any `{` followed by a lower-case name and `.`, `[` or `}` is a reference, and an
//! unknown name fails the check; other braces are plain text.
//!
//! **Expectations E**: a plain value (string, number, boolean, list) must be equal (numbers
//! compare as numbers); a table of operators must satisfy every operator in it:
//!
//! | operator | holds when the value |
//! |---|---|
//! | `null = true` / `false` | is / is not null |
//! | `at_least = N`, `at_most = N` | is a number ≥ N / ≤ N (N may be a reference) |
//! | `near = "TIME"`, `within_ms = N` | is an RFC 3339 time at most N ms from TIME (both required) |
//! | `contains = "TEXT"` | is a string containing TEXT, or a list with an element that is or contains TEXT |
//! | `not_contains = "TEXT"` | does not, in the same sense |
//! | `one_of = [..]` or `"{truth.list}"` | equals one element of the list |
//!
//! Strict comparisons (`> 100`) are written as bounds on integers (`at_least = 101`).

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed};
use serde::Deserialize;
use serde_json::Value;

mod common;
use common::{bin, findings, repo, stdout_of};

#[path = "common/checks.rs"]
mod checks;

/// At least this many case files: a lost case must not shrink the suite unnoticed.
const AT_LEAST_CASES: usize = 18;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    simulate: Vec<String>,
    #[serde(default)]
    report: Vec<String>,
    check: Vec<checks::Check>,
}

fn main() {
    let args = Arguments::from_args();
    let plain: &[(&'static str, fn())] = &[
        (
            "incident_amplification_and_heaviest_pair",
            incident_amplification_and_heaviest_pair,
        ),
        (
            "pingpong_two_auto_replies_per_round",
            pingpong_two_auto_replies_per_round,
        ),
        (
            "trace_follows_a_message_across_servers",
            trace_follows_a_message_across_servers,
        ),
        ("real_files_have_no_loop", real_files_have_no_loop),
        ("same_bundle_same_bytes", same_bundle_same_bytes),
        (
            "sample_bundle_matches_its_truth",
            sample_bundle_matches_its_truth,
        ),
    ];
    let trials = checks::trials(&repo("tests/scenarios"), AT_LEAST_CASES, run_case, plain);
    libtest_mimic::run(&args, trials).exit();
}

/// Simulates the case's bundle, reports on it and runs its checks.
fn run_case(name: &str, path: &Path) -> Result<(), Failed> {
    let case: Case = checks::read_case(path).map_err(|e| format!("{name}: {e}"))?;
    let dir = tempfile::tempdir().map_err(|e| format!("{name}: tempdir: {e}"))?;
    let bundle = dir.path().join(format!("{name}.zip"));
    let truth = dir.path().join("truth.json");
    let out = bin()
        .arg("simulate")
        .args(&case.simulate)
        .arg("-o")
        .arg(&bundle)
        .arg("--truth")
        .arg(&truth)
        .output()
        .map_err(|e| format!("{name}: simulate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name}: simulate {:?} failed: {}",
            case.simulate,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let truth: Value = std::fs::read(&truth)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("{name}: truth: {e}"))?;
    let out = bin()
        .arg("report")
        .arg(&bundle)
        .args(["-o", "/dev/null", "--json", "-", "-q"])
        .args(&case.report)
        .output()
        .map_err(|e| format!("{name}: report: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name}: report failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let found: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("{name}: findings: {e}"))?;
    let doc = checks::Doc {
        main: &found,
        roots: vec![("truth", &truth), ("findings", &found)],
    };
    let failures = checks::run(&case.check, &doc);
    checks::verdict(name, case.check.len(), failures).map_err(Failed::from)
}

// ---- What the case files cannot say ----

struct Simulated {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    truth: Value,
}

fn simulate(scenario: &str, events: u64) -> Simulated {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join(format!("{scenario}.zip"));
    let truth = dir.path().join("truth.json");
    stdout_of(
        bin()
            .args([
                "simulate",
                "--scenario",
                scenario,
                "--events",
                &events.to_string(),
                "-o",
            ])
            .arg(&bundle)
            .arg("--truth")
            .arg(&truth),
    );
    let truth = serde_json::from_slice(&std::fs::read(&truth).expect("truth")).expect("json");
    Simulated {
        _dir: dir,
        bundle,
        truth,
    }
}

fn ms(t: &Value) -> i64 {
    let s = t.as_str().expect("time string");
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .timestamp_millis()
}

/// The rest of `tests/scenarios/incident.toml`: arithmetic and a choice between two addresses.
fn incident_amplification_and_heaviest_pair() {
    let c = simulate("incident", 20_000);
    let f = findings(&c.bundle);
    let l = &f["loops"][0];
    let amp = l["messages"].as_f64().unwrap_or(0.0) / l["originals"].as_f64().unwrap_or(1.0);
    assert!(
        (l["amplification"].as_f64().unwrap_or(0.0) - amp).abs() < 0.01,
        "incident: amplification {} is not messages/originals = {amp}",
        l["amplification"]
    );
    let heaviest = f["top"]["pairs"][0]["key"].as_str().unwrap_or("");
    let members: Vec<&str> = c.truth["loop_members"]
        .as_array()
        .expect("loop_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        members.iter().any(|m| heaviest.ends_with(m)),
        "incident: the heaviest pair {heaviest:?} does not end at a loop member {members:?}"
    );
}

/// The rest of `tests/scenarios/pingpong.toml`: each round is two auto-replies.
fn pingpong_two_auto_replies_per_round() {
    let c = simulate("pingpong", 20_000);
    let f = findings(&c.bundle);
    let rounds = c.truth["pingpong_rounds"].as_u64().expect("rounds");
    assert_eq!(
        f["loops"][0]["auto_replies"].as_u64(),
        Some(2 * rounds),
        "pingpong: auto-replies of the loop vs 2 × {rounds} rounds"
    );
}

fn trace_follows_a_message_across_servers() {
    let c = simulate("cross-server", 20_000);
    let id = c.truth["cross_server_message_id"].as_str().expect("id");
    let out =
        stdout_of(
            bin()
                .arg("trace")
                .arg(&c.bundle)
                .args(["--message-id", id, "--json", "-q"]),
        );
    let t: Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(t["message_id"], id, "trace of {id}");
    let hops = t["hops"].as_array().expect("hops");
    let times: Vec<i64> = hops.iter().map(|h| ms(&h["time"])).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "trace of {id}: hops out of time order"
    );
    let servers: Vec<&str> = hops.iter().filter_map(|h| h["server"].as_str()).collect();
    assert_eq!(
        servers.first(),
        Some(&"EX01"),
        "trace of {id}: submitted on EX01: {servers:?}"
    );
    assert_eq!(
        servers.last(),
        Some(&"EX02"),
        "trace of {id}: sent out by EX02: {servers:?}"
    );
    let events: Vec<&str> = hops.iter().filter_map(|h| h["event_id"].as_str()).collect();
    assert!(events.contains(&"SUBMIT"), "trace of {id}: {events:?}");
    let last = events.last().copied().unwrap_or("");
    assert!(
        last == "SEND" || last == "SENDEXTERNAL",
        "trace of {id}: {events:?}"
    );
    // The SMTP receive on EX02 is joined to its protocol session.
    let recv = hops
        .iter()
        .find(|h| h["server"] == "EX02" && h["event_id"] == "RECEIVE")
        .unwrap_or_else(|| panic!("trace of {id}: EX02 never receives it"));
    assert!(
        recv["session"]["session_id"]
            .as_str()
            .is_some_and(|s| s.len() == 16),
        "trace of {id}: {recv}"
    );
    // And the text table prints the same hops.
    let out = stdout_of(
        bin()
            .arg("trace")
            .arg(&c.bundle)
            .args(["--message-id", id, "-q"]),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains(id) && text.contains("SUBMIT") && text.contains("EX02"),
        "trace table of {id}: {text}"
    );
}

fn real_files_have_no_loop() {
    let real = common::real("");
    let f = findings(&real);
    assert_eq!(f["loops"], serde_json::json!([]), "real files: loops");
    assert_eq!(f["storms"], serde_json::json!([]), "real files: storms");
    assert_eq!(f["bundle"]["events"], 19, "real files: events");
}

fn same_bundle_same_bytes() {
    let sample = repo("samples/incident.zip");
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |n: &str| {
        let out = bin()
            .arg("report")
            .arg(&sample)
            .arg("-o")
            .arg(dir.path().join(format!("{n}.html")))
            .arg("--json")
            .arg(dir.path().join(format!("{n}.json")))
            .arg("-q")
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "samples/incident.zip, run {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            std::fs::read(dir.path().join(format!("{n}.html"))).expect("html"),
            std::fs::read(dir.path().join(format!("{n}.json"))).expect("json"),
        )
    };
    let (h1, j1) = run("a");
    let (h2, j2) = run("b");
    assert!(h1 == h2, "samples/incident.zip: HTML differs between runs");
    assert!(j1 == j2, "samples/incident.zip: JSON differs between runs");
    assert!(
        h1.len() < 2_000_000,
        "samples/incident.zip: report of {} bytes",
        h1.len()
    );
}

fn sample_bundle_matches_its_truth() {
    let root = repo("samples");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(root.join("incident.truth.json")).expect("truth"))
            .expect("json");
    let f = findings(&root.join("incident.zip"));
    assert_eq!(f["bundle"]["events"], truth["rows"], "sample: events");
    assert_eq!(
        f["loops"][0]["members"], truth["loop_members"],
        "sample: loop members"
    );
    assert_eq!(
        f["loops"][0]["messages"], truth["loop_distinct_messages"],
        "sample: loop messages"
    );
    let flagged: Vec<&Value> = f["client_ips"]
        .as_array()
        .expect("ips")
        .iter()
        .filter(|i| i["anomalous"] == true)
        .collect();
    assert_eq!(flagged.len(), 1, "sample: flagged client IPs {flagged:?}");
    assert_eq!(
        flagged[0]["ip"], truth["unexpected_ip"],
        "sample: the flagged IP"
    );
}
