//! The message model every detector reads: the rows as narrow, typed, interned columns (built
//! while parsing, see [`build`]), one record per message across all its rows and servers, and
//! the link from each notification or automatic reply to the message that caused it, with its
//! generation ([`causality`]).

pub mod build;
pub mod causality;
pub mod classify;
pub mod intern;

use std::collections::BTreeMap;

use classify::{flag, Ev, Src, StatusKind};
pub use intern::{Interner, NONE};

use crate::ingest::{EntryRef, LogKind};

/// What a message is, for loop and storm analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Written by a person or an application.
    Original,
    /// A delivery status notification (NDR/DSN).
    Notification,
    /// An automatic reply, inbox-rule message or "mailbox full" notice.
    AutoReply,
}

/// One message (one Message-ID) across all its rows and servers.
#[derive(Debug, Clone)]
pub struct Msg {
    pub first: i64,
    pub last: i64,
    /// First RECEIVE/SUBMIT anywhere (the start of its latency); `first` if none.
    pub arrival: i64,
    pub arrival_row: u32,
    /// Last DELIVER/SEND/SENDEXTERNAL anywhere; `None` if never completed.
    pub done: Option<i64>,
    pub done_row: u32,
    /// When it last left for a host outside the bundle (SEND/SENDEXTERNAL to the outside).
    pub left: Option<i64>,
    pub first_row: u32,
    pub rows: u32,
    pub sender: u32,
    pub subject: u32,
    /// Its recipients over all rows, each once: `mrcpt[rcpt_start..rcpt_start + rcpt_len]`.
    pub rcpt_start: u32,
    pub rcpt_len: u32,
    pub class: Class,
    pub flags: u16,
    pub parent: u32,
    pub generation: u16,
    /// Failed for good (FAIL, DROP, BADMAIL, POISONMESSAGE; not shadow-redundancy events).
    pub failed: bool,
    /// DEFER rows (retries of this same message).
    pub deferred: u32,
    /// The first recipient a failure status was logged for (NONE if none).
    pub fail_rcpt: u32,
    /// Bit i set: seen on server i (first 64 servers).
    pub servers: u64,
    /// Only shadow-redundancy rows (HARECEIVE, HAREDIRECT, ...): a copy, not a message of its own.
    pub shadow_only: bool,
}

impl Msg {
    /// A message with no rows yet (also what an id never seen on a row maps to).
    pub const EMPTY: Msg = Msg {
        first: 0,
        last: 0,
        arrival: i64::MAX,
        arrival_row: NONE,
        done: None,
        done_row: NONE,
        left: None,
        first_row: NONE,
        rows: 0,
        sender: NONE,
        subject: NONE,
        rcpt_start: 0,
        rcpt_len: 0,
        class: Class::Original,
        flags: 0,
        parent: NONE,
        generation: 0,
        failed: false,
        deferred: 0,
        fail_rcpt: NONE,
        servers: 0,
        shadow_only: true,
    };

    /// Health probes and monitoring traffic.
    pub fn is_probe(&self) -> bool {
        self.flags & flag::PROBE != 0
    }

    /// A real message of the bundle (not an id only referenced, not a shadow copy).
    pub fn counts(&self) -> bool {
        self.rows > 0 && !self.shadow_only
    }
}

/// One SMTP protocol-log session, summarised.
#[derive(Debug, Clone)]
pub struct Session {
    pub server: u32,
    pub kind: LogKind,
    pub session: String,
    pub connector: u32,
    pub remote: String,
    pub start: i64,
    pub end: i64,
    pub lines: u32,
    /// The line where the server turned the client away with `452 4.3.1` (back pressure).
    pub turned_away: Option<u32>,
    pub first_line: u32,
    pub entry: u32,
}

/// One of Exchange's own latency parts (`TOTAL-HUB=0.294`), logged by the row's server.
#[derive(Debug, Clone, Copy)]
pub struct LatencyPart {
    pub row: u32,
    pub component: u32,
    pub ms: u32,
}

/// The rows as compact columns plus the message table.
pub struct Model {
    pub n: usize,
    pub time: Vec<i64>,
    pub ev: Vec<Ev>,
    /// The event id as logged (unknown ids kept), interned in `ev_names`.
    pub ev_name: Vec<u32>,
    pub src: Vec<Src>,
    pub msg: Vec<u32>,
    pub sender: Vec<u32>,
    pub server: Vec<u32>,
    pub flags: Vec<u16>,
    pub reference: Vec<u32>,
    pub client_ip: Vec<u32>,
    pub orig_client_ip: Vec<u32>,
    pub server_ip: Vec<u32>,
    pub client_host: Vec<u32>,
    pub server_host: Vec<u32>,
    pub connector: Vec<u32>,
    pub related: Vec<u32>,
    pub rcpt_count: Vec<u32>,
    pub subject: Vec<u32>,
    /// Provenance: the entry (index into `entries`) and line of each row.
    pub entry: Vec<u32>,
    pub line: Vec<u32>,
    /// Row i's recipients are `rcpt[rcpt_off[i]..rcpt_off[i+1]]`, their codes and kinds alike.
    pub rcpt_off: Vec<u32>,
    pub rcpt: Vec<u32>,
    pub rcpt_code: Vec<u32>,
    pub rcpt_kind: Vec<StatusKind>,
    /// (row, origination time) from `message-info`, in row order.
    pub origination: Vec<(u32, i64)>,
    pub parts: Vec<LatencyPart>,
    /// Rows in time order (stable: rows logged in the same millisecond keep bundle order).
    pub order: Vec<u32>,
    pub addrs: Interner,
    /// Read by id only: the merge adds its names unfiled (`Interner::push_unindexed`); the
    /// first look-up by name files them all.
    pub msg_ids: Interner,
    pub servers: Interner,
    pub ips: Interner,
    pub hosts: Interner,
    pub connectors: Interner,
    pub codes: Interner,
    pub ev_names: Interner,
    pub subjects: Interner,
    pub subject_flags: Vec<u16>,
    pub components: Interner,
    pub entries: Vec<EntryRef>,
    pub sessions: Vec<Session>,
    /// One per message id (index = id in `msg_ids`).
    pub msgs: Vec<Msg>,
    pub mrcpt: Vec<u32>,
    /// First and last row time (0 when there are no rows).
    pub start: i64,
    pub end: i64,
    /// IP addresses of the bundle's own servers.
    pub own_ip: Vec<bool>,
    /// Host names (short) that are the bundle's own servers.
    pub own_host: Vec<bool>,
    /// Mail domains of the organisation (where our servers deliver mail).
    pub own_domains: Vec<String>,
    /// Addresses in one of those domains (index = address id): asked for row after row, so
    /// answered once per address.
    internal: Vec<bool>,
}

/// How far back a notification may point to the message that caused it, when the log does not
/// name that message (auto-replies, NDRs without a DSN row in the bundle).
pub const LINK_WINDOW_MS: i64 = 15 * 60 * 1000;

impl Model {
    /// Messages `ids` in the order they were first seen (ties by id). The keys are gathered
    /// first, so the sort does not chase messages across memory, and sorted on all cores: the
    /// keys are unique, so the order is the one a stable sort gives.
    pub fn by_first(&self, ids: Vec<u32>) -> Vec<u32> {
        use rayon::slice::ParallelSliceMut;
        let mut keyed: Vec<(i64, u32)> = ids
            .into_iter()
            .map(|i| (self.msgs[i as usize].first, i))
            .collect();
        keyed.par_sort_unstable();
        keyed.into_iter().map(|(_, i)| i).collect()
    }

    fn empty(entries: Vec<EntryRef>) -> Model {
        Model {
            n: 0,
            time: Vec::new(),
            ev: Vec::new(),
            ev_name: Vec::new(),
            src: Vec::new(),
            msg: Vec::new(),
            sender: Vec::new(),
            server: Vec::new(),
            flags: Vec::new(),
            reference: Vec::new(),
            client_ip: Vec::new(),
            orig_client_ip: Vec::new(),
            server_ip: Vec::new(),
            client_host: Vec::new(),
            server_host: Vec::new(),
            connector: Vec::new(),
            related: Vec::new(),
            rcpt_count: Vec::new(),
            subject: Vec::new(),
            entry: Vec::new(),
            line: Vec::new(),
            rcpt_off: Vec::new(),
            rcpt: Vec::new(),
            rcpt_code: Vec::new(),
            rcpt_kind: Vec::new(),
            origination: Vec::new(),
            parts: Vec::new(),
            order: Vec::new(),
            addrs: Interner::default(),
            msg_ids: Interner::default(),
            servers: Interner::default(),
            ips: Interner::default(),
            hosts: Interner::default(),
            connectors: Interner::default(),
            codes: Interner::default(),
            ev_names: Interner::default(),
            subjects: Interner::default(),
            subject_flags: Vec::new(),
            components: Interner::default(),
            entries,
            sessions: Vec::new(),
            msgs: Vec::new(),
            mrcpt: Vec::new(),
            start: 0,
            end: 0,
            own_ip: Vec::new(),
            own_host: Vec::new(),
            own_domains: Vec::new(),
            internal: Vec::new(),
        }
    }

    /// Builds the model from a bundle read with [`build::ModelCollector`].
    pub fn from_chunks(chunks: Vec<(u32, build::Chunk)>, entries: Vec<EntryRef>) -> Model {
        let mut sw = crate::timing::Stopwatch::start();
        let mut m = build::merge(chunks, entries);
        sw.lap("model: merge");
        m.finish();
        sw.lap("model: messages, causality");
        m
    }

    /// Everything derived from the rows once they are all in.
    pub fn finish(&mut self) {
        let mut sw = crate::timing::Stopwatch::start();
        let mut order: Vec<u32> = (0..self.n as u32).collect();
        let time = &self.time;
        // Stable, so rows logged in the same millisecond keep their bundle order.
        rayon::slice::ParallelSliceMut::par_sort_by_key(&mut order[..], |&i| time[i as usize]);
        self.order = order;
        self.start = self.order.first().map_or(0, |&i| self.time[i as usize]);
        self.end = self.order.last().map_or(0, |&i| self.time[i as usize]);
        sw.lap("model: order");
        // The message table needs only which hosts are ours; the rest of our network (a scan
        // of every row) is found beside it.
        self.own_host = self.own_hosts();
        let ((own_ip, own_domains), (msgs, mrcpt)) =
            rayon::join(|| self.own_network(), || self.messages());
        self.own_ip = own_ip;
        self.internal = self
            .addrs
            .iter()
            .map(|(_, a)| in_domains(&own_domains, a))
            .collect();
        self.own_domains = own_domains;
        self.msgs = msgs;
        self.mrcpt = mrcpt;
        sw.lap("model: own network, messages");
        causality::link(self);
        sw.lap("model: causality");
    }

    /// Host names (short) that are our own servers (index = host id).
    fn own_hosts(&self) -> Vec<bool> {
        let server_names: std::collections::HashSet<String> = self
            .servers
            .iter()
            .map(|(_, s)| s.to_ascii_lowercase())
            .collect();
        self.hosts
            .iter()
            .map(|(_, h)| server_names.contains(&h.to_ascii_lowercase()))
            .collect()
    }

    /// Our own servers' IPs (the local side of SMTP hops, and hosts named like our servers) and
    /// mail domains (where our servers deliver into mailboxes, or take mail from them), sorted.
    /// Needs `own_host`.
    fn own_network(&self) -> (Vec<bool>, Vec<String>) {
        let mut own = vec![false; self.ips.len()];
        // Addresses first, domains after: an address repeats on many rows.
        let mut mailbox = vec![false; self.addrs.len()];
        let mut mark = |a: u32| {
            if let Some(x) = mailbox.get_mut(a as usize) {
                *x = true;
            }
        };
        for r in 0..self.n {
            match self.ev[r] {
                Ev::Deliver => self.recipients(r).iter().for_each(|&a| mark(a)),
                Ev::Submit | Ev::Receive if self.src[r] == Src::StoreDriver => mark(self.sender[r]),
                _ => {}
            }
            // An IP logged beside one of our servers' host names is that server's.
            for (ip, host) in [
                (self.client_ip[r], self.client_host[r]),
                (self.server_ip[r], self.server_host[r]),
            ] {
                if ip != NONE && self.is_own_host(host) {
                    own[ip as usize] = true;
                }
            }
        }
        let domains: std::collections::BTreeSet<&str> = self
            .addrs
            .iter()
            .filter(|&(a, _)| mailbox[a as usize])
            .filter_map(|(_, name)| name.rsplit_once('@').map(|(_, d)| d))
            .collect();
        (own, domains.into_iter().map(str::to_string).collect())
    }

    /// True when an address belongs to one of the organisation's own domains.
    pub fn is_internal(&self, addr: u32) -> bool {
        self.internal.get(addr as usize).copied().unwrap_or(false)
    }

    /// True when a host (short name) is one of our own servers.
    pub fn is_own_host(&self, host: u32) -> bool {
        host != NONE && self.own_host.get(host as usize).copied().unwrap_or(false)
    }

    /// True when an IP is one of our own servers.
    pub fn is_own_ip(&self, ip: u32) -> bool {
        ip != NONE && self.own_ip.get(ip as usize).copied().unwrap_or(false)
    }

    pub fn recipients(&self, row: usize) -> &[u32] {
        &self.rcpt[self.rcpt_off[row] as usize..self.rcpt_off[row + 1] as usize]
    }

    pub fn row_codes(&self, row: usize) -> &[u32] {
        &self.rcpt_code[self.rcpt_off[row] as usize..self.rcpt_off[row + 1] as usize]
    }

    pub fn row_kinds(&self, row: usize) -> &[StatusKind] {
        &self.rcpt_kind[self.rcpt_off[row] as usize..self.rcpt_off[row + 1] as usize]
    }

    /// The class digit of a code id (`5` for `5.2.2`), 0 when none.
    pub fn code_class(&self, code: u32) -> u8 {
        self.codes
            .name(code)
            .as_bytes()
            .first()
            .map_or(0, |c| c.saturating_sub(b'0'))
    }

    /// A message's recipients over all its rows, each once, in order of first appearance.
    pub fn msg_recipients(&self, m: &Msg) -> &[u32] {
        let a = m.rcpt_start as usize;
        &self.mrcpt[a..a + m.rcpt_len as usize]
    }

    /// The client IP a RECEIVE row stands for: the connecting client, unless that is one of our
    /// own servers proxying the connection (front end to back end, client IP equal to the
    /// server's), where the sender's own address is `original-client-ip`. `NONE` for a hop
    /// between our servers.
    pub fn effective_client_ip(&self, r: usize) -> u32 {
        let ip = self.client_ip[r];
        let proxied = ip != NONE && (self.is_own_ip(ip) || ip == self.server_ip[r]);
        if !proxied {
            return ip;
        }
        let orig = self.orig_client_ip[r];
        if orig != NONE && !self.is_own_ip(orig) {
            orig
        } else {
            NONE
        }
    }

    /// The time-ordered list of rows of each message is not stored; this walks `order` (once
    /// per half of the ids) and builds the message table and the messages' recipients. Needs
    /// `own_host`.
    fn messages(&self) -> (Vec<Msg>, Vec<u32>) {
        // Two halves of the ids, one per core: each walks every row in time order but only
        // records its own messages (a message's record depends only on its own rows), and the
        // halves are joined in id order, so the result is what one walk gives.
        let n = self.msg_ids.len();
        let half = n / 2;
        let mut msgs: Vec<Msg> = vec![Msg::EMPTY; n];
        let (low, high) = msgs.split_at_mut(half);
        let (mut mrcpt, high_rcpt) = rayon::join(
            || self.messages_in(0, low),
            || self.messages_in(half as u32, high),
        );
        let base = mrcpt.len() as u32;
        for m in &mut msgs[half..] {
            m.rcpt_start += base;
        }
        mrcpt.extend(high_rcpt);
        (msgs, mrcpt)
    }

    /// Fills the records of messages `lo..lo + msgs.len()` (empty records, indexed from `lo`)
    /// and returns their recipients (`rcpt_start` relative to that list).
    fn messages_in(&self, lo: u32, msgs: &mut [Msg]) -> Vec<u32> {
        let count = msgs.len();
        let hi = lo + count as u32;
        // Recipients per message, gathered in time order, deduplicated after.
        let mut per_msg: Vec<Vec<u32>> = vec![Vec::new(); count];
        let server_bit = |s: u32| if s < 64 { 1u64 << s } else { 0 };
        for &r in &self.order {
            let r = r as usize;
            let id = self.msg[r];
            if id == NONE || id < lo || id >= hi {
                continue;
            }
            let id = id - lo;
            let t = self.time[r];
            let ev = self.ev[r];
            let m = &mut msgs[id as usize];
            if m.rows == 0 {
                m.first = t;
                m.first_row = r as u32;
            }
            m.rows += 1;
            m.last = t;
            m.servers |= server_bit(self.server[r]);
            m.flags |= self.flags[r];
            if !ev.is_shadow() {
                m.shadow_only = false;
            }
            if m.sender == NONE && self.sender[r] != NONE {
                m.sender = self.sender[r];
            }
            if m.subject == NONE && self.subject[r] != NONE {
                m.subject = self.subject[r];
            }
            if ev.is_arrival() && t < m.arrival {
                m.arrival = t;
                m.arrival_row = r as u32;
            }
            if ev.is_completion() {
                m.done = Some(t);
                m.done_row = r as u32;
            }
            if matches!(ev, Ev::Send | Ev::SendExternal) {
                let host = self.server_host[r];
                if !self.is_own_host(host) {
                    m.left = Some(t);
                }
            }
            if ev.is_failure() {
                m.failed = true;
            }
            if ev == Ev::Defer {
                m.deferred += 1;
            }
            let (a, b) = (self.rcpt_off[r] as usize, self.rcpt_off[r + 1] as usize);
            if m.fail_rcpt == NONE && (ev.is_failure() || ev == Ev::Defer) {
                if let Some(k) = self.rcpt_code[a..b]
                    .iter()
                    .position(|&c| matches!(self.code_class(c), 4 | 5))
                {
                    m.fail_rcpt = self.rcpt[a + k];
                }
            }
            if !ev.is_shadow() || per_msg[id as usize].is_empty() {
                per_msg[id as usize].extend_from_slice(&self.rcpt[a..b]);
            }
        }
        let mut mrcpt = Vec::with_capacity(self.rcpt.len() / 4);
        for (m, rc) in msgs.iter_mut().zip(per_msg.iter_mut()) {
            m.rcpt_start = mrcpt.len() as u32;
            // Deduplicate keeping first appearance (lists are short; `a;b;b;c` on one row).
            let start = mrcpt.len();
            for &a in rc.iter() {
                if !mrcpt[start..].contains(&a) {
                    mrcpt.push(a);
                }
            }
            m.rcpt_len = (mrcpt.len() - start) as u32;
            if m.arrival == i64::MAX {
                m.arrival = m.first;
                m.arrival_row = m.first_row;
            }
            m.class = if m.flags & (flag::SYSTEM_SENDER | flag::NDR_SUBJECT | flag::DSN_ROW) != 0 {
                Class::Notification
            } else if m.flags & (flag::AUTO_SUBJECT | flag::MAILBOX_RULE | flag::NULL_RETURN_PATH)
                != 0
            {
                Class::AutoReply
            } else {
                Class::Original
            };
        }
        mrcpt
    }

    /// The generation-0 message a chain starts from.
    pub fn root(&self, mut i: u32) -> u32 {
        for _ in 0..10_000 {
            let p = self.msgs[i as usize].parent;
            if p == NONE || p == i || self.msgs[p as usize].rows == 0 {
                return i;
            }
            i = p;
        }
        i
    }

    /// The address on whose behalf an automated message travels: for an NDR, the recipient that
    /// failed in the message it reports on; for an auto-reply, its sender.
    pub fn logical_sender(&self, i: u32) -> u32 {
        let m = &self.msgs[i as usize];
        if m.class == Class::Notification && m.parent != NONE {
            let p = &self.msgs[m.parent as usize];
            if p.fail_rcpt != NONE {
                return p.fail_rcpt;
            }
            if let Some(&a) = self.msg_recipients(p).first() {
                return a;
            }
        }
        m.sender
    }

    /// Exchange's own origination time of row `r`, if its `message-info` carries one.
    pub fn origination_of(&self, r: u32) -> Option<i64> {
        self.origination
            .binary_search_by_key(&r, |&(row, _)| row)
            .ok()
            .map(|i| self.origination[i].1)
    }

    /// A message's delivery latency: Exchange's own measure where the completing row carries
    /// the origination time, else from its first arrival to its last completion on our
    /// servers. A message seen on one row only, or never completed, measures nothing.
    pub fn latency(&self, m: &Msg) -> Option<i64> {
        let done = m.done?;
        if let Some(orig) = self.origination_of(m.done_row) {
            let l = done - orig;
            // A client whose clock is off gives negative or absurd values: not a latency.
            return (0..=LATENCY_PLAUSIBLE_MS).contains(&l).then_some(l);
        }
        (m.arrival_row != NONE && m.arrival_row != m.done_row && done >= m.arrival)
            .then(|| done - m.arrival)
    }

    /// Sessions that span several files are one session.
    fn merge_sessions(&mut self) {
        let mut by: BTreeMap<(u32, LogKind, String), usize> = BTreeMap::new();
        let mut out: Vec<Session> = Vec::with_capacity(self.sessions.len());
        for s in std::mem::take(&mut self.sessions) {
            match by.get(&(s.server, s.kind, s.session.clone())) {
                Some(&i) => {
                    let t = &mut out[i];
                    t.start = t.start.min(s.start);
                    t.end = t.end.max(s.end);
                    t.lines += s.lines;
                    if t.turned_away.is_none() {
                        t.turned_away = s.turned_away;
                    }
                }
                None => {
                    by.insert((s.server, s.kind, s.session.clone()), out.len());
                    out.push(s);
                }
            }
        }
        self.sessions = out;
    }
}

/// True when `addr` is in one of `domains` (sorted): the part after its last `@`.
fn in_domains(domains: &[String], addr: &str) -> bool {
    addr.rsplit_once('@')
        .is_some_and(|(_, d)| domains.binary_search_by(|x| x.as_str().cmp(d)).is_ok())
}

/// Latencies beyond this (a week) come from a wrong clock, not from a queue.
pub const LATENCY_PLAUSIBLE_MS: i64 = 7 * 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_table_built_in_two_halves_is_one_walk() -> crate::error::Result<()> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/incident.zip");
        let read = crate::ingest::read(
            &path,
            &crate::ingest::Options::default(),
            &build::ModelCollector,
            &crate::ingest::Quiet,
        )?;
        let m = Model::from_chunks(read.chunks, read.entries);
        assert!(m.msg_ids.len() > 1_000, "both halves hold many messages");
        let (halves, halves_rcpt) = m.messages();
        let mut one = vec![Msg::EMPTY; m.msg_ids.len()];
        let one_rcpt = m.messages_in(0, &mut one);
        assert_eq!(halves_rcpt, one_rcpt);
        assert_eq!(format!("{halves:?}"), format!("{one:?}"));
        Ok(())
    }
}
