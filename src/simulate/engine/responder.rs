//! The responder scenario: a loop through an outside party that leaves no automation marks.
//!
//! The help desk's inbox rule answers every message with an auto-reply (MAILBOXRULE, null
//! return path, a marker in the subject, or none with `--responder-markers none`). An outside
//! ticket system answers every message it receives within seconds, as an ordinary message
//! (its own return path, IPM.Note, `Re: ` + our subject), so each side keeps answering the
//! other and the subject grows until it hits the cap.

use rand::Rng;

use super::super::out::Ms;
use super::super::world::{Addr, DOMAIN, HELPDESK, TICKETS};
use super::{Action, Comp, Msg, MsgRef, Role, Sim};

/// Auto-reply subject markers, one language after another.
pub(crate) const MARKERS: [&str; 8] = [
    "Automatic reply:",
    "Auto:",
    "Out of Office:",
    "Abwesenheitsnotiz:",
    "Réponse automatique :",
    "Automatikus válasz:",
    "Risposta automatica:",
    "Respuesta automática:",
];
const TOPIC: &str = "[Ticket #4711] printer broken";
/// Subjects longer than this keep only their last characters, as mail systems truncate them.
pub(crate) const SUBJECT_CAP: usize = 200;
const PARTNER_DOMAIN: &str = "partner.example";

/// The last [`SUBJECT_CAP`] characters of `s`, without a leading space.
pub(crate) fn cap_subject(s: String) -> String {
    let n = s.chars().count();
    if n <= SUBJECT_CAP {
        s
    } else {
        let tail: String = s.chars().skip(n - SUBJECT_CAP).collect();
        tail.trim_start().to_string()
    }
}

impl Sim {
    fn ticket_msg(&mut self, t: Ms, subject: String, role: Role) -> MsgRef {
        let from: Addr = TICKETS.into();
        let m = Msg {
            id: self.new_id(PARTNER_DOMAIN),
            nmid: self.nmid(),
            sender: from.clone(),
            return_path: from,
            subject,
            bytes: self.rng.random_range(4_000..9_000),
            origin: t - self.lat(100, 800),
            comp: Comp::Responder,
            incoming: true,
            class: "IPM.Note",
            role,
            ..Msg::default()
        };
        self.msg(m)
    }

    /// The ticket system's first, ordinary message to the help desk.
    pub(crate) fn responder_start(&mut self, t: Ms) {
        let msg = self.ticket_msg(t, TOPIC.to_string(), Role::Starter);
        let rcpts = [Addr::from(HELPDESK)];
        self.arrive_from_internet(t, &msg, &rcpts);
    }

    /// Delivered to the help desk: its rule answers after a moment.
    pub(crate) fn responder_delivered(&mut self, t: Ms, msg: &MsgRef, rcpt: &Addr) {
        if !msg.incoming || &**rcpt != HELPDESK {
            return;
        }
        let delay = self.lat(1_000, 30_000);
        let orig = msg.clone();
        self.schedule(
            t + delay,
            Action::Run(Box::new(move |sim, t| sim.responder_reply(t, &orig))),
        );
    }

    fn responder_reply(&mut self, t: Ms, orig: &MsgRef) {
        let (Some(plan), Some(desk)) = (self.plan.responder, self.world.mailbox_of(HELPDESK))
        else {
            return;
        };
        let marker = if plan.markers {
            MARKERS[(plan.offset + self.responder_seq as usize) % MARKERS.len()]
        } else {
            "Re:"
        };
        self.responder_seq += 1;
        let m = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: self.world.mailboxes[desk].addr.clone(),
            return_path: self.world.null.clone(),
            subject: cap_subject(format!("{marker} {}", orig.subject)),
            bytes: self.rng.random_range(3_000..6_000),
            origin: t,
            comp: Comp::Responder,
            class: "IPM.Note.Rules.ReplyTemplate.Microsoft",
            role: Role::AutoReply,
            ..Msg::default()
        };
        let reply = self.msg(m);
        self.mailbox_rule(t, desk, &reply, orig.sender.clone());
    }

    /// Our auto-reply left through the firewall: the ticket system answers it within 1-20 s,
    /// until someone switches it off.
    pub(crate) fn responder_sent(&mut self, t: Ms, msg: &MsgRef, good: &[Addr]) {
        let Some(plan) = self.plan.responder else {
            return;
        };
        if msg.role != Role::AutoReply || t >= plan.stop || !good.iter().any(|a| &**a == TICKETS) {
            return;
        }
        let delay = self.lat(1_000, 20_000);
        let subject = cap_subject(format!("Re: {}", msg.subject));
        self.schedule(
            t + delay,
            Action::Run(Box::new(move |sim, t| {
                let reply = sim.ticket_msg(t, subject, Role::ExtReply);
                let rcpts = [Addr::from(HELPDESK)];
                sim.arrive_from_internet(t, &reply, &rcpts);
            })),
        );
    }
}
