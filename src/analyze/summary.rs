//! The verdict in plain sentences, written from the findings (never from raw log text beyond the
//! addresses and IPs the findings name), for the top of the report and the JSON.

use super::{Findings, MessageCounts};
use crate::human::{minute, secs, thousands};

fn codes(map: &std::collections::BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = map.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.iter()
        .take(3)
        .map(|(c, n)| format!("{c} ({}) ×{}", super::flow::meaning(c), thousands(**n)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn write(f: &Findings) -> Vec<String> {
    let mut out = Vec::new();
    for l in &f.loops {
        let kind = if l.notifications >= l.auto_replies {
            "a bounce loop"
        } else {
            "an auto-reply loop"
        };
        let fed = if l.fed_by.is_empty() {
            String::new()
        } else {
            format!(" from {}", l.fed_by.join(", "))
        };
        out.push(format!(
            "Between {} and {} UTC, {} exchanged {} automated messages in {kind} ({} notifications, {} automatic replies), fed by {} original message{}{fed}: {}× amplification, up to {} per minute at {}. Driven by {}.",
            minute(&l.first_seen),
            minute(&l.last_seen),
            join_and(&l.members),
            thousands(l.messages),
            thousands(l.notifications),
            thousands(l.auto_replies),
            thousands(l.originals),
            if l.originals == 1 { "" } else { "s" },
            l.amplification,
            thousands(l.peak_per_minute),
            minute(&l.peak_minute),
            if l.status_codes.is_empty() { "automatic replies".to_string() } else { codes(&l.status_codes) },
        ));
        for c in &l.caveats {
            out.push(format!("Caveat: {c}."));
        }
    }
    for s in f.storms.iter().take(5) {
        let who = match (s.kind, &s.sender, &s.recipient) {
            ("pair", Some(a), Some(b)) => format!("{a} → {b}"),
            (_, Some(a), None) => a.clone(),
            (_, None, Some(b)) => b.clone(),
            _ => "?".into(),
        };
        let what = match s.kind {
            "broadcast" => format!(
                "{who} sent a broadcast to {} different recipients ({} deliveries, up to {}/min) between {} and {}: a newsletter-style burst, not a storm on one mailbox.",
                thousands(s.distinct_counterparts as u64),
                thousands(s.messages),
                thousands(s.peak_per_minute),
                minute(&s.first_seen),
                minute(&s.last_seen)
            ),
            kind => format!(
                "{} storm {who}: {} messages between {} and {}, up to {}/min against a baseline of {}/min{}.",
                match kind {
                    "pair" => "Pair",
                    "sender" => "Sender",
                    _ => "Recipient",
                },
                thousands(s.messages),
                minute(&s.first_seen),
                minute(&s.last_seen),
                thousands(s.peak_per_minute),
                s.baseline_per_minute,
                if s.in_loop { " (part of the loop above)" } else { "" }
            ),
        };
        out.push(what);
    }
    for mb in f.mailbox_full.iter().take(3) {
        out.push(format!(
            "{} hit its quota at {} UTC ({}); {} rejections and {} deferrals followed, the last at {}.",
            mb.mailbox,
            minute(&mb.first_failure),
            mb.code,
            thousands(mb.failures),
            thousands(mb.deferrals),
            minute(&mb.last_failure)
        ));
    }
    for q in &f.queues {
        for g in q.growing.iter().take(2) {
            out.push(format!(
                "The queue on {} grew for {} min from {} (velocity down to {} msg/s, backlog up to {} messages).",
                q.server,
                g.duration_s / 60,
                minute(&g.start),
                g.min_velocity,
                thousands(g.backlog_peak.max(0) as u64)
            ));
        }
    }
    for c in f.client_ips.iter().filter(|c| c.anomalous).take(3) {
        out.push(format!(
            "Client IP {} is unexpected: {} ({} messages, {} failed).",
            c.name,
            c.reasons.join("; "),
            thousands(c.messages),
            thousands(c.failures)
        ));
    }
    if f.loops.is_empty() && f.storms.iter().all(|s| s.kind == "broadcast") {
        out.push("No bounce loop and no storm on one mailbox was found.".into());
    }
    let MessageCounts {
        total,
        notification,
        auto_reply,
        ..
    } = f.messages;
    out.push(format!(
        "Overall: {} messages ({} notification{}, {} automatic repl{}), {:.2}% failed; delivery latency p50 {}, p95 {}, p99 {}.",
        thousands(total),
        thousands(notification),
        if notification == 1 { "" } else { "s" },
        thousands(auto_reply),
        if auto_reply == 1 { "y" } else { "ies" },
        f.sli.failure_ratio * 100.0,
        secs(f.sli.latency_ms.p50),
        secs(f.sli.latency_ms.p95),
        secs(f.sli.latency_ms.p99)
    ));
    if let Some(slo) = &f.sli.slo {
        out.push(format!(
            "Latency objective {} for {:.2}% of messages: {:.2}% met it; {:.0}% of the error budget burned.",
            secs(Some(slo.latency_ms)),
            slo.target * 100.0,
            slo.good_ratio * 100.0,
            slo.budget_burned * 100.0
        ));
    }
    let gaps: usize = f.coverage.iter().map(|c| c.gaps.len()).sum();
    if gaps > 0 {
        out.push(format!(
            "Evidence is incomplete: {gaps} stretches where a server has no log while others do (see Evidence quality)."
        ));
    }
    if let Some(s) = f.clock_skew.first() {
        out.push(format!(
            "Clocks disagree: {} logged {} messages before {} sent them (by up to {}).",
            s.to,
            thousands(s.inverted),
            s.from,
            secs(Some(s.max_ms))
        ));
    }
    out
}

fn join_and(v: &[String]) -> String {
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        _ => format!("{} and {}", v[..v.len() - 1].join(", "), v[v.len() - 1]),
    }
}
