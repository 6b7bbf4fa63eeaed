//! Latency parts in message-info, as Exchange 2016/2019 writes them
//! (`<origination>;SRV=host:TOTAL-SUB=...|SA=...;SRV=host:TOTAL-HUB=...|SMR=...(...)|CAT=...`).
//!
//! Each server's hub clock starts when the previous component ended (submission, or the
//! previous server's SEND), so the components of a row add up exactly to the row's time minus
//! the true origination time. The origination time written is the client's: a skewed client's
//! is off by its skew while the components stay true.

use std::fmt::Write as _;
use std::rc::Rc;

use rand::Rng;

use super::super::out::{push_secs, push_time, Ms, HOUR_MS};
use super::{LatCtx, Msg, Sim};

/// Bookkeeping older than this is dropped (retries come within the hour).
const KEEP: Ms = 6 * HOUR_MS;

impl Sim {
    /// The skew of the client `mbx` submits from (0 unless it is the skewed one).
    pub(crate) fn skew_of(&self, mbx: usize) -> Ms {
        if Some(mbx) == self.skewed_mbx {
            self.plan.skew.unwrap_or(0)
        } else {
            0
        }
    }

    /// Records that the message with internal id `iid` entered server `s`'s hub at `entry`.
    pub(super) fn lat_set(&mut self, s: usize, iid: u64, entry: Ms, upstream: Rc<str>) {
        if !self.plan.latency {
            return;
        }
        while let Some(&(t0, key)) = self.lat_order.front() {
            if t0 >= self.now.saturating_sub(KEEP) {
                break;
            }
            self.lat_order.pop_front();
            if self.lat_ctx.get(&key).is_some_and(|c| c.entry == t0) {
                self.lat_ctx.remove(&key);
            }
        }
        self.lat_ctx.insert((s, iid), LatCtx { entry, upstream });
        self.lat_order.push_back((entry, (s, iid)));
    }

    /// `total` split into `n` random parts (ms) that add up to it.
    fn split(&mut self, total: Ms, n: usize) -> Vec<Ms> {
        let total = total.max(0);
        let mut cuts: Vec<Ms> = (1..n).map(|_| self.rng.random_range(0..=total)).collect();
        cuts.sort_unstable();
        let mut out = Vec::with_capacity(n);
        let mut prev = 0;
        for c in cuts {
            out.push(c - prev);
            prev = c;
        }
        out.push(total - prev);
        out
    }

    /// Writes `NAME=secs`.
    fn part(out: &mut String, name: &str, ms: Ms) {
        out.push_str(name);
        out.push('=');
        push_secs(out, ms);
    }

    /// The parts of a hub's time: receive, categorise, queue, connect, send.
    fn hub_parts(&mut self, out: &mut String, total: Ms) {
        let p = self.split(total, 5);
        let smr = self.split(p[0], 3);
        let cat = self.split(p[1], 3);
        Self::part(out, "|SMR", p[0]);
        Self::part(out, "(SMRDI", smr[0]);
        Self::part(out, "|SMRC", smr[1]);
        Self::part(out, ")|CAT", p[1]);
        Self::part(out, "(CATRESL", cat[0]);
        Self::part(out, "|CATORES", cat[1]);
        Self::part(out, ")|QDM", p[2]);
        Self::part(out, "|SMSC", p[3]);
        Self::part(out, "|SMS", p[4]);
    }

    fn sub_parts(&mut self, out: &mut String, total: Ms, pending: bool) {
        let p = self.split(total, 2);
        Self::part(out, "|SA", p[0]);
        if pending {
            Self::part(out, "|MTSS-PEN", p[1]);
        } else {
            let q = self.split(p[1], 4);
            Self::part(out, "|MTSS", p[1]);
            Self::part(out, "(MTSSD", p[1] - q[3]);
            Self::part(out, "(MTSSDA", q[0]);
            Self::part(out, "|MTSSDC", q[1]);
            Self::part(out, "|SDSSO", q[2]);
            out.push_str("))");
        }
    }

    /// message-info of a SUBMIT row at `t` on `s`; also returns the submission component as
    /// later servers carry it.
    pub(super) fn info_submit(&mut self, s: usize, msg: &Msg, t: Ms) -> (String, String) {
        let host = self.world.servers[s].host.clone();
        let total = t - msg.origin;
        let mut info = String::with_capacity(160);
        push_time(&mut info, msg.shown_origin());
        let _ = write!(info, ";LSRV={host}:TOTAL-SUB=");
        push_secs(&mut info, total);
        self.sub_parts(&mut info, total, false);
        let mut up = String::with_capacity(80);
        let _ = write!(up, ";SRV={host}:TOTAL-SUB=");
        push_secs(&mut up, total);
        self.sub_parts(&mut up, total, true);
        (info, up)
    }

    /// message-info of a SEND (or SENDEXTERNAL) row at `t` on `s`, and this hub's component
    /// as the next server carries it. `None` without the bookkeeping.
    pub(super) fn info_hub(
        &mut self,
        s: usize,
        iid: u64,
        msg: &Msg,
        t: Ms,
        local: bool,
    ) -> Option<(String, String)> {
        let (entry, upstream) = {
            let c = self.lat_ctx.get(&(s, iid))?;
            (c.entry, c.upstream.clone())
        };
        let host = self.world.servers[s].host.clone();
        let total = (t - entry).max(0);
        let mut seg = String::with_capacity(160);
        let _ = write!(seg, "SRV={host}:TOTAL-HUB=");
        push_secs(&mut seg, total);
        self.hub_parts(&mut seg, total);
        let mut info = String::with_capacity(64 + upstream.len() + seg.len());
        push_time(&mut info, msg.shown_origin());
        info.push_str(&upstream);
        info.push(';');
        if local {
            info.push('L');
        }
        info.push_str(&seg);
        Some((info, format!(";{seg}")))
    }

    /// message-info of a DELIVER row at `t` on `s`: the hub's part until the hand-off to
    /// delivery, then the delivery's.
    pub(super) fn info_deliver(&mut self, s: usize, iid: u64, msg: &Msg, t: Ms) -> Option<String> {
        let (entry, upstream) = {
            let c = self.lat_ctx.get(&(s, iid))?;
            (c.entry, c.upstream.clone())
        };
        let host = self.world.servers[s].host.clone();
        let avail = (t - entry).max(0);
        let del = self.lat(8, 60).min(avail);
        let hub = avail - del;
        let mut info = String::with_capacity(320 + upstream.len());
        push_time(&mut info, msg.shown_origin());
        info.push_str(&upstream);
        let _ = write!(info, ";SRV={host}:TOTAL-HUB=");
        push_secs(&mut info, hub);
        self.hub_parts(&mut info, hub);
        let _ = write!(info, ";SRV={host}:TOTAL-DEL=");
        push_secs(&mut info, del);
        let p = self.split(del, 2);
        Self::part(&mut info, "|SMR", p[0]);
        Self::part(&mut info, "(SMRDI", p[0]);
        Self::part(&mut info, ")|SDD", p[1]);
        let q = self.split(p[1], 3);
        Self::part(&mut info, "(SDDR", q[0]);
        Self::part(&mut info, "|X-SDDS", q[1]);
        info.push(')');
        Some(info)
    }

    /// Counts the latency components a row's message-info carries, per server.
    pub(super) fn count_latency(&mut self, info: &str) {
        for seg in info.split(';') {
            let Some(rest) = seg
                .strip_prefix("SRV=")
                .or_else(|| seg.strip_prefix("LSRV="))
            else {
                continue;
            };
            let Some((host, comp)) = rest.split_once(':') else {
                continue;
            };
            let comp = comp.split('=').next().unwrap_or("");
            if !comp.starts_with("TOTAL-") {
                continue;
            }
            let name = host.split('.').next().unwrap_or(host);
            let per = self.stats.latency.entry(name.to_string()).or_default();
            match per.get_mut(comp) {
                Some(n) => *n += 1,
                None => {
                    per.insert(comp.to_string(), 1);
                }
            }
        }
    }
}
