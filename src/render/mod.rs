//! The render stage: [`Findings`] in, one self-contained HTML file out. Templates are compiled
//! into the binary (the tool works from any folder, offline) unless `--template-dir` overrides
//! them; charts and diagrams are inline SVG. Every value from the logs goes through Tera's HTML
//! escaping, and the page's Content-Security-Policy lets only our own inline script run (by its
//! hash), so even an escaping mistake could not execute script that came from the data.

pub mod charts;
pub mod diagrams;

use std::path::PathBuf;

use base64::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tera::{Context, Tera};

use crate::analyze::Findings;
use crate::error::{Error, Result};
use crate::human;

const REPORT: &str = include_str!("../../templates/report.html");
const STYLE: &str = include_str!("../../templates/style.css");
const SCRIPT: &str = include_str!("../../templates/sort.js");

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Folder with `report.html` (and optionally `style.css`, `sort.js`) to use instead of the
    /// built-in templates.
    pub template_dir: Option<PathBuf>,
    /// Text of the run time to print, when asked for (`--stamp`).
    pub stamp: Option<String>,
}

fn read_override(dir: &std::path::Path, name: &str, builtin: &'static str) -> Result<String> {
    let p = dir.join(name);
    if p.exists() {
        std::fs::read_to_string(&p).map_err(|e| Error::Io { path: p, source: e })
    } else {
        Ok(builtin.to_string())
    }
}

fn tera(opts: &RenderOptions) -> Result<(Tera, String)> {
    let (report, style, script) = match &opts.template_dir {
        Some(dir) => {
            if !dir.join("report.html").exists() {
                return Err(Error::BadOption {
                    option: "--template-dir",
                    detail: format!("{} has no report.html", dir.display()),
                });
            }
            (
                read_override(dir, "report.html", REPORT)?,
                read_override(dir, "style.css", STYLE)?,
                read_override(dir, "sort.js", SCRIPT)?,
            )
        }
        None => (REPORT.to_string(), STYLE.to_string(), SCRIPT.to_string()),
    };
    let mut t = Tera::default();
    // The `.html` name turns autoescaping on for the page.
    t.add_raw_templates(vec![("report.html", report), ("style.css", style)])
        .map_err(|e| Error::Render(chain(&e)))?;
    register_filters(&mut t);
    Ok((t, script))
}

/// All filters in one place.
fn register_filters(t: &mut Tera) {
    t.register_filter("thousands", thousands_filter);
    t.register_filter("pct", pct_filter);
    t.register_filter("secs", secs_filter);
    t.register_filter("hm", hm_filter);
    t.register_filter("meaning", meaning_filter);
}

type Args = std::collections::HashMap<String, tera::Value>;

fn thousands_filter(v: &tera::Value, _: &Args) -> tera::Result<tera::Value> {
    Ok(match v.as_i64() {
        Some(n) => tera::Value::String(human::thousands_signed(n)),
        None => match v.as_u64() {
            Some(n) => tera::Value::String(human::thousands(n)),
            None => v.clone(),
        },
    })
}

fn pct_filter(v: &tera::Value, _: &Args) -> tera::Result<tera::Value> {
    Ok(match v.as_f64() {
        Some(x) => tera::Value::String(format!("{:.2}%", x * 100.0)),
        None => tera::Value::String("–".into()),
    })
}

fn secs_filter(v: &tera::Value, _: &Args) -> tera::Result<tera::Value> {
    Ok(tera::Value::String(match v.as_i64() {
        Some(_) => human::secs(v.as_i64()),
        None => "–".into(),
    }))
}

fn hm_filter(v: &tera::Value, _: &Args) -> tera::Result<tera::Value> {
    Ok(tera::Value::String(
        v.as_str().map_or_else(|| "–".into(), human::second),
    ))
}

fn meaning_filter(v: &tera::Value, _: &Args) -> tera::Result<tera::Value> {
    Ok(tera::Value::String(
        crate::analyze::flow::meaning(v.as_str().unwrap_or("")).to_string(),
    ))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Pictures for one loop.
#[derive(Serialize)]
struct LoopView {
    diagram: String,
    timeline: String,
}

#[derive(Serialize)]
struct QueueView {
    server: String,
    chart: String,
}

pub fn html(f: &Findings, opts: &RenderOptions) -> Result<String> {
    let (t, script) = tera(opts)?;
    let mut periods: Vec<charts::Period> = f
        .loops
        .iter()
        .map(|l| (l.start_ms, l.end_ms, true))
        .collect();
    periods.extend(
        f.storms
            .iter()
            .filter(|s| s.kind != "broadcast")
            .map(|s| (s.start_ms, s.end_ms, false)),
    );
    let mut ctx = Context::from_serialize(f).map_err(|e| Error::Render(chain(&e)))?;
    ctx.insert(
        "timeline_svg",
        &charts::timeline_svg(&f.timeline, &periods)?,
    );
    let loops: Vec<LoopView> = f
        .loops
        .iter()
        .map(|l| {
            Ok(LoopView {
                diagram: diagrams::loop_svg(l),
                timeline: charts::bars_svg(
                    &l.per_minute,
                    60_000,
                    "loop msgs / min",
                    charts::PURPLE,
                )?,
            })
        })
        .collect::<Result<_>>()?;
    ctx.insert("loop_views", &loops);
    ctx.insert("flow_svg", &diagrams::flow_svg(&f.server_flow));
    let (fail_svg, latency_svg) = charts::sli_svgs(&f.sli, &periods)?;
    ctx.insert("sli_failure_svg", &fail_svg);
    ctx.insert("sli_latency_svg", &latency_svg);
    let queues: Vec<QueueView> = f
        .queues
        .iter()
        .map(|q| {
            Ok(QueueView {
                server: q.server.clone(),
                chart: charts::queue_svg(q)?,
            })
        })
        .collect::<Result<_>>()?;
    ctx.insert("queue_views", &queues);
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    ctx.insert("stamp", &opts.stamp);
    ctx.insert("script", &script);
    let hash = BASE64_STANDARD.encode(Sha256::digest(script.as_bytes()));
    ctx.insert(
        "csp",
        &format!("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'"),
    );
    t.render("report.html", &ctx)
        .map_err(|e| Error::Render(chain(&e)))
}
