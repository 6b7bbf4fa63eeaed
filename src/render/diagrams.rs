//! Diagrams drawn as SVG from the findings' graphs: a loop's cycle (addresses as boxes, arrows
//! with counts and the status codes that drive them) and the mail flow between servers and the
//! outside. Every label comes from the logs, so every label is XML-escaped here.

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
    let (w, h) = (960.0f64, if n <= 2 { 260.0 } else { 420.0 });
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
                r##"<path d="M{:.0},{:.0} C{:.0},{:.0} {:.0},{:.0} {:.0},{:.0}" fill="none" stroke="#b3261e" stroke-width="2" marker-end="url(#arrow-red)"/><text x="{:.0}" y="{:.0}" text-anchor="middle" class="edge-label">{}</text>"##,
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
        let _ = write!(
            s,
            r##"<path d="M{sx:.0},{sy:.0} Q{mx:.0},{my:.0} {ex:.0},{ey:.0}" fill="none" stroke="#b3261e" stroke-width="2" marker-end="url(#arrow-red)"/><text x="{:.0}" y="{:.0}" text-anchor="middle" class="edge-label">{}</text>"##,
            (x1 + x2) / 4.0 + mx / 2.0,
            (y1 + y2) / 4.0 + my / 2.0 + if ny >= 0.0 { 22.0 } else { -12.0 },
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

/// Servers in the middle, where mail comes from on the left, where it goes on the right.
pub fn flow_svg(f: &ServerFlow) -> String {
    if f.nodes.is_empty() {
        return String::new();
    }
    let is_server = |n: &str| {
        f.nodes
            .iter()
            .any(|x| x.name == n && x.kind == NodeKind::Server)
    };
    let mut left: Vec<&str> = Vec::new();
    let mut right: Vec<&str> = Vec::new();
    let servers: Vec<&str> = f
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Server)
        .map(|n| n.name.as_str())
        .collect();
    for n in &f.nodes {
        if n.kind == NodeKind::Server {
            continue;
        }
        let sends = f.edges.iter().any(|e| e.from == n.name && is_server(&e.to));
        if sends {
            left.push(&n.name);
        } else {
            right.push(&n.name);
        }
    }
    // Keep the drawing readable: the busiest outside endpoints, the rest summed up.
    let weight = |n: &str| {
        f.edges
            .iter()
            .filter(|e| e.from == n || e.to == n)
            .map(|e| e.messages)
            .sum::<u64>()
    };
    left.sort_by(|a, b| weight(b).cmp(&weight(a)).then_with(|| a.cmp(b)));
    right.sort_by(|a, b| weight(b).cmp(&weight(a)).then_with(|| a.cmp(b)));
    left.truncate(10);
    right.truncate(10);
    let rows = left.len().max(right.len()).max(servers.len()).max(1);
    let (w, row_h) = (960.0f64, 56.0f64);
    let h = rows as f64 * row_h + 40.0;
    let col_x = [130.0, 480.0, 830.0];
    let place =
        |col: &[&str], k: usize| 20.0 + (k as f64 + 0.5) * (h - 40.0) / col.len().max(1) as f64;
    let mut at: Vec<(&str, f64, f64)> = Vec::new();
    for (k, n) in left.iter().enumerate() {
        at.push((n, col_x[0], place(&left, k)));
    }
    for (k, n) in servers.iter().enumerate() {
        at.push((n, col_x[1], place(&servers, k)));
    }
    for (k, n) in right.iter().enumerate() {
        at.push((n, col_x[2], place(&right, k)));
    }
    let find = |n: &str| at.iter().find(|(m, _, _)| *m == n).map(|&(_, x, y)| (x, y));
    let max_w = f.edges.iter().map(|e| e.messages).max().unwrap_or(1).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" class="diagram flow-diagram"><title>Mail flow between servers and outside endpoints</title>{DEFS}"#
    );
    let (bw, bh) = (220.0, 34.0);
    for e in &f.edges {
        let (Some((x1, y1)), Some((x2, y2))) = (find(&e.from), find(&e.to)) else {
            continue;
        };
        let sw = 1.0 + 5.0 * (e.messages as f64 / max_w).sqrt();
        let (sx, ex) = if x2 > x1 {
            (x1 + bw / 2.0, x2 - bw / 2.0)
        } else if x2 < x1 {
            (x1 - bw / 2.0, x2 + bw / 2.0)
        } else if y2 > y1 {
            (x1 + bw / 2.0, x2 + bw / 2.0)
        } else {
            (x1 - bw / 2.0, x2 - bw / 2.0)
        };
        // Between two servers (same column) the two directions bow to opposite sides.
        let bend = if (x2 - x1).abs() < 1.0 {
            if y2 > y1 {
                90.0
            } else {
                -90.0
            }
        } else {
            0.0
        };
        let (mx, my) = ((sx + ex) / 2.0 + bend, (y1 + y2) / 2.0);
        // The count sits a third of the way along its edge: at the midpoints, where edges
        // between the same columns cross, the labels would pile up.
        let t = 0.3;
        let at = |a: f64, c: f64, b: f64| {
            (1.0 - t) * (1.0 - t) * a + 2.0 * (1.0 - t) * t * c + t * t * b
        };
        let _ = write!(
            s,
            r##"<path d="M{sx:.0},{y1:.0} Q{mx:.0},{my:.0} {ex:.0},{y2:.0}" fill="none" stroke="#5b6875" stroke-opacity="0.7" stroke-width="{sw:.1}" marker-end="url(#arrow)"/><text x="{:.0}" y="{:.0}" text-anchor="middle" class="edge-label">{}</text>"##,
            at(sx, mx, ex),
            at(y1, my, y2) - 5.0,
            crate::human::thousands(e.messages)
        );
    }
    for (n, x, y) in &at {
        let kind = f
            .nodes
            .iter()
            .find(|k| k.name == *n)
            .map_or(NodeKind::Outside, |k| k.kind);
        let (fill, kind) = match kind {
            NodeKind::Server => ("#e8f0f8", "server"),
            NodeKind::Mailboxes => ("#eef6ee", "mailboxes"),
            NodeKind::Outside => ("#f6f1e8", "outside"),
        };
        let _ = write!(
            s,
            r##"<g class="node {kind}"><rect x="{:.0}" y="{:.0}" width="{bw}" height="{bh}" rx="5" fill="{fill}" stroke="#1d2733"/><text x="{x:.0}" y="{:.0}" text-anchor="middle" class="node-label">{}</text></g>"##,
            x - bw / 2.0,
            y - bh / 2.0,
            y + 5.0,
            esc(&clip(n, 30))
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
