//! Scenario tests: the generator writes a bundle with a known truth (`simulate --truth`), the
//! binary analyses it, and the findings must match the truth.

use std::path::PathBuf;

use serde_json::Value;

mod common;
use common::{bin, findings, repo, stdout_of};

struct Case {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    truth: Value,
}

fn simulate(scenario: &str, events: u64) -> Case {
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
    Case {
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

#[test]
fn incident_inbox_full_loop() {
    let c = simulate("incident", 20_000);
    let f = findings(&c.bundle);
    let t = &c.truth;
    let loops = f["loops"].as_array().expect("loops");
    assert_eq!(loops.len(), 1, "{loops:#?}");
    let l = &loops[0];
    assert_eq!(l["members"], t["loop_members"]);
    assert_eq!(l["messages"], t["loop_distinct_messages"]);
    assert_eq!(l["originals"], t["originals_feeding_loop"]);
    assert_eq!(l["max_generation"], t["loop_max_generation"]);
    let amp = l["messages"].as_f64().unwrap_or(0.0) / l["originals"].as_f64().unwrap_or(1.0);
    assert!((l["amplification"].as_f64().unwrap_or(0.0) - amp).abs() < 0.01);
    // Onset: the loop starts with the first quota failure.
    assert!(
        (ms(&l["first_seen"]) - ms(&t["loop_onset"])).abs() < 1000,
        "{} vs {}",
        l["first_seen"],
        t["loop_onset"]
    );
    let codes = l["status_codes"].as_object().expect("codes");
    assert!(codes["5.2.2"].as_u64().unwrap_or(0) > 100);
    assert!(codes["5.1.1"].as_u64().unwrap_or(0) > 100);
    assert!(l["peak_per_minute"].as_u64().unwrap_or(0) > 5);
    assert_eq!(l["servers"], serde_json::json!(["EX01", "EX02"]));
    assert!(l["fed_by"]
        .as_array()
        .expect("fed_by")
        .iter()
        .any(|x| x == "192.0.2.44"));
    // Evidence points at real lines of real entries.
    let entries: Vec<&str> = t["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let ev = l["evidence"].as_array().expect("evidence");
    assert!(ev.len() >= 3);
    for e in ev {
        assert!(entries.contains(&e["path"].as_str().unwrap_or("")), "{e}");
        assert!(e["line"].as_u64().unwrap_or(0) > 5);
    }
    // The mailbox that filled, and when.
    let full = &f["mailbox_full"][0];
    assert_eq!(full["mailbox"], t["quota_first_failure"][0]);
    assert_eq!(full["first_failure"], t["quota_first_failure"][1]);
    assert!(f["summary"][0]
        .as_str()
        .unwrap_or("")
        .contains("bounce loop"));
    // The address-flow graph carries the loop's traffic on its heaviest edges.
    let af = &f["top"]["address_flow"];
    assert!(af["edges"].as_u64().unwrap_or(0) > 100, "{af}");
    assert!(
        af["notification"].as_u64().unwrap_or(0) >= l["notifications"].as_u64().unwrap_or(u64::MAX),
        "{af}"
    );
    assert!(
        af["auto_reply"].as_u64().unwrap_or(0) >= l["auto_replies"].as_u64().unwrap_or(u64::MAX),
        "{af}"
    );
    assert!(
        af["original"].as_u64().unwrap_or(0) >= l["originals"].as_u64().unwrap_or(u64::MAX),
        "{af}"
    );
    let heaviest = f["top"]["pairs"][0]["key"].as_str().unwrap_or("");
    assert!(
        heaviest.ends_with("healthcheck@corp.example")
            || heaviest.ends_with("ops.alerts@corp.example"),
        "{heaviest}"
    );
    // Blast radius: ordinary mail before and during the loop.
    let b = &f["blast_radius"][0];
    assert_eq!(b["finding"], "loop");
    assert_eq!(b["start"], l["first_seen"]);
    assert!(b["before"]["messages"].as_u64().unwrap_or(0) > 50, "{b}");
    assert!(b["during"]["messages"].as_u64().unwrap_or(0) > 50, "{b}");
    assert!(b["during"]["latency_ms"]["p95"].as_i64().is_some(), "{b}");
    assert!(
        b["during"]["failure_ratio"].as_f64().unwrap_or(1.0) < 0.2,
        "ordinary mail mostly gets through: {b}"
    );
}

#[test]
fn auto_reply_ping_pong() {
    let c = simulate("pingpong", 20_000);
    let f = findings(&c.bundle);
    let loops = f["loops"].as_array().expect("loops");
    assert_eq!(loops.len(), 1, "{loops:#?}");
    let l = &loops[0];
    assert_eq!(l["members"], c.truth["pingpong_members"]);
    let rounds = c.truth["pingpong_rounds"].as_u64().expect("rounds");
    assert_eq!(l["auto_replies"].as_u64(), Some(2 * rounds));
    assert_eq!(l["notifications"], 0);
    assert_eq!(l["originals"], 1);
    assert!(f["summary"][0]
        .as_str()
        .unwrap_or("")
        .contains("auto-reply loop"));
}

#[test]
fn quiet_day_with_newsletter_has_no_loop_and_no_storm() {
    let c = simulate("quiet", 20_000);
    let f = findings(&c.bundle);
    assert_eq!(f["loops"], serde_json::json!([]));
    let storms = f["storms"].as_array().expect("storms");
    assert!(
        storms.iter().all(|s| s["kind"] == "broadcast"),
        "{storms:#?}"
    );
    let news = storms
        .iter()
        .find(|s| s["sender"] == c.truth["newsletter_sender"])
        .expect("the newsletter is reported as a broadcast");
    assert_eq!(news["recipient"], Value::Null);
    assert!(
        news["distinct_counterparts"].as_u64().unwrap_or(0)
            >= c.truth["newsletter_recipients"].as_u64().unwrap_or(3000)
    );
    // Honest bounces exist but no mailbox filled and nothing is flagged.
    assert!(f["messages"]["notification"].as_u64().unwrap_or(0) > 0);
    assert_eq!(f["mailbox_full"], serde_json::json!([]));
    assert!(f["summary"]
        .as_array()
        .expect("summary")
        .iter()
        .any(|s| s.as_str().unwrap_or("").contains("No incident found")));
}

#[test]
fn unexpected_client_ip_is_flagged() {
    let c = simulate("unexpected-ip", 20_000);
    let f = findings(&c.bundle);
    let ips = f["client_ips"].as_array().expect("ips");
    let flagged: Vec<&Value> = ips.iter().filter(|i| i["anomalous"] == true).collect();
    assert_eq!(flagged.len(), 1, "{flagged:#?}");
    let ip = flagged[0];
    assert_eq!(ip["ip"], c.truth["unexpected_ip"]);
    assert_eq!(ip["first_seen"], c.truth["unexpected_ip_first_seen"]);
    assert_eq!(ip["messages"], c.truth["unexpected_ip_messages"]);
    assert!(ip["failure_ratio"].as_f64().unwrap_or(0.0) > 0.5);
    assert_eq!(f["loops"], serde_json::json!([]));
}

#[test]
fn queue_grows_for_forty_minutes_then_drains() {
    let c = simulate("queue-growth", 20_000);
    let f = findings(&c.bundle);
    let server = c.truth["queue_growth_server"].as_str().expect("server");
    let (start, end) = (
        ms(&c.truth["queue_growth_start"]),
        ms(&c.truth["queue_growth_end"]),
    );
    for q in f["queues"].as_array().expect("queues") {
        let growing = q["growing"].as_array().expect("growing");
        if q["server"] == server {
            assert_eq!(growing.len(), 1, "{growing:#?}");
            let g = &growing[0];
            assert!(
                (ms(&g["start"]) - start).abs() <= 3 * 60_000,
                "start {}",
                g["start"]
            );
            assert!(
                (ms(&g["end"]) - end).abs() <= 5 * 60_000,
                "end {}",
                g["end"]
            );
            assert!(g["backlog_peak"].as_i64().unwrap_or(0) > 100);
            assert!(g["min_velocity"].as_f64().unwrap_or(0.0) < -0.1);
        } else {
            assert!(
                growing.is_empty(),
                "{} should not grow: {growing:#?}",
                q["server"]
            );
        }
    }
}

#[test]
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
    assert_eq!(t["message_id"], id);
    let hops = t["hops"].as_array().expect("hops");
    let times: Vec<i64> = hops.iter().map(|h| ms(&h["time"])).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
    let servers: Vec<&str> = hops.iter().filter_map(|h| h["server"].as_str()).collect();
    assert_eq!(
        servers.first(),
        Some(&"EX01"),
        "submitted on EX01: {servers:?}"
    );
    assert_eq!(
        servers.last(),
        Some(&"EX02"),
        "sent out by EX02: {servers:?}"
    );
    let events: Vec<&str> = hops.iter().filter_map(|h| h["event_id"].as_str()).collect();
    assert!(events.contains(&"SUBMIT"), "{events:?}");
    let last = events.last().copied().unwrap_or("");
    assert!(last == "SEND" || last == "SENDEXTERNAL", "{events:?}");
    // The SMTP receive on EX02 is joined to its protocol session.
    let recv = hops
        .iter()
        .find(|h| h["server"] == "EX02" && h["event_id"] == "RECEIVE")
        .expect("EX02 receives it");
    assert!(
        recv["session"]["session_id"]
            .as_str()
            .is_some_and(|s| s.len() == 16),
        "{recv}"
    );
    // And the text table prints the same hops.
    let out = stdout_of(
        bin()
            .arg("trace")
            .arg(&c.bundle)
            .args(["--message-id", id, "-q"]),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(id) && text.contains("SUBMIT") && text.contains("EX02"));
}

#[test]
fn real_files_have_no_loop() {
    let real = common::real("");
    let f = findings(&real);
    assert_eq!(f["loops"], serde_json::json!([]));
    assert_eq!(f["storms"], serde_json::json!([]));
    assert_eq!(f["bundle"]["events"], 19);
}

#[test]
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
        assert!(out.status.success());
        (
            std::fs::read(dir.path().join(format!("{n}.html"))).expect("html"),
            std::fs::read(dir.path().join(format!("{n}.json"))).expect("json"),
        )
    };
    let (h1, j1) = run("a");
    let (h2, j2) = run("b");
    assert!(h1 == h2, "HTML differs between runs");
    assert!(j1 == j2, "JSON differs between runs");
    assert!(h1.len() < 2_000_000);
}

#[test]
fn sample_bundle_matches_its_truth() {
    let root = repo("samples");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(root.join("incident.truth.json")).expect("truth"))
            .expect("json");
    let f = findings(&root.join("incident.zip"));
    assert_eq!(f["bundle"]["events"], truth["rows"]);
    assert_eq!(f["loops"][0]["members"], truth["loop_members"]);
    assert_eq!(f["loops"][0]["messages"], truth["loop_distinct_messages"]);
    let flagged: Vec<&Value> = f["client_ips"]
        .as_array()
        .expect("ips")
        .iter()
        .filter(|i| i["anomalous"] == true)
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["ip"], truth["unexpected_ip"]);
}
