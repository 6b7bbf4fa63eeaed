//! The verdict: the detectors' sentences, the most significant first. Significance is a
//! finding's size against the bundle's traffic (and, for loops and the floods that fed them,
//! that they are the incident), so on a bundle with a loop the summary talks about the loop, not
//! about a queue that grew for two minutes; small findings stay in their own sections.

/// A detector's sentence for the summary and how much it matters.
#[derive(Debug, Clone)]
pub struct Sentence {
    pub text: String,
    /// About the share of the bundle's messages the finding involves; loops and the floods
    /// behind them weigh more. [`FOOTER`] puts a sentence at the end, always.
    pub weight: f64,
}

/// Sentences always shown, after the findings (the overall figures).
pub const FOOTER: f64 = -1.0;
/// Below this a finding stays in its section.
pub const SIGNIFICANT: f64 = 0.02;
/// At most this many findings in the summary.
pub const MOST: usize = 6;

/// The summary: significant findings first (at most [`MOST`]), then the footer. `found` says
/// whether any incident-type detector found anything at all, significant or not.
pub fn write(mut sentences: Vec<Sentence>, found: bool) -> Vec<String> {
    let footer: Vec<String> = sentences
        .iter()
        .filter(|s| s.weight == FOOTER)
        .map(|s| s.text.clone())
        .collect();
    sentences.retain(|s| s.weight != FOOTER);
    // Stable: equal weights keep the registry's order.
    sentences.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let mut out: Vec<String> = Vec::new();
    if !found {
        out.push(
            "No incident found: no bounce loop, no storm, nothing from the incident catalogue."
                .into(),
        );
    }
    let significant: Vec<String> = sentences
        .into_iter()
        .filter(|s| s.weight >= SIGNIFICANT)
        .take(MOST)
        .map(|s| s.text)
        .collect();
    if found && significant.is_empty() {
        out.push("No bounce loop and nothing large: what was found is small against the bundle's traffic (see the sections below).".into());
    }
    out.extend(significant);
    out.extend(footer);
    out
}
