//! Scenario plans (how much of which traffic, when) and the generators that produce it.
//!
//! `events` is a row budget: each component's share of it is turned into an arrival rate with
//! a measured rows-per-message figure, so totals land near the request without the generator
//! having to look at what it has written.

use std::cell::Cell;

use rand::Rng;

use super::engine::{Action, Comp, Msg, MsgRef, Peer, Sim, Via};
use super::out::{Ms, HOUR_MS};
use super::world::{alert_subject, spoofed_sender, subject, Addr, DOMAIN, READER_DOMAINS};
use super::{Markers, PlantKind, Scenario, SimOptions};

pub(super) const MINUTE: Ms = 60_000;

// Rows per unit, measured on generated bundles (see the module tests).
const BG_ROWS_PER_MSG: f64 = 4.42;
const CROSS_BG_ROWS_PER_MSG: f64 = 4.61;
const UNEXPECTED_ROWS_PER_MSG: f64 = 6.25;
const BULK_ROWS_PER_MSG: f64 = 5.0;
const PINGPONG_ROWS_PER_ROUND: f64 = 5.0;
const NEWSLETTER_ROWS: f64 = 195.0;
/// Loop rows per alert differ from the simple model by this measured factor.
const INCIDENT_FUDGE: f64 = 1.31;
/// The defers scenario's alerts cause this many times the incident's rows (measured).
const DEFERS_FACTOR: f64 = 0.81;
const RESPONDER_ROWS_PER_ROUND: f64 = 6.0;
/// Mean time of one responder round (our rule, transport, their answer), in seconds.
const RESPONDER_ROUND_S: f64 = 28.0;
const TALK_ROWS_PER_THREAD: f64 = 17.5;
/// `--probes`: rows per probe (three kinds per server every five minutes) and the shadow
/// redundancy rows each message entering the organisation gains.
const PROBE_ROWS: f64 = 3.6;
pub(super) const PROBE_EVERY: Ms = 5 * MINUTE;
const SHADOW_ROWS_PER_MSG: f64 = 2.0;
const SHADOW_SCALE: f64 = 0.77;
const PLANT_ROWS: f64 = 150.0;

const NEWSLETTER_RCPTS: usize = 3_000;
const NEWSLETTER_SPREAD: Ms = 10 * MINUTE;
/// Share of background messages that go to a mistyped outside address and bounce.
const BOUNCE_SHARE: f64 = 0.01;
const INBOUND_SHARE: f64 = 0.30;
const PINGPONG_TOPIC: &str = "Quarterly numbers, draft 2";

#[derive(Clone, Copy, Debug)]
pub(super) struct IncidentPlan {
    pub(super) app_start: Ms,
    pub(super) onset: Ms,
    /// Alerts per ms at shape 1.
    pub(super) rate: f64,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Window {
    pub(super) start: Ms,
    pub(super) end: Ms,
    pub(super) rate: f64,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct QueuePlan {
    pub(super) server: usize,
    pub(super) start: Ms,
    pub(super) end: Ms,
    /// Share of send attempts that still get through while the firewall link is congested.
    pub(super) pass: f64,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct FloodPlan {
    pub(super) start: Ms,
    pub(super) end: Ms,
    /// Messages per ms.
    pub(super) rate: f64,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct DefersPlan {
    pub(super) notice_refs: bool,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct ResponderPlan {
    pub(super) start: Ms,
    /// The ticket system answers nothing that left us at or after this time.
    pub(super) stop: Ms,
    pub(super) markers: bool,
    /// Which language the first auto-reply uses.
    pub(super) offset: usize,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct TalkPlan {
    pub(super) threads: u32,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct PlantSlot {
    pub(super) kind: PlantKind,
    pub(super) at: Ms,
}

/// Queue expiry: time between two delivery attempts to the dead domain.
pub(super) fn expiry_step(duration: Ms) -> Ms {
    (duration / 36).clamp(3 * MINUTE, 45 * MINUTE)
}

/// Moderation stall: how long a message waits for a moderator before it expires.
pub(super) fn moderation_wait(duration: Ms) -> Ms {
    (duration / 8).clamp(10 * MINUTE, 2 * HOUR_MS)
}

/// About how long a planted incident takes from its start.
fn plant_span(kind: PlantKind, duration: Ms) -> Ms {
    match kind {
        PlantKind::QueueExpiry => 7 * expiry_step(duration) + 20 * MINUTE,
        PlantKind::ModerationStall => moderation_wait(duration) + 20 * MINUTE,
        PlantKind::ThrottledAutoReply => 70 * MINUTE,
        _ => 40 * MINUTE,
    }
}

#[derive(Debug)]
pub(super) struct Plan {
    pub(super) start: Ms,
    pub(super) end: Ms,
    /// Background messages per ms at full working-hours weight.
    pub(super) bg_rate: f64,
    pub(super) outbound_share: f64,
    pub(super) incident: Option<IncidentPlan>,
    pub(super) unexpected: Option<Window>,
    pub(super) bulk: Option<Window>,
    pub(super) queue: Option<QueuePlan>,
    /// Start and number of rounds.
    pub(super) pingpong: Option<(Ms, u64)>,
    pub(super) newsletter: Option<Ms>,
    /// Server through which all other servers send to the internet.
    pub(super) cross_hub: Option<usize>,
    pub(super) flood: Option<FloodPlan>,
    /// The incident with the defers scenario's accounting (`incident` is set too).
    pub(super) defers: Option<DefersPlan>,
    pub(super) responder: Option<ResponderPlan>,
    pub(super) talk: Option<TalkPlan>,
    pub(super) probes: bool,
    /// Latency parts in message-info (`--latency-parts`, or implied by `--probes`).
    pub(super) latency: bool,
    /// The skewed client's clock offset.
    pub(super) skew: Option<Ms>,
    pub(super) plants: Vec<PlantSlot>,
}

/// Working hours, roughly, in UTC.
fn hour_weight(t: Ms) -> f64 {
    match t.div_euclid(HOUR_MS).rem_euclid(24) {
        0..=5 => 0.08,
        6 => 0.25,
        7 => 0.6,
        8..=11 => 1.0,
        12 => 0.75,
        13..=16 => 1.0,
        17 => 0.7,
        18 => 0.4,
        19 | 20 => 0.25,
        _ => 0.12,
    }
}

/// ∫ f over [a, b), f in per-ms units, by one-minute steps.
fn integrate(a: Ms, b: Ms, f: impl Fn(Ms) -> f64) -> f64 {
    let mut sum = 0.0;
    let mut t = a;
    while t < b {
        let dt = MINUTE.min(b - t);
        sum += f(t + dt / 2) * dt as f64;
        t += dt;
    }
    sum
}

fn frac(t: Ms, a: Ms, b: Ms) -> f64 {
    if b <= a {
        return 1.0;
    }
    ((t - a) as f64 / (b - a) as f64).clamp(0.0, 1.0)
}

impl Plan {
    pub(super) fn new(opts: &SimOptions) -> Plan {
        let start = opts.start.timestamp_millis();
        // The default 12 hours: long enough for working hours and an incident to grow. Times
        // below are shares of it that give the original fixed times at 12 hours.
        let duration = Ms::from(opts.hours.max(1)) * HOUR_MS;
        let end = start + duration;
        let ev = opts.events as f64;
        let n = opts.servers.max(1) as f64;
        let hop = 2.0 * (1.0 - 1.0 / n);
        let mut plan = Plan {
            start,
            end,
            bg_rate: 0.0,
            outbound_share: 0.25,
            incident: None,
            unexpected: None,
            bulk: None,
            queue: None,
            pingpong: None,
            newsletter: None,
            cross_hub: None,
            flood: None,
            defers: None,
            responder: None,
            talk: None,
            probes: false,
            latency: false,
            skew: None,
            plants: Vec::new(),
        };
        let incident = |plan: &mut Plan, rows: f64| {
            let app_start = start + duration / 36;
            let onset = start + duration / 4;
            plan.incident = Some(IncidentPlan {
                app_start,
                onset,
                rate: 0.0,
            });
            let per_rate = integrate(app_start, end, |t| {
                plan.alert_shape(t) * plan.rows_per_alert(t, n)
            });
            if let Some(i) = plan.incident.as_mut() {
                i.rate = rows / per_rate.max(1.0);
            }
        };
        let unexpected = |plan: &mut Plan, rows: f64| {
            let s = start + duration / 2;
            plan.unexpected = Some(Window {
                start: s,
                end,
                rate: rows / UNEXPECTED_ROWS_PER_MSG / (end - s) as f64,
            });
        };
        if opts.events == 0 {
            return plan;
        }
        let mut bg_per_msg = BG_ROWS_PER_MSG;
        let mut bg_rows = match opts.scenario {
            Scenario::Incident => {
                incident(&mut plan, 0.75 * ev);
                0.25 * ev
            }
            Scenario::Quiet => {
                plan.newsletter = Some(start + duration * 5 / 24);
                ev - NEWSLETTER_ROWS
            }
            Scenario::Pingpong => {
                let rounds = (opts.events / 60).clamp(20, 300);
                plan.pingpong = Some((start + duration * 7 / 24, rounds));
                ev - rounds as f64 * PINGPONG_ROWS_PER_ROUND
            }
            Scenario::UnexpectedIp => {
                unexpected(&mut plan, 0.5 * ev);
                0.5 * ev
            }
            Scenario::QueueGrowth => {
                let window = duration / 18;
                let s = start + duration / 3;
                let e = s + window;
                plan.queue = Some(QueuePlan {
                    server: 1,
                    start: s,
                    end: e,
                    pass: 0.12,
                });
                plan.bulk = Some(Window {
                    start: s,
                    end: e,
                    rate: 0.5 * ev / BULK_ROWS_PER_MSG / window as f64,
                });
                0.5 * ev
            }
            Scenario::CrossServer => {
                plan.cross_hub = Some(1);
                plan.outbound_share = 0.5;
                bg_per_msg = CROSS_BG_ROWS_PER_MSG;
                ev
            }
            Scenario::Mixed => {
                incident(&mut plan, 0.55 * ev);
                unexpected(&mut plan, 0.15 * ev);
                0.30 * ev
            }
            Scenario::Flood => {
                let at = |share: f64| start + (share * duration as f64).round() as Ms;
                let (fs, fe) = (at(opts.flood_from), at(opts.flood_until));
                let rate = opts.flood_rate / MINUTE as f64;
                plan.flood = Some(FloodPlan {
                    start: fs,
                    end: fe,
                    rate,
                });
                let rows = (rate * (fe - fs) as f64 + 1.0) * (2.0 + hop);
                (ev - rows).max(0.25 * ev)
            }
            Scenario::Defers => {
                plan.defers = Some(DefersPlan {
                    notice_refs: opts.notice_refs,
                });
                incident(&mut plan, 0.75 * ev / DEFERS_FACTOR);
                0.25 * ev
            }
            Scenario::Responder => {
                let s = start + duration / 4;
                let minutes = Ms::from(opts.responder_minutes);
                plan.responder = Some(ResponderPlan {
                    start: s,
                    stop: s + minutes * MINUTE,
                    markers: opts.responder_markers == Markers::Auto,
                    offset: (opts.seed % 8) as usize,
                });
                let rounds = minutes as f64 * 60.0 / RESPONDER_ROUND_S;
                (ev - rounds * RESPONDER_ROWS_PER_ROUND).max(0.25 * ev)
            }
        };
        if opts.conversations {
            let threads = (opts.events / 400).clamp(8, 150) as u32;
            plan.talk = Some(TalkPlan { threads });
            bg_rows = (bg_rows - f64::from(threads) * TALK_ROWS_PER_THREAD).max(0.25 * ev);
        }
        if opts.probes {
            // Shadow copies add rows to whatever enters from outside: the other components
            // send less to stay near the budget.
            if let Some(i) = plan.incident.as_mut() {
                i.rate *= SHADOW_SCALE;
            }
            for w in [plan.unexpected.as_mut(), plan.bulk.as_mut()]
                .into_iter()
                .flatten()
            {
                w.rate *= SHADOW_SCALE;
            }
            plan.probes = true;
            let probes = (3 * opts.servers.max(2)) as f64 * (duration / PROBE_EVERY) as f64;
            bg_rows = (bg_rows - probes * PROBE_ROWS).max(0.25 * ev);
            bg_per_msg += SHADOW_ROWS_PER_MSG;
        }
        plan.latency = opts.probes || opts.latency_parts;
        plan.skew = opts.skewed_client;
        let mut kinds = opts.plants.clone();
        kinds.sort_unstable();
        kinds.dedup();
        let k = kinds.len() as Ms;
        plan.plants = kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| {
                let at = start + duration * (i as Ms + 1) / (k + 1);
                let at = at
                    .min(end - plant_span(kind, duration))
                    .max(start + duration / 48);
                PlantSlot { kind, at }
            })
            .collect();
        bg_rows = (bg_rows - k as f64 * PLANT_ROWS).max(0.25 * ev);
        let weight = integrate(start, end, hour_weight);
        plan.bg_rate = bg_rows.max(0.0) / bg_per_msg / weight.max(1.0);
        plan
    }

    /// The app's alert rate relative to its plan rate: steady until the mailbox is full, then
    /// tripling by the end as more health checks fail.
    pub(super) fn alert_shape(&self, t: Ms) -> f64 {
        match self.incident {
            Some(i) if t >= i.app_start => {
                if t < i.onset {
                    1.0
                } else {
                    1.0 + 2.0 * frac(t, i.onset, self.end)
                }
            }
            _ => 0.0,
        }
    }

    /// Chance that a failed loop message begets the next generation; rising, so the loop grows.
    pub(super) fn p_continue(&self, t: Ms) -> f64 {
        match self.incident {
            Some(i) => 0.5 + 0.35 * frac(t, i.onset, self.end),
            None => 0.0,
        }
    }

    /// Expected tracking rows caused by one alert sent at `t` (including its loop).
    fn rows_per_alert(&self, t: Ms, servers: f64) -> f64 {
        let hop = 2.0 * (1.0 - 1.0 / servers);
        let Some(i) = self.incident else {
            return 0.0;
        };
        if t < i.onset {
            return 2.0 + hop;
        }
        let p = self.p_continue(t);
        let gens = (1.0 - p.powi(11)) / (1.0 - p);
        let per_gen = (6.0 + hop) / 2.0;
        (2.0 + hop + gens * per_gen) * INCIDENT_FUDGE
    }
}

impl Sim {
    pub(super) fn start_generators(&mut self) {
        let start = self.plan.start;
        if let Some(g) = self.gap(self.plan.bg_rate * hour_weight(start)) {
            self.schedule(start + g, Action::Background);
        }
        if let Some(i) = self.plan.incident.filter(|i| i.rate > 0.0) {
            self.schedule(i.app_start, Action::Alert);
        }
        if let Some(w) = self.plan.unexpected {
            if let Some(g) = self.gap(w.rate) {
                self.schedule(w.start + g, Action::Unexpected);
            }
        }
        if let Some(w) = self.plan.bulk {
            if w.rate > 0.0 {
                self.schedule(w.start, Action::Bulk);
            }
        }
        if let Some((t, _)) = self.plan.pingpong {
            self.schedule(t, Action::PingpongStart);
        }
        if let Some(t) = self.plan.newsletter {
            self.schedule(t, Action::Newsletter);
        }
        if let Some(f) = self.plan.flood {
            let last = f.start >= f.end;
            self.schedule(
                f.start,
                Action::Run(Box::new(move |sim, t| sim.flood_msg(t, last))),
            );
        }
        if let Some(r) = self.plan.responder {
            self.schedule(
                r.start,
                Action::Run(Box::new(|sim, t| sim.responder_start(t))),
            );
        }
        if self.plan.talk.is_some() {
            self.talk_plan();
        }
        if self.plan.probes {
            self.probes_start();
        }
        for (k, p) in self.plan.plants.clone().into_iter().enumerate() {
            let k = k as u8;
            self.schedule(
                p.at,
                Action::Run(Box::new(move |sim, t| sim.plant(t, k, p.kind))),
            );
        }
    }

    pub(super) fn dispatch(&mut self, t: Ms, action: Action) {
        match action {
            Action::Background => self.background(t),
            Action::Alert => self.alert(t),
            Action::Unexpected => self.unexpected(t),
            Action::Bulk => self.bulk(t),
            Action::PingpongStart => self.pingpong_start(t),
            Action::PingpongExternal => self.pingpong_external(t),
            Action::Newsletter => self.newsletter(t),
            Action::Route {
                msg,
                server,
                iid,
                rcpts,
                via,
            } => self.route(t, server, &msg, iid, &rcpts, via),
            Action::FromInternet { msg, rcpts } => self.arrive_from_internet(t, &msg, &rcpts),
            Action::RetryDeliver {
                msg,
                server,
                iid,
                rcpt,
                attempt,
            } => self.deliver(t, server, &msg, iid, &[rcpt], attempt),
            Action::RetrySend {
                msg,
                server,
                iid,
                rcpts,
                attempt,
            } => self.send_out(t, server, &msg, iid, &rcpts, attempt),
            Action::CloseSession { slot, id } => self.close_session_if_idle(t, slot, id),
            Action::Run(f) => f(self, t),
        }
    }

    /// Message sizes: mostly small, a long tail of attachments.
    fn size(&mut self) -> u64 {
        let u: f64 = self.rng.random();
        (2_500.0 - (1.0 - u).ln() * 35_000.0).min(15e6) as u64
    }

    fn person_msg(&mut self, t: Ms, mbx: usize, comp: Comp, subject: String) -> MsgRef {
        let addr = self.world.mailboxes[mbx].addr.clone();
        let origin = t - self.lat(50, 400);
        let m = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: addr.clone(),
            return_path: addr,
            subject,
            bytes: self.size(),
            origin,
            skew: self.skew_of(mbx),
            comp,
            gen: None,
            incoming: false,
            class: "IPM.Note",
            fed_loop: Cell::new(false),
            ..Msg::default()
        };
        self.msg(m)
    }

    fn users_except(&mut self, n: usize, not: usize) -> Vec<Addr> {
        let mut out: Vec<Addr> = Vec::with_capacity(n);
        while out.len() < n {
            let m = self.world.user(&mut self.rng);
            let a = self.world.mailboxes[m].addr.clone();
            if m != not && !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    fn background(&mut self, t: Ms) {
        if let Some(g) = self.gap(self.plan.bg_rate * hour_weight(t)) {
            self.schedule(t + g, Action::Background);
        }
        let u: f64 = self.rng.random();
        let out_share = self.plan.outbound_share;
        if u < out_share {
            self.bg_outbound(t);
        } else if u < out_share + INBOUND_SHARE {
            self.bg_inbound(t);
        } else {
            self.bg_internal(t);
        }
    }

    fn bg_outbound(&mut self, t: Ms) {
        let mbx = self.world.user(&mut self.rng);
        let n = if self.chance(0.85) {
            1
        } else {
            self.rng.random_range(2..=3)
        };
        let mut rcpts: Vec<Addr> = Vec::with_capacity(n);
        while rcpts.len() < n {
            let c = self.world.contact(&mut self.rng);
            if !rcpts.contains(&c) {
                rcpts.push(c);
            }
        }
        if self.chance(BOUNCE_SHARE / self.plan.outbound_share) {
            rcpts[0] = self.world.mistyped(&mut self.rng);
        }
        let home = self.world.mailboxes[mbx].server;
        let comp = match self.plan.cross_hub {
            Some(hub) if hub != home => Comp::CrossServer,
            _ => Comp::Background,
        };
        let subj = subject(&mut self.rng).to_string();
        let msg = self.person_msg(t, mbx, comp, subj);
        self.submit(t, &msg, mbx, &rcpts);
    }

    fn bg_internal(&mut self, t: Ms) {
        let mbx = self.world.user(&mut self.rng);
        let n = if self.chance(0.75) {
            1
        } else {
            self.rng.random_range(2..=4)
        };
        let mut rcpts = self.users_except(n, mbx);
        if self.chance(0.08) {
            rcpts.push(self.world.contact(&mut self.rng));
        }
        let subj = subject(&mut self.rng).to_string();
        let msg = self.person_msg(t, mbx, Comp::Background, subj);
        self.submit(t, &msg, mbx, &rcpts);
    }

    fn bg_inbound(&mut self, t: Ms) {
        let sender = self.world.contact(&mut self.rng);
        let n = if self.chance(0.85) { 1 } else { 2 };
        let rcpts = self.users_except(n, usize::MAX);
        let domain = sender
            .rsplit_once('@')
            .map_or("contoso.example", |(_, d)| d)
            .to_string();
        let mut id = self.new_id(&domain);
        // Some outside systems write message ids without angle brackets.
        if self.chance(0.005) {
            id = id.trim_matches(|c| c == '<' || c == '>').to_string();
        }
        let m = Msg {
            id,
            nmid: self.nmid(),
            sender: sender.clone(),
            return_path: sender,
            subject: subject(&mut self.rng).to_string(),
            bytes: self.size(),
            origin: t - self.lat(500, 5_000),
            comp: Comp::Background,
            gen: None,
            incoming: true,
            class: "IPM.Note",
            fed_loop: Cell::new(false),
            ..Msg::default()
        };
        let msg = self.msg(m);
        self.arrive_from_internet(t, &msg, &rcpts);
    }

    fn alert(&mut self, t: Ms) {
        let Some(inc) = self.plan.incident else {
            return;
        };
        if let Some(g) = self.gap(inc.rate * self.plan.alert_shape(t)) {
            self.schedule(t + g, Action::Alert);
        }
        self.alerts += 1;
        let n = self.alerts;
        let m = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: self.world.healthcheck.clone(),
            return_path: self.world.healthcheck.clone(),
            subject: alert_subject(&mut self.rng, n),
            bytes: self.rng.random_range(4_000..9_000),
            origin: t,
            comp: Comp::Incident,
            gen: Some(0),
            incoming: false,
            class: "IPM.Note",
            fed_loop: Cell::new(false),
            ..Msg::default()
        };
        let msg = self.msg(m);
        let f = self.random_server();
        let rcpts = [self.world.ops_addr.clone()];
        self.receive_from(t, f, Peer::App, &msg, &rcpts);
    }

    fn unexpected(&mut self, t: Ms) {
        let Some(w) = self.plan.unexpected else {
            return;
        };
        if let Some(g) = self.gap(w.rate) {
            if t + g < w.end {
                self.schedule(t + g, Action::Unexpected);
            }
        }
        const SUBJECTS: [&str; 4] = [
            "Invoice 48213 overdue, action required",
            "Your mailbox password expires today",
            "Payment confirmation \"REF-20931\"",
            "Shared document: Q4 salaries.xlsx",
        ];
        let sender = spoofed_sender(&mut self.rng);
        let n = self.rng.random_range(1..=3);
        let mut rcpts: Vec<Addr> = Vec::with_capacity(n);
        for _ in 0..n {
            let u: f64 = self.rng.random();
            let a = if u < 0.55 {
                self.world.guessed(&mut self.rng)
            } else if u < 0.8 {
                self.world.all_staff.clone()
            } else {
                let m = self.world.user(&mut self.rng);
                self.world.mailboxes[m].addr.clone()
            };
            if !rcpts.contains(&a) {
                rcpts.push(a);
            }
        }
        let domain = sender
            .rsplit_once('@')
            .map_or("example.net", |(_, d)| d)
            .to_string();
        let m = Msg {
            id: self.new_id(&domain),
            nmid: self.nmid(),
            sender: sender.clone(),
            return_path: sender,
            subject: SUBJECTS[self.rng.random_range(0..SUBJECTS.len())].to_string(),
            bytes: self.rng.random_range(8_000..60_000),
            origin: t - self.lat(100, 2_000),
            comp: Comp::UnexpectedIp,
            gen: None,
            incoming: true,
            class: "IPM.Note",
            fed_loop: Cell::new(false),
            ..Msg::default()
        };
        let msg = self.msg(m);
        let f = self.random_server();
        self.receive_from(t, f, Peer::Unexpected, &msg, &rcpts);
    }

    fn bulk(&mut self, t: Ms) {
        let (Some(w), Some(q)) = (self.plan.bulk, self.plan.queue) else {
            return;
        };
        if let Some(g) = self.gap(w.rate) {
            if t + g < w.end {
                self.schedule(t + g, Action::Bulk);
            }
        }
        let domain = READER_DOMAINS[self.rng.random_range(0..READER_DOMAINS.len())];
        let rcpt: Addr =
            format!("customer.{:05}@{domain}", self.rng.random_range(0..60_000)).into();
        let reports = self.world.mailboxes[self.world.reports].addr.clone();
        let account = self.rng.random_range(1_000..9_999);
        let m = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: reports.clone(),
            return_path: reports,
            subject: format!("Your statement for November 2026, account {account}-0815"),
            bytes: self.rng.random_range(60_000..180_000),
            origin: t,
            comp: Comp::QueueGrowth,
            gen: None,
            incoming: false,
            class: "IPM.Note",
            fed_loop: Cell::new(false),
            ..Msg::default()
        };
        let msg = self.msg(m);
        self.receive_from(t, q.server, Peer::Bulk, &msg, &[rcpt]);
    }

    fn pingpong_start(&mut self, t: Ms) {
        let anna = self.world.anna;
        let msg = self.person_msg(t, anna, Comp::Pingpong, PINGPONG_TOPIC.to_string());
        let rcpts = [self.world.autoresponder.clone()];
        self.submit(t, &msg, anna, &rcpts);
    }

    /// The outside autoresponder answers whatever reached it, auto-replies included.
    fn pingpong_external(&mut self, t: Ms) {
        let ar = self.world.autoresponder.clone();
        let m = Msg {
            id: self.new_id("fabrikam.example"),
            nmid: self.nmid(),
            sender: ar.clone(),
            return_path: ar,
            subject: format!("Automatic reply: {PINGPONG_TOPIC}"),
            bytes: self.rng.random_range(3_000..6_000),
            origin: t - self.lat(100, 1_000),
            comp: Comp::Pingpong,
            gen: None,
            incoming: true,
            class: "IPM.Note",
            fed_loop: Cell::new(false),
            ..Msg::default()
        };
        let msg = self.msg(m);
        let rcpts = [self.world.mailboxes[self.world.anna].addr.clone()];
        self.arrive_from_internet(t, &msg, &rcpts);
    }

    /// Mailbox rules after a delivery: anna's reply rule (the ping-pong) and out-of-office.
    pub(super) fn on_delivered(&mut self, t: Ms, msg: &MsgRef, rcpt: &Addr) {
        match msg.comp {
            Comp::Responder => return self.responder_delivered(t, msg, rcpt),
            Comp::Conversation => return self.talk_delivered(t, msg, rcpt),
            Comp::Planted => return self.plant_delivered(t, msg, rcpt),
            _ => {}
        }
        let anna = self.world.anna;
        if msg.comp == Comp::Pingpong && msg.incoming && *rcpt == self.world.mailboxes[anna].addr {
            let Some((_, rounds)) = self.plan.pingpong else {
                return;
            };
            if self.stats.pingpong_rounds >= rounds {
                return;
            }
            self.stats.pingpong_rounds += 1;
            let tr = t + self.lat(800, 3_000);
            let m = Msg {
                id: self.new_id(DOMAIN),
                nmid: self.nmid(),
                sender: rcpt.clone(),
                return_path: self.world.null.clone(),
                subject: format!("Automatic reply: {PINGPONG_TOPIC}"),
                bytes: self.rng.random_range(3_000..6_000),
                origin: tr,
                comp: Comp::Pingpong,
                gen: None,
                incoming: false,
                class: "IPM.Note.Rules.ReplyTemplate.Microsoft",
                fed_loop: Cell::new(false),
                ..Msg::default()
            };
            let reply = self.msg(m);
            self.mailbox_rule(tr, anna, &reply, msg.sender.clone());
            return;
        }
        if !msg.incoming || msg.comp != Comp::Background || &*msg.return_path == "<>" {
            return;
        }
        let Some(m) = self.world.mailbox_of(rcpt) else {
            return;
        };
        // Out-of-office answers each sender once, with a null return path.
        if self.world.oof.contains(&m) && self.oof_replied.insert((m, msg.sender.clone())) {
            let tr = t + self.lat(500, 2_500);
            let reply = Msg {
                id: self.new_id(DOMAIN),
                nmid: self.nmid(),
                sender: rcpt.clone(),
                return_path: self.world.null.clone(),
                subject: format!("Automatic reply: {}", msg.subject),
                bytes: self.rng.random_range(3_000..6_000),
                origin: tr,
                comp: Comp::Background,
                gen: None,
                incoming: false,
                class: "IPM.Note.Rules.OofTemplate.Microsoft",
                fed_loop: Cell::new(false),
                ..Msg::default()
            };
            let reply = self.msg(reply);
            self.mailbox_rule(tr, m, &reply, msg.sender.clone());
        }
    }

    /// One message to 3,000 recipients, expanded and sent in batches over ten minutes.
    fn newsletter(&mut self, t: Ms) {
        let news = self.world.news;
        let mut rcpts: Vec<Addr> = self
            .world
            .users
            .iter()
            .map(|&m| self.world.mailboxes[m].addr.clone())
            .collect();
        let readers = NEWSLETTER_RCPTS.saturating_sub(rcpts.len());
        for i in 0..readers {
            let domain = READER_DOMAINS[i % READER_DOMAINS.len()];
            let a: Addr = format!("reader.{i:04}@{domain}").into();
            // A few subscribers left long ago: honest bounces, not a storm.
            if i % 200 == 137 {
                self.world.bad_external.insert(a.clone());
            }
            rcpts.push(a);
        }
        let msg = self.person_msg(
            t,
            news,
            Comp::Newsletter,
            "Corp Weekly #47: \"Winter party\", new canteen hours, and more".to_string(),
        );
        self.stats.newsletter_id = Some(msg.id.clone());
        self.stats.newsletter_rcpts = rcpts.len() as u64;
        let (s, iid, t2) = self.submit_rows(t, &msg, news, &rcpts);

        let n = self.world.servers.len();
        let mut internal: Vec<Vec<Addr>> = vec![Vec::new(); n];
        let mut external: Vec<Addr> = Vec::new();
        for r in rcpts {
            match self.world.mailbox_of(&r) {
                Some(m) => internal[self.world.mailboxes[m].server].push(r),
                None => external.push(r),
            }
        }
        let mut batches: Vec<Vec<Addr>> = Vec::new();
        for (d, group) in internal.iter().enumerate() {
            let size = if d == s { 25 } else { 50 };
            batches.extend(group.chunks(size).map(<[Addr]>::to_vec));
        }
        batches.extend(external.chunks(20).map(<[Addr]>::to_vec));
        let step = NEWSLETTER_SPREAD / batches.len().max(1) as Ms;
        for (i, batch) in batches.into_iter().enumerate() {
            let tb = t2 + 50 + i as Ms * step;
            self.schedule(
                tb,
                Action::Route {
                    msg: msg.clone(),
                    server: s,
                    iid,
                    rcpts: batch,
                    via: Via::Mailbox,
                },
            );
        }
    }
}
