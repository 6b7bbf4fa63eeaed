//! Cost follows the data, not the clock: a row dated 9999-12-31, rows ten years apart and a zip
//! of many one-row logs each cost what their rows and bytes cost. Memory is read from the
//! binary's own timings (`MAILFORENSICS_TIMINGS=1` prints the peak resident size), so the bound
//! is checked on the real process.

use std::io::Write;
use std::path::Path;

mod common;
use common::bin;

const FIELDS: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";

fn header() -> String {
    format!("#Software: Microsoft Exchange Server\r\n#Version: 15.01.2507.039\r\n#Log-type: Message Tracking Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n#Fields: {FIELDS}\r\n")
}

fn row(time: &str, n: usize) -> String {
    format!("{time},192.0.2.10,,,EX01,,,SMTP,RECEIVE,{n},<m{n}@corp.example>,,a@corp.example,,1000,1,,,hello,b{}@corp.example,b@corp.example,,Incoming,,,,,Email,,15.01.2507.039\r\n", n % 50)
}

/// Runs `report` with timings on; returns the findings and the peak resident set in KiB.
fn report(bundle: &Path) -> (serde_json::Value, u64, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let html = dir.path().join("r.html");
    let out = bin()
        .arg("report")
        .arg(bundle)
        .arg("-o")
        .arg(&html)
        .args(["--json", "-", "-q"])
        .env("MAILFORENSICS_TIMINGS", "1")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak = stderr
        .lines()
        .filter_map(|l| l.split("VmHWM:").nth(1))
        .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .max()
        .expect("timings print the peak resident size");
    let size = std::fs::metadata(&html).expect("html").len();
    (
        serde_json::from_slice(&out.stdout).expect("findings"),
        peak,
        size,
    )
}

#[test]
fn a_row_dated_9999_is_flagged_not_allocated_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("EX01");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let mut text = header();
    for i in 0..40 {
        text.push_str(&row(&format!("2026-11-16T08:{:02}:00.000Z", i % 60), i));
    }
    text.push_str(&row("9999-12-31T23:59:59.000Z", 98));
    text.push_str(&row("0001-01-01T00:00:00.000Z", 99));
    std::fs::write(folder.join("MSGTRK2026111608-1.LOG"), text).expect("write");
    let (f, peak_kib, html) = report(dir.path());
    let warnings: Vec<&str> = f["bundle"]["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("1 row dated 9999-12-31, far outside")
                && w.contains("MSGTRK2026111608-1.LOG:46")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("1 row dated 0001-01-01") && w.contains(":47")),
        "{warnings:?}"
    );
    // Three periods, a handful of points, no bucket per minute of 10,000 years.
    assert_eq!(f["timeline"]["periods"].as_array().map(Vec::len), Some(3));
    assert!(f["timeline"]["points"].as_array().map_or(0, Vec::len) < 100);
    assert!(f["sli"]["windows"].as_array().map_or(0, Vec::len) <= 12);
    let json = serde_json::to_string(&f).expect("json");
    assert!(json.len() < 200_000, "findings of {} bytes", json.len());
    assert!(html < 500_000, "report of {html} bytes");
    assert!(peak_kib < 300_000, "peak {peak_kib} KiB for 42 rows");
}

#[test]
fn two_rows_ten_years_apart_cost_two_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("EX01");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let text = header() + &row("2016-01-01T00:00:00.000Z", 1) + &row("2026-01-01T00:00:00.000Z", 2);
    std::fs::write(folder.join("MSGTRK2026010100-1.LOG"), text).expect("write");
    let (f, peak_kib, html) = report(dir.path());
    assert_eq!(f["bundle"]["events"], 2);
    assert_eq!(f["timeline"]["periods"].as_array().map(Vec::len), Some(2));
    assert!(f["timeline"]["points"].as_array().map_or(0, Vec::len) <= 4);
    let json = serde_json::to_string(&f).expect("json");
    assert!(json.len() < 200_000, "findings of {} bytes", json.len());
    assert!(html < 500_000, "report of {html} bytes");
    assert!(peak_kib < 300_000, "peak {peak_kib} KiB for 2 rows");
}

#[test]
fn many_one_row_logs_cost_a_small_constant_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zip_path = dir.path().join("many.zip");
    let n = 20_000;
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("create"));
        let opts = zip::write::SimpleFileOptions::default();
        let head = header();
        for i in 0..n {
            let t = format!(
                "2026-11-16T{:02}:{:02}:{:02}.{:03}Z",
                8 + i / 36_000,
                (i / 600) % 60,
                (i / 10) % 60,
                i % 10
            );
            z.start_file(
                format!("EX01/TransportRoles/Logs/MessageTracking/MSGTRK{i:06}.LOG"),
                opts,
            )
            .expect("entry");
            z.write_all(head.as_bytes()).expect("write");
            z.write_all(row(&t, i).as_bytes()).expect("write");
        }
        z.finish().expect("finish");
    }
    let (f, peak_kib, html) = report(&zip_path);
    assert_eq!(f["bundle"]["events"], n as u64);
    assert_eq!(f["bundle"]["files"].as_array().map(Vec::len), Some(n));
    // The report lists the first files and says where the rest are.
    assert!(html < 2_000_000, "report of {html} bytes");
    // The old code needed about 64 KiB per entry; the bound is a third of that.
    assert!(
        peak_kib < 20 * n as u64,
        "peak {peak_kib} KiB for {n} one-row entries"
    );
}
