//! The incident catalogue: everything else the transport logs can show, beyond loops and storms.
//! Each kind is its own detector (one file here, behind the same `Detector` trait as the rest)
//! and adds one object per incident to the findings' `incidents` list, in one shape for all
//! kinds; its section in the report is the shared `incident.html` partial filtered by kind.
//! What they share lives here: collecting the rows and messages of an incident, and turning
//! them into an [`Incident`] with its evidence.

pub mod back_pressure;
pub mod backscatter;
pub mod delivery_throttling;
pub mod duplicate_delivery;
pub mod hop_count_loop;
pub mod list_amplification;
pub mod moderation_stall;
pub mod poison_message;
pub mod queue_expiry;
pub mod receive_limit;
pub mod safety_net_resubmit;
pub mod shadow_redundancy_failure;
pub mod silent_drop;
pub mod submission_failure;
pub mod throttled_auto_reply;
pub mod transport_rule_loop;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::analyze::evidence::Evidence;
use crate::analyze::model::{Model, NONE};
use crate::analyze::summary::Sentence;
use crate::analyze::{Cx, Detected, Detector, Params, Place};
use crate::human::rfc3339;

/// The kinds of incident, with their JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    HopCountLoop,
    ThrottledAutoReply,
    TransportRuleLoop,
    ReceiveLimit,
    DeliveryThrottling,
    BackPressure,
    QueueExpiry,
    PoisonMessage,
    ShadowRedundancyFailure,
    DuplicateDelivery,
    SafetyNetResubmit,
    SubmissionFailure,
    SilentDrop,
    ModerationStall,
    ListAmplification,
    Backscatter,
}

impl IncidentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::HopCountLoop => "hop_count_loop",
            IncidentKind::ThrottledAutoReply => "throttled_auto_reply",
            IncidentKind::TransportRuleLoop => "transport_rule_loop",
            IncidentKind::ReceiveLimit => "receive_limit",
            IncidentKind::DeliveryThrottling => "delivery_throttling",
            IncidentKind::BackPressure => "back_pressure",
            IncidentKind::QueueExpiry => "queue_expiry",
            IncidentKind::PoisonMessage => "poison_message",
            IncidentKind::ShadowRedundancyFailure => "shadow_redundancy_failure",
            IncidentKind::DuplicateDelivery => "duplicate_delivery",
            IncidentKind::SafetyNetResubmit => "safety_net_resubmit",
            IncidentKind::SubmissionFailure => "submission_failure",
            IncidentKind::SilentDrop => "silent_drop",
            IncidentKind::ModerationStall => "moderation_stall",
            IncidentKind::ListAmplification => "list_amplification",
            IncidentKind::Backscatter => "backscatter",
        }
    }
}

/// One incident found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    pub kind: IncidentKind,
    pub first_seen: String,
    pub last_seen: String,
    /// What the incident is made of: messages (loops, limits, expiry, drops...), sessions
    /// turned away (back pressure), or recipients the list expanded to (list amplification).
    pub count: u64,
    /// The servers that logged it.
    pub servers: Vec<String>,
    /// The mailboxes, lists or domains involved (for a routing loop, the recipient domain).
    pub addresses: Vec<String>,
    /// The enhanced status codes seen.
    pub codes: Vec<String>,
    /// One sentence saying what happened.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// The loop (1-based, as numbered in `loops`) most of its messages travel in or feed: then
    /// it is a symptom of that loop, told in the loop's story rather than on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of_loop: Option<usize>,
}

/// The section partial every catalogue detector uses (filtered by its kind).
pub const TEMPLATE: &str = include_str!("../../../../templates/sections/incident.html");

/// A detector of the catalogue: its kind, title, methods and detection. The rest of a
/// [`Detector`] follows from being in the catalogue: the kind's name is the key, the section
/// stands among the incidents, and the shared `incident.html` shows it.
pub trait Catalogue: Sync {
    const KIND: IncidentKind;
    fn title(&self) -> &'static str;
    fn methods(&self, p: &Params) -> String;
    fn detect(&self, cx: &Cx<'_>) -> crate::error::Result<Detected>;
}

impl<T: Catalogue> Detector for T {
    fn key(&self) -> &'static str {
        T::KIND.as_str()
    }
    fn title(&self) -> &'static str {
        Catalogue::title(self)
    }
    fn place(&self) -> Place {
        Place::Incident
    }
    fn detect(&self, cx: &Cx<'_>) -> crate::error::Result<Detected> {
        Catalogue::detect(self, cx)
    }
    fn methods(&self, p: &Params) -> String {
        Catalogue::methods(self, p)
    }
    fn template(&self) -> Option<&'static str> {
        Some(TEMPLATE)
    }
}

/// At most this many addresses are listed per incident (the count says how many there were).
pub const MAX_ADDRESSES: usize = 25;

/// Rows and messages of one incident, collected as the detector walks the model.
#[derive(Default)]
pub struct Collect {
    pub msgs: BTreeSet<u32>,
    /// Rows that show the incident (the first and last become evidence).
    pub rows: Vec<u32>,
    pub codes: BTreeSet<String>,
    pub servers: BTreeSet<u32>,
    pub addresses: BTreeSet<String>,
    pub first: i64,
    pub last: i64,
}

impl Collect {
    /// Takes row `r` (its time, server, message and the codes of its 4xx/5xx statuses).
    pub fn row(&mut self, m: &Model, r: usize) {
        let t = m.time[r];
        if self.rows.is_empty() {
            self.first = t;
            self.last = t;
        }
        self.first = self.first.min(t);
        self.last = self.last.max(t);
        self.rows.push(r as u32);
        self.servers.insert(m.server[r]);
        if m.msg[r] != NONE {
            self.msgs.insert(m.msg[r]);
        }
        for &c in m.row_codes(r) {
            if c != NONE && matches!(m.code_class(c), 4 | 5) {
                self.codes.insert(m.codes.name(c).to_string());
            }
        }
    }

    pub fn address(&mut self, m: &Model, a: u32) {
        if a != NONE {
            self.addresses.insert(m.addrs.name(a).to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The incident: `count` of what it is made of, and its sentence.
    pub fn incident(
        &self,
        cx: &Cx<'_>,
        kind: IncidentKind,
        count: u64,
        summary: String,
        why: &str,
    ) -> Incident {
        let m = cx.m;
        let mut rows = self.rows.clone();
        rows.sort_by_key(|&r| (m.time[r as usize], r));
        let mut picked: Vec<(u32, String)> = Vec::new();
        if let Some(&r) = rows.first() {
            picked.push((r, format!("first {why}")));
        }
        if rows.len() > 2 {
            picked.push((rows[rows.len() / 2], format!("{why}, midway")));
        }
        if rows.len() > 1 {
            if let Some(&r) = rows.last() {
                picked.push((r, format!("last {why}")));
            }
        }
        Incident {
            kind,
            first_seen: rfc3339(self.first),
            last_seen: rfc3339(self.last),
            count,
            // In id order, which is the names' order.
            servers: self
                .servers
                .iter()
                .map(|&s| m.servers.name(s).to_string())
                .collect(),
            addresses: self.addresses.iter().take(MAX_ADDRESSES).cloned().collect(),
            codes: self.codes.iter().cloned().collect(),
            summary,
            evidence: picked
                .into_iter()
                .map(|(r, w)| cx.evidence.evidence(m, r as usize, &w))
                .collect(),
            part_of_loop: self.part_of_loop(cx),
        }
    }

    /// The loop most of these messages travel in or feed, if any.
    pub fn part_of_loop(&self, cx: &Cx<'_>) -> Option<usize> {
        let mut by: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
        for &i in &self.msgs {
            let i = i as usize;
            let feeds = cx.board.feeds_loop.get(i).copied().unwrap_or(0) as usize;
            let inside = cx.board.in_loop.get(i).copied().unwrap_or(false);
            let k = if feeds > 0 {
                feeds
            } else if inside {
                // Which loop: the one whose messages include it.
                cx.board
                    .loops
                    .iter()
                    .position(|l| l.msgs.binary_search(&(i as u32)).is_ok())
                    .map_or(0, |p| p + 1)
            } else {
                0
            };
            if k > 0 {
                *by.entry(k).or_default() += 1;
            }
        }
        let (&l, &n) = by.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
        (n * 2 >= self.msgs.len().max(1)).then_some(l)
    }
}

/// A catalogue detector's result: its incidents, their sentences weighted by `weight` plus the
/// share of the bundle's messages they involve. An incident that is a symptom of a loop says so
/// and stays in its section: the loop's sentence tells the story.
pub fn detected(cx: &Cx<'_>, mut incidents: Vec<Incident>, weight: f64) -> Detected {
    for i in &mut incidents {
        if let Some(l) = i.part_of_loop {
            i.summary
                .push_str(&format!(" Most of these messages belong to loop {l}."));
        }
    }
    Detected {
        found: incidents.len(),
        summary: incidents
            .iter()
            .map(|i| Sentence {
                text: i.summary.clone(),
                weight: if i.part_of_loop.is_some() {
                    0.0
                } else {
                    weight + cx.share(i.count)
                },
            })
            .collect(),
        incidents,
        ..Detected::default()
    }
}

/// `a@b.example` → `b.example`.
pub fn domain(a: &str) -> &str {
    a.rsplit_once('@').map_or(a, |(_, d)| d)
}

/// Writes `n` addresses as a short list: `a, b and 3 more`.
pub fn some(v: &BTreeSet<String>, n: usize) -> String {
    let shown: Vec<String> = v.iter().take(n).cloned().collect();
    let more = v.len().saturating_sub(n);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        crate::human::join_and(&shown)
    }
}

/// The common case: the rows `pick` accepts make one incident (if any), addresses taken from
/// each row by `addresses`, its sentence written by `text` from what was collected.
pub fn from_rows(
    cx: &Cx<'_>,
    kind: IncidentKind,
    why: &str,
    pick: impl Fn(usize) -> bool,
    addresses: impl Fn(&mut Collect, usize),
    text: impl Fn(&Collect) -> String,
) -> Option<Incident> {
    let m = cx.m;
    let mut c = Collect::default();
    for &r in &m.order {
        let r = r as usize;
        if pick(r) {
            c.row(m, r);
            addresses(&mut c, r);
        }
    }
    if c.is_empty() {
        return None;
    }
    let n = c.msgs.len().max(1) as u64;
    Some(c.incident(cx, kind, n, text(&c), why))
}

/// The servers of a collection, named.
pub fn server_names(m: &Model, c: &Collect) -> String {
    crate::human::join_and(
        &c.servers
            .iter()
            .map(|&s| m.servers.name(s).to_string())
            .collect::<Vec<_>>(),
    )
}
