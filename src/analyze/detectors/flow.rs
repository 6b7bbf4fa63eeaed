//! Mail flow between servers and the outside (client IPs, smart hosts, the firewall), as a
//! directed graph of nodes and edges. An edge counts the distinct messages that took that hop
//! (a message logged by three RECEIVE rows on one hop is one message).

use serde::{Deserialize, Serialize};

use crate::analyze::model::classify::Ev;
use crate::analyze::model::intern::{FastMap, FastSet};
use crate::analyze::model::{Model, NONE};
use crate::analyze::{Cx, Detected, Detector, Params, Place, Stage};
use crate::bundle::path_order;
use crate::error::Result;

/// What a node of the flow graph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Mailboxes,
    Outside,
    Server,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowNode {
    pub name: String,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowEdge {
    pub from: String,
    pub to: String,
    /// Distinct messages that took this hop.
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ServerFlow {
    pub nodes: Vec<FlowNode>,
    pub edges: Vec<FlowEdge>,
}

#[derive(Default)]
struct Nodes {
    index: FastMap<(String, NodeKind), u32>,
    names: Vec<(String, NodeKind)>,
}

/// The node of id `id` in `cache`, named by `name` the first time it is asked for.
fn cached(
    cache: &mut [u32],
    id: u32,
    nodes: &mut Nodes,
    name: &dyn Fn() -> String,
    kind: NodeKind,
) -> u32 {
    let slot = &mut cache[id as usize];
    if *slot == NONE {
        *slot = nodes.get(&name(), kind);
    }
    *slot
}

/// The node of an address outside our servers.
fn outside_ip(cache: &mut [u32], nodes: &mut Nodes, m: &Model, ip: u32) -> u32 {
    cached(
        cache,
        ip,
        nodes,
        &|| m.ips.name(ip).to_string(),
        NodeKind::Outside,
    )
}

/// Edges remembered beside each message before spilling into a set.
const TOOK_INLINE: usize = 4;

/// True the first time message `id` is counted on edge `e`.
fn first_time(
    took: &mut [[u32; TOOK_INLINE]],
    spill: &mut FastSet<(u32, u32)>,
    id: u32,
    e: u32,
) -> bool {
    for slot in took[id as usize].iter_mut() {
        if *slot == e {
            return false;
        }
        if *slot == NONE {
            *slot = e;
            return true;
        }
    }
    spill.insert((id, e))
}

impl Nodes {
    fn get(&mut self, name: &str, kind: NodeKind) -> u32 {
        if let Some(&i) = self.index.get(&(name.to_string(), kind)) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert((name.to_string(), kind), i);
        self.names.push((name.to_string(), kind));
        i
    }
}

pub struct Flow;

impl Detector for Flow {
    fn key(&self) -> &'static str {
        "server_flow"
    }
    fn title(&self) -> &'static str {
        "Mail flow between servers"
    }
    fn stage(&self) -> Stage {
        // Reads only the model: runs beside the loop search.
        Stage::First
    }
    fn place(&self) -> Place {
        Place::Traffic
    }
    fn template(&self) -> Option<&'static str> {
        Some(include_str!("../../../templates/sections/server_flow.html"))
    }
    fn methods(&self, _: &Params) -> String {
        "SMTP RECEIVE rows give an edge from the client (one of our servers by its host name, else the sender's IP) to the logging server; SEND and SENDEXTERNAL rows an edge from the logging server to the next hop; DELIVER rows an edge to the server's mailboxes. Each edge counts distinct messages, not rows.".into()
    }

    fn detect(&self, cx: &Cx<'_>) -> Result<Detected> {
        let m = cx.m;
        let mut nodes = Nodes::default();
        let server_node: Vec<u32> = m
            .servers
            .iter()
            .map(|(_, s)| nodes.get(s, NodeKind::Server))
            .collect();
        let server_of_host: Vec<u32> = m
            .hosts
            .iter()
            .map(|(_, h)| {
                m.servers
                    .iter()
                    .find(|(_, s)| s.eq_ignore_ascii_case(h))
                    .map_or(NONE, |(i, _)| server_node[i as usize])
            })
            .collect();
        // The node of each ip, host and server's mailboxes, looked up by name once (on first
        // use, so nodes are numbered as before), not on every row.
        let mut ip_node = vec![NONE; m.ips.len()];
        let mut host_node = vec![NONE; m.hosts.len()];
        let mut mailbox_node = vec![NONE; m.servers.len()];
        // Distinct messages per edge: the edges a message took so far sit beside it (a message
        // takes a few hops; the rare one with more spills into a set). One hash set of every
        // (edge, message) pair was a fifth of this detector's time at 2 M events.
        let mut edge_ix: FastMap<(u32, u32), u32> = FastMap::default();
        let mut edges_seen: Vec<((u32, u32), u64)> = Vec::new();
        let mut took = vec![[NONE; TOOK_INLINE]; m.msgs.len()];
        let mut spill: FastSet<(u32, u32)> = FastSet::default();
        for r in 0..m.n {
            let id = m.msg[r];
            if id != NONE && !cx.counts(id as usize) {
                continue;
            }
            let here = server_node[m.server[r] as usize];
            let edge = match m.ev[r] {
                Ev::Receive if m.client_ip[r] != NONE || m.client_host[r] != NONE => {
                    let h = m.client_host[r];
                    let from = if h != NONE && server_of_host[h as usize] != NONE {
                        server_of_host[h as usize]
                    } else {
                        let ip = m.effective_client_ip(r);
                        if ip == NONE {
                            continue;
                        }
                        outside_ip(&mut ip_node, &mut nodes, m, ip)
                    };
                    (from, here)
                }
                Ev::Send | Ev::SendExternal => {
                    let h = m.server_host[r];
                    let to = if h != NONE && server_of_host[h as usize] != NONE {
                        server_of_host[h as usize]
                    } else if h != NONE {
                        cached(
                            &mut host_node,
                            h,
                            &mut nodes,
                            &|| m.hosts.name(h).to_string(),
                            NodeKind::Outside,
                        )
                    } else if m.server_ip[r] != NONE {
                        let ip = m.server_ip[r];
                        outside_ip(&mut ip_node, &mut nodes, m, ip)
                    } else {
                        continue;
                    };
                    (here, to)
                }
                Ev::Deliver => {
                    let s = m.server[r];
                    let mb = cached(
                        &mut mailbox_node,
                        s,
                        &mut nodes,
                        &|| format!("mailboxes on {}", m.servers.name(s)),
                        NodeKind::Mailboxes,
                    );
                    (here, mb)
                }
                _ => continue,
            };
            if edge.0 == edge.1 {
                continue;
            }
            let e = *edge_ix.entry(edge).or_insert_with(|| {
                edges_seen.push((edge, 0));
                (edges_seen.len() - 1) as u32
            });
            if id != NONE && !first_time(&mut took, &mut spill, id, e) {
                continue;
            }
            edges_seen[e as usize].1 += 1;
        }
        // In the order the edges were first met (equal counts and names keep that order).
        let names = nodes.names;
        let mut edges: Vec<FlowEdge> = edges_seen
            .into_iter()
            .map(|((a, b), messages)| FlowEdge {
                from: names[a as usize].0.clone(),
                to: names[b as usize].0.clone(),
                messages,
            })
            .collect();
        edges.sort_by(|x, y| {
            y.messages
                .cmp(&x.messages)
                .then_with(|| path_order(&x.from, &y.from))
                .then_with(|| path_order(&x.to, &y.to))
        });
        let mut nodes: Vec<FlowNode> = names
            .into_iter()
            .filter(|(n, _)| edges.iter().any(|e| e.from == *n || e.to == *n))
            .map(|(name, kind)| FlowNode { name, kind })
            .collect();
        nodes.sort_by(|a, b| {
            a.kind
                .cmp(&b.kind)
                .then_with(|| path_order(&a.name, &b.name))
        });
        nodes.dedup_by(|a, b| a.name == b.name && a.kind == b.kind);
        Detected::value("server_flow", ServerFlow { nodes, edges })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn edges_beside_each_message_agree_with_one_set_of_pairs() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // The cases must reach the spill set and repeat pairs, or they prove little.
        let (mut spilled, mut repeated) = (false, false);
        for _ in 0..200 {
            // Up to 12 edges per message: most messages spill past the inline four.
            let (msgs, edges) = (rng.random_range(1..40u32), rng.random_range(1..13u32));
            let mut took = vec![[NONE; TOOK_INLINE]; msgs as usize];
            let mut spill = FastSet::default();
            let mut all = std::collections::HashSet::new();
            for _ in 0..rng.random_range(0..400) {
                let (id, e) = (rng.random_range(0..msgs), rng.random_range(0..edges));
                let want = all.insert((id, e));
                assert_eq!(first_time(&mut took, &mut spill, id, e), want, "{id} {e}");
                repeated |= !want;
            }
            assert_eq!(
                all.len(),
                took.iter().flatten().filter(|&&e| e != NONE).count() + spill.len()
            );
            spilled |= !spill.is_empty();
        }
        assert!(spilled && repeated);
    }
}
