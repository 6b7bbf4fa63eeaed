//! A layered (Sugiyama-style) layout for left-to-right diagrams: nodes in given columns, edges
//! only from a column to a later one. Long edges get a dummy point in every column they cross,
//! so they run between the boxes rather than through them; barycenter sweeps order each column
//! to reduce crossings; the vertical positions are a least-squares fit that keeps the heavy
//! edges straight without letting boxes overlap.
//!
//! Each box has one port per edge on its left and right side, ordered by where the edge goes,
//! `PORT` apart. An edge's label sits in the label lane right of its column, just above the
//! edge's first stretch: labels of one box are stacked by their ports, labels of different boxes
//! are as far apart as the boxes, and the lane lies between the columns, so a label can meet
//! neither another label nor a box. Everything is plain arithmetic in a fixed order: the same
//! input gives the same drawing.

use std::collections::BTreeSet;

/// Vertical distance between two ports on one side of a box (one label line).
pub const PORT: f64 = 18.0;
/// Space above the first and below the last port inside a box.
const PAD: f64 = 6.0;
const MIN_H: f64 = 30.0;
/// Height of the point a long edge passes a column at.
const DUMMY_H: f64 = 8.0;
/// Vertical space between two things in one column.
const GAP_Y: f64 = 18.0;
/// Horizontal room for the curves between a label lane and the next column.
const GAP_X: f64 = 72.0;
/// From a box's right side to its labels: room for an arrowhead pointing back into the box.
pub const LANE_PAD: f64 = 15.0;
/// A label's baseline sits this far above its edge.
pub const LABEL_RISE: f64 = 5.0;
pub const MARGIN: f64 = 12.0;

pub struct NodeSpec {
    pub layer: usize,
    pub width: f64,
}

pub struct EdgeSpec {
    pub from: usize,
    pub to: usize,
    /// How much the edge matters: heavier edges are drawn straighter.
    pub weight: f64,
    /// Width of the edge's label.
    pub label_w: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// An edge as horizontal runs `(x0, x1, y)`, left to right; consecutive runs are joined by
/// curves. The first run starts at the source's right side, the last ends at the target's left.
pub struct Route {
    pub runs: Vec<(f64, f64, f64)>,
    /// Start of the label's baseline.
    pub label: (f64, f64),
}

pub struct Placed {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Rect>,
    pub edges: Vec<Route>,
    /// Left and right end of each column of boxes (empty columns dropped).
    pub columns: Vec<(f64, f64)>,
    /// The column of each node after empty columns are dropped.
    pub column_of: Vec<usize>,
}

struct Seg {
    up: usize,
    down: usize,
    edge: usize,
}

/// Lays out the graph below `top` (room the caller keeps for headings).
pub fn layout(nodes: &[NodeSpec], edges: &[EdgeSpec], top: f64) -> Placed {
    let used: BTreeSet<usize> = nodes.iter().map(|n| n.layer).collect();
    let col = |l: usize| used.range(..l).count();
    let n_layers = used.len();
    let mut layer: Vec<usize> = nodes.iter().map(|n| col(n.layer)).collect();
    let real = nodes.len();

    // Long edges become chains through one dummy per column crossed.
    let mut segs: Vec<Seg> = Vec::new();
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for (ei, e) in edges.iter().enumerate() {
        let (a, b) = (layer[e.from], layer[e.to]);
        assert!(a < b, "edges run from an earlier column to a later one");
        let mut chain = vec![e.from];
        for l in a + 1..b {
            layer.push(l);
            chain.push(layer.len() - 1);
        }
        chain.push(e.to);
        for w in chain.windows(2) {
            segs.push(Seg {
                up: w[0],
                down: w[1],
                edge: ei,
            });
        }
        chains.push(chain);
    }
    let items = layer.len();
    let mut ins: Vec<Vec<usize>> = vec![Vec::new(); items];
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); items];
    for (si, s) in segs.iter().enumerate() {
        outs[s.up].push(si);
        ins[s.down].push(si);
    }

    let mut order: Vec<Vec<usize>> = vec![Vec::new(); n_layers];
    for (i, &l) in layer.iter().enumerate() {
        order[l].push(i);
    }
    let order = reduce_crossings(order, &segs, &ins, &outs);
    let mut pos = vec![0usize; items];
    for o in &order {
        for (k, &i) in o.iter().enumerate() {
            pos[i] = k;
        }
    }

    // Ports: ordered by the position of the other end, then by edge, the same key at both
    // ends, so two edges between the same pair of boxes never cross each other.
    let mut out_off = vec![0.0f64; segs.len()];
    let mut in_off = vec![0.0f64; segs.len()];
    let mut height = vec![DUMMY_H; items];
    for i in 0..real {
        let mut o = outs[i].clone();
        o.sort_by_key(|&s| (pos[segs[s].down], segs[s].edge));
        let mut n = ins[i].clone();
        n.sort_by_key(|&s| (pos[segs[s].up], segs[s].edge));
        for (k, &s) in o.iter().enumerate() {
            out_off[s] = (k as f64 - (o.len() as f64 - 1.0) / 2.0) * PORT;
        }
        for (k, &s) in n.iter().enumerate() {
            in_off[s] = (k as f64 - (n.len() as f64 - 1.0) / 2.0) * PORT;
        }
        height[i] = (o.len().max(n.len()) as f64 * PORT + 2.0 * PAD).max(MIN_H);
    }
    let seg_w: Vec<f64> = segs
        .iter()
        .map(|s| {
            // Long edges weigh more: a bend in them is drawn twice.
            let long = s.up >= real || s.down >= real;
            edges[s.edge].weight * if long { 2.0 } else { 1.0 }
        })
        .collect();

    // Vertical positions: start stacked, then fit each column to its neighbours, down and up.
    let mut center = vec![0.0f64; items];
    for o in &order {
        let mut y = 0.0;
        for &i in o {
            center[i] = y + height[i] / 2.0;
            y += height[i] + GAP_Y;
        }
    }
    for _ in 0..12 {
        for col in order.iter().skip(1) {
            fit(col, &mut center, &height, |i, c| {
                ins[i]
                    .iter()
                    .map(|&s| (c[segs[s].up] + out_off[s] - in_off[s], seg_w[s]))
                    .collect()
            });
        }
        for col in order.iter().rev().skip(1) {
            fit(col, &mut center, &height, |i, c| {
                outs[i]
                    .iter()
                    .map(|&s| (c[segs[s].down] + in_off[s] - out_off[s], seg_w[s]))
                    .collect()
            });
        }
    }
    // Last, each column between both neighbours.
    for col in &order {
        fit(col, &mut center, &height, |i, c| {
            let mut v: Vec<(f64, f64)> = ins[i]
                .iter()
                .map(|&s| (c[segs[s].up] + out_off[s] - in_off[s], seg_w[s]))
                .collect();
            v.extend(
                outs[i]
                    .iter()
                    .map(|&s| (c[segs[s].down] + in_off[s] - out_off[s], seg_w[s])),
            );
            v
        });
    }
    let min_top = (0..items)
        .map(|i| center[i] - height[i] / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = top + MARGIN - if min_top.is_finite() { min_top } else { 0.0 };
    for c in center.iter_mut() {
        *c += shift;
    }
    let bottom = (0..items)
        .map(|i| center[i] + height[i] / 2.0)
        .fold(top, f64::max);

    // Columns, each followed by its label lane and the room for curves.
    let mut col_w = vec![0.0f64; n_layers];
    for (i, n) in nodes.iter().enumerate() {
        col_w[layer[i]] = col_w[layer[i]].max(n.width);
    }
    let mut lane_w = vec![0.0f64; n_layers];
    for e in edges {
        let l = layer[e.from];
        lane_w[l] = lane_w[l].max(LANE_PAD + e.label_w + 4.0);
    }
    let mut x_left = vec![MARGIN; n_layers];
    for l in 1..n_layers {
        x_left[l] = x_left[l - 1] + col_w[l - 1] + lane_w[l - 1] + GAP_X;
    }
    let width = n_layers
        .checked_sub(1)
        .map_or(2.0 * MARGIN, |l| x_left[l] + col_w[l] + MARGIN);

    let rects: Vec<Rect> = (0..real)
        .map(|i| {
            let l = layer[i];
            Rect {
                x: x_left[l],
                y: center[i] - height[i] / 2.0,
                w: col_w[l],
                h: height[i],
            }
        })
        .collect();
    let mut first_seg = vec![usize::MAX; edges.len()];
    let mut last_seg = vec![0usize; edges.len()];
    for (si, s) in segs.iter().enumerate() {
        first_seg[s.edge] = first_seg[s.edge].min(si);
        last_seg[s.edge] = si;
    }
    let routes: Vec<Route> = chains
        .iter()
        .enumerate()
        .map(|(ei, chain)| {
            let (a, b) = (chain[0], chain[chain.len() - 1]);
            let la = layer[a];
            let right = x_left[la] + col_w[la];
            let y0 = center[a] + out_off[first_seg[ei]];
            let mut runs = vec![(right, right + lane_w[la], y0)];
            for &d in &chain[1..chain.len() - 1] {
                let l = layer[d];
                runs.push((x_left[l], x_left[l] + col_w[l] + lane_w[l], center[d]));
            }
            let lb = layer[b];
            let y1 = center[b] + in_off[last_seg[ei]];
            runs.push((x_left[lb], x_left[lb], y1));
            Route {
                runs,
                label: (right + LANE_PAD, y0 - LABEL_RISE),
            }
        })
        .collect();
    Placed {
        width,
        height: bottom + MARGIN,
        nodes: rects,
        edges: routes,
        columns: (0..n_layers)
            .map(|l| (x_left[l], x_left[l] + col_w[l]))
            .collect(),
        column_of: layer[..real].to_vec(),
    }
}

/// Moves one column's items as close as the spacing allows to where their edges pull them: the
/// weighted least-squares fit under "in order, `GAP_Y` apart", solved by pooling adjacent
/// violators. Items no edge pulls stay where they are.
fn fit<F>(col: &[usize], center: &mut [f64], height: &[f64], pull: F)
where
    F: Fn(usize, &[f64]) -> Vec<(f64, f64)>,
{
    if col.is_empty() {
        return;
    }
    // In shifted coordinates (minus each item's minimum offset from the first) the constraint
    // is just "non-decreasing".
    let mut offset = vec![0.0f64; col.len()];
    for k in 1..col.len() {
        offset[k] = offset[k - 1] + (height[col[k - 1]] + height[col[k]]) / 2.0 + GAP_Y;
    }
    // Blocks of pooled items: (sum of weight × target, sum of weight, items).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(col.len());
    for (k, &i) in col.iter().enumerate() {
        let p = pull(i, center);
        let (mut sw, mut swt) = (0.0, 0.0);
        for (t, w) in p {
            sw += w;
            swt += w * t;
        }
        let (target, weight) = if sw > 0.0 {
            (swt / sw, sw)
        } else {
            (center[i], 1e-3)
        };
        blocks.push((weight * (target - offset[k]), weight, 1));
        while blocks.len() > 1 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if a.0 / a.1 <= b.0 / b.1 {
                break;
            }
            blocks.truncate(n - 2);
            blocks.push((a.0 + b.0, a.1 + b.1, a.2 + b.2));
        }
    }
    let mut k = 0;
    for (swt, sw, n) in blocks {
        for _ in 0..n {
            center[col[k]] = swt / sw + offset[k];
            k += 1;
        }
    }
}

fn crossings(order: &[Vec<usize>], segs: &[Seg], pos: &[usize], layer_of: &[usize]) -> usize {
    let mut by_layer: Vec<Vec<(usize, usize)>> = vec![Vec::new(); order.len()];
    for s in segs {
        by_layer[layer_of[s.up]].push((pos[s.up], pos[s.down]));
    }
    let mut n = 0;
    for v in &by_layer {
        for (i, a) in v.iter().enumerate() {
            for b in &v[i + 1..] {
                if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                    n += 1;
                }
            }
        }
    }
    n
}

/// Swaps neighbours in a column wherever that removes crossings with both adjacent columns
/// (what barycenters cannot see: ties, and items pulled both ways).
fn transpose(
    order: &mut [Vec<usize>],
    pos: &mut [usize],
    segs: &[Seg],
    ins: &[Vec<usize>],
    outs: &[Vec<usize>],
) {
    // Crossings among the edges of `u` and `v` when `u` is above `v`.
    let pair = |pos: &[usize], u: usize, v: usize| {
        let mut n = 0;
        for (side, end) in [(ins, true), (outs, false)] {
            let far = |s: usize| {
                if end {
                    pos[segs[s].up]
                } else {
                    pos[segs[s].down]
                }
            };
            for &a in &side[u] {
                for &b in &side[v] {
                    if far(a) > far(b) {
                        n += 1;
                    }
                }
            }
        }
        n
    };
    for _ in 0..order.len() * 4 {
        let mut better = false;
        for o in order.iter_mut() {
            for k in 1..o.len() {
                let (u, v) = (o[k - 1], o[k]);
                if pair(pos, v, u) < pair(pos, u, v) {
                    o.swap(k - 1, k);
                    pos[u] = k;
                    pos[v] = k - 1;
                    better = true;
                }
            }
        }
        if !better {
            break;
        }
    }
}

/// Barycenter sweeps, down and up, keeping the order with the fewest crossings seen.
fn reduce_crossings(
    mut order: Vec<Vec<usize>>,
    segs: &[Seg],
    ins: &[Vec<usize>],
    outs: &[Vec<usize>],
) -> Vec<Vec<usize>> {
    let items = ins.len();
    let mut layer_of = vec![0usize; items];
    for (l, o) in order.iter().enumerate() {
        for &i in o {
            layer_of[i] = l;
        }
    }
    let positions = |order: &[Vec<usize>]| {
        let mut pos = vec![0usize; items];
        for o in order {
            for (k, &i) in o.iter().enumerate() {
                pos[i] = k;
            }
        }
        pos
    };
    let mut pos = positions(&order);
    let mut best = (crossings(&order, segs, &pos, &layer_of), order.clone());
    let mut stale = 0;
    for round in 0..24 {
        let down = round % 2 == 0;
        let layers: Vec<usize> = if down {
            (1..order.len()).collect()
        } else {
            (0..order.len().saturating_sub(1)).rev().collect()
        };
        for l in layers {
            let mut keyed: Vec<(f64, usize, usize)> = order[l]
                .iter()
                .map(|&i| {
                    let nb: Vec<usize> = if down {
                        ins[i].iter().map(|&s| pos[segs[s].up]).collect()
                    } else {
                        outs[i].iter().map(|&s| pos[segs[s].down]).collect()
                    };
                    let bary = if nb.is_empty() {
                        pos[i] as f64
                    } else {
                        nb.iter().sum::<usize>() as f64 / nb.len() as f64
                    };
                    (bary, pos[i], i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            order[l] = keyed.into_iter().map(|k| k.2).collect();
            for (k, &i) in order[l].iter().enumerate() {
                pos[i] = k;
            }
        }
        transpose(&mut order, &mut pos, segs, ins, outs);
        let c = crossings(&order, segs, &pos, &layer_of);
        if c < best.0 {
            best = (c, order.clone());
            stale = 0;
        } else {
            stale += 1;
            if stale >= 4 || best.0 == 0 {
                break;
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(layer: usize) -> NodeSpec {
        NodeSpec {
            layer,
            width: 100.0,
        }
    }

    fn edge(from: usize, to: usize) -> EdgeSpec {
        EdgeSpec {
            from,
            to,
            weight: 1.0,
            label_w: 30.0,
        }
    }

    #[test]
    fn boxes_in_a_column_do_not_overlap() {
        let nodes: Vec<NodeSpec> = (0..6).map(|i| node(usize::from(i >= 3))).collect();
        let edges: Vec<EdgeSpec> = (0..3)
            .flat_map(|a| (3..6).map(move |b| edge(a, b)))
            .collect();
        let p = layout(&nodes, &edges, 0.0);
        for (i, a) in p.nodes.iter().enumerate() {
            for b in &p.nodes[i + 1..] {
                let apart = a.x + a.w <= b.x
                    || b.x + b.w <= a.x
                    || a.y + a.h + GAP_Y - 0.01 <= b.y
                    || b.y + b.h + GAP_Y - 0.01 <= a.y;
                assert!(apart, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn barycenters_untangle_a_swapped_pair() {
        // 0 → 3 and 1 → 2 cross as given; the sweep swaps one column.
        let nodes = vec![node(0), node(0), node(1), node(1)];
        let edges = vec![edge(0, 3), edge(1, 2)];
        let p = layout(&nodes, &edges, 0.0);
        let (a, b) = (&p.edges[0].runs, &p.edges[1].runs);
        let (a0, a1) = (a[0].2, a[a.len() - 1].2);
        let (b0, b1) = (b[0].2, b[b.len() - 1].2);
        assert!((a0 - b0) * (a1 - b1) > 0.0, "no crossing: {a:?} {b:?}");
    }

    #[test]
    fn long_edges_pass_between_boxes() {
        let nodes = vec![node(0), node(1), node(2), node(1)];
        let edges = vec![edge(0, 1), edge(1, 2), edge(0, 2), edge(3, 2)];
        let p = layout(&nodes, &edges, 0.0);
        let r = &p.edges[2].runs;
        assert_eq!(r.len(), 3, "one dummy point in the middle column");
        let y = r[1].2;
        for &m in &[1usize, 3] {
            let b = p.nodes[m];
            assert!(
                y < b.y - DUMMY_H / 2.0 || y > b.y + b.h + DUMMY_H / 2.0,
                "{y} {b:?}"
            );
        }
    }
}
