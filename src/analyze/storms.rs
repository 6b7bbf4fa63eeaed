//! Storms: a sender, a recipient or a pair whose message rate leaves its own baseline. The
//! baseline is robust (median and MAD of the key's per-minute counts over the bundle's span) with
//! an absolute floor, so a quiet mailbox does not "storm" at three messages a minute. A sender
//! that reaches thousands of different recipients is a broadcast (a newsletter), said as such.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Model, NONE};
use crate::ingest::fields::rfc3339;

/// Settings for storm detection.
#[derive(Debug, Clone, Copy)]
pub struct StormParams {
    /// No storm below this many messages per minute, whatever the baseline.
    pub floor_per_minute: u64,
    /// How many robust standard deviations (1.4826 × MAD) above the median.
    pub sigmas: f64,
    /// Minutes below threshold that still belong to the same storm.
    pub merge_gap_minutes: i64,
    /// A storm lasts at least this many minutes over the threshold, unless it is huge (ten
    /// times the floor in all): one busy minute is a burst, not a storm.
    pub min_minutes: usize,
    /// A sender storm reaching at least this many distinct recipients, none of them taking more
    /// than `broadcast_max_share` of it, is a broadcast.
    pub broadcast_min_recipients: usize,
    pub broadcast_max_share: f64,
}

impl Default for StormParams {
    fn default() -> Self {
        StormParams {
            floor_per_minute: 30,
            sigmas: 6.0,
            merge_gap_minutes: 15,
            min_minutes: 3,
            broadcast_min_recipients: 100,
            broadcast_max_share: 0.05,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Storm {
    /// `pair`, `sender`, `recipient` or `broadcast`.
    pub kind: &'static str,
    pub sender: Option<String>,
    pub recipient: Option<String>,
    /// Messages in the storm; for a sender or broadcast, deliveries (messages × recipients).
    pub messages: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub peak_per_minute: u64,
    pub peak_minute: String,
    /// Median messages per minute of this key over the bundle (its baseline).
    pub baseline_per_minute: f64,
    /// The rate it had to exceed.
    pub threshold_per_minute: f64,
    /// Distinct counterparts during the storm (recipients of a sender, senders of a recipient).
    pub distinct_counterparts: usize,
    /// Whether the storm's messages are part of a detected loop.
    pub in_loop: bool,
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
    #[serde(skip)]
    pub key: (u32, u32),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum KeyKind {
    Pair,
    Sender,
    Recipient,
}

/// Median and MAD of per-minute counts, zeros included, from a sparse minute → count map.
fn robust(counts: &BTreeMap<i64, u64>, minutes: i64) -> (f64, f64) {
    let mut v: Vec<u64> = counts.values().copied().collect();
    let zeros = (minutes.max(1) as usize).saturating_sub(v.len());
    v.sort_unstable();
    let total = v.len() + zeros;
    let at = |k: usize| -> f64 {
        if k < zeros {
            0.0
        } else {
            v[k - zeros] as f64
        }
    };
    let median = if total % 2 == 1 {
        at(total / 2)
    } else {
        (at(total / 2 - 1) + at(total / 2)) / 2.0
    };
    let mut dev: Vec<f64> = (0..total).map(|k| (at(k) - median).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = if dev.is_empty() {
        0.0
    } else if total % 2 == 1 {
        dev[total / 2]
    } else {
        (dev[total / 2 - 1] + dev[total / 2]) / 2.0
    };
    (median, mad)
}

pub fn find(m: &Model<'_>, p: &StormParams, loop_msgs: &[bool]) -> Vec<Storm> {
    let minutes = ((m.end - m.start) / 60_000 + 1).max(1);
    // Messages counted once, at first sight, by their envelope sender and each recipient.
    let mut totals: BTreeMap<(KeyKind, u32, u32), u64> = BTreeMap::new();
    for msg in &m.msgs {
        if msg.rows == 0 {
            continue;
        }
        let s = msg.sender;
        for &r in m.msg_recipients(msg) {
            *totals.entry((KeyKind::Pair, s, r)).or_default() += 1;
            *totals.entry((KeyKind::Recipient, NONE, r)).or_default() += 1;
        }
        // A sender's rate counts deliveries (one per recipient): a newsletter is one message
        // but thousands of deliveries, and must show up to be called a broadcast.
        *totals.entry((KeyKind::Sender, s, NONE)).or_default() +=
            m.msg_recipients(msg).len().max(1) as u64;
    }
    // A key whose whole total is below the floor cannot storm: skip it before counting minutes.
    let hot: BTreeMap<(KeyKind, u32, u32), usize> = totals
        .iter()
        .filter(|(k, &n)| n >= p.floor_per_minute && !(k.1 == NONE && k.0 != KeyKind::Recipient))
        .enumerate()
        .map(|(i, (k, _))| (*k, i))
        .collect();
    let keys: Vec<(KeyKind, u32, u32)> = hot.keys().copied().collect();
    let mut per_min: Vec<BTreeMap<i64, u64>> = vec![BTreeMap::new(); keys.len()];
    let mut counterparts: Vec<BTreeMap<i64, Vec<u32>>> = vec![BTreeMap::new(); keys.len()];
    let mut in_loop_count: Vec<u64> = vec![0; keys.len()];
    for (id, msg) in m.msgs.iter().enumerate() {
        if msg.rows == 0 {
            continue;
        }
        let minute = msg.first.div_euclid(60_000) * 60_000;
        let lp = loop_msgs.get(id).copied().unwrap_or(false);
        let mut bump = |k: (KeyKind, u32, u32), other: u32| {
            if let Some(&i) = hot.get(&k) {
                *per_min[i].entry(minute).or_default() += 1;
                if k.0 != KeyKind::Pair {
                    counterparts[i].entry(minute).or_default().push(other);
                }
                if lp {
                    in_loop_count[i] += 1;
                }
            }
        };
        let s = msg.sender;
        let rc = m.msg_recipients(msg);
        for &r in rc {
            bump((KeyKind::Pair, s, r), NONE);
            bump((KeyKind::Recipient, NONE, r), s);
        }
        for &r in rc {
            bump((KeyKind::Sender, s, NONE), r);
        }
        if rc.is_empty() {
            bump((KeyKind::Sender, s, NONE), NONE);
        }
    }
    let mut storms = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let counts = &per_min[i];
        let (median, mad) = robust(counts, minutes);
        let threshold = (median + p.sigmas * 1.4826 * mad).max(p.floor_per_minute as f64);
        // Runs of minutes over the threshold, merged across short dips.
        let mut runs: Vec<(i64, i64)> = Vec::new();
        for (&t, &c) in counts {
            if (c as f64) <= threshold {
                continue;
            }
            match runs.last_mut() {
                Some(r) if t - r.1 <= (p.merge_gap_minutes + 1) * 60_000 => r.1 = t,
                _ => runs.push((t, t)),
            }
        }
        for (a, b) in runs {
            let window = counts.range(a..=b);
            let messages: u64 = window.clone().map(|(_, c)| c).sum();
            let hot_minutes = window
                .clone()
                .filter(|(_, &c)| c as f64 > threshold)
                .count();
            if hot_minutes < p.min_minutes && messages < 10 * p.floor_per_minute {
                continue;
            }
            let (peak_minute, peak) = window
                .clone()
                .max_by(|x, y| x.1.cmp(y.1).then_with(|| y.0.cmp(x.0)))
                .map(|(t, c)| (*t, *c))
                .unwrap_or((a, 0));
            let mut others: Vec<u32> = counterparts[i]
                .range(a..=b)
                .flat_map(|(_, v)| v.iter().copied())
                .filter(|&x| x != NONE)
                .collect();
            let reach = others.len().max(1);
            others.sort_unstable();
            let mut top = 0usize;
            let mut distinct = 0usize;
            let mut k = 0;
            while k < others.len() {
                let j = others[k..].partition_point(|&x| x == others[k]) + k;
                top = top.max(j - k);
                distinct += 1;
                k = j;
            }
            let broadcast = key.0 == KeyKind::Sender
                && distinct >= p.broadcast_min_recipients
                && (top as f64) / (reach as f64) <= p.broadcast_max_share;
            let kind = match key.0 {
                KeyKind::Pair => "pair",
                KeyKind::Sender if broadcast => "broadcast",
                KeyKind::Sender => "sender",
                KeyKind::Recipient => "recipient",
            };
            let name = |a: u32| (a != NONE).then(|| m.addrs.name(a).to_string());
            storms.push(Storm {
                kind,
                sender: name(key.1),
                recipient: name(key.2),
                messages,
                first_seen: rfc3339(a),
                last_seen: rfc3339(b + 59_999),
                peak_per_minute: peak,
                peak_minute: rfc3339(peak_minute),
                baseline_per_minute: median,
                threshold_per_minute: (threshold * 100.0).round() / 100.0,
                distinct_counterparts: distinct,
                in_loop: in_loop_count[i] * 2 > totals.get(key).copied().unwrap_or(0),
                start_ms: a,
                end_ms: b + 59_999,
                key: (key.1, key.2),
            });
        }
    }
    dedupe(storms)
}

/// A pair storm explains its sender's and its recipient's storms over the same period: keep the
/// most specific description, so one flood is reported once.
fn dedupe(mut storms: Vec<Storm>) -> Vec<Storm> {
    let pairs: Vec<(u32, u32, i64, i64, u64)> = storms
        .iter()
        .filter(|s| s.kind == "pair")
        .map(|s| (s.key.0, s.key.1, s.start_ms, s.end_ms, s.messages))
        .collect();
    storms.retain(|s| {
        if s.kind == "pair" || s.kind == "broadcast" {
            return true;
        }
        !pairs.iter().any(|&(snd, rcp, a, b, n)| {
            let same_key =
                (s.kind == "sender" && s.key.0 == snd) || (s.kind == "recipient" && s.key.1 == rcp);
            let overlap = a <= s.end_ms && s.start_ms <= b;
            same_key && overlap && n * 10 >= s.messages * 8
        })
    });
    // A broadcast's per-recipient pairs are not storms of their own; they never reach the floor,
    // so nothing to remove. Order: biggest first, then by time (deterministic).
    storms.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.start_ms.cmp(&b.start_ms))
            .then_with(|| a.kind.cmp(b.kind))
            .then_with(|| a.sender.cmp(&b.sender))
            .then_with(|| a.recipient.cmp(&b.recipient))
    });
    storms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_baseline_counts_silent_minutes() {
        let mut c = BTreeMap::new();
        c.insert(0, 100);
        let (med, mad) = robust(&c, 60);
        assert_eq!((med, mad), (0.0, 0.0));
        let mut c = BTreeMap::new();
        for t in 0..10 {
            c.insert(t, 10 + (t as u64 % 2));
        }
        let (med, mad) = robust(&c, 10);
        assert_eq!(med, 10.5);
        assert_eq!(mad, 0.5);
    }
}
