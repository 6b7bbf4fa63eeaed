//! Which message caused which notification. A notification or automatic reply answers exactly
//! one message: where a row names it (`reference`, on DSN rows, inbox-rule replies, journal
//! reports), that one; otherwise the nearest earlier message that actually reached (or failed
//! for, or left towards) the answering address, matched one to one so that no message is
//! answered twice and retries (DEFER rows of the same message) never count as new messages.
//!
//! An outside auto-responder leaves no automation mark in our logs: its answers arrive as
//! ordinary mail. Where an address outside answers our automated messages within seconds, again
//! and again, those answers are automated too (`responder_answers`); that is how a loop through
//! an outside ticket system becomes visible.

use super::classify::{base_subject, flag, ndr_original_subject, Ev, StatusKind};

use super::intern::{FastMap as HashMap, FastSet as HashSet};
use super::{Class, Model, LINK_WINDOW_MS, NONE};

/// An outside answer must come this soon after our automated message left.
pub const RESPONDER_WINDOW_MS: i64 = 120_000;
/// Answers this fast count even when the subject does not show they belong together.
pub const RESPONDER_TIGHT_MS: i64 = 30_000;
/// Fewest answered rounds that make an exchange a responder loop (one honest auto-reply, or a
/// quick human answer, is not a loop).
pub const RESPONDER_MIN_ROUNDS: usize = 5;
/// A responder loop answers fast as a rule, not by chance.
pub const RESPONDER_MAX_MEDIAN_MS: i64 = 60_000;

/// One moment a message could have caused an automated answer.
#[derive(Clone, Copy)]
struct Trigger {
    t: i64,
    msg: u32,
    /// The answering (or failed) address.
    who: u32,
}

/// Triggers in time order with "nearest earlier unmatched" look-ups in near-constant time.
struct Candidates {
    list: Vec<Trigger>,
    /// skip[i] = i while entry i is available; otherwise a pointer further left (union-find).
    skip: Vec<usize>,
}

impl Candidates {
    fn new(list: Vec<Trigger>) -> Self {
        let skip = (0..list.len()).collect();
        Candidates { list, skip }
    }

    /// The nearest live entry at or before `i` (`usize::MAX` is "none").
    fn find(&mut self, mut i: usize) -> Option<usize> {
        let mut path = Vec::new();
        loop {
            if i == usize::MAX {
                break;
            }
            let s = self.skip[i];
            if s == i {
                break;
            }
            path.push(i);
            i = s;
        }
        for p in path {
            self.skip[p] = i;
        }
        (i != usize::MAX).then_some(i)
    }

    fn kill(&mut self, i: usize) {
        self.skip[i] = i.checked_sub(1).unwrap_or(usize::MAX);
    }

    /// The latest live trigger at or before `t` and not before `t - LINK_WINDOW_MS` that
    /// `usable` accepts (it is then used up); entries it rejects for good are removed.
    fn nearest(&mut self, t: i64, mut usable: impl FnMut(&Trigger) -> Usable) -> Option<Trigger> {
        let end = self.list.partition_point(|c| c.t <= t);
        let mut i = end.checked_sub(1)?;
        loop {
            let j = self.find(i)?;
            let c = self.list[j];
            if c.t < t - LINK_WINDOW_MS {
                return None;
            }
            match usable(&c) {
                Usable::Yes => {
                    self.kill(j);
                    return Some(c);
                }
                Usable::Never => self.kill(j),
                // Not for this answer, but maybe for another: step over it, keep it.
                Usable::NotThis => {}
            }
            i = j.checked_sub(1)?;
        }
    }
}

enum Usable {
    Yes,
    NotThis,
    Never,
}

pub fn link(m: &mut Model) {
    let mut sw = crate::timing::Stopwatch::start();
    explicit(m);
    sw.lap("causality: explicit");
    // The two searches run side by side: the heuristic only sets parents, and the search for
    // outside responders reads none (only marking what it found does, after the heuristic's
    // links are in, as when the steps ran one after the other).
    let (links, answers) = rayon::join(|| heuristic(m), || responder_answers(m));
    for (i, parent) in links {
        m.msgs[i as usize].parent = parent;
    }
    sw.lap("causality: heuristic, responders");
    mark_responders(m, &answers);
    generations(m);
    sw.lap("causality: generations");
}

/// References on the rows of automated messages.
fn explicit(m: &mut Model) {
    for &r in &m.order {
        let r = r as usize;
        let (id, re) = (m.msg[r], m.reference[r]);
        if id == NONE || re == NONE || re == id {
            continue;
        }
        let msg = &mut m.msgs[id as usize];
        if msg.class != Class::Original && msg.parent == NONE {
            msg.parent = re;
        }
    }
}

/// Messages that did not name their cause, matched one to one with the nearest earlier message
/// they can answer: (message, its parent) for each match.
fn heuristic(m: &Model) -> Vec<(u32, u32)> {
    let todo: Vec<u32> = (0..m.msgs.len() as u32)
        .filter(|&i| {
            let x = &m.msgs[i as usize];
            x.counts() && x.class != Class::Original && x.parent == NONE
        })
        .collect();
    // Only the triggers some message will ask for are gathered: an auto-reply asks for
    // (its recipient, its sender), an NDR for its recipient. Most rows are mail between
    // addresses no automated message answers, and filing them was most of this step.
    let mut want_auto: HashSet<(u32, u32)> = HashSet::default();
    // By address: bit 0 a requester some auto-reply asks for, bit 1 one some NDR asks for.
    let mut requester = vec![0u8; m.addrs.len()];
    for &i in &todo {
        let a = &m.msgs[i as usize];
        let Some(&to) = m.msg_recipients(a).first() else {
            continue;
        };
        let bit = if a.class == Class::AutoReply {
            want_auto.insert((to, a.sender));
            1
        } else {
            2
        };
        if let Some(r) = requester.get_mut(to as usize) {
            *r |= bit;
        }
    }
    // The same by message (its sender's bits): one byte per row's message, not its record.
    let wanted: Vec<u8> = m
        .msgs
        .iter()
        .map(|x| requester.get(x.sender as usize).copied().unwrap_or(0))
        .collect();
    // Auto-replies: keyed (requester, responder); NDRs: keyed by requester.
    let mut auto: HashMap<(u32, u32), Vec<Trigger>> = HashMap::default();
    let mut ndr: HashMap<u32, Vec<Trigger>> = HashMap::default();
    let mut related: HashMap<u32, u32> = HashMap::default();
    for &r in &m.order {
        let r = r as usize;
        let id = m.msg[r];
        if id == NONE {
            continue;
        }
        let ev = m.ev[r];
        if ev == Ev::Dsn && m.related[r] != NONE {
            related.entry(id).or_insert(m.related[r]);
        }
        let want = wanted[id as usize];
        if want == 0 {
            continue;
        }
        let (for_auto, for_ndr) = (want & 1 != 0, want & 2 != 0);
        let sender = m.msgs[id as usize].sender;
        let t = m.time[r];
        // It left us: to a host that is not one of our servers, or for an outside address.
        let sent = matches!(ev, Ev::Send | Ev::SendExternal);
        let to_outside_host = sent && !m.is_own_host(m.server_host[r]);
        for (k, &x) in m.recipients(r).iter().enumerate() {
            let outside = sent && (to_outside_host || !m.is_internal(x));
            let kind = m.row_kinds(r)[k];
            let code = m.row_codes(r)[k];
            let failed = matches!(m.code_class(code), 4 | 5);
            let reached = ev == Ev::Deliver
                || outside
                || (matches!(ev, Ev::Defer | Ev::Fail) && kind == StatusKind::MailboxFull);
            if reached && for_auto && want_auto.contains(&(sender, x)) {
                auto.entry((sender, x))
                    .or_default()
                    .push(Trigger { t, msg: id, who: x });
            }
            if for_ndr && ((ev.is_failure() && failed) || outside) {
                ndr.entry(sender)
                    .or_default()
                    .push(Trigger { t, msg: id, who: x });
            }
        }
    }
    let mut auto: HashMap<(u32, u32), Candidates> = auto
        .into_iter()
        .map(|(k, v)| (k, Candidates::new(v)))
        .collect();
    let mut ndr: HashMap<u32, Candidates> = ndr
        .into_iter()
        .map(|(k, v)| (k, Candidates::new(v)))
        .collect();
    let mut answered: HashSet<(u32, u32)> = HashSet::default();
    let mut links = Vec::new();
    let todo = m.by_first(todo);
    for i in todo {
        let a = &m.msgs[i as usize];
        let Some(&to) = m.msg_recipients(a).first() else {
            continue;
        };
        let t = a.first;
        let found = match a.class {
            Class::AutoReply => {
                let me = a.sender;
                auto.get_mut(&(to, me)).and_then(|c| {
                    c.nearest(t, |c| {
                        if c.msg == i || answered.contains(&(c.msg, c.who)) {
                            Usable::Never
                        } else {
                            Usable::Yes
                        }
                    })
                })
            }
            _ => {
                let z = related.get(&i).copied().unwrap_or(NONE);
                // An NDR names the subject it reports on: a message with another subject is
                // not its original, however close in time.
                let about = (a.subject != NONE)
                    .then(|| ndr_original_subject(m.subjects.name(a.subject)))
                    .flatten()
                    .map(base_subject);
                let msgs = &m.msgs;
                let subjects = &m.subjects;
                ndr.get_mut(&to).and_then(|c| {
                    c.nearest(t, |c| {
                        let other_subject = about.is_some_and(|want| {
                            let s = msgs[c.msg as usize].subject;
                            s != NONE && base_subject(subjects.name(s)) != want
                        });
                        if c.msg == i || answered.contains(&(c.msg, c.who)) {
                            Usable::Never
                        } else if (z != NONE && c.who != z) || other_subject {
                            Usable::NotThis
                        } else {
                            Usable::Yes
                        }
                    })
                })
            }
        };
        if let Some(c) = found {
            answered.insert((c.msg, c.who));
            links.push((i, c.msg));
        }
    }
    links
}

/// Answers per exchange (our address, theirs): (our message, their answer, delay).
type Answers = HashMap<(u32, u32), Vec<(u32, u32, i64)>>;

/// Outside auto-responders: answers to our automated messages that arrive within seconds,
/// round after round, are automated themselves. This finds the answers, by exchange;
/// [`mark_responders`] marks those of responder loops.
fn responder_answers(m: &Model) -> Answers {
    // Ordinary mail from outside, by (sender, recipient), in arrival order.
    let mut inbound: HashMap<(u32, u32), Vec<(i64, u32)>> = HashMap::default();
    for (i, x) in m.msgs.iter().enumerate() {
        if !x.counts() || x.class != Class::Original || m.is_internal(x.sender) {
            continue;
        }
        for &r in m.msg_recipients(x) {
            if m.is_internal(r) {
                inbound
                    .entry((x.sender, r))
                    .or_default()
                    .push((x.arrival, i as u32));
            }
        }
    }
    if inbound.is_empty() {
        return Answers::default();
    }
    for v in inbound.values_mut() {
        v.sort_unstable();
    }
    let mut answers: Answers = HashMap::default();
    let mut claimed: HashSet<u32> = HashSet::default();
    let ours: Vec<u32> = (0..m.msgs.len() as u32)
        .filter(|&i| {
            let x = &m.msgs[i as usize];
            x.counts() && x.class != Class::Original && m.is_internal(x.sender)
        })
        .collect();
    let ours = m.by_first(ours);
    for a in ours {
        let x = &m.msgs[a as usize];
        let Some(&y) = m.msg_recipients(x).first() else {
            continue;
        };
        if m.is_internal(y) {
            continue;
        }
        let left = x.left.unwrap_or(x.last);
        let Some(list) = inbound.get(&(y, x.sender)) else {
            continue;
        };
        let from = list.partition_point(|&(t, _)| t <= left);
        for &(t, b) in &list[from..] {
            if t > left + RESPONDER_WINDOW_MS {
                break;
            }
            if claimed.insert(b) {
                answers
                    .entry((x.sender, y))
                    .or_default()
                    .push((a, b, t - left));
                break;
            }
        }
    }
    answers
}

/// Marks the answers of exchanges that answer fast, round after round, as automated replies to
/// our messages ([`responder_answers`]).
fn mark_responders(m: &mut Model, answers: &Answers) {
    for v in answers.values() {
        if v.len() < RESPONDER_MIN_ROUNDS {
            continue;
        }
        let mut delays: Vec<i64> = v.iter().map(|x| x.2).collect();
        delays.sort_unstable();
        if delays[delays.len() / 2] > RESPONDER_MAX_MEDIAN_MS {
            continue;
        }
        for &(a, b, delay) in v {
            let related = {
                let (sa, sb) = (m.msgs[a as usize].subject, m.msgs[b as usize].subject);
                sa != NONE && sb != NONE && {
                    let base = base_subject(m.subjects.name(sa));
                    !base.is_empty() && m.subjects.name(sb).contains(base)
                }
            };
            if !related && delay > RESPONDER_TIGHT_MS {
                continue;
            }
            let bm = &mut m.msgs[b as usize];
            if bm.class == Class::Original && bm.parent == NONE {
                bm.class = Class::AutoReply;
                bm.flags |= flag::INFERRED_REPLY;
                bm.parent = a;
            }
        }
    }
}

/// Generation 0 is an original, 1 a notification about it, 2 and up a notification about a
/// notification. Parents are seen first in time order, except for references to messages
/// outside the bundle (then the chain starts at the automated message, generation 1).
fn generations(m: &mut Model) {
    let ids: Vec<u32> = (0..m.msgs.len() as u32)
        .filter(|&i| m.msgs[i as usize].rows > 0)
        .collect();
    let ids = m.by_first(ids);
    for i in ids {
        let x = &m.msgs[i as usize];
        let p = x.parent;
        let own = u16::from(x.class != Class::Original);
        let g = if p == NONE || p == i || m.msgs[p as usize].rows == 0 {
            own
        } else {
            m.msgs[p as usize].generation.saturating_add(1).max(own)
        };
        m.msgs[i as usize].generation = g;
    }
}
