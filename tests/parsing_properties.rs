//! Property tests of the hand-written parsing, on seeded random input (the same cases on every
//! run; a failure prints its seed and case number and the input):
//!
//! - `fields::split_line` against the `csv` crate: on well-formed RFC 4180 records both read the
//!   values that were written; on garbage lines `split_line` never panics, and wherever it
//!   succeeds the `csv` crate reads the same values.
//! - The line accounting of the W3C record loop (`Parsed::lines`) on random tracking logs: every
//!   physical line is a row, a malformed line, a directive or a blank line, and where the
//!   generator knows what each line is, each count is exactly that.
//!
//! Where `split_line` and the `csv` crate differ on purpose (not compared):
//! - A value that opens a quote and never closes it: `split_line` refuses the line
//!   (`Unterminated`; the record loop joins the next lines first), `csv` reads to the end.
//! - Text after a closing quote (`"a"b`): `split_line` refuses it (`AfterQuote`), `csv` reads
//!   `ab`.
//! - The empty line: `split_line` gives one empty value, `csv` skips it (no record). The record
//!   loop never hands it a blank line.
//! - Line ends: `split_line` gets one record without its line end, so unquoted `\r`/`\n` never
//!   reach it; `csv` would end the record there. Garbage lines hold neither.
//! - A leading byte-order mark: `csv` drops it, `split_line` keeps it (the record loop strips it
//!   from the first line). Garbage lines hold none.
//!
//! Where they agree, also on purpose: a quote inside an unquoted value (`a,b"c,d`) is literal text
//! for both, and so is a quote after leading blanks (` "x"`).

use std::borrow::Cow;

use mailforensics::ingest::fields::{open_quote, split_line, SplitError};
use mailforensics::ingest::schema::{Field, Reads, Row};
use mailforensics::ingest::{EntryCtx, LogKind, LogReader, Options, Sink, READERS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0x6d61_696c_666f_7265;

fn rng(salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(SEED ^ salt)
}

fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut v: Vec<Cow<'_, str>> = Vec::new();
    split_line(line, &mut v)?;
    Ok(v.into_iter().map(Cow::into_owned).collect())
}

/// What the `csv` crate reads from one line: its records (no headers, any length).
fn csv_records(line: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    r.records()
        .map(|rec| {
            rec.unwrap_or_else(|e| panic!("csv cannot read {line:?}: {e}"))
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// A value with the characters that make CSV hard: commas, quotes, blanks, line breaks,
/// non-ASCII; sometimes empty.
fn random_value(rng: &mut ChaCha8Rng) -> String {
    const PIECES: &[&str] = &[
        "a", "Z", "0", "9", " ", "  ", ",", "\"", "\"\"", "\n", "\r", ";", "\t", "é", "ü", "日本",
        "🙂", "=", "<", ">", "@", ".", "-", "x\"y", "ab",
    ];
    if rng.random_bool(0.1) {
        return String::new();
    }
    (0..rng.random_range(1..10))
        .map(|_| pick(rng, PIECES))
        .collect()
}

/// RFC 4180: a value with a comma, quote or line break is quoted and its quotes doubled; others
/// are quoted now and then anyway. A lone empty value is quoted, or the line would be empty.
fn encode(values: &[String], rng: &mut ChaCha8Rng) -> String {
    values
        .iter()
        .map(|v| {
            let must = v.contains([',', '"', '\n', '\r']) || (values.len() == 1 && v.is_empty());
            if must || rng.random_bool(0.3) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The same record as the `csv` crate's writer quotes it.
fn encode_with_csv(values: &[String], always: bool) -> String {
    let mut w = csv::WriterBuilder::new()
        .quote_style(if always {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        })
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(values).expect("csv writes");
    let mut s = String::from_utf8(w.into_inner().expect("csv flushes")).expect("utf-8");
    assert_eq!(
        s.pop(),
        Some('\n'),
        "csv ends its record with the terminator"
    );
    s
}

#[test]
fn split_line_reads_rfc4180_records_as_the_csv_crate_does() {
    let mut rng = rng(1);
    for case in 0..3000 {
        let values: Vec<String> = (0..rng.random_range(1..9))
            .map(|_| random_value(&mut rng))
            .collect();
        let line = match case % 3 {
            0 => encode(&values, &mut rng),
            1 => encode_with_csv(&values, false),
            _ => encode_with_csv(&values, true),
        };
        let ours = split(&line);
        assert_eq!(
            ours.as_ref().ok(),
            Some(&values),
            "case {case}: split_line of {line:?} (written from {values:?})"
        );
        assert_eq!(
            csv_records(&line),
            std::slice::from_ref(&values),
            "case {case}: the csv crate on {line:?}"
        );
        assert!(
            !open_quote(&line),
            "case {case}: open_quote calls the complete record {line:?} open"
        );
    }
}

#[test]
fn split_line_on_garbage_never_panics_and_agrees_with_csv_where_it_reads() {
    // No line ends and no byte-order mark: see the module comment.
    const PIECES: &[&str] = &[
        ",", ",", "\"", "\"", "\"\"", "a", "b", " ", ";", "é", "日", "\t", "\",\"", "x\"", "#",
    ];
    let mut rng = rng(2);
    let (mut ok, mut unterminated, mut after_quote) = (0, 0, 0);
    for case in 0..5000 {
        let line: String = (0..rng.random_range(0..24))
            .map(|_| pick(&mut rng, PIECES))
            .collect();
        match split(&line) {
            Ok(values) => {
                ok += 1;
                let theirs = csv_records(&line);
                if line.is_empty() {
                    assert_eq!(
                        values,
                        [""],
                        "case {case}: the empty line is one empty value"
                    );
                    assert!(theirs.is_empty(), "case {case}: csv skips the empty line");
                } else {
                    assert_eq!(
                        theirs,
                        [values],
                        "case {case}: split_line and the csv crate on {line:?}"
                    );
                }
                assert!(
                    !open_quote(&line),
                    "case {case}: {line:?} splits, yet open_quote calls it open"
                );
            }
            Err(SplitError::Unterminated) => {
                unterminated += 1;
                assert!(
                    open_quote(&line),
                    "case {case}: split_line finds an unclosed quote in {line:?}, open_quote does not"
                );
            }
            Err(SplitError::AfterQuote) => after_quote += 1,
        }
    }
    // The generator must reach every outcome, or the comparison above proves little.
    for (what, n) in [
        ("read", ok),
        ("unterminated", unterminated),
        ("text after a quote", after_quote),
    ] {
        assert!(n >= 250, "only {n} of 5000 garbage lines ended as {what}");
    }
}

// ---- The line accounting of the record loop ----

const FIELDS: &str = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version";
const NFIELDS: usize = 30;
const SUBJECT: usize = 18;

/// Rows as the reader hands them over: first line and subject.
#[derive(Default)]
struct Collect {
    rows: Vec<(u64, String)>,
}

impl Sink for Collect {
    fn event(&mut self, row: &Row<'_>) {
        self.rows.push((
            u64::from(row.line),
            row.get(Field::Subject).unwrap_or("").to_string(),
        ));
    }
}

struct Read {
    parsed: mailforensics::ingest::Parsed,
    rows: Vec<(u64, String)>,
}

/// Reads `text` as a message tracking log, the way `inspect` and `report` read an entry.
fn read_tracking(text: &str) -> Read {
    let opts = Options::default();
    let ctx = EntryCtx {
        path: "EX01/TransportRoles/Logs/MessageTracking/MSGTRK2026111608-1.LOG",
        server: Some("EX01"),
        opts: &opts,
        reads: Reads::ALL,
    };
    let reader: &dyn LogReader = READERS[0];
    let mut sink = Collect::default();
    let parsed = reader
        .read(LogKind::MessageTracking, text, &ctx, &mut sink)
        .expect("the tracking reader reads any text");
    Read {
        parsed,
        rows: sink.rows,
    }
}

/// Physical lines of a text: every `\n` ends one, and text after the last `\n` is one more.
fn physical_lines(text: &str) -> u64 {
    let n = text.matches('\n').count() as u64;
    n + u64::from(!text.is_empty() && !text.ends_with('\n'))
}

/// A tracking log being written, with what each of its lines is.
struct Log {
    text: String,
    line: u64,
    crlf: Option<bool>,
    rows: Vec<(u64, String)>,
    row_lines: u64,
    /// First line and length of each malformed record.
    malformed: Vec<(u64, u64)>,
    directives: u64,
    blank: u64,
}

impl Log {
    fn new(rng: &mut ChaCha8Rng) -> Log {
        let mut log = Log {
            text: String::new(),
            line: 0,
            // LF, CRLF, or either at random per line.
            crlf: match rng.random_range(0..3) {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            },
            rows: Vec::new(),
            row_lines: 0,
            malformed: Vec::new(),
            directives: 0,
            blank: 0,
        };
        if rng.random_bool(0.5) {
            log.text.push('\u{feff}');
        }
        for d in [
            "#Software: Microsoft Exchange Server".to_string(),
            "#Version: 15.02.1544.004".to_string(),
            "#Log-type: Message Tracking Log".to_string(),
            "#Date: 2026-11-16T08:00:00.000Z".to_string(),
            format!("#Fields: {FIELDS}"),
        ] {
            log.directive(&d, rng);
        }
        log
    }

    fn end(&mut self, rng: &mut ChaCha8Rng) {
        let crlf = self.crlf.unwrap_or_else(|| rng.random_bool(0.5));
        self.text.push_str(if crlf { "\r\n" } else { "\n" });
        self.line += 1;
    }

    /// Writes a record whose text may hold `\n` (a quoted line break): each is written as the
    /// log's line end. Returns its first line and its length in lines.
    fn record(&mut self, text: &str, rng: &mut ChaCha8Rng) -> (u64, u64) {
        let first = self.line + 1;
        let mut parts = text.split('\n').peekable();
        while let Some(p) = parts.next() {
            self.text.push_str(p);
            if parts.peek().is_some() {
                self.end(rng);
            }
        }
        self.end(rng);
        (first, self.line + 1 - first)
    }

    fn directive(&mut self, d: &str, rng: &mut ChaCha8Rng) {
        self.record(d, rng);
        self.directives += 1;
    }

    fn good(&mut self, text: &str, subject: &str, rng: &mut ChaCha8Rng) {
        let (first, n) = self.record(text, rng);
        self.rows.push((first, subject.to_string()));
        self.row_lines += n;
    }

    fn bad(&mut self, text: &str, rng: &mut ChaCha8Rng) {
        let (first, n) = self.record(text, rng);
        self.malformed.push((first, n));
    }

    fn blank(&mut self, text: &str, rng: &mut ChaCha8Rng) {
        self.record(text, rng);
        self.blank += 1;
    }

    /// Drops the last line end now and then (the last line has no `\n`), unless that would
    /// make the last line vanish.
    fn finish(mut self, rng: &mut ChaCha8Rng) -> Log {
        if rng.random_bool(0.3) {
            let cut = if self.text.ends_with("\r\n") { 2 } else { 1 };
            let body = &self.text[..self.text.len() - cut];
            let last = body.rsplit('\n').next().unwrap_or("");
            if !last.is_empty() {
                self.text.truncate(self.text.len() - cut);
            }
        }
        self
    }
}

fn time(rng: &mut ChaCha8Rng) -> String {
    format!(
        "2026-11-16T{:02}:{:02}:{:02}.{:03}Z",
        rng.random_range(8..20),
        rng.random_range(0..60),
        rng.random_range(0..60),
        rng.random_range(0..1000)
    )
}

/// Plain values of a row: no quotes at the start of any value, no commas.
fn plain_values(rng: &mut ChaCha8Rng) -> Vec<String> {
    let mut v: Vec<String> = FIELDS.split(',').map(|_| String::new()).collect();
    v[0] = time(rng);
    v[1] = format!("192.0.2.{}", rng.random_range(1..255));
    // A quote inside an unquoted value is literal text, not the start of a quoted value.
    v[2] = pick(
        rng,
        &["EX01", "EX\"01", "ex01.corp.example", "host\"\"name"],
    )
    .to_string();
    v[4] = "EX01".into();
    v[7] = pick(rng, &["SMTP", "STOREDRIVER", "AGENT"]).to_string();
    v[8] = pick(rng, &["RECEIVE", "SEND", "DELIVER", "FAIL", "NEWEVENT"]).to_string();
    v[9] = rng.random_range(1..99999).to_string();
    v[10] = format!("<m{}@corp.example>", rng.random_range(0..1000));
    v[12] = "to@corp.example".into();
    v[13] = "250 2.1.5 Recipient OK".into();
    v[14] = rng.random_range(0..100000).to_string();
    v[15] = "1".into();
    v[SUBJECT] = "hello".into();
    v[19] = "from@corp.example".into();
    v[22] = "Originating".into();
    v[NFIELDS - 1] = "15.02.1544.004".into();
    v
}

/// Words for subjects: none starts like a record (an ISO time), so a quoted line break is never
/// taken for the start of the next record.
fn subject(rng: &mut ChaCha8Rng, lines: usize) -> String {
    const WORDS: &[&str] = &[
        "Re:",
        "hello",
        "quarterly, report",
        "say \"hi\"",
        "é",
        "日本",
        "🙂",
        "a;b",
        "x=1",
        "",
        " ",
        "1st",
        "#1",
    ];
    (0..lines)
        .map(|_| {
            (0..rng.random_range(1..5))
                .map(|_| pick(rng, WORDS))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('"', "\"\""))
}

/// Garbage that is neither blank nor a directive nor holds a quote: one malformed line.
fn garbage(rng: &mut ChaCha8Rng) -> String {
    const PIECES: &[&str] = &[
        "junk", ",", ",,", " ", "é", "日本", "x", "-", "12", ":", "T",
    ];
    let mut s = pick(rng, &["junk", "x", "é", "--", "T12"]).to_string();
    for _ in 0..rng.random_range(0..40) {
        s.push_str(pick(rng, PIECES));
    }
    s
}

/// A random tracking log whose every line the generator can account for.
fn known_log(rng: &mut ChaCha8Rng) -> Log {
    let mut log = Log::new(rng);
    for _ in 0..rng.random_range(0..60) {
        let mut v = plain_values(rng);
        match rng.random_range(0..100) {
            // A good row, its subject quoted where it must be (and now and then where it
            // need not), spanning lines where it holds line breaks.
            0..=49 => {
                let lines = if rng.random_bool(0.25) {
                    rng.random_range(2..5)
                } else {
                    1
                };
                let s = subject(rng, lines);
                v[SUBJECT] = if s.contains([',', '"', '\n']) || rng.random_bool(0.3) {
                    quote(&s)
                } else {
                    s.clone()
                };
                log.good(&v.join(","), &s, rng);
            }
            50..=57 => {
                let b = pick(rng, &["", " ", "\t", "  \t "]);
                log.blank(b, rng);
            }
            58..=62 => {
                let d = pick(
                    rng,
                    &[
                        "#Software: Microsoft Exchange Server",
                        "#Date: 2026-11-16T09:00:00.000Z",
                        "#Version: 15.02.1544.004",
                    ],
                );
                log.directive(d, rng);
            }
            // The same #Fields again (logs glued together): a directive, same columns.
            63..=64 => log.directive(&format!("#Fields: {FIELDS}"), rng),
            65..=74 => {
                let g = garbage(rng);
                log.bad(&g, rng);
            }
            // A stray quote at the start of a value (not the first), never closed: the next
            // record-like line ends it, and it costs this one line.
            75..=84 => {
                let at = rng.random_range(1..NFIELDS);
                v[2] = "EX01".into();
                v[at] = format!("\"{}", pick(rng, &["", "unclosed", "a, b", "é "]));
                log.bad(&v.join(","), rng);
            }
            // A quoted value with text after its closing quote, over one or more lines.
            85..=89 => {
                let lines = rng.random_range(1..3);
                let s = subject(rng, lines).replace('"', "");
                v[SUBJECT] = format!("\"{s}\"tail");
                log.bad(&v.join(","), rng);
            }
            // One value too many or too few, maybe with a quoted line break.
            90..=94 => {
                if rng.random_bool(0.5) {
                    v.pop();
                } else {
                    v.push("extra".into());
                }
                if rng.random_bool(0.3) {
                    v[SUBJECT] = quote("two\nlines");
                }
                log.bad(&v.join(","), rng);
            }
            // An impossible date: not record-like, so it must hold no quote (it could close a
            // stray quote above it).
            _ => {
                v[0] = pick(
                    rng,
                    &[
                        "2026-02-30T10:00:00.000Z",
                        "2026-11-16T25:00:00.000Z",
                        "16/11/2026 08:03",
                    ],
                )
                .to_string();
                v[2] = "EX01".into();
                log.bad(&v.join(","), rng);
            }
        }
    }
    log.finish(rng)
}

/// The invariant: every physical line is counted once, in one place.
fn assert_accounted(r: &Read, text: &str, case: &str) {
    let p = &r.parsed;
    let l = p.lines;
    assert_eq!(
        l.total,
        physical_lines(text),
        "{case}: lines.total vs the text's lines; text: {text:?}"
    );
    assert_eq!(
        l.total,
        l.rows + p.malformed_total + l.directives + l.blank,
        "{case}: total != rows + malformed + directives + blank ({l:?}, malformed {}); text: {text:?}",
        p.malformed_total
    );
    assert!(p.rows <= l.rows, "{case}: more rows than row lines: {l:?}");
    assert_eq!(
        p.rows as usize,
        r.rows.len(),
        "{case}: rows counted vs rows handed to the sink"
    );
    assert!(
        p.malformed.len() as u64 <= p.malformed_total,
        "{case}: more malformed records listed than malformed lines"
    );
}

#[test]
fn every_line_of_a_random_tracking_log_is_accounted_for_exactly() {
    let mut rng = rng(3);
    let mut seen = [0u64; 4];
    for n in 0..2000 {
        let log = known_log(&mut rng);
        let case = format!("known log {n} (seed {SEED:#x}^3)");
        let r = read_tracking(&log.text);
        assert_accounted(&r, &log.text, &case);
        let p = &r.parsed;
        let bad_lines: u64 = log.malformed.iter().map(|m| m.1).sum();
        assert_eq!(
            (
                p.rows,
                p.lines.rows,
                p.malformed_total,
                p.lines.directives,
                p.lines.blank
            ),
            (
                log.rows.len() as u64,
                log.row_lines,
                bad_lines,
                log.directives,
                log.blank
            ),
            "{case}: (rows, row lines, malformed lines, directives, blank) vs written; text: {:?}",
            log.text
        );
        assert_eq!(
            r.rows, log.rows,
            "{case}: first line and subject of each row; text: {:?}",
            log.text
        );
        let listed: Vec<u64> = p.malformed.iter().map(|m| m.line).collect();
        let written: Vec<u64> = log
            .malformed
            .iter()
            .map(|m| m.0)
            .take(mailforensics::ingest::MALFORMED_LISTED_PER_ENTRY)
            .collect();
        assert_eq!(
            listed, written,
            "{case}: lines of the malformed records; text: {:?}",
            log.text
        );
        seen[0] += log.rows.len() as u64;
        seen[1] += log.row_lines - log.rows.len() as u64;
        seen[2] += log.malformed.len() as u64;
        seen[3] += log.blank;
    }
    for (what, n) in [
        "rows",
        "continuation lines",
        "malformed records",
        "blank lines",
    ]
    .iter()
    .zip(seen)
    {
        assert!(n >= 1000, "the generator wrote only {n} {what}");
    }
}

#[test]
fn every_line_is_accounted_for_whatever_the_quotes() {
    // The logs above with stray quotes, line breaks and carriage returns put anywhere: what
    // each line becomes is no longer known, but each is counted once.
    let mut rng = rng(4);
    for n in 0..2000 {
        let log = known_log(&mut rng);
        let mut text = log.text;
        for _ in 0..rng.random_range(1..8) {
            let mut at = rng.random_range(0..=text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let what = pick(
                &mut rng,
                &["\"", "\"", "\"", "\n", "\r", "\r\n", "\"\n", ",\""],
            );
            text.insert_str(at, what);
        }
        let r = read_tracking(&text);
        assert_accounted(&r, &text, &format!("mutated log {n} (seed {SEED:#x}^4)"));
    }
}

/// A 2016 tracking log with a 5-line header and `rows` data lines; `stray` holds the line
/// numbers whose subject starts with a quote that never closes.
fn log_with_stray_quotes(rows: u64, stray: &[u64]) -> String {
    let mut text = format!(
        "#Software: Microsoft Exchange Server\r\n#Version: 15.02.1544.004\r\n#Log-type: Message Tracking Log\r\n#Date: 2026-11-16T08:00:00.000Z\r\n#Fields: {FIELDS}\r\n"
    );
    for line in 6..6 + rows {
        let subject = if stray.contains(&line) {
            "\"Disk full on SRV01, please check".to_string()
        } else {
            format!("alert {line}")
        };
        text.push_str(&format!(
            "2026-11-16T08:{:02}:00.000Z,192.0.2.44,,,EX01,,,SMTP,RECEIVE,{line},<a{line}@corp.example>,,ops@corp.example,,1000,1,,,{subject},app@corp.example,app@corp.example,,Originating,,,,,Email,,15.02.1544.004\r\n",
            line % 60
        ));
    }
    text
}

#[test]
fn two_stray_quotes_cost_two_lines_not_the_lines_between_them() {
    // The issue: 29 data lines, a stray `"` at the start of a value on line 8 and another on
    // line 30. The first must not swallow lines 9-29 up to the second (6 rows, 1 malformed).
    let text = log_with_stray_quotes(29, &[8, 30]);
    assert_eq!(
        READERS[0].sniff("MSGTRK2026111608-1.LOG", &text),
        Some(LogKind::MessageTracking),
        "READERS[0] is the tracking reader"
    );
    assert_eq!(physical_lines(&text), 34, "stray-quote log: 5 + 29 lines");
    let r = read_tracking(&text);
    assert_accounted(&r, &text, "stray-quote log");
    let p = &r.parsed;
    assert_eq!(p.rows, 27, "stray-quote log: rows");
    assert_eq!(p.malformed_total, 2, "stray-quote log: malformed lines");
    let listed: Vec<u64> = p.malformed.iter().map(|m| m.line).collect();
    assert_eq!(listed, [8, 30], "stray-quote log: malformed lines listed");
    let row_lines: Vec<u64> = r.rows.iter().map(|x| x.0).collect();
    let expected: Vec<u64> = (6..35).filter(|l| *l != 8 && *l != 30).collect();
    assert_eq!(
        row_lines, expected,
        "stray-quote log: the lines read as rows"
    );

    // And end to end, as `inspect` counts a bundle holding that file.
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("EX01/TransportRoles/Logs/MessageTracking");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join("MSGTRK2026111608-1.LOG"), &text).expect("write");
    let inv = mailforensics::ingest::inventory(
        dir.path(),
        &Options::default(),
        &mailforensics::ingest::Quiet,
    )
    .expect("the bundle reads");
    assert_eq!(inv.events, 27, "stray-quote bundle: events");
    assert_eq!(
        inv.malformed_total, 2,
        "stray-quote bundle: malformed lines"
    );
    let lines: Vec<u64> = inv.malformed_lines.iter().map(|m| m.line).collect();
    assert_eq!(lines, [8, 30], "stray-quote bundle: malformed lines listed");
}
