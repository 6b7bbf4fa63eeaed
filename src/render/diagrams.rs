//! Diagrams drawn as SVG from the findings' graphs: a loop's cycle (addresses as boxes, arrows
//! with counts and the status codes that drive them) and the mail flow between servers and the
//! outside. Every label comes from the logs, so every label is XML-escaped here.

mod layered;

use std::collections::BTreeMap;
use std::fmt::Write;

use super::esc;
use crate::analyze::detectors::flow::{NodeKind, ServerFlow};
use crate::analyze::detectors::loops::Loop;

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// A white outline under a label, so that a line passing behind it does not cross out its text.
const HALO: &str =
    r##" stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke""##;

// Arrowheads sized in drawing units, so thick (busy) edges do not get giant heads.
const DEFS: &str = r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6875"/></marker><marker id="arrow-red" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#b3261e"/></marker></defs>"##;

fn codes_label(codes: &std::collections::BTreeMap<String, u64>) -> String {
    let mut v: Vec<(&String, &u64)> = codes.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    v.iter()
        .take(2)
        .map(|(c, n)| format!("{c} ×{}", crate::human::thousands(**n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The loop as a ring of boxes with curved arrows between them.
pub fn loop_svg(l: &Loop) -> String {
    let n = l.members.len().max(1);
    // Two boxes side by side need little height, unless an address also mails itself (that
    // arc rises far above its box).
    let selfish = l.edges.iter().any(|e| e.from == e.to);
    let h = match (n <= 2, selfish) {
        (true, false) => 200.0,
        (true, true) => 260.0,
        _ => 420.0,
    };
    let w = 960.0f64;
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (rx, ry) = if n <= 2 { (300.0, 0.0) } else { (330.0, 150.0) };
    let pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = std::f64::consts::PI * (1.0 + 2.0 * i as f64 / n as f64);
            (cx + rx * a.cos(), cy + ry * a.sin())
        })
        .collect();
    let (bw, bh) = (250.0, 44.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" class="diagram loop-diagram"><title>Loop between {}</title>{DEFS}"#,
        esc(&l.members.join(", "))
    );
    let idx = |a: &str| l.members.iter().position(|m| m == a);
    for e in &l.edges {
        let (Some(i), Some(j)) = (idx(&e.from), idx(&e.to)) else {
            continue;
        };
        let label = format!(
            "{} msgs{}",
            crate::human::thousands(e.messages),
            if e.status_codes.is_empty() {
                String::new()
            } else {
                format!(" · {}", codes_label(&e.status_codes))
            }
        );
        if i == j {
            let (x, y) = pos[i];
            let _ = write!(
                s,
                r##"<path d="M{:.0},{:.0} C{:.0},{:.0} {:.0},{:.0} {:.0},{:.0}" fill="none" stroke="#b3261e" stroke-width="2" marker-end="url(#arrow-red)"/><text x="{:.0}" y="{:.0}" text-anchor="middle" class="edge-label"{HALO}>{}</text>"##,
                x - 40.0,
                y - bh / 2.0,
                x - 60.0,
                y - 110.0,
                x + 60.0,
                y - 110.0,
                x + 40.0,
                y - bh / 2.0,
                x,
                y - 95.0,
                esc(&label)
            );
            continue;
        }
        let ((x1, y1), (x2, y2)) = (pos[i], pos[j]);
        // Two curves per pair, bent to opposite sides so both directions stay readable.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (nx, ny) = (-dy / len, dx / len);
        let bend = 70.0;
        let (mx, my) = ((x1 + x2) / 2.0 + nx * bend, (y1 + y2) / 2.0 + ny * bend);
        // Start and end each curve at the edge of its box, on the line towards the bend.
        let shrink = |x: f64, y: f64, tx: f64, ty: f64| {
            let (ddx, ddy) = (tx - x, ty - y);
            let k = ((bw / 2.0) / ddx.abs().max(1e-9))
                .min((bh / 2.0 + 6.0) / ddy.abs().max(1e-9))
                .min(1.0);
            (x + ddx * k, y + ddy * k)
        };
        let (sx, sy) = shrink(x1, y1, mx, my);
        let (ex, ey) = shrink(x2, y2, mx, my);
        // The label goes just outside the curve's apex, on the side it bends to, so the curve
        // never runs through it.
        let (ax, ay) = ((sx + 2.0 * mx + ex) / 4.0, (sy + 2.0 * my + ey) / 4.0);
        let (lx, ly, anchor) = if ny <= -0.5 {
            (ax, ay - 8.0, "middle")
        } else if ny >= 0.5 {
            (ax, ay + 18.0, "middle")
        } else if nx > 0.0 {
            (ax + 8.0, ay + 4.0, "start")
        } else {
            (ax - 8.0, ay + 4.0, "end")
        };
        let _ = write!(
            s,
            r##"<path d="M{sx:.0},{sy:.0} Q{mx:.0},{my:.0} {ex:.0},{ey:.0}" fill="none" stroke="#b3261e" stroke-width="2" marker-end="url(#arrow-red)"/><text x="{lx:.0}" y="{ly:.0}" text-anchor="{anchor}" class="edge-label"{HALO}>{}</text>"##,
            esc(&label)
        );
    }
    for (i, m) in l.members.iter().enumerate() {
        let (x, y) = pos[i];
        let _ = write!(
            s,
            r##"<g class="node"><rect x="{:.0}" y="{:.0}" width="{bw}" height="{bh}" rx="6" fill="#fff" stroke="#1d2733" stroke-width="1.5"/><text x="{x:.0}" y="{:.0}" text-anchor="middle" class="node-label">{}</text></g>"##,
            x - bw / 2.0,
            y - bh / 2.0,
            y + 5.0,
            esc(&clip(m, 34))
        );
    }
    s.push_str("</svg>");
    s
}

/// Most outside endpoints drawn on each side; the rest are summed into one box.
const FLOW_SIDE: usize = 10;
/// Estimated advance of one character of a node label (13px monospace) and of an edge label
/// (12px sans-serif digits), generous so that real fonts fit in the room reserved.
const NODE_CHAR: f64 = 7.9;
const EDGE_CHAR: f64 = 7.8;
/// How far an arrowhead reaches past the end of its path.
const ARROW: f64 = 10.8;
/// Room above the columns for their headings.
const HEADINGS: f64 = 22.0;

const FLOW_DEFS: &str = r##"<defs><marker id="flow-arrow" viewBox="0 0 10 10" refX="1" refY="5" markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5b6875"/></marker></defs>"##;

struct FlowBox {
    label: String,
    /// The full name(s) behind the box, shown on hover.
    title: String,
    kind: &'static str,
    layer: usize,
}

/// Orders the servers so that as much server-to-server mail as possible runs forward (the
/// greedy feedback-arc-set order of Eades, Lin and Smyth, weighted by messages): mail against
/// that order is drawn as an arrow pointing back to the earlier column.
fn server_order<'a>(servers: &[&'a str], hops: &BTreeMap<(&'a str, &'a str), u64>) -> Vec<&'a str> {
    let mut left: Vec<&str> = Vec::new();
    let mut right: Vec<&str> = Vec::new();
    let mut rest: Vec<&str> = servers.to_vec();
    let flow = |v: &str, rest: &[&str], out: bool| -> u64 {
        hops.iter()
            .filter(|((a, b), _)| {
                let (me, other) = if out { (a, b) } else { (b, a) };
                *me == v && rest.contains(other)
            })
            .map(|(_, m)| *m)
            .sum()
    };
    while !rest.is_empty() {
        if let Some(k) = rest.iter().position(|v| flow(v, &rest, true) == 0) {
            right.push(rest.remove(k));
            continue;
        }
        if let Some(k) = rest.iter().position(|v| flow(v, &rest, false) == 0) {
            left.push(rest.remove(k));
            continue;
        }
        let k = (0..rest.len())
            .max_by_key(|&k| {
                let v = rest[k];
                (
                    flow(v, &rest, true) as i128 - flow(v, &rest, false) as i128,
                    std::cmp::Reverse(k),
                )
            })
            .unwrap_or(0);
        left.push(rest.remove(k));
    }
    right.reverse();
    left.extend(right);
    left
}

/// The busiest endpoints on one side get a box each; the rest share one. An endpoint that both
/// sends and receives appears on both sides: the drawing reads left to right.
fn side<'a>(
    boxes: &mut Vec<FlowBox>,
    totals: &BTreeMap<&'a str, u64>,
    layer: usize,
    others: &str,
    kind_of: &dyn Fn(&str) -> NodeKind,
) -> BTreeMap<&'a str, usize> {
    let mut v: Vec<(&'a str, u64)> = totals.iter().map(|(n, m)| (*n, *m)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let (ours, outside): (Vec<_>, Vec<_>) = v
        .into_iter()
        .partition(|(n, _)| kind_of(n) == NodeKind::Mailboxes);
    let keep = if outside.len() > FLOW_SIDE {
        FLOW_SIDE - 1
    } else {
        outside.len()
    };
    let mut map: BTreeMap<&'a str, usize> = BTreeMap::new();
    for &(n, _) in ours.iter().chain(&outside[..keep]) {
        map.insert(n, boxes.len());
        boxes.push(FlowBox {
            label: clip(n, 30),
            title: n.to_string(),
            kind: match kind_of(n) {
                NodeKind::Mailboxes => "mailboxes",
                _ => "outside",
            },
            layer,
        });
    }
    let summed = &outside[keep..];
    if !summed.is_empty() {
        let names: Vec<&str> = summed.iter().map(|(n, _)| *n).collect();
        for &(n, _) in summed {
            map.insert(n, boxes.len());
        }
        boxes.push(FlowBox {
            label: format!("{} other {others}, summed", summed.len()),
            title: format!("Summed: {}", names.join(", ")),
            kind: "outside others",
            layer,
        });
    }
    map
}

/// Mail flow as a layered diagram, left to right: where mail came from, the servers (one column
/// per hop when servers relay to each other), where it went. Each count is written at the left
/// end of its arrow, in a lane of its own (see `layered`).
pub fn flow_svg(f: &ServerFlow) -> String {
    if f.nodes.is_empty() {
        return String::new();
    }
    let mut servers: Vec<&str> = f
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Server)
        .map(|n| n.name.as_str())
        .collect();
    servers.sort_unstable();
    servers.dedup();
    let is_server = |n: &str| servers.binary_search(&n).is_ok();
    let kind_of = |n: &str| {
        f.nodes
            .iter()
            .find(|x| x.name == n && x.kind != NodeKind::Server)
            .map_or(NodeKind::Outside, |x| x.kind)
    };
    let mut sent: BTreeMap<&str, u64> = BTreeMap::new();
    let mut received: BTreeMap<&str, u64> = BTreeMap::new();
    let mut hops: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for e in &f.edges {
        match (is_server(&e.from), is_server(&e.to)) {
            (false, true) => *sent.entry(&e.from).or_default() += e.messages,
            (true, false) => *received.entry(&e.to).or_default() += e.messages,
            (true, true) => *hops.entry((&e.from, &e.to)).or_default() += e.messages,
            (false, false) => {}
        }
    }
    let order = server_order(&servers, &hops);
    let rank = |s: &str| order.iter().position(|x| *x == s).unwrap_or(0);
    let mut server_layer: BTreeMap<&str, usize> = BTreeMap::new();
    for &s in &order {
        let l = hops
            .keys()
            .filter(|(a, b)| *b == s && rank(a) < rank(b))
            .map(|(a, _)| server_layer.get(a).copied().unwrap_or(1) + 1)
            .max()
            .unwrap_or(1);
        server_layer.insert(s, l);
    }
    let last = server_layer.values().copied().max().unwrap_or(1) + 1;

    let mut boxes: Vec<FlowBox> = Vec::new();
    let mut server_box: BTreeMap<&str, usize> = BTreeMap::new();
    for &s in &servers {
        server_box.insert(s, boxes.len());
        boxes.push(FlowBox {
            label: clip(s, 30),
            title: s.to_string(),
            kind: "server",
            layer: server_layer[s],
        });
    }
    let source_box = side(&mut boxes, &sent, 0, "senders", &kind_of);
    let dest_box = side(&mut boxes, &received, last, "destinations", &kind_of);

    // Edges between boxes, summed where endpoints were; `true` marks mail drawn backwards.
    let mut links: BTreeMap<(usize, usize, bool), u64> = BTreeMap::new();
    for e in &f.edges {
        let (a, b, back) = match (is_server(&e.from), is_server(&e.to)) {
            (false, true) => (
                source_box[e.from.as_str()],
                server_box[e.to.as_str()],
                false,
            ),
            (true, false) => (server_box[e.from.as_str()], dest_box[e.to.as_str()], false),
            (true, true) if rank(&e.from) < rank(&e.to) => (
                server_box[e.from.as_str()],
                server_box[e.to.as_str()],
                false,
            ),
            (true, true) => (server_box[e.to.as_str()], server_box[e.from.as_str()], true),
            (false, false) => continue,
        };
        *links.entry((a, b, back)).or_default() += e.messages;
    }
    let links: Vec<((usize, usize, bool), u64, String)> = links
        .into_iter()
        .map(|(k, m)| (k, m, crate::human::thousands(m)))
        .collect();
    let max_m = links.iter().map(|l| l.1).max().unwrap_or(1).max(1) as f64;
    let strength = |m: u64| (m as f64 / max_m).sqrt();
    let nodes: Vec<layered::NodeSpec> = boxes
        .iter()
        .map(|b| layered::NodeSpec {
            layer: b.layer,
            width: (b.label.chars().count() as f64 * NODE_CHAR + 24.0).max(90.0),
        })
        .collect();
    let edges: Vec<layered::EdgeSpec> = links
        .iter()
        .map(|((a, b, _), m, label)| layered::EdgeSpec {
            from: *a,
            to: *b,
            weight: 1.0 + 4.0 * strength(*m),
            label_w: label.chars().count() as f64 * EDGE_CHAR,
        })
        .collect();
    let p = layered::layout(&nodes, &edges, HEADINGS);

    let (w, h) = (p.width.ceil(), p.height.ceil());
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" class="diagram flow-diagram"><title>Mail flow between servers and outside endpoints</title>{FLOW_DEFS}"#
    );
    // Column headings: where mail came from, the servers (one heading over all their
    // columns), where it went.
    let span = |pred: &dyn Fn(&FlowBox) -> bool| {
        let cols: Vec<usize> = boxes
            .iter()
            .enumerate()
            .filter(|(_, b)| pred(b))
            .map(|(i, _)| p.column_of[i])
            .collect();
        let (lo, hi) = (cols.iter().min()?, cols.iter().max()?);
        Some((p.columns[*lo].0 + p.columns[*hi].1) / 2.0)
    };
    for (x, text) in [
        (span(&|b: &FlowBox| b.layer == 0), "came from"),
        (span(&|b: &FlowBox| b.kind == "server"), "servers"),
        (span(&|b: &FlowBox| b.layer == last), "went to"),
    ] {
        if let Some(x) = x {
            let _ = write!(
                s,
                r#"<text x="{x:.1}" y="14" text-anchor="middle" class="col-label">{text}</text>"#
            );
        }
    }
    for (((a, b, back), m, _), r) in links.iter().zip(&p.edges) {
        let mut runs = r.runs.clone();
        if *back {
            runs[0].0 += ARROW;
        } else if let Some(l) = runs.last_mut() {
            l.0 -= ARROW;
            l.1 -= ARROW;
        }
        let mut d = format!("M{:.1},{:.1}", runs[0].0, runs[0].2);
        if runs[0].1 > runs[0].0 {
            let _ = write!(d, " H{:.1}", runs[0].1);
        }
        for w in runs.windows(2) {
            let (p0, p1) = (w[0], w[1]);
            let dx = (p1.0 - p0.1) / 2.0;
            let _ = write!(
                d,
                " C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                p0.1 + dx,
                p0.2,
                p1.0 - dx,
                p1.2,
                p1.0,
                p1.2
            );
            if p1.1 > p1.0 {
                let _ = write!(d, " H{:.1}", p1.1);
            }
        }
        let (from, to) = if *back {
            (&boxes[*b].title, &boxes[*a].title)
        } else {
            (&boxes[*a].title, &boxes[*b].title)
        };
        let _ = write!(
            s,
            r##"<path d="{d}" fill="none" stroke="#5b6875" stroke-opacity="0.7" stroke-width="{:.1}" {}="url(#flow-arrow)"><title>{} → {}: {} messages</title></path>"##,
            1.0 + 5.0 * strength(*m),
            if *back { "marker-start" } else { "marker-end" },
            esc(&clip(from, 60)),
            esc(&clip(to, 60)),
            crate::human::thousands(*m)
        );
    }
    for (b, r) in boxes.iter().zip(&p.nodes) {
        let (fill, dash) = match b.kind {
            "server" => ("#e8f0f8", ""),
            "mailboxes" => ("#eef6ee", ""),
            "outside others" => ("#f6f1e8", r#" stroke-dasharray="4 3""#),
            _ => ("#f6f1e8", ""),
        };
        let _ = write!(
            s,
            r##"<g class="node {}"><title>{}</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="5" fill="{fill}" stroke="#1d2733"{dash}/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="node-label">{}</text></g>"##,
            b.kind,
            esc(&clip(&b.title, 300)),
            r.x,
            r.y,
            r.w,
            r.h,
            r.x + r.w / 2.0,
            r.y + r.h / 2.0 + 4.5,
            esc(&b.label)
        );
    }
    // Counts last, over everything, each with a white halo in case a line passes behind it.
    for ((_, _, label), r) in links.iter().zip(&p.edges) {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" class="edge-label"{HALO}>{}</text>"##,
            r.label.0,
            r.label.1,
            esc(label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
        assert_eq!(esc("a\u{1b}[31m"), "a\u{fffd}[31m");
    }
}
