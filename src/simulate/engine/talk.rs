//! Human conversations (`--conversations`): people inside and outside writing threads of 2-6
//! messages with `Re:` subjects, minutes to an hour apart (now and then within two minutes),
//! and exactly one honest out-of-office reply that nobody answers. A fair negative for loop
//! and storm detection: pairs that write back and forth, but slowly and by hand.

use rand::Rng;

use super::super::out::Ms;
use super::super::plan::MINUTE;
use super::super::world::{Addr, DOMAIN};
use super::{Action, Comp, Msg, MsgRef, Role, Sim};

pub(crate) const TOPICS: [&str; 16] = [
    "Offer for the Hamburg fit-out",
    "Invoice 2026-0815, question about line 3",
    "Workshop \"data quality\" next Tuesday",
    "Can we move our call?",
    "Draft contract, your comments",
    "Delivery address for order 55120",
    "Samples arrived, two are damaged",
    "Visit in December",
    "Price list 2027",
    "Login problem on the supplier portal",
    "Thank you for yesterday",
    "Minutes, kick-off meeting",
    "Training dates, \"Level 2\"",
    "Warranty claim 3381",
    "Room booking for the board meeting",
    "Introduction: new account manager",
];

#[derive(Clone)]
enum Party {
    /// A mailbox of ours.
    In(usize),
    /// Someone outside.
    Out(Addr),
}

impl Sim {
    fn talk_person(&mut self, not: Option<usize>) -> usize {
        loop {
            let m = self.world.users[self.rng.random_range(1..self.world.users.len())];
            if Some(m) != not && !self.world.oof.contains(&m) {
                return m;
            }
        }
    }

    /// Draws every thread up front and schedules its messages; each thread fits in the bundle.
    pub(crate) fn talk_plan(&mut self) {
        let Some(plan) = self.plan.talk else {
            return;
        };
        let (start, end) = (self.plan.start, self.plan.end);
        let lo = start + (end - start) / 20;
        let hi = end - 2 * MINUTE;
        for thread in 0..plan.threads {
            // Thread 0 is with someone outside and ends with their message, which the
            // internal person's out-of-office answers.
            let outside = thread == 0 || self.chance(0.6);
            let a = self.talk_person(None);
            let b = if outside {
                Party::Out(self.world.contact(&mut self.rng))
            } else {
                Party::In(self.talk_person(Some(a)))
            };
            let n: u32 = self.rng.random_range(2..=6);
            let mut gaps: Vec<Ms> = (1..n)
                .map(|_| {
                    if self.chance(0.2) {
                        self.lat(30_000, 120_000)
                    } else {
                        self.lat(2 * MINUTE, 60 * MINUTE)
                    }
                })
                .collect();
            let total: Ms = gaps.iter().sum();
            if total > hi - lo {
                // A short bundle: squeeze the thread, keeping replies at least 30 s apart.
                let room = (hi - lo).max(0);
                for g in &mut gaps {
                    *g = (*g * room / total.max(1)).max(30_000);
                }
            }
            let total: Ms = gaps.iter().sum();
            if hi - total <= lo {
                continue;
            }
            let t0 = self.rng.random_range(lo..hi - total);
            let topic = TOPICS[self.rng.random_range(0..TOPICS.len())];
            let a_starts = if thread == 0 {
                n.is_multiple_of(2)
            } else {
                self.chance(0.5)
            };
            if thread == 0 {
                self.talk_oof_trigger = Some((thread, n - 1));
            }
            let mut t = t0;
            for idx in 0..n {
                if idx > 0 {
                    t += gaps[idx as usize - 1];
                }
                let a_sends = (idx % 2 == 0) == a_starts;
                let (from, to) = if a_sends {
                    (Party::In(a), b.clone())
                } else {
                    (b.clone(), Party::In(a))
                };
                let subject = if idx == 0 {
                    topic.to_string()
                } else {
                    format!("Re: {topic}")
                };
                self.schedule(
                    t,
                    Action::Run(Box::new(move |sim, t| {
                        sim.talk_send(t, thread, idx, &from, &to, subject);
                    })),
                );
            }
        }
    }

    fn talk_send(&mut self, t: Ms, thread: u32, idx: u32, from: &Party, to: &Party, subj: String) {
        let to: Addr = match to {
            Party::In(m) => self.world.mailboxes[*m].addr.clone(),
            Party::Out(a) => a.clone(),
        };
        let role = Role::Talk { thread, idx };
        match from {
            Party::In(m) => {
                let addr = self.world.mailboxes[*m].addr.clone();
                let msg = Msg {
                    id: self.new_id(DOMAIN),
                    nmid: self.nmid(),
                    sender: addr.clone(),
                    return_path: addr,
                    subject: subj,
                    bytes: self.rng.random_range(3_000..60_000),
                    origin: t - self.lat(50, 400),
                    skew: self.skew_of(*m),
                    comp: Comp::Conversation,
                    class: "IPM.Note",
                    role,
                    ..Msg::default()
                };
                let msg = self.msg(msg);
                self.submit(t, &msg, *m, &[to]);
            }
            Party::Out(a) => {
                let domain = a.rsplit_once('@').map_or("contoso.example", |(_, d)| d);
                let msg = Msg {
                    id: self.new_id(domain),
                    nmid: self.nmid(),
                    sender: a.clone(),
                    return_path: a.clone(),
                    subject: subj,
                    bytes: self.rng.random_range(3_000..60_000),
                    origin: t - self.lat(500, 5_000),
                    comp: Comp::Conversation,
                    incoming: true,
                    class: "IPM.Note",
                    role,
                    ..Msg::default()
                };
                let msg = self.msg(msg);
                self.arrive_from_internet(t, &msg, &[to]);
            }
        }
    }

    /// The one out-of-office reply: to the last message of thread 0, never answered.
    pub(crate) fn talk_delivered(&mut self, t: Ms, msg: &MsgRef, rcpt: &Addr) {
        let Role::Talk { thread, idx } = msg.role else {
            return;
        };
        if self.talk_oof_trigger != Some((thread, idx)) {
            return;
        }
        let Some(m) = self.world.mailbox_of(rcpt) else {
            return;
        };
        self.talk_oof_trigger = None;
        let tr = t + self.lat(500, 2_500);
        let reply = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: rcpt.clone(),
            return_path: self.world.null.clone(),
            subject: format!("Automatic reply: {}", msg.subject),
            bytes: self.rng.random_range(3_000..6_000),
            origin: tr,
            comp: Comp::Conversation,
            class: "IPM.Note.Rules.OofTemplate.Microsoft",
            role: Role::TalkOof,
            ..Msg::default()
        };
        let reply = self.msg(reply);
        self.mailbox_rule(tr, m, &reply, msg.sender.clone());
    }
}
