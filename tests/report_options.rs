//! Report options that change the output: `--template-dir`, `--stamp`, the SLO flags.

use std::path::Path;

use assert_cmd::Command;

fn sample() -> std::path::PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("samples/incident.zip")
}

fn report(extra: &[&str], out: &Path) -> std::process::Output {
    Command::cargo_bin("mailforensics")
        .expect("binary")
        .arg("report")
        .arg(sample())
        .arg("-o")
        .arg(out)
        .arg("-q")
        .args(extra)
        .output()
        .expect("runs")
}

#[test]
fn template_dir_overrides_the_built_in_templates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tpl = dir.path().join("tpl");
    std::fs::create_dir(&tpl).expect("mkdir");
    std::fs::write(
        tpl.join("report.html"),
        "<html><body><h1>Custom</h1>{% for l in loops %}<p class=loop>{{ l.members | join(sep=\" & \") }} {{ l.messages | thousands }}</p>{% endfor %}<p>{{ \"<b>\" }}</p></body></html>",
    )
    .expect("write template");
    let out = dir.path().join("r.html");
    let o = report(&["--template-dir", tpl.to_str().expect("utf-8")], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).expect("html");
    assert!(html.starts_with("<html><body><h1>Custom</h1>"));
    assert!(
        html.contains(
            "<p class=loop>healthcheck@corp.example &amp; ops.alerts@corp.example 2,431</p>"
        ),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;"),
        "user templates are autoescaped too"
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let o = report(
        &["--template-dir", empty.to_str().expect("utf-8")],
        &dir.path().join("x.html"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no report.html"));
}

#[test]
fn stamp_adds_the_run_time_and_nothing_else_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.html"), dir.path().join("b.html"));
    assert!(report(&[], &a).status.success());
    assert!(report(&["--stamp"], &b).status.success());
    let (a, b) = (
        std::fs::read_to_string(a).expect("a"),
        std::fs::read_to_string(b).expect("b"),
    );
    assert!(!a.contains(" on 20"), "no wall-clock time by default");
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(
        b.contains(&format!(" on {year}-")),
        "--stamp prints the run time"
    );
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("Made by mailforensics"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&a), strip(&b));
}

#[test]
fn slo_budget_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r.html");
    let o = Command::cargo_bin("mailforensics")
        .expect("binary")
        .arg("report")
        .arg(sample())
        .arg("-o")
        .arg(&out)
        .args([
            "-q",
            "--slo-latency",
            "200ms",
            "--slo-target",
            "99",
            "--json",
            "-",
        ])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let slo = &f["sli"]["slo"];
    assert_eq!(slo["latency_ms"], 200);
    assert_eq!(slo["target"], 0.99);
    let bad = slo["bad"].as_u64().expect("bad");
    let total = f["sli"]["messages"].as_u64().expect("messages");
    assert!(bad > 0 && bad < total);
    let good = slo["good_ratio"].as_f64().expect("good");
    assert!((slo["budget_burned"].as_f64().expect("burn") - (1.0 - good) / 0.01).abs() < 0.01);
    assert!(std::fs::read_to_string(&out)
        .expect("html")
        .contains("error budget burned"));
    let o = report(&["--slo-target", "100"], &dir.path().join("x.html"));
    assert_eq!(o.status.code(), Some(2));
}
