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

    /// Where the latest live trigger at or before `t` and not before `t - LINK_WINDOW_MS` that
    /// `usable` accepts is, without using it up; entries it rejects for good are removed.
    fn peek(&mut self, t: i64, mut usable: impl FnMut(&Trigger) -> Usable) -> Option<usize> {
        let end = self.list.partition_point(|c| c.t <= t);
        let mut i = end.checked_sub(1)?;
        loop {
            let j = self.find(i)?;
            let c = self.list[j];
            if c.t < t - LINK_WINDOW_MS {
                return None;
            }
            match usable(&c) {
                Usable::Yes => return Some(j),
                Usable::Never => self.kill(j),
                // Not for this answer, but maybe for another: step over it, keep it.
                Usable::NotThis => {}
            }
            i = j.checked_sub(1)?;
        }
    }

    /// The trigger [`Candidates::peek`] finds, used up.
    fn nearest(&mut self, t: i64, usable: impl FnMut(&Trigger) -> Usable) -> Option<Trigger> {
        let j = self.peek(t, usable)?;
        self.kill(j);
        Some(self.list[j])
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
    // An NDR that names its original's subject can only answer a message without a subject or
    // with that one: where a requester sends many messages with other subjects (an app's
    // alerts, each its own), stepping over them all for every NDR grew with the square of the
    // flood. So the same triggers are also filed by (requester, base subject), each with its
    // place in the requester's list, and such an NDR looks in its subject's list and in the
    // list without a subject only.
    // Likewise an NDR that names the recipient it failed for (a DSN row's related recipient)
    // looks among the requester's messages to that recipient only.
    let mut bases: HashMap<&str, u32> = HashMap::default();
    let mut by_subject: HashMap<(u32, u32), (Vec<Trigger>, Vec<u32>)> = HashMap::default();
    let mut by_who: HashMap<(u32, u32), Vec<Trigger>> = HashMap::default();
    for (&requester, list) in &ndr {
        for (at, c) in list.iter().enumerate() {
            by_who.entry((requester, c.who)).or_default().push(*c);
            let s = m.msgs[c.msg as usize].subject;
            let base = if s == NONE {
                NONE
            } else {
                let next = bases.len() as u32;
                *bases
                    .entry(base_subject(m.subjects.name(s)))
                    .or_insert(next)
            };
            let (triggers, places) = by_subject.entry((requester, base)).or_default();
            triggers.push(*c);
            places.push(at as u32);
        }
    }
    let mut by_subject: HashMap<(u32, u32), (Candidates, Vec<u32>)> = by_subject
        .into_iter()
        .map(|(k, (v, places))| (k, (Candidates::new(v), places)))
        .collect();
    let mut by_who: HashMap<(u32, u32), Candidates> = by_who
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
                // A message does not answer itself, but may answer another NDR: stepped over,
                // kept. Only what is answered is removed for good, whichever list finds it so;
                // so the lists by subject and the requester's whole list agree.
                let usable = |c: &Trigger, other: bool| {
                    if answered.contains(&(c.msg, c.who)) {
                        Usable::Never
                    } else if c.msg == i || other {
                        Usable::NotThis
                    } else {
                        Usable::Yes
                    }
                };
                match about {
                    Some(want) if z == NONE => {
                        let base = bases.get(want).copied();
                        nearest_about(&mut by_subject, to, base, t, |c| usable(c, false))
                    }
                    _ => {
                        let msgs = &m.msgs;
                        let subjects = &m.subjects;
                        let list = if z == NONE {
                            ndr.get_mut(&to)
                        } else {
                            by_who.get_mut(&(to, z))
                        };
                        list.and_then(|c| {
                            c.nearest(t, |c| {
                                let other_subject = about.is_some_and(|want| {
                                    let s = msgs[c.msg as usize].subject;
                                    s != NONE && base_subject(subjects.name(s)) != want
                                });
                                usable(c, other_subject)
                            })
                        })
                    }
                }
            }
        };
        if let Some(c) = found {
            answered.insert((c.msg, c.who));
            links.push((i, c.msg));
        }
    }
    links
}

/// The trigger of `requester`'s that an NDR about a message with the base subject `base`
/// answers at `t`: the nearest of those with that subject and those without one (where `base`
/// is no subject of `requester`'s, only the latter), as the nearest in the requester's whole
/// list that is without a subject or with that one.
fn nearest_about(
    by_subject: &mut HashMap<(u32, u32), (Candidates, Vec<u32>)>,
    requester: u32,
    base: Option<u32>,
    t: i64,
    mut usable: impl FnMut(&Trigger) -> Usable,
) -> Option<Trigger> {
    let mut best: Option<((u32, u32), usize, u32)> = None;
    for key in [base.map(|b| (requester, b)), Some((requester, NONE))]
        .into_iter()
        .flatten()
    {
        let Some((list, places)) = by_subject.get_mut(&key) else {
            continue;
        };
        if let Some(j) = list.peek(t, &mut usable) {
            if best.is_none_or(|(_, _, place)| places[j] > place) {
                best = Some((key, j, places[j]));
            }
        }
    }
    let (key, j, _) = best?;
    let (list, _) = by_subject.get_mut(&key)?;
    list.kill(j);
    Some(list.list[j])
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

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";

    /// A tracking row of EX02 at `s` seconds past 10:00.
    #[allow(clippy::too_many_arguments)]
    fn row(
        s: u32,
        hop: (&str, &str),
        source: &str,
        ev: &str,
        id: &str,
        to: &str,
        subject: &str,
        from: &str,
    ) -> String {
        let (client, server) = hop;
        let ret = if from.starts_with("postmaster@") {
            "<>"
        } else {
            from
        };
        format!(
            "2026-11-16T10:{:02}:{:02}.000Z,,{client},,{server},,,{source},{ev},{s},<{id}>,,{to},250 2.0.0 OK,1000,1,,,{subject},{from},{ret},,,,,,,,,\n",
            s / 60,
            s % 60
        )
    }

    /// The other side leaves no marks: only EX02's log, where an application sends alerts
    /// outside, each with its own subject, and the outside's NDRs come back minutes later.
    /// An NDR answers the nearest earlier message with the subject it names, or without a
    /// subject, not the nearest message: 280 alerts in between are stepped over.
    #[test]
    fn an_ndr_answers_the_nearest_message_with_its_subject() -> crate::error::Result<()> {
        let mut log = header();
        let app = "app@corp.example";
        let out = ("EX02", "mx.outside.example");
        for n in 0..300 {
            let to = format!("user{}@outside.example", n % 7);
            let subject = if n == 295 {
                String::new()
            } else {
                format!("Alert {n}")
            };
            log += &row(
                n,
                out,
                "SMTP",
                "SEND",
                &format!("a{n}@corp.example"),
                &to,
                &subject,
                app,
            );
        }
        let back = ("mx.outside.example", "EX02");
        for (s, k) in [(400, 10), (401, 150), (402, 290), (403, 999)] {
            let id = format!("ndr{k}@outside.example");
            let subject = format!("Undeliverable: Alert {k}");
            log += &row(
                s,
                back,
                "SMTP",
                "RECEIVE",
                &id,
                app,
                &subject,
                "postmaster@outside.example",
            );
            log += &row(
                s,
                ("EX02", "EX02"),
                "STOREDRIVER",
                "DELIVER",
                &id,
                app,
                &subject,
                "postmaster@outside.example",
            );
        }
        let m = model_of(&log)?;
        // The first NDR's nearest acceptable original is the alert without a subject (sent
        // after Alert 10); the next ones find their own alerts; the last names an alert never
        // sent, and the one without a subject that could have been it is taken already.
        assert_parents(
            &m,
            &[
                ("ndr10@outside.example", Some("a295@corp.example")),
                ("ndr150@outside.example", Some("a150@corp.example")),
                ("ndr290@outside.example", Some("a290@corp.example")),
                ("ndr999@outside.example", None),
            ],
        );
        Ok(())
    }

    fn header() -> String {
        format!(
            "#Software: Microsoft Exchange Server\n#Version: 15.01.2507.023\n#Log-type: Message Tracking Log\n#Date: 2026-11-16T10:00:00.000Z\n#Fields: {FIELDS}\n"
        )
    }

    /// Each NDR's original as the heuristic linked it.
    fn assert_parents(m: &Model, want: &[(&str, Option<&str>)]) {
        for &(ndr, original) in want {
            let i = m.msg_ids.get(ndr).expect("the NDR");
            let p = m.msgs[i as usize].parent;
            let got = (p != NONE).then(|| m.msg_ids.name(p));
            assert_eq!(got, original, "{ndr}");
        }
    }

    /// Reads one log of EX02 into the model.
    fn model_of(log: &str) -> crate::error::Result<Model> {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("EX02").join("MSGTRK2026111610-1.LOG");
        std::fs::create_dir_all(file.parent().expect("folder")).expect("mkdir");
        std::fs::write(&file, log).expect("write");
        let read = crate::ingest::read(
            dir.path(),
            &crate::ingest::Options::default(),
            &super::super::build::ModelCollector,
            &crate::ingest::Quiet,
        )?;
        Ok(Model::from_chunks(read.chunks, read.entries))
    }

    /// The same with the recipient instead of the subject: the alerts all have one subject,
    /// each goes to its own recipient, and our own DSN rows name the recipient they failed
    /// for (related-recipient-address) but not the message (no reference).
    #[test]
    fn an_ndr_naming_its_recipient_answers_the_nearest_message_to_it() -> crate::error::Result<()> {
        let mut log = header();
        let app = "app@corp.example";
        let out = ("EX02", "mx.outside.example");
        for n in 0..300 {
            let to = format!("user{n}@outside.example");
            log += &row(
                n,
                out,
                "SMTP",
                "SEND",
                &format!("a{n}@corp.example"),
                &to,
                "Alert",
                app,
            );
        }
        for (s, k) in [(400, 10), (401, 150), (402, 290), (403, 999)] {
            let id = format!("ndr{k}@corp.example");
            let dsn = row(
                s,
                ("EX02", "EX02"),
                "DSN",
                "DSN",
                &id,
                app,
                "Undeliverable: Alert",
                "postmaster@corp.example",
            );
            // related-recipient-address is the 17th field.
            let mut fields: Vec<String> = dsn.split(',').map(str::to_string).collect();
            fields[16] = format!("user{k}@outside.example");
            log += &fields.join(",");
        }
        let m = model_of(&log)?;
        assert_parents(
            &m,
            &[
                ("ndr10@corp.example", Some("a10@corp.example")),
                ("ndr150@corp.example", Some("a150@corp.example")),
                ("ndr290@corp.example", Some("a290@corp.example")),
                ("ndr999@corp.example", None),
            ],
        );
        Ok(())
    }
}
