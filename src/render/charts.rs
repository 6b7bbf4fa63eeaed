//! Charts as inline SVG strings. Axis labels are our own numbers and times, never log text, so
//! the SVG can be embedded unescaped.

use chrono::DateTime;
use plotters::prelude::*;

use crate::analyze::Timeline;
use crate::error::{Error, Result};

fn err(e: impl std::fmt::Display) -> Error {
    Error::Render(format!("drawing a chart: {e}"))
}

fn hhmm(ms: i64, with_date: bool) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) if with_date => t.format("%m-%d %H:%M").to_string(),
        Some(t) => t.format("%H:%M").to_string(),
        None => String::new(),
    }
}

/// Events per bucket as bars.
pub fn timeline_svg(t: &Timeline) -> Result<String> {
    let mut svg = String::new();
    if t.points.is_empty() {
        return Ok(svg);
    }
    let first = t.points[0].start_ms;
    let width = t.bucket_seconds * 1000;
    let last = t.points[t.points.len() - 1].start_ms + width;
    let max = t.points.iter().map(|p| p.events).max().unwrap_or(1).max(1);
    let multi_day = last - first > 86_400_000;
    {
        let root = SVGBackend::with_string(&mut svg, (960, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(64)
            .build_cartesian_2d(first..last, 0u64..(max + max / 10 + 1))
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(10)
            .y_labels(6)
            .x_label_formatter(&|ms| hhmm(*ms, multi_day))
            .y_label_formatter(&|v| crate::cmd::thousands(*v))
            .y_desc(format!("events per {} min", t.bucket_seconds / 60))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(t.points.iter().map(|p| {
                Rectangle::new(
                    [(p.start_ms, 0), (p.start_ms + width, p.events)],
                    RGBColor(47, 111, 171).filled(),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
