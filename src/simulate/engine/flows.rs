//! Message flows: submission from a mailbox, categorisation, delivery, transport-to-transport
//! hops, sending out through the firewall, failures with their DSNs, and mailbox rules.

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;

use rand::Rng;

use super::super::out::{fmt_time, push_secs, push_time, LogKind, Ms};
use super::super::world::{Addr, Dest, CUSTOM_DATA, DOMAIN, FW_HOST, FW_IP};
use super::{
    Action, Comp, Failure, Msg, MsgRef, Peer, Role, Row, Side, Sim, Via, DELIVERY, LOOP_HOP_CAP,
    STATUS_AUTH, STATUS_DEFER_CONNECT, STATUS_EXPIRED, STATUS_HOPS, STATUS_NOT_FOUND, STATUS_OK,
    STATUS_QUOTA, STATUS_QUOTA_DEFER, SUBMISSION, TRANSPORT,
};

impl Sim {
    /// The rows of a mailbox submitting `msg`: NOTIFYMAPI and SUBMIT by Mailbox Transport
    /// Submission, RECEIVE by transport. Returns the server, transport id and time.
    pub(crate) fn submit_rows(
        &mut self,
        t: Ms,
        msg: &MsgRef,
        mbx: usize,
        rcpts: &[Addr],
    ) -> (usize, u64, Ms) {
        let s = self.world.mailboxes[mbx].server;
        let client = match self.rng.random_range(0..10) {
            0..=6 => "MOMT",
            7 | 8 => "OWA",
            _ => "AirSync",
        };
        let client =
            format!("{client}, SubmissionAssistant:MailboxTransportSubmissionEmailAssistant");
        let ctx = self.store_ctx(msg.shown_origin(), mbx, msg.class, &client);
        let ip = self.world.servers[s].ip.clone();
        let host = self.world.servers[s].host.clone();
        let name = self.world.servers[s].name.clone();
        let ws = self.world.mailboxes[mbx].workstation.clone();
        let custom = self.store_custom(mbx);
        let mut sub = String::with_capacity(80);
        push_time(&mut sub, msg.shown_origin());
        let _ = write!(sub, ";LSRV={host}:TOTAL-SUB=");
        let sub_lat = self.lat(40, 400);
        push_secs(&mut sub, sub_lat);
        let _ = write!(sub, "|SA=");
        push_secs(&mut sub, sub_lat);
        let notify_info = format!("{sub}|MTSS-PEN=0.000");
        let submit_info = sub.replacen(";LSRV=", ";SRV=", 1);
        let item = format!(
            "S:ItemEntryId=00-00-00-00-{}",
            &self.world.mailboxes[mbx].guid[..8]
        );

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
        let mut upstream = String::new();
        let submit_info = if self.plan.latency {
            let (info, up) = self.info_submit(s, msg, t1);
            upstream = up;
            info
        } else {
            submit_info
        };
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
        self.lat_set(s, iid, t1, upstream.into());
        self.shadow(t2, s, msg, iid, rcpts);
        (s, iid, t2)
    }

    pub(crate) fn submit(&mut self, t: Ms, msg: &MsgRef, mbx: usize, rcpts: &[Addr]) {
        let (s, iid, t2) = self.submit_rows(t, msg, mbx, rcpts);
        let tr = t2 + self.lat(5, 60);
        self.route(tr, s, msg, iid, rcpts, Via::Mailbox);
    }

    /// Categorises `msg`'s recipients on server `s` and sends each group on its way.
    pub(crate) fn route(
        &mut self,
        t: Ms,
        s: usize,
        msg: &MsgRef,
        iid: u64,
        rcpts: &[Addr],
        via: Via,
    ) {
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
                    if hub.is_some()
                        && matches!(via, Via::Server(_))
                        && self.stats.cross_id.is_none()
                    {
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
    pub(crate) fn deliver(
        &mut self,
        t: Ms,
        s: usize,
        msg: &MsgRef,
        iid: u64,
        rcpts: &[Addr],
        attempt: u32,
    ) {
        if msg.comp == Comp::Planted && self.plant_defer_delivery(t, s, msg, iid, rcpts, attempt) {
            return;
        }
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
        let info = match self.plan.latency {
            true => self.info_deliver(s, iid, msg, tt),
            false => None,
        };
        let info = info.unwrap_or_else(|| self.latency_info(s, msg, tt));
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
            self.on_delivered(tt, msg, r);
        }
    }

    /// The full mailbox: the first refusal is always a 5.2.2 (the truth's onset); later the
    /// app's originals are sometimes deferred (4.2.2) and retried, and each first deferral
    /// sends an "inbox is full" notice back to the sender.
    fn quota(&mut self, t: Ms, s: usize, msg: &MsgRef, iid: u64, rcpt: Addr, attempt: u32) {
        if self.plan.defers.is_some() {
            return self.quota_defers(t, s, msg, iid, rcpt, attempt);
        }
        let first = self.stats.loop_onset.is_none();
        let original = msg.gen == Some(0);
        let p_defer = if attempt == 0 { 0.3 } else { 0.55 };
        if !first && original && attempt < 3 && self.chance(p_defer) {
            let ops = self.world.ops;
            self.quota_defer_row(t, s, msg, &rcpt);
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
                    ..Msg::default()
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

    /// The 4.2.2 DEFER row of a delivery into the full mailbox.
    fn quota_defer_row(&mut self, t: Ms, s: usize, msg: &MsgRef, rcpt: &Addr) {
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
                rcpts: std::slice::from_ref(rcpt),
                status: STATUS_QUOTA_DEFER,
                info: &info,
                custom: CUSTOM_DATA,
                traffic: "Email",
                ..Row::default()
            },
        );
    }

    /// The defers scenario's full mailbox: each alert is deferred 0, 1 or 2 times (drawn once,
    /// the very first refusal always a failure so that it marks the onset), then fails 5.2.2
    /// exactly once without a DSN, and only then the mailbox's rule sends exactly one "inbox
    /// full" notice back to the alert's sender. Loop traffic fails as in the incident.
    fn quota_defers(&mut self, t: Ms, s: usize, msg: &MsgRef, iid: u64, rcpt: Addr, attempt: u32) {
        let quota = Failure::new(STATUS_QUOTA, "STOREDRIVER", LogKind::TrkMd);
        if msg.gen != Some(0) {
            self.stats.loop_onset.get_or_insert(t);
            return self.fail(t, s, msg, iid, &rcpt, quota);
        }
        if attempt == 0 {
            let k = if self.stats.loop_onset.is_none() {
                0
            } else {
                self.rng.random_range(0..3)
            };
            msg.planned_defers.set(k);
        }
        if attempt < msg.planned_defers.get() {
            self.quota_defer_row(t, s, msg, &rcpt);
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
        self.stats.loop_onset.get_or_insert(t);
        self.fail_dsn(t, s, msg, iid, &rcpt, quota, false);
        let ops = self.world.ops;
        let tn = t + self.lat(200, 1_500);
        let notice = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: self.world.ops_addr.clone(),
            return_path: self.world.null.clone(),
            subject: format!("Your mailbox is full: {}", msg.subject),
            bytes: self.rng.random_range(3_000..5_000),
            origin: tn,
            comp: msg.comp,
            gen: Some(1),
            class: "IPM.Note.Rules.ReplyTemplate.Microsoft",
            role: Role::Notice,
            ..Msg::default()
        };
        let notice = self.msg(notice);
        msg.fed_loop.set(true);
        let refs = self.plan.defers.is_some_and(|d| d.notice_refs);
        let reference = if refs { msg.id.as_str() } else { "" };
        self.mailbox_rule_ref(tn, ops, &notice, msg.sender.clone(), reference);
    }

    /// A FAIL row and, where Exchange would (or, inside the loop, wrongly does), the DSN.
    pub(super) fn fail(
        &mut self,
        t: Ms,
        s: usize,
        msg: &MsgRef,
        iid: u64,
        rcpt: &Addr,
        f: Failure,
    ) {
        self.fail_dsn(t, s, msg, iid, rcpt, f, true);
    }

    /// [`Sim::fail`]; `dsn` false leaves the DSN out.
    #[allow(clippy::too_many_arguments)]
    fn fail_dsn(
        &mut self,
        t: Ms,
        s: usize,
        msg: &MsgRef,
        iid: u64,
        rcpt: &Addr,
        f: Failure,
        dsn: bool,
    ) {
        let mut f = f;
        let mut ndr_to: Option<Addr> = None;
        match msg.gen {
            _ if !dsn => {}
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
            (ip.clone(), name.clone())
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
                connector: if f.kind == LogKind::TrkMd {
                    ""
                } else {
                    &connector
                },
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
    pub(super) fn dsn(&mut self, t: Ms, s: usize, orig: &MsgRef, failed: &Addr, to: Addr) {
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
            role: orig.role.ndr(),
            ..Msg::default()
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
        self.lat_set(s, iid, t, "".into());
        let tr = t + self.lat(5, 40);
        self.route(tr, s, &ndr, iid, &[to], Via::Generated);
    }

    /// A message generated by a mailbox's rules (auto-reply, "mailbox full" notice).
    pub(crate) fn mailbox_rule(&mut self, t: Ms, mbx: usize, msg: &MsgRef, to: Addr) {
        self.mailbox_rule_ref(t, mbx, msg, to, "");
    }

    /// [`Sim::mailbox_rule`] with the `reference` column set (the message answered).
    pub(crate) fn mailbox_rule_ref(
        &mut self,
        t: Ms,
        mbx: usize,
        msg: &MsgRef,
        to: Addr,
        reference: &str,
    ) {
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
                reference,
                info: "04I: ",
                custom: &custom,
                traffic: "Email",
                ..Row::default()
            },
        );
        self.lat_set(s, iid, t, "".into());
        let tr = t + self.lat(5, 60);
        self.route(tr, s, msg, iid, &rcpts, Via::Generated);
    }

    /// Transport to transport: SEND on `s`, RECEIVE on `d`, then `d` routes.
    fn hop(&mut self, t: Ms, s: usize, d: usize, msg: &MsgRef, iid: u64, rcpts: &[Addr]) {
        let (iid_d, t_end) = self.hop_rows(t, s, d, msg, iid, rcpts);
        let tr = t_end + self.lat(5, 60);
        self.route(tr, d, msg, iid_d, rcpts, Via::Server(s));
    }

    /// The rows and SMTP lines of one hop from `s` to `d`; returns `d`'s internal id and when
    /// `d` queued the message.
    pub(super) fn hop_rows(
        &mut self,
        t: Ms,
        s: usize,
        d: usize,
        msg: &MsgRef,
        iid: u64,
        rcpts: &[Addr],
    ) -> (u64, Ms) {
        let (cs, t1, _) = self.session_begin(t, s, Side::Send, Peer::Server(d));
        let rp = if &*msg.return_path == "<>" {
            ""
        } else {
            &msg.return_path
        };
        let mut tc = t1;
        self.proto(
            tc,
            cs,
            ">",
            &format!("MAIL FROM:<{rp}> SIZE={}", msg.bytes),
            "",
        );
        for r in rcpts {
            self.proto(tc, cs, ">", &format!("RCPT TO:<{r}>"), "");
        }
        tc += 1;
        let (iid_d, t_end, queued) =
            self.receive_smtp(tc, d, Peer::Server(s), Side::HubRecv, msg, rcpts);
        self.proto(tc, cs, "<", "250 2.1.0 Sender OK", "");
        for _ in rcpts {
            self.proto(tc, cs, "<", STATUS_OK, "");
        }
        self.proto(tc, cs, ">", &format!("BDAT {} LAST", msg.bytes), "");
        self.proto(t_end, cs, "<", &queued, "");
        let sid = self.slots[cs].id;
        self.session_done(cs, t_end);

        let ts = t_end + self.lat(1, 5);
        let ctx = format!(
            "{sid:016X};{queued};ClientSubmitTime:{}",
            fmt_time(msg.shown_origin())
        );
        let (info, seg) = match self.plan.latency {
            true => self.info_hub(s, iid, msg, ts, true),
            false => None,
        }
        .unwrap_or_else(|| (self.latency_info(s, msg, ts), String::new()));
        let (ip, name) = (
            self.world.servers[s].ip.clone(),
            self.world.servers[s].name.clone(),
        );
        let (dip, dname) = (
            self.world.servers[d].ip.clone(),
            self.world.servers[d].name.clone(),
        );
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
        if self.plan.latency {
            let up = self
                .lat_ctx
                .get(&(s, iid))
                .map(|c| format!("{}{seg}", c.upstream))
                .unwrap_or_default();
            self.lat_set(d, iid_d, ts, up.into());
        }
        (iid_d, t_end)
    }

    /// Out through the firewall. The firewall checks recipients, so typos fail here.
    pub(crate) fn send_out(
        &mut self,
        t: Ms,
        s: usize,
        msg: &MsgRef,
        iid: u64,
        rcpts: &[Addr],
        attempt: u32,
    ) {
        if let Some(q) = self.plan.queue {
            if s == q.server && t >= q.start && t < q.end && !self.chance(q.pass) {
                self.connect_failure(t, s);
                let info = self.latency_info(s, msg, t);
                let (ip, name) = (
                    self.world.servers[s].ip.clone(),
                    self.world.servers[s].name.clone(),
                );
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
        let rp = if &*msg.return_path == "<>" {
            ""
        } else {
            &msg.return_path
        };
        self.proto(
            tt,
            slot,
            ">",
            &format!("MAIL FROM:<{rp}> SIZE={}", msg.bytes),
            "",
        );
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
        let (ip, name) = (
            self.world.servers[s].ip.clone(),
            self.world.servers[s].name.clone(),
        );
        if !good.is_empty() {
            let ctx = format!(
                "{sid:016X};{queued};ClientSubmitTime:{}",
                fmt_time(msg.shown_origin())
            );
            let plain = self.latency_info(s, msg, ts);
            let connector = self.send_fw.clone();
            // Relayed traffic leaving through the hub shows Exchange's undocumented
            // SENDEXTERNAL now and then, as in real bundles.
            let event = if self.plan.cross_hub == Some(s)
                && msg.comp == Comp::CrossServer
                && self.chance(0.2)
            {
                "SENDEXTERNAL"
            } else {
                "SEND"
            };
            let info = match self.plan.latency {
                true => self.info_hub(s, iid, msg, ts, event == "SEND"),
                false => None,
            }
            .map_or(plain, |(info, _)| info);
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
        if msg.comp == Comp::Responder {
            return self.responder_sent(t, msg, good);
        }
        if self.plan.incident.is_some() && good.contains(&self.world.healthcheck) {
            let back = Rc::new(Msg {
                id: msg.id.clone(),
                nmid: self.nmid(),
                sender: msg.sender.clone(),
                return_path: msg.return_path.clone(),
                subject: msg.subject.clone(),
                bytes: msg.bytes + 1_200,
                origin: msg.origin,
                skew: msg.skew,
                comp: msg.comp,
                gen: msg.gen,
                incoming: true,
                class: msg.class,
                fed_loop: Cell::new(true),
                ..Msg::default()
            });
            let ta = t + self.lat(1_500, 4_000);
            let rcpts = vec![self.world.healthcheck.clone()];
            self.schedule(ta, Action::FromInternet { msg: back, rcpts });
        }
        if msg.comp == Comp::Pingpong && good.contains(&self.world.autoresponder) {
            if let Some((_, rounds)) = self.plan.pingpong {
                if self.stats.pingpong_rounds < rounds {
                    let ta = t + self.lat(20_000, 60_000);
                    self.schedule(ta, Action::PingpongExternal);
                }
            }
        }
    }

    /// Mail from the internet, handed in by the firewall to one of the frontends.
    pub(crate) fn arrive_from_internet(&mut self, t: Ms, msg: &MsgRef, rcpts: &[Addr]) {
        let f = self.random_server();
        self.receive_from(t, f, Peer::Firewall, msg, rcpts);
    }

    /// An SMTP client (firewall, app, stranger) hands `msg` to frontend `f`.
    pub(crate) fn receive_from(
        &mut self,
        t: Ms,
        f: usize,
        peer: Peer,
        msg: &MsgRef,
        rcpts: &[Addr],
    ) {
        let (iid, t_end, _) = self.receive_smtp(t, f, peer, Side::Recv, msg, rcpts);
        self.shadow(t_end, f, msg, iid, rcpts);
        let via = match peer {
            Peer::App | Peer::Bulk | Peer::Flood => Via::App,
            _ => Via::Internet,
        };
        let tr = t_end + self.lat(5, 60);
        self.route(tr, f, msg, iid, rcpts, via);
    }
}
