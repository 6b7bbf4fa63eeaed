//! Module tests of the newer scenarios and flags: each bundle is read back and every truth
//! number is recounted from its rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::engine::MARKERS;
use super::*;

/// One message tracking row, fields as written (30 columns), with its server and file.
pub(super) struct Trk {
    pub(super) f: Vec<String>,
    pub(super) server: String,
    pub(super) path: String,
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
    pub(super) fn iid(&self) -> &str {
        &self.f[9]
    }
    pub(super) fn client_host(&self) -> &str {
        &self.f[2]
    }
    pub(super) fn count(&self) -> &str {
        &self.f[15]
    }
    pub(super) fn related(&self) -> &str {
        &self.f[16]
    }
    pub(super) fn info(&self) -> &str {
        &self.f[21]
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

/// One SMTP protocol log line (9 columns), with its server.
pub(super) struct Proto {
    pub(super) f: Vec<String>,
    pub(super) server: String,
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
        let server = name.split('/').next().unwrap_or("").to_string();
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
                trk.push(Trk {
                    f,
                    server: server.clone(),
                    path: name.clone(),
                });
            } else {
                assert_eq!(f.len(), 9, "{name}");
                proto.push(Proto {
                    f,
                    server: server.clone(),
                });
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
    let sample = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("samples/incident.zip");
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

/// Milliseconds of a row time.
fn ms(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .unwrap_or(i64::MIN)
}

fn is_probe(r: &Trk) -> bool {
    r.sender().starts_with("HealthMailbox")
        || r.rcpts().iter().any(|a| a.starts_with("HealthMailbox"))
}

#[test]
fn probes_are_counted_noise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = SimOptions {
        probes: true,
        hours: 4,
        servers: 3,
        ..opts(Scenario::Quiet, 4_000)
    };
    let (truth, bytes) = gen(&o, dir.path(), "p.zip");
    let (rows, _) = read(&bytes);
    let ha = |r: &Trk| matches!(r.event(), "HAREDIRECT" | "HARECEIVE" | "HADISCARD");
    let noise = rows.iter().filter(|r| is_probe(r) || ha(r)).count() as u64;
    assert_eq!(noise, truth.noise_rows);
    let probes: BTreeSet<&str> = rows
        .iter()
        .filter(|r| is_probe(r) && !r.id().is_empty())
        .map(|r| r.id())
        .collect();
    assert_eq!(probes.len() as u64, truth.noise_messages);
    // Three probes per server every five minutes.
    let expected = 3 * 3 * 4 * 12;
    assert!(
        probes.len() as u64 >= expected - 12 && probes.len() as u64 <= expected + 12,
        "{}",
        probes.len()
    );
    assert_eq!(
        truth.rows_per_component["noise"],
        rows.iter().filter(|r| is_probe(r)).count() as u64
    );
    // Health mailboxes: one or two per server, HealthMailbox + 32 lower-case hex digits.
    let mut seen = BTreeSet::new();
    for r in rows.iter().filter(|r| is_probe(r)) {
        for a in r.rcpts().into_iter().chain([r.sender()]) {
            if a.starts_with("HealthMailbox") {
                seen.insert(a.to_string());
            }
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), truth.health_mailboxes);
    assert!((3..=6).contains(&truth.health_mailboxes.len()));
    for a in &truth.health_mailboxes {
        let hex = a
            .strip_prefix("HealthMailbox")
            .and_then(|x| x.strip_suffix("@corp.example"))
            .expect("name");
        assert!(
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
    // Every shadow copy: HAREDIRECT where the message is, HARECEIVE on another server with
    // the internal id the HAREDIRECT names.
    let mut redirects: HashMap<(&str, &str), &Trk> = HashMap::new();
    for r in rows.iter().filter(|r| r.event() == "HAREDIRECT") {
        assert!(
            r.ctx().ends_with("Queued mail for redundancy"),
            "{}",
            r.ctx()
        );
        let iid = r
            .ctx()
            .split("InternalId=")
            .nth(1)
            .and_then(|x| x.split(',').next())
            .expect("id");
        redirects.insert((r.id(), iid), r);
    }
    let received: Vec<&Trk> = rows.iter().filter(|r| r.event() == "HARECEIVE").collect();
    assert_eq!(received.len(), redirects.len());
    assert!(received.len() > 100, "{}", received.len());
    for r in &received {
        let from = redirects.get(&(r.id(), r.iid())).expect("its HAREDIRECT");
        assert_ne!(from.server, r.server);
        assert!(r.client_host().starts_with(&from.server));
        assert!(r.time() >= from.time());
        assert!(from
            .ctx()
            .contains(&format!("Hostname={}.corp.example", r.server)));
    }
    let discards = rows.iter().filter(|r| r.event() == "HADISCARD").count();
    assert!(
        discards > 0 && discards * 20 < received.len(),
        "rare: {discards}"
    );
    // Probes come from the server itself, never from outside.
    for r in rows
        .iter()
        .filter(|r| is_probe(r) && r.event() == "RECEIVE" && r.source() == "SMTP")
    {
        assert!(
            r.client_host().starts_with(&r.server),
            "{}",
            r.client_host()
        );
    }
}

/// `(origination, sum of TOTAL-* components)` of a message-info, in ms.
fn latency_of(info: &str) -> Option<(i64, i64, bool)> {
    let mut parts = info.split(';');
    let origin = ms(parts.next()?);
    let mut sum = 0;
    let mut sub = false;
    let mut any = false;
    for seg in parts {
        let Some(rest) = seg
            .strip_prefix("SRV=")
            .or_else(|| seg.strip_prefix("LSRV="))
        else {
            continue;
        };
        let (_, comp) = rest.split_once(':')?;
        let (name, val) = comp.split_once('=')?;
        let val = val.split('|').next()?;
        let (secs, frac) = val.split_once('.')?;
        sum += secs.parse::<i64>().ok()? * 1000 + frac.parse::<i64>().ok()?;
        sub |= name == "TOTAL-SUB";
        any = true;
    }
    any.then_some((origin, sum, sub))
}

#[test]
fn latency_parts_add_up_and_one_client_is_skewed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for skew in [600_000i64, -7_200_000] {
        let o = SimOptions {
            latency_parts: true,
            skewed_client: Some(skew),
            conversations: true,
            ..opts(Scenario::Quiet, 6_000)
        };
        let (truth, bytes) = gen(&o, dir.path(), "l.zip");
        let (rows, _) = read(&bytes);
        let mbx = truth.skewed_client_mailbox.clone().expect("mailbox");
        let ws = truth.skewed_client.clone().expect("workstation");
        assert_eq!(truth.skewed_client_offset_ms, Some(skew));
        let skewed: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.sender() == mbx && r.return_path() == mbx && !r.id().is_empty())
            .map(|r| r.id())
            .collect();
        assert_eq!(skewed.len() as u64, truth.skewed_client_messages);
        assert!(truth.skewed_client_messages >= 3);
        // Its submissions come from its workstation.
        assert!(rows
            .iter()
            .filter(|r| r.sender() == mbx && r.event() == "RECEIVE" && r.source() == "STOREDRIVER")
            .all(|r| r.f[24] == ws));
        let mut per: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut exact = 0;
        for r in &rows {
            for seg in r.info().split(';') {
                if let Some(rest) = seg
                    .strip_prefix("SRV=")
                    .or_else(|| seg.strip_prefix("LSRV="))
                {
                    if let Some((host, comp)) = rest.split_once(':') {
                        let comp = comp.split('=').next().unwrap_or("");
                        let name = host.split('.').next().unwrap_or(host).to_string();
                        *per.entry(name)
                            .or_default()
                            .entry(comp.to_string())
                            .or_default() += 1;
                    }
                }
            }
            if !matches!(r.event(), "SUBMIT" | "DELIVER" | "SEND" | "SENDEXTERNAL") {
                continue;
            }
            let (origin, sum, sub) = latency_of(r.info()).expect("latency parts");
            let shift = if r.sender() == mbx { skew } else { 0 };
            let true_origin = origin - shift;
            let t = ms(r.time());
            assert!(true_origin + sum <= t, "{} {}", r.time(), r.info());
            if sub {
                // Submitted here: the components cover the whole way.
                assert_eq!(true_origin + sum, t, "{} {}", r.time(), r.info());
                exact += 1;
            }
            if r.event() == "SUBMIT" && shift != 0 {
                let d = origin - t;
                assert!(
                    (d - skew).abs() < 1_000,
                    "shown origin off by the skew: {d}"
                );
            }
            assert!(r.info().contains("TOTAL-"));
        }
        assert!(exact > 1_000, "{exact}");
        assert_eq!(per, truth.latency_truth);
        assert!(per.values().all(|m| m.contains_key("TOTAL-SUB")
            && m.contains_key("TOTAL-HUB")
            && m.contains_key("TOTAL-DEL")));
    }
}

/// The rows each planted incident consists of, found from the bundle alone, and its count.
fn incident_rows<'a>(
    kind: PlantKind,
    rows: &'a [Trk],
    addresses: &[String],
) -> (Vec<&'a Trk>, u64) {
    let ids = by_id(rows);
    // Messages, their NDRs (DSN rows name the original in `reference`), and all their rows.
    let ndrs_of = |orig: &BTreeSet<&'a str>| -> BTreeSet<&'a str> {
        rows.iter()
            .filter(|r| r.event() == "DSN" && orig.contains(r.reference()))
            .map(|r| r.id())
            .collect()
    };
    let whole = |set: &BTreeSet<&'a str>| -> Vec<&'a Trk> {
        set.iter().flat_map(|id| ids[id].iter().copied()).collect()
    };
    let ids_where = |f: &dyn Fn(&Trk) -> bool| -> BTreeSet<&'a str> {
        rows.iter().filter(|r| f(r)).map(|r| r.id()).collect()
    };
    let tagged = |f: &dyn Fn(&Trk) -> bool| -> (Vec<&'a Trk>, u64) {
        let v: Vec<&Trk> = rows.iter().filter(|r| f(r)).collect();
        let n = v.iter().map(|r| r.id()).collect::<BTreeSet<_>>().len() as u64;
        (v, n)
    };
    let with_ndrs = |orig: BTreeSet<&'a str>| -> (Vec<&'a Trk>, u64) {
        let mut all = orig.clone();
        all.extend(ndrs_of(&orig));
        (whole(&all), orig.len() as u64)
    };
    match kind {
        PlantKind::HopCountLoop => {
            with_ndrs(ids_where(&|r| r.rcpts().contains(&"x@partner.example")))
        }
        PlantKind::ThrottledAutoReply => {
            let pair = |a: &str| addresses.iter().any(|x| x == a);
            let replies = ids_where(&|r| {
                matches!(r.event(), "RECEIVE" | "THROTTLE")
                    && r.source() == "MAILBOXRULE"
                    && pair(r.sender())
                    && r.rcpts().iter().all(|a| pair(a))
            });
            let starts = ids_where(&|r| {
                pair(r.sender())
                    && ["Team lunch on Friday?", "Re: Q4 planning", "Parking passes"]
                        .contains(&r.subject())
            });
            let mut all = replies.clone();
            all.extend(starts);
            (whole(&all), replies.len() as u64)
        }
        PlantKind::TransportRuleLoop => with_ndrs(ids_where(&|r| {
            r.event() == "FAIL" && r.status().contains(" 5.7.128 ")
        })),
        PlantKind::ReceiveLimit => {
            let failed = ids_where(&|r| {
                r.event() == "FAIL" && super::engine::LIMITS.iter().any(|l| r.status() == *l)
            });
            let n = failed.len() as u64;
            let (mut v, _) = with_ndrs(failed.clone());
            let sender = rows
                .iter()
                .find(|r| failed.contains(r.id()))
                .map(|r| r.sender())
                .unwrap_or("");
            let ok = ids_where(&|r| r.sender() == sender && r.subject() == "Daily export")
                .into_iter()
                .filter(|id| !failed.contains(id))
                .collect();
            v.extend(whole(&ok));
            (v, n)
        }
        PlantKind::DeliveryThrottling => tagged(&|r| {
            r.event() == "DEFER"
                && r.status() == "432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded"
        }),
        PlantKind::QueueExpiry => with_ndrs(ids_where(&|r| {
            r.rcpts().iter().any(|a| a.ends_with("@deadhost.example"))
        })),
        PlantKind::PoisonMessage => tagged(&|r| r.event() == "POISONMESSAGE"),
        PlantKind::ShadowRedundancyFailure => tagged(&|r| r.event() == "HAREDIRECTFAIL"),
        PlantKind::DuplicateDelivery => tagged(&|r| r.event().starts_with("DUPLICATE")),
        PlantKind::SafetyNetResubmit => tagged(&|r| r.source() == "SAFETYNET"),
        PlantKind::SubmissionFailure => {
            tagged(&|r| matches!(r.event(), "SUBMITDEFER" | "SUBMITFAIL"))
        }
        PlantKind::SilentDrop => tagged(&|r| matches!(r.event(), "DROP" | "BADMAIL")),
        PlantKind::ModerationStall => tagged(&|r| r.source() == "APPROVAL"),
        PlantKind::ListAmplification => {
            let expand: Vec<&Trk> = rows
                .iter()
                .filter(|r| r.event() == "EXPAND" && r.related() == "all-partners@corp.example")
                .collect();
            let n = expand
                .iter()
                .map(|r| r.count().parse::<u64>().unwrap_or(0))
                .sum();
            let (v, _) = with_ndrs(expand.iter().map(|r| r.id()).collect());
            (v, n)
        }
        PlantKind::Backscatter => {
            let forged = |a: &str| super::engine::FORGED_DOMAINS.iter().any(|d| a.ends_with(d));
            let spam =
                ids_where(&|r| forged(r.sender()) && !r.sender().starts_with("MAILER-DAEMON@"));
            let ours = ndrs_of(&spam);
            let theirs =
                ids_where(&|r| r.sender().starts_with("MAILER-DAEMON@") && forged(r.sender()));
            let mut all = spam;
            all.extend(ours.iter().copied());
            all.extend(theirs.iter().copied());
            (whole(&all), (ours.len() + theirs.len()) as u64)
        }
        PlantKind::BackPressure => (Vec::new(), 0),
    }
}

fn codes_of<'a>(statuses: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    let mut p = super::engine::PlantStat::default();
    for s in statuses {
        p.codes_in(s);
    }
    p.codes
}

#[test]
fn planted_incidents_match_their_rows() {
    let all = [
        PlantKind::HopCountLoop,
        PlantKind::ThrottledAutoReply,
        PlantKind::TransportRuleLoop,
        PlantKind::ReceiveLimit,
        PlantKind::DeliveryThrottling,
        PlantKind::BackPressure,
        PlantKind::QueueExpiry,
        PlantKind::PoisonMessage,
        PlantKind::ShadowRedundancyFailure,
        PlantKind::DuplicateDelivery,
        PlantKind::SafetyNetResubmit,
        PlantKind::SubmissionFailure,
        PlantKind::SilentDrop,
        PlantKind::ModerationStall,
        PlantKind::ListAmplification,
        PlantKind::Backscatter,
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut plants = all.to_vec();
    plants.reverse();
    plants.push(PlantKind::Backscatter);
    let o = SimOptions {
        plants,
        probes: true,
        ..opts(Scenario::Quiet, 6_000)
    };
    let (truth, bytes) = gen(&o, dir.path(), "pl.zip");
    let (rows, proto) = read(&bytes);
    assert_eq!(rows.len() as u64, truth.rows);
    let kinds: Vec<PlantKind> = truth.incidents.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, all, "each kind once, in a fixed order");
    for inc in &truth.incidents {
        let (found, count, servers, codes) = if inc.kind == PlantKind::BackPressure {
            let lines: Vec<&Proto> = proto
                .iter()
                .filter(|p| p.f[6] == ">" && p.f[7] == "452 4.3.1 Insufficient system resources")
                .collect();
            let sessions: BTreeSet<&str> = lines.iter().map(|p| p.f[2].as_str()).collect();
            for sid in &sessions {
                let last = proto.iter().rfind(|p| p.f[2] == *sid).expect("lines");
                assert_eq!(last.f[6], "-", "the session ends");
                assert!(proto.iter().any(|p| p.f[2] == *sid && p.f[7] == "QUIT"));
            }
            assert!(lines
                .iter()
                .all(|p| Some(p.f[1].as_str()) == inc.connector.as_deref()));
            let times: Vec<String> = lines.iter().map(|p| p.f[0].clone()).collect();
            let servers: BTreeSet<String> = lines.iter().map(|p| p.server.clone()).collect();
            (
                times,
                sessions.len() as u64,
                servers,
                codes_of(lines.iter().map(|p| p.f[7].as_str())),
            )
        } else {
            let (v, n) = incident_rows(inc.kind, &rows, &inc.addresses);
            let times = v.iter().map(|r| r.time().to_string()).collect();
            let servers = v.iter().map(|r| r.server.clone()).collect();
            (times, n, servers, codes_of(v.iter().map(|r| r.status())))
        };
        let kind = inc.kind;
        assert_eq!(count, inc.count, "{kind:?}");
        assert!(count > 0, "{kind:?}");
        assert_eq!(
            found.iter().min().cloned(),
            inc.first_seen.as_ref().map(rfc3339),
            "{kind:?}"
        );
        assert_eq!(
            found.iter().max().cloned(),
            inc.last_seen.as_ref().map(rfc3339),
            "{kind:?}"
        );
        assert_eq!(
            servers.into_iter().collect::<Vec<_>>(),
            inc.servers,
            "{kind:?}"
        );
        assert_eq!(codes.into_iter().collect::<Vec<_>>(), inc.codes, "{kind:?}");
        assert!(
            found.len() >= 5 && found.len() <= 500,
            "{kind:?}: {} rows",
            found.len()
        );
    }
    let inc = |k: PlantKind| {
        truth
            .incidents
            .iter()
            .find(|i| i.kind == k)
            .expect("incident")
    };
    // Spot checks of what each kind must show.
    assert_eq!(inc(PlantKind::HopCountLoop).codes, ["5.4.14", "5.4.6"]);
    assert_eq!(inc(PlantKind::HopCountLoop).addresses, ["partner.example"]);
    for id in rows
        .iter()
        .filter(|r| r.rcpts().contains(&"x@partner.example"))
        .map(|r| r.id())
        .collect::<BTreeSet<_>>()
    {
        let sends: Vec<&Trk> = rows
            .iter()
            .filter(|r| r.id() == id && r.event() == "SEND")
            .collect();
        for s in ["EX01", "EX02"] {
            assert!(
                sends.iter().filter(|r| r.server == s).count() >= 10,
                "{id} on {s}"
            );
        }
        assert!(rows
            .iter()
            .any(|r| r.id() == id && r.event() == "FAIL" && r.source() == "ROUTING"));
    }
    let throttles: Vec<&Trk> = rows.iter().filter(|r| r.event() == "THROTTLE").collect();
    assert_eq!(throttles.len(), 3);
    for r in &throttles {
        assert_eq!(r.source(), "MAILBOXRULE");
        assert_eq!(r.reference(), "XLoopHeaderCount:1/1");
        assert_ne!(r.sender(), r.rcpts()[0]);
    }
    assert_eq!(inc(PlantKind::ReceiveLimit).codes.len(), 8);
    assert!(inc(PlantKind::QueueExpiry)
        .codes
        .contains(&"4.4.7".to_string()));
    assert!(inc(PlantKind::QueueExpiry)
        .codes
        .contains(&"5.4.300".to_string()));
    let first = ms(&t(&inc(PlantKind::QueueExpiry).first_seen));
    let last = ms(&t(&inc(PlantKind::QueueExpiry).last_seen));
    assert!(last - first > 3_600_000, "deferred for hours");
    for ev in [
        "DUPLICATEDELIVER",
        "DUPLICATEEXPAND",
        "DUPLICATEREDIRECT",
        "RESUBMIT",
        "RESUBMITDEFER",
        "RESUBMITFAIL",
        "SUBMITDEFER",
        "SUBMITFAIL",
        "DROP",
        "BADMAIL",
        "MODERATIONEXPIRE",
        "MODERATORSALLNDR",
        "POISONMESSAGE",
        "HAREDIRECTFAIL",
    ] {
        assert!(rows.iter().any(|r| r.event() == ev), "{ev}");
    }
    assert!(rows
        .iter()
        .filter(|r| matches!(r.event(), "SUBMITDEFER" | "SUBMITFAIL"))
        .all(|r| r.ctx().contains("ClientType:")));
    assert!(rows
        .iter()
        .filter(|r| r.source() == "APPROVAL")
        .all(|r| r.path.contains("/MSGTRKMA")));
    assert!(rows
        .iter()
        .filter(|r| r.event() == "HAREDIRECTFAIL")
        .all(|r| r.ctx().contains("No suitable shadow servers")));
    assert_eq!(inc(PlantKind::ListAmplification).count, 2_000);
    // The list's bounces come as a storm: dozens of NDRs to one sender within minutes.
    let list = rows
        .iter()
        .find(|r| r.event() == "EXPAND" && r.related() == "all-partners@corp.example")
        .expect("expand");
    let bounces: Vec<&Trk> = rows
        .iter()
        .filter(|r| r.event() == "DSN" && r.reference() == list.id())
        .collect();
    assert!(bounces.len() >= 40, "{}", bounces.len());
    let span = ms(bounces[bounces.len() - 1].time()) - ms(bounces[0].time());
    assert!(span < 2 * 60_000, "{span}");
    // Backscatter: we NDR outsiders who never wrote to us before, and outside NDRs arrive.
    let b = inc(PlantKind::Backscatter);
    assert!(b.codes == ["5.1.1"]);
    assert!(rows.iter().any(|r| r.sender().starts_with("MAILER-DAEMON@")
        && r.return_path() == "<>"
        && r.subject().starts_with("Undeliverable:")));
    // Nothing planted loops on: no NDR about an NDR among the planted messages.
    let ndrs: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.event() == "DSN")
        .map(|r| r.id())
        .collect();
    assert!(rows
        .iter()
        .filter(|r| r.event() == "DSN")
        .all(|r| !ndrs.contains(r.reference())));
}

#[test]
fn everything_at_once_is_well_formed_and_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = SimOptions {
        probes: true,
        skewed_client: Some(600_000),
        conversations: true,
        hours: 6,
        flood_from: 0.2,
        flood_until: 0.4,
        flood_rate: 5.0,
        servers: 3,
        plants: vec![
            PlantKind::HopCountLoop,
            PlantKind::BackPressure,
            PlantKind::ListAmplification,
            PlantKind::ModerationStall,
        ],
        ..opts(Scenario::Flood, 5_000)
    };
    let (truth, a) = gen(&o, dir.path(), "a.zip");
    let (_, b) = gen(&o, dir.path(), "b.zip");
    assert!(a == b, "same options, same bytes");
    assert_eq!(super::tests::check_bundle(&a, &truth), truth.rows);
    assert!(truth.entries.iter().any(|e| e.contains("/MSGTRKMA")));
    assert!(
        simulate(
            &SimOptions {
                protocol_logs: false,
                ..o.clone()
            },
            &dir.path().join("x.zip")
        )
        .is_err(),
        "back_pressure needs protocol logs"
    );
    let json = serde_json::to_value(&truth).expect("json");
    assert_eq!(json["incidents"][0]["kind"], "hop_count_loop");
    assert!(json["flood_onset"]
        .as_str()
        .is_some_and(|s| s.ends_with('Z')));
}
