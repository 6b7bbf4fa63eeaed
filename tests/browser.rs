//! The report in a real browser: headless Chromium, driven over the DevTools protocol, opens the
//! report of the bundled sample and of the XSS corpus. The page must load without console errors
//! or CSP violations, show the summary, the loop diagram and every chart in the rendered DOM, and
//! run no script that came from the logs (no dialog, no injected element, no global set).
//!
//! Chromium is found as `chromium` (or `$MAILFORENSICS_CHROMIUM`). Without it the test says so
//! and passes, so `cargo test` works on a machine with only the Rust toolchain; `.ci/run` installs
//! Chromium and sets `MAILFORENSICS_BROWSER=required`, which turns a missing browser into a
//! failure. The sample's screenshot is saved to the test's temp dir, and to `docs/report.png`
//! when `MAILFORENSICS_UPDATE_SCREENSHOT=1`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

use base64::prelude::*;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

mod common;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MAILFORENSICS_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn browser_or_skip() -> Option<PathBuf> {
    let required = std::env::var("MAILFORENSICS_BROWSER").is_ok_and(|v| v == "required");
    match chromium() {
        Some(p) => Some(p),
        None if required => panic!("MAILFORENSICS_BROWSER=required but no chromium on PATH"),
        None => {
            eprintln!("browser test skipped: no chromium on PATH (apt-get install chromium)");
            None
        }
    }
}

struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: String,
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn launch(exe: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Proc::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium printed its DevTools address");
        let (mut ws, _) = tungstenite::connect(url.as_str()).expect("connect to DevTools");
        if let MaybeTlsStream::Plain(s) = ws.get_mut() {
            s.set_read_timeout(Some(Duration::from_secs(60)))
                .expect("timeout");
        }
        let mut b = Browser {
            child,
            ws,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}), false);
        let target_id = target["targetId"].as_str().expect("target id").to_string();
        let att = b.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
            false,
        );
        b.session = att["sessionId"].as_str().expect("session").to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({}), true);
        }
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 2300, "deviceScaleFactor": 1, "mobile": false}),
            true,
        );
        b
    }

    /// Sends a command and waits for its reply, keeping the events that arrive meanwhile.
    fn call(&mut self, method: &str, params: Value, in_session: bool) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if in_session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .expect("send");
        loop {
            let v = self.read();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().expect("DevTools message") {
                Message::Text(t) => return serde_json::from_str(&t).expect("json"),
                Message::Close(_) => panic!("DevTools closed"),
                _ => continue,
            }
        }
    }

    /// Opens a page and waits for its load event (dismissing any dialog on the way).
    fn open(&mut self, file: &Path) {
        self.events.clear();
        let url = format!("file://{}", file.display());
        self.call("Page.navigate", json!({"url": url}), true);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            assert!(Instant::now() < deadline, "page did not load");
            let v = self.read();
            if v["method"] == "Page.javascriptDialogOpening" {
                self.events.push(v);
                self.call("Page.handleJavaScriptDialog", json!({"accept": true}), true);
                continue;
            }
            self.events.push(v);
        }
        // Let late scripts and CSP reports arrive.
        self.eval("new Promise(r => setTimeout(() => r(1), 300))");
    }

    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            true,
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{js}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Console errors, uncaught exceptions, CSP violations and dialogs seen since `open`.
    fn problems(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e["method"].as_str()? {
                "Runtime.exceptionThrown" => {
                    Some(format!("exception: {}", e["params"]["exceptionDetails"]))
                }
                "Runtime.consoleAPICalled" if e["params"]["type"] == "error" => {
                    Some(format!("console.error: {}", e["params"]["args"]))
                }
                "Log.entryAdded" if e["params"]["entry"]["level"] == "error" => {
                    Some(format!("log error: {}", e["params"]["entry"]["text"]))
                }
                "Page.javascriptDialogOpening" => {
                    Some(format!("dialog: {}", e["params"]["message"]))
                }
                _ => None,
            })
            .collect()
    }

    fn screenshot(&mut self, to: &Path) {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}), true);
        let png = BASE64_STANDARD
            .decode(r["data"].as_str().expect("png data"))
            .expect("base64");
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(to, png).expect("write screenshot");
    }
}

fn render(bundle: &Path, out: &Path) {
    common::stdout_of(
        common::bin()
            .arg("report")
            .arg(bundle)
            .arg("-o")
            .arg(out)
            .arg("-q"),
    );
}

const DOM_FACTS: &str = r#"JSON.stringify({
  summary: (document.querySelector('#summary .verdict') || {}).textContent || '',
  loopDiagramBoxes: document.querySelectorAll('#loop-diagram-1 svg rect').length,
  loopDiagramArrows: document.querySelectorAll('#loop-diagram-1 svg path[marker-end]').length,
  charts: ['#chart-timeline', '#loop-timeline-1', '#chart-failures', '#chart-latency', '#flow-diagram']
    .map(sel => [sel, !!document.querySelector(sel + ' svg') && document.querySelector(sel + ' svg').getBoundingClientRect().height > 50]),
  queueCharts: document.querySelectorAll('#queues figure svg').length,
  scripts: document.scripts.length,
  injectedImages: document.querySelectorAll('img').length,
  injectedSvgHandlers: document.querySelectorAll('[onload],[onerror]').length,
  pwned: typeof window.__pwned !== 'undefined',
  bodyText: document.body.innerText.length
})"#;

#[test]
fn report_in_a_real_browser() {
    let Some(exe) = browser_or_skip() else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let sample_html = dir.path().join("sample.html");
    let xss_html = dir.path().join("xss.html");
    render(&root.join("samples/incident.zip"), &sample_html);
    render(&root.join("tests/fixtures/xss"), &xss_html);

    let mut b = Browser::launch(&exe);

    b.open(&sample_html);
    assert_eq!(
        b.problems(),
        Vec::<String>::new(),
        "the sample report loads cleanly"
    );
    let facts: Value =
        serde_json::from_str(b.eval(DOM_FACTS).as_str().expect("facts")).expect("json");
    assert!(
        facts["summary"]
            .as_str()
            .unwrap_or("")
            .contains("bounce loop"),
        "{facts}"
    );
    assert!(
        facts["loopDiagramBoxes"].as_u64().unwrap_or(0) >= 2,
        "{facts}"
    );
    assert!(
        facts["loopDiagramArrows"].as_u64().unwrap_or(0) >= 2,
        "{facts}"
    );
    for c in facts["charts"].as_array().expect("charts") {
        assert_eq!(c[1], true, "chart {} rendered: {facts}", c[0]);
    }
    // A queue chart only for a server whose queue grew (none did in the sample).
    assert_eq!(facts["queueCharts"].as_u64(), Some(0), "{facts}");
    assert_eq!(facts["scripts"], 1, "only the report's own script");
    // The sort script works: clicking a heading orders the table.
    let sorted = b.eval(
        "(() => { const th = document.querySelector('#top table.sortable th:nth-child(2)'); th.click(); th.click(); \
         const v = [...th.closest('table').tBodies[0].rows].map(r => parseFloat(r.cells[1].textContent.replace(/,/g, ''))); \
         return th.getAttribute('data-sort') === 'desc' && v.every((x, i) => i === 0 || v[i - 1] >= x); })()",
    );
    assert_eq!(sorted, true, "sortable tables sort");
    // It prints: the print stylesheet applies and Chromium makes a PDF of it.
    let pdf = b.call("Page.printToPDF", json!({"printBackground": true}), true);
    let pdf = BASE64_STANDARD
        .decode(pdf["data"].as_str().expect("pdf data"))
        .expect("base64");
    assert!(
        pdf.starts_with(b"%PDF") && pdf.len() > 50_000,
        "a PDF of the report"
    );
    let shot = dir.path().join("report.png");
    b.screenshot(&shot);
    if std::env::var("MAILFORENSICS_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(root.join("docs")).expect("docs dir");
        std::fs::copy(&shot, root.join("docs/report.png")).expect("copy screenshot");
    }

    b.open(&xss_html);
    assert_eq!(
        b.problems(),
        Vec::<String>::new(),
        "no script from the logs ran"
    );
    let facts: Value =
        serde_json::from_str(b.eval(DOM_FACTS).as_str().expect("facts")).expect("json");
    assert_eq!(facts["scripts"], 1, "{facts}");
    assert_eq!(facts["injectedImages"], 0, "{facts}");
    assert_eq!(facts["injectedSvgHandlers"], 0, "{facts}");
    assert_eq!(facts["pwned"], false, "{facts}");
    // The payloads are there, as text.
    let text = b.eval("document.body.innerText");
    let text = text.as_str().unwrap_or("");
    assert!(
        text.contains("<script>alert(1)</script>"),
        "payload shown as text"
    );
    assert!(text.contains("\"><img src=x onerror=alert(1)>@evil.example"));
    let svg_text = b.eval("document.querySelector('#loop-diagram-1 svg').textContent");
    assert!(
        svg_text.as_str().unwrap_or("").contains("<img src=x"),
        "diagram labels escaped, not parsed"
    );
}
