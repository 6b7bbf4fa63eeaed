//! The mail-flow diagram, checked on the SVG it writes: every count and heading gets a box from
//! its position, anchor and an estimated text size, and no two such boxes may meet, none may meet
//! a node's box, no line may run through a box or a count, and everything lies inside the
//! picture. Checked on the sample bundle's flow and on graphs made to be hard: a star of eight
//! edges out of one server, servers relaying to each other in both directions, twenty senders
//! and twenty destinations. `MAILFORENSICS_SVG_DIR=DIR` writes each drawing there to look at.

use mailforensics::analyze::detectors::flow::{FlowEdge, FlowNode, NodeKind, ServerFlow};
use mailforensics::render::diagrams::flow_svg;

mod common;

#[derive(Debug, Clone, Copy)]
struct Box2 {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Box2 {
    fn meets(&self, o: &Box2) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
    fn holds(&self, x: f64, y: f64) -> bool {
        self.x0 < x && x < self.x1 && self.y0 < y && y < self.y1
    }
    fn shrunk(&self, d: f64) -> Box2 {
        Box2 {
            x0: self.x0 + d,
            y0: self.y0 + d,
            x1: self.x1 - d,
            y1: self.y1 - d,
        }
    }
}

#[derive(Debug)]
struct Text {
    class: String,
    text: String,
    b: Box2,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(tag[i..j].to_string())
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .unwrap_or_else(|| panic!("{name} in {tag}"))
        .parse()
        .expect("number")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every `<tag ...>` opening tag, with the text up to its closing tag.
fn elements<'a>(svg: &'a str, tag: &str) -> Vec<(&'a str, &'a str)> {
    let open = format!("<{tag} ");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = svg[at..].find(&open) {
        let i = at + i;
        let end = svg[i..].find('>').expect("tag end") + i;
        let head = &svg[i..=end];
        let body = if head.ends_with("/>") {
            ""
        } else {
            let j = svg[end..].find(&close).map_or(end + 1, |j| end + j);
            &svg[end + 1..j]
        };
        out.push((head, body));
        at = end;
    }
    out
}

/// Estimated extent of a text: the font sizes are the report's (style.css); a character is
/// taken as wide as a digit of the widest common fallback font, a little more for headings
/// (capitals, spaced).
fn texts(svg: &str) -> Vec<Text> {
    elements(svg, "text")
        .into_iter()
        .map(|(head, body)| {
            let class = attr(head, "class").unwrap_or_default();
            let (size, per_char) = match class.as_str() {
                "edge-label" => (12.0, 0.65),
                "col-label" => (11.0, 0.78),
                "node-label" => (13.0, 0.61),
                other => panic!("unexpected text class {other}"),
            };
            let text = unescape(body);
            let w = text.chars().count() as f64 * size * per_char;
            let (x, y) = (num(head, "x"), num(head, "y"));
            let x0 = match attr(head, "text-anchor").as_deref() {
                Some("middle") => x - w / 2.0,
                Some("end") => x - w,
                _ => x,
            };
            Text {
                class,
                text,
                b: Box2 {
                    x0,
                    y0: y - 0.9 * size,
                    x1: x0 + w,
                    y1: y + 0.25 * size,
                },
            }
        })
        .collect()
}

fn rects(svg: &str) -> Vec<Box2> {
    elements(svg, "rect")
        .into_iter()
        .map(|(head, _)| {
            let (x, y) = (num(head, "x"), num(head, "y"));
            Box2 {
                x0: x,
                y0: y,
                x1: x + num(head, "width"),
                y1: y + num(head, "height"),
            }
        })
        .collect()
}

/// Points along each path (`M`, `H` and `C` commands, as the diagram writes them).
fn paths(svg: &str) -> Vec<Vec<(f64, f64)>> {
    elements(svg, "path")
        .into_iter()
        .filter(|(head, _)| head.contains("marker-"))
        .map(|(head, _)| {
            let d = attr(head, "d").expect("d");
            let nums = |s: &str| -> Vec<f64> {
                s.split([',', ' '])
                    .filter(|t| !t.is_empty())
                    .map(|t| t.parse().expect("path number"))
                    .collect()
            };
            let mut pts: Vec<(f64, f64)> = Vec::new();
            let mut cur = (0.0, 0.0);
            let mut cmds: Vec<(char, String)> = Vec::new();
            for c in d.chars() {
                if c.is_ascii_alphabetic() {
                    cmds.push((c, String::new()));
                } else if let Some(last) = cmds.last_mut() {
                    last.1.push(c);
                }
            }
            for (c, args) in cmds {
                let v = nums(&args);
                match c {
                    'M' => {
                        cur = (v[0], v[1]);
                        pts.push(cur);
                    }
                    'H' => {
                        let (x0, y) = cur;
                        for k in 1..=20 {
                            pts.push((x0 + (v[0] - x0) * k as f64 / 20.0, y));
                        }
                        cur = (v[0], y);
                    }
                    'C' => {
                        let p0 = cur;
                        for k in 1..=40 {
                            let t = k as f64 / 40.0;
                            let u = 1.0 - t;
                            let b = |a: f64, b: f64, c: f64, d: f64| {
                                u * u * u * a
                                    + 3.0 * u * u * t * b
                                    + 3.0 * u * t * t * c
                                    + t * t * t * d
                            };
                            pts.push((b(p0.0, v[0], v[2], v[4]), b(p0.1, v[1], v[3], v[5])));
                        }
                        cur = (v[4], v[5]);
                    }
                    other => panic!("unexpected path command {other}"),
                }
            }
            pts
        })
        .collect()
}

/// All the layout's promises, on one drawing.
fn check(name: &str, f: &ServerFlow) -> String {
    let svg = flow_svg(f);
    // To look at them: MAILFORENSICS_SVG_DIR=/tmp/x cargo test --release --test flow_layout
    if let Some(dir) = std::env::var_os("MAILFORENSICS_SVG_DIR") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("flow-{name}.svg")),
            &svg,
        )
        .expect("write svg");
    }
    let view: Vec<f64> = attr(&svg, "viewBox")
        .expect("viewBox")
        .split(' ')
        .map(|t| t.parse().expect("number"))
        .collect();
    let picture = Box2 {
        x0: 0.0,
        y0: 0.0,
        x1: view[2],
        y1: view[3],
    };
    let texts = texts(&svg);
    let nodes = rects(&svg);
    let labels: Vec<&Text> = texts.iter().filter(|t| t.class != "node-label").collect();
    assert!(!nodes.is_empty(), "{name}: no nodes");
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            assert!(
                !a.b.meets(&b.b),
                "{name}: labels {:?} and {:?} overlap",
                a,
                b
            );
        }
        for n in &nodes {
            assert!(!a.b.meets(n), "{name}: label {a:?} overlaps node {n:?}");
        }
    }
    for (i, a) in nodes.iter().enumerate() {
        for b in &nodes[i + 1..] {
            assert!(!a.meets(b), "{name}: nodes {a:?} and {b:?} overlap");
        }
    }
    for t in &texts {
        assert!(
            t.b.x0 >= picture.x0
                && t.b.x1 <= picture.x1
                && t.b.y0 >= picture.y0
                && t.b.y1 <= picture.y1,
            "{name}: {t:?} outside the picture {view:?}"
        );
        if t.class == "node-label" {
            assert!(
                nodes
                    .iter()
                    .any(|n| n.x0 <= t.b.x0 && t.b.x1 <= n.x1 && n.y0 <= t.b.y0 && t.b.y1 <= n.y1),
                "{name}: node label {t:?} does not fit its box"
            );
        }
    }
    for n in &nodes {
        assert!(
            n.x0 >= 0.0 && n.x1 <= picture.x1 && n.y0 >= 0.0 && n.y1 <= picture.y1,
            "{name}: node {n:?} outside the picture {view:?}"
        );
    }
    let edge_labels: Vec<&Text> = texts.iter().filter(|t| t.class == "edge-label").collect();
    for pts in paths(&svg) {
        for &(x, y) in &pts {
            for n in &nodes {
                assert!(
                    !n.shrunk(1.0).holds(x, y),
                    "{name}: a line runs through node {n:?} at ({x:.1}, {y:.1})"
                );
            }
            for t in &edge_labels {
                assert!(
                    !t.b.shrunk(0.5).holds(x, y),
                    "{name}: a line runs through label {t:?} at ({x:.1}, {y:.1})"
                );
            }
            assert!(picture.holds(x, y), "{name}: line outside the picture");
        }
    }
    // Summing endpoints into one box loses no mail.
    let drawn: u64 = edge_labels
        .iter()
        .map(|t| t.text.replace(',', "").parse::<u64>().expect("count"))
        .sum();
    let total: u64 = f.edges.iter().map(|e| e.messages).sum();
    assert_eq!(drawn, total, "{name}: counts drawn");
    assert_eq!(flow_svg(f), svg, "{name}: deterministic");
    svg
}

fn flow(nodes: &[(&str, NodeKind)], edges: &[(&str, &str, u64)]) -> ServerFlow {
    ServerFlow {
        nodes: nodes
            .iter()
            .map(|(n, k)| FlowNode {
                name: n.to_string(),
                kind: *k,
            })
            .collect(),
        edges: edges
            .iter()
            .map(|(a, b, m)| FlowEdge {
                from: a.to_string(),
                to: b.to_string(),
                messages: *m,
            })
            .collect(),
    }
}

#[test]
fn sample_flow() {
    let f = common::findings(&common::repo("samples/incident.zip"));
    let sf: ServerFlow = serde_json::from_value(f["server_flow"].clone()).expect("server_flow");
    assert!(sf.edges.len() >= 10, "the sample has a real flow graph");
    let svg = check("sample", &sf);
    // EX01 → EX02 carries more than EX02 → EX01: EX01 gets the earlier column and the lighter
    // direction is the arrow pointing back.
    assert_eq!(svg.matches("marker-start").count(), 1, "one backward hop");
}

#[test]
fn star_of_eight() {
    use NodeKind::*;
    let dests: Vec<String> = (0..8)
        .map(|i| format!("smarthost-{i}.corp.example"))
        .collect();
    let mut nodes: Vec<(&str, NodeKind)> = vec![("EX01", Server), ("10.0.0.1", Outside)];
    nodes.extend(dests.iter().map(|d| (d.as_str(), Outside)));
    let mut edges: Vec<(&str, &str, u64)> = vec![("10.0.0.1", "EX01", 24_080)];
    for (i, d) in dests.iter().enumerate() {
        edges.push(("EX01", d, 2_408 + 39 * i as u64));
    }
    check("star", &flow(&nodes, &edges));
}

#[test]
fn servers_hopping_both_ways() {
    use NodeKind::*;
    let nodes = [
        ("EDGE01", Server),
        ("EDGE02", Server),
        ("MBX01", Server),
        ("MBX02", Server),
        ("192.0.2.10", Outside),
        ("198.51.100.7", Outside),
        ("203.0.113.5", Outside),
        ("mailboxes on MBX01", Mailboxes),
        ("mailboxes on MBX02", Mailboxes),
    ];
    let edges = [
        ("192.0.2.10", "EDGE01", 2_408),
        ("198.51.100.7", "EDGE02", 2_447),
        ("203.0.113.5", "MBX01", 120),
        ("EDGE01", "MBX01", 1_971),
        ("EDGE02", "MBX02", 1_880),
        ("MBX01", "EDGE01", 900),
        ("MBX02", "EDGE02", 870),
        ("MBX01", "MBX02", 300),
        ("MBX02", "MBX01", 290),
        ("EDGE01", "EDGE02", 12),
        ("EDGE01", "203.0.113.5", 880),
        ("EDGE02", "203.0.113.5", 860),
        ("MBX01", "mailboxes on MBX01", 1_500),
        ("MBX02", "mailboxes on MBX02", 1_450),
        ("MBX02", "192.0.2.10", 3),
    ];
    let svg = check("hops", &flow(&nodes, &edges));
    // Mail back from the mailbox servers to the edges is drawn as arrows pointing back.
    assert!(svg.matches("marker-start").count() >= 2, "{svg}");
    // 203.0.113.5 and 192.0.2.10 both send and receive: a box on each side.
    assert_eq!(svg.matches(">203.0.113.5</text>").count(), 2);
}

#[test]
fn twenty_outside_endpoints_per_side() {
    use NodeKind::*;
    let senders: Vec<String> = (0..20).map(|i| format!("198.51.100.{i}")).collect();
    let dests: Vec<String> = (0..20)
        .map(|i| format!("relay{i}.partner.example"))
        .collect();
    let mut nodes: Vec<(&str, NodeKind)> = vec![("EX01", Server), ("EX02", Server)];
    nodes.extend(senders.iter().map(|s| (s.as_str(), Outside)));
    nodes.extend(dests.iter().map(|s| (s.as_str(), Outside)));
    let mut edges: Vec<(&str, &str, u64)> = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        edges.push((
            s,
            if i % 2 == 0 { "EX01" } else { "EX02" },
            1_000 - 37 * i as u64,
        ));
        if i % 3 == 0 {
            edges.push((s, "EX02", 50 + i as u64));
        }
    }
    for (i, d) in dests.iter().enumerate() {
        edges.push((
            if i % 2 == 0 { "EX02" } else { "EX01" },
            d,
            2_000 - 90 * i as u64,
        ));
    }
    edges.push(("EX01", "EX02", 640));
    let svg = check("twenty", &flow(&nodes, &edges));
    let outside = svg.matches(r#"<g class="node outside"#).count();
    assert_eq!(outside, 20, "ten boxes per side, the last one summed");
    assert!(svg.contains(">11 other senders, summed</text>"), "{svg}");
    assert!(
        svg.contains(">11 other destinations, summed</text>"),
        "{svg}"
    );
}

#[test]
fn labels_from_the_logs_are_escaped() {
    use NodeKind::*;
    let f = flow(
        &[
            ("EX01", Server),
            ("<script>alert(1)</script>", Outside),
            ("\"><img src=x onerror=alert(1)>", Outside),
        ],
        &[
            ("<script>alert(1)</script>", "EX01", 5),
            ("EX01", "\"><img src=x onerror=alert(1)>", 3),
        ],
    );
    let svg = check("escaped", &f);
    assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
    assert!(svg.contains("&lt;script&gt;"));
}

#[test]
fn one_server_alone() {
    let f = flow(&[("EX01", NodeKind::Server)], &[]);
    let svg = flow_svg(&f);
    assert!(svg.contains(">EX01</text>"), "{svg}");
}
