//! Module tests of the newer scenarios and flags: each bundle is read back and every truth
//! number is recounted from its rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::engine::MARKERS;
use super::*;

/// One message tracking row, fields as written (30 columns).
pub(super) struct Trk {
    pub(super) f: Vec<String>,
}

impl Trk {
    pub(super) fn time(&self) -> &str {
        &self.f[0]
    }
    pub(super) fn client_ip(&self) -> &str {
        &self.f[1]
    }
    pub(super) fn ctx(&self) -> &str {
        &self.f[5]
    }
    pub(super) fn source(&self) -> &str {
        &self.f[7]
    }
    pub(super) fn event(&self) -> &str {
        &self.f[8]
    }
    pub(super) fn id(&self) -> &str {
        &self.f[10]
    }
    pub(super) fn rcpts(&self) -> Vec<&str> {
        self.f[12].split(';').filter(|s| !s.is_empty()).collect()
    }
    pub(super) fn status(&self) -> &str {
        &self.f[13]
    }
    pub(super) fn reference(&self) -> &str {
        &self.f[17]
    }
    pub(super) fn subject(&self) -> &str {
        &self.f[18]
    }
    pub(super) fn sender(&self) -> &str {
        &self.f[19]
    }
    pub(super) fn return_path(&self) -> &str {
        &self.f[20]
    }
    pub(super) fn direction(&self) -> &str {
        &self.f[22]
    }
}

/// One SMTP protocol log line (9 columns).
pub(super) struct Proto {
    pub(super) f: Vec<String>,
}

/// All rows of a bundle, tracking rows sorted by time (stable).
pub(super) fn read(bytes: &[u8]) -> (Vec<Trk>, Vec<Proto>) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.to_string()))
        .collect::<Result<_, _>>()
        .expect("names");
    let mut trk = Vec::new();
    let mut proto = Vec::new();
    for name in names {
        let mut text = String::new();
        zip.by_name(&name)
            .expect("entry")
            .read_to_string(&mut text)
            .expect("utf-8");
        let body: Vec<&str> = text
            .trim_start_matches('\u{feff}')
            .split_terminator("\r\n")
            .filter(|l| !l.starts_with('#'))
            .collect();
        let body = body.join("\n");
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body.as_bytes());
        for rec in rdr.records() {
            let f: Vec<String> = rec.expect("csv").iter().map(str::to_string).collect();
            if f.len() == 30 {
                trk.push(Trk { f });
            } else {
                assert_eq!(f.len(), 9, "{name}");
                proto.push(Proto { f });
            }
        }
    }
    trk.sort_by(|a, b| a.time().cmp(b.time()));
    proto.sort_by(|a, b| a.f[0].cmp(&b.f[0]));
    (trk, proto)
}

pub(super) fn gen(opts: &SimOptions, dir: &Path, name: &str) -> (Truth, Vec<u8>) {
    let path = dir.join(name);
    let truth = simulate(opts, &path).expect("simulate");
    let bytes = std::fs::read(&path).expect("read zip");
    (truth, bytes)
}

pub(super) fn opts(scenario: Scenario, events: u64) -> SimOptions {
    SimOptions {
        scenario,
        events,
        ..SimOptions::default()
    }
}

fn t(v: &Option<DateTime<Utc>>) -> String {
    v.as_ref().map(rfc3339).unwrap_or_default()
}

/// Rows per message id, in time order.
fn by_id(rows: &[Trk]) -> BTreeMap<&str, Vec<&Trk>> {
    let mut m: BTreeMap<&str, Vec<&Trk>> = BTreeMap::new();
    for r in rows {
        m.entry(r.id()).or_default().push(r);
    }
    m
}

#[test]
fn old_scenarios_keep_their_bytes() {
    // sha256 of each scenario's zip with default options, from before the newer scenarios
    // and flags existed; the committed sample is the mixed scenario's bundle.
    let expected = [
        (
            Scenario::Incident,
            "287ec1d76fd084c981000e25112f5e59e6d98307bcb653dcd0935b913e081fd2",
        ),
        (
            Scenario::Quiet,
            "f9a7ef150dfbec5e574edf88c33883df9f0950bf586150e22ec922a1a7ade115",
        ),
        (
            Scenario::Pingpong,
            "b5582ebcaea0fd49605b32f26c14a994998d61d90978c7dfc5ab38e9d30a2db6",
        ),
        (
            Scenario::UnexpectedIp,
            "2e5ea20a04bb1b2a45e5a6d6afb8ca923f11fa2a9cd6513c8c0cc2b2e53361c3",
        ),
        (
            Scenario::QueueGrowth,
            "ca968c9909aab4d50af61306ba06868dbe488adcd740be574499f7b742e31562",
        ),
        (
            Scenario::CrossServer,
            "ff4a756dd65ac598bffe1cc5a0c3823caf822b6a83c8773e5aef6d9dd6a8389e",
        ),
        (
            Scenario::Mixed,
            "a103b68ecef90405309f436fbd61ecc45ecadc153c3dd806dfe93a6f9acedf7f",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let hex = |b: &[u8]| -> String {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    };
    for (scenario, sha) in expected {
        let (_, bytes) = gen(&opts(scenario, 20_000), dir.path(), "old.zip");
        assert_eq!(hex(&bytes), sha, "{scenario:?}");
    }
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/incident.zip");
    if let Ok(b) = std::fs::read(sample) {
        assert_eq!(hex(&b), expected[6].1, "samples/incident.zip");
    }
}

#[test]
fn hours_set_the_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = SimOptions {
        hours: 3,
        ..opts(Scenario::Incident, 3_000)
    };
    let (truth, bytes) = gen(&o, dir.path(), "h.zip");
    let (rows, _) = read(&bytes);
    assert_eq!(rows.len() as u64, truth.rows);
    let span = truth.end - truth.start;
    assert!(
        span <= chrono::Duration::hours(3) + chrono::Duration::minutes(1),
        "{span}"
    );
    assert!(span >= chrono::Duration::minutes(170), "{span}");
    // The mailbox fills after a quarter of the bundle.
    let onset = truth.loop_onset.expect("onset");
    let q = onset - o.start;
    assert!(
        q >= chrono::Duration::minutes(45) && q < chrono::Duration::minutes(60),
        "{q}"
    );
    assert!(simulate(
        &SimOptions {
            hours: 0,
            ..o.clone()
        },
        &dir.path().join("x.zip")
    )
    .is_err());
}

/// Rows of the flood application's messages, checked against the truth.
fn check_flood(truth: &Truth, rows: &[Trk]) {
    let sender = truth.flood_sender.as_deref().expect("sender");
    let rcpt = truth.flood_recipient.as_deref().expect("recipient");
    let ip = truth.flood_client_ip.as_deref().expect("ip");
    let flood: Vec<&Trk> = rows.iter().filter(|r| r.sender() == sender).collect();
    let ids = by_id(rows);
    let mut first_rows: Vec<&str> = Vec::new();
    for r in &flood {
        assert_eq!(r.rcpts(), [rcpt]);
        assert_eq!(r.return_path(), sender);
        assert!(
            matches!(r.event(), "RECEIVE" | "SEND" | "DELIVER"),
            "plain deliveries only: {}",
            r.event()
        );
        if r.event() == "RECEIVE" && r.source() == "SMTP" && r.client_ip() == ip {
            first_rows.push(ids[r.id()][0].time());
        }
    }
    let distinct: BTreeSet<&str> = flood.iter().map(|r| r.id()).collect();
    assert_eq!(distinct.len() as u64, truth.flood_messages);
    assert_eq!(first_rows.len() as u64, truth.flood_messages);
    first_rows.sort_unstable();
    assert_eq!(first_rows.first().copied(), Some(&*t(&truth.flood_onset)));
    assert_eq!(first_rows.last().copied(), Some(&*t(&truth.flood_end)));
    // Nothing answers the application: no mail to it, no notifications about its mail.
    assert!(rows.iter().all(|r| !r.rcpts().contains(&sender)));
    assert!(rows
        .iter()
        .filter(|r| r.event() == "DSN")
        .all(|r| !distinct.contains(r.reference())));
}

#[test]
fn flood_is_one_pair_in_its_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = SimOptions {
        hours: 3,
        flood_from: 0.9,
        flood_rate: 3.0,
        ..opts(Scenario::Flood, 3_000)
    };
    let (truth, bytes) = gen(&o, dir.path(), "f.zip");
    let (rows, _) = read(&bytes);
    assert_eq!(rows.len() as u64, truth.rows);
    check_flood(&truth, &rows);
    // 18 minutes at 3 a minute, plus the one at the window's end.
    assert!(
        (30..=85).contains(&truth.flood_messages),
        "{}",
        truth.flood_messages
    );
    let onset = truth.flood_onset.expect("onset");
    let from = o.start + chrono::Duration::minutes(162);
    assert!(
        onset >= from && onset < from + chrono::Duration::seconds(1),
        "{onset}"
    );
    assert!(truth.flood_end.expect("end") >= o.start + chrono::Duration::hours(3));
    assert!(truth.rows_per_component["flood"] > 2 * truth.flood_messages);
}

#[test]
fn flood_all_day_spans_the_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = SimOptions {
        hours: 2,
        flood_from: 0.0,
        flood_until: 1.0,
        flood_rate: 0.5,
        seed: 3,
        ..opts(Scenario::Flood, 2_000)
    };
    let (truth, bytes) = gen(&o, dir.path(), "f.zip");
    let (rows, _) = read(&bytes);
    check_flood(&truth, &rows);
    let minute = |s: &str| s[..16].to_string();
    let first_bg = rows
        .iter()
        .find(|r| Some(r.sender()) != truth.flood_sender.as_deref())
        .expect("background");
    assert!(minute(&t(&truth.flood_onset)) <= minute(first_bg.time()));
    assert_eq!(
        minute(&t(&truth.flood_onset)),
        minute(&rfc3339(&truth.start))
    );
    assert_eq!(minute(&t(&truth.flood_end)), minute(&rfc3339(&truth.end)));
    let b = gen(&o, dir.path(), "g.zip").1;
    assert!(b == bytes, "deterministic");
}

#[test]
fn defers_account_for_every_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    for refs in [false, true] {
        let o = SimOptions {
            notice_refs: refs,
            ..opts(Scenario::Defers, 6_000)
        };
        let (truth, bytes) = gen(&o, dir.path(), "d.zip");
        let (rows, _) = read(&bytes);
        assert_eq!(rows.len() as u64, truth.rows);
        let ops = "ops.alerts@corp.example";
        let app = "healthcheck@corp.example";
        // Alerts: the app's messages to ops.alerts.
        let alerts: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.sender() == app && r.return_path() == app && r.rcpts() == [ops])
            .map(|r| r.id())
            .collect();
        let mut defers: HashMap<&str, u64> = HashMap::new();
        let mut fails: HashMap<&str, (u64, String)> = HashMap::new();
        let mut defer_rows = 0;
        for r in &rows {
            if r.event() == "DEFER" && r.status().contains(" 4.2.2 ") {
                defer_rows += 1;
                assert!(alerts.contains(r.id()), "only alerts are deferred");
                *defers.entry(r.id()).or_default() += 1;
            }
            if r.event() == "FAIL" && alerts.contains(r.id()) {
                assert!(r.status().starts_with("554 5.2.2 "), "{}", r.status());
                let e = fails.entry(r.id()).or_insert((0, r.time().to_string()));
                e.0 += 1;
            }
        }
        assert_eq!(defer_rows, truth.defer_rows);
        assert!(
            fails.values().all(|(n, _)| *n == 1),
            "exactly one failure per alert"
        );
        let mut buckets = [0u64; 3];
        for id in fails.keys() {
            let d = defers.get(id).copied().unwrap_or(0);
            assert!(d <= 2);
            buckets[d as usize] += 1;
            // Deferrals come before the failure.
        }
        assert_eq!(buckets[0], truth.alerts_not_deferred);
        assert_eq!(buckets[1], truth.alerts_deferred_once);
        assert_eq!(buckets[2], truth.alerts_deferred_twice);
        for b in buckets {
            assert!(
                b * 5 > fails.len() as u64,
                "roughly a third each: {buckets:?}"
            );
        }
        // No DSN about an alert: the notice is the only answer.
        assert!(rows
            .iter()
            .filter(|r| r.event() == "DSN")
            .all(|r| !alerts.contains(r.reference())));
        // Exactly one notice per failed alert, after its failure.
        let notices: Vec<&Trk> = rows
            .iter()
            .filter(|r| r.source() == "MAILBOXRULE" && r.sender() == ops)
            .collect();
        assert_eq!(notices.len() as u64, truth.notices);
        assert_eq!(truth.notices, fails.len() as u64);
        assert_eq!(truth.originals_feeding_loop, truth.notices);
        for n in &notices {
            assert_eq!(n.event(), "RECEIVE");
            assert_eq!(n.return_path(), "<>");
            assert_eq!(n.rcpts(), [app]);
            assert!(n
                .ctx()
                .contains("MessageClass:IPM.Note.Rules.ReplyTemplate.Microsoft"));
        }
        if refs {
            let mut seen = BTreeSet::new();
            for n in &notices {
                let (k, at) = fails
                    .get(n.reference())
                    .expect("notice refers to a failed alert");
                assert_eq!(*k, 1);
                assert!(n.time() > at.as_str());
                assert!(seen.insert(n.reference()), "one notice per alert");
            }
        } else {
            assert!(notices.iter().all(|n| n.reference().is_empty()));
        }
        // The first refusal is the onset: a failure, no deferral before it.
        let onset = t(&truth.loop_onset);
        let first_refusal = rows
            .iter()
            .find(|r| r.rcpts() == [ops] && matches!(r.event(), "DEFER" | "FAIL"))
            .expect("refusal");
        assert_eq!(first_refusal.time(), onset);
        assert_eq!(first_refusal.event(), "FAIL");
        assert_eq!(
            truth.quota_first_failure,
            Some((ops.to_string(), truth.loop_onset.expect("onset")))
        );
        // The loop goes on through the fake address and back.
        assert!(truth.loop_max_generation >= 3);
        assert!(rows
            .iter()
            .any(|r| r.event() == "FAIL" && r.status().contains("5.1.1") && r.rcpts() == [app]));
    }
}

#[test]
fn responder_loops_without_marks_on_their_side() {
    let dir = tempfile::tempdir().expect("tempdir");
    for markers in [Markers::Auto, Markers::None] {
        let o = SimOptions {
            responder_markers: markers,
            responder_minutes: 30,
            ..opts(Scenario::Responder, 4_000)
        };
        let (truth, bytes) = gen(&o, dir.path(), "r.zip");
        let (rows, _) = read(&bytes);
        let desk = truth.responder_internal.as_deref().expect("internal");
        let tickets = truth.responder_external.as_deref().expect("external");
        let mut members = vec![desk, tickets];
        members.sort_unstable();
        assert_eq!(truth.responder_members, members);
        let ours: Vec<&Trk> = rows
            .iter()
            .filter(|r| r.source() == "MAILBOXRULE" && r.sender() == desk)
            .collect();
        assert_eq!(ours.len() as u64, truth.responder_rounds);
        assert!(truth.responder_rounds >= 40, "{}", truth.responder_rounds);
        assert_eq!(ours[0].time(), t(&truth.responder_onset));
        for r in &ours {
            assert_eq!(r.return_path(), "<>");
            assert_eq!(r.rcpts(), [tickets]);
            assert!(r.subject().chars().count() <= 200);
            let marked = MARKERS.iter().any(|m| r.subject().starts_with(m));
            match markers {
                Markers::Auto => assert!(marked || r.subject().chars().count() >= 199),
                Markers::None => {
                    assert!(MARKERS.iter().all(|m| !r.subject().contains(m)));
                    let capped = r.subject().chars().count() >= 199;
                    assert!(r.subject().starts_with("Re: ") || capped, "{}", r.subject());
                }
            }
        }
        // Their side: ordinary incoming mail through the firewall.
        let theirs: Vec<&Trk> = rows
            .iter()
            .filter(|r| {
                r.sender() == tickets && r.event() == "RECEIVE" && r.client_ip() == "192.0.2.10"
            })
            .collect();
        // The first is the ordinary message that started it; the rest are replies.
        let starter = theirs.first().map(|r| r.id()).expect("starter");
        assert_eq!(theirs[0].subject(), "[Ticket #4711] printer broken");
        let replies: BTreeSet<&str> = theirs
            .iter()
            .map(|r| r.id())
            .filter(|id| *id != starter)
            .collect();
        assert_eq!(replies.len() as u64, truth.responder_external_replies);
        for r in &theirs {
            assert_eq!(r.return_path(), tickets);
            assert_eq!(r.direction(), "Incoming");
            assert_eq!(r.source(), "SMTP");
        }
        assert!(truth.responder_external_replies <= truth.responder_rounds);
        assert!(truth.responder_rounds <= truth.responder_external_replies + 1);
        // The end: the last row of either side's answers.
        let ours_ids: BTreeSet<&str> = ours.iter().map(|r| r.id()).collect();
        let last = rows
            .iter()
            .filter(|r| ours_ids.contains(r.id()) || replies.contains(r.id()))
            .map(Trk::time)
            .max()
            .expect("rows");
        assert_eq!(last, t(&truth.responder_end));
        let span = truth.responder_end.expect("end") - truth.responder_onset.expect("onset");
        assert!(
            span > chrono::Duration::minutes(29) && span < chrono::Duration::minutes(32),
            "{span}"
        );
    }
}

#[test]
fn conversations_are_threads_and_one_oof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = SimOptions {
        conversations: true,
        ..opts(Scenario::Quiet, 8_000)
    };
    let (truth, bytes) = gen(&o, dir.path(), "q.zip");
    let (rows, _) = read(&bytes);
    assert_eq!(rows.len() as u64, truth.rows);
    assert_eq!(truth.newsletter_recipients, 3_000);
    let topics: BTreeSet<&str> = super::engine::TALK_TOPICS.iter().copied().collect();
    let mut starts = BTreeSet::new();
    let mut msgs = BTreeSet::new();
    for r in &rows {
        let s = r.subject();
        let bare = s.strip_prefix("Re: ").unwrap_or(s);
        if topics.contains(bare) && r.return_path() != "<>" {
            msgs.insert(r.id());
            if bare == s {
                starts.insert(r.id());
            }
        }
    }
    assert_eq!(msgs.len() as u64, truth.conversation_messages);
    assert_eq!(starts.len() as u64, truth.conversation_threads);
    assert_eq!(truth.conversation_threads, 20);
    assert!(truth.conversation_messages >= 2 * truth.conversation_threads);
    assert!(truth.conversation_messages <= 6 * truth.conversation_threads);
    // Exactly one out-of-office reply to a conversation, and its addressee never answers it.
    let oof: Vec<&Trk> = rows
        .iter()
        .filter(|r| {
            r.source() == "MAILBOXRULE"
                && r.subject()
                    .strip_prefix("Automatic reply: ")
                    .is_some_and(|x| topics.contains(x.strip_prefix("Re: ").unwrap_or(x)))
        })
        .collect();
    assert_eq!(oof.len(), 1);
    assert_eq!(truth.conversation_oof_replies, 1);
    assert!(oof[0].ctx().contains("OofTemplate"));
    let to = oof[0].rcpts()[0].to_string();
    assert!(!to.ends_with("@corp.example"));
    assert!(rows
        .iter()
        .all(|r| !(r.sender() == to && r.subject().contains(oof[0].subject()))));
}
