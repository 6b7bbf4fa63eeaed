//! The analyze stage: frames in, [`Findings`] out. `Findings` is the contract with rendering
//! and the JSON output; everything the report shows is in it, computed here.

use std::collections::HashMap;

use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::ingest::fields::rfc3339;
use crate::ingest::{Inventory, Loaded};

/// Everything the report says, and the `report --json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    /// The inventory (`inspect --json`), unchanged.
    pub bundle: Inventory,
    /// Message-tracking rows per event id, most frequent first.
    pub event_counts: Vec<Count>,
    /// Rows per time bucket over the whole bundle.
    pub timeline: Timeline,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub bucket_seconds: i64,
    pub points: Vec<TimePoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimePoint {
    pub start: String,
    #[serde(skip)]
    pub start_ms: i64,
    pub events: u64,
}

pub fn analyze(loaded: Loaded) -> Result<Findings> {
    let Loaded { inventory, frames } = loaded;
    let Some(frames) = frames else {
        return Err(crate::Error::Other("internal: frames were not built".into()));
    };
    let ev = &frames.events;
    let event_counts = count_by(ev.column("event_id")?.str()?);
    let times = ev.column("time")?.datetime()?.physical().clone();
    let timeline = timeline(&times);
    Ok(Findings {
        bundle: inventory,
        event_counts,
        timeline,
    })
}

/// Counts of a text column's values, most frequent first, ties by name (deterministic).
pub fn count_by(col: &StringChunked) -> Vec<Count> {
    let mut m: HashMap<&str, u64> = HashMap::new();
    for v in col.iter() {
        *m.entry(v.unwrap_or("(none)")).or_default() += 1;
    }
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(k, c)| Count {
            key: k.to_string(),
            count: c,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v
}

/// A bucket size that gives at most a few hundred points over `span_ms`.
pub fn bucket_for(span_ms: i64) -> i64 {
    const STEPS: [i64; 8] = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400];
    STEPS
        .into_iter()
        .find(|s| span_ms / (s * 1000) <= 360)
        .unwrap_or(86400)
}

pub fn timeline(times: &Int64Chunked) -> Timeline {
    let (Some(min), Some(max)) = (times.min(), times.max()) else {
        return Timeline {
            bucket_seconds: 60,
            points: Vec::new(),
        };
    };
    let bucket = bucket_for(max - min);
    let width = bucket * 1000;
    let first = min.div_euclid(width) * width;
    let n = ((max - first) / width + 1) as usize;
    let mut counts = vec![0u64; n];
    for t in times.iter().flatten() {
        let i = ((t - first) / width) as usize;
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    Timeline {
        bucket_seconds: bucket,
        points: counts
            .into_iter()
            .enumerate()
            .map(|(i, events)| {
                let start_ms = first + i as i64 * width;
                TimePoint {
                    start: rfc3339(start_ms),
                    start_ms,
                    events,
                }
            })
            .collect(),
    }
}
