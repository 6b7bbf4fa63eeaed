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
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::out::{parts, push_field, push_secs, push_time, LogKind, Ms, Output, EXCHANGE_BUILD};
use super::plan::Plan;
use super::world::{
    guid, Addr, World, CUSTOM_DATA, FLOOD_RECIPIENT, HELPDESK, SEND_INTRA, SEND_TO_FW,
};

mod flood;
mod flows;
mod latency;
mod noise;
mod plant;
mod responder;
mod smtp;
mod talk;

#[cfg(test)]
pub(super) use plant::{FORGED_DOMAINS, LIMITS};
#[cfg(test)]
pub(super) use responder::MARKERS;
#[cfg(test)]
pub(super) use talk::TOPICS as TALK_TOPICS;

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
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(super) enum Comp {
    #[default]
    Background,
    Incident,
    Newsletter,
    Pingpong,
    UnexpectedIp,
    QueueGrowth,
    CrossServer,
    Flood,
    Responder,
    Conversation,
    Noise,
    Planted,
}

const COMPS: usize = 12;

impl Comp {
    pub(super) const ALL: [Comp; COMPS] = [
        Comp::Background,
        Comp::Incident,
        Comp::Newsletter,
        Comp::Pingpong,
        Comp::UnexpectedIp,
        Comp::QueueGrowth,
        Comp::CrossServer,
        Comp::Flood,
        Comp::Responder,
        Comp::Conversation,
        Comp::Noise,
        Comp::Planted,
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
            Comp::Flood => "flood",
            Comp::Responder => "responder",
            Comp::Conversation => "conversation",
            Comp::Noise => "noise",
            Comp::Planted => "planted",
        }
    }
}

/// A message's part within its component, for the truth counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(super) enum Role {
    #[default]
    Plain,
    /// One of the flood application's messages.
    Flood,
    /// Defers: the full mailbox's "inbox full" notice about one alert.
    Notice,
    /// Responder: the outside system's first, ordinary message.
    Starter,
    /// Responder: the help desk's rule answering.
    AutoReply,
    /// Responder: the ticket system answering our auto-reply.
    ExtReply,
    /// A person's message in conversation `thread`, the `idx`-th of it.
    Talk { thread: u32, idx: u32 },
    /// The one out-of-office reply inside the conversations.
    TalkOof,
    /// A Managed Availability probe.
    Probe,
    /// Planted incident `k` (index into the plan's plants): all its rows belong to the
    /// incident and the message counts; its NDRs are `PlantAux`.
    Plant(u8),
    /// All rows belong to incident `k`, the message does not count (NDRs, triggers).
    PlantAux(u8),
    /// Like `PlantAux`, but the NDRs it draws are `Plant` (backscatter).
    PlantBait(u8),
    /// Planted by incident `k`, but only rows tagged with it belong to it.
    PlantQuiet(u8),
}

impl Role {
    /// The role of an NDR about a message of this role.
    pub(super) fn ndr(self) -> Role {
        match self {
            Role::Plant(k) | Role::PlantAux(k) => Role::PlantAux(k),
            Role::PlantBait(k) => Role::Plant(k),
            _ => Role::Plain,
        }
    }
}

#[derive(Default)]
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
    pub(super) role: Role,
    /// A row of this message has been written.
    pub(super) seen: Cell<bool>,
    /// 4.2.2 DEFER rows written for this message.
    pub(super) defers: Cell<u32>,
    /// Defers scenario: how often this alert is to be deferred before it fails.
    pub(super) planned_defers: Cell<u32>,
    /// How far the sender's clock is off: added to the origination time the logs show.
    pub(super) skew: Ms,
    /// A row of this message belonging to a planted incident has been written.
    pub(super) plant_seen: Cell<bool>,
}

impl Msg {
    /// The origination time as logged (the client's clock).
    pub(super) fn shown_origin(&self) -> Ms {
        self.origin + self.skew
    }
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
    Flood,
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

/// Work for later: called with the simulator and the time it was scheduled for.
pub(super) type Job = Box<dyn FnOnce(&mut Sim, Ms)>;

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
    /// Anything the newer generators schedule: called with the simulator and the time.
    Run(Job),
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
    pub(super) source: &'static str,
    pub(super) event: &'static str,
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
    /// This row belongs to planted incident `k` whatever its message's role.
    pub(super) plant: Option<u8>,
}

pub(super) struct Failure {
    status: Cow<'static, str>,
    source: &'static str,
    kind: LogKind,
}

impl Failure {
    fn new(status: impl Into<Cow<'static, str>>, source: &'static str, kind: LogKind) -> Self {
        Self {
            status: status.into(),
            source,
            kind,
        }
    }
}

/// Running totals that become the ground truth.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) rows: u64,
    pub(super) per_event: BTreeMap<&'static str, u64>,
    pub(super) per_log: BTreeMap<&'static str, u64>,
    pub(super) per_server: Vec<u64>,
    pub(super) per_comp: [u64; COMPS],
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
    pub(super) flood_msgs: u64,
    pub(super) flood_first: Option<Ms>,
    pub(super) flood_last: Option<Ms>,
    pub(super) notices: u64,
    pub(super) defer_rows: u64,
    /// Alerts failed 5.2.2 after 0, 1 and 2 (or more) deferrals.
    pub(super) failed_after_defers: [u64; 3],
    pub(super) responder_rounds: u64,
    pub(super) responder_replies: u64,
    pub(super) responder_first: Option<Ms>,
    pub(super) responder_last: Option<Ms>,
    pub(super) talk_threads: u64,
    pub(super) talk_msgs: u64,
    pub(super) talk_oof: u64,
    pub(super) noise_rows: u64,
    pub(super) noise_msgs: u64,
    pub(super) health: BTreeSet<String>,
    pub(super) skew_msgs: u64,
    /// Server name -> latency component -> rows carrying it.
    pub(super) latency: BTreeMap<String, BTreeMap<String, u64>>,
    /// One per planted incident, in the plan's order.
    pub(super) plants: Vec<PlantStat>,
}

/// What one planted incident wrote.
#[derive(Default)]
pub(super) struct PlantStat {
    pub(super) first: Option<Ms>,
    pub(super) last: Option<Ms>,
    pub(super) msgs: u64,
    pub(super) sessions: u64,
    pub(super) recipients: u64,
    pub(super) servers: BTreeSet<usize>,
    pub(super) addresses: BTreeSet<String>,
    pub(super) codes: BTreeSet<String>,
    pub(super) connector: Option<String>,
}

impl PlantStat {
    pub(super) fn saw(&mut self, t: Ms, s: usize) {
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        self.servers.insert(s);
    }

    /// Enhanced status codes of class 4 and 5 in `status`.
    pub(super) fn codes_in(&mut self, status: &str) {
        for w in status.split(|c: char| c.is_whitespace() || c == ';') {
            let mut parts = w.split('.');
            let ok = matches!(parts.next(), Some("4" | "5"))
                && parts.clone().count() == 2
                && parts.all(|p| {
                    !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
                });
            if ok {
                self.codes.insert(w.to_string());
            }
        }
    }
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
    /// Running numbers of the newer generators (subjects, marker rotation).
    flood_seq: u64,
    responder_seq: u64,
    /// The conversation message whose delivery draws the one out-of-office reply.
    talk_oof_trigger: Option<(u32, u32)>,
    /// Health mailboxes per server (`--probes`).
    health: Vec<Vec<usize>>,
    /// The mailbox whose client's clock is off (`--skewed-client`).
    pub(super) skewed_mbx: Option<usize>,
    /// Latency bookkeeping per (server, transport id): when the message entered this
    /// server's hub and the components already spent upstream.
    lat_ctx: HashMap<(usize, u64), LatCtx>,
    lat_order: VecDeque<(Ms, (usize, u64))>,
    /// Throttled auto-reply plant: rule answers left in the current episode.
    throttle_left: u32,
}

struct LatCtx {
    entry: Ms,
    upstream: Rc<str>,
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
    pub(super) fn new(
        seed: u64,
        servers: usize,
        plan: Plan,
        out: Output,
        protocol_logs: bool,
    ) -> Self {
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
            .map(|k| {
                0x08DE_0000_0000_0000u64 + ((k as u64 + 1) << 36) + (rng.random::<u64>() >> 40)
            })
            .collect();
        let log_id_salt = rng.random();
        let mut sim = Self {
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
            flood_seq: 0,
            responder_seq: 0,
            talk_oof_trigger: None,
            health: Vec::new(),
            skewed_mbx: None,
            lat_ctx: HashMap::new(),
            lat_order: VecDeque::new(),
            throttle_left: 0,
        };
        sim.stats.plants = sim
            .plan
            .plants
            .iter()
            .map(|_| PlantStat::default())
            .collect();
        sim.add_scenario_mailboxes();
        sim
    }

    /// Mailboxes only the newer scenarios have, drawn after everything else.
    fn add_scenario_mailboxes(&mut self) {
        if self.plan.flood.is_some() {
            self.world.add_extra(&mut self.rng, FLOOD_RECIPIENT, 1);
        }
        if self.plan.responder.is_some() {
            self.world.add_extra(&mut self.rng, HELPDESK, 0);
        }
        if self.plan.probes {
            self.add_health_mailboxes();
        }
        if self.plan.skew.is_some() {
            loop {
                let m = self.world.users[self.rng.random_range(1..self.world.users.len())];
                if !self.world.oof.contains(&m) {
                    self.skewed_mbx = Some(m);
                    break;
                }
            }
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
        let b: u64 = self.rng.random();
        format!("<{a:016X}{b:016X}@{domain}>")
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
            line.push_str(if msg.incoming {
                "Incoming"
            } else {
                "Originating"
            });
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
        self.observe(t, s, msg, r);
        self.out.push(t, s, kind, line);
    }

    /// Truth counters that need to see each written row.
    fn observe(&mut self, t: Ms, s: usize, msg: &Msg, r: &Row<'_>) {
        if self.plan.latency {
            self.count_latency(r.info);
        }
        let st = &mut self.stats;
        if matches!(r.event, "HAREDIRECT" | "HARECEIVE" | "HADISCARD") || msg.role == Role::Probe {
            st.noise_rows += 1;
        }
        // NOTIFYMAPI rows carry no message id: nobody can tie them to their message.
        if r.bare {
            return;
        }
        let first = !msg.seen.replace(true);
        if first && msg.skew != 0 {
            st.skew_msgs += 1;
        }
        let plant = match (r.plant, msg.role) {
            (Some(k), _) | (None, Role::Plant(k)) => Some((k, true)),
            (None, Role::PlantAux(k) | Role::PlantBait(k)) => Some((k, false)),
            _ => None,
        };
        if let Some((k, counted)) = plant {
            if let Some(p) = st.plants.get_mut(usize::from(k)) {
                p.saw(t, s);
                p.codes_in(r.status);
                if counted && !msg.plant_seen.replace(true) {
                    p.msgs += 1;
                }
            }
        }
        match r.event {
            "DEFER" if r.status.contains(" 4.2.2 ") => {
                st.defer_rows += 1;
                msg.defers.set(msg.defers.get() + 1);
            }
            "FAIL" if msg.gen == Some(0) && r.status.contains(" 5.2.2 ") => {
                st.failed_after_defers[(msg.defers.get() as usize).min(2)] += 1;
            }
            _ => {}
        }
        match msg.role {
            Role::Plain => {}
            Role::Flood if first => {
                st.flood_msgs += 1;
                st.flood_first = Some(st.flood_first.map_or(t, |f| f.min(t)));
                st.flood_last = Some(st.flood_last.map_or(t, |l| l.max(t)));
            }
            Role::Notice if first => {
                // Defers: one notice per failed alert, so each also counts its alert.
                st.notices += 1;
                st.originals_feeding += 1;
            }
            Role::AutoReply | Role::ExtReply => {
                if first {
                    if msg.role == Role::AutoReply {
                        st.responder_rounds += 1;
                        st.responder_first = Some(st.responder_first.map_or(t, |f| f.min(t)));
                    } else {
                        st.responder_replies += 1;
                    }
                }
                st.responder_last = Some(st.responder_last.map_or(t, |l| l.max(t)));
            }
            Role::Talk { idx, .. } if first => {
                st.talk_msgs += 1;
                if idx == 0 {
                    st.talk_threads += 1;
                }
            }
            Role::TalkOof if first => st.talk_oof += 1,
            Role::Probe => {
                if first {
                    st.noise_msgs += 1;
                }
                let named = std::iter::once(&*msg.sender).chain(r.rcpts.iter().map(|a| &**a));
                for a in named {
                    if a.starts_with("HealthMailbox") && !st.health.contains(a) {
                        st.health.insert(a.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    /// `origination;SRV=host:TOTAL-HUB=latency`, the message-info of hub events.
    fn latency_info(&self, s: usize, msg: &Msg, t: Ms) -> String {
        let mut info = String::with_capacity(80);
        push_time(&mut info, msg.shown_origin());
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
            self.world.servers[m.server].mdbs[m.mdb], m.guid, self.store_event
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
