//! The fuzzers' stable, bounded stand-in (the fuzzers themselves, in `fuzz/`, need a nightly
//! compiler): a seeded mutation loop over the same corpus (the fixtures and the real files),
//! checking the same invariants (`fuzz/src/lib.rs`, included here as `checks`). Each input is
//! a fixture or real log with one to three mutations: bit flips, inserted and deleted bytes,
//! truncation, duplicated and swapped lines, stray quotes and commas, huge numbers, impossible
//! and far-away dates, CRLF/LF mixes, UTF-16 and stray byte-order marks, lost headers, spliced
//! files, very long lines, script tags in fields. Every input goes through its reader; some go
//! through a zip bundle and the inventory, some through the whole report chain; zips of valid
//! logs have their own bytes mutated too. The same seed gives the same cases, so a failure is
//! reproducible: the message names the case and the input is written next to the test binary.
//!
//! Regression tests for what the fuzzers found are at the end, with the input inlined.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use checks::{Format, Scratch};

/// How many mutated inputs go through the readers; every `BUNDLE_EVERY`th also through a zip
/// bundle and the inventory, every `REPORT_EVERY`th through the whole report chain.
const READER_CASES: usize = 6000;
const BUNDLE_EVERY: usize = 5;
const REPORT_EVERY: usize = 20;
/// Zips of valid logs whose container bytes are mutated.
const ZIP_CASES: usize = 600;

/// `MUTATIONS_SCALE=N` runs N times as many cases, `MUTATIONS_SEED=S` another sequence of them
/// (for a longer hunt on a developer's machine; CI runs the defaults).
fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scale() -> usize {
    env_u64("MUTATIONS_SCALE", 1).max(1) as usize
}

fn seed(base: u64) -> u64 {
    base ^ env_u64("MUTATIONS_SEED", 0)
}

fn repo(rel: &str) -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join(rel)
}

/// One log of the corpus, as text bytes (gzip undone, zip members taken out).
struct Seed {
    name: String,
    format: Format,
    bytes: Vec<u8>,
}

fn format_of(kind: mailforensics::ingest::LogKind) -> Option<Format> {
    use mailforensics::ingest::LogKind::*;
    match kind {
        MessageTracking => Some(Format::Tracking),
        SmtpReceive | SmtpSend => Some(Format::Protocol),
        PowershellCsv => Some(Format::Powershell),
        ExoTrace => Some(Format::Exo),
        Skipped => None,
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The fixtures and the real files, each recognised by its content.
fn corpus() -> Vec<Seed> {
    let mut paths = Vec::new();
    files_under(&repo("tests/fixtures/formats"), &mut paths);
    files_under(&repo("tests/fixtures/xss"), &mut paths);
    let real = repo("../shared/formats/real");
    assert!(
        real.exists(),
        "{} is missing (CI runs with shared/ beside the clone)",
        real.display()
    );
    files_under(&real, &mut paths);
    let mut out = Vec::new();
    for p in paths {
        let raw = std::fs::read(&p).expect("read seed");
        let name = p.file_name().map_or(String::new(), |n| {
            n.to_string_lossy().trim_end_matches(".gz").to_string()
        });
        let mut blobs = Vec::new();
        if raw.starts_with(&[0x1f, 0x8b]) {
            let mut v = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut v)
                .expect("gunzip seed");
            blobs.push((name, v));
        } else if raw.starts_with(b"PK") {
            let mut z = zip::ZipArchive::new(std::io::Cursor::new(raw)).expect("seed zip");
            for i in 0..z.len() {
                let mut f = z.by_index(i).expect("zip member");
                let full = String::from_utf8_lossy(f.name_raw()).into_owned();
                let n = full.rsplit('/').next().unwrap_or("").to_string();
                let mut v = Vec::new();
                f.read_to_end(&mut v).expect("zip member");
                blobs.push((n, v));
            }
        } else {
            blobs.push((name, raw));
        }
        for (name, bytes) in blobs {
            let text = checks::text_of(&bytes);
            if let Some(format) = checks::sniff_all(&name, &text).and_then(format_of) {
                out.push(Seed {
                    name,
                    format,
                    bytes,
                });
            }
        }
    }
    for f in checks::FORMATS {
        assert!(out.iter().any(|s| s.format == f), "no seed of format {f:?}");
    }
    out
}

// --- mutations ---------------------------------------------------------------------------------

const DATES: [&str; 9] = [
    "9999-12-31",
    "2023-02-31",
    "0000-01-01",
    "1970-01-01",
    "1600-02-29",
    "2026-13-01",
    "2026-00-00",
    "+275760-09-13",
    "-0001-01-01",
];
const TIMES: [&str; 6] = [
    "23:59:60",
    "24:00:00",
    "99:99:99",
    "00:00:00.9999999999",
    "12:00:00+14:00",
    "1:2:3",
];
const HUGE: [&str; 8] = [
    "99999999999999999999999999",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "-1",
    "1e308",
    "NaN",
    "0x7fffffff",
];
const PAYLOADS: [&str; 6] = [
    "<script>alert(1)</script>",
    "\"><ScRiPt src=//x></ScRiPt>",
    "<svg onload=alert(1)>",
    "</style><script>x</script>",
    "{{ 7*7 }}{% raw %}",
    "\u{202e}\u{0}\u{7}",
];

fn lines_of(b: &[u8]) -> Vec<Vec<u8>> {
    b.split_inclusive(|&c| c == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, v: &'a [T]) -> &'a T {
    &v[rng.random_range(0..v.len())]
}

/// Replaces the `n`th-from-random occurrence of something found by `find` in `b`.
fn replace_at(b: &mut Vec<u8>, at: usize, len: usize, with: &[u8]) {
    let end = (at + len).min(b.len());
    b.splice(at..end, with.iter().copied());
}

/// Positions where a date (`dddd-dd-dd`) starts.
fn dates_in(b: &[u8]) -> Vec<usize> {
    (0..b.len().saturating_sub(10))
        .filter(|&i| {
            let w = &b[i..i + 10];
            w[4] == b'-'
                && w[7] == b'-'
                && w.iter()
                    .enumerate()
                    .all(|(k, c)| k == 4 || k == 7 || c.is_ascii_digit())
        })
        .collect()
}

/// One mutation of `b`, described for the failure message. `other` is another seed, for
/// splicing.
fn mutate(rng: &mut ChaCha8Rng, b: &mut Vec<u8>, other: &[u8]) -> &'static str {
    if b.is_empty() {
        b.extend_from_slice(other);
    }
    let len = b.len();
    match rng.random_range(0..20) {
        0 => {
            for _ in 0..rng.random_range(1..9) {
                let i = rng.random_range(0..len);
                b[i] ^= 1 << rng.random_range(0..8);
            }
            "bit flips"
        }
        1 => {
            let at = rng.random_range(0..=len);
            let byte = *pick(
                rng,
                &[b'"', b',', b'\n', b'\r', 0, 0xFF, b'#', b';', b'\\', 0xC3],
            );
            let n = rng.random_range(1..4);
            replace_at(b, at, 0, &vec![byte; n]);
            "bytes inserted"
        }
        2 => {
            let at = rng.random_range(0..len);
            let n = rng.random_range(1..=64.min(len - at));
            b.drain(at..at + n);
            "bytes deleted"
        }
        3 => {
            b.truncate(rng.random_range(0..len));
            "truncated"
        }
        4 | 5 => {
            let mut ls = lines_of(b);
            let i = rng.random_range(0..ls.len());
            let times = if rng.random_bool(0.2) { 200 } else { 1 };
            for _ in 0..times {
                let l = ls[i].clone();
                ls.insert(i, l);
            }
            *b = ls.concat();
            "line duplicated"
        }
        6 => {
            let mut ls = lines_of(b);
            let (i, j) = (rng.random_range(0..ls.len()), rng.random_range(0..ls.len()));
            ls.swap(i, j);
            *b = ls.concat();
            "lines swapped"
        }
        7 => {
            let at = rng.random_range(0..=len);
            replace_at(b, at, 0, b"\"");
            "stray quote"
        }
        8 => {
            let at = rng.random_range(0..=len);
            replace_at(b, at, 0, if rng.random_bool(0.5) { b"," } else { b",," });
            "stray comma"
        }
        9 => {
            let digits: Vec<usize> = (0..len).filter(|&i| b[i].is_ascii_digit()).collect();
            if digits.is_empty() {
                return "no digits";
            }
            let at = *pick(rng, &digits);
            let run = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            replace_at(b, at, run, pick(rng, &HUGE).as_bytes());
            "huge number"
        }
        10 | 11 => {
            let ds = dates_in(b);
            if ds.is_empty() {
                return "no dates";
            }
            let d = pick(rng, &DATES).as_bytes().to_vec();
            // One date, or every date of the file (a bundle spanning millennia).
            if rng.random_bool(0.3) {
                for &at in ds.iter().rev() {
                    replace_at(b, at, 10, &d);
                }
            } else {
                let at = *pick(rng, &ds);
                replace_at(b, at, 10, &d);
                if rng.random_bool(0.3) && at + d.len() + 9 <= b.len() {
                    replace_at(b, at + d.len() + 1, 8, pick(rng, &TIMES).as_bytes());
                }
            }
            "date"
        }
        12 => {
            let mut out = Vec::with_capacity(len + len / 8);
            for &c in b.iter() {
                match c {
                    b'\n' if rng.random_bool(0.5) => out.extend_from_slice(b"\r\n"),
                    b'\r' if rng.random_bool(0.5) => {}
                    b'\n' if rng.random_bool(0.05) => out.push(b'\r'),
                    c => out.push(c),
                }
            }
            *b = out;
            "CRLF/LF mix"
        }
        13 => {
            let text = String::from_utf8_lossy(b).into_owned();
            match rng.random_range(0..4) {
                0 => {
                    let mut o = vec![0xFF, 0xFE];
                    o.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                    *b = o;
                    "UTF-16LE with BOM"
                }
                1 => {
                    let mut o = vec![0xFE, 0xFF];
                    o.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
                    *b = o;
                    "UTF-16BE with BOM"
                }
                2 => {
                    let mut o = vec![0xFF, 0xFE];
                    o.extend_from_slice(b);
                    *b = o;
                    "UTF-16 BOM on UTF-8 bytes"
                }
                _ => {
                    let at = rng.random_range(0..=len);
                    replace_at(b, at, 0, "\u{feff}".as_bytes());
                    "BOM mid-text"
                }
            }
        }
        14 => {
            let ls: Vec<Vec<u8>> = lines_of(b)
                .into_iter()
                .filter(|l| !(l.starts_with(b"#") || l.starts_with(b"\xEF\xBB\xBF#")))
                .collect();
            *b = ls.concat();
            "header removed"
        }
        15 => {
            let at = rng.random_range(0..len);
            let from = rng.random_range(0..other.len().max(1));
            let n = rng.random_range(0..=other.len() - from.min(other.len()));
            b.truncate(at);
            b.extend_from_slice(&other[from.min(other.len())..from.min(other.len()) + n]);
            "spliced with another seed"
        }
        16 => {
            let at = rng.random_range(0..=len);
            let unit: &[u8] = pick::<&[u8]>(rng, &[&b"x"[..], b"a,", b"\"\"", b";", b"<"]);
            replace_at(b, at, 0, &unit.repeat(rng.random_range(1_000..70_000)));
            "very long line"
        }
        17 => {
            let at = rng.random_range(0..=len);
            replace_at(b, at, 0, pick(rng, &PAYLOADS).as_bytes());
            "markup in a field"
        }
        18 => {
            let (from, to) = *pick(
                rng,
                &[(b',', b';'), (b',', b'\t'), (b'"', b'\''), (b'-', b'/')],
            );
            for c in b.iter_mut() {
                if *c == from && rng.random_bool(0.3) {
                    *c = to;
                }
            }
            "separators swapped"
        }
        _ => {
            let blank: &[u8] =
                pick::<&[u8]>(rng, &[&b"\n"[..], b"\r\n", b" \t\n", b"#\n", b"#Fields:\n"]);
            let ls = lines_of(b);
            let i = rng.random_range(0..=ls.len());
            let mut ls = ls;
            ls.insert(i, blank.to_vec());
            *b = ls.concat();
            "blank or empty directive line"
        }
    }
}

/// A mutated seed: its bytes and what was done to them.
fn mutated(rng: &mut ChaCha8Rng, corpus: &[Seed]) -> (usize, Vec<u8>, Vec<&'static str>) {
    let i = rng.random_range(0..corpus.len());
    let other = &corpus[rng.random_range(0..corpus.len())].bytes;
    let mut b = corpus[i].bytes.clone();
    let mut done = Vec::new();
    for _ in 0..rng.random_range(1..=3) {
        done.push(mutate(rng, &mut b, other));
    }
    (i, b, done)
}

/// Runs `f`; on a panic, saves the input beside the test binary and fails naming the case.
fn guarded(what: &str, input: &[u8], f: impl FnOnce()) {
    if let Err(e) = catch_unwind(AssertUnwindSafe(f)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let dir = std::env::temp_dir().join("mailforensics-mutations");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(what.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        let _ = std::fs::write(&file, input);
        panic!(
            "{what}: {msg}\n(input of {} bytes saved as {})",
            input.len(),
            file.display()
        );
    }
}

/// Entries of a bundle from mutated seeds: a server folder each, named for their format.
fn bundle_entries(
    rng: &mut ChaCha8Rng,
    corpus: &[Seed],
    first: (usize, Vec<u8>),
) -> Vec<(String, Vec<u8>)> {
    let mut picks = vec![first];
    for _ in 0..rng.random_range(0..3) {
        let (i, b, _) = mutated(rng, corpus);
        picks.push((i, b));
    }
    picks
        .into_iter()
        .enumerate()
        .map(|(k, (i, b))| {
            let s = &corpus[i];
            let folder = match s.format {
                Format::Tracking => "TransportRoles/Logs/MessageTracking",
                Format::Protocol => "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpReceive",
                _ => "exports",
            };
            let name = format!("EX{:02}/{folder}/{}", k + 1, s.name);
            if rng.random_bool(0.15) {
                (format!("{name}.gz"), checks::gzip(&b))
            } else {
                (name, b)
            }
        })
        .collect()
}

#[test]
fn readers_bundles_and_reports_survive_mutated_logs() {
    let t0 = std::time::Instant::now();
    let corpus = corpus();
    let scratch = Scratch::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed(0x6d61_696c));
    let (mut bundles, mut reports, mut rendered, mut rows) = (0, 0, 0, 0u64);
    let cases = READER_CASES * scale();
    for case in 0..cases {
        let (i, bytes, done) = mutated(&mut rng, &corpus);
        let seed = &corpus[i];
        let what = format!(
            "case {case}: {} ({:?}) with {done:?}",
            seed.name, seed.format
        );
        guarded(&what, &bytes, || {
            let text = checks::text_of(&bytes);
            let variant = rng.random::<u8>();
            let opts = checks::options(variant);
            let server = (variant & 1 == 1).then_some("EX01");
            if let Some(p) = checks::check_reader(seed.format, &text, server, &opts) {
                rows += p.rows;
            }
            // Every reader on every text: a reader handed the wrong format must cope too.
            let other = checks::FORMATS[case % 4];
            checks::check_reader(other, &text, None, &opts);
        });
        if case % BUNDLE_EVERY == 0 {
            let entries = bundle_entries(&mut rng, &corpus, (i, bytes.clone()));
            let zip = checks::zip_of(&entries, rng.random_bool(0.5));
            guarded(&format!("{what}, as a bundle"), &zip, || {
                let path = scratch.file("bundle.zip", &zip);
                checks::check_bundle(&path);
                if case % REPORT_EVERY == 0 {
                    if checks::check_report(&path, &checks::options(case as u8)).is_some() {
                        rendered += 1;
                    }
                    reports += 1;
                }
            });
            bundles += 1;
        }
    }
    eprintln!(
        "{cases} mutated logs ({rows} rows read), {bundles} bundles, {reports} report runs ({rendered} rendered) in {:.1?}",
        t0.elapsed()
    );
}

#[test]
fn mutated_zip_containers_are_refused_or_read() {
    let t0 = std::time::Instant::now();
    let corpus = corpus();
    let scratch = Scratch::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed(0x007a_6970));
    let cases = ZIP_CASES * scale();
    for case in 0..cases {
        let n = rng.random_range(1..=3);
        let mut entries: Vec<(String, Vec<u8>)> = (0..n)
            .map(|k| {
                let s = &corpus[rng.random_range(0..corpus.len())];
                (format!("EX{k}/{}", s.name), s.bytes.clone())
            })
            .collect();
        // A zip inside the zip, now and then, so nested headers get mutated too.
        if rng.random_bool(0.2) {
            let inner = checks::zip_of(&entries, true);
            entries = vec![("inner.zip".to_string(), inner)];
        }
        let mut zip = checks::zip_of(&entries, rng.random_bool(0.7));
        let how = match rng.random_range(0..6) {
            0 => {
                zip.truncate(rng.random_range(0..zip.len()));
                "truncated"
            }
            1 => {
                // The headers are at the start and the end: aim there.
                let len = zip.len();
                for _ in 0..rng.random_range(1..4) {
                    let at = if rng.random_bool(0.5) {
                        rng.random_range(0..len.min(64))
                    } else {
                        len - 1 - rng.random_range(0..len.min(100))
                    };
                    zip[at] = rng.random();
                }
                "header bytes"
            }
            2 => {
                let len = zip.len();
                for _ in 0..rng.random_range(1..9) {
                    let at = rng.random_range(0..len);
                    zip[at] ^= 1 << rng.random_range(0..8);
                }
                "bit flips"
            }
            3 => {
                let at = rng.random_range(0..zip.len());
                let n = rng.random_range(1..=16.min(zip.len() - at));
                zip.drain(at..at + n);
                "bytes deleted"
            }
            4 => {
                // Sizes and offsets: little-endian u32 fields everywhere in the headers.
                let len = zip.len();
                let at = rng.random_range(0..len.saturating_sub(4));
                let v: u32 = *pick(&mut rng, &[0, 1, u32::MAX, 0x7fff_ffff, 0xffff]);
                zip[at..at + 4].copy_from_slice(&v.to_le_bytes());
                "a u32 field"
            }
            _ => {
                let at = rng.random_range(0..zip.len());
                let chunk = zip[at..(at + 64).min(zip.len())].to_vec();
                let to = rng.random_range(0..zip.len());
                zip.splice(to..to, chunk);
                "bytes duplicated"
            }
        };
        guarded(&format!("zip case {case}: {how}"), &zip, || {
            checks::fuzz_bundle(&scratch, &zip);
        });
    }
    eprintln!("{cases} mutated zips in {:.1?}", t0.elapsed());
}

// --- regressions: inputs the fuzzers found, minimised, inlined ---------------------------------

/// Found by the mutation loop (case 1143 before the CSV line count learnt about lone CRs): the
/// `csv` crate ends a record at a lone `\r`, but its line numbers count only `\n`, so in an
/// export with old-Mac line ends every record claims line 1 and the malformed list and the
/// evidence point at the wrong line. (With a `#TYPE` line first it is worse: `body` looks for
/// the `\n` after `#TYPE`, finds none, and the whole file reads as empty, with a "no header
/// row" warning and no line counted anywhere.) Fixed: `LineOf` counts a lone `\r` as a
/// line end, and `body` ends the `#TYPE` line at one.
#[test]
fn csv_line_numbers_count_lone_carriage_returns() {
    let header = checks::POWERSHELL_HEADER
        .split_once("\r\n")
        .map_or("", |(_, h)| h.trim_end());
    let row = "\"EX01\",\"\",\"\",\"11/16/2026 9:04:00 AM\"";
    let opts = checks::options(0);
    let text = format!("{header}\r{row}\r\"bad\",\"row\"\r");
    let p = checks::check_reader(Format::Powershell, &text, None, &opts).expect("read");
    let lines: Vec<u64> = p.malformed.iter().map(|m| m.line).collect();
    // Line 1 is the header, 2 the short row, 3 the bad one.
    assert_eq!(lines, [2, 3], "{:?}", p.malformed);
    // With `#TYPE` first, the same lines must not vanish.
    let typed = format!(
        "#TYPE Microsoft.Exchange.Management.TransportLogSearchTasks.MessageTrackingEvent\r{text}"
    );
    let p = checks::check_reader(Format::Powershell, &typed, None, &opts).expect("read");
    assert_eq!(p.malformed_total, 2, "{:?}", p.warnings);
}
