//! Snapshot tests: the exact output for small fixed inputs, kept beside the tests in
//! `tests/snapshots/` (review a change with `cargo insta review`, or rerun with
//! `INSTA_UPDATE=always` and read the diff). Paths are relative so the output is the same on any
//! machine; only the version number is normalised.

mod common;
use common::{bin, repo, stdout_of};

fn run(args: &[&str]) -> String {
    let out = stdout_of(bin().current_dir(repo("tests/fixtures")).args(args));
    String::from_utf8(out).expect("utf-8")
}

fn normalise(s: &str) -> String {
    s.replace(env!("CARGO_PKG_VERSION"), "VERSION")
}

#[test]
fn report_html_of_the_xss_corpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report.html");
    let out_s = out.to_str().expect("utf-8 path");
    run(&["report", "xss", "-o", out_s, "-q"]);
    let html = std::fs::read_to_string(&out).expect("report");
    insta::assert_snapshot!("xss_report_html", normalise(&html));
}

#[test]
fn findings_json_of_the_xss_corpus() {
    let json = run(&["report", "xss", "-o", "/dev/null", "--json", "-", "-q"]);
    insta::assert_snapshot!("xss_findings_json", normalise(&json));
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = std::fs::metadata("/dev/null")
            .expect("/dev/null")
            .file_type();
        assert!(
            t.is_char_device(),
            "-o /dev/null must write to the device, not replace it"
        );
    }
}

#[test]
fn inspect_table_of_every_format() {
    insta::assert_snapshot!("inspect_formats", run(&["inspect", "formats", "-q"]));
}

#[test]
fn trace_table() {
    insta::assert_snapshot!(
        "trace_m2",
        run(&["trace", "formats", "--message-id", "m2@corp.example", "-q"])
    );
}
