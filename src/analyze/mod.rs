//! The analyze stage: frames in, [`Findings`] out. `Findings` is the contract with rendering
//! and the JSON output; everything the report shows is in it, computed here.

pub mod clients;
pub mod coverage;
pub mod evidence;
pub mod flow;
pub mod loops;
pub mod model;
pub mod queues;
pub mod sli;
pub mod storms;
pub mod summary;
pub mod trace;

use std::collections::HashMap;

use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::ingest::fields::rfc3339;
use crate::ingest::{Inventory, Loaded};

/// Tunable parts of the analysis (defaults suit a typical incident bundle).
#[derive(Debug, Clone, Copy, Default)]
pub struct Params {
    pub storms: storms::StormParams,
    pub queues: queues::QueueParams,
    pub sli: sli::SliParams,
}

/// Everything the report says, and the `report --json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    /// The inventory (`inspect --json`), unchanged.
    pub bundle: Inventory,
    /// The verdict in a few sentences, written from the findings below.
    pub summary: Vec<String>,
    pub loops: Vec<loops::Loop>,
    pub storms: Vec<storms::Storm>,
    pub mailbox_full: Vec<flow::MailboxFull>,
    pub client_ips: Vec<clients::Source>,
    pub connectors: Vec<clients::Source>,
    pub queues: Vec<queues::QueueReport>,
    pub sli: sli::Sli,
    pub blast_radius: Vec<sli::BlastRadius>,
    pub coverage: Vec<coverage::Coverage>,
    pub clock_skew: Vec<coverage::Skew>,
    pub server_flow: flow::ServerFlow,
    pub top: flow::Tops,
    pub status_codes: Vec<flow::StatusCount>,
    /// Message-tracking rows per event id, most frequent first.
    pub event_counts: Vec<Count>,
    /// Messages by class (original, notification, auto_reply) and by generation.
    pub messages: MessageCounts,
    /// Rows per time bucket and category over the whole bundle.
    pub timeline: Timeline,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MessageCounts {
    pub total: u64,
    pub original: u64,
    pub notification: u64,
    pub auto_reply: u64,
    /// Messages per generation: index 0 originals, 1 notifications about them, 2+ loops.
    pub by_generation: Vec<u64>,
    /// Rows without a message id (cannot be followed across servers).
    pub rows_without_id: u64,
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
    /// Rows of loop messages and of the originals feeding loops.
    pub loop_rows: u64,
    /// Notification and auto-reply rows outside loops.
    pub notifications: u64,
    /// FAIL/DEFER rows outside loops.
    pub failures: u64,
    /// Everything else.
    pub ordinary: u64,
}

pub fn analyze(loaded: &Loaded, params: &Params) -> Result<Findings> {
    let Loaded { inventory, frames } = loaded;
    let inventory = inventory.clone();
    let Some(frames) = frames else {
        return Err(crate::Error::Other(
            "internal: frames were not built".into(),
        ));
    };
    let mut sw = crate::timing::Stopwatch::start();
    let ev = &frames.events;
    let event_counts = count_by(ev.column("event_id")?.str()?);
    let m = model::Model::build(ev)?;
    sw.lap("model");
    let src = evidence::FrameEvidence { df: ev };
    let mut loops = loops::find(&m, &src);
    sw.lap("loops");
    let mut in_loop = vec![false; m.msgs.len()];
    let mut feeds_loop = vec![false; m.msgs.len()];
    for l in &loops {
        for &i in &l.msg_set {
            in_loop[i as usize] = true;
            feeds_loop[m.root(i) as usize] = true;
        }
    }
    // Everything below only reads the model: run the finders side by side.
    let (mut storms, mut coverage, mut sli, mut queues, mut client_ips, mut connectors) =
        (None, None, None, None, None, None);
    let (mut skew, mut flow, mut top, mut codes, mut full, mut timeline_v, mut counts) =
        (None, None, None, None, None, None, None);
    rayon::scope(|s| {
        s.spawn(|_| storms = Some(storms::find(&m, &params.storms, &in_loop)));
        s.spawn(|_| coverage = Some(coverage::coverage(&m)));
        s.spawn(|_| sli = Some(sli::compute(&m, &params.sli)));
        s.spawn(|_| queues = Some(queues::find(&m, &params.queues)));
        s.spawn(|_| client_ips = Some(clients::client_ips(&m)));
        s.spawn(|_| connectors = Some(clients::connectors(&m)));
        s.spawn(|_| skew = Some(coverage::clock_skew(&m)));
        s.spawn(|_| flow = Some(flow::server_flow(&m, ev)));
        s.spawn(|_| top = Some(flow::tops(&m)));
        s.spawn(|_| codes = Some(flow::status_codes(&m)));
        s.spawn(|_| full = Some(flow::mailbox_full(&m)));
        s.spawn(|_| timeline_v = Some(timeline(&m, &in_loop, &feeds_loop)));
        s.spawn(|_| counts = Some(message_counts(&m)));
    });
    let missing = || crate::Error::Other("internal: a finder did not run".into());
    let storms = storms.ok_or_else(missing)?;
    let coverage = coverage.ok_or_else(missing)?;
    add_caveats(&mut loops, &coverage);
    sw.lap("finders");
    let excluded = excluded(&m, &in_loop, &feeds_loop, &storms);
    let mut blast_radius = Vec::new();
    for (i, l) in loops.iter().enumerate() {
        let (before, during) = sli::blast_radius(&m, &excluded, l.start_ms, l.end_ms);
        blast_radius.push(sli::BlastRadius {
            finding: "loop".into(),
            index: i,
            start: l.first_seen.clone(),
            end: l.last_seen.clone(),
            before,
            during,
        });
    }
    for (i, s) in storms.iter().enumerate() {
        let (before, during) = sli::blast_radius(&m, &excluded, s.start_ms, s.end_ms);
        blast_radius.push(sli::BlastRadius {
            finding: "storm".into(),
            index: i,
            start: s.first_seen.clone(),
            end: s.last_seen.clone(),
            before,
            during,
        });
    }
    sw.lap("blast radius");
    let mut f = Findings {
        bundle: inventory,
        summary: Vec::new(),
        mailbox_full: full.ok_or_else(missing)?,
        client_ips: client_ips.ok_or_else(missing)?,
        connectors: connectors.ok_or_else(missing)?,
        queues: queues.ok_or_else(missing)?,
        clock_skew: skew.ok_or_else(missing)?,
        server_flow: flow.ok_or_else(missing)??,
        top: top.ok_or_else(missing)?,
        status_codes: codes.ok_or_else(missing)?,
        loops,
        storms,
        sli: sli.ok_or_else(missing)?,
        blast_radius,
        coverage,
        event_counts,
        messages: counts.ok_or_else(missing)?,
        timeline: timeline_v.ok_or_else(missing)?,
    };
    f.summary = summary::write(&f);
    Ok(f)
}

/// Messages that belong to a loop, feed one, or travel in a storm: not "ordinary" mail.
fn excluded(
    m: &model::Model<'_>,
    in_loop: &[bool],
    feeds: &[bool],
    storms: &[storms::Storm],
) -> Vec<bool> {
    let mut ex: Vec<bool> = in_loop.iter().zip(feeds).map(|(a, b)| *a || *b).collect();
    for s in storms {
        let (snd, rcp) = s.key;
        for (i, msg) in m.msgs.iter().enumerate() {
            if msg.rows == 0 || msg.first < s.start_ms || msg.first > s.end_ms {
                continue;
            }
            let hit = match s.kind {
                "pair" => msg.sender == snd && m.msg_recipients(msg).contains(&rcp),
                "recipient" => m.msg_recipients(msg).contains(&rcp),
                _ => msg.sender == snd,
            };
            if hit {
                ex[i] = true;
            }
        }
    }
    ex
}

fn add_caveats(loops: &mut [loops::Loop], coverage: &[coverage::Coverage]) {
    for l in loops.iter_mut() {
        for c in coverage {
            if !l.servers.contains(&c.server) {
                continue;
            }
            for g in &c.gaps {
                if g.start_ms <= l.end_ms && l.start_ms <= g.end_ms {
                    l.caveats.push(format!(
                        "{} has no log from {} to {} while other servers carried mail: counts for that stretch are a lower bound",
                        c.server, g.start, g.end
                    ));
                }
            }
        }
    }
}

fn message_counts(m: &model::Model<'_>) -> MessageCounts {
    let mut c = MessageCounts::default();
    for msg in &m.msgs {
        if msg.rows == 0 {
            continue;
        }
        c.total += 1;
        match msg.class {
            model::Class::Original => c.original += 1,
            model::Class::Notification => c.notification += 1,
            model::Class::AutoReply => c.auto_reply += 1,
        }
        let g = msg.generation as usize;
        if c.by_generation.len() <= g {
            c.by_generation.resize(g + 1, 0);
        }
        c.by_generation[g] += 1;
    }
    c.rows_without_id = m.msg.iter().filter(|&&x| x == model::NONE).count() as u64;
    c
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

/// A bucket size (seconds) that gives at most a few hundred points over `span_ms`.
pub fn bucket_for(span_ms: i64) -> i64 {
    const STEPS: [i64; 8] = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400];
    STEPS
        .into_iter()
        .find(|s| span_ms / (s * 1000) <= 360)
        .unwrap_or_else(|| (span_ms / 360_000 / 86400 + 1) * 86400)
}

fn timeline(m: &model::Model<'_>, in_loop: &[bool], feeds: &[bool]) -> Timeline {
    if m.n == 0 {
        return Timeline {
            bucket_seconds: 60,
            points: Vec::new(),
        };
    }
    let bucket = bucket_for(m.end - m.start);
    let width = bucket * 1000;
    let first = m.start.div_euclid(width) * width;
    let n = ((m.end - first) / width + 1) as usize;
    let mut pts: Vec<TimePoint> = (0..n)
        .map(|i| {
            let start_ms = first + i as i64 * width;
            TimePoint {
                start: rfc3339(start_ms),
                start_ms,
                events: 0,
                loop_rows: 0,
                notifications: 0,
                failures: 0,
                ordinary: 0,
            }
        })
        .collect();
    for r in 0..m.n {
        let Some(p) = pts.get_mut(((m.time[r] - first) / width) as usize) else {
            continue;
        };
        p.events += 1;
        let id = m.msg[r];
        let msg = (id != model::NONE).then(|| &m.msgs[id as usize]);
        if id != model::NONE && (in_loop[id as usize] || feeds[id as usize]) {
            p.loop_rows += 1;
        } else if msg.is_some_and(|x| x.class != model::Class::Original) {
            p.notifications += 1;
        } else if matches!(m.ev[r], model::Ev::Fail | model::Ev::Defer) {
            p.failures += 1;
        } else {
            p.ordinary += 1;
        }
    }
    Timeline {
        bucket_seconds: bucket,
        points: pts,
    }
}
