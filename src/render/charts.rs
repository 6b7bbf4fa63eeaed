//! Charts as inline SVG strings, drawn with plotters (which escapes any text it is given). Axis
//! labels are our own numbers and times; periods of loops and storms are shaded behind the data.

use chrono::DateTime;
use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordi64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analyze::queues::QueueReport;
use crate::analyze::sli::Sli;
use crate::analyze::Timeline;
use crate::error::{Error, Result};

fn err(e: impl std::fmt::Display) -> Error {
    Error::Render(format!("drawing a chart: {e}"))
}

pub const BLUE: RGBColor = RGBColor(47, 111, 171);
pub const RED: RGBColor = RGBColor(179, 38, 30);
pub const ORANGE: RGBColor = RGBColor(221, 132, 28);
pub const PURPLE: RGBColor = RGBColor(118, 74, 160);
pub const GREY: RGBColor = RGBColor(150, 160, 170);
const SHADE: RGBAColor = RGBAColor(179, 38, 30, 0.10);
const SHADE_STORM: RGBAColor = RGBAColor(221, 132, 28, 0.12);

fn label(ms: i64, with_date: bool) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) if with_date => t.format("%m-%d %H:%M").to_string(),
        Some(t) => t.format("%H:%M").to_string(),
        None => String::new(),
    }
}

/// A named, coloured series and how to read its value from a data point.
type Series<P, V> = (&'static str, RGBColor, fn(&P) -> V);

/// A shaded stretch of time: (start, end, is_loop).
pub type Period = (i64, i64, bool);

const W: u32 = 960;

/// The axes every chart here shares: UTC time across, one value up, a light grid. `y_fmt`
/// replaces plotters' own number labels where given.
#[allow(clippy::type_complexity)]
fn time_chart<'a, 'b, Y>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x: Range<i64>,
    y: Range<Y>,
    y_desc: &str,
    y_fmt: Option<&dyn Fn(&Y) -> String>,
) -> Result<
    ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<RangedCoordi64, <Range<Y> as AsRangedCoord>::CoordDescType>,
    >,
>
where
    Range<Y>: AsRangedCoord<Value = Y>,
    <Range<Y> as AsRangedCoord>::CoordDescType: Ranged<ValueType = Y> + ValueFormatter<Y>,
{
    root.fill(&WHITE).map_err(err)?;
    let multi_day = x.end - x.start > 86_400_000;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(26)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    let x_fmt = |ms: &i64| label(*ms, multi_day);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(8)
        .y_labels(5)
        .x_label_formatter(&x_fmt)
        .y_desc(y_desc);
    if let Some(f) = y_fmt {
        mesh.y_label_formatter(f);
    }
    mesh.draw().map_err(err)?;
    Ok(chart)
}

const THOUSANDS: &dyn Fn(&u64) -> String = &|v| crate::human::thousands(*v);

/// Rows per bucket, stacked by category, with loop and storm periods shaded.
pub fn timeline_svg(t: &Timeline, periods: &[Period]) -> Result<String> {
    let mut svg = String::new();
    if t.points.is_empty() {
        return Ok(svg);
    }
    let width = t.bucket_seconds * 1000;
    let first = t.points[0].start_ms;
    let last = t.points[t.points.len() - 1].start_ms + width;
    let max = t.points.iter().map(|p| p.events).max().unwrap_or(1).max(1);
    {
        let root = SVGBackend::with_string(&mut svg, (W, 320)).into_drawing_area();
        let desc = format!("rows per {} min", (t.bucket_seconds / 60).max(1));
        let mut chart = time_chart(
            &root,
            first..last,
            0u64..(max + max / 10 + 1),
            &desc,
            Some(THOUSANDS),
        )?;
        let top = max + max / 10 + 1;
        chart
            .draw_series(periods.iter().map(|&(a, b, is_loop)| {
                Rectangle::new(
                    [(a.max(first), 0), (b.min(last), top)],
                    if is_loop { SHADE } else { SHADE_STORM }.filled(),
                )
            }))
            .map_err(err)?;
        let series: [Series<crate::analyze::TimePoint, u64>; 4] = [
            ("ordinary", BLUE, |p| p.ordinary),
            ("failures", RED, |p| p.failures),
            ("notifications", ORANGE, |p| p.notifications),
            ("loop", PURPLE, |p| p.loop_rows),
        ];
        for (k, &(name, color, _)) in series.iter().enumerate() {
            chart
                .draw_series(t.points.iter().map(|p| {
                    let base: u64 = series[..k].iter().map(|s| (s.2)(p)).sum();
                    let v = (series[k].2)(p);
                    Rectangle::new(
                        [(p.start_ms, base), (p.start_ms + width, base + v)],
                        color.filled(),
                    )
                }))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// One series of (time, value) as bars, e.g. a loop's messages per minute.
pub fn bars_svg(
    points: &[(i64, u64)],
    bucket_ms: i64,
    y_desc: &str,
    color: RGBColor,
) -> Result<String> {
    let mut svg = String::new();
    if points.is_empty() {
        return Ok(svg);
    }
    let first = points[0].0;
    let last = points[points.len() - 1].0 + bucket_ms;
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1);
    {
        let root = SVGBackend::with_string(&mut svg, (W, 220)).into_drawing_area();
        let mut chart = time_chart(
            &root,
            first..last,
            0u64..(max + max / 10 + 1),
            y_desc,
            Some(THOUSANDS),
        )?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(t, v)| Rectangle::new([(t, 0), (t + bucket_ms, v)], color.filled())),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Non-success ratio per window (percent) and latency percentiles per window (seconds).
pub fn sli_svgs(s: &Sli, periods: &[Period]) -> Result<(String, String)> {
    if s.windows.is_empty() {
        return Ok((String::new(), String::new()));
    }
    let w = s.window_seconds * 1000;
    let first = s.windows[0].start_ms;
    let last = s.windows[s.windows.len() - 1].start_ms + w;
    let mut fail = String::new();
    {
        let root = SVGBackend::with_string(&mut fail, (W, 220)).into_drawing_area();
        let mut chart = time_chart(&root, first..last, 0f64..100f64, "non-success %", None)?;
        chart
            .draw_series(periods.iter().map(|&(a, b, is_loop)| {
                Rectangle::new(
                    [(a.max(first), 0.0), (b.min(last), 100.0)],
                    if is_loop { SHADE } else { SHADE_STORM }.filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                s.windows
                    .iter()
                    .filter(|x| x.messages > 0)
                    .map(|x| (x.start_ms + w / 2, x.failure_ratio * 100.0)),
                RED.stroke_width(2),
            ))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    let mut lat = String::new();
    let max = s
        .windows
        .iter()
        .filter_map(|x| x.latency_ms.p99)
        .max()
        .unwrap_or(1000)
        .max(1000) as f64
        / 1000.0;
    {
        let root = SVGBackend::with_string(&mut lat, (W, 240)).into_drawing_area();
        let mut chart = time_chart(&root, first..last, 0f64..(max * 1.1), "latency, s", None)?;
        let lines: [Series<crate::analyze::sli::Latency, Option<i64>>; 3] = [
            ("p50", BLUE, |l| l.p50),
            ("p95", ORANGE, |l| l.p95),
            ("p99", RED, |l| l.p99),
        ];
        for (name, color, get) in lines {
            chart
                .draw_series(LineSeries::new(
                    s.windows.iter().filter_map(|x| {
                        get(&x.latency_ms).map(|v| (x.start_ms + w / 2, v as f64 / 1000.0))
                    }),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok((fail, lat))
}

/// Queue velocity per minute (the minute's lowest value), growing periods shaded.
pub fn queue_svg(q: &QueueReport) -> Result<String> {
    let mut svg = String::new();
    if q.series.is_empty() {
        return Ok(svg);
    }
    let first = q.series[0].t;
    let last = q.series[q.series.len() - 1].t + 60_000;
    let lo = q
        .series
        .iter()
        .map(|p| p.velocity)
        .fold(0.0, f64::min)
        .min(-1.0);
    let hi = q
        .series
        .iter()
        .map(|p| p.velocity)
        .fold(0.0, f64::max)
        .max(1.0);
    {
        let root = SVGBackend::with_string(&mut svg, (W, 220)).into_drawing_area();
        let mut chart = time_chart(
            &root,
            first..last,
            (lo * 1.1)..(hi * 1.1),
            "velocity, msg/s",
            None,
        )?;
        chart
            .draw_series(q.growing.iter().map(|g| {
                Rectangle::new(
                    [(g.start_ms, lo * 1.1), (g.end_ms, hi * 1.1)],
                    SHADE.filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                [(first, 0.0), (last, 0.0)],
                GREY.stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                q.series.iter().map(|p| (p.t + 30_000, p.velocity)),
                BLUE.stroke_width(1),
            ))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
