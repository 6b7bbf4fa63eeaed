//! Storms: a sender, a recipient or a pair whose message rate shifts up and stays up. An admin
//! exports the hours around an incident, so a flood usually fills most of the bundle; a baseline
//! taken over the whole bundle would then be the flood itself. Instead each key's per-minute
//! counts are segmented where the rate changes (change points, `series::segment`), and a stretch
//! of high rate is measured against the key's own quiet period before it (after it, if the flood
//! was already under way when the logs begin; the bundle's other traffic of the same kind, if
//! the key has neither).
//!
//! A stretch is a storm when its rate is several times its baseline and either it bursts (at the
//! per-minute floor for minutes on end) or its excess over the baseline adds up (hundreds of
//! messages): a quiet mailbox does not storm at three messages a minute for twenty minutes, an
//! application mailing one mailbox at three a minute for hours does. Its share of all traffic
//! must rise too, so a mailbox that is simply busy in working hours, like everyone else, is not a
//! storm. A key that is heavy from the first minute to the last, with no change, is not a storm
//! (a nightly job): it is listed as a heavy key. Loop messages are left to the loop; a storm of
//! originals that fed a loop says so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::model::intern::FastMap;
use crate::analyze::model::NONE;
use crate::analyze::series::{penalty, segment, Axis};
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Mark, Params, Place};
use crate::error::Result;
use crate::human::{count, minute, rfc3339, span, thousands};

/// Settings for storm detection.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StormParams {
    /// A burst reaches this many messages per minute for `min_minutes` minutes.
    pub floor_per_minute: u64,
    /// A storm runs at least this many times its baseline rate.
    pub ratio: f64,
    /// A storm below the floor needs at least this many messages above its baseline.
    pub min_excess: u64,
    /// The key's share of all traffic must grow at least this much against its baseline period.
    pub min_share_growth: f64,
    /// Quieter stretches of up to this many minutes do not split a storm.
    pub merge_gap_minutes: usize,
    /// Minutes at the floor that make a burst.
    pub min_minutes: usize,
    /// A sender storm reaching at least this many distinct recipients, none of them taking more
    /// than `broadcast_max_share` of it, is a broadcast.
    pub broadcast_min_recipients: usize,
    pub broadcast_max_share: f64,
    /// A key with at least this share of all messages over most of the bundle is heavy.
    pub heavy_share: f64,
}

impl Default for StormParams {
    fn default() -> Self {
        StormParams {
            floor_per_minute: 30,
            ratio: 5.0,
            min_excess: 300,
            min_share_growth: 2.0,
            merge_gap_minutes: 15,
            min_minutes: 3,
            broadcast_min_recipients: 100,
            broadcast_max_share: 0.05,
            heavy_share: 0.02,
        }
    }
}

/// Rates below this (per minute) count as this, so that a ratio over a silent baseline means
/// something.
const RATE_FLOOR: f64 = 0.05;
/// A high stretch runs at least this much (per minute) above the quiet level.
const MIN_RATE_DELTA: f64 = 0.2;
/// A smaller flood still counts when it carries this share of all mail...
const SMALL_ORG_SHARE: f64 = 0.2;
/// ...for at least this many minutes.
const SMALL_ORG_MINUTES: usize = 30;
/// A sender or recipient that had no mail at all before its stretch needs at least this share
/// of all mail in it (a pair, one sender to one mailbox, needs only its excess).
const NEW_KEY_MIN_SHARE: f64 = 0.01;
/// Shortest quiet stretch that can serve as a baseline.
const BASELINE_MIN_MINUTES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StormKind {
    Pair,
    Sender,
    Recipient,
    /// One sender reaching many different recipients (a newsletter): a burst, not a storm on
    /// one mailbox.
    Broadcast,
}

/// Where a storm's baseline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineFrom {
    /// The key's own quiet period before the shift.
    Before,
    /// The key's own quiet period after the storm (it was under way when the logs begin).
    After,
    /// The bundle's other traffic of the same kind (the key has no quiet period).
    OtherTraffic,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Storm {
    pub kind: StormKind,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    /// Messages in the storm; for a sender or broadcast, deliveries (messages × recipients).
    pub messages: u64,
    /// The onset: the first message of the storm.
    pub first_seen: String,
    pub last_seen: String,
    pub minutes: u64,
    pub peak_per_minute: u64,
    pub peak_minute: String,
    pub rate_per_minute: f64,
    pub baseline_per_minute: f64,
    pub baseline_from: BaselineFrom,
    /// The rate a stretch had to exceed to count (ratio × baseline).
    pub threshold_per_minute: f64,
    /// Messages above the baseline.
    pub excess: u64,
    /// The storm's share of all messages over its period.
    pub share: f64,
    pub distinct_counterparts: usize,
    /// It fed a loop (its originals started loop chains).
    pub in_loop: bool,
    /// The loop it fed (1-based, as numbered in `loops`).
    pub fed_loop: Option<usize>,
    /// Already under way when the logs begin (its onset may be earlier).
    pub under_way_at_start: bool,
    /// Still going when the logs end.
    pub ongoing_at_end: bool,
}

/// A key that carries much of the traffic all along, without a change: worth knowing, not a
/// storm.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heavy {
    pub kind: StormKind,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    pub messages: u64,
    pub per_minute: f64,
    pub share: f64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum KeyKind {
    Pair,
    Sender,
    Recipient,
}

type Key = (KeyKind, u32, u32);

/// One minute of a key: axis index, count, first and last message time.
#[derive(Clone, Copy)]
struct Cell {
    i: usize,
    n: u64,
    first: i64,
    last: i64,
}

pub struct Storms;

impl Detector for Storms {
    fn key(&self) -> &'static str {
        "storms"
    }
    fn title(&self) -> &'static str {
        "Storms and bursts"
    }
    fn place(&self) -> Place {
        Place::Incident
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/storms.html"))
    }

    fn methods(&self, p: &Params) -> String {
        let s = &p.storms;
        format!(
            "Messages per minute per sender (counting deliveries), recipient and pair, each message counted once at first sight; loop messages are left to the loop, health probes out unless asked for. Each key's series is split where its rate changes (binary segmentation with a Poisson likelihood). A stretch at least {}× its baseline and {} messages a minute above its quiet level is a storm when it reaches {} messages a minute for at least {} minutes, or when its excess over the baseline adds up to {} messages or more, and its share of all traffic grows at least {}× against the baseline period. The baseline is the key's own quiet period before the shift, else after it (the flood was under way when the logs begin), else the rate of the busiest tenth of the bundle's other keys of the same kind. Quieter stretches of up to {} minutes do not split a storm. The onset is the storm's first message. A sender storm reaching {} or more different recipients, none taking more than {:.0}% of it, is a broadcast. A pair storm absorbs its sender's and recipient's storms over the same period. A key with at least {:.0}% of all messages over most of the bundle and no change is listed as heavy, not as a storm.",
            s.ratio,
            MIN_RATE_DELTA,
            s.floor_per_minute,
            s.min_minutes,
            s.min_excess,
            s.min_share_growth,
            s.merge_gap_minutes,
            s.broadcast_min_recipients,
            s.broadcast_max_share * 100.0,
            s.heavy_share * 100.0
        )
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let (storms, marks, heavy, total) = find(cx);
        let mut d = Detected::default();
        for s in &storms {
            if let Some(t) = sentence(s, total) {
                d.summary.push(t);
            }
        }
        d.found = storms
            .iter()
            .filter(|s| s.kind != StormKind::Broadcast)
            .count();
        d.marks.storms = marks;
        d.values.push(("storms", serde_json::to_value(&storms)?));
        d.values.push(("heavy", serde_json::to_value(&heavy)?));
        Ok(d)
    }
}

fn who(s: &Storm) -> String {
    match (&s.sender, &s.recipient) {
        (Some(a), Some(b)) => format!("{a} → {b}"),
        (Some(a), None) => a.clone(),
        (None, Some(b)) => b.clone(),
        _ => "?".into(),
    }
}

fn sentence(s: &Storm, total: u64) -> Option<Sentence> {
    let weight = s.excess as f64 / total.max(1) as f64;
    let period = if minute(&s.first_seen) == minute(&s.last_seen) {
        format!("at {}", minute(&s.first_seen))
    } else {
        format!(
            "between {} and {} ({})",
            minute(&s.first_seen),
            minute(&s.last_seen),
            span(s.minutes as i64 * 60_000)
        )
    };
    let text = match s.kind {
        StormKind::Broadcast => format!(
            "{} sent a broadcast to {} different recipients ({}, up to {}/min) {period}: a newsletter-style burst, not a storm on one mailbox.",
            who(s),
            thousands(s.distinct_counterparts as u64),
            count(s.messages, "delivery", "deliveries"),
            thousands(s.peak_per_minute),
        ),
        kind => {
            let base = match s.baseline_from {
                BaselineFrom::Before => "its own quiet period before",
                BaselineFrom::After => "its own quiet period after it",
                BaselineFrom::OtherTraffic => "the bundle's other traffic",
            };
            let mut t = format!(
                "{} storm {}: {} {period}, {:.1}/min (peak {}) against a baseline of {:.2}/min ({base}), {:.0}% of all mail in that time.",
                match kind {
                    StormKind::Pair => "Pair",
                    StormKind::Sender => "Sender",
                    _ => "Recipient",
                },
                who(s),
                count(s.messages, "message", "messages"),
                s.rate_per_minute,
                thousands(s.peak_per_minute),
                s.baseline_per_minute,
                s.share * 100.0
            );
            if s.under_way_at_start {
                t.push_str(" It was already under way when the logs begin.");
            }
            if let Some(l) = s.fed_loop {
                t.push_str(&format!(" This flood fed loop {l}."));
            }
            t
        }
    };
    Some(Sentence {
        text,
        weight: if s.kind == StormKind::Broadcast {
            weight * 0.3
        } else if s.fed_loop.is_some() {
            // The flood that started a loop is the incident's beginning.
            5.0 + weight
        } else {
            weight
        },
    })
}

/// Storms, their marks, heavy keys, and the number of messages counted.
pub fn find(cx: &Cx<'_>) -> (Vec<Storm>, Vec<Mark>, Vec<Heavy>, u64) {
    let m = cx.m;
    let p = &cx.p.storms;
    let in_loop = |i: usize| cx.board.in_loop.get(i).copied().unwrap_or(false);
    let counted: Vec<u32> = (0..m.msgs.len() as u32)
        .filter(|&i| cx.counts(i as usize) && !in_loop(i as usize))
        .collect();
    let axis = Axis::of(counted.iter().map(|&i| m.msgs[i as usize].first));
    let total = counted.len() as u64;
    if axis.len == 0 {
        return (Vec::new(), Vec::new(), Vec::new(), 0);
    }
    // All messages (and all deliveries, for senders) per minute, for shares.
    let mut all = vec![0u64; axis.len];
    let mut all_deliveries = vec![0u64; axis.len];
    // Totals per sender and per recipient by address id (a missing sender apart), per pair in
    // a map: two of the three counts per delivery are array increments, not hash updates.
    let n_addrs = m.addrs.len();
    let mut by_sender = vec![0u64; n_addrs];
    let mut by_rcpt = vec![0u64; n_addrs];
    let (mut no_sender, mut no_rcpt) = (0u64, 0u64);
    let mut pairs: FastMap<(u32, u32), u64> = FastMap::default();
    for &i in &counted {
        let msg = &m.msgs[i as usize];
        let rc = m.msg_recipients(msg);
        if let Some(k) = axis.index(msg.first) {
            all[k] += 1;
            all_deliveries[k] += rc.len().max(1) as u64;
        }
        for &r in rc {
            *pairs.entry((msg.sender, r)).or_default() += 1;
            *by_rcpt.get_mut(r as usize).unwrap_or(&mut no_rcpt) += 1;
        }
        *by_sender
            .get_mut(msg.sender as usize)
            .unwrap_or(&mut no_sender) += rc.len().max(1) as u64;
    }
    // The rate of the busiest tenth of each kind's keys: the baseline of last resort.
    let mut typical: FastMap<KeyKind, f64> = FastMap::default();
    for kind in [KeyKind::Pair, KeyKind::Sender, KeyKind::Recipient] {
        let mut v: Vec<u64> = match kind {
            KeyKind::Pair => pairs.values().copied().collect(),
            KeyKind::Sender => by_sender.iter().chain([&no_sender]).copied().collect(),
            KeyKind::Recipient => by_rcpt.iter().chain([&no_rcpt]).copied().collect(),
        };
        // Every key that exists has a count of one or more.
        v.retain(|&n| n > 0);
        v.sort_unstable();
        let p90 = v.get(v.len() * 9 / 10).copied().unwrap_or(0);
        typical.insert(kind, p90 as f64 / axis.len as f64);
    }
    // Only keys that could make a storm or be heavy are followed minute by minute: both need
    // at least `least` messages. Keys without an address are not followed.
    let least = p
        .min_excess
        .min(p.floor_per_minute * p.min_minutes as u64)
        .max(1);
    let followed = |n: u64| n >= least;
    let mut keys: Vec<Key> = pairs
        .iter()
        .filter(|&(&(from, _), &n)| followed(n) && from != NONE)
        .map(|(&(from, to), _)| (KeyKind::Pair, from, to))
        .chain(
            (0..n_addrs as u32)
                .filter(|&a| followed(by_sender[a as usize]))
                .map(|a| (KeyKind::Sender, a, NONE)),
        )
        .chain(
            (0..n_addrs as u32)
                .filter(|&a| followed(by_rcpt[a as usize]))
                .map(|a| (KeyKind::Recipient, NONE, a)),
        )
        .collect();
    keys.sort_unstable();
    // A key's place in `keys`: senders and recipients by address id, pairs in a map that is
    // only asked when both ends are followed (a pair never counts more than either end).
    let mut sender_ix = vec![NONE; n_addrs];
    let mut rcpt_ix = vec![NONE; n_addrs];
    let mut pair_ix: FastMap<(u32, u32), u32> = FastMap::default();
    for (j, k) in keys.iter().enumerate() {
        match k.0 {
            KeyKind::Pair => {
                pair_ix.insert((k.1, k.2), j as u32);
            }
            KeyKind::Sender => sender_ix[k.1 as usize] = j as u32,
            KeyKind::Recipient => rcpt_ix[k.2 as usize] = j as u32,
        }
    }
    let ix = |v: &[u32], a: u32| v.get(a as usize).copied().unwrap_or(NONE);
    let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); keys.len()];
    for &i in &m.by_first(counted.clone()) {
        let msg = &m.msgs[i as usize];
        let Some(k) = axis.index(msg.first) else {
            continue;
        };
        let t = msg.first;
        let mut bump = |j: u32, n: u64| {
            if j == NONE {
                return;
            }
            let v = &mut cells[j as usize];
            match v.last_mut() {
                Some(c) if c.i == k => {
                    c.n += n;
                    c.last = t;
                }
                _ => v.push(Cell {
                    i: k,
                    n,
                    first: t,
                    last: t,
                }),
            }
        };
        let rc = m.msg_recipients(msg);
        let sender_followed = ix(&sender_ix, msg.sender) != NONE;
        for &r in rc {
            let rj = ix(&rcpt_ix, r);
            if sender_followed && rj != NONE {
                bump(pair_ix.get(&(msg.sender, r)).copied().unwrap_or(NONE), 1);
            }
            bump(rj, 1);
        }
        bump(ix(&sender_ix, msg.sender), rc.len().max(1) as u64);
    }
    let mut found: Vec<(Key, Storm)> = Vec::new();
    let mut heavy: Vec<Heavy> = Vec::new();
    let mut dense = vec![0u64; axis.len];
    let pen = penalty(axis.len);
    let name = |a: u32| (a != NONE).then(|| m.addrs.name(a).to_string());
    let debug = std::env::var_os("MF_DEBUG_STORMS").is_some();
    for (j, key) in keys.iter().enumerate() {
        let cs = &cells[j];
        dense.iter_mut().for_each(|x| *x = 0);
        for c in cs {
            dense[c.i] = c.n;
        }
        let segs = segment(&dense, pen);
        let runs = runs(&segs, p);
        if debug {
            eprintln!(
                "{:?} {:?} total {} segs {:?} runs {:?}",
                key.0 as u8,
                (name(key.1), name(key.2)),
                cs.iter().map(|c| c.n).sum::<u64>(),
                segs,
                runs
            );
        }
        let key_total: u64 = cs.iter().map(|c| c.n).sum();
        let mut in_storms = 0u64;
        for (a, b) in runs.iter().copied() {
            let base = if key.0 == KeyKind::Sender {
                &all_deliveries
            } else {
                &all
            };
            let Some(s) = judge(key, a, b, &runs, &dense, base, cs, &typical, p, &axis) else {
                continue;
            };
            in_storms += s.messages;
            found.push((
                *key,
                Storm {
                    sender: name(key.1),
                    recipient: name(key.2),
                    ..s
                },
            ));
        }
        // Heavy all along: much of the traffic, over most of the bundle, no storm.
        if in_storms * 2 < key_total && key.0 != KeyKind::Recipient {
            let (first, last) = match (cs.first(), cs.last()) {
                (Some(f), Some(l)) => (f, l),
                _ => continue,
            };
            let covered = last.i - first.i + 1;
            let of = if key.0 == KeyKind::Sender {
                all_deliveries.iter().sum::<u64>()
            } else {
                total
            };
            let share = key_total as f64 / of.max(1) as f64;
            if covered * 2 >= axis.len && share >= p.heavy_share {
                heavy.push(Heavy {
                    kind: match key.0 {
                        KeyKind::Pair => StormKind::Pair,
                        _ => StormKind::Sender,
                    },
                    sender: name(key.1),
                    recipient: name(key.2),
                    messages: key_total,
                    per_minute: round2(key_total as f64 / covered as f64),
                    share: round4(share),
                    first_seen: rfc3339(first.first),
                    last_seen: rfc3339(last.last),
                });
            }
        }
    }
    // Counterparts, broadcasts and loop links need the storms' messages: one pass for all.
    let mut extra: Vec<(BTreeMap<u32, u64>, BTreeMap<u32, u64>)> =
        vec![Default::default(); found.len()];
    let mut marks: Vec<Mark> = found
        .iter()
        .map(|(_, s)| Mark {
            start: ms(&s.first_seen),
            end: ms(&s.last_seen),
            ..Mark::default()
        })
        .collect();
    // A message can be in a storm only if the storm's key names its sender or a recipient:
    // each message looks at those storms alone, not at every storm.
    let mut of_sender: FastMap<u32, Vec<usize>> = FastMap::default();
    let mut of_recipient: FastMap<u32, Vec<usize>> = FastMap::default();
    for (k, (key, _)) in found.iter().enumerate() {
        match key.0 {
            KeyKind::Sender | KeyKind::Pair => of_sender.entry(key.1).or_default().push(k),
            KeyKind::Recipient => of_recipient.entry(key.2).or_default().push(k),
        }
    }
    let mut near: Vec<usize> = Vec::new();
    for &i in &counted {
        let msg = &m.msgs[i as usize];
        let rc = m.msg_recipients(msg);
        near.clear();
        near.extend(of_sender.get(&msg.sender).into_iter().flatten());
        if !of_recipient.is_empty() {
            for r in rc {
                near.extend(of_recipient.get(r).into_iter().flatten());
            }
        }
        if near.is_empty() {
            continue;
        }
        near.sort_unstable();
        near.dedup();
        for &k in &near {
            let (key, mark) = (&found[k].0, &mut marks[k]);
            if msg.first < mark.start || msg.first > mark.end {
                continue;
            }
            let hit = match key.0 {
                KeyKind::Pair => msg.sender == key.1 && rc.contains(&key.2),
                KeyKind::Sender => msg.sender == key.1,
                KeyKind::Recipient => rc.contains(&key.2),
            };
            if !hit {
                continue;
            }
            mark.msgs.push(i);
            match key.0 {
                KeyKind::Sender => {
                    for &r in rc {
                        *extra[k].0.entry(r).or_default() += 1;
                    }
                }
                KeyKind::Recipient => *extra[k].0.entry(msg.sender).or_default() += 1,
                KeyKind::Pair => {}
            }
            let l = cx.board.feeds_loop.get(i as usize).copied().unwrap_or(0);
            if l > 0 {
                *extra[k].1.entry(l).or_default() += 1;
            }
        }
    }
    for ((key, s), (counterparts, loops)) in found.iter_mut().zip(&extra) {
        s.distinct_counterparts = counterparts.len();
        let top = counterparts.values().copied().max().unwrap_or(0);
        let reach: u64 = counterparts.values().sum();
        if key.0 == KeyKind::Sender
            && s.distinct_counterparts >= p.broadcast_min_recipients
            && (top as f64) <= p.broadcast_max_share * reach.max(1) as f64
        {
            s.kind = StormKind::Broadcast;
        }
        // The loop it fed most, if a tenth of its messages or more started loop chains.
        if let Some((&l, &n)) = loops.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) {
            let msgs = match key.0 {
                KeyKind::Sender => reach.max(1),
                _ => s.messages.max(1),
            };
            if n * 10 >= msgs || n >= 100 {
                s.fed_loop = Some(l as usize);
                s.in_loop = true;
            }
        }
    }
    let (storms, marks) = dedupe(found, marks);
    heavy.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| (&a.sender, &a.recipient).cmp(&(&b.sender, &b.recipient)))
    });
    heavy.truncate(10);
    (storms, marks, heavy, total)
}

fn ms(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .unwrap_or(0)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Stretches of high rate: segments well above the key's quiet level, joined across short
/// quieter stretches. Returns axis index ranges [a, b).
fn runs(segs: &[(usize, usize, f64)], p: &StormParams) -> Vec<(usize, usize)> {
    // The key's quiet level: its lowest rate over any stretch of ten minutes or more.
    let lowest = |it: &mut dyn Iterator<Item = f64>| it.fold(f64::INFINITY, f64::min);
    let mut quiet = lowest(&mut segs.iter().filter(|s| s.1 - s.0 >= 10).map(|s| s.2));
    if !quiet.is_finite() {
        quiet = lowest(&mut segs.iter().map(|s| s.2));
    }
    if !quiet.is_finite() {
        quiet = 0.0;
    }
    let high = |r: f64| r >= p.ratio * quiet.max(RATE_FLOOR) && r - quiet >= MIN_RATE_DELTA;
    let mut out: Vec<(usize, usize)> = Vec::new();
    for s in segs {
        if !high(s.2) {
            continue;
        }
        match out.last_mut() {
            Some(r) if s.0 - r.1 <= p.merge_gap_minutes => r.1 = s.1,
            _ => out.push((s.0, s.1)),
        }
    }
    out
}

/// Measures a high stretch against its baseline and decides whether it is a storm.
#[allow(clippy::too_many_arguments)]
fn judge(
    key: &Key,
    a: usize,
    b: usize,
    runs: &[(usize, usize)],
    dense: &[u64],
    all: &[u64],
    cells: &[Cell],
    typical: &FastMap<KeyKind, f64>,
    p: &StormParams,
    axis: &Axis,
) -> Option<Storm> {
    let k = runs.iter().position(|r| *r == (a, b))?;
    let prev_end = if k == 0 { 0 } else { runs[k - 1].1 };
    let next_start = runs.get(k + 1).map_or(dense.len(), |r| r.0);
    let sum = |x: usize, y: usize, v: &[u64]| v[x..y].iter().sum::<u64>();
    let (base, from, base_window) = if a - prev_end >= BASELINE_MIN_MINUTES {
        (
            sum(prev_end, a, dense) as f64 / (a - prev_end) as f64,
            BaselineFrom::Before,
            Some((prev_end, a)),
        )
    } else if next_start - b >= BASELINE_MIN_MINUTES {
        (
            sum(b, next_start, dense) as f64 / (next_start - b) as f64,
            BaselineFrom::After,
            Some((b, next_start)),
        )
    } else {
        (
            typical.get(&key.0).copied().unwrap_or(0.0),
            BaselineFrom::OtherTraffic,
            None,
        )
    };
    let minutes = (b - a) as f64;
    let messages = sum(a, b, dense);
    let share_of = |x: usize, y: usize| sum(x, y, dense) as f64 / sum(x, y, all).max(1) as f64;
    let rate = messages as f64 / minutes;
    let threshold = p.ratio * base.max(RATE_FLOOR);
    if rate < threshold {
        return None;
    }
    let excess = (messages as f64 - base * minutes).max(0.0);
    let peak_i = (a..b).max_by(|&x, &y| dense[x].cmp(&dense[y]).then(y.cmp(&x)))?;
    let peak = dense[peak_i];
    let hot = dense[a..b]
        .iter()
        .filter(|&&c| c >= p.floor_per_minute)
        .count();
    let burst =
        peak >= p.floor_per_minute && (hot >= p.min_minutes || messages >= 10 * p.floor_per_minute);
    // Hundreds of messages above the baseline; or a third of that when the stretch carries a
    // fifth of all mail for half an hour or more (a small organisation's flood).
    let sustained = excess >= p.min_excess as f64
        || (excess >= p.min_excess as f64 / 3.0
            && share_of(a, b) >= SMALL_ORG_SHARE
            && b - a >= SMALL_ORG_MINUTES);
    if !burst && !sustained {
        return None;
    }
    let share = share_of(a, b);
    let base_share = match base_window {
        Some((x, y)) => sum(x, y, dense) as f64 / sum(x, y, all).max(1) as f64,
        None => 0.0,
    };
    if base_share > 0.0 {
        if share < p.min_share_growth * base_share {
            return None;
        }
    } else if key.0 != KeyKind::Pair && share < NEW_KEY_MIN_SHARE {
        return None;
    }
    let inside: Vec<&Cell> = cells.iter().filter(|c| c.i >= a && c.i < b).collect();
    let first = inside.first()?;
    let last = inside.last()?;
    Some(Storm {
        kind: match key.0 {
            KeyKind::Pair => StormKind::Pair,
            KeyKind::Sender => StormKind::Sender,
            KeyKind::Recipient => StormKind::Recipient,
        },
        sender: None,
        recipient: None,
        messages,
        first_seen: rfc3339(first.first),
        last_seen: rfc3339(last.last),
        minutes: axis.minutes_between(first.first, last.last) as u64,
        peak_per_minute: peak,
        peak_minute: rfc3339(axis.time(peak_i)),
        rate_per_minute: round2(rate),
        baseline_per_minute: round2(base),
        baseline_from: from,
        threshold_per_minute: round2(threshold),
        excess: excess.round() as u64,
        share: round4(share),
        distinct_counterparts: 0,
        in_loop: false,
        fed_loop: None,
        under_way_at_start: first.i == 0,
        ongoing_at_end: last.i + 1 >= dense.len(),
    })
}

/// A pair storm explains its sender's and its recipient's storms over the same period: keep the
/// most specific description, so one flood is reported once.
fn dedupe(found: Vec<(Key, Storm)>, marks: Vec<Mark>) -> (Vec<Storm>, Vec<Mark>) {
    let pairs: Vec<(u32, u32, i64, i64, u64)> = found
        .iter()
        .zip(&marks)
        .filter(|((k, _), _)| k.0 == KeyKind::Pair)
        .map(|((k, s), mk)| (k.1, k.2, mk.start, mk.end, s.messages))
        .collect();
    let mut kept: Vec<(Storm, Mark)> = found
        .into_iter()
        .zip(marks)
        .filter(|((k, s), mk)| {
            if k.0 == KeyKind::Pair || s.kind == StormKind::Broadcast {
                return true;
            }
            !pairs.iter().any(|&(snd, rcp, a, b, n)| {
                let same_key = (k.0 == KeyKind::Sender && k.1 == snd)
                    || (k.0 == KeyKind::Recipient && k.2 == rcp);
                let overlap = a <= mk.end && mk.start <= b;
                same_key && overlap && n * 10 >= s.messages * 8
            })
        })
        .map(|((_, s), mk)| (s, mk))
        .collect();
    // Biggest first, then by time (deterministic).
    kept.sort_by(|(a, _), (b, _)| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.first_seen.cmp(&b.first_seen))
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.sender.cmp(&b.sender))
            .then_with(|| a.recipient.cmp(&b.recipient))
    });
    kept.into_iter().unzip()
}
