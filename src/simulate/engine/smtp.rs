//! SMTP sessions as the protocol logs show them: connections opened with a banner and EHLO,
//! reused for following messages to the same peer while idle ones time out, and the server
//! side of each transaction together with its RECEIVE row.

use std::fmt::Write as _;
use std::rc::Rc;

use rand::Rng;

use super::super::out::{fmt_time, push_field, push_time, LogKind, Ms};
use super::super::world::{
    Addr, APP_HOST, APP_IP, BULK_HOST, BULK_IP, CUSTOM_DATA, FLOOD_HOST, FLOOD_IP, FW_HOST, FW_IP,
    UNEXPECTED_HELO, UNEXPECTED_IP,
};
use super::{
    banner_time, bracketed, reusable, Action, MsgRef, Peer, Row, Session, Side, Sim, EHLO_CAPS,
    EHLO_CAPS_TLS, IDLE_MS, MAX_MSGS_PER_SESSION, STATUS_OK, TLS_INFO, TRANSPORT,
};

impl Sim {
    pub(super) fn proto(&mut self, t: Ms, slot: usize, ev: &str, data: &str, ctx: &str) {
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
        let _ = write!(
            line,
            ",{:016X},{seq},{},{},{ev},",
            sess.id, sess.local, sess.remote
        );
        push_field(&mut line, data);
        line.push(',');
        push_field(&mut line, ctx);
        let (server, kind) = (sess.server, sess.side.kind());
        self.stats.protocol_lines += 1;
        self.out.push(t, server, kind, line);
    }

    pub(super) fn peer_addr(&self, peer: Peer) -> (Rc<str>, Rc<str>) {
        match peer {
            Peer::Firewall => (FW_IP.into(), FW_HOST.into()),
            Peer::App => (APP_IP.into(), APP_HOST.into()),
            Peer::Bulk => (BULK_IP.into(), BULK_HOST.into()),
            Peer::Unexpected => (UNEXPECTED_IP.into(), UNEXPECTED_HELO.into()),
            Peer::Flood => (FLOOD_IP.into(), FLOOD_HOST.into()),
            Peer::Server(d) => (
                self.world.servers[d].ip.clone(),
                self.world.servers[d].host.clone(),
            ),
        }
    }

    pub(super) fn session_alloc(&mut self, t: Ms, s: usize, side: Side, peer: Peer) -> usize {
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
                let port = if matches!(peer, Peer::Server(_)) {
                    2525
                } else {
                    25
                };
                (format!("{}:{eph}", srv.ip), format!("{pip}:{port}"))
            }
        };
        let connector = match (side, peer) {
            (Side::Recv, Peer::App | Peer::Bulk | Peer::Flood) => srv.relay_connector.clone(),
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
    pub(super) fn session_begin(
        &mut self,
        t: Ms,
        s: usize,
        side: Side,
        peer: Peer,
    ) -> (usize, Ms, u32) {
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
        let tt = self.greet(t, slot, s, side, peer);
        if reusable(peer) {
            self.schedule(t + IDLE_MS, Action::CloseSession { slot, id });
        }
        (slot, tt + self.lat(0, 3), 0)
    }

    /// The connect, banner and EHLO lines of a new session; returns when they are done.
    pub(super) fn greet(&mut self, t: Ms, slot: usize, s: usize, side: Side, peer: Peer) -> Ms {
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
        tt
    }

    pub(super) fn session_done(&mut self, slot: usize, t: Ms) {
        let x = &mut self.slots[slot];
        x.busy_until = t;
        if !reusable(x.peer) || x.msgs >= MAX_MSGS_PER_SESSION {
            let tc = t + self.lat(1, 6);
            self.session_close(slot, tc);
        }
    }

    pub(super) fn session_close(&mut self, slot: usize, t: Ms) {
        let side = self.slots[slot].side;
        let (quit, bye) = match side {
            Side::Send => (">", "<"),
            _ => ("<", ">"),
        };
        self.proto(t, slot, quit, "QUIT", "");
        self.proto(
            t,
            slot,
            bye,
            "221 2.0.0 Service closing transmission channel",
            "",
        );
        self.proto(t, slot, "-", "", "Local");
        let x = &mut self.slots[slot];
        x.live = false;
        let key = (x.server, x.side, x.peer);
        if let Some(list) = self.open.get_mut(&key) {
            list.retain(|&i| i != slot);
        }
        self.free.push(slot);
    }

    pub(crate) fn close_session_if_idle(&mut self, t: Ms, slot: usize, id: u64) {
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
    pub(super) fn receive_smtp(
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
        let rp = if &*msg.return_path == "<>" {
            ""
        } else {
            &msg.return_path
        };
        self.proto(
            tt,
            slot,
            "<",
            &format!("MAIL FROM:<{rp}> SIZE={}", msg.bytes),
            "",
        );
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
            self.proto(
                tt,
                slot,
                ">",
                "354 Start mail input; end with <CRLF>.<CRLF>",
                "",
            );
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
        self.lat_set(f, iid, tt, "".into());
        if peer == Peer::Unexpected {
            self.stats.unexpected_msgs += 1;
            self.stats.unexpected_first.get_or_insert(tt);
        }
        (iid, tt, queued)
    }

    /// Forgets a session closed by hand: not reusable, slot free.
    pub(super) fn session_forget(&mut self, slot: usize) {
        let x = &mut self.slots[slot];
        x.live = false;
        let key = (x.server, x.side, x.peer);
        if let Some(list) = self.open.get_mut(&key) {
            list.retain(|&i| i != slot);
        }
        self.free.push(slot);
    }

    /// A short failed connection attempt, logged at most once a minute per server.
    pub(super) fn connect_failure(&mut self, t: Ms, s: usize) {
        if t.saturating_sub(self.last_connect_failure[s]) < 60_000 {
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
}
