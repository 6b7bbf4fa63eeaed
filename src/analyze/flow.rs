//! Mail flow between servers and the outside (client IPs, smart hosts, the firewall), as a
//! petgraph graph with hop counts; plus the plain tables a postmortem needs: top senders,
//! recipients and pairs, status codes in plain language, and mailboxes that hit their quota.

use std::collections::BTreeMap;

use petgraph::graphmap::DiGraphMap;
use polars::prelude::PlHashMap;
use serde::Serialize;

use super::model::{server_of_host, Class, Ev, Model, NONE};
use crate::ingest::fields::rfc3339;

#[derive(Debug, Clone, Serialize)]
pub struct FlowNode {
    pub name: String,
    /// `server`, `outside` or `mailboxes`.
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowEdge {
    pub from: String,
    pub to: String,
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerFlow {
    pub nodes: Vec<FlowNode>,
    pub edges: Vec<FlowEdge>,
}

#[derive(Default)]
struct Nodes {
    index: std::collections::HashMap<String, u32>,
    names: Vec<(String, &'static str)>,
}

impl Nodes {
    fn get(&mut self, name: &str, kind: &'static str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(name.to_string(), i);
        self.names.push((name.to_string(), kind));
        i
    }
}

pub fn server_flow(m: &Model<'_>, df: &polars::prelude::DataFrame) -> crate::Result<ServerFlow> {
    let client_host = df.column("client_hostname")?.str()?;
    let server_host = df.column("server_hostname")?.str()?;
    let server_ip = df.column("server_ip")?.str()?;
    let mut nodes = Nodes::default();
    let ns = m.servers.len() as u32;
    let server_node: Vec<u32> = (0..ns)
        .map(|s| nodes.get(m.servers.name(s), "server"))
        .collect();
    let mut mailbox_node: Vec<Option<u32>> = vec![None; ns as usize];
    let mut ip_node: PlHashMap<u32, u32> = PlHashMap::default();
    let mut host_node: PlHashMap<&str, u32> = PlHashMap::default();
    let mut g: DiGraphMap<u32, u64> = DiGraphMap::new();
    let mut bump = |a: u32, b: u32| {
        if a == b {
            return;
        }
        if let Some(w) = g.edge_weight_mut(a, b) {
            *w += 1;
        } else {
            g.add_edge(a, b, 1);
        }
    };
    let mut hosts = client_host
        .iter()
        .zip(server_host.iter().zip(server_ip.iter()));
    for r in 0..m.n {
        let (ch, (sh, sip)) = hosts.next().unwrap_or((None, (None, None)));
        let here = server_node[m.server[r] as usize];
        match m.ev[r] {
            Ev::Receive if m.client_ip[r] != NONE => {
                let from = match ch.and_then(|h| server_of_host(&m.servers, h)) {
                    Some(s) => server_node[s as usize],
                    None => *ip_node
                        .entry(m.client_ip[r])
                        .or_insert_with(|| nodes.get(m.ips.name(m.client_ip[r]), "outside")),
                };
                bump(from, here);
            }
            Ev::Send | Ev::SendExternal => {
                let target = sh.filter(|s| !s.is_empty()).or(sip).unwrap_or("");
                if target.is_empty() {
                    continue;
                }
                let to = *host_node.entry(target).or_insert_with(|| {
                    match server_of_host(&m.servers, target) {
                        Some(s) => server_node[s as usize],
                        None => nodes.get(target, "outside"),
                    }
                });
                bump(here, to);
            }
            Ev::Deliver => {
                let s = m.server[r] as usize;
                let mb = *mailbox_node[s].get_or_insert_with(|| {
                    nodes.get(
                        &format!("mailboxes on {}", m.servers.name(s as u32)),
                        "mailboxes",
                    )
                });
                bump(here, mb);
            }
            _ => {}
        }
    }
    let names = nodes.names;
    let mut edges: Vec<FlowEdge> = g
        .all_edges()
        .map(|(a, b, w)| FlowEdge {
            from: names[a as usize].0.clone(),
            to: names[b as usize].0.clone(),
            messages: *w,
        })
        .collect();
    edges.sort_by(|x, y| {
        y.messages
            .cmp(&x.messages)
            .then_with(|| (&x.from, &x.to).cmp(&(&y.from, &y.to)))
    });
    let mut nodes: Vec<FlowNode> = names
        .into_iter()
        .filter(|(n, _)| edges.iter().any(|e| e.from == *n || e.to == *n))
        .map(|(name, kind)| FlowNode { name, kind })
        .collect();
    nodes.sort_by(|a, b| a.kind.cmp(b.kind).then_with(|| a.name.cmp(&b.name)));
    Ok(ServerFlow { nodes, edges })
}

#[derive(Debug, Clone, Serialize)]
pub struct Top {
    pub key: String,
    pub messages: u64,
    pub original: u64,
    pub notifications: u64,
    pub auto_replies: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tops {
    pub senders: Vec<Top>,
    pub recipients: Vec<Top>,
    /// The heaviest edges of the address-flow graph.
    pub pairs: Vec<Top>,
    pub address_flow: AddressFlow,
}

/// Size of the address-flow graph: addresses as nodes, one edge per sender → recipient, its
/// weight split into original, notification and auto-reply traffic.
#[derive(Debug, Clone, Serialize)]
pub struct AddressFlow {
    pub addresses: usize,
    pub edges: usize,
    pub original: u64,
    pub notification: u64,
    pub auto_reply: u64,
}

pub const TOP_N: usize = 15;

#[derive(Default, Clone, Copy)]
struct Weight {
    n: u64,
    original: u64,
    notif: u64,
    auto: u64,
    failed: u64,
}

impl Weight {
    fn add(&mut self, msg: &super::model::Msg) {
        self.n += 1;
        match msg.class {
            Class::Notification => self.notif += 1,
            Class::AutoReply => self.auto += 1,
            Class::Original => self.original += 1,
        }
        if msg.failed {
            self.failed += 1;
        }
    }
}

pub fn tops(m: &Model<'_>) -> Tops {
    let mut g: DiGraphMap<u32, Weight> = DiGraphMap::new();
    let mut senders: PlHashMap<u32, Weight> = PlHashMap::default();
    for msg in &m.msgs {
        if msg.rows == 0 {
            continue;
        }
        senders.entry(msg.sender).or_default().add(msg);
        for &to in m.msg_recipients(msg) {
            match g.edge_weight_mut(msg.sender, to) {
                Some(w) => w.add(msg),
                None => {
                    let mut w = Weight::default();
                    w.add(msg);
                    g.add_edge(msg.sender, to, w);
                }
            }
        }
    }
    let mut recipients: PlHashMap<u32, Weight> = PlHashMap::default();
    let mut total = Weight::default();
    for (_, to, w) in g.all_edges() {
        let r = recipients.entry(to).or_default();
        for (acc, v) in [(&mut *r, w), (&mut total, w)] {
            acc.n += v.n;
            acc.original += v.original;
            acc.notif += v.notif;
            acc.auto += v.auto;
            acc.failed += v.failed;
        }
    }
    let name = |a: u32| {
        if a == NONE {
            "(none)".to_string()
        } else {
            m.addrs.name(a).to_string()
        }
    };
    let top = |v: Vec<(String, Weight)>| {
        let mut out: Vec<Top> = v
            .into_iter()
            .map(|(key, a)| Top {
                key,
                messages: a.n,
                original: a.original,
                notifications: a.notif,
                auto_replies: a.auto,
                failed: a.failed,
            })
            .collect();
        out.sort_by(|a, b| b.messages.cmp(&a.messages).then_with(|| a.key.cmp(&b.key)));
        out.truncate(TOP_N);
        out
    };
    Tops {
        senders: top(senders.into_iter().map(|(k, w)| (name(k), w)).collect()),
        recipients: top(recipients.into_iter().map(|(k, w)| (name(k), w)).collect()),
        pairs: top(g
            .all_edges()
            .map(|(a, b, w)| (format!("{} → {}", name(a), name(b)), *w))
            .collect()),
        address_flow: AddressFlow {
            addresses: g.node_count(),
            edges: g.edge_count(),
            original: total.original,
            notification: total.notif,
            auto_reply: total.auto,
        },
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusCount {
    pub code: String,
    pub rows: u64,
    pub meaning: &'static str,
}

/// Plain-language meaning of the enhanced status codes that matter in an incident.
pub fn meaning(code: &str) -> &'static str {
    match code {
        "2.0.0" => "accepted / delivered",
        "2.1.5" => "recipient OK, delivered",
        "2.6.0" => "queued for delivery",
        "4.2.2" => "mailbox full (temporary: will retry)",
        "5.2.2" => "mailbox full (quota exceeded): rejected",
        "5.1.1" => "no such recipient address",
        "5.1.10" => "recipient not found (Exchange Online)",
        "4.4.7" => "message expired in the queue",
        "5.4.7" => "message expired",
        "5.3.5" => "mail loop detected",
        "5.4.6" | "5.4.14" => "hop count exceeded: possible mail loop",
        "5.7.1" => "not authorized / relay denied",
        "5.7.708" | "5.7.750" => "tenant or IP blocked for sending",
        "4.4.1" | "4.4.2" => "connection to the next hop failed (temporary)",
        "5.0.0" => "permanent failure (unspecified)",
        "4.0.0" => "temporary failure (unspecified)",
        "5.3.4" => "message too large",
        "5.2.3" => "message larger than the recipient accepts",
        "4.3.2" => "server shutting down or not accepting mail",
        _ => match code.as_bytes().first() {
            Some(b'2') => "success",
            Some(b'4') => "temporary failure",
            Some(b'5') => "permanent failure",
            _ => "",
        },
    }
}

pub fn status_codes(m: &Model<'_>) -> Vec<StatusCount> {
    let mut counts = vec![0u64; m.codes.len()];
    for &c in &m.rcpt_code {
        if c != 0 {
            counts[c as usize] += 1;
        }
    }
    let mut out: Vec<StatusCount> = counts
        .into_iter()
        .enumerate()
        .filter(|(_, n)| *n > 0)
        .map(|(i, n)| {
            let code = m.codes.name(i as u32).to_string();
            StatusCount {
                meaning: meaning(&code),
                code,
                rows: n,
            }
        })
        .collect();
    out.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.code.cmp(&b.code)));
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct MailboxFull {
    pub mailbox: String,
    pub first_failure: String,
    pub last_failure: String,
    /// Quota failures (5.2.2 rejections and 4.2.2 deferrals) from the first one on.
    pub failures: u64,
    pub deferrals: u64,
    pub code: String,
}

/// Per mailbox, the first quota failure and how many followed.
pub fn mailbox_full(m: &Model<'_>) -> Vec<MailboxFull> {
    let quota: Vec<u16> = ["4.2.2", "5.2.2"]
        .iter()
        .filter_map(|c| m.codes.get(c).map(|i| i as u16))
        .collect();
    if quota.is_empty() {
        return Vec::new();
    }
    let mut by: BTreeMap<u32, (i64, i64, u64, u64, u16)> = BTreeMap::new();
    for &r in &m.order {
        let r = r as usize;
        if !matches!(m.ev[r], Ev::Fail | Ev::Defer) {
            continue;
        }
        for (k, &c) in m.row_codes(r).iter().enumerate() {
            if !quota.contains(&c) {
                continue;
            }
            let Some(&to) = m.recipients(r).get(k) else {
                continue;
            };
            let e = by.entry(to).or_insert((m.time[r], m.time[r], 0, 0, c));
            e.1 = m.time[r];
            if m.ev[r] == Ev::Defer {
                e.3 += 1;
            } else {
                e.2 += 1;
            }
        }
    }
    let mut out: Vec<MailboxFull> = by
        .into_iter()
        .map(|(a, (first, last, f, d, c))| MailboxFull {
            mailbox: m.addrs.name(a).to_string(),
            first_failure: rfc3339(first),
            last_failure: rfc3339(last),
            failures: f,
            deferrals: d,
            code: m.codes.name(c as u32).to_string(),
        })
        .collect();
    out.sort_by(|a, b| {
        (b.failures + b.deferrals)
            .cmp(&(a.failures + a.deferrals))
            .then_with(|| a.mailbox.cmp(&b.mailbox))
    });
    out
}
