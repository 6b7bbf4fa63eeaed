//! The render stage: [`Findings`] in, one self-contained HTML file out. Templates are compiled
//! into the binary (the tool works from any folder, offline); charts are inline SVG drawn with
//! plotters. Every value from the logs goes through Tera's HTML escaping.

pub mod charts;

use tera::{Context, Tera};

use crate::analyze::Findings;
use crate::error::{Error, Result};

const REPORT: &str = include_str!("../../templates/report.html");
const STYLE: &str = include_str!("../../templates/style.css");

fn tera() -> Result<Tera> {
    let mut t = Tera::default();
    // The `.html` name turns autoescaping on for the page.
    t.add_raw_templates(vec![("report.html", REPORT), ("style.css", STYLE)])
        .map_err(|e| Error::Render(format!("{e:#}")))?;
    t.register_filter("thousands", thousands_filter);
    Ok(t)
}

fn thousands_filter(
    v: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    match v.as_u64() {
        Some(n) => Ok(tera::Value::String(crate::cmd::thousands(n))),
        None => Ok(v.clone()),
    }
}

pub fn html(f: &Findings) -> Result<String> {
    let t = tera()?;
    let mut ctx = Context::from_serialize(f).map_err(|e| Error::Render(e.to_string()))?;
    ctx.insert("timeline_svg", &charts::timeline_svg(&f.timeline)?);
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    t.render("report.html", &ctx).map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        Error::Render(msg)
    })
}
