//! The noise, told apart. Most lines of a real tracking log are the servers talking to
//! themselves: Managed Availability probes to and from `HealthMailbox…` mailboxes, proxy
//! probes, and shadow-redundancy events (`HA*`). They are counted here and left out of storms,
//! SLIs and the top tables (unless `--include-probes`), so that they neither hide an incident
//! nor pass for one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Noise {
    pub probe_messages: u64,
    pub probe_rows: u64,
    /// Shadow-redundancy rows (HARECEIVE, HAREDIRECT, HAREDIRECTFAIL, HADISCARD, NOTIFYSHADOW).
    pub shadow_rows: u64,
    pub rows: u64,
    /// Share of all tracking rows that is noise.
    pub share: f64,
    /// Whether probes were kept in the analysis (`--include-probes`).
    pub included: bool,
    /// The monitoring mailboxes with most rows.
    pub mailboxes: Vec<(String, u64)>,
}

pub struct NoiseDetector;

impl Detector for NoiseDetector {
    fn key(&self) -> &'static str {
        "noise"
    }
    fn title(&self) -> &'static str {
        "Probes and shadow copies"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Traffic
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/noise.html"))
    }
    fn methods(&self, p: &Params) -> String {
        format!("Messages from or to HealthMailbox…, extest_… and proxy-probe mailboxes are health probes; shadow-redundancy events (HA*) are copies kept in case a server fails. Both are counted here. Probes are {} storms, SLIs and the top tables{}.", if p.include_probes { "kept in" } else { "left out of" }, if p.include_probes { " (--include-probes)" } else { " (--include-probes keeps them)" })
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut n = Noise {
            rows: m.n as u64,
            included: cx.p.include_probes,
            ..Noise::default()
        };
        let mut boxes: BTreeMap<u32, u64> = BTreeMap::new();
        for msg in &m.msgs {
            if msg.rows > 0 && msg.is_probe() {
                n.probe_messages += 1;
                n.probe_rows += msg.rows as u64;
                let who = if crate::analyze::model::classify::is_probe_address(
                    m.addrs.name(msg.sender),
                ) {
                    Some(msg.sender)
                } else {
                    m.msg_recipients(msg).first().copied()
                };
                if let Some(a) = who {
                    *boxes.entry(a).or_default() += msg.rows as u64;
                }
            }
        }
        n.shadow_rows = m.ev.iter().filter(|e| e.is_shadow()).count() as u64;
        n.share = if n.rows == 0 {
            0.0
        } else {
            (((n.probe_rows + n.shadow_rows) as f64 / n.rows as f64) * 10_000.0).round() / 10_000.0
        };
        let mut v: Vec<(String, u64)> = boxes
            .into_iter()
            .map(|(a, k)| (m.addrs.name(a).to_string(), k))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(10);
        n.mailboxes = v;
        Detected::value("noise", n)
    }
}
