//! The bundle at a glance: tracking rows per time bucket, split into loop traffic, other
//! notifications, failures and ordinary mail. Buckets cover the bundle's populated periods only
//! (a row dated years away is a period of its own, not millions of empty buckets), and the chart
//! draws a break between periods.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze::model::{Class, NONE};
use crate::analyze::series::{Axis, MINUTE_MS};
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::error::Result;
use crate::human::rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeline {
    pub bucket_seconds: i64,
    /// The populated periods (a chart draws a break between them).
    pub periods: Vec<TimePeriod>,
    pub points: Vec<TimePoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimePeriod {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimePoint {
    pub start: String,
    pub t: i64,
    pub events: u64,
    /// Rows of loop messages and of the originals feeding loops.
    pub loop_rows: u64,
    /// Notification and auto-reply rows outside loops.
    pub notifications: u64,
    /// FAIL/DEFER rows outside loops.
    pub failures: u64,
    /// Everything else.
    pub ordinary: u64,
}

/// A bucket size (minutes) that gives at most a few hundred points over `minutes`.
pub fn bucket_minutes(minutes: usize) -> usize {
    const STEPS: [usize; 8] = [1, 5, 15, 30, 60, 180, 360, 1440];
    STEPS
        .into_iter()
        .find(|s| minutes / s <= 360)
        .unwrap_or_else(|| (minutes / 360 / 1440 + 1) * 1440)
}

pub struct TimelineDetector;

impl Detector for TimelineDetector {
    fn key(&self) -> &'static str {
        "timeline"
    }
    fn title(&self) -> &'static str {
        "Timeline"
    }
    fn stage(&self) -> Stage {
        Stage::Third
    }
    fn place(&self) -> Place {
        Place::Incident
    }
    fn template(&self) -> Option<&'static str> {
        None
    }
    fn methods(&self, _: &Params) -> String {
        "Tracking rows per bucket over the bundle's populated periods (rows more than an hour apart, with nothing between, start a new period; the chart breaks between periods).".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let axis = Axis::of(m.time.iter().copied());
        let step = bucket_minutes(axis.len);
        let mut points: Vec<TimePoint> = Vec::new();
        let mut start_of_period = Vec::new();
        for &(a, n) in &axis.periods {
            let first = a.div_euclid(step as i64) * step as i64;
            start_of_period.push(points.len());
            let mut b = first;
            while b < a + n as i64 {
                points.push(TimePoint {
                    start: rfc3339(b * MINUTE_MS),
                    t: b * MINUTE_MS,
                    events: 0,
                    loop_rows: 0,
                    notifications: 0,
                    failures: 0,
                    ordinary: 0,
                });
                b += step as i64;
            }
        }
        let in_loop = |i: u32| {
            cx.board.in_loop.get(i as usize).copied().unwrap_or(false)
                || cx.board.feeds_loop.get(i as usize).copied().unwrap_or(0) > 0
        };
        // Rows counted in stretches side by side (per bucket: loop rows, notifications,
        // failures, ordinary), then added up.
        let ts: Vec<i64> = points.iter().map(|p| p.t).collect();
        let counts = (0..m.n)
            .into_par_iter()
            .with_min_len(1 << 16)
            .fold(
                || vec![[0u64; 4]; ts.len()],
                |mut acc, r| {
                    if let Some(k) = ts.partition_point(|&b| b <= m.time[r]).checked_sub(1) {
                        let id = m.msg[r];
                        let what = if id != NONE && in_loop(id) {
                            0
                        } else if id != NONE && m.msgs[id as usize].class != Class::Original {
                            1
                        } else if m.ev[r].is_failure()
                            || m.ev[r] == crate::analyze::model::classify::Ev::Defer
                        {
                            2
                        } else {
                            3
                        };
                        acc[k][what] += 1;
                    }
                    acc
                },
            )
            .reduce(
                || vec![[0u64; 4]; ts.len()],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(&b) {
                        for (u, v) in x.iter_mut().zip(y) {
                            *u += v;
                        }
                    }
                    a
                },
            );
        for (p, c) in points.iter_mut().zip(&counts) {
            p.loop_rows = c[0];
            p.notifications = c[1];
            p.failures = c[2];
            p.ordinary = c[3];
            p.events = c.iter().sum();
        }
        let periods = axis
            .periods
            .iter()
            .map(|&(a, n)| TimePeriod {
                start: rfc3339(a * MINUTE_MS),
                end: rfc3339((a + n as i64) * MINUTE_MS - 1),
            })
            .collect();
        Detected::value(
            "timeline",
            Timeline {
                bucket_seconds: step as i64 * 60,
                periods,
                points,
            },
        )
    }
}
