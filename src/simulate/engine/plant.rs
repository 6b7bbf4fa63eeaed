//! `--plant KIND`: small incidents of the kinds an Exchange postmortem meets, each written with
//! Exchange's own event ids and status texts into otherwise normal traffic.
//!
//! Messages carry `Role::Plant(k)` (all rows belong to incident `k`, the message counts),
//! `Role::PlantAux(k)` / `Role::PlantBait(k)` (rows belong, the message does not count) or
//! `Role::PlantQuiet(k)` (only rows tagged `Row::plant` belong). The truth is then counted
//! from the rows as they are written.

use rand::Rng;

use super::super::out::{LogKind, Ms};
use super::super::plan::{expiry_step, moderation_wait, MINUTE};
use super::super::world::{Addr, CUSTOM_DATA, DOMAIN, READER_DOMAINS};
use super::super::PlantKind;
use super::{
    Action, Comp, Failure, Msg, MsgRef, Peer, Role, Row, Side, Sim, Via, DELIVERY, SUBMISSION,
    TRANSPORT,
};

const HOPS_546: &str = "554 5.4.6 Hop count exceeded - possible mail loop";
const HOPS_5414: &str = "550 5.4.14 Hop count exceeded - possible mail loop";
/// Transport-to-transport hops before the hop count runs out (12 SENDs on each server).
const LOOP_HOPS: usize = 24;
const TR_LOOP: &str =
    "550 5.7.128 TRANSPORT.RULES.RejectMessage; Transport rules loop count exceeded";
pub(crate) const LIMITS: [&str; 8] = [
    "550 5.2.121 RecipientThrottling; Sender has exceeded the hourly message receive limit set on the recipient's mailbox",
    "550 5.2.122 RecipientThrottling; Recipient has exceeded the hourly message receive limit",
    "550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients",
    "550 5.1.8 Access denied, bad outbound sender",
    "550 5.7.501 Access denied, spam abuse detected",
    "550 5.7.502 Access denied, banned sender",
    "550 5.7.503 Access denied, banned recipient",
    "554 5.2.2 Submission quota exceeded",
];
const THREAD_LIMIT: &str = "432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded";
const BACK_PRESSURE: &str = "452 4.3.1 Insufficient system resources";
const DNS_DEFER: &str =
    "451 4.4.0 DNS query failed. The error was: DNS query failed with error ErrorRetry";
const EXPIRED: &str = "550 4.4.7 QUEUE.Expired; message expired";
const EXPIRED_5: &str = "550 5.4.300 Message expired";
const ADMIN_DELETED: &str = "550 4.3.2 QUEUE.Admin; message deleted by administrative action";
const BADMAIL: &str = "550 5.6.0 PICKUP.Malformed; header is malformed";
const SUBMIT_DEFER: &str = "432 4.3.2 STOREDRV.Submit.Exception:MapiExceptionRpcServerTooBusy; Failed to process message due to a transient exception";
const SUBMIT_FAIL: &str = "550 5.6.0 STOREDRV.Submit.Exception:ConversionFailedException; Failed to process message due to a permanent exception";
const RESUBMIT_DEFER: &str = "451 4.4.0 SafetyNet; mailbox database is offline";
const RESUBMIT_FAIL: &str = "550 5.6.0 SafetyNet; resubmission failed, message expired";
const REPLY_CLASS: &str = "IPM.Note.Rules.ReplyTemplate.Microsoft";
const ARBITRATION: &str = "SystemMailbox{1f05a927-7709-4e35-9dbe-d0f608fb781a}@corp.example";
pub(crate) const FORGED_DOMAINS: [&str; 8] = [
    "shop-deals.example",
    "mail-promo.example",
    "cheap-meds.example",
    "lucky-win.example",
    "fastloans.example",
    "crypto-gain.example",
    "replica-watch.example",
    "seo-boost.example",
];

impl Sim {
    fn later(&mut self, t: Ms, f: impl FnOnce(&mut Sim, Ms) + 'static) {
        self.schedule(t, Action::Run(Box::new(f)));
    }

    fn plant_kind(&self, k: u8) -> Option<PlantKind> {
        self.plan.plants.get(usize::from(k)).map(|p| p.kind)
    }

    fn plant_addr(&mut self, k: u8, a: &str) {
        if let Some(p) = self.stats.plants.get_mut(usize::from(k)) {
            if !p.addresses.contains(a) {
                p.addresses.insert(a.to_ascii_lowercase());
            }
        }
    }

    /// An ordinary user (not on holiday, not the skewed client), on server `on` if given.
    fn plant_user(&mut self, on: Option<usize>) -> usize {
        let n = self.world.servers.len();
        let on = on.map(|s| s % n);
        loop {
            let m = self.world.users[self.rng.random_range(1..self.world.users.len())];
            let ok = !self.world.oof.contains(&m)
                && Some(m) != self.skewed_mbx
                && on.is_none_or(|s| self.world.mailboxes[m].server == s);
            if ok {
                return m;
            }
        }
    }

    fn addr_of(&self, m: usize) -> Addr {
        self.world.mailboxes[m].addr.clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn plant_msg(
        &mut self,
        t: Ms,
        sender: Addr,
        return_path: Addr,
        subject: String,
        role: Role,
        incoming: bool,
        class: &'static str,
    ) -> MsgRef {
        let domain = sender
            .rsplit_once('@')
            .map_or(DOMAIN, |(_, d)| d)
            .to_string();
        let m = Msg {
            id: self.new_id(&domain),
            nmid: self.nmid(),
            sender,
            return_path,
            subject,
            bytes: self.rng.random_range(3_000..40_000),
            origin: t - self.lat(50, if incoming { 5_000 } else { 400 }),
            comp: Comp::Planted,
            incoming,
            class,
            role,
            ..Msg::default()
        };
        self.msg(m)
    }

    fn person_plant_msg(&mut self, t: Ms, mbx: usize, subject: &str, role: Role) -> MsgRef {
        let a = self.addr_of(mbx);
        self.plant_msg(
            t,
            a.clone(),
            a,
            subject.to_string(),
            role,
            false,
            "IPM.Note",
        )
    }

    /// A row of a planted incident on server `s`, with the server's own addresses.
    #[allow(clippy::too_many_arguments)]
    fn plant_row(
        &mut self,
        t: Ms,
        s: usize,
        kind: LogKind,
        msg: &MsgRef,
        iid: u64,
        rcpts: &[Addr],
        event: &'static str,
        source: &'static str,
        status: &str,
        ctx: &str,
        related: &str,
        reference: &str,
        tag: Option<u8>,
    ) {
        let ip = self.world.servers[s].ip.clone();
        let host = self.world.servers[s].host.clone();
        let name = self.world.servers[s].name.clone();
        self.emit(
            t,
            s,
            kind,
            msg,
            &Row {
                client_ip: &ip,
                client_host: &host,
                server_ip: &ip,
                server_host: &name,
                ctx,
                source,
                event,
                iid,
                rcpts,
                status,
                related,
                reference,
                custom: CUSTOM_DATA,
                traffic: "Email",
                plant: tag,
                ..Row::default()
            },
        );
    }

    /// Starts planted incident `k`.
    pub(crate) fn plant(&mut self, t: Ms, k: u8, kind: PlantKind) {
        match kind {
            PlantKind::HopCountLoop => self.plant_hop_loop(t, k),
            PlantKind::ThrottledAutoReply => self.plant_throttle(t, k),
            PlantKind::TransportRuleLoop => self.plant_rule_loop(t, k),
            PlantKind::ReceiveLimit => self.plant_limits(t, k),
            PlantKind::DeliveryThrottling => self.plant_thread_limit(t, k),
            PlantKind::BackPressure => self.plant_back_pressure(t, k),
            PlantKind::QueueExpiry => self.plant_expiry(t, k),
            PlantKind::PoisonMessage => self.plant_poison(t, k),
            PlantKind::ShadowRedundancyFailure => self.plant_shadow_fail(t, k),
            PlantKind::DuplicateDelivery => self.plant_duplicates(t, k),
            PlantKind::SafetyNetResubmit => self.plant_safety_net(t, k),
            PlantKind::SubmissionFailure => self.plant_submit_fail(t, k),
            PlantKind::SilentDrop => self.plant_drops(t, k),
            PlantKind::ModerationStall => self.plant_moderation(t, k),
            PlantKind::ListAmplification => self.plant_list(t, k),
            PlantKind::Backscatter => self.plant_backscatter(t, k),
        }
    }

    /// Deliveries of planted messages: the reply rules of the throttled pair.
    pub(crate) fn plant_delivered(&mut self, t: Ms, msg: &MsgRef, rcpt: &Addr) {
        let (Role::Plant(k) | Role::PlantAux(k)) = msg.role else {
            return;
        };
        if self.plant_kind(k) != Some(PlantKind::ThrottledAutoReply) {
            return;
        }
        let Some(m) = self.world.mailbox_of(rcpt) else {
            return;
        };
        let tr = t + self.lat(500, 3_000);
        let reply = self.plant_msg(
            tr,
            rcpt.clone(),
            self.world.null.clone(),
            format!("Automatic reply: {}", msg.subject),
            Role::Plant(k),
            false,
            REPLY_CLASS,
        );
        if self.throttle_left > 0 {
            self.throttle_left -= 1;
            self.mailbox_rule(tr, m, &reply, msg.sender.clone());
            return;
        }
        // The rule has answered this sender too often: Exchange throttles it.
        let s = self.world.mailboxes[m].server;
        let ctx = self.store_ctx(tr, m, REPLY_CLASS, "StoreDriver");
        let iid = self.next_iid(s, TRANSPORT);
        let to = [msg.sender.clone()];
        self.plant_row(
            tr,
            s,
            LogKind::Trk,
            &reply,
            iid,
            &to,
            "THROTTLE",
            "MAILBOXRULE",
            "",
            &ctx,
            "",
            "XLoopHeaderCount:1/1",
            None,
        );
    }

    /// Delivery throttling: returns true when the delivery was deferred instead.
    pub(super) fn plant_defer_delivery(
        &mut self,
        t: Ms,
        s: usize,
        msg: &MsgRef,
        iid: u64,
        rcpts: &[Addr],
        attempt: u32,
    ) -> bool {
        let Role::PlantQuiet(k) = msg.role else {
            return false;
        };
        if attempt > 0 || self.plant_kind(k) != Some(PlantKind::DeliveryThrottling) {
            return false;
        }
        if !self.chance(0.6) {
            return false;
        }
        let Some(mbx) = rcpts.first().and_then(|r| self.world.mailbox_of(r)) else {
            return false;
        };
        let ctx = self.store_ctx(t, mbx, msg.class, "StoreDriver");
        let md_iid = self.next_iid(s, DELIVERY);
        self.plant_row(
            t,
            s,
            LogKind::TrkMd,
            msg,
            md_iid,
            rcpts,
            "DEFER",
            "STOREDRIVER",
            THREAD_LIMIT,
            &ctx,
            "",
            "",
            Some(k),
        );
        for r in rcpts {
            self.plant_addr(k, r);
            let retry = t + self.lat(60_000, 180_000);
            self.schedule(
                retry,
                Action::RetryDeliver {
                    msg: msg.clone(),
                    server: s,
                    iid,
                    rcpt: r.clone(),
                    attempt: 1,
                },
            );
        }
        true
    }

    // ---- hop count loop ---------------------------------------------------------------

    fn plant_hop_loop(&mut self, t0: Ms, k: u8) {
        let user = self.plant_user(Some(0));
        let mut t = t0;
        for j in 0..3u32 {
            self.later(t, move |sim, t| sim.hop_loop_msg(t, k, user, j));
            t += self.lat(60_000, 180_000);
        }
    }

    /// EX01 routes partner.example to EX02 and EX02 back to EX01: the message goes round
    /// until its hop count runs out.
    fn hop_loop_msg(&mut self, t: Ms, k: u8, user: usize, j: u32) {
        let subject = format!("Order confirmation {}, partner portal", 5_120 + j);
        let msg = self.person_plant_msg(t, user, &subject, Role::Plant(k));
        let rcpts: [Addr; 1] = ["x@partner.example".into()];
        let (s, mut iid, t2) = self.submit_rows(t, &msg, user, &rcpts);
        let mut cur = s;
        let mut tt = t2 + self.lat(5, 60);
        for _ in 0..LOOP_HOPS {
            let d = if cur == 0 { 1 } else { 0 };
            let (next, t_end) = self.hop_rows(tt, cur, d, &msg, iid, &rcpts);
            cur = d;
            iid = next;
            tt = t_end + self.lat(5, 60);
        }
        let status = if j == 2 { HOPS_5414 } else { HOPS_546 };
        self.fail(
            tt,
            cur,
            &msg,
            iid,
            &rcpts[0],
            Failure::new(status, "ROUTING", LogKind::Trk),
        );
        self.plant_addr(k, "partner.example");
    }

    // ---- throttled auto-replies -------------------------------------------------------

    fn plant_throttle(&mut self, t0: Ms, k: u8) {
        let a = self.plant_user(Some(0));
        let b = self.plant_user(Some(1));
        let mut t = t0;
        for e in 0..3u32 {
            self.later(t, move |sim, t| {
                // Each rule answers twice, then the third answer is throttled.
                sim.throttle_left = 4;
                let subject = ["Team lunch on Friday?", "Re: Q4 planning", "Parking passes"];
                let msg = sim.person_plant_msg(t, a, subject[e as usize], Role::PlantAux(k));
                let to = sim.addr_of(b);
                let (aa, ba) = (sim.addr_of(a), to.clone());
                sim.plant_addr(k, &aa);
                sim.plant_addr(k, &ba);
                sim.submit(t, &msg, a, &[to]);
            });
            t += self.lat(18 * MINUTE, 25 * MINUTE);
        }
    }

    // ---- transport rule loop ----------------------------------------------------------

    fn plant_rule_loop(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for _ in 0..10 {
            self.later(t, move |sim, t| sim.rule_loop_msg(t, k));
            t += self.lat(MINUTE, 4 * MINUTE);
        }
    }

    /// Two redirect rules point at each other: sales.team -> orders.desk -> sales.team ...
    fn rule_loop_msg(&mut self, t: Ms, k: u8) {
        let user = self.plant_user(None);
        let msg = self.person_plant_msg(t, user, "Quote request, 40 units", Role::Plant(k));
        let sales: Addr = "sales.team@corp.example".into();
        let orders: Addr = "orders.desk@corp.example".into();
        let (s, iid, t2) = self.submit_rows(t, &msg, user, std::slice::from_ref(&sales));
        let mut tt = t2 + self.lat(20, 80);
        let mut from = sales.clone();
        for h in 0..4 {
            let to = if h % 2 == 0 {
                orders.clone()
            } else {
                sales.clone()
            };
            self.plant_row(
                tt,
                s,
                LogKind::Trk,
                &msg,
                iid,
                std::slice::from_ref(&to),
                "REDIRECT",
                "AGENT",
                "",
                "Transport Rule Agent",
                &from,
                "",
                None,
            );
            from = to;
            tt += self.lat(5, 30);
        }
        self.fail(
            tt,
            s,
            &msg,
            iid,
            &sales,
            Failure::new(TR_LOOP, "AGENT", LogKind::Trk),
        );
        self.plant_addr(k, &sales);
        self.plant_addr(k, &orders);
    }

    // ---- receive and sending limits ---------------------------------------------------

    fn plant_limits(&mut self, t0: Ms, k: u8) {
        let sender = self.plant_user(Some(0));
        let rcpt = self.plant_user(Some(1));
        // (status index or none for an ordinary delivery) per message.
        let cases: [Option<usize>; 15] = [
            None,
            None,
            Some(0),
            Some(0),
            Some(1),
            Some(1),
            Some(2),
            Some(2),
            Some(3),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(7),
            Some(7),
        ];
        let mut t = t0;
        for case in cases {
            self.later(t, move |sim, t| sim.limit_msg(t, k, sender, rcpt, case));
            t += self.lat(40_000, 120_000);
        }
    }

    fn limit_msg(&mut self, t: Ms, k: u8, sender: usize, rcpt: usize, case: Option<usize>) {
        let (sa, ra) = (self.addr_of(sender), self.addr_of(rcpt));
        self.plant_addr(k, &sa);
        self.plant_addr(k, &ra);
        let Some(c) = case else {
            let msg = self.person_plant_msg(t, sender, "Daily export", Role::PlantAux(k));
            return self.submit(t, &msg, sender, &[ra]);
        };
        let msg = self.person_plant_msg(t, sender, "Daily export", Role::Plant(k));
        if c <= 1 {
            // The recipient's mailbox refuses it: receive limits.
            let (s, iid, t2) = self.submit_rows(t, &msg, sender, std::slice::from_ref(&ra));
            let d = self.world.mailboxes[rcpt].server;
            let (iid, tt) = if d == s {
                (iid, t2)
            } else {
                let th = t2 + self.lat(15, 150);
                self.hop_rows(th, s, d, &msg, iid, std::slice::from_ref(&ra))
            };
            let tf = tt + self.lat(30, 250);
            let f = Failure::new(LIMITS[c], "STOREDRIVER", LogKind::TrkMd);
            self.fail(tf, d, &msg, iid, &ra, f);
        } else {
            // The sender's limits: refused before it leaves.
            let to = self.world.contact(&mut self.rng);
            let (s, iid, t2) = self.submit_rows(t, &msg, sender, std::slice::from_ref(&to));
            let source = if c == 7 { "STOREDRIVER" } else { "AGENT" };
            let f = Failure::new(LIMITS[c], source, LogKind::Trk);
            let tf = t2 + self.lat(20, 200);
            self.fail(tf, s, &msg, iid, &to, f);
        }
    }

    // ---- delivery throttling ----------------------------------------------------------

    fn plant_thread_limit(&mut self, t0: Ms, k: u8) {
        let rcpt = self.plant_user(None);
        let mut t = t0;
        for i in 0..24u32 {
            self.later(t, move |sim, t| {
                let from: Addr = "alerts@vendor-monitoring.example".into();
                let msg = sim.plant_msg(
                    t,
                    from.clone(),
                    from,
                    format!("Device report {:04}: all checks passed", 300 + i),
                    Role::PlantQuiet(k),
                    true,
                    "IPM.Note",
                );
                let to = sim.addr_of(rcpt);
                sim.arrive_from_internet(t, &msg, &[to]);
            });
            t += self.lat(1_000, 6_000);
        }
    }

    // ---- back pressure ----------------------------------------------------------------

    fn plant_back_pressure(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for _ in 0..30 {
            self.later(t, move |sim, t| sim.refused_session(t, k, 0));
            t += self.lat(10_000, 50_000);
        }
    }

    /// A session from the firewall turned away: the resources are short, so MAIL FROM or
    /// RCPT TO gets `452 4.3.1`, and the client quits.
    fn refused_session(&mut self, t: Ms, k: u8, s: usize) {
        if !self.protocol_logs {
            return;
        }
        let slot = self.session_alloc(t, s, Side::Recv, Peer::Firewall);
        let mut tt = self.greet(t, slot, s, Side::Recv, Peer::Firewall) + self.lat(1, 5);
        let from = self.world.contact(&mut self.rng);
        let size = self.rng.random_range(3_000..60_000);
        self.proto(
            tt,
            slot,
            "<",
            &format!("MAIL FROM:<{from}> SIZE={size}"),
            "",
        );
        if self.chance(0.3) {
            self.proto(tt, slot, ">", "250 2.1.0 Sender OK", "");
            tt += self.lat(0, 2);
            let m = self.plant_user(None);
            let to = self.addr_of(m);
            self.proto(tt, slot, "<", &format!("RCPT TO:<{to}>"), "");
        }
        self.proto(tt, slot, ">", BACK_PRESSURE, "");
        let connector = self.slots[slot].connector.to_string();
        if let Some(p) = self.stats.plants.get_mut(usize::from(k)) {
            p.sessions += 1;
            p.saw(tt, s);
            p.codes_in(BACK_PRESSURE);
            p.connector = Some(connector);
        }
        tt += self.lat(5, 50);
        self.proto(tt, slot, "<", "QUIT", "");
        self.proto(
            tt,
            slot,
            ">",
            "221 2.0.0 Service closing transmission channel",
            "",
        );
        self.proto(tt, slot, "-", "", "Local");
        self.session_forget(slot);
    }

    // ---- queue expiry -----------------------------------------------------------------

    fn plant_expiry(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for (j, local) in ["info", "orders", "j.doe", "support"]
            .into_iter()
            .enumerate()
        {
            self.later(t, move |sim, t| {
                let user = sim.plant_user(None);
                let msg = sim.person_plant_msg(t, user, "Delivery note 2026-11", Role::Plant(k));
                let to: Addr = format!("{local}@deadhost.example").into();
                let (s, iid, t2) = sim.submit_rows(t, &msg, user, std::slice::from_ref(&to));
                sim.plant_addr(k, "deadhost.example");
                let first = t2 + sim.lat(100, 2_000);
                sim.later(first, move |sim, t| {
                    sim.expiry_attempt(t, msg, s, iid, to, 0, j == 3)
                });
            });
            t += self.lat(MINUTE, 3 * MINUTE);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn expiry_attempt(
        &mut self,
        t: Ms,
        msg: MsgRef,
        s: usize,
        iid: u64,
        to: Addr,
        attempt: u32,
        permanent: bool,
    ) {
        if attempt < 6 {
            self.plant_row(
                t,
                s,
                LogKind::Trk,
                &msg,
                iid,
                std::slice::from_ref(&to),
                "DEFER",
                "SMTP",
                DNS_DEFER,
                "",
                "",
                "",
                None,
            );
            let step = expiry_step(self.plan.end - self.plan.start);
            let next = t + step + self.lat(0, step / 10);
            self.later(next, move |sim, t| {
                sim.expiry_attempt(t, msg, s, iid, to, attempt + 1, permanent);
            });
            return;
        }
        let status = if permanent { EXPIRED_5 } else { EXPIRED };
        self.fail(
            t,
            s,
            &msg,
            iid,
            &to,
            Failure::new(status, "QUEUE", LogKind::Trk),
        );
    }

    // ---- poison messages --------------------------------------------------------------

    fn plant_poison(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for i in 0..5u32 {
            self.later(t, move |sim, t| {
                let from = sim.world.contact(&mut sim.rng);
                let msg = sim.plant_msg(
                    t,
                    from.clone(),
                    from,
                    format!("Scanned document {:04}.pdf", 40 + i),
                    Role::PlantQuiet(k),
                    true,
                    "IPM.Note",
                );
                let m = sim.plant_user(None);
                let rcpts = [sim.addr_of(m)];
                let f = sim.random_server();
                let (iid, te, _) = sim.receive_smtp(t, f, Peer::Firewall, Side::Recv, &msg, &rcpts);
                let tp = te + sim.lat(2_000, 30_000);
                sim.plant_row(
                    tp,
                    f,
                    LogKind::Trk,
                    &msg,
                    iid,
                    &rcpts,
                    "POISONMESSAGE",
                    "POISONMESSAGE",
                    "",
                    "PoisonCount:2, moved to the poison message queue",
                    "",
                    "",
                    Some(k),
                );
                sim.plant_addr(k, &rcpts[0]);
                if i < 2 {
                    // The administrator looks at it later and deletes it.
                    let td = tp + sim.lat(10 * MINUTE, 20 * MINUTE);
                    sim.later(td, move |sim, t| {
                        sim.plant_row(
                            t,
                            f,
                            LogKind::Trk,
                            &msg,
                            iid,
                            &rcpts,
                            "POISONMESSAGE",
                            "POISONMESSAGE",
                            "",
                            "Removed from the poison message queue by an administrator",
                            "",
                            "",
                            Some(k),
                        );
                    });
                }
            });
            t += self.lat(30_000, 4 * MINUTE);
        }
    }

    // ---- shadow redundancy failure ----------------------------------------------------

    fn plant_shadow_fail(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for _ in 0..15 {
            self.later(t, move |sim, t| {
                let from = sim.world.contact(&mut sim.rng);
                let msg = sim.plant_msg(
                    t,
                    from.clone(),
                    from,
                    "Re: Meeting notes".to_string(),
                    Role::PlantQuiet(k),
                    true,
                    "IPM.Note",
                );
                let m = sim.plant_user(None);
                let rcpts = [sim.addr_of(m)];
                let (iid, te, _) = sim.receive_smtp(t, 0, Peer::Firewall, Side::Recv, &msg, &rcpts);
                let n = sim.world.servers.len();
                let other = sim.world.servers[1 % n].host.clone();
                let ctx = format!(
                    "No suitable shadow servers; {other}=451 4.4.0 Primary target IP address responded with: \"421 4.3.2 Service not available\""
                );
                let name = sim.world.servers[0].name.clone();
                sim.emit(
                    te,
                    0,
                    LogKind::Trk,
                    &msg,
                    &Row {
                        server_host: &name,
                        ctx: &ctx,
                        source: "SMTP",
                        event: "HAREDIRECTFAIL",
                        iid,
                        rcpts: &rcpts,
                        custom: CUSTOM_DATA,
                        traffic: "Email",
                        plant: Some(k),
                        ..Row::default()
                    },
                );
                let tr = te + sim.lat(5, 60);
                sim.route(tr, 0, &msg, iid, &rcpts, Via::Internet);
            });
            t += self.lat(30_000, 2 * MINUTE);
        }
    }

    // ---- duplicate delivery -----------------------------------------------------------

    fn plant_duplicates(&mut self, t0: Ms, k: u8) {
        let r = self.plant_user(None);
        let m1 = loop {
            let m = self.plant_user(None);
            if m != r {
                break m;
            }
        };
        let m2 = loop {
            let m = self.plant_user(None);
            if m != r && m != m1 {
                break m;
            }
        };
        let mut t = t0;
        for case in 0..6u32 {
            self.later(t, move |sim, t| {
                sim.duplicate_msg(t, k, case / 2, r, m1, m2)
            });
            t += self.lat(2 * MINUTE, 6 * MINUTE);
        }
    }

    fn duplicate_msg(&mut self, t: Ms, k: u8, case: u32, r: usize, m1: usize, m2: usize) {
        let user = self.plant_user(None);
        let msg = self.person_plant_msg(t, user, "Project X: status", Role::PlantQuiet(k));
        let (ra, a1, a2) = (self.addr_of(r), self.addr_of(m1), self.addr_of(m2));
        let list: Addr = "project-x@corp.example".into();
        let list2: Addr = "project-x-leads@corp.example".into();
        let first = match case {
            0 => vec![ra.clone(), list.clone()],
            1 => vec![list.clone(), list2.clone()],
            _ => vec![ra.clone(), a1.clone()],
        };
        let (s, iid, t2) = self.submit_rows(t, &msg, user, &first);
        let mut tt = t2 + self.lat(20, 80);
        let one = |a: &Addr| vec![a.clone()];
        let finals = match case {
            // The recipient is named and also a member of the list.
            0 => {
                let members = [ra.clone(), a1.clone(), a2.clone()];
                self.plant_row(
                    tt,
                    s,
                    LogKind::Trk,
                    &msg,
                    iid,
                    &members,
                    "EXPAND",
                    "ROUTING",
                    "",
                    "",
                    &list,
                    "",
                    None,
                );
                tt += self.lat(1, 10);
                self.plant_row(
                    tt,
                    s,
                    LogKind::Trk,
                    &msg,
                    iid,
                    &one(&ra),
                    "DUPLICATEEXPAND",
                    "ROUTING",
                    "",
                    "",
                    &list,
                    "",
                    Some(k),
                );
                self.plant_addr(k, &list);
                vec![ra.clone(), a1, a2]
            }
            // Two lists with the same member: the store drops the second copy.
            1 => {
                for (l, other) in [(&list, &a1), (&list2, &a2)] {
                    let members = [ra.clone(), other.clone()];
                    self.plant_row(
                        tt,
                        s,
                        LogKind::Trk,
                        &msg,
                        iid,
                        &members,
                        "EXPAND",
                        "ROUTING",
                        "",
                        "",
                        l,
                        "",
                        None,
                    );
                    tt += self.lat(1, 10);
                }
                self.plant_addr(k, &list);
                self.plant_addr(k, &list2);
                vec![ra.clone(), a1, a2]
            }
            // The recipient forwards to someone who is already a recipient.
            _ => {
                self.plant_row(
                    tt,
                    s,
                    LogKind::Trk,
                    &msg,
                    iid,
                    &one(&a1),
                    "REDIRECT",
                    "ROUTING",
                    "",
                    "",
                    &ra,
                    "",
                    None,
                );
                tt += self.lat(1, 10);
                self.plant_row(
                    tt,
                    s,
                    LogKind::Trk,
                    &msg,
                    iid,
                    &one(&a1),
                    "DUPLICATEREDIRECT",
                    "ROUTING",
                    "",
                    "",
                    &ra,
                    "",
                    Some(k),
                );
                vec![a1]
            }
        };
        self.plant_addr(k, &ra);
        let tr = tt + self.lat(5, 60);
        self.route(tr, s, &msg, iid, &finals, Via::Mailbox);
        if case == 1 {
            let d = self.world.mailboxes[r].server;
            let mbx = r;
            let td = tr + self.lat(2_000, 6_000);
            self.later(td, move |sim, t| {
                let ctx = sim.store_ctx(t, mbx, "IPM.Note", "StoreDriver");
                let md = sim.next_iid(d, DELIVERY);
                sim.plant_row(
                    t,
                    d,
                    LogKind::TrkMd,
                    &msg,
                    md,
                    &[ra],
                    "DUPLICATEDELIVER",
                    "STOREDRIVER",
                    "",
                    &ctx,
                    "",
                    "",
                    Some(k),
                );
            });
        }
    }

    // ---- Safety Net resubmission ------------------------------------------------------

    fn plant_safety_net(&mut self, t0: Ms, k: u8) {
        let s = 1 % self.world.servers.len();
        let mut t = t0;
        for i in 0..20u32 {
            self.later(t, move |sim, t| sim.resubmit_msg(t, k, s, i));
            t += self.lat(1_000, 10_000);
        }
    }

    fn resubmit_msg(&mut self, t: Ms, k: u8, s: usize, i: u32) {
        let from = self.plant_user(None);
        let to = self.plant_user(Some(s));
        let a = self.addr_of(from);
        let m = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: a.clone(),
            return_path: a,
            subject: "Re: Weekly report".to_string(),
            bytes: self.rng.random_range(3_000..40_000),
            // Delivered before the database failed over; Safety Net still holds it.
            origin: t - self.lat(20 * MINUTE, 90 * MINUTE),
            comp: Comp::Planted,
            class: "IPM.Note",
            role: Role::PlantQuiet(k),
            ..Msg::default()
        };
        let msg = self.msg(m);
        let rcpts = [self.addr_of(to)];
        let mdb = self.world.servers[s].mdbs[0].clone();
        let ctx = format!("SafetyNet resubmission, MDB:{mdb}");
        let iid = self.next_iid(s, TRANSPORT);
        let (event, status) = match i % 10 {
            3 => ("RESUBMITDEFER", RESUBMIT_DEFER),
            7 if i < 10 => ("RESUBMITFAIL", RESUBMIT_FAIL),
            7 => ("RESUBMITDEFER", RESUBMIT_DEFER),
            _ => ("RESUBMIT", ""),
        };
        self.plant_row(
            t,
            s,
            LogKind::Trk,
            &msg,
            iid,
            &rcpts,
            event,
            "SAFETYNET",
            status,
            &ctx,
            "",
            "",
            Some(k),
        );
        match event {
            "RESUBMIT" => {
                let td = t + self.lat(30, 250);
                self.deliver(td, s, &msg, iid, &rcpts, 0);
            }
            "RESUBMITDEFER" => {
                let tr = t + self.lat(4 * MINUTE, 8 * MINUTE);
                self.later(tr, move |sim, t| {
                    sim.plant_row(
                        t,
                        s,
                        LogKind::Trk,
                        &msg,
                        iid,
                        &rcpts,
                        "RESUBMIT",
                        "SAFETYNET",
                        "",
                        &ctx,
                        "",
                        "",
                        Some(k),
                    );
                    let td = t + sim.lat(30, 250);
                    sim.deliver(td, s, &msg, iid, &rcpts, 0);
                });
            }
            _ => {}
        }
    }

    // ---- submission failures ----------------------------------------------------------

    fn plant_submit_fail(&mut self, t0: Ms, k: u8) {
        let user = self.plant_user(None);
        let mut t = t0;
        for i in 0..10u32 {
            self.later(t, move |sim, t| sim.submit_fail_msg(t, k, user, i));
            t += self.lat(30_000, 3 * MINUTE);
        }
    }

    fn submit_fail_msg(&mut self, t: Ms, k: u8, user: usize, i: u32) {
        let msg = self.person_plant_msg(t, user, "Offer, revised", Role::PlantQuiet(k));
        let rcpts = [self.world.contact(&mut self.rng)];
        let s = self.world.mailboxes[user].server;
        let client = "MOMT, SubmissionAssistant:MailboxTransportSubmissionEmailAssistant";
        let ctx = self.store_ctx(msg.shown_origin(), user, msg.class, client);
        let iid = self.next_iid(s, SUBMISSION);
        let (event, status) = if i % 5 == 4 {
            ("SUBMITFAIL", SUBMIT_FAIL)
        } else {
            ("SUBMITDEFER", SUBMIT_DEFER)
        };
        self.plant_row(
            t,
            s,
            LogKind::TrkMs,
            &msg,
            iid,
            &rcpts,
            event,
            "STOREDRIVER",
            status,
            &ctx,
            "",
            "",
            Some(k),
        );
        let a = self.addr_of(user);
        self.plant_addr(k, &a);
        if event == "SUBMITDEFER" {
            let tr = t + self.lat(MINUTE, 3 * MINUTE);
            self.later(tr, move |sim, t| sim.submit(t, &msg, user, &rcpts));
        }
    }

    // ---- silent drops -----------------------------------------------------------------

    fn plant_drops(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for i in 0..10u32 {
            self.later(t, move |sim, t| sim.drop_msg(t, k, i));
            t += self.lat(30_000, 3 * MINUTE);
        }
    }

    fn drop_msg(&mut self, t: Ms, k: u8, i: u32) {
        match i {
            // A content filter agent drops it without telling anyone.
            0..=5 => {
                let from = self.world.contact(&mut self.rng);
                let msg = self.plant_msg(
                    t,
                    from.clone(),
                    from,
                    "You have won, claim your prize".to_string(),
                    Role::PlantQuiet(k),
                    true,
                    "IPM.Note",
                );
                let m = self.plant_user(None);
                let rcpts = [self.addr_of(m)];
                let f = self.random_server();
                let (iid, te, _) =
                    self.receive_smtp(t, f, Peer::Firewall, Side::Recv, &msg, &rcpts);
                let td = te + self.lat(20, 200);
                self.plant_row(
                    td,
                    f,
                    LogKind::Trk,
                    &msg,
                    iid,
                    &rcpts,
                    "DROP",
                    "AGENT",
                    "",
                    "Content Filter Agent",
                    "",
                    "",
                    Some(k),
                );
                self.plant_addr(k, &rcpts[0]);
            }
            // An administrator deletes queued mail without an NDR.
            6 | 7 => {
                let user = self.plant_user(None);
                let msg = self.person_plant_msg(t, user, "Newsletter draft", Role::PlantQuiet(k));
                let rcpts = [self.world.contact(&mut self.rng)];
                let (s, iid, t2) = self.submit_rows(t, &msg, user, &rcpts);
                let td = t2 + self.lat(2_000, 20_000);
                self.later(td, move |sim, t| {
                    sim.plant_row(
                        t,
                        s,
                        LogKind::Trk,
                        &msg,
                        iid,
                        &rcpts,
                        "DROP",
                        "QUEUE",
                        ADMIN_DELETED,
                        "",
                        "",
                        "",
                        Some(k),
                    );
                });
                let a = self.addr_of(user);
                self.plant_addr(k, &a);
            }
            // A scanner's file in the Pickup folder is malformed.
            _ => {
                let from: Addr = "scanner@corp.example".into();
                let msg = self.plant_msg(
                    t,
                    from.clone(),
                    from,
                    format!("Scan to mail {:03}", 100 + i),
                    Role::PlantQuiet(k),
                    false,
                    "IPM.Note",
                );
                let m = self.plant_user(None);
                let rcpts = [self.addr_of(m)];
                let s = self.random_server();
                let ctx = format!(
                    "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\TransportRoles\\Pickup\\scan{:04}.eml",
                    100 + i
                );
                let iid = self.next_iid(s, TRANSPORT);
                self.plant_row(
                    t,
                    s,
                    LogKind::Trk,
                    &msg,
                    iid,
                    &rcpts,
                    "BADMAIL",
                    "PICKUP",
                    BADMAIL,
                    &ctx,
                    "",
                    "",
                    Some(k),
                );
                self.plant_addr(k, "scanner@corp.example");
            }
        }
    }

    // ---- moderation stall -------------------------------------------------------------

    fn plant_moderation(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for i in 0..5u32 {
            self.later(t, move |sim, t| sim.moderated_msg(t, k, i));
            t += self.lat(MINUTE, 5 * MINUTE);
        }
    }

    fn moderated_msg(&mut self, t: Ms, k: u8, i: u32) {
        let user = self.plant_user(None);
        let msg = self.person_plant_msg(t, user, "Proposal for the board", Role::PlantQuiet(k));
        let board: Addr = "board@corp.example".into();
        let (s, iid, t2) = self.submit_rows(t, &msg, user, std::slice::from_ref(&board));
        let ta = t2 + self.lat(50, 400);
        let arb = [Addr::from(ARBITRATION)];
        self.plant_row(
            ta,
            s,
            LogKind::TrkMa,
            &msg,
            iid,
            &arb,
            "INITMESSAGECREATED",
            "APPROVAL",
            "",
            "",
            &board,
            "",
            Some(k),
        );
        self.plant_addr(k, &board);
        // Nobody approves: it expires, or every moderator's address bounces.
        let (event, wait) = if i < 3 {
            let w = moderation_wait(self.plan.end - self.plan.start);
            ("MODERATIONEXPIRE", w + self.lat(0, w / 10))
        } else {
            ("MODERATORSALLNDR", self.lat(MINUTE, 5 * MINUTE))
        };
        self.later(ta + wait, move |sim, t| {
            let to = [board.clone()];
            sim.plant_row(
                t,
                s,
                LogKind::TrkMa,
                &msg,
                iid,
                &to,
                event,
                "APPROVAL",
                "",
                "",
                "",
                "",
                Some(k),
            );
            let td = t + sim.lat(20, 200);
            let back = msg.sender.clone();
            sim.dsn(td, s, &msg, &board, back);
        });
    }

    // ---- list amplification -----------------------------------------------------------

    fn plant_list(&mut self, t: Ms, k: u8) {
        let user = self.plant_user(None);
        let msg = self.person_plant_msg(t, user, "Invitation: partner day 2027", Role::Plant(k));
        let list: Addr = "all-partners@corp.example".into();
        let mut members: Vec<Addr> = Vec::with_capacity(2_000);
        for i in 0..2_000usize {
            let domain = READER_DOMAINS[(i * 7 + 3) % READER_DOMAINS.len()];
            let a: Addr = format!("member.{i:04}@{domain}").into();
            // Members who left long ago: the firewall rejects them.
            if i % 33 == 7 {
                self.world.bad_external.insert(a.clone());
            }
            members.push(a);
        }
        let (s, iid, t2) = self.submit_rows(t, &msg, user, std::slice::from_ref(&list));
        let te = t2 + self.lat(20, 80);
        self.plant_row(
            te,
            s,
            LogKind::Trk,
            &msg,
            iid,
            &members,
            "EXPAND",
            "ROUTING",
            "",
            "",
            &list,
            "",
            None,
        );
        if let Some(p) = self.stats.plants.get_mut(usize::from(k)) {
            p.recipients += members.len() as u64;
        }
        self.plant_addr(k, &list);
        let mut tb = te + self.lat(200, 2_000);
        for batch in members.chunks(100) {
            let batch = batch.to_vec();
            let msg = msg.clone();
            self.later(tb, move |sim, t| sim.send_out(t, s, &msg, iid, &batch, 0));
            tb += self.lat(1_000, 4_000);
        }
    }

    // ---- backscatter ------------------------------------------------------------------

    fn plant_backscatter(&mut self, t0: Ms, k: u8) {
        let mut t = t0;
        for i in 0..50u32 {
            self.later(t, move |sim, t| sim.backscatter_msg(t, k, i));
            t += self.lat(10_000, 70_000);
        }
    }

    fn backscatter_msg(&mut self, t: Ms, k: u8, i: u32) {
        let domain = FORGED_DOMAINS[self.rng.random_range(0..FORGED_DOMAINS.len())];
        if i % 5 < 3 {
            // Spam with a forged sender to a name nobody has: our NDR goes to the innocent.
            let from: Addr =
                format!("user{:05}@{domain}", self.rng.random_range(0..100_000)).into();
            let msg = self.plant_msg(
                t,
                from.clone(),
                from,
                "Limited offer, 90% off".to_string(),
                Role::PlantBait(k),
                true,
                "IPM.Note",
            );
            let to = self.world.guessed(&mut self.rng);
            self.plant_addr(k, &to);
            self.arrive_from_internet(t, &msg, &[to]);
        } else {
            // Someone forged our addresses: their NDRs come to us for mail we never sent.
            let from: Addr =
                format!("MAILER-DAEMON@mx{}.{domain}", self.rng.random_range(1..9)).into();
            let m = self.plant_user(None);
            let to = self.addr_of(m);
            let msg = self.plant_msg(
                t,
                from,
                self.world.null.clone(),
                "Undeliverable: Limited offer, 90% off".to_string(),
                Role::Plant(k),
                true,
                "REPORT.IPM.Note.NDR",
            );
            self.plant_addr(k, &to);
            self.arrive_from_internet(t, &msg, &[to]);
        }
    }
}
