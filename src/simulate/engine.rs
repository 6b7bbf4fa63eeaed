//! The discrete-event core: a clock, a queue of future actions, SMTP sessions, tracking rows,
//! and the message flows (submit, route, deliver, hop, send out, fail, DSN) that every
//! scenario is assembled from.
//!
//! A flow runs to completion when its action fires and may stamp rows a few seconds ahead of
//! the clock; anything further away (a retry, a reply from outside, a round trip through the
//! firewall) is scheduled as a new action so that sessions and rows stay in time order.

use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashSet};
use std::fmt::Write as _;
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::out::{fmt_time, parts, push_field, push_secs, push_time, LogKind, Ms, Output, EXCHANGE_BUILD};
use super::plan::Plan;
use super::world::{
    guid, Addr, Dest, World, APP_HOST, APP_IP, BULK_HOST, BULK_IP, CUSTOM_DATA, DOMAIN, FW_HOST,
    FW_IP, SEND_INTRA, SEND_TO_FW, UNEXPECTED_HELO, UNEXPECTED_IP,
};

pub(super) type MsgRef = Rc<Msg>;

const STATUS_OK: &str = "250 2.1.5 Recipient OK";
const STATUS_NOT_FOUND: &str = "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found";
const STATUS_AUTH: &str = "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required [{LRT=};{LED=550 5.7.1 RESOLVER.RST.AuthRequired; authentication required};{FQDN=};{IP=}]";
const STATUS_QUOTA: &str = "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot open mailbox.";
const STATUS_QUOTA_DEFER: &str = "451 4.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionQuotaExceeded";
const STATUS_EXPIRED: &str = "550 4.4.7 QUEUE.Expired; message expired";
const STATUS_HOPS: &str = "554 5.4.14 Hop count exceeded - possible mail loop ATTR34";
const STATUS_DEFER_CONNECT: &str = "451 4.4.0 Primary target IP address responded with: \"421 4.4.2 Connection dropped due to SocketError.\" Attempted failover to alternate host, but that did not succeed. Either there are no alternate hosts, or delivery failed to all alternate hosts. The last endpoint attempted was 192.0.2.10:25";
const EHLO_CAPS: &str = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING XRDST";
const EHLO_CAPS_TLS: &str = "SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES AUTH NTLM LOGIN X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING XRDST";
const TLS_INFO: &str = "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits";
/// Past this many generations Exchange's hop counter stops the chain.
const LOOP_HOP_CAP: u32 = 12;
/// Reused connections are kept open this long without traffic, then QUIT.
const IDLE_MS: Ms = 3_000;
const MAX_MSGS_PER_SESSION: u32 = 20;

const TRANSPORT: usize = 0;
const SUBMISSION: usize = 1;
const DELIVERY: usize = 2;

/// Which planted phenomenon a message belongs to; rows are counted per component.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Comp {
    Background,
    Incident,
    Newsletter,
    Pingpong,
    UnexpectedIp,
    QueueGrowth,
    CrossServer,
}

impl Comp {
    pub(super) const ALL: [Comp; 7] = [
        Comp::Background,
        Comp::Incident,
        Comp::Newsletter,
        Comp::Pingpong,
        Comp::UnexpectedIp,
        Comp::QueueGrowth,
        Comp::CrossServer,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Comp::Background => "background",
            Comp::Incident => "incident",
            Comp::Newsletter => "newsletter",
            Comp::Pingpong => "pingpong",
            Comp::UnexpectedIp => "unexpected-ip",
            Comp::QueueGrowth => "queue-growth",
            Comp::CrossServer => "cross-server",
        }
    }
}

pub(super) struct Msg {
    pub(super) id: String,
    pub(super) nmid: String,
    pub(super) sender: Addr,
    /// `<>` for notifications.
    pub(super) return_path: Addr,
    pub(super) subject: String,
    pub(super) bytes: u64,
    pub(super) origin: Ms,
    pub(super) comp: Comp,
    /// Generation in the incident's chain: 0 for the app's alerts, 1+ for notices about them.
    pub(super) gen: Option<u32>,
    /// Came in from outside the organisation (directionality Incoming).
    pub(super) incoming: bool,
    pub(super) class: &'static str,
    pub(super) fed_loop: Cell<bool>,
}

/// How a message reached the server that is routing it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Via {
    Mailbox,
    Internet,
    App,
    Server(usize),
    Generated,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Peer {
    Firewall,
    App,
    Bulk,
    Unexpected,
    Server(usize),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Side {
    Recv,
    HubRecv,
    Send,
}

impl Side {
    fn kind(self) -> LogKind {
        match self {
            Side::Recv => LogKind::Recv,
            Side::HubRecv => LogKind::HubRecv,
            Side::Send => LogKind::Send,
        }
    }
}

/// Mail servers and relays keep connections open for the next message; scripts and bots don't.
fn reusable(peer: Peer) -> bool {
    matches!(peer, Peer::Firewall | Peer::Bulk | Peer::Server(_))
}

pub(super) enum Action {
    Background,
    Alert,
    Unexpected,
    Bulk,
    PingpongStart,
    PingpongExternal,
    Newsletter,
    Route {
        msg: MsgRef,
        server: usize,
        iid: u64,
        rcpts: Vec<Addr>,
        via: Via,
    },
    FromInternet {
        msg: MsgRef,
        rcpts: Vec<Addr>,
    },
    RetryDeliver {
        msg: MsgRef,
        server: usize,
        iid: u64,
        rcpt: Addr,
        attempt: u32,
    },
    RetrySend {
        msg: MsgRef,
        server: usize,
        iid: u64,
        rcpts: Vec<Addr>,
        attempt: u32,
    },
    CloseSession {
        slot: usize,
        id: u64,
    },
}

struct Sched {
    t: Ms,
    seq: u64,
    action: Action,
}

impl PartialEq for Sched {
    fn eq(&self, other: &Self) -> bool {
        (self.t, self.seq) == (other.t, other.seq)
    }
}
impl Eq for Sched {}
impl PartialOrd for Sched {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sched {
    fn cmp(&self, other: &Self) -> Ordering {
        other.t.cmp(&self.t).then(other.seq.cmp(&self.seq))
    }
}

struct Session {
    id: u64,
    server: usize,
    side: Side,
    peer: Peer,
    seq: u32,
    msgs: u32,
    start: Ms,
    busy_until: Ms,
    local: String,
    remote: String,
    connector: Rc<str>,
    live: bool,
}

/// One message tracking row; fields a flow leaves out stay empty.
#[derive(Default)]
pub(super) struct Row<'a> {
    pub(super) client_ip: &'a str,
    pub(super) client_host: &'a str,
    pub(super) server_ip: &'a str,
    pub(super) server_host: &'a str,
    pub(super) ctx: &'a str,
    pub(super) connector: &'a str,
    pub(super) source: &'a str,
    pub(super) event: &'a str,
    pub(super) iid: u64,
    pub(super) rcpts: &'a [Addr],
    /// Repeated once per recipient.
    pub(super) status: &'a str,
    pub(super) related: &'a str,
    pub(super) reference: &'a str,
    pub(super) info: &'a str,
    pub(super) orig_client: &'a str,
    pub(super) orig_server: &'a str,
    pub(super) custom: &'a str,
    pub(super) traffic: &'a str,
    /// NOTIFYMAPI rows carry only the sender.
    pub(super) bare: bool,
}

pub(super) struct Failure {
    status: Cow<'static, str>,
    source: &'static str,
    kind: LogKind,
}

/// Running totals that become the ground truth.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) rows: u64,
    pub(super) per_event: BTreeMap<&'static str, u64>,
    pub(super) per_log: BTreeMap<&'static str, u64>,
    pub(super) per_server: Vec<u64>,
    pub(super) per_comp: [u64; 7],
    pub(super) first: Option<Ms>,
    pub(super) last: Option<Ms>,
    pub(super) protocol_lines: u64,
    pub(super) messages: u64,
    pub(super) loop_rows: u64,
    pub(super) loop_msgs: u64,
    pub(super) loop_max_gen: u32,
    pub(super) originals_feeding: u64,
    pub(super) loop_onset: Option<Ms>,
    pub(super) pingpong_rounds: u64,
    pub(super) unexpected_first: Option<Ms>,
    pub(super) unexpected_msgs: u64,
    pub(super) cross_id: Option<String>,
    pub(super) newsletter_id: Option<String>,
    pub(super) newsletter_rcpts: u64,
}

pub(super) struct Sim {
    pub(super) rng: ChaCha8Rng,
    pub(super) plan: Plan,
    pub(super) world: World,
    pub(super) out: Output,
    pub(super) stats: Stats,
    pub(super) now: Ms,
    protocol_logs: bool,
    queue: BinaryHeap<Sched>,
    qseq: u64,
    iids: Vec<[u64; 3]>,
    slots: Vec<Session>,
    free: Vec<usize>,
    open: BTreeMap<(usize, Side, Peer), Vec<usize>>,
    session_ids: Vec<u64>,
    log_id_salt: u64,
    log_ids: u64,
    store_event: u64,
    pub(super) oof_replied: HashSet<(usize, Addr)>,
    last_connect_failure: Vec<Ms>,
    pub(super) alerts: u64,
    send_fw: Rc<str>,
    send_intra: Rc<str>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `Mon, 16 Nov 2026 08:00:01 +0000`, as in the SMTP banner.
fn banner_time(ms: Ms) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = parts(ms);
    let wd = DAYS[ms.div_euclid(86_400_000).rem_euclid(7) as usize];
    let mon = MONTHS[(mo as usize).saturating_sub(1) % 12];
    format!("{wd}, {d:02} {mon} {y} {h:02}:{mi:02}:{s:02} +0000")
}

/// `<x>` for the SMTP transcript even when the tracking row shows a bare id.
fn bracketed(id: &str) -> Cow<'_, str> {
    if id.starts_with('<') {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(format!("<{id}>"))
    }
}

impl Sim {
    pub(super) fn new(seed: u64, servers: usize, plan: Plan, out: Output, protocol_logs: bool) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let world = World::new(&mut rng, servers);
        let iids = (0..servers)
            .map(|_| {
                [
                    rng.random_range(10_995_116_277_760..99_000_000_000_000u64),
                    rng.random_range(1_000..900_000u64),
                    rng.random_range(1_000..900_000u64),
                ]
            })
            .collect();
        let session_ids = (0..servers * 3)
            .map(|k| 0x08DE_0000_0000_0000u64 + ((k as u64 + 1) << 36) + (rng.random::<u64>() >> 40))
            .collect();
        let log_id_salt = rng.random();
        Self {
            rng,
            plan,
            world,
            out,
            stats: Stats {
                per_server: vec![0; servers],
                ..Stats::default()
            },
            now: Ms::MIN,
            protocol_logs,
            queue: BinaryHeap::new(),
            qseq: 0,
            iids,
            slots: Vec::new(),
            free: Vec::new(),
            open: BTreeMap::new(),
            session_ids,
            log_id_salt,
            log_ids: 0,
            store_event: 63_779_422,
            oof_replied: HashSet::new(),
            last_connect_failure: vec![Ms::MIN; servers],
            alerts: 0,
            send_fw: SEND_TO_FW.into(),
            send_intra: SEND_INTRA.into(),
        }
    }

    // ---- clock and randomness -------------------------------------------------------------

    pub(super) fn schedule(&mut self, t: Ms, action: Action) {
        self.qseq += 1;
        self.queue.push(Sched {
            t: t.max(self.now),
            seq: self.qseq,
            action,
        });
    }

    /// Runs every action in time order. Past the end of the bundle only sessions still get
    /// closed: the admin copied the logs while mail was still flowing.
    pub(super) fn run(&mut self) -> anyhow::Result<()> {
        while let Some(item) = self.queue.pop() {
            if item.t > self.plan.end && !matches!(item.action, Action::CloseSession { .. }) {
                continue;
            }
            self.now = item.t;
            self.out.flush_until(item.t)?;
            self.dispatch(item.t, item.action);
        }
        Ok(())
    }

    pub(super) fn lat(&mut self, lo: Ms, hi: Ms) -> Ms {
        self.rng.random_range(lo..=hi)
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    /// Exponential gap for a Poisson process of `rate` events per ms.
    pub(super) fn gap(&mut self, rate: f64) -> Option<Ms> {
        if rate.is_finite() && rate > 0.0 {
            let u: f64 = self.rng.random();
            Some((-(1.0 - u).ln() / rate).round().min(1e12) as Ms)
        } else {
            None
        }
    }

    fn next_iid(&mut self, s: usize, svc: usize) -> u64 {
        let v = &mut self.iids[s][svc];
        *v += 1;
        *v
    }

    pub(super) fn new_id(&mut self, domain: &str) -> String {
        let a: u64 = self.rng.random();
        let b: u32 = self.rng.random();
        format!("<{a:016X}{b:08X}@{domain}>")
    }

    pub(super) fn nmid(&mut self) -> String {
        guid(&mut self.rng)
    }

    /// Registers a newly created message.
    pub(super) fn msg(&mut self, m: Msg) -> MsgRef {
        self.stats.messages += 1;
        if let Some(g) = m.gen.filter(|&g| g >= 1) {
            self.stats.loop_msgs += 1;
            self.stats.loop_max_gen = self.stats.loop_max_gen.max(g);
        }
        Rc::new(m)
    }

    pub(super) fn random_server(&mut self) -> usize {
        self.rng.random_range(0..self.world.servers.len())
    }

    // ---- rows ----------------------------------------------------------------------------

    pub(super) fn emit(&mut self, t: Ms, s: usize, kind: LogKind, msg: &Msg, r: &Row<'_>) {
        debug_assert!(t >= self.now, "row stamped before the clock");
        let mut line = String::with_capacity(420 + r.rcpts.len() * 56 + r.status.len());
        push_time(&mut line, t);
        for v in [
            r.client_ip,
            r.client_host,
            r.server_ip,
            r.server_host,
            r.ctx,
            r.connector,
            r.source,
            r.event,
        ] {
            line.push(',');
            push_field(&mut line, v);
        }
        line.push(',');
        if r.iid > 0 {
            let _ = write!(line, "{}", r.iid);
        }
        if r.bare {
            // message-id through message-subject are empty on NOTIFYMAPI.
            line.push_str(",,,,,,,,,");
        } else {
            line.push(',');
            push_field(&mut line, &msg.id);
            line.push(',');
            line.push_str(&msg.nmid);
            line.push(',');
            for (i, a) in r.rcpts.iter().enumerate() {
                if i > 0 {
                    line.push(';');
                }
                line.push_str(a);
            }
            line.push(',');
            push_repeated(&mut line, r.status, r.rcpts.len());
            line.push(',');
            let _ = write!(line, "{}", msg.bytes);
            line.push(',');
            if !r.rcpts.is_empty() {
                let _ = write!(line, "{}", r.rcpts.len());
            }
            line.push(',');
            line.push_str(r.related);
            line.push(',');
            push_field(&mut line, r.reference);
            line.push(',');
            push_field(&mut line, &msg.subject);
        }
        line.push(',');
        line.push_str(&msg.sender);
        line.push(',');
        if !r.bare {
            line.push_str(&msg.return_path);
        }
        line.push(',');
        push_field(&mut line, r.info);
        line.push(',');
        if !r.bare {
            line.push_str(if msg.incoming { "Incoming" } else { "Originating" });
        }
        line.push_str(",,");
        line.push_str(r.orig_client);
        line.push(',');
        line.push_str(r.orig_server);
        line.push(',');
        push_field(&mut line, r.custom);
        line.push(',');
        line.push_str(r.traffic);
        line.push(',');
        self.log_ids += 1;
        let a = splitmix(self.log_ids ^ self.log_id_salt);
        let b = splitmix(a);
        let _ = write!(
            line,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x},{EXCHANGE_BUILD}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        );

        let st = &mut self.stats;
        st.rows += 1;
        *st.per_event.entry(r.event).or_default() += 1;
        *st.per_log.entry(kind.prefix()).or_default() += 1;
        st.per_server[s] += 1;
        st.per_comp[msg.comp as usize] += 1;
        if msg.gen.is_some_and(|g| g >= 1) {
            st.loop_rows += 1;
        }
        st.first = Some(st.first.map_or(t, |f| f.min(t)));
        st.last = Some(st.last.map_or(t, |l| l.max(t)));
        self.out.push(t, s, kind, line);
    }

    /// `origination;SRV=host:TOTAL-HUB=latency`, the message-info of hub events.
    fn latency_info(&self, s: usize, msg: &Msg, t: Ms) -> String {
        let mut info = String::with_capacity(80);
        push_time(&mut info, msg.origin);
        let _ = write!(info, ";SRV={}:TOTAL-HUB=", self.world.servers[s].host);
        push_secs(&mut info, t - msg.origin);
        info
    }

    /// Store driver source-context: which database, mailbox and store event the row is about.
    fn store_ctx(&mut self, t: Ms, mbx: usize, class: &str, client: &str) -> String {
        self.store_event += self.rng.random_range(1..5);
        let m = &self.world.mailboxes[mbx];
        let mut c = String::with_capacity(280);
        let _ = write!(
            c,
            "MDB:{}, Mailbox:{}, Event:{}, MessageClass:{class}, CreationTime:",
            self.world.servers[m.server].mdbs[m.mdb],
            m.guid,
            self.store_event
        );
        push_time(&mut c, t);
        let _ = write!(c, ", ClientType:{client}");
        c
    }

    fn store_custom(&self, mbx: usize) -> String {
        let m = &self.world.mailboxes[mbx];
        format!(
            "S:MailboxDatabaseGuid={};S:ItemEntryId=00-00-00-00-{};{CUSTOM_DATA}",
            self.world.servers[m.server].mdbs[m.mdb],
            &m.guid[..8]
        )
    }

    // ---- SMTP sessions -------------------------------------------------------------------

    fn proto(&mut self, t: Ms, slot: usize, ev: &str, data: &str, ctx: &str) {
        let sess = &mut self.slots[slot];
        let seq = sess.seq;
        sess.seq += 1;
        if !self.protocol_logs {
            return;
        }
        let sess = &self.slots[slot];
        let mut line = String::with_capacity(140 + data.len() + ctx.len());
        push_time(&mut line, t);
        line.push(',');
        push_field(&mut line, &sess.connector);
        let _ = write!(line, ",{:016X},{seq},{},{},{ev},", sess.id, sess.local, sess.remote);
        push_field(&mut line, data);
        line.push(',');
        push_field(&mut line, ctx);
        let (server, kind) = (sess.server, sess.side.kind());
        self.stats.protocol_lines += 1;
        self.out.push(t, server, kind, line);
    }

    fn peer_addr(&self, peer: Peer) -> (Rc<str>, Rc<str>) {
        match peer {
            Peer::Firewall => (FW_IP.into(), FW_HOST.into()),
            Peer::App => (APP_IP.into(), APP_HOST.into()),
            Peer::Bulk => (BULK_IP.into(), BULK_HOST.into()),
            Peer::Unexpected => (UNEXPECTED_IP.into(), UNEXPECTED_HELO.into()),
            Peer::Server(d) => (
                self.world.servers[d].ip.clone(),
                self.world.servers[d].host.clone(),
            ),
        }
    }

    fn session_alloc(&mut self, t: Ms, s: usize, side: Side, peer: Peer) -> usize {
        let id = {
            let c = &mut self.session_ids[s * 3 + side as usize];
            *c += 1;
            *c
        };
        let eph: u16 = self.rng.random_range(49_152..65_535);
        let (pip, _) = self.peer_addr(peer);
        let srv = &self.world.servers[s];
        let (local, remote) = match side {
            Side::Recv => (format!("{}:25", srv.ip), format!("{pip}:{eph}")),
            Side::HubRecv => (format!("{}:2525", srv.ip), format!("{pip}:{eph}")),
            Side::Send => {
                let port = if matches!(peer, Peer::Server(_)) { 2525 } else { 25 };
                (format!("{}:{eph}", srv.ip), format!("{pip}:{port}"))
            }
        };
        let connector = match (side, peer) {
            (Side::Recv, Peer::App | Peer::Bulk) => srv.relay_connector.clone(),
            (Side::Recv, _) => srv.frontend_connector.clone(),
            (Side::HubRecv, _) => srv.hub_connector.clone(),
            (Side::Send, Peer::Server(_)) => self.send_intra.clone(),
            (Side::Send, _) => self.send_fw.clone(),
        };
        let sess = Session {
            id,
            server: s,
            side,
            peer,
            seq: 0,
            msgs: 1,
            start: t,
            busy_until: Ms::MAX,
            local,
            remote,
            connector,
            live: true,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i] = sess;
                i
            }
            None => {
                self.slots.push(sess);
                self.slots.len() - 1
            }
        };
        self.open.entry((s, side, peer)).or_default().push(slot);
        slot
    }

    /// A connection for one message: an idle open one to the same peer, or a new one with its
    /// greeting. Returns the slot, when the greeting is done and the message's index within
    /// the session.
    fn session_begin(&mut self, t: Ms, s: usize, side: Side, peer: Peer) -> (usize, Ms, u32) {
        if reusable(peer) {
            let slots = &self.slots;
            let found = self.open.get(&(s, side, peer)).and_then(|list| {
                list.iter().copied().find(|&i| {
                    let x = &slots[i];
                    x.busy_until <= t && x.msgs < MAX_MSGS_PER_SESSION
                })
            });
            if let Some(i) = found {
                let x = &mut self.slots[i];
                let n = x.msgs;
                x.msgs += 1;
                x.busy_until = Ms::MAX;
                return (i, t, n);
            }
        }
        let slot = self.session_alloc(t, s, side, peer);
        let id = self.slots[slot].id;
        let (pip, phost) = self.peer_addr(peer);
        let host = self.world.servers[s].host.clone();
        let ip = self.world.servers[s].ip.clone();
        let mut tt = t;
        self.proto(tt, slot, "+", "", "");
        match side {
            Side::Recv | Side::HubRecv => {
                let banner = format!(
                    "220 {host} Microsoft ESMTP MAIL Service ready at {}",
                    banner_time(tt)
                );
                self.proto(tt, slot, ">", &banner, "");
                tt += self.lat(1, 40);
                self.proto(tt, slot, "<", &format!("EHLO {phost}"), "");
                let caps = format!("250  {host} Hello [{pip}] {EHLO_CAPS}");
                self.proto(tt, slot, ">", &caps, "");
                if peer == Peer::Firewall {
                    tt += self.lat(1, 10);
                    self.proto(tt, slot, "<", "STARTTLS", "");
                    self.proto(tt, slot, ">", "220 2.0.0 SMTP server ready", "");
                    tt += self.lat(5, 30);
                    self.proto(tt, slot, "*", "", TLS_INFO);
                    self.proto(tt, slot, "<", &format!("EHLO {phost}"), "");
                    let caps = format!("250  {host} Hello [{pip}] {EHLO_CAPS_TLS}");
                    self.proto(tt, slot, ">", &caps, "");
                }
                if matches!(peer, Peer::Server(_)) {
                    self.proto(
                        tt,
                        slot,
                        "*",
                        "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders",
                        "Set Session Permissions",
                    );
                }
            }
            Side::Send => {
                let greeting = match peer {
                    Peer::Server(_) => format!(
                        "220 {phost} Microsoft ESMTP MAIL Service ready at {}",
                        banner_time(tt)
                    ),
                    _ => format!("220 {phost} ESMTP"),
                };
                tt += self.lat(1, 8);
                self.proto(tt, slot, "<", &greeting, "");
                self.proto(tt, slot, ">", &format!("EHLO {host}"), "");
                tt += self.lat(1, 5);
                let caps = match peer {
                    Peer::Server(_) => format!("250  {phost} Hello [{ip}] {EHLO_CAPS}"),
                    _ => format!(
                        "250-{phost} PIPELINING SIZE 52428800 ETRN ENHANCEDSTATUSCODES 8BITMIME DSN CHUNKING"
                    ),
                };
                self.proto(tt, slot, "<", &caps, "");
            }
        }
        if reusable(peer) {
            self.schedule(t + IDLE_MS, Action::CloseSession { slot, id });
        }
        (slot, tt + self.lat(0, 3), 0)
    }

    fn session_done(&mut self, slot: usize, t: Ms) {
        let x = &mut self.slots[slot];
        x.busy_until = t;
        if !reusable(x.peer) || x.msgs >= MAX_MSGS_PER_SESSION {
            let tc = t + self.lat(1, 6);
            self.session_close(slot, tc);
        }
    }

    fn session_close(&mut self, slot: usize, t: Ms) {
        let side = self.slots[slot].side;
        let (quit, bye) = match side {
            Side::Send => (">", "<"),
            _ => ("<", ">"),
        };
        self.proto(t, slot, quit, "QUIT", "");
        self.proto(t, slot, bye, "221 2.0.0 Service closing transmission channel", "");
        self.proto(t, slot, "-", "", "Local");
        let x = &mut self.slots[slot];
        x.live = false;
        let key = (x.server, x.side, x.peer);
        if let Some(list) = self.open.get_mut(&key) {
            list.retain(|&i| i != slot);
        }
        self.free.push(slot);
    }

    pub(super) fn close_session_if_idle(&mut self, t: Ms, slot: usize, id: u64) {
        let Some(x) = self.slots.get(slot) else {
            return;
        };
        if !x.live || x.id != id {
            return;
        }
        let due = if x.busy_until == Ms::MAX {
            t + IDLE_MS
        } else {
            x.busy_until + IDLE_MS
        };
        if due > t {
            self.schedule(due, Action::CloseSession { slot, id });
        } else {
            self.session_close(slot, t);
        }
    }

    /// The server side of one SMTP transaction plus its RECEIVE row. Returns the new internal
    /// id, when the message was queued, and the `250 2.6.0` response.
    fn receive_smtp(
        &mut self,
        t: Ms,
        f: usize,
        peer: Peer,
        side: Side,
        msg: &MsgRef,
        rcpts: &[Addr],
    ) -> (u64, Ms, String) {
        let (slot, mut tt, n) = self.session_begin(t, f, side, peer);
        let iid = self.next_iid(f, TRANSPORT);
        let rp = if &*msg.return_path == "<>" { "" } else { &msg.return_path };
        self.proto(tt, slot, "<", &format!("MAIL FROM:<{rp}> SIZE={}", msg.bytes), "");
        self.proto(tt, slot, ">", "250 2.1.0 Sender OK", "");
        for r in rcpts {
            tt += self.lat(0, 2);
            self.proto(tt, slot, "<", &format!("RCPT TO:<{r}>"), "");
            self.proto(tt, slot, ">", STATUS_OK, "");
        }
        tt += self.lat(1, 4);
        if matches!(peer, Peer::Server(_)) {
            self.proto(tt, slot, "<", &format!("BDAT {} LAST", msg.bytes), "");
        } else {
            self.proto(tt, slot, "<", "DATA", "");
            self.proto(tt, slot, ">", "354 Start mail input; end with <CRLF>.<CRLF>", "");
        }
        tt += self.lat(3, 25) + (msg.bytes / 200_000) as Ms;
        let host = self.world.servers[f].host.clone();
        let queued = format!(
            "250 2.6.0 {} [InternalId={iid}, Hostname={host}] Queued mail for delivery",
            bracketed(&msg.id)
        );
        self.proto(tt, slot, ">", &queued, "");
        let (sid, start, connector) = {
            let x = &self.slots[slot];
            (x.id, x.start, x.connector.clone())
        };
        self.session_done(slot, tt);

        let (pip, phost) = self.peer_addr(peer);
        let ip = self.world.servers[f].ip.clone();
        let name = self.world.servers[f].name.clone();
        let ctx = format!("{sid:016X};{};{n}", fmt_time(start));
        let client_host: &str = match peer {
            Peer::Unexpected => "",
            _ => &phost,
        };
        self.emit(
            tt,
            f,
            LogKind::Trk,
            msg,
            &Row {
                client_ip: &pip,
                client_host,
                server_ip: &ip,
                server_host: &name,
                ctx: &ctx,
                connector: &connector,
                source: "SMTP",
                event: "RECEIVE",
                iid,
                rcpts,
                custom: CUSTOM_DATA,
                traffic: "Email",
                ..Row::default()
            },
        );
        if peer == Peer::Unexpected {
            self.stats.unexpected_msgs += 1;
            self.stats.unexpected_first.get_or_insert(tt);
        }
        (iid, tt, queued)
    }

    /// A short failed connection attempt, logged at most once a minute per server.
    fn connect_failure(&mut self, t: Ms, s: usize) {
        if t - self.last_connect_failure[s] < 60_000 {
            return;
        }
        self.last_connect_failure[s] = t;
        let slot = self.session_alloc(t, s, Side::Send, Peer::Firewall);
        self.slots[slot].busy_until = t;
        self.proto(t, slot, "+", "", "");
        let t1 = t + self.lat(200, 2_000);
        self.proto(
            t1,
            slot,
            "<",
            "421 4.4.2 fw.corp.example Service not available, closing transmission channel",
            "",
        );
        self.proto(t1, slot, "-", "", "Remote");
        let x = &mut self.slots[slot];
        x.live = false;
        if let Some(list) = self.open.get_mut(&(s, Side::Send, Peer::Firewall)) {
            list.retain(|&i| i != slot);
        }
        self.free.push(slot);
    }

    // ---- flows ---------------------------------------------------------------------------

    /// The rows of a mailbox submitting `msg`: NOTIFYMAPI and SUBMIT by Mailbox Transport
    /// Submission, RECEIVE by transport. Returns the server, transport id and time.
    pub(super) fn submit_rows(&mut self, t: Ms, msg: &MsgRef, mbx: usize, rcpts: &[Addr]) -> (usize, u64, Ms) {
        let s = self.world.mailboxes[mbx].server;
        let client = match self.rng.random_range(0..10) {
            0..=6 => "MOMT",
            7 | 8 => "OWA",
            _ => "AirSync",
        };
        let client = format!(
            "{client}, SubmissionAssistant:MailboxTransportSubmissionEmailAssistant"
        );
        let ctx = self.store_ctx(msg.origin, mbx, msg.class, &client);
        let ip = self.world.servers[s].ip.clone();
        let host = self.world.servers[s].host.clone();
        let name = self.world.servers[s].name.clone();
        let ws = self.world.mailboxes[mbx].workstation.clone();
        let custom = self.store_custom(mbx);
        let mut sub = String::with_capacity(80);
        push_time(&mut sub, msg.origin);
        let _ = write!(sub, ";LSRV={host}:TOTAL-SUB=");
        let sub_lat = self.lat(40, 400);
        push_secs(&mut sub, sub_lat);
        let _ = write!(sub, "|SA=");
        push_secs(&mut sub, sub_lat);
        let notify_info = format!("{sub}|MTSS-PEN=0.000");
        let submit_info = sub.replacen(";LSRV=", ";SRV=", 1);
        let item = format!("S:ItemEntryId=00-00-00-00-{}", &self.world.mailboxes[mbx].guid[..8]);

        self.emit(
            t,
            s,
            LogKind::TrkMs,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &name,
                ctx: &ctx,
                source: "STOREDRIVER",
                event: "NOTIFYMAPI",
                info: &notify_info,
                custom: &item,
                bare: true,
                ..Row::default()
            },
        );
        let t1 = t + self.lat(40, 200);
        let ms_iid = self.next_iid(s, SUBMISSION);
        self.emit(
            t1,
            s,
            LogKind::TrkMs,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &host,
                server_ip: &ip,
                server_host: &name,
                ctx: &ctx,
                source: "STOREDRIVER",
                event: "SUBMIT",
                iid: ms_iid,
                rcpts,
                info: &submit_info,
                custom: &custom,
                traffic: "Email",
                ..Row::default()
            },
        );
        let t2 = t1 + self.lat(20, 150);
        let iid = self.next_iid(s, TRANSPORT);
        self.emit(
            t2,
            s,
            LogKind::Trk,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &host,
                server_ip: &ip,
                server_host: &name,
                ctx: &ctx,
                source: "STOREDRIVER",
                event: "RECEIVE",
                iid,
                rcpts,
                status: "To",
                info: "04I: ",
                orig_client: &ws,
                orig_server: &ip,
                custom: &custom,
                traffic: "Email",
                ..Row::default()
            },
        );
        (s, iid, t2)
    }

    pub(super) fn submit(&mut self, t: Ms, msg: &MsgRef, mbx: usize, rcpts: &[Addr]) {
        let (s, iid, t2) = self.submit_rows(t, msg, mbx, rcpts);
        let tr = t2 + self.lat(5, 60);
        self.route(tr, s, msg, iid, rcpts, Via::Mailbox);
    }

    /// Categorises `msg`'s recipients on server `s` and sends each group on its way.
    pub(super) fn route(&mut self, t: Ms, s: usize, msg: &MsgRef, iid: u64, rcpts: &[Addr], via: Via) {
        let n = self.world.servers.len();
        let mut local = Vec::new();
        let mut remote: Vec<Vec<Addr>> = vec![Vec::new(); n];
        let mut out = Vec::new();
        let mut tf = t;
        for r in rcpts {
            match self.world.classify(r) {
                Dest::Mailbox(m) => {
                    let home = self.world.mailboxes[m].server;
                    if home == s {
                        local.push(r.clone());
                    } else {
                        remote[home].push(r.clone());
                    }
                }
                // From outside, the resolver knows nobody has the address. From inside, the
                // accepted domain is an internal relay, so unknown names are handed to the
                // firewall (the MX): that is what lets the incident's notices go round.
                Dest::Unknown if via == Via::Internet => {
                    tf += self.lat(2, 30);
                    let f = Failure {
                        status: STATUS_NOT_FOUND.into(),
                        source: "ROUTING",
                        kind: LogKind::Trk,
                    };
                    self.fail(tf, s, msg, iid, r, f);
                }
                Dest::Restricted => {
                    tf += self.lat(2, 30);
                    let f = Failure {
                        status: STATUS_AUTH.into(),
                        source: "ROUTING",
                        kind: LogKind::Trk,
                    };
                    self.fail(tf, s, msg, iid, r, f);
                }
                Dest::Unknown | Dest::External => out.push(r.clone()),
            }
        }
        if !local.is_empty() {
            let td = t + self.lat(30, 250);
            self.deliver(td, s, msg, iid, &local, 0);
        }
        for (d, group) in remote.iter().enumerate() {
            if !group.is_empty() {
                let th = t + self.lat(15, 150);
                self.hop(th, s, d, msg, iid, group);
            }
        }
        if !out.is_empty() {
            match self.plan.cross_hub {
                Some(hub) if hub != s => {
                    let th = t + self.lat(15, 150);
                    self.hop(th, s, hub, msg, iid, &out);
                }
                hub => {
                    if hub.is_some() && matches!(via, Via::Server(_)) && self.stats.cross_id.is_none() {
                        self.stats.cross_id = Some(msg.id.clone());
                    }
                    let ts = t + self.lat(20, 200);
                    self.send_out(ts, s, msg, iid, &out, 0);
                }
            }
        }
    }

    fn mailbox_full(&self, r: &str, t: Ms) -> bool {
        self.plan.incident.is_some_and(|i| t >= i.onset) && r == &*self.world.ops_addr
    }

    /// Delivery into mailboxes on `s` (Mailbox Transport Delivery).
    pub(super) fn deliver(&mut self, t: Ms, s: usize, msg: &MsgRef, iid: u64, rcpts: &[Addr], attempt: u32) {
        let mut ok: Vec<Addr> = Vec::with_capacity(rcpts.len());
        let mut tt = t;
        for r in rcpts {
            if self.mailbox_full(r, tt) {
                self.quota(tt, s, msg, iid, r.clone(), attempt);
                tt += self.lat(1, 20);
            } else {
                ok.push(r.clone());
            }
        }
        let Some(mbx) = ok.first().and_then(|r| self.world.mailbox_of(r)) else {
            return;
        };
        let ctx = self.store_ctx(tt, mbx, msg.class, "StoreDriver");
        let custom = self.store_custom(mbx);
        let md_iid = self.next_iid(s, DELIVERY);
        let info = self.latency_info(s, msg, tt);
        let ip = self.world.servers[s].ip.clone();
        let host = self.world.servers[s].host.clone();
        let name = self.world.servers[s].name.clone();
        self.emit(
            tt,
            s,
            LogKind::TrkMd,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &host,
                server_ip: &ip,
                server_host: &name,
                ctx: &ctx,
                source: "STOREDRIVER",
                event: "DELIVER",
                iid: md_iid,
                rcpts: &ok,
                status: STATUS_OK,
                info: &info,
                custom: &custom,
                traffic: "Email",
                ..Row::default()
            },
        );
        for r in &ok {
            self.on_delivered(tt, s, msg, r);
        }
    }

    /// The full mailbox: the first refusal is always a 5.2.2 (the truth's onset); later the
    /// app's originals are sometimes deferred (4.2.2) and retried, and each first deferral
    /// sends an "inbox is full" notice back to the sender.
    fn quota(&mut self, t: Ms, s: usize, msg: &MsgRef, iid: u64, rcpt: Addr, attempt: u32) {
        let first = self.stats.loop_onset.is_none();
        let original = msg.gen == Some(0);
        let p_defer = if attempt == 0 { 0.3 } else { 0.55 };
        if !first && original && attempt < 3 && self.chance(p_defer) {
            let ops = self.world.ops;
            let ctx = self.store_ctx(t, ops, msg.class, "StoreDriver");
            let md_iid = self.next_iid(s, DELIVERY);
            let info = self.latency_info(s, msg, t);
            let ip = self.world.servers[s].ip.clone();
            let name = self.world.servers[s].name.clone();
            self.emit(
                t,
                s,
                LogKind::TrkMd,
                msg,
                &Row {
                    client_ip: &ip,
                    server_ip: &ip,
                    server_host: &name,
                    ctx: &ctx,
                    source: "STOREDRIVER",
                    event: "DEFER",
                    iid: md_iid,
                    rcpts: std::slice::from_ref(&rcpt),
                    status: STATUS_QUOTA_DEFER,
                    info: &info,
                    custom: CUSTOM_DATA,
                    traffic: "Email",
                    ..Row::default()
                },
            );
            if attempt == 0 {
                if !msg.fed_loop.replace(true) {
                    self.stats.originals_feeding += 1;
                }
                let tn = t + self.lat(200, 1_500);
                let notice = Msg {
                    id: self.new_id(DOMAIN),
                    nmid: self.nmid(),
                    sender: self.world.ops_addr.clone(),
                    return_path: self.world.null.clone(),
                    subject: "Your mailbox is full".to_string(),
                    bytes: self.rng.random_range(3_000..5_000),
                    origin: tn,
                    comp: msg.comp,
                    gen: Some(1),
                    incoming: false,
                    class: "IPM.Note.Rules.ReplyTemplate.Microsoft",
                    fed_loop: Cell::new(false),
                };
                let notice = self.msg(notice);
                self.mailbox_rule(tn, ops, &notice, msg.sender.clone());
            }
            let retry = t + self.lat(5 * 60_000, 15 * 60_000);
            self.schedule(
                retry,
                Action::RetryDeliver {
                    msg: msg.clone(),
                    server: s,
                    iid,
                    rcpt,
                    attempt: attempt + 1,
                },
            );
            return;
        }
        let f = if original && attempt >= 1 && self.chance(0.25) {
            Failure {
                status: STATUS_EXPIRED.into(),
                source: "QUEUE",
                kind: LogKind::Trk,
            }
        } else {
            Failure {
                status: STATUS_QUOTA.into(),
                source: "STOREDRIVER",
                kind: LogKind::TrkMd,
            }
        };
        if first {
            self.stats.loop_onset = Some(t);
        }
        self.fail(t, s, msg, iid, &rcpt, f);
    }

    /// A FAIL row and, where Exchange would (or, inside the loop, wrongly does), the DSN.
    fn fail(&mut self, t: Ms, s: usize, msg: &MsgRef, iid: u64, rcpt: &Addr, f: Failure) {
        let mut f = f;
        let mut ndr_to: Option<Addr> = None;
        match msg.gen {
            Some(g) if g >= 1 => {
                if g >= LOOP_HOP_CAP {
                    f = Failure {
                        status: STATUS_HOPS.into(),
                        source: "ROUTING",
                        kind: LogKind::Trk,
                    };
                } else {
                    let p = self.plan.p_continue(t);
                    if self.chance(p) {
                        // A notification about a notification, against RFC 5321: it goes to the
                        // other end of the loop.
                        ndr_to = Some(if **rcpt == *self.world.ops_addr {
                            self.world.healthcheck.clone()
                        } else {
                            self.world.ops_addr.clone()
                        });
                    }
                }
            }
            _ => {
                if &*msg.return_path != "<>" {
                    ndr_to = Some(msg.return_path.clone());
                }
            }
        }
        let ip = self.world.servers[s].ip.clone();
        let name = self.world.servers[s].name.clone();
        let info = self.latency_info(s, msg, t);
        let (row_iid, ctx, connector) = match (f.kind, f.source) {
            (LogKind::TrkMd, _) => {
                let mbx = self.world.mailbox_of(rcpt).unwrap_or(self.world.ops);
                let ctx = self.store_ctx(t, mbx, msg.class, "StoreDriver");
                (self.next_iid(s, DELIVERY), ctx, self.send_intra.clone())
            }
            (_, "SMTP") => (iid, String::new(), self.send_fw.clone()),
            _ => (iid, String::new(), Rc::from("")),
        };
        let (server_ip, server_host): (Rc<str>, Rc<str>) = if f.source == "SMTP" {
            (FW_IP.into(), FW_HOST.into())
        } else {
            (ip.clone(), name.as_str().into())
        };
        self.emit(
            t,
            s,
            f.kind,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &name,
                server_ip: &server_ip,
                server_host: &server_host,
                ctx: &ctx,
                connector: if f.kind == LogKind::TrkMd { "" } else { &connector },
                source: f.source,
                event: "FAIL",
                iid: row_iid,
                rcpts: std::slice::from_ref(rcpt),
                status: &f.status,
                info: &info,
                custom: CUSTOM_DATA,
                traffic: "Email",
                ..Row::default()
            },
        );
        if let Some(to) = ndr_to {
            let td = t + self.lat(3, 60);
            self.dsn(td, s, msg, rcpt, to);
        }
    }

    /// The DSN row that creates an NDR, then the NDR's own journey.
    fn dsn(&mut self, t: Ms, s: usize, orig: &MsgRef, failed: &Addr, to: Addr) {
        if orig.gen == Some(0) && !orig.fed_loop.replace(true) {
            self.stats.originals_feeding += 1;
        }
        let ndr = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: self.world.ndr_sender.clone(),
            return_path: self.world.null.clone(),
            subject: format!("Undeliverable: {}", orig.subject),
            bytes: 6_000 + orig.bytes.min(40_000),
            origin: t,
            comp: orig.comp,
            gen: orig.gen.map(|g| g + 1),
            incoming: false,
            class: "REPORT.IPM.Note.NDR",
            fed_loop: Cell::new(false),
        };
        let ndr = self.msg(ndr);
        let iid = self.next_iid(s, TRANSPORT);
        let ip = self.world.servers[s].ip.clone();
        let name = self.world.servers[s].name.clone();
        self.emit(
            t,
            s,
            LogKind::Trk,
            &ndr,
            &Row {
                server_ip: &ip,
                server_host: &name,
                source: "DSN",
                event: "DSN",
                iid,
                rcpts: std::slice::from_ref(&to),
                related: failed,
                reference: &orig.id,
                custom: CUSTOM_DATA,
                traffic: "Email",
                ..Row::default()
            },
        );
        let tr = t + self.lat(5, 40);
        self.route(tr, s, &ndr, iid, &[to], Via::Generated);
    }

    /// A message generated by a mailbox's rules (auto-reply, "mailbox full" notice).
    pub(super) fn mailbox_rule(&mut self, t: Ms, mbx: usize, msg: &MsgRef, to: Addr) {
        let s = self.world.mailboxes[mbx].server;
        let ctx = self.store_ctx(t, mbx, msg.class, "StoreDriver");
        let custom = self.store_custom(mbx);
        let iid = self.next_iid(s, TRANSPORT);
        let ip = self.world.servers[s].ip.clone();
        let host = self.world.servers[s].host.clone();
        let name = self.world.servers[s].name.clone();
        let rcpts = [to];
        self.emit(
            t,
            s,
            LogKind::Trk,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &host,
                server_ip: &ip,
                server_host: &name,
                ctx: &ctx,
                source: "MAILBOXRULE",
                event: "RECEIVE",
                iid,
                rcpts: &rcpts,
                status: "To",
                info: "04I: ",
                custom: &custom,
                traffic: "Email",
                ..Row::default()
            },
        );
        let tr = t + self.lat(5, 60);
        self.route(tr, s, msg, iid, &rcpts, Via::Generated);
    }

    /// Transport to transport: SEND on `s`, RECEIVE on `d`, then `d` routes.
    fn hop(&mut self, t: Ms, s: usize, d: usize, msg: &MsgRef, iid: u64, rcpts: &[Addr]) {
        let (cs, t1, _) = self.session_begin(t, s, Side::Send, Peer::Server(d));
        let rp = if &*msg.return_path == "<>" { "" } else { &msg.return_path };
        let mut tc = t1;
        self.proto(tc, cs, ">", &format!("MAIL FROM:<{rp}> SIZE={}", msg.bytes), "");
        for r in rcpts {
            self.proto(tc, cs, ">", &format!("RCPT TO:<{r}>"), "");
        }
        tc += 1;
        let (iid_d, t_end, queued) = self.receive_smtp(tc, d, Peer::Server(s), Side::HubRecv, msg, rcpts);
        self.proto(tc, cs, "<", "250 2.1.0 Sender OK", "");
        for _ in rcpts {
            self.proto(tc, cs, "<", STATUS_OK, "");
        }
        self.proto(tc, cs, ">", &format!("BDAT {} LAST", msg.bytes), "");
        self.proto(t_end, cs, "<", &queued, "");
        let sid = self.slots[cs].id;
        self.session_done(cs, t_end);

        let ts = t_end + self.lat(1, 5);
        let ctx = format!("{sid:016X};{queued};ClientSubmitTime:{}", fmt_time(msg.origin));
        let info = self.latency_info(s, msg, ts);
        let (ip, name) = (self.world.servers[s].ip.clone(), self.world.servers[s].name.clone());
        let (dip, dname) = (self.world.servers[d].ip.clone(), self.world.servers[d].name.clone());
        let connector = self.send_intra.clone();
        self.emit(
            ts,
            s,
            LogKind::Trk,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &name,
                server_ip: &dip,
                server_host: &dname,
                ctx: &ctx,
                connector: &connector,
                source: "SMTP",
                event: "SEND",
                iid,
                rcpts,
                status: STATUS_OK,
                info: &info,
                custom: CUSTOM_DATA,
                traffic: "Email",
                ..Row::default()
            },
        );
        let tr = t_end + self.lat(5, 60);
        self.route(tr, d, msg, iid_d, rcpts, Via::Server(s));
    }

    /// Out through the firewall. The firewall checks recipients, so typos fail here.
    pub(super) fn send_out(&mut self, t: Ms, s: usize, msg: &MsgRef, iid: u64, rcpts: &[Addr], attempt: u32) {
        if let Some(q) = self.plan.queue {
            if s == q.server && t >= q.start && t < q.end && !self.chance(q.pass) {
                self.connect_failure(t, s);
                let info = self.latency_info(s, msg, t);
                let (ip, name) = (self.world.servers[s].ip.clone(), self.world.servers[s].name.clone());
                let connector = self.send_fw.clone();
                self.emit(
                    t,
                    s,
                    LogKind::Trk,
                    msg,
                    &Row {
                        client_ip: &ip,
                        client_host: &name,
                        server_ip: FW_IP,
                        server_host: FW_HOST,
                        connector: &connector,
                        source: "SMTP",
                        event: "DEFER",
                        iid,
                        rcpts,
                        status: STATUS_DEFER_CONNECT,
                        info: &info,
                        custom: CUSTOM_DATA,
                        traffic: "Email",
                        ..Row::default()
                    },
                );
                let retry = t + self.lat(4 * 60_000, 6 * 60_000);
                self.schedule(
                    retry,
                    Action::RetrySend {
                        msg: msg.clone(),
                        server: s,
                        iid,
                        rcpts: rcpts.to_vec(),
                        attempt: attempt + 1,
                    },
                );
                return;
            }
        }
        let (good, bad): (Vec<Addr>, Vec<Addr>) = rcpts
            .iter()
            .cloned()
            .partition(|r| !self.world.bad_external.contains(r));
        let (slot, mut tt, _) = self.session_begin(t, s, Side::Send, Peer::Firewall);
        let rp = if &*msg.return_path == "<>" { "" } else { &msg.return_path };
        self.proto(tt, slot, ">", &format!("MAIL FROM:<{rp}> SIZE={}", msg.bytes), "");
        for r in rcpts {
            self.proto(tt, slot, ">", &format!("RCPT TO:<{r}>"), "");
        }
        tt += self.lat(2, 30);
        self.proto(tt, slot, "<", "250 2.1.0 Ok", "");
        for r in rcpts {
            if good.contains(r) {
                self.proto(tt, slot, "<", "250 2.1.5 Ok", "");
            } else {
                let reply = format!("550 5.1.1 <{r}>: Recipient address rejected: User unknown");
                self.proto(tt, slot, "<", &reply, "");
            }
        }
        let mut queued = String::new();
        if good.is_empty() {
            self.proto(tt, slot, ">", "RSET", "");
            self.proto(tt, slot, "<", "250 2.0.0 Ok", "");
        } else {
            self.proto(tt, slot, ">", &format!("BDAT {} LAST", msg.bytes), "");
            tt += self.lat(5, 40) + (msg.bytes / 150_000) as Ms;
            let qid: u64 = self.rng.random::<u64>() >> 24;
            queued = format!("250 2.0.0 Ok: queued as {qid:010X}");
            self.proto(tt, slot, "<", &queued, "");
        }
        let sid = self.slots[slot].id;
        self.session_done(slot, tt);
        let ts = tt + self.lat(1, 5);
        let (ip, name) = (self.world.servers[s].ip.clone(), self.world.servers[s].name.clone());
        if !good.is_empty() {
            let ctx = format!("{sid:016X};{queued};ClientSubmitTime:{}", fmt_time(msg.origin));
            let info = self.latency_info(s, msg, ts);
            let connector = self.send_fw.clone();
            // Relayed traffic leaving through the hub shows Exchange's undocumented
            // SENDEXTERNAL now and then, as in real bundles.
            let event = if self.plan.cross_hub == Some(s) && msg.comp == super::engine::Comp::CrossServer && self.chance(0.2) {
                "SENDEXTERNAL"
            } else {
                "SEND"
            };
            self.emit(
                ts,
                s,
                LogKind::Trk,
                msg,
                &Row {
                    client_ip: &ip,
                    client_host: &name,
                    server_ip: FW_IP,
                    server_host: FW_HOST,
                    ctx: &ctx,
                    connector: &connector,
                    source: "SMTP",
                    event,
                    iid,
                    rcpts: &good,
                    status: STATUS_OK,
                    info: &info,
                    custom: CUSTOM_DATA,
                    traffic: "Email",
                    ..Row::default()
                },
            );
        }
        for r in &bad {
            let tf = ts + self.lat(1, 10);
            let f = Failure {
                status: format!("550 5.1.1 <{r}>: Recipient address rejected: User unknown").into(),
                source: "SMTP",
                kind: LogKind::Trk,
            };
            self.fail(tf, s, msg, iid, r, f);
        }
        if !good.is_empty() {
            self.on_sent_out(ts, msg, &good);
        }
    }

    /// The outside world answers some mail: the firewall hands the loop's notices straight
    /// back (it is the domain's MX), the autoresponder replies.
    fn on_sent_out(&mut self, t: Ms, msg: &MsgRef, good: &[Addr]) {
        if self.plan.incident.is_some() && good.iter().any(|r| *r == self.world.healthcheck) {
            let back = Rc::new(Msg {
                id: msg.id.clone(),
                nmid: self.nmid(),
                sender: msg.sender.clone(),
                return_path: msg.return_path.clone(),
                subject: msg.subject.clone(),
                bytes: msg.bytes + 1_200,
                origin: msg.origin,
                comp: msg.comp,
                gen: msg.gen,
                incoming: true,
                class: msg.class,
                fed_loop: Cell::new(true),
            });
            let ta = t + self.lat(1_500, 4_000);
            let rcpts = vec![self.world.healthcheck.clone()];
            self.schedule(ta, Action::FromInternet { msg: back, rcpts });
        }
        if msg.comp == Comp::Pingpong && good.iter().any(|r| *r == self.world.autoresponder) {
            if let Some((_, rounds)) = self.plan.pingpong {
                if self.stats.pingpong_rounds < rounds {
                    let ta = t + self.lat(20_000, 60_000);
                    self.schedule(ta, Action::PingpongExternal);
                }
            }
        }
    }

    /// Mail from the internet, handed in by the firewall to one of the frontends.
    pub(super) fn from_internet(&mut self, t: Ms, msg: &MsgRef, rcpts: &[Addr]) {
        let f = self.random_server();
        self.receive_from(t, f, Peer::Firewall, msg, rcpts);
    }

    /// An SMTP client (firewall, app, stranger) hands `msg` to frontend `f`.
    pub(super) fn receive_from(&mut self, t: Ms, f: usize, peer: Peer, msg: &MsgRef, rcpts: &[Addr]) {
        let (iid, t_end, _) = self.receive_smtp(t, f, peer, Side::Recv, msg, rcpts);
        let via = match peer {
            Peer::App | Peer::Bulk => Via::App,
            _ => Via::Internet,
        };
        let tr = t_end + self.lat(5, 60);
        self.route(tr, f, msg, iid, rcpts, via);
    }
}

fn push_repeated(out: &mut String, status: &str, n: usize) {
    if status.is_empty() || n == 0 {
        return;
    }
    let quote = status.bytes().any(|b| b == b',' || b == b'"');
    if quote {
        out.push('"');
    }
    for i in 0..n {
        if i > 0 {
            out.push(';');
        }
        if quote {
            out.push_str(&status.replace('"', "\"\""));
        } else {
            out.push_str(status);
        }
    }
    if quote {
        out.push('"');
    }
}
