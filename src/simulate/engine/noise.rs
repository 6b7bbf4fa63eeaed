//! `--probes`: the background noise of a real Exchange organisation. Managed Availability
//! mails itself every few minutes on every server (a submission probe from a health mailbox to
//! itself, inbound and outbound proxy probes from the server's own front end to its own
//! transport), and every message entering the organisation gets a shadow copy on another
//! server (HAREDIRECT where it arrived, HARECEIVE on the shadow server, now and then a
//! HADISCARD), as in the real 2016 lines in the shared formats folder.

use rand::Rng;

use super::super::out::{fmt_time, LogKind, Ms};
use super::super::plan::PROBE_EVERY;
use super::super::world::{guid, Addr, CUSTOM_DATA, DOMAIN};
use super::{bracketed, Action, Comp, Msg, MsgRef, Peer, Role, Row, Side, Sim, Via, TRANSPORT};

const SHADOW_CUSTOM: &str =
    "S:DeliveryPriority=Low;S:PrioritizationReason=ShadowRedundancy;S:AccountForest=corp.example";
/// Share of shadow copies whose discard is logged.
const DISCARD_SHARE: f64 = 0.02;

impl Sim {
    /// One or two `HealthMailbox<32 hex>` mailboxes per server.
    pub(super) fn add_health_mailboxes(&mut self) {
        for s in 0..self.world.servers.len() {
            let n = self.rng.random_range(1..=2);
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                let a: u64 = self.rng.random();
                let b: u64 = self.rng.random();
                let addr = format!("HealthMailbox{a:016x}{b:016x}@{DOMAIN}");
                list.push(self.world.add_extra(&mut self.rng, &addr, s));
            }
            self.health.push(list);
        }
    }

    /// Every server runs each of the three probes every five minutes, at its own phase.
    pub(crate) fn probes_start(&mut self) {
        let start = self.plan.start;
        for s in 0..self.world.servers.len() {
            for kind in 0..3u8 {
                let t = start + self.lat(0, PROBE_EVERY);
                self.schedule(
                    t,
                    Action::Run(Box::new(move |sim, t| sim.probe(t, s, kind))),
                );
            }
        }
    }

    fn probe(&mut self, t: Ms, s: usize, kind: u8) {
        let next = t + self.lat(PROBE_EVERY - 20_000, PROBE_EVERY + 20_000);
        self.schedule(
            next,
            Action::Run(Box::new(move |sim, t| sim.probe(t, s, kind))),
        );
        let Some(list) = self.health.get(s) else {
            return;
        };
        let (to_mbx, from_mbx) = (list[0], list[list.len() - 1]);
        let to = self.world.mailboxes[to_mbx].addr.clone();
        let from = self.world.mailboxes[from_mbx].addr.clone();
        let name = self.world.servers[s].name.clone();
        let (sender, subject) = match kind {
            0 => (
                to.clone(),
                format!("{}-MapiSubmitLAMProbe", guid(&mut self.rng)),
            ),
            1 => (from, "Inbound proxy probe".to_string()),
            _ => (
                from,
                format!("Outbound proxy from {name} at {}", fmt_time(t)),
            ),
        };
        let m = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: sender.clone(),
            return_path: sender,
            subject,
            bytes: self.rng.random_range(1_500..3_000),
            origin: t - self.lat(5, 40),
            comp: Comp::Noise,
            class: "IPM.Note",
            role: Role::Probe,
            ..Msg::default()
        };
        let msg = self.msg(m);
        let rcpts = [to];
        match kind {
            // MapiSubmitLAMProbe: the health mailbox submits to itself.
            0 => self.submit(t, &msg, to_mbx, &rcpts),
            // Proxy probes: the server's front end hands a message to its own transport
            // (inbound) or its transport to its own front end (outbound).
            _ => {
                let side = if kind == 1 { Side::HubRecv } else { Side::Recv };
                let (iid, t_end, _) = self.receive_smtp(t, s, Peer::Server(s), side, &msg, &rcpts);
                let tr = t_end + self.lat(5, 60);
                self.route(tr, s, &msg, iid, &rcpts, Via::Server(s));
            }
        }
    }

    /// Shadow redundancy for a message that just entered server `f` from outside the
    /// organisation or from a mailbox.
    pub(super) fn shadow(&mut self, t: Ms, f: usize, msg: &MsgRef, iid: u64, rcpts: &[Addr]) {
        if !self.plan.probes || msg.role == Role::Probe {
            return;
        }
        let n = self.world.servers.len();
        let g = (f + self.rng.random_range(1..n)) % n;
        let g_iid = self.next_iid(g, TRANSPORT);
        let (fname, fhost) = (
            self.world.servers[f].name.clone(),
            self.world.servers[f].host.clone(),
        );
        let (gname, ghost) = (
            self.world.servers[g].name.clone(),
            self.world.servers[g].host.clone(),
        );
        let ctx = format!(
            "{ghost}=250 2.6.0 {} [InternalId={g_iid}, Hostname={ghost}] Queued mail for redundancy",
            bracketed(&msg.id)
        );
        self.emit(
            t,
            f,
            LogKind::Trk,
            msg,
            &Row {
                server_host: &fname,
                ctx: &ctx,
                source: "SMTP",
                event: "HAREDIRECT",
                iid,
                rcpts,
                custom: CUSTOM_DATA,
                traffic: "Email",
                ..Row::default()
            },
        );
        let tr = t + self.lat(20, 80);
        let gctx = guid(&mut self.rng);
        self.emit(
            tr,
            g,
            LogKind::Trk,
            msg,
            &Row {
                client_host: &fhost,
                server_host: &gname,
                ctx: &gctx,
                source: "SMTP",
                event: "HARECEIVE",
                iid: g_iid,
                rcpts,
                custom: SHADOW_CUSTOM,
                traffic: "Email",
                ..Row::default()
            },
        );
        if self.chance(DISCARD_SHARE) {
            let td = tr + self.lat(2_000, 15_000);
            self.emit(
                td,
                g,
                LogKind::Trk,
                msg,
                &Row {
                    server_host: &gname,
                    source: "SMTP",
                    event: "HADISCARD",
                    iid: g_iid,
                    rcpts,
                    custom: SHADOW_CUSTOM,
                    traffic: "Email",
                    ..Row::default()
                },
            );
        }
    }
}
