//! The blast radius of each loop or storm on ordinary mail: the failure ratio and latency of
//! the mail that had nothing to do with it, during the finding and over as long a stretch before
//! it. That is what the users felt.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analyze::detectors::sli::{latency_of, Latency};
use crate::analyze::detectors::sources::ratio;
use crate::analyze::model::Class;
use crate::analyze::{Cx, Detected, Detector, Mark, Params, Place, Stage};
use crate::error::Result;
use crate::human::rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Radius {
    pub messages: u64,
    pub failure_ratio: f64,
    pub latency_ms: Latency,
}

/// Which finding a blast radius belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Loop,
    Storm,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlastRadius {
    /// `loop` or `storm`, with the index into `loops` / `storms`.
    pub finding: FindingKind,
    pub index: usize,
    pub start: String,
    pub end: String,
    /// Ordinary mail (not part of any loop or storm) before the finding began, over as long a
    /// stretch as the finding itself (or what the bundle has).
    pub before: Radius,
    pub during: Radius,
}

pub struct Blast;

impl Detector for Blast {
    fn key(&self) -> &'static str {
        "blast_radius"
    }
    fn title(&self) -> &'static str {
        "Blast radius"
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
        "Ordinary mail is every original message that is not in a loop, does not feed one, and is not part of a storm. Its failure ratio and latency during a loop or storm are compared with the same length of time just before it.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut excluded = vec![false; m.msgs.len()];
        for mark in cx.board.loops.iter().chain(&cx.board.storms) {
            for &i in mark.msgs.iter().chain(&mark.roots) {
                excluded[i as usize] = true;
            }
        }
        // Ordinary originals by arrival, each with its latency worked out once: every mark then
        // reads two slices of this list (binary search), not the whole model.
        let mut ordinary: Vec<(i64, bool, Option<i64>)> = m
            .msgs
            .iter()
            .enumerate()
            .filter(|&(i, msg)| cx.counts(i) && !excluded[i] && msg.class == Class::Original)
            .map(|(_, msg)| (msg.arrival, msg.failed, m.latency(msg)))
            .collect();
        ordinary.sort_unstable_by_key(|x| x.0);
        let radius = |mark: &Mark| {
            let len = (mark.end - mark.start).max(60_000);
            let before_from = (mark.start - len).max(m.start);
            let lo = ordinary.partition_point(|x| x.0 < before_from);
            let mid = ordinary.partition_point(|x| x.0 < mark.start);
            let hi = ordinary.partition_point(|x| x.0 <= mark.end);
            let r = |part: &[(i64, bool, Option<i64>)]| Radius {
                messages: part.len() as u64,
                failure_ratio: ratio(
                    part.iter().filter(|x| x.1).count() as u64,
                    part.len() as u64,
                ),
                latency_ms: latency_of(part.iter().filter_map(|x| x.2).collect()),
            };
            (
                r(&ordinary[lo..mid.max(lo)]),
                r(&ordinary[mid..hi.max(mid)]),
            )
        };
        let marks: Vec<(FindingKind, usize, &Mark)> = [
            (FindingKind::Loop, &cx.board.loops),
            (FindingKind::Storm, &cx.board.storms),
        ]
        .into_iter()
        .flat_map(|(kind, marks)| marks.iter().enumerate().map(move |(i, x)| (kind, i, x)))
        .collect();
        // A storm's window can hold most of the bundle's messages: the marks are measured side
        // by side (and kept in their order).
        let out: Vec<BlastRadius> = marks
            .par_iter()
            .map(|&(kind, index, mark)| {
                let (before, during) = radius(mark);
                BlastRadius {
                    finding: kind,
                    index,
                    start: rfc3339(mark.start),
                    end: rfc3339(mark.end),
                    before,
                    during,
                }
            })
            .collect();
        Detected::value("blast_radius", out)
    }
}
