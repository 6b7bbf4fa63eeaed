//! The flood scenario: one application (its own client IP, like the health-check app) mails
//! one internal mailbox at a steady rate. Heavy, but every message is an ordinary delivery:
//! nothing bounces and nothing answers, so it is a busy pair, not a storm or a loop.

use rand::Rng;

use super::super::out::Ms;
use super::super::world::{Addr, DOMAIN, FLOOD_RECIPIENT, FLOOD_SENDER};
use super::{Action, Comp, Msg, Peer, Role, Sim};

const JOBS: [&str; 4] = [
    "invoice export",
    "order sync",
    "\"stock levels\" report",
    "customer master data",
];

impl Sim {
    /// One flood message at `t`; schedules the next. Arrivals are Poisson between the window's
    /// edges, and the edges themselves always carry a message, so `--flood-from 0` starts in
    /// the bundle's first minute and `--flood-until 1` ends in its last.
    pub(crate) fn flood_msg(&mut self, t: Ms, last: bool) {
        let Some(f) = self.plan.flood else {
            return;
        };
        if !last {
            let (next, is_last) = match self.gap(f.rate) {
                Some(g) if t + g < f.end => (t + g, false),
                _ => (f.end, true),
            };
            self.schedule(
                next,
                Action::Run(Box::new(move |sim, t| sim.flood_msg(t, is_last))),
            );
        }
        self.flood_seq += 1;
        let job = JOBS[(self.flood_seq % JOBS.len() as u64) as usize];
        let sender: Addr = FLOOD_SENDER.into();
        let m = Msg {
            id: self.new_id(DOMAIN),
            nmid: self.nmid(),
            sender: sender.clone(),
            return_path: sender,
            subject: format!(
                "ERP {job}, batch {:06}: {} records",
                self.flood_seq,
                self.rng.random_range(50..500)
            ),
            bytes: self.rng.random_range(20_000..80_000),
            origin: t - self.lat(20, 300),
            comp: Comp::Flood,
            class: "IPM.Note",
            role: Role::Flood,
            ..Msg::default()
        };
        let msg = self.msg(m);
        let s = self.random_server();
        let rcpt: Addr = FLOOD_RECIPIENT.into();
        self.receive_from(t, s, Peer::Flood, &msg, &[rcpt]);
    }
}
