//! Back pressure: a server short of disk or memory answers `452 4.3.1 Insufficient system
//! resources` and turns clients away. Seen in SMTP Receive protocol logs: when, on which server
//! and connector, and how many sessions were turned away.

use std::collections::{BTreeMap, BTreeSet};

use super::{detected, Catalogue, Incident, IncidentKind};
use crate::analyze::evidence::Evidence;
use crate::analyze::model::NONE;
use crate::analyze::{Cx, Detected, Params};
use crate::error::Result;
use crate::human::{count, rfc3339, span};
use crate::ingest::LogKind;

pub struct BackPressure;

impl Catalogue for BackPressure {
    const KIND: IncidentKind = IncidentKind::BackPressure;
    fn title(&self) -> &'static str {
        "Back pressure"
    }
    fn methods(&self, _: &Params) -> String {
        "SMTP Receive protocol-log sessions in which the server answered 452 4.3.1 (insufficient system resources: Exchange's back pressure), per server: how many sessions were turned away, when, on which receive connectors. Needs protocol logging on the connectors.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut by_server: BTreeMap<u32, Vec<&crate::analyze::model::Session>> = BTreeMap::new();
        for s in &m.sessions {
            if s.kind == LogKind::SmtpReceive && s.turned_away.is_some() {
                by_server.entry(s.server).or_default().push(s);
            }
        }
        let mut out = Vec::new();
        for (server, mut sessions) in by_server {
            sessions.sort_by_key(|s| (s.start, s.first_line));
            let first = sessions.iter().map(|s| s.start).min().unwrap_or(0);
            let last = sessions.iter().map(|s| s.end).max().unwrap_or(0);
            let connectors: BTreeSet<String> = sessions
                .iter()
                .filter(|s| s.connector != NONE)
                .map(|s| m.connectors.name(s.connector).to_string())
                .collect();
            let name = m.servers.name(server).to_string();
            let n = sessions.len() as u64;
            let evidence = [sessions.first(), sessions.last()]
                .into_iter()
                .flatten()
                .enumerate()
                .filter(|(k, _)| *k == 0 || n > 1)
                .map(|(k, s)| Evidence {
                    path: m
                        .entries
                        .get(s.entry as usize)
                        .map(|e| e.path.clone())
                        .unwrap_or_default(),
                    line: s.turned_away.unwrap_or(s.first_line) as u64,
                    why: if k == 0 {
                        "first session turned away"
                    } else {
                        "last session turned away"
                    }
                    .into(),
                    time: rfc3339(s.start),
                    server: name.clone(),
                    event_id: ">".into(),
                    source: "SMTP receive protocol log".into(),
                    message_id: String::new(),
                    sender: s.remote.clone(),
                    recipients: String::new(),
                    status: "452 4.3.1 Insufficient system resources".into(),
                    subject: String::new(),
                    context: format!("session {}", s.session),
                })
                .collect();
            out.push(Incident {
                kind: IncidentKind::BackPressure,
                first_seen: rfc3339(first),
                last_seen: rfc3339(last),
                count: n,
                servers: vec![name.clone()],
                addresses: Vec::new(),
                codes: vec!["4.3.1".into()],
                summary: format!(
                    "{name} was under back pressure: it turned away {} with 452 4.3.1 (insufficient system resources) over {} on {}; check its free disk space and memory.",
                    count(n, "session", "sessions"),
                    span(last - first),
                    connectors.into_iter().collect::<Vec<_>>().join(", ")
                ),
                evidence,
                part_of_loop: None,
            });
        }
        Ok(detected(cx, out, 0.5))
    }
}
