//! Deterministic generator of realistic Exchange log bundles, with the ground truth of what
//! was planted in them.
//!
//! Real incident bundles are private and huge, yet tests, demos and benchmarks need bundles
//! whose loops, storms, queues and strangers are known exactly. [`simulate`] writes a zip laid
//! out the way an admin copies the log folders off the servers (message tracking in the
//! 2016/2019 30-field format, SMTP receive and send protocol logs, hourly and 10 MB rolls) and
//! returns a [`Truth`] to assert against. The same options always give the same bytes.

#[cfg(test)]
mod checks;
mod engine;
mod out;
mod plan;
mod world;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Serializer;

use self::engine::{Comp, Sim};
use self::out::Output;
use self::plan::Plan;

/// What the bundle contains besides ordinary background mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// The health-check app fills a mailbox and its notices loop through the firewall.
    Incident,
    /// Background only, plus one newsletter to 3,000 recipients (a broadcast, not a storm),
    /// out-of-office replies and honest bounces; with `--conversations` also human threads.
    Quiet,
    /// Two auto-responders answering each other for a few hundred rounds.
    Pingpong,
    /// A never-seen client IP starts submitting mail halfway through; most of it fails.
    UnexpectedIp,
    /// EX02's outbound link is congested for 40 minutes (an 18th of the bundle) while a bulk
    /// job submits; then it drains.
    QueueGrowth,
    /// EX01's internet mail leaves through EX02: the same message on both servers.
    CrossServer,
    /// Background, the incident and the unexpected IP together.
    Mixed,
    /// One application mailing one internal mailbox at a steady high rate (`--flood-*`): heavy
    /// but plain deliveries, no loop.
    Flood,
    /// The incident with exact loop accounting: each alert to the full mailbox is deferred 0-2
    /// times, then fails once and draws exactly one "inbox full" notice.
    Defers,
    /// A help-desk auto-responder and an outside ticket system answering each other for an
    /// hour, with growing subjects (`--responder-*`).
    Responder,
}

/// Subject markers of the responder scenario's auto-replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Markers {
    /// "Automatic reply:", "Auto:", "Abwesenheitsnotiz:", ... a different language each round
    /// (the first one depends on the seed).
    #[default]
    Auto,
    /// No marker: the auto-reply's subject is just `Re: <subject>`.
    None,
}

/// Incidents `--plant` adds to any scenario, each a few dozen to a few hundred rows with
/// Exchange's own status texts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum PlantKind {
    /// A few messages to x@partner.example bounce between EX01 and EX02 until 5.4.6 (and one
    /// 5.4.14) "Hop count exceeded", each with its NDR.
    HopCountLoop,
    /// Two mailboxes' reply rules answer each other until the rule is throttled (THROTTLE,
    /// XLoopHeaderCount:1/1); three episodes.
    ThrottledAutoReply,
    /// Redirect rules between two addresses until 5.7.128 "Transport rules loop count
    /// exceeded", each with its NDR.
    TransportRuleLoop,
    /// Receive and sending limits: 5.2.121, 5.2.122, 5.1.90, 5.1.8, 5.7.501-503 and 5.2.2
    /// "Submission quota exceeded", each with its NDR.
    ReceiveLimit,
    /// A burst to one mailbox; deliveries deferred 4.3.2 "recipient thread limit exceeded".
    DeliveryThrottling,
    /// Sessions from the firewall turned away with 452 4.3.1 "Insufficient system resources"
    /// (SMTP receive protocol log only; needs protocol logs).
    BackPressure,
    /// Mail to a dead domain deferred 4.4.0 for hours, then 4.4.7 QUEUE.Expired (one 5.4.300).
    QueueExpiry,
    /// Messages moved to the poison queue (POISONMESSAGE).
    PoisonMessage,
    /// HAREDIRECTFAIL "No suitable shadow servers" while the other server is down.
    ShadowRedundancyFailure,
    /// DUPLICATEDELIVER, DUPLICATEEXPAND and DUPLICATEREDIRECT.
    DuplicateDelivery,
    /// Safety Net RESUBMIT, RESUBMITDEFER and RESUBMITFAIL after a database failover.
    SafetyNetResubmit,
    /// SUBMITDEFER and SUBMITFAIL of one mailbox's client.
    SubmissionFailure,
    /// DROP (agent and administrator) and BADMAIL.
    SilentDrop,
    /// A moderated list nobody moderates: MODERATIONEXPIRE and MODERATORSALLNDR.
    ModerationStall,
    /// One message to a 2,000-member list (EXPAND) whose dead members bounce: an NDR storm.
    ListAmplification,
    /// NDRs to forged outside senders of spam, and outside NDRs for mail we never sent.
    Backscatter,
}

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub scenario: Scenario,
    /// Approximate number of message tracking rows to write, in total.
    pub events: u64,
    pub seed: u64,
    /// Time of the first row (roughly); the bundle covers 12 hours from here.
    pub start: DateTime<Utc>,
    /// Number of servers, EX01..; at least 2.
    pub servers: usize,
    /// Also write SMTP receive/send protocol logs.
    pub protocol_logs: bool,
    /// Length of the bundle in hours.
    pub hours: u32,
    /// Flood window as shares of the bundle (0.0..=1.0) and its rate in messages per minute.
    pub flood_from: f64,
    pub flood_until: f64,
    pub flood_rate: f64,
    /// Defers scenario: the inbox-full notice's RECEIVE row carries the alert's message id in
    /// `reference`.
    pub notice_refs: bool,
    /// Responder scenario: how long the outside ticket system keeps answering, in minutes.
    pub responder_minutes: u32,
    pub responder_markers: Markers,
    /// Human conversation threads (and one honest out-of-office reply) in the background.
    pub conversations: bool,
    /// Managed Availability probes from and to health mailboxes, and shadow redundancy
    /// (HAREDIRECT/HARECEIVE) for mail entering the organisation; implies `latency_parts`.
    pub probes: bool,
    /// Exchange 2016-style latency parts in the message-info of SUBMIT, DELIVER and SEND rows.
    pub latency_parts: bool,
    /// One client whose clock is off by this many ms (origination times in the logs).
    pub skewed_client: Option<i64>,
    /// Incidents to plant (each kind once).
    pub plants: Vec<PlantKind>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            scenario: Scenario::Incident,
            events: 20_000,
            seed: 1,
            start: Utc
                .with_ymd_and_hms(2026, 11, 16, 8, 0, 0)
                .single()
                .unwrap_or_default(),
            servers: 2,
            protocol_logs: true,
            hours: 12,
            flood_from: 0.5,
            flood_until: 1.0,
            flood_rate: 40.0,
            notice_refs: false,
            responder_minutes: 60,
            responder_markers: Markers::Auto,
            conversations: false,
            probes: false,
            latency_parts: false,
            skewed_client: None,
            plants: Vec::new(),
        }
    }
}

/// What the generator planted. Fields a scenario does not use stay empty, zero or `None`.
/// Addresses are lower case. Times serialise as RFC 3339 with milliseconds.
#[derive(Debug, Clone, serde::Serialize, Default)]
pub struct Truth {
    pub scenario: Option<Scenario>,
    pub seed: u64,
    /// Server names, EX01...
    pub servers: Vec<String>,
    /// Message tracking rows written (all MSGTRK* files).
    pub rows: u64,
    pub rows_per_event_id: BTreeMap<String, u64>,
    /// Rows per file family: MSGTRK, MSGTRKMS, MSGTRKMD.
    pub rows_per_log: BTreeMap<String, u64>,
    pub rows_per_server: BTreeMap<String, u64>,
    /// Rows per planted component: background, incident, newsletter, pingpong, unexpected-ip,
    /// queue-growth, cross-server (components without rows are left out).
    pub rows_per_component: BTreeMap<String, u64>,
    /// Lines in SMTP protocol logs.
    pub protocol_lines: u64,
    /// Uncompressed size of all log files, headers included.
    pub log_bytes: u64,
    /// Zip entry paths in archive order.
    pub entries: Vec<String>,
    /// Time of the first and last tracking row.
    #[serde(serialize_with = "ser_time")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "ser_time")]
    pub end: DateTime<Utc>,
    /// Distinct messages created (a message that leaves and comes back counts once).
    pub messages: u64,

    /// The two addresses of the bounce loop (sorted).
    pub loop_members: Vec<String>,
    /// Tracking rows of loop messages: the notices and NDRs of generation >= 1 (DSN rows
    /// creating them included), not the app's original alerts.
    pub loop_messages: u64,
    /// Distinct loop messages (generation >= 1).
    pub loop_distinct_messages: u64,
    pub loop_max_generation: u32,
    /// Time of the first 5.2.2 (mailbox full) failure.
    #[serde(serialize_with = "ser_opt_time")]
    pub loop_onset: Option<DateTime<Utc>>,
    /// Original alerts whose failure or deferral produced a generation-1 notice.
    pub originals_feeding_loop: u64,
    /// Alerts the app sent in total (before and after the mailbox filled).
    pub alerts_sent: u64,

    pub pingpong_members: Vec<String>,
    /// Auto-replies sent by the internal side.
    pub pingpong_rounds: u64,

    pub newsletter_sender: Option<String>,
    pub newsletter_message_id: Option<String>,
    /// Number of distinct recipients of the newsletter.
    pub newsletter_recipients: u64,

    pub unexpected_ip: Option<String>,
    /// Time of the first RECEIVE row from that IP.
    #[serde(serialize_with = "ser_opt_time")]
    pub unexpected_ip_first_seen: Option<DateTime<Utc>>,
    /// Messages received from that IP.
    pub unexpected_ip_messages: u64,

    pub queue_growth_server: Option<String>,
    /// The window in which arrivals outpace departures on that server.
    #[serde(serialize_with = "ser_opt_time")]
    pub queue_growth_start: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_time")]
    pub queue_growth_end: Option<DateTime<Utc>>,

    /// A message id submitted on EX01 and sent to the internet by EX02.
    pub cross_server_message_id: Option<String>,
    /// The mailbox that ran out of quota and its first 5.2.2 failure.
    #[serde(serialize_with = "ser_opt_pair")]
    pub quota_first_failure: Option<(String, DateTime<Utc>)>,

    /// Flood: the application's sender address, its one recipient and its client IP.
    pub flood_sender: Option<String>,
    pub flood_recipient: Option<String>,
    pub flood_client_ip: Option<String>,
    /// Time of the first tracking row of the first flood message.
    #[serde(serialize_with = "ser_opt_time")]
    pub flood_onset: Option<DateTime<Utc>>,
    /// Time of the first tracking row of the last flood message.
    #[serde(serialize_with = "ser_opt_time")]
    pub flood_end: Option<DateTime<Utc>>,
    /// Distinct flood messages with at least one row written.
    pub flood_messages: u64,

    /// Defers: "inbox full" notices written (MAILBOXRULE RECEIVE rows of generation-1 notices).
    pub notices: u64,
    /// Among alerts whose delivery finally failed 5.2.2: how often each was deferred first.
    pub alerts_deferred_once: u64,
    pub alerts_deferred_twice: u64,
    pub alerts_not_deferred: u64,
    /// DEFER rows with a 4.2.2 (mailbox full) status.
    pub defer_rows: u64,

    /// Responder: the help-desk mailbox and the outside ticket system (sorted).
    pub responder_members: Vec<String>,
    pub responder_internal: Option<String>,
    pub responder_external: Option<String>,
    /// Auto-replies of the help-desk rule written (MAILBOXRULE RECEIVE rows).
    pub responder_rounds: u64,
    /// Replies of the ticket system received from the firewall (the first, ordinary message
    /// that started it all not counted).
    pub responder_external_replies: u64,
    /// First row of the first auto-reply.
    #[serde(serialize_with = "ser_opt_time")]
    pub responder_onset: Option<DateTime<Utc>>,
    /// Last row of any auto-reply or ticket-system reply.
    #[serde(serialize_with = "ser_opt_time")]
    pub responder_end: Option<DateTime<Utc>>,

    /// Human conversations (`--conversations`): threads with a message written, and their
    /// messages (out-of-office replies not included).
    pub conversation_threads: u64,
    pub conversation_messages: u64,
    /// Out-of-office replies inside those conversations (exactly one is planted).
    pub conversation_oof_replies: u64,

    /// `--probes`: rows it added (probe messages' rows and the HAREDIRECT, HARECEIVE and
    /// HADISCARD rows of ordinary messages), distinct probe messages, and the health mailboxes
    /// seen in probe rows (sorted).
    pub noise_rows: u64,
    pub noise_messages: u64,
    pub health_mailboxes: Vec<String>,

    /// `--skewed-client`: the workstation (original-client-ip), its mailbox, the clock offset
    /// and the messages written with its origination times.
    pub skewed_client: Option<String>,
    pub skewed_client_mailbox: Option<String>,
    pub skewed_client_offset_ms: Option<i64>,
    pub skewed_client_messages: u64,
    /// With latency parts: per server, per component (TOTAL-SUB, TOTAL-HUB, TOTAL-DEL), the
    /// rows whose message-info carries it.
    pub latency_truth: BTreeMap<String, BTreeMap<String, u64>>,

    /// `--plant`: one entry per planted kind.
    pub incidents: Vec<IncidentTruth>,
}

/// One planted incident, counted from its rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentTruth {
    pub kind: PlantKind,
    /// First and last row (or protocol line, for back_pressure) of the incident.
    #[serde(serialize_with = "ser_opt_time")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_time")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Messages; sessions turned away for back_pressure; recipients the list expanded to for
    /// list_amplification.
    pub count: u64,
    /// Servers that logged it.
    pub servers: Vec<String>,
    /// Mailboxes, lists or domains involved (lower case, sorted).
    pub addresses: Vec<String>,
    /// Enhanced status codes of class 4 and 5 in its rows (sorted).
    pub codes: Vec<String>,
    /// back_pressure: the receive connector that turned the sessions away.
    pub connector: Option<String>,
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(t))
}

fn ser_opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&rfc3339(t)),
        None => s.serialize_none(),
    }
}

fn ser_opt_pair<S: Serializer>(
    v: &Option<(String, DateTime<Utc>)>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some((who, t)) => s.serialize_some(&(who, rfc3339(t))),
        None => s.serialize_none(),
    }
}

fn to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Longest bundle `--hours` accepts: a month.
pub const MAX_HOURS: u32 = 744;

/// Writes the bundle described by `opts` as a zip at `out` and returns what it planted.
pub fn simulate(opts: &SimOptions, out: &Path) -> anyhow::Result<Truth> {
    anyhow::ensure!(
        (2..=99).contains(&opts.servers),
        "servers must be between 2 and 99, got {}",
        opts.servers
    );
    anyhow::ensure!(
        (1..=MAX_HOURS).contains(&opts.hours),
        "hours must be between 1 and {MAX_HOURS}, got {}",
        opts.hours
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&opts.flood_from)
            && (0.0..=1.0).contains(&opts.flood_until)
            && opts.flood_from <= opts.flood_until,
        "flood window must satisfy 0 <= from <= until <= 1, got {} and {}",
        opts.flood_from,
        opts.flood_until
    );
    anyhow::ensure!(
        opts.flood_rate.is_finite() && opts.flood_rate > 0.0 && opts.flood_rate <= 10_000.0,
        "flood rate must be above 0 and at most 10000 per minute, got {}",
        opts.flood_rate
    );
    anyhow::ensure!(
        opts.protocol_logs || !opts.plants.contains(&PlantKind::BackPressure),
        "back_pressure is only visible in SMTP protocol logs: drop --no-protocol-logs"
    );
    anyhow::ensure!(
        opts.skewed_client
            .is_none_or(|ms| ms != 0 && ms.abs() <= 7 * 24 * 3_600_000),
        "the skewed client's offset must be non-zero and within a week"
    );
    anyhow::ensure!(
        (1..=MAX_HOURS * 60).contains(&opts.responder_minutes),
        "responder minutes must be between 1 and {}, got {}",
        MAX_HOURS * 60,
        opts.responder_minutes
    );
    let names: Vec<String> = (1..=opts.servers).map(|i| format!("EX{i:02}")).collect();
    let plan = Plan::new(opts);
    let output = Output::new(out, names.clone())?;
    let mut sim = Sim::new(opts.seed, opts.servers, plan, output, opts.protocol_logs);
    sim.start_generators();
    sim.run()?;
    sim.out.finish()?;
    Ok(truth(opts, &names, &sim))
}

fn truth(opts: &SimOptions, names: &[String], sim: &Sim) -> Truth {
    let st = &sim.stats;
    let plan = &sim.plan;
    let mut t = Truth {
        scenario: Some(opts.scenario),
        seed: opts.seed,
        servers: names.to_vec(),
        rows: st.rows,
        rows_per_event_id: st
            .per_event
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect(),
        rows_per_log: st
            .per_log
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect(),
        rows_per_server: names
            .iter()
            .cloned()
            .zip(st.per_server.iter().copied())
            .collect(),
        rows_per_component: Comp::ALL
            .iter()
            .filter(|c| st.per_comp[**c as usize] > 0)
            .map(|c| (c.name().to_string(), st.per_comp[*c as usize]))
            .collect(),
        protocol_lines: st.protocol_lines,
        log_bytes: sim.out.bytes,
        entries: sim.out.entries.clone(),
        start: to_time(st.first.unwrap_or(plan.start)),
        end: to_time(st.last.unwrap_or(plan.start)),
        messages: st.messages,
        ..Truth::default()
    };
    if plan.incident.is_some() {
        t.loop_members = vec![
            world::HEALTHCHECK.to_string(),
            world::OPS_ALERTS.to_string(),
        ];
        t.loop_members.sort();
        t.loop_messages = st.loop_rows;
        t.loop_distinct_messages = st.loop_msgs;
        t.loop_max_generation = st.loop_max_gen;
        t.loop_onset = st.loop_onset.map(to_time);
        t.originals_feeding_loop = st.originals_feeding;
        t.alerts_sent = sim.alerts;
        t.quota_first_failure = st
            .loop_onset
            .map(|ms| (world::OPS_ALERTS.to_string(), to_time(ms)));
    }
    if plan.pingpong.is_some() {
        t.pingpong_members = vec![world::ANNA.to_string(), world::AUTORESPONDER.to_string()];
        t.pingpong_rounds = st.pingpong_rounds;
    }
    if plan.newsletter.is_some() {
        t.newsletter_sender = Some(world::NEWS.to_string());
        t.newsletter_message_id = st.newsletter_id.clone();
        t.newsletter_recipients = st.newsletter_rcpts;
    }
    if plan.unexpected.is_some() {
        t.unexpected_ip = Some(world::UNEXPECTED_IP.to_string());
        t.unexpected_ip_first_seen = st.unexpected_first.map(to_time);
        t.unexpected_ip_messages = st.unexpected_msgs;
    }
    if let Some(q) = plan.queue {
        t.queue_growth_server = names.get(q.server).cloned();
        t.queue_growth_start = Some(to_time(q.start));
        t.queue_growth_end = Some(to_time(q.end));
    }
    if plan.cross_hub.is_some() {
        t.cross_server_message_id = st.cross_id.clone();
    }
    if plan.flood.is_some() {
        t.flood_sender = Some(world::FLOOD_SENDER.to_string());
        t.flood_recipient = Some(world::FLOOD_RECIPIENT.to_string());
        t.flood_client_ip = Some(world::FLOOD_IP.to_string());
        t.flood_onset = st.flood_first.map(to_time);
        t.flood_end = st.flood_last.map(to_time);
        t.flood_messages = st.flood_msgs;
    }
    if plan.defers.is_some() {
        t.notices = st.notices;
        t.alerts_not_deferred = st.failed_after_defers[0];
        t.alerts_deferred_once = st.failed_after_defers[1];
        t.alerts_deferred_twice = st.failed_after_defers[2];
        t.defer_rows = st.defer_rows;
    }
    if plan.responder.is_some() {
        t.responder_internal = Some(world::HELPDESK.to_string());
        t.responder_external = Some(world::TICKETS.to_string());
        t.responder_members = vec![world::HELPDESK.to_string(), world::TICKETS.to_string()];
        t.responder_members.sort();
        t.responder_rounds = st.responder_rounds;
        t.responder_external_replies = st.responder_replies;
        t.responder_onset = st.responder_first.map(to_time);
        t.responder_end = st.responder_last.map(to_time);
    }
    if plan.talk.is_some() {
        t.conversation_threads = st.talk_threads;
        t.conversation_messages = st.talk_msgs;
        t.conversation_oof_replies = st.talk_oof;
    }
    if plan.probes {
        t.noise_rows = st.noise_rows;
        t.noise_messages = st.noise_msgs;
        t.health_mailboxes = st.health.iter().cloned().collect();
    }
    if let (Some(ms), Some(m)) = (plan.skew, sim.skewed_mbx) {
        let mbx = &sim.world.mailboxes[m];
        t.skewed_client = Some(mbx.workstation.clone());
        t.skewed_client_mailbox = Some(mbx.addr.to_string());
        t.skewed_client_offset_ms = Some(ms);
        t.skewed_client_messages = st.skew_msgs;
    }
    if plan.latency {
        t.latency_truth = st
            .latency
            .iter()
            .map(|(s, m)| (s.clone(), m.iter().map(|(c, n)| (c.clone(), *n)).collect()))
            .collect();
    }
    t.incidents = plan
        .plants
        .iter()
        .zip(&st.plants)
        .map(|(p, x)| IncidentTruth {
            kind: p.kind,
            first_seen: x.first.map(to_time),
            last_seen: x.last.map(to_time),
            count: match p.kind {
                PlantKind::BackPressure => x.sessions,
                PlantKind::ListAmplification => x.recipients,
                _ => x.msgs,
            },
            servers: x
                .servers
                .iter()
                .filter_map(|&s| names.get(s).cloned())
                .collect(),
            addresses: x.addresses.iter().cloned().collect(),
            codes: x.codes.iter().cloned().collect(),
            connector: x.connector.clone(),
        })
        .collect();
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn run(scenario: Scenario, events: u64, dir: &Path, name: &str) -> (Truth, Vec<u8>) {
        let path = dir.join(name);
        let opts = SimOptions {
            scenario,
            events,
            ..SimOptions::default()
        };
        let truth = simulate(&opts, &path).expect("simulate");
        let bytes = std::fs::read(&path).expect("read zip");
        (truth, bytes)
    }

    /// Every entry: BOM, CRLF, five header lines, rows with as many fields as `#Fields`,
    /// times in order and matching the file name's hour. Returns tracking rows seen.
    pub(super) fn check_bundle(bytes: &[u8], truth: &Truth) -> u64 {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
        let mut names: Vec<String> = zip
            .file_names()
            .map(|n| n.map(|n| n.to_string()))
            .collect::<Result<_, _>>()
            .expect("names");
        names.sort();
        let mut listed = truth.entries.clone();
        listed.sort();
        assert_eq!(names, listed);
        let mut tracking = 0;
        for name in &names {
            let mut text = String::new();
            zip.by_name(name)
                .expect("entry")
                .read_to_string(&mut text)
                .expect("utf-8");
            let text = text.strip_prefix('\u{feff}').expect("BOM");
            assert!(
                !text.replace("\r\n", "").contains('\n'),
                "bare LF in {name}"
            );
            let lines: Vec<&str> = text.split_terminator("\r\n").collect();
            assert_eq!(lines[0], "#Software: Microsoft Exchange Server");
            let fields = lines[4]
                .strip_prefix("#Fields: ")
                .expect("fields")
                .split(',')
                .count();
            let date = lines[3].strip_prefix("#Date: ").expect("date");
            // MSGTRK2026111608-1.LOG: the ten digits before the last '-' are the hour.
            let stem = name.rsplit_once('-').map_or("", |(a, _)| a);
            let hour = &stem[stem.len().saturating_sub(10)..];
            let body = lines[5..].join("\n");
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(body.as_bytes());
            let mut prev = String::new();
            for (i, rec) in rdr.records().enumerate() {
                let rec = rec.expect("csv");
                assert_eq!(rec.len(), fields, "{name} row {i}");
                let t = &rec[0];
                assert_eq!(t.len(), 24, "{t}");
                if i == 0 {
                    assert_eq!(t, date, "{name}");
                }
                assert!(*t >= *prev, "{name}: {t} before {prev}");
                let t_hour: String = t[..13].chars().filter(char::is_ascii_digit).collect();
                assert!(
                    hour.starts_with(&t_hour[..]) || hour.ends_with(&t_hour[..]),
                    "{name}: {t}"
                );
                prev = t.to_string();
                if fields == 30 {
                    tracking += 1;
                    if !rec[12].is_empty() {
                        let n = rec[12].split(';').count().to_string();
                        assert_eq!(n, &rec[15], "{name} row {i}");
                    }
                }
            }
        }
        tracking
    }

    #[test]
    fn incident_is_deterministic_well_formed_and_loops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (truth, a) = run(Scenario::Incident, 4_000, dir.path(), "a.zip");
        let (_, b) = run(Scenario::Incident, 4_000, dir.path(), "b.zip");
        assert!(a == b, "same options must give the same bytes");
        assert_eq!(check_bundle(&a, &truth), truth.rows);
        assert!((3_000..=5_000).contains(&truth.rows), "rows {}", truth.rows);
        assert_eq!(truth.rows, truth.rows_per_event_id.values().sum::<u64>());
        assert_eq!(
            truth.loop_members,
            ["healthcheck@corp.example", "ops.alerts@corp.example"]
        );
        assert!(truth.loop_max_generation >= 2);
        assert!(
            truth.loop_messages * 2 > truth.rows,
            "the loop is most of the rows"
        );
        let onset = truth.loop_onset.expect("onset");
        assert_eq!(
            truth.quota_first_failure,
            Some(("ops.alerts@corp.example".to_string(), onset))
        );
        assert!(truth.start < onset && onset < truth.end);
        assert!(truth.originals_feeding_loop > 0);
        for kind in [
            "MSGTRK2",
            "MSGTRKMS",
            "MSGTRKMD",
            "FrontEnd/ProtocolLog/SmtpReceive/RECV",
        ] {
            assert!(
                truth
                    .entries
                    .iter()
                    .any(|e| e.starts_with("EX02/TransportRoles/Logs/") && e.contains(kind)),
                "{kind}"
            );
        }
        assert!(truth
            .entries
            .iter()
            .any(|e| e.contains("Hub/ProtocolLog/SmtpSend/SEND")));
    }

    #[test]
    fn each_scenario_plants_its_truth() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (t, _) = run(Scenario::Quiet, 3_000, dir.path(), "quiet.zip");
        assert_eq!(t.newsletter_sender.as_deref(), Some("news@corp.example"));
        assert_eq!(t.newsletter_recipients, 3_000);
        assert!(t.loop_members.is_empty() && t.loop_onset.is_none());

        let (t, _) = run(Scenario::Pingpong, 3_000, dir.path(), "pp.zip");
        assert_eq!(
            t.pingpong_members,
            ["anna.berg@corp.example", "autoresponder@fabrikam.example"]
        );
        assert!(t.pingpong_rounds >= 20);

        let (t, _) = run(Scenario::UnexpectedIp, 3_000, dir.path(), "ip.zip");
        assert_eq!(t.unexpected_ip.as_deref(), Some("203.0.113.77"));
        let first = t.unexpected_ip_first_seen.expect("seen");
        assert!(first > t.start + (t.end - t.start) / 3);

        let (t, _) = run(Scenario::QueueGrowth, 3_000, dir.path(), "q.zip");
        assert_eq!(t.queue_growth_server.as_deref(), Some("EX02"));
        assert!(t.rows_per_event_id.get("DEFER").copied().unwrap_or(0) > 0);

        let (t, _) = run(Scenario::CrossServer, 3_000, dir.path(), "x.zip");
        let id = t.cross_server_message_id.clone().expect("cross id");
        assert!(id.starts_with('<') && id.ends_with("@corp.example>"));
        assert!(
            t.rows_per_component
                .get("cross-server")
                .copied()
                .unwrap_or(0)
                > 0
        );

        let (t, _) = run(Scenario::Mixed, 3_000, dir.path(), "m.zip");
        assert!(t.loop_onset.is_some() && t.unexpected_ip.is_some());
        let json = serde_json::to_value(&t).expect("json");
        assert_eq!(json["scenario"], "mixed");
        assert!(json["loop_onset"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')));
    }

    #[test]
    fn rejects_a_single_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = SimOptions {
            servers: 1,
            ..SimOptions::default()
        };
        assert!(simulate(&opts, &dir.path().join("x.zip")).is_err());
    }
}
