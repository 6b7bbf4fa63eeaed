//! Storm detection on a hand-built log with known truth: four hours of steady background mail,
//! and, on top of it, one flood between a pair, one sender spraying a few dozen mailboxes and one
//! mailbox hit by many senders. Each must be found with its kind, onset, end and peak, and
//! nothing else.

use std::fmt::Write;

use serde_json::Value;

mod common;

const FIELDS: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";

struct Log {
    text: String,
    n: u32,
}

impl Log {
    /// One RECEIVE row at `minute` minutes past 08:00 (plus `ms`), from `from` to `to`.
    fn mail(&mut self, minute: u32, ms: u32, from: &str, to: &str) {
        self.n += 1;
        let _ = write!(
            self.text,
            "2026-11-16T{:02}:{:02}:{:02}.{:03}Z,192.0.2.10,,,EX01,,,SMTP,RECEIVE,{n},<m{n}@corp.example>,,{to},,1000,1,,,hello,{from},{from},,Incoming,,,,,Email,,15.01.2507.039\r\n",
            8 + minute / 60,
            minute % 60,
            ms / 1000 % 60,
            ms % 1000,
            n = self.n,
        );
    }
}

fn storm<'a>(storms: &'a [Value], kind: &str, who: &str) -> &'a Value {
    storms
        .iter()
        .find(|s| s["kind"] == kind && (s["sender"] == who || s["recipient"] == who))
        .unwrap_or_else(|| panic!("no {kind} storm for {who}: {storms:#?}"))
}

#[test]
fn pair_sender_and_recipient_storms() {
    let mut log = Log {
        text: format!("\u{feff}#Software: Microsoft Exchange Server\r\n#Version: 15.01.2507.039\r\n#Log-type: Message Tracking Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n#Fields: {FIELDS}\r\n"),
        n: 0,
    };
    let mut rows: Vec<(u32, u32, String, String)> = Vec::new();
    for minute in 0..240 {
        // Background: twenty people, each one message every two minutes.
        for k in 0..20u32 {
            if (minute + k) % 2 == 0 {
                rows.push((
                    minute,
                    k * 997 % 60_000,
                    format!("user{k}@corp.example"),
                    format!("user{}@corp.example", (k + minute) % 20),
                ));
            }
        }
        // The application writes to ops now and then...
        if minute % 10 == 5 {
            rows.push((
                minute,
                1,
                "app@corp.example".into(),
                "ops@corp.example".into(),
            ));
        }
        // ...and floods it from 10:00 to 10:19.
        if (120..140).contains(&minute) {
            for i in 0..100 {
                rows.push((
                    minute,
                    10 + i * 500,
                    "app@corp.example".into(),
                    "ops@corp.example".into(),
                ));
            }
        }
        // 09:00-09:14: fifty senders, one message a minute each, to one mailbox.
        if (60..75).contains(&minute) {
            for k in 0..50 {
                rows.push((
                    minute,
                    20 + k * 900,
                    format!("spam{k}@evil.example"),
                    "victim@corp.example".into(),
                ));
            }
        }
        // 11:00-11:09: one sender to twenty mailboxes, four a minute each.
        if (180..190).contains(&minute) {
            for i in 0..80 {
                rows.push((
                    minute,
                    30 + i * 700,
                    "bulk@corp.example".into(),
                    format!("user{}@corp.example", i % 20),
                ));
            }
        }
    }
    rows.sort();
    for (minute, ms, from, to) in &rows {
        log.mail(*minute, *ms, from, to);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("EX01/TransportRoles/Logs/MessageTracking");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("MSGTRK2026111608-1.LOG"), &log.text).expect("write");

    let f = common::findings(dir.path());
    assert_eq!(f["bundle"]["events"].as_u64(), Some(rows.len() as u64));
    let storms = f["storms"].as_array().expect("storms");

    let pair = storm(storms, "pair", "app@corp.example");
    assert_eq!(pair["recipient"], "ops@corp.example");
    // The onset is the flood's first message, the end its last.
    assert_eq!(pair["first_seen"], "2026-11-16T10:00:00.010Z");
    assert_eq!(pair["last_seen"], "2026-11-16T10:19:49.510Z");
    assert_eq!(
        pair["messages"], 2002,
        "2,000 in the flood and its two routine messages"
    );
    assert_eq!(pair["peak_per_minute"], 101);
    // Its own quiet period before: one routine message every ten minutes.
    assert_eq!(pair["baseline_per_minute"], 0.1);
    assert_eq!(pair["baseline_from"], "before");

    let victim = storm(storms, "recipient", "victim@corp.example");
    assert_eq!(victim["sender"], Value::Null);
    assert_eq!(victim["first_seen"], "2026-11-16T09:00:00.020Z");
    assert_eq!(victim["last_seen"], "2026-11-16T09:14:44.120Z");
    assert_eq!(victim["messages"], 750);
    assert_eq!(victim["distinct_counterparts"], 50);

    let bulk = storm(storms, "sender", "bulk@corp.example");
    assert_eq!(bulk["recipient"], Value::Null);
    assert_eq!(bulk["first_seen"], "2026-11-16T11:00:00.030Z");
    assert_eq!(bulk["last_seen"], "2026-11-16T11:09:55.330Z");
    assert_eq!(bulk["messages"], 800);
    assert_eq!(
        bulk["distinct_counterparts"], 20,
        "too few mailboxes for a broadcast"
    );

    // The pair storm absorbs the sender and recipient storms it explains; background is quiet.
    assert_eq!(storms.len(), 3, "{storms:#?}");
    assert_eq!(f["loops"], serde_json::json!([]));
}
