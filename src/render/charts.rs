//! Charts as inline SVG strings, drawn with plotters (which escapes any text it is given). Axis
//! labels are our own numbers and times; periods of loops and storms are shaded behind the data.
//!
//! Time runs across the bundle's populated periods only ([`TimeMap`]): a bundle with a row ten
//! years away gets two stretches with a break mark between them, not ten years of empty axis.
//! Ticks fall on round times (whole hours, quarter hours, days) chosen for the span shown.

use std::ops::Range;

use chrono::DateTime;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordi64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::analyze::detectors::queues::QueueReport;
use crate::analyze::detectors::sli::{Latency, Sli};
use crate::analyze::detectors::timeline::{TimePoint, Timeline};
use crate::error::{Error, Result};

fn err<E: std::error::Error + Send + Sync + 'static>(e: E) -> Error {
    Error::Chart(Box::new(e))
}

pub const BLUE: RGBColor = RGBColor(47, 111, 171);
pub const RED: RGBColor = RGBColor(179, 38, 30);
pub const ORANGE: RGBColor = RGBColor(221, 132, 28);
pub const PURPLE: RGBColor = RGBColor(118, 74, 160);
pub const GREY: RGBColor = RGBColor(150, 160, 170);
const SHADE: RGBAColor = RGBAColor(179, 38, 30, 0.10);
const SHADE_STORM: RGBAColor = RGBAColor(221, 132, 28, 0.12);

/// A shaded stretch of time: (start, end, is_loop).
pub type Period = (i64, i64, bool);

/// A named, coloured series and how to read its value from a data point.
type Series<P, V> = (&'static str, RGBColor, fn(&P) -> V);

const W: u32 = 960;

/// Real time to chart x and back, over the populated periods with a small gap between them.
#[derive(Debug, Clone)]
pub struct TimeMap {
    /// (start, end, x of start).
    spans: Vec<(i64, i64, i64)>,
    gap: i64,
    total: i64,
}

impl TimeMap {
    /// The map of some periods (start, end), in any order; overlapping ones are merged.
    pub fn new(periods: &[(i64, i64)]) -> TimeMap {
        let mut p: Vec<(i64, i64)> = periods.iter().filter(|(a, b)| b >= a).copied().collect();
        p.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (a, b) in p {
            match merged.last_mut() {
                Some(l) if a <= l.1 => l.1 = l.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let covered: i64 = merged.iter().map(|(a, b)| (b - a).max(60_000)).sum();
        let gap = if merged.len() > 1 {
            (covered / 40).max(60_000)
        } else {
            0
        };
        let mut spans = Vec::with_capacity(merged.len());
        let mut x = 0;
        for (a, b) in merged {
            spans.push((a, b.max(a + 60_000), x));
            x += (b - a).max(60_000) + gap;
        }
        TimeMap {
            spans,
            gap,
            total: (x - gap).max(1),
        }
    }

    pub fn range(&self) -> Range<i64> {
        0..self.total
    }

    /// x of a time (times between periods go to the nearer edge).
    pub fn x(&self, t: i64) -> i64 {
        let k = self.spans.partition_point(|s| s.0 <= t);
        match k.checked_sub(1).map(|i| self.spans[i]) {
            Some((a, b, x)) if t <= b => x + (t - a),
            Some((_, b, x)) => {
                let next = self.spans.get(k);
                match next {
                    Some(&(na, _, nx)) if na - t < t - b => nx,
                    _ => x + (b - self.spans[k - 1].0),
                }
            }
            None => 0,
        }
    }

    /// The time at x.
    pub fn t(&self, x: i64) -> i64 {
        let k = self.spans.partition_point(|s| s.2 <= x);
        match k.checked_sub(1).map(|i| self.spans[i]) {
            Some((a, b, x0)) => (a + (x - x0)).min(b),
            None => self.spans.first().map_or(0, |s| s.0),
        }
    }

    /// x positions where one period ends and the next begins.
    pub fn breaks(&self) -> Vec<i64> {
        self.spans
            .windows(2)
            .map(|w| w[0].2 + (w[0].1 - w[0].0) + self.gap / 2)
            .collect()
    }

    /// Round ticks: the largest step giving at most `n` ticks over the shown time.
    pub fn ticks(&self, n: usize) -> (Vec<i64>, i64) {
        const STEPS: [i64; 16] = [
            60_000,
            120_000,
            300_000,
            600_000,
            900_000,
            1_800_000,
            3_600_000,
            2 * 3_600_000,
            3 * 3_600_000,
            6 * 3_600_000,
            12 * 3_600_000,
            86_400_000,
            2 * 86_400_000,
            7 * 86_400_000,
            14 * 86_400_000,
            28 * 86_400_000,
        ];
        let shown: i64 = self
            .spans
            .iter()
            .map(|s| s.1 - s.0)
            .sum::<i64>()
            .max(60_000);
        let step = STEPS
            .into_iter()
            .find(|s| shown / s <= n as i64)
            .unwrap_or(((shown / n.max(1) as i64) / 86_400_000 + 1) * 86_400_000);
        let mut ticks = Vec::new();
        for &(a, b, _) in &self.spans {
            let mut t = a.div_euclid(step) * step;
            if t < a {
                t += step;
            }
            while t <= b {
                ticks.push(self.x(t));
                t += step;
            }
        }
        if ticks.is_empty() {
            ticks.push(0);
        }
        (ticks, step)
    }
}

fn label(ms: i64, step: i64, multi_day: bool) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) if step >= 86_400_000 => t.format("%m-%d").to_string(),
        Some(t) if multi_day => t.format("%m-%d %H:%M").to_string(),
        Some(t) => t.format("%H:%M").to_string(),
        None => String::new(),
    }
}

/// The axes every chart here shares: UTC time across (round ticks, breaks between periods),
/// one value up, a light grid. `y_fmt` replaces plotters' own number labels where given.
#[allow(clippy::type_complexity)]
fn time_chart<'a, 'b, Y>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    map: &TimeMap,
    y: Range<Y>,
    y_desc: &str,
    y_fmt: Option<&dyn Fn(&Y) -> String>,
) -> Result<
    ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<
            plotters::coord::combinators::WithKeyPoints<RangedCoordi64>,
            <Range<Y> as AsRangedCoord>::CoordDescType,
        >,
    >,
>
where
    Range<Y>: AsRangedCoord<Value = Y>,
    <Range<Y> as AsRangedCoord>::CoordDescType: Ranged<ValueType = Y> + ValueFormatter<Y>,
{
    root.fill(&WHITE).map_err(err)?;
    let (ticks, step) = map.ticks(9);
    let first = map.t(0);
    let last = map.t(map.range().end);
    let multi_day = first.div_euclid(86_400_000) != last.div_euclid(86_400_000);
    let x: RangedCoordi64 = map.range().into();
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(26)
        .y_label_area_size(60)
        .build_cartesian_2d(x.with_key_points(ticks), y)
        .map_err(err)?;
    let x_fmt = |x: &i64| label(map.t(*x), step, multi_day);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .y_labels(5)
        .x_label_formatter(&x_fmt)
        .y_desc(y_desc);
    if let Some(f) = y_fmt {
        mesh.y_label_formatter(f);
    }
    mesh.draw().map_err(err)?;
    Ok(chart)
}

/// Draws the break marks between periods along the x axis.
fn draw_breaks<DB: DrawingBackend<ErrorType: 'static>, Y: Clone + 'static>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<
            plotters::coord::combinators::WithKeyPoints<RangedCoordi64>,
            impl Ranged<ValueType = Y>,
        >,
    >,
    map: &TimeMap,
    lo: Y,
    hi: Y,
) -> Result<()> {
    chart
        .draw_series(map.breaks().into_iter().map(|x| {
            PathElement::new(vec![(x, lo.clone()), (x, hi.clone())], GREY.stroke_width(2))
        }))
        .map_err(err)?;
    Ok(())
}

const THOUSANDS: &dyn Fn(&u64) -> String = &|v| crate::human::thousands(*v);

/// The time map of a timeline's periods.
pub fn map_of(t: &Timeline) -> TimeMap {
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis())
            .unwrap_or(0)
    };
    let periods: Vec<(i64, i64)> = t
        .periods
        .iter()
        .map(|p| (ms(&p.start), ms(&p.end)))
        .collect();
    TimeMap::new(&periods)
}

/// Rows per bucket, stacked by category, with loop and storm periods shaded.
pub fn timeline_svg(t: &Timeline, shades: &[Period]) -> Result<String> {
    let mut svg = String::new();
    if t.points.is_empty() {
        return Ok(svg);
    }
    let map = map_of(t);
    let width = t.bucket_seconds * 1000;
    let max = t.points.iter().map(|p| p.events).max().unwrap_or(1).max(1);
    let top = max + max / 10 + 1;
    {
        let root = SVGBackend::with_string(&mut svg, (W, 320)).into_drawing_area();
        let desc = format!("rows per {} min", (t.bucket_seconds / 60).max(1));
        let mut chart = time_chart(&root, &map, 0u64..top, &desc, Some(THOUSANDS))?;
        chart
            .draw_series(shades.iter().map(|&(a, b, is_loop)| {
                Rectangle::new(
                    [(map.x(a), 0), (map.x(b), top)],
                    if is_loop { SHADE } else { SHADE_STORM }.filled(),
                )
            }))
            .map_err(err)?;
        let series: [Series<TimePoint, u64>; 4] = [
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
                        [(map.x(p.t), base), (map.x(p.t + width), base + v)],
                        color.filled(),
                    )
                }))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        draw_breaks(&mut chart, &map, 0, top)?;
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
    // The bars' own periods: runs of points less than an hour apart.
    let mut periods: Vec<(i64, i64)> = Vec::new();
    for &(t, _) in points {
        match periods.last_mut() {
            Some(p) if t - p.1 <= crate::analyze::series::Axis::GAP_MS => p.1 = t + bucket_ms,
            _ => periods.push((t, t + bucket_ms)),
        }
    }
    let map = TimeMap::new(&periods);
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1);
    let top = max + max / 10 + 1;
    {
        let root = SVGBackend::with_string(&mut svg, (W, 220)).into_drawing_area();
        let mut chart = time_chart(&root, &map, 0u64..top, y_desc, Some(THOUSANDS))?;
        chart
            .draw_series(points.iter().map(|&(t, v)| {
                Rectangle::new([(map.x(t), 0), (map.x(t + bucket_ms), v)], color.filled())
            }))
            .map_err(err)?;
        draw_breaks(&mut chart, &map, 0, top)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .unwrap_or(0)
}

/// Non-success ratio per window (percent) and latency percentiles per window (seconds).
pub fn sli_svgs(s: &Sli, map: &TimeMap, shades: &[Period]) -> Result<(String, String)> {
    if s.windows.is_empty() {
        return Ok((String::new(), String::new()));
    }
    let w = s.window_seconds * 1000;
    let mut fail = String::new();
    {
        let root = SVGBackend::with_string(&mut fail, (W, 220)).into_drawing_area();
        let mut chart = time_chart(&root, map, 0f64..100f64, "non-success %", None)?;
        chart
            .draw_series(shades.iter().map(|&(a, b, is_loop)| {
                Rectangle::new(
                    [(map.x(a), 0.0), (map.x(b), 100.0)],
                    if is_loop { SHADE } else { SHADE_STORM }.filled(),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(s.windows.iter().map(|x| {
                let t = map.x(ms(&x.start) + w / 2);
                Circle::new((t, x.failure_ratio * 100.0), 2, RED.filled())
            }))
            .map_err(err)?;
        draw_breaks(&mut chart, map, 0.0, 100.0)?;
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
        let mut chart = time_chart(&root, map, 0f64..(max * 1.1), "latency, s", None)?;
        let lines: [Series<Latency, Option<i64>>; 3] = [
            ("p50", BLUE, |l| l.p50),
            ("p95", ORANGE, |l| l.p95),
            ("p99", RED, |l| l.p99),
        ];
        for (name, color, get) in lines {
            chart
                .draw_series(s.windows.iter().filter_map(|x| {
                    get(&x.latency_ms).map(|v| {
                        Circle::new(
                            (map.x(ms(&x.start) + w / 2), v as f64 / 1000.0),
                            2,
                            color.filled(),
                        )
                    })
                }))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 6, y), 3, color.filled()));
        }
        draw_breaks(&mut chart, map, 0.0, max * 1.1)?;
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
pub fn queue_svg(q: &QueueReport, map: &TimeMap) -> Result<String> {
    let mut svg = String::new();
    if q.series.is_empty() {
        return Ok(svg);
    }
    let lo = q
        .series
        .iter()
        .map(|p| p.velocity)
        .fold(0.0, f64::min)
        .min(-1.0)
        * 1.1;
    let hi = q
        .series
        .iter()
        .map(|p| p.velocity)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    {
        let root = SVGBackend::with_string(&mut svg, (W, 220)).into_drawing_area();
        let mut chart = time_chart(&root, map, lo..hi, "velocity, msg/s", None)?;
        chart
            .draw_series(q.growing.iter().map(|g| {
                Rectangle::new(
                    [(map.x(ms(&g.start)), lo), (map.x(ms(&g.end)), hi)],
                    SHADE.filled(),
                )
            }))
            .map_err(err)?;
        let r = map.range();
        chart
            .draw_series(LineSeries::new(
                [(r.start, 0.0), (r.end, 0.0)],
                GREY.stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                q.series
                    .iter()
                    .map(|p| Circle::new((map.x(p.t + 30_000), p.velocity), 1, BLUE.filled())),
            )
            .map_err(err)?;
        draw_breaks(&mut chart, map, lo, hi)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_map_breaks_between_periods_and_ticks_round() {
        let h = 3_600_000;
        let m = TimeMap::new(&[(0, 2 * h), (100 * 24 * h, 100 * 24 * h + h)]);
        assert_eq!(m.x(0), 0);
        assert_eq!(m.x(h), h);
        assert_eq!(m.breaks().len(), 1);
        assert!(m.x(100 * 24 * h) > 2 * h);
        assert_eq!(m.t(m.x(100 * 24 * h + 60_000)), 100 * 24 * h + 60_000);
        let (ticks, step) = m.ticks(9);
        assert_eq!(step, 30 * 60_000);
        assert!(
            ticks.iter().all(|&x| m.t(x).rem_euclid(step) == 0),
            "{ticks:?}"
        );
        // Odd starts still tick at round times.
        let m = TimeMap::new(&[(9 * h + 6 * 60_000 + 17_000, 20 * h)]);
        let (ticks, step) = m.ticks(9);
        assert_eq!(step, 2 * h);
        assert!(ticks.iter().all(|&x| m.t(x).rem_euclid(step) == 0));
    }
}
