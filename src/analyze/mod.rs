//! The analyze stage: the model in, [`Findings`] out. `Findings` is the contract with rendering
//! and the JSON output; everything the report shows is in it, computed here.
//!
//! The work is done by detectors, one file each, behind one small trait ([`Detector`]): what it
//! reads from the model, what it adds to the findings, its sentences for the summary, and its
//! methods text. They run in stages ([`Stage`]); detectors of one stage run side by side, each
//! reading the model once. What a later stage needs from an earlier one (the messages of a loop,
//! the period of a storm) is passed explicitly on the [`Board`], never through the findings.

pub mod detectors;
pub mod evidence;
pub mod model;
pub mod series;
pub mod summary;
pub mod trace;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::ingest::Inventory;
use evidence::EvidenceSource;
use model::Model;

/// When a detector runs: later stages see what earlier ones left on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Needs only the model: the loop search, and every detector that does not read the board.
    First,
    /// Needs the loops (storms link to them; most detectors run here).
    Second,
    /// Needs loops and storms (blast radius, timeline).
    Third,
}

/// Where a detector's section goes in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// An incident: shown near the top when found, listed as "checked" when not.
    Incident,
    /// How mail flowed: always shown.
    Traffic,
    /// Tables and evidence quality, at the end.
    Appendix,
}

/// One kind of finding.
pub trait Detector: Sync {
    /// The key of its findings in `findings.json`, the anchor of its section and the name of its
    /// template partial.
    fn key(&self) -> &'static str;
    /// The section's title.
    fn title(&self) -> &'static str;
    fn stage(&self) -> Stage {
        Stage::Second
    }
    fn place(&self) -> Place;
    /// Reads the model (and the board), returns what it found.
    fn detect(&self, cx: &Cx<'_>) -> Result<Detected>;
    /// How it works and the thresholds it used, for the report's methods appendix.
    fn methods(&self, p: &Params) -> String;
    /// Its template partial (`templates/sections/<key>.html`), compiled in; `None` when its
    /// findings are shown by another section.
    fn template(&self) -> Option<&'static str>;
}

/// What a detector reads.
pub struct Cx<'a> {
    pub m: &'a Model,
    pub p: &'a Params,
    pub board: &'a Board,
    pub evidence: &'a dyn EvidenceSource,
    /// By message id: whether it takes part in the analysis (see [`Cx::counts`]). Asked row
    /// after row by most detectors, so answered from one flag per message instead of the
    /// message's whole record.
    pub counted: &'a [bool],
    /// How many messages take part: what a finding's share of the bundle is weighed against.
    pub total: u64,
    /// Per-server coverage, worked out by the first detector that asks (see [`Cx::spans`]).
    pub spans: &'a OnceLock<detectors::coverage::Spans>,
}

impl Cx<'_> {
    /// Each server's span of rows and its gaps: read by the coverage section and by the loop
    /// search (a loop over a gap is a lower bound), computed once for both.
    pub fn spans(&self) -> &detectors::coverage::Spans {
        self.spans
            .get_or_init(|| detectors::coverage::spans(self.m))
    }

    /// A message that takes part in the analysis: real, and not a probe (unless asked for).
    pub fn counts(&self, id: usize) -> bool {
        self.counted.get(id).copied().unwrap_or(false)
    }

    /// The share of the messages that take part that `n` is: how much a finding weighs.
    pub fn share(&self, n: u64) -> f64 {
        n as f64 / self.total.max(1) as f64
    }
}

/// What a detector found.
#[derive(Default)]
pub struct Detected {
    /// Its findings, under their keys (usually one: its own key).
    pub values: Vec<(&'static str, Value)>,
    /// How many findings (0: nothing found; the section then says so in one line).
    pub found: usize,
    /// Its sentences for the summary, with their significance.
    pub summary: Vec<summary::Sentence>,
    /// Entries for the incident catalogue (`incidents` in the findings).
    pub incidents: Vec<detectors::incidents::Incident>,
    /// Working state for later stages.
    pub marks: Marks,
}

impl Detected {
    pub fn value(key: &'static str, v: impl Serialize) -> Result<Detected> {
        Ok(Detected {
            values: vec![(key, serde_json::to_value(v)?)],
            ..Detected::default()
        })
    }
}

/// A period and the messages of a finding, for the stages after it.
#[derive(Debug, Clone, Default)]
pub struct Mark {
    pub start: i64,
    pub end: i64,
    /// Message ids (model ids) that belong to the finding.
    pub msgs: Vec<u32>,
    /// Originals whose consequences feed it (loops).
    pub roots: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Marks {
    pub loops: Vec<Mark>,
    pub storms: Vec<Mark>,
}

/// What earlier stages left for later ones.
#[derive(Debug, Default)]
pub struct Board {
    pub loops: Vec<Mark>,
    pub storms: Vec<Mark>,
    /// Per message id: travels in a loop.
    pub in_loop: Vec<bool>,
    /// Per message id: an original whose consequences feed a loop (index + 1), 0 if none.
    pub feeds_loop: Vec<u32>,
}

impl Board {
    fn add(&mut self, m: &Model, marks: Marks) {
        if self.in_loop.is_empty() {
            self.in_loop = vec![false; m.msgs.len()];
            self.feeds_loop = vec![0; m.msgs.len()];
        }
        for l in marks.loops {
            let k = self.loops.len() as u32 + 1;
            for &i in &l.msgs {
                self.in_loop[i as usize] = true;
            }
            for &i in &l.roots {
                if self.feeds_loop[i as usize] == 0 {
                    self.feeds_loop[i as usize] = k;
                }
            }
            self.loops.push(l);
        }
        self.storms.extend(marks.storms);
    }
}

/// Tunable parts of the analysis; defaults suit a typical incident bundle. The report prints the
/// values actually used.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Params {
    pub loops: detectors::loops::LoopParams,
    pub storms: detectors::storms::StormParams,
    pub queues: detectors::queues::QueueParams,
    pub sli: detectors::sli::SliParams,
    /// Keep health probes and monitoring mailboxes in storms, SLIs and tables.
    pub include_probes: bool,
}

/// A section of the report, in order.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub key: &'static str,
    pub title: &'static str,
    pub place: Place,
    pub found: usize,
    /// The methods text of its detector.
    pub methods: String,
}

/// Everything the report says, and the `report --json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    /// The inventory (`inspect --json`), unchanged.
    pub bundle: Inventory,
    /// The parameters the analysis used.
    pub params: Params,
    /// The verdict in a few sentences, the most significant findings first.
    pub summary: Vec<String>,
    /// The report's sections in order, with how much each found.
    pub sections: Vec<Section>,
    /// Every incident of the catalogue found, one object each.
    pub incidents: Vec<detectors::incidents::Incident>,
    /// Each detector's findings under its key (`loops`, `storms`, `sli`, ...).
    #[serde(flatten)]
    pub detected: BTreeMap<&'static str, Value>,
}

impl Findings {
    /// A detector's findings, typed.
    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.detected
            .get(key)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }
}

/// Runs every detector over the model.
pub fn analyze(
    m: &Model,
    inventory: &Inventory,
    params: &Params,
    evidence: &dyn EvidenceSource,
) -> Result<Findings> {
    let mut sw = crate::timing::Stopwatch::start();
    // Health probes are left out unless asked for.
    let counted: Vec<bool> = m
        .msgs
        .iter()
        .map(|x| x.counts() && (params.include_probes || !x.is_probe()))
        .collect();
    let total = counted.iter().filter(|&&c| c).count() as u64;
    let mut board = Board::default();
    board.add(m, Marks::default());
    let spans = OnceLock::new();
    // Each detector's result, by its place in the registry: what they say is assembled in
    // registry order whatever stage they ran in, so equal-weight sentences keep that order.
    let mut results: Vec<Option<Detected>> = detectors::REGISTRY.iter().map(|_| None).collect();
    for stage in [Stage::First, Stage::Second, Stage::Third] {
        let cx = Cx {
            m,
            p: params,
            board: &board,
            evidence,
            counted: &counted,
            total,
            spans: &spans,
        };
        let ds: Vec<(usize, &dyn Detector)> = detectors::REGISTRY
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, d)| d.stage() == stage)
            .collect();
        let outs: Vec<(usize, Result<Detected>)> = ds
            .par_iter()
            .map(|&(i, d)| {
                let t = std::time::Instant::now();
                let out = d.detect(&cx);
                crate::timing::note(d.key(), t);
                (i, out)
            })
            .collect();
        let mut marks = Marks::default();
        for (i, out) in outs {
            let mut out = out?;
            marks.loops.append(&mut out.marks.loops);
            marks.storms.append(&mut out.marks.storms);
            results[i] = Some(out);
        }
        board.add(m, marks);
        sw.lap(match stage {
            Stage::First => "analyze: loops and model-only detectors",
            Stage::Second => "analyze: detectors",
            Stage::Third => "analyze: blast radius, timeline",
        });
    }
    let mut detected: BTreeMap<&'static str, Value> = BTreeMap::new();
    let mut sentences = Vec::new();
    let mut incidents = Vec::new();
    let mut found: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (d, out) in detectors::REGISTRY.iter().zip(results) {
        let Some(out) = out else { continue };
        detected.extend(out.values);
        found.insert(d.key(), out.found);
        sentences.extend(out.summary);
        incidents.extend(out.incidents);
    }
    incidents.sort_by(|a: &detectors::incidents::Incident, b| {
        (a.first_seen.as_str(), a.kind.as_str()).cmp(&(b.first_seen.as_str(), b.kind.as_str()))
    });
    let anything = detectors::REGISTRY
        .iter()
        .any(|d| d.place() == Place::Incident && found.get(d.key()).copied().unwrap_or(0) > 0);
    let sections = detectors::REGISTRY
        .iter()
        .filter(|d| d.template().is_some())
        .map(|d| Section {
            key: d.key(),
            title: d.title(),
            place: d.place(),
            found: found.get(d.key()).copied().unwrap_or(0),
            methods: d.methods(params),
        })
        .collect();
    Ok(Findings {
        bundle: inventory.clone(),
        params: params.clone(),
        summary: summary::write(sentences, anything),
        sections,
        incidents,
        detected,
    })
}
