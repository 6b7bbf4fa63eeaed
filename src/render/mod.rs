//! The render stage: [`Findings`] in, one self-contained HTML file out. The page is one template
//! (`templates/report.html`) around the sections the findings list; each section is its
//! detector's partial (`templates/sections/<key>.html`), all compiled into the binary (the tool
//! works from any folder, offline) unless `--template-dir` overrides them. Filters and functions
//! are registered in one place ([`tera`]); charts and diagrams are inline SVG drawn from the
//! findings by template functions, so the serialised findings are all a template ever sees.
//!
//! Every value from the logs goes through Tera's HTML escaping (or [`esc`] inside SVG), and the
//! page's Content-Security-Policy lets only our own inline script run (by its hash), so even an
//! escaping mistake could not execute script that came from the data.

pub mod charts;
pub mod diagrams;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use base64::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tera::{Context, Tera, Value};

use crate::analyze::detectors::{self, loops::Loop, storms::Storm, timeline::Timeline};
use crate::analyze::{Findings, Place};
use crate::error::{Error, Result};
use crate::human;

const REPORT: &str = include_str!("../../templates/report.html");
const STYLE: &str = include_str!("../../templates/style.css");
const SCRIPT: &str = include_str!("../../templates/sort.js");

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Folder with `report.html` (and optionally `style.css`, `sort.js`, `sections/*.html`) to
    /// use instead of the built-in templates.
    pub template_dir: Option<PathBuf>,
    /// Text of the run time to print, when asked for (`--stamp`).
    pub stamp: Option<String>,
}

/// Escapes text for HTML and SVG content and attribute values (Tera does the same for the
/// page; this is for the SVG the charts and diagrams write themselves).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn read_override(dir: &std::path::Path, name: &str, builtin: &str) -> Result<String> {
    let p = dir.join(name);
    if p.exists() {
        std::fs::read_to_string(&p).map_err(|e| Error::Io { path: p, source: e })
    } else {
        Ok(builtin.to_string())
    }
}

/// The templates, filters and functions, all registered here.
fn tera(opts: &RenderOptions) -> Result<(Tera, String)> {
    let builtin = |name: &str, text: &str| -> Result<String> {
        match &opts.template_dir {
            Some(dir) => read_override(dir, name, text),
            None => Ok(text.to_string()),
        }
    };
    if let Some(dir) = &opts.template_dir {
        if !dir.join("report.html").exists() {
            return Err(Error::BadOption {
                option: "--template-dir",
                detail: format!("{} has no report.html", dir.display()),
            });
        }
    }
    let mut templates = vec![
        ("report.html".to_string(), builtin("report.html", REPORT)?),
        ("style.css".to_string(), builtin("style.css", STYLE)?),
    ];
    for d in detectors::REGISTRY {
        if let Some(t) = d.template() {
            let name = format!("sections/{}.html", d.key());
            let text = builtin(&name, t)?;
            templates.push((name, text));
        }
    }
    let script = builtin("sort.js", SCRIPT)?;
    let mut t = Tera::default();
    // The `.html` names turn autoescaping on.
    t.add_raw_templates(templates).map_err(Error::Render)?;
    t.register_filter("thousands", thousands_filter);
    t.register_filter("pct", pct_filter);
    t.register_filter("secs", secs_filter);
    t.register_filter("hm", hm_filter);
    t.register_filter("meaning", meaning_filter);
    t.register_filter("dirname", |v: &Value, _: &Args| {
        Ok(Value::String(split_path(v.as_str().unwrap_or("")).0.into()))
    });
    t.register_filter("basename", |v: &Value, _: &Args| {
        Ok(Value::String(split_path(v.as_str().unwrap_or("")).1.into()))
    });
    t.register_function("timeline_chart", timeline_chart);
    t.register_function("bars_chart", bars_chart);
    t.register_function("loop_diagram", loop_diagram);
    t.register_function("flow_diagram", flow_diagram);
    t.register_function("sli_charts", sli_charts);
    t.register_function("queue_chart", queue_chart);
    Ok((t, script))
}

type Args = HashMap<String, Value>;

fn thousands_filter(v: &Value, _: &Args) -> tera::Result<Value> {
    Ok(match v.as_i64() {
        Some(n) => Value::String(human::thousands_signed(n)),
        None => match v.as_u64() {
            Some(n) => Value::String(human::thousands(n)),
            None => v.clone(),
        },
    })
}

fn pct_filter(v: &Value, _: &Args) -> tera::Result<Value> {
    Ok(match v.as_f64() {
        Some(x) => Value::String(format!("{:.2}%", x * 100.0)),
        None => Value::String("–".into()),
    })
}

fn secs_filter(v: &Value, _: &Args) -> tera::Result<Value> {
    Ok(Value::String(match v.as_i64() {
        Some(_) => human::secs(v.as_i64()),
        None => "–".into(),
    }))
}

fn hm_filter(v: &Value, _: &Args) -> tera::Result<Value> {
    Ok(Value::String(
        v.as_str().map_or_else(|| "–".into(), human::second),
    ))
}

/// A bundle path cut after its last separator: the folders (with the separator), the file name.
/// Evidence shows the file name alone on paper, where the folders would wrap every row.
fn split_path(p: &str) -> (&str, &str) {
    match p.rfind(['/', '\\']) {
        Some(i) => p.split_at(i + 1),
        None => ("", p),
    }
}

fn meaning_filter(v: &Value, _: &Args) -> tera::Result<Value> {
    Ok(Value::String(
        detectors::tables::meaning(v.as_str().unwrap_or("")).to_string(),
    ))
}

fn arg<T: DeserializeOwned>(args: &Args, name: &str) -> tera::Result<T> {
    let v = args
        .get(name)
        .ok_or_else(|| tera::Error::msg(format!("missing argument `{name}`")))?;
    serde_json::from_value(v.clone())
        .map_err(|e| tera::Error::msg(format!("argument `{name}`: {e}")))
}

fn svg(r: Result<String>) -> tera::Result<Value> {
    r.map(Value::String)
        .map_err(|e| tera::Error::msg(e.to_string()))
}

/// Loop periods (red) and storm periods (orange, broadcasts left out), for shading charts.
fn shades(args: &Args) -> tera::Result<Vec<charts::Period>> {
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis())
            .unwrap_or(0)
    };
    let loops: Vec<Loop> = arg(args, "loops").unwrap_or_default();
    let storms: Vec<Storm> = arg(args, "storms").unwrap_or_default();
    let mut out: Vec<charts::Period> = loops
        .iter()
        .map(|l| (ms(&l.first_seen), ms(&l.last_seen), true))
        .collect();
    out.extend(
        storms
            .iter()
            .filter(|s| s.kind != detectors::storms::StormKind::Broadcast)
            .map(|s| (ms(&s.first_seen), ms(&s.last_seen), false)),
    );
    Ok(out)
}

fn timeline_chart(args: &Args) -> tera::Result<Value> {
    let t: Timeline = arg(args, "timeline")?;
    svg(charts::timeline_svg(&t, &shades(args)?))
}

fn bars_chart(args: &Args) -> tera::Result<Value> {
    let points: Vec<(i64, u64)> = arg(args, "points")?;
    let label: String = arg(args, "label")?;
    svg(charts::bars_svg(&points, 60_000, &label, charts::PURPLE))
}

fn loop_diagram(args: &Args) -> tera::Result<Value> {
    let l: Loop = arg(args, "l")?;
    Ok(Value::String(diagrams::loop_svg(&l)))
}

fn flow_diagram(args: &Args) -> tera::Result<Value> {
    let f = arg(args, "flow")?;
    Ok(Value::String(diagrams::flow_svg(&f)))
}

fn sli_charts(args: &Args) -> tera::Result<Value> {
    let s = arg(args, "sli")?;
    let t: Timeline = arg(args, "timeline")?;
    let (fail, lat) = charts::sli_svgs(&s, &charts::map_of(&t), &shades(args)?)
        .map_err(|e| tera::Error::msg(e.to_string()))?;
    Ok(serde_json::json!({ "failures": fail, "latency": lat }))
}

fn queue_chart(args: &Args) -> tera::Result<Value> {
    let q = arg(args, "q")?;
    let t: Timeline = arg(args, "timeline")?;
    svg(charts::queue_svg(&q, &charts::map_of(&t)))
}

/// Files of one kind on one server, as the printed appendix lists them: on paper a list of
/// hundreds of files would bury the findings, so paper gets one line per server and kind (the
/// screen, and the JSON, keep every file with its hash).
#[derive(Serialize)]
struct FileGroup<'a> {
    server: &'a str,
    kind: crate::ingest::LogKind,
    files: usize,
    rows: u64,
    malformed: u64,
    bytes: u64,
    skipped: usize,
    start: Option<&'a str>,
    end: Option<&'a str>,
}

fn file_groups(files: &[crate::ingest::FileInfo]) -> Vec<FileGroup<'_>> {
    let mut groups: BTreeMap<(&str, crate::ingest::LogKind), FileGroup<'_>> = BTreeMap::new();
    for f in files {
        let server = f.server.as_deref().unwrap_or("–");
        let g = groups.entry((server, f.kind)).or_insert(FileGroup {
            server,
            kind: f.kind,
            files: 0,
            rows: 0,
            malformed: 0,
            bytes: 0,
            skipped: 0,
            start: None,
            end: None,
        });
        g.files += 1;
        g.rows += f.rows;
        g.malformed += f.malformed;
        g.bytes += f.bytes;
        g.skipped += usize::from(f.skipped.is_some());
        // RFC 3339 text in UTC: the smallest string is the earliest time.
        if let Some(s) = f.start.as_deref() {
            if g.start.is_none_or(|x| s < x) {
                g.start = Some(s);
            }
        }
        if let Some(e) = f.end.as_deref() {
            if g.end.is_none_or(|x| e > x) {
                g.end = Some(e);
            }
        }
    }
    groups.into_values().collect()
}

/// A section as the page shows it.
#[derive(Serialize)]
struct Rendered {
    key: &'static str,
    title: &'static str,
    place: Place,
    found: usize,
    html: String,
}

pub fn html(f: &Findings, opts: &RenderOptions) -> Result<String> {
    let (t, script) = tera(opts)?;
    let mut ctx = Context::from_serialize(f).map_err(Error::Render)?;
    let mut sections: Vec<&crate::analyze::Section> = f.sections.iter().collect();
    // Incidents first, then how mail flowed, then the tables; the registry's order within.
    sections.sort_by_key(|s| s.place);
    let mut rendered = Vec::new();
    let mut checked = Vec::new();
    for s in sections {
        if s.place == Place::Incident && s.found == 0 {
            // Nothing found: one line in the report, not a section.
            checked.push(s.title);
            continue;
        }
        ctx.insert("section", s.key);
        let html = t
            .render(&format!("sections/{}.html", s.key), &ctx)
            .map_err(Error::Render)?;
        rendered.push(Rendered {
            key: s.key,
            title: s.title,
            place: s.place,
            found: s.found,
            html,
        });
    }
    let incident_found = f
        .sections
        .iter()
        .any(|s| s.place == Place::Incident && s.found > 0);
    ctx.insert("file_groups", &file_groups(&f.bundle.files));
    ctx.insert("rendered", &rendered);
    ctx.insert("checked", &checked);
    ctx.insert("incident_found", &incident_found);
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    ctx.insert("stamp", &opts.stamp);
    ctx.insert("script", &script);
    let hash = BASE64_STANDARD.encode(Sha256::digest(script.as_bytes()));
    ctx.insert(
        "csp",
        &format!("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{hash}'"),
    );
    t.render("report.html", &ctx).map_err(Error::Render)
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn paths_split_after_their_last_separator() {
        assert_eq!(
            split_path("EX01/Logs/MSGTRK1.LOG"),
            ("EX01/Logs/", "MSGTRK1.LOG")
        );
        assert_eq!(split_path(r"EX01\Logs\a.log"), (r"EX01\Logs\", "a.log"));
        assert_eq!(split_path("a.log"), ("", "a.log"));
        assert_eq!(split_path("dir/"), ("dir/", ""));
    }
}
