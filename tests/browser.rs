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
//!
//! On paper (A4, the print stylesheet's margins), the sample must fit in a bounded number of
//! pages, and its first page must hold the summary, the headline figures and the timeline chart:
//! checked in the DOM laid out for print (print media, the page's printable width) against the
//! printable height. That first page is saved as `report-print.png` beside the screenshot (and to
//! `docs/report-print.png`). A quiet bundle's report must say so at the top and stay short.

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
        self.screenshot_with(to, json!({"format": "png"}));
    }

    fn screenshot_with(&mut self, to: &Path, params: Value) {
        let r = self.call("Page.captureScreenshot", params, true);
        let png = BASE64_STANDARD
            .decode(r["data"].as_str().expect("png data"))
            .expect("base64");
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(to, png).expect("write screenshot");
    }
}

/// A4, and the margins of the print stylesheet's `@page` rule (12 mm, 14 mm at the bottom).
const PAPER_IN: (f64, f64) = (210.0 / 25.4, 297.0 / 25.4);
const MARGIN_MM: (f64, f64, f64) = (12.0, 12.0, 14.0);
/// CSS pixels per millimetre: Chromium lays out print at 96 px to the inch.
const PX_PER_MM: f64 = 96.0 / 25.4;
/// Measured 9 pages for the sample with the incident catalogue's sections (7 before them, 19
/// before the print stylesheet); a little room.
const MAX_SAMPLE_PAGES: usize = 10;

/// The printable area of one page, in CSS pixels.
fn printable() -> (f64, f64) {
    let (w, h) = (PAPER_IN.0 * 25.4, PAPER_IN.1 * 25.4);
    let (side, top, bottom) = MARGIN_MM;
    (
        ((w - 2.0 * side) * PX_PER_MM).floor(),
        ((h - top - bottom) * PX_PER_MM).floor(),
    )
}

/// Prints the open page to PDF as the test's paper size; the stylesheet's `@page` margins apply.
fn print_pdf(b: &mut Browser) -> Vec<u8> {
    let (side, top, bottom) = MARGIN_MM;
    let pdf = b.call(
        "Page.printToPDF",
        json!({
            "printBackground": true,
            "paperWidth": PAPER_IN.0,
            "paperHeight": PAPER_IN.1,
            "marginTop": top / 25.4,
            "marginBottom": bottom / 25.4,
            "marginLeft": side / 25.4,
            "marginRight": side / 25.4,
        }),
        true,
    );
    BASE64_STANDARD
        .decode(pdf["data"].as_str().expect("pdf data"))
        .expect("base64")
}

/// Pages in a PDF as Chromium writes it: one `/Type /Page` object each (the tree is `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let key = b"/Type /Page";
    pdf.windows(key.len() + 1)
        .filter(|w| w.starts_with(key) && !w[key.len()].is_ascii_alphanumeric())
        .count()
}

/// Lays the page out as it prints (print media, one page's printable width) and measures it.
const PRINT_FACTS: &str = r#"JSON.stringify({
  bottom: Object.fromEntries(['#summary .verdict', '#summary .headline', '#chart-timeline']
    .map(sel => [sel, document.querySelector(sel) ? document.querySelector(sel).getBoundingClientRect().bottom + window.scrollY : -1])),
  nextSection: (() => { const s = document.querySelector('#summary + section'); return s ? getComputedStyle(s).breakBefore : 'none'; })(),
  navShown: [...document.querySelectorAll('nav')].some(n => getComputedStyle(n).display !== 'none'),
  sortArrows: getComputedStyle(document.querySelector('table.sortable th[data-sort]') || document.querySelector('table.sortable th'), '::after').content,
  theadRepeats: [...document.querySelectorAll('thead')].every(t => getComputedStyle(t).display === 'table-header-group'),
  fileRowsShown: [...document.querySelectorAll('table.files tbody tr')].filter(r => r.getClientRects().length > 0).length,
  fileGroupsShown: [...document.querySelectorAll('table.files-by-server tbody tr')].filter(r => r.getClientRects().length > 0).length,
  scrollWidth: document.documentElement.scrollWidth,
  tooWide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 3).map(e => (e.closest('section') || {}).id + ' ' + e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
})"#;

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
  bodyText: document.body.innerText.length,
  overflow: document.documentElement.scrollWidth > window.innerWidth,
  tooWide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 3).map(e => (e.closest('section') || {}).id + ' ' + e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
})"#;

#[test]
fn report_in_a_real_browser() {
    let Some(exe) = browser_or_skip() else { return };
    // The repository as cargo names it when it runs the test (a test binary built in another
    // clone that shares the target folder would otherwise look in that clone).
    let root_dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let root = Path::new(&root_dir);
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
    assert_eq!(
        facts["overflow"], false,
        "nothing wider than the window: {facts}"
    );
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
    let update = std::env::var("MAILFORENSICS_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1");
    let shot = dir.path().join("report.png");
    b.screenshot(&shot);
    if update {
        std::fs::create_dir_all(root.join("docs")).expect("docs dir");
        std::fs::copy(&shot, root.join("docs/report.png")).expect("copy screenshot");
    }

    // On paper: a bounded number of pages, and page 1 is the summary, the figures and the
    // timeline.
    let pdf = print_pdf(&mut b);
    std::fs::write(dir.path().join("report.pdf"), &pdf).expect("write pdf");
    let pages = pdf_pages(&pdf);
    eprintln!("sample report: {pages} pages on A4");
    assert!(
        pdf.starts_with(b"%PDF") && pages >= 2,
        "a PDF of the report"
    );
    assert!(
        pages <= MAX_SAMPLE_PAGES,
        "the sample prints on {pages} pages, more than {MAX_SAMPLE_PAGES}"
    );
    let (page_w, page_h) = printable();
    b.call(
        "Emulation.setEmulatedMedia",
        json!({"media": "print"}),
        true,
    );
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": page_w, "height": page_h, "deviceScaleFactor": 1, "mobile": false}),
        true,
    );
    let print: Value =
        serde_json::from_str(b.eval(PRINT_FACTS).as_str().expect("facts")).expect("json");
    for (sel, bottom) in print["bottom"].as_object().expect("bottoms") {
        let bottom = bottom.as_f64().unwrap_or(-1.0);
        assert!(
            bottom > 0.0 && bottom <= page_h,
            "{sel} ends at {bottom:.0} px, past page 1 ({page_h} px): {print}"
        );
    }
    assert_eq!(print["nextSection"], "page", "the findings start on page 2");
    assert_eq!(print["navShown"], false, "no navigation on paper");
    assert_eq!(print["sortArrows"], "none", "no sort arrows on paper");
    assert_eq!(
        print["theadRepeats"], true,
        "table headings repeat on each page"
    );
    // Paper lists the files one line per server and kind; the screen lists every file.
    assert_eq!(
        print["fileRowsShown"], 0,
        "no per-file list on paper: {print}"
    );
    assert!(
        print["fileGroupsShown"].as_u64().unwrap_or(0) >= 2,
        "one line per server and kind on paper: {print}"
    );
    assert!(
        print["scrollWidth"].as_f64().unwrap_or(f64::MAX) <= page_w,
        "nothing wider than the page: {print}"
    );
    let page1 = dir.path().join("report-print.png");
    b.screenshot_with(
        &page1,
        json!({"format": "png", "clip": {"x": 0, "y": 0, "width": page_w, "height": page_h, "scale": 1}}),
    );
    if update {
        std::fs::copy(&page1, root.join("docs/report-print.png")).expect("copy page 1");
    }
    b.call("Emulation.setEmulatedMedia", json!({"media": ""}), true);
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 2300, "deviceScaleFactor": 1, "mobile": false}),
        true,
    );

    let sample_height = b
        .eval("document.documentElement.scrollHeight")
        .as_f64()
        .unwrap_or(0.0);

    // A bundle with no incident: the report says so first, and is short.
    let quiet_zip = dir.path().join("quiet.zip");
    common::stdout_of(
        common::bin()
            .args(["simulate", "--scenario", "quiet", "--events", "5000", "-o"])
            .arg(&quiet_zip),
    );
    let quiet_html = dir.path().join("quiet.html");
    render(&quiet_zip, &quiet_html);
    b.open(&quiet_html);
    assert_eq!(
        b.problems(),
        Vec::<String>::new(),
        "the quiet report loads cleanly"
    );
    let quiet: Value = serde_json::from_str(
        b.eval(
            "JSON.stringify({ calm: !!document.querySelector('#summary .verdict.calm'), \
             first: document.querySelector('#summary .verdict p').textContent, \
             top: document.querySelector('#summary .verdict').getBoundingClientRect().top, \
             checked: document.querySelectorAll('#summary p.checked .ok').length, \
             height: document.documentElement.scrollHeight })",
        )
        .as_str()
        .expect("facts"),
    )
    .expect("json");
    eprintln!(
        "screen heights: sample {sample_height} px, quiet {}",
        quiet["height"]
    );
    assert_eq!(quiet["calm"], true, "{quiet}");
    assert!(
        quiet["first"]
            .as_str()
            .unwrap_or("")
            .starts_with("No incident found"),
        "{quiet}"
    );
    assert!(quiet["top"].as_f64().unwrap_or(f64::MAX) < 300.0, "{quiet}");
    assert!(quiet["checked"].as_u64().unwrap_or(0) >= 3, "{quiet}");
    assert!(
        quiet["height"].as_f64().unwrap_or(f64::MAX) < sample_height * 0.75,
        "shorter than an incident's report: {quiet}"
    );
    b.screenshot(&dir.path().join("quiet.png"));

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
    assert_eq!(facts["overflow"], false, "long payloads wrap: {facts}");
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
