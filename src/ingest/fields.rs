//! Field-level parsing shared by the readers: splitting a log line into values, splitting the
//! `;`-joined recipient statuses, pulling the enhanced status code out of an SMTP reply, and
//! reading timestamps.
//!
//! Tracking logs are the bulk of a bundle (gigabytes), so the line splitter is hand-rolled: the
//! commas of a line come from 64-byte bit masks, quotes from `memchr`; quoted values follow
//! RFC 4180. The smaller CSV exports (PowerShell, Exchange Online) go through the `csv`
//! crate instead.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, TimeZone};

/// Why a line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// A quoted value never closes on this line.
    Unterminated,
    /// Text after a closing quote, before the next comma (`"a"b`).
    AfterQuote,
}

/// Splits one CSV line (without its line end) into `out`. Values are borrowed unless a doubled
/// quote had to be collapsed.
pub fn split_line<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) -> Result<(), SplitError> {
    out.clear();
    let bytes = line.as_bytes();
    // A tracking line holds ~30 short values: finding each comma with its own `memchr` call
    // costs more than the bytes do, so commas come from 64-byte masks ([`Commas`]).
    let mut commas = Commas::new(bytes);
    let mut i = 0;
    loop {
        if i < bytes.len() && bytes[i] == b'"' {
            let (value, next) = quoted_value(line, i)?;
            out.push(value);
            i = next;
            if i == bytes.len() {
                return Ok(());
            }
            if bytes[i] != b',' {
                return Err(SplitError::AfterQuote);
            }
            i += 1;
        } else {
            match commas.at_or_after(i) {
                Some(c) => {
                    out.push(Cow::Borrowed(&line[i..c]));
                    i = c + 1;
                }
                None => {
                    out.push(Cow::Borrowed(&line[i..]));
                    return Ok(());
                }
            }
        }
        if i == bytes.len() {
            out.push(Cow::Borrowed(""));
            return Ok(());
        }
    }
}

/// The quoted value that opens at byte `i` of `line` (a `"`), unquoted, and the byte after its
/// closing quote. It runs to the next quote that is not doubled; the value is borrowed unless a
/// doubled quote had to be collapsed.
fn quoted_value(line: &str, i: usize) -> Result<(Cow<'_, str>, usize), SplitError> {
    let bytes = line.as_bytes();
    let start = i + 1;
    let mut j = start;
    let mut owned: Option<String> = None;
    loop {
        let q = j + memchr::memchr(b'"', &bytes[j..]).ok_or(SplitError::Unterminated)?;
        if q + 1 < bytes.len() && bytes[q + 1] == b'"' {
            owned.get_or_insert_with(String::new).push_str(&line[j..=q]);
            j = q + 2;
        } else {
            let value = match owned {
                Some(mut s) => {
                    s.push_str(&line[j..q]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&line[start..q]),
            };
            return Ok((value, q + 1));
        }
    }
}

/// The commas of a line, 64 bytes at a time: each block becomes one bit mask (bit `i` set where
/// byte `i` is a comma), and the commas are its set bits.
struct Commas<'a> {
    bytes: &'a [u8],
    /// Start of the block `mask` describes.
    base: usize,
    mask: u64,
}

impl<'a> Commas<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Commas {
            bytes,
            base: 0,
            mask: comma_mask(bytes, 0),
        }
    }

    /// The first comma at or after `pos`.
    fn at_or_after(&mut self, pos: usize) -> Option<usize> {
        if pos >= self.base + 64 {
            self.base = pos - pos % 64;
            self.mask = comma_mask(self.bytes, self.base);
        }
        let mut m = self.mask & (u64::MAX << (pos - self.base));
        loop {
            if m != 0 {
                return Some(self.base + m.trailing_zeros() as usize);
            }
            if self.base + 64 >= self.bytes.len() {
                return None;
            }
            self.base += 64;
            self.mask = comma_mask(self.bytes, self.base);
            m = self.mask;
        }
    }
}

/// Bit `i` set where `bytes[base + i]` is a comma.
fn comma_mask(bytes: &[u8], base: usize) -> u64 {
    let rest = bytes.get(base..).unwrap_or(&[]);
    match rest.first_chunk::<64>() {
        Some(block) => block_mask(block),
        None => {
            // The last bytes, padded with a byte that is not a comma.
            let mut block = [0u8; 64];
            block[..rest.len()].copy_from_slice(rest);
            block_mask(&block)
        }
    }
}

/// Four 16-byte compares make the mask.
#[cfg(target_arch = "x86_64")]
fn block_mask(block: &[u8; 64]) -> u64 {
    // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU has it; no pointer is
    // involved (the words are built from the slice by value).
    unsafe { block_mask_sse2(block) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn block_mask_sse2(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_set1_epi8, _mm_set_epi64x};
    let commas = _mm_set1_epi8(b',' as i8);
    let mut m = 0u64;
    for (k, part) in block.chunks_exact(16).enumerate() {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&part[i..i + 8]);
            i64::from_le_bytes(w)
        };
        let v = _mm_set_epi64x(word(8), word(0));
        let bits = _mm_movemask_epi8(_mm_cmpeq_epi8(v, commas)) as u32 as u64;
        m |= bits << (16 * k);
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
fn block_mask(block: &[u8; 64]) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |m, (i, &c)| m | ((c == b',') as u64) << i)
}

/// `s.trim()`, decided from two bytes in the common case: a value that starts and ends with a
/// visible ASCII character has no white space to trim (Unicode white space is never ASCII
/// graphic, and a multi-byte character never starts or ends with an ASCII byte).
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// `s.split(sep)` for an ASCII separator, searched as a byte: most values hold one or two
/// short pieces, for which the general character searcher's set-up is most of the cost.
#[inline]
pub fn split_ascii(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(sep, r.as_bytes()) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `s.split_once(sep)` for an ASCII separator, searched as a byte (see [`split_ascii`]).
#[inline]
pub fn split_once_ascii(s: &str, sep: u8) -> Option<(&str, &str)> {
    debug_assert!(sep.is_ascii());
    let i = memchr::memchr(sep, s.as_bytes())?;
    Some((&s[..i], &s[i + 1..]))
}

/// Hands an emptied value buffer to the next line with a new lifetime, keeping its allocation
/// (the in-place `collect` reuses it), so splitting millions of lines allocates once.
pub fn recycle<'b>(mut v: Vec<Cow<'_, str>>) -> Vec<Cow<'b, str>> {
    v.clear();
    v.into_iter().map(|_| Cow::Borrowed("")).collect()
}

/// True when `text` ends inside a quoted value, i.e. the record continues on the next line.
/// Follows the same rule as [`split_line`]: a quote opens a quoted value only at the start of a
/// value; inside one, `""` is a literal quote and a single `"` closes it. A quote in the middle
/// of an unquoted value is literal text, so it never swallows the following lines.
///
/// Only the quotes are visited (a line has a few, and tens of values): a quote starts a value
/// when it is the first byte or follows a comma or a line break outside any quoted value.
pub fn open_quote(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        let Some(k) = memchr::memchr(b'"', &b[i..]) else {
            return false;
        };
        let q = i + k;
        if q > 0 && b[q - 1] != b',' && b[q - 1] != b'\n' {
            i = q + 1;
            continue;
        }
        // Inside a quoted value: find its closing quote.
        let mut j = q + 1;
        loop {
            match memchr::memchr(b'"', &b[j..]) {
                None => return true,
                Some(k) => {
                    let c = j + k;
                    if c + 1 < b.len() && b[c + 1] == b'"' {
                        j = c + 2;
                    } else {
                        i = c + 1;
                        break;
                    }
                }
            }
        }
    }
}

/// Splits a `recipient-status` list into one span per recipient. `;` separates statuses, but
/// also occurs inside one (`[{LRT=};{LED=550 5.7.1 ...}]`, `5.2.2 mailbox full; STOREDRV...`),
/// so with several recipients a new status starts only at depth 0 where the next text looks like
/// the start of a status (`250 ...`, `To`, `Cc`, ...). With one recipient the whole value is one
/// status.
pub fn split_statuses(s: &str, recipients: usize, out: &mut Vec<(usize, usize)>) {
    out.clear();
    if s.is_empty() {
        return;
    }
    if recipients <= 1 {
        out.push((0, s.len()));
        return;
    }
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b';' if depth <= 0 && starts_status(&s[i + 1..]) => {
                out.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, s.len()));
}

fn starts_status(rest: &str) -> bool {
    let t = rest.trim_start().as_bytes();
    if t.len() >= 3
        && t[..3].iter().all(u8::is_ascii_digit)
        && t.get(3).is_none_or(|c| !c.is_ascii_alphanumeric())
    {
        return true;
    }
    let word_end = t
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .unwrap_or(t.len());
    matches!(
        &t[..word_end],
        b"To"
            | b"Cc"
            | b"Bcc"
            | b"Delivered"
            | b"Failed"
            | b"Pending"
            | b"Expanded"
            | b"Quarantined"
            | b"FilteredAsSpam"
            | b"GettingStatus"
    ) || t.is_empty()
}

/// The first RFC 3463 enhanced status code (`5.2.2`, `4.4.7`, `5.4.14`) in an SMTP reply or
/// Exchange status text.
pub fn enhanced_code(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut i = 0;
    while i + 5 <= b.len() {
        let c = b[i];
        if (c == b'2' || c == b'4' || c == b'5')
            && b[i + 1] == b'.'
            && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.'))
        {
            let mut j = i + 2;
            let d1 = j;
            while j < b.len() && b[j].is_ascii_digit() && j - d1 < 3 {
                j += 1;
            }
            if j > d1 && j < b.len() && b[j] == b'.' {
                j += 1;
                let d2 = j;
                while j < b.len() && b[j].is_ascii_digit() && j - d2 < 3 {
                    j += 1;
                }
                if j > d2 && (j == b.len() || !(b[j].is_ascii_digit() || b[j] == b'.')) {
                    return Some(&s[i..j]);
                }
            }
        }
        i += 1;
    }
    None
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    Some(v)
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Why a timestamp was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not a timestamp at all.
    Unreadable,
    /// Shaped like one but not a real date or time (`2023-02-31`, `25:00`): a corrupted line,
    /// never silently shifted into the next month or day.
    Impossible,
}

/// A timestamp read from a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub ms: i64,
    /// The value was a leap second (`23:59:60`), kept as `23:59:59.999` of the same day.
    pub leap: bool,
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses the tracking-log timestamp `yyyy-mm-ddThh:mm:ss[.f...]Z` to epoch milliseconds. This
/// runs once per row of a multi-gigabyte bundle, so the fixed layout is read by hand; anything
/// else falls back to chrono's RFC 3339 parser. Impossible dates are errors, not shifted; a leap
/// second is kept as the last millisecond of its minute and flagged.
pub fn parse_iso(s: &str) -> Result<Stamp, TimeError> {
    let b = s.as_bytes();
    if b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && b[16] == b':'
    {
        let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or(TimeError::Unreadable);
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut ms = 0i64;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let fs = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == fs {
                return Err(TimeError::Unreadable);
            }
            let frac = &b[fs..i.min(fs + 3)];
            ms = digits(frac).ok_or(TimeError::Unreadable)? * 10i64.pow(3 - frac.len() as u32);
        }
        if i + 1 == b.len() && b[i] == b'Z' {
            if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
                return Err(TimeError::Impossible);
            }
            let leap = se == 60;
            if se > 60 || (leap && !(h == 23 && mi == 59)) {
                return Err(TimeError::Impossible);
            }
            let (se, ms) = if leap { (59, 999) } else { (se, ms) };
            let days = days_from_civil(y, mo, d);
            return Ok(Stamp {
                ms: ((days * 24 + h) * 60 + mi) * 60_000 + se * 1000 + ms,
                leap,
            });
        }
    }
    match DateTime::parse_from_rfc3339(s.trim()) {
        Ok(t) => Ok(Stamp {
            ms: t.timestamp_millis(),
            leap: false,
        }),
        // chrono reads a well-shaped but impossible value as an out-of-range error.
        Err(e)
            if matches!(
                e.kind(),
                chrono::format::ParseErrorKind::OutOfRange
                    | chrono::format::ParseErrorKind::Impossible
            ) =>
        {
            Err(TimeError::Impossible)
        }
        Err(_) => Err(TimeError::Unreadable),
    }
}

/// [`parse_iso`] for callers that only need to know whether a value is a timestamp.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    parse_iso(s).ok().map(|t| t.ms)
}

/// True when a line starts like a log record: an ISO timestamp followed by a comma.
pub fn starts_record(line: &str) -> bool {
    let b = line.as_bytes();
    match memchr::memchr(b',', &b[..b.len().min(40)]) {
        Some(k) => k >= 19 && parse_iso_ms(&line[..k]).is_some(),
        None => false,
    }
}

/// How to read the local-format timestamps of PowerShell exports.
#[derive(Debug, Clone)]
pub struct LocalTime {
    /// A chrono format string (`%m/%d/%Y %I:%M:%S %p`).
    pub format: String,
    /// Offset of the exporting machine's clock from UTC.
    pub offset: chrono::FixedOffset,
}

impl LocalTime {
    pub fn parse_ms(&self, s: &str) -> Option<i64> {
        let s = trim(s);
        if let Some(ms) = parse_iso_ms(s) {
            return Some(ms);
        }
        let naive = NaiveDateTime::parse_from_str(s, &self.format).ok()?;
        self.offset
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.timestamp_millis())
    }
}

/// Formats PowerShell's `Export-Csv` writes under common cultures, most specific first.
pub const LOCAL_FORMATS: &[&str] = &[
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%d-%m-%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M",
];

/// Picks the local format that reads every sample. Day-first and month-first layouts are told
/// apart by a value over 12; when the samples cannot tell, month-first is assumed (PowerShell's
/// en-US default) and the result says it guessed.
pub fn detect_local_format(samples: &[&str]) -> Option<(&'static str, bool)> {
    let fits: Vec<&'static str> = LOCAL_FORMATS
        .iter()
        .copied()
        .filter(|f| {
            !samples.is_empty()
                && samples
                    .iter()
                    .all(|s| NaiveDateTime::parse_from_str(s.trim(), f).is_ok())
        })
        .collect();
    let first = *fits.first()?;
    let ambiguous = fits.len() > 1
        && fits
            .iter()
            .any(|f| f.starts_with("%d/") || f.starts_with("%m/"))
        && fits.iter().any(|f| f.starts_with("%d/"))
        && fits.iter().any(|f| f.starts_with("%m/"));
    Some((first, ambiguous))
}

/// Parses `+02:00`, `-0530`, `UTC`, `Z` into an offset.
pub fn parse_offset(s: &str) -> Option<chrono::FixedOffset> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
        return chrono::FixedOffset::east_opt(0);
    }
    let t = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("GMT"))
        .unwrap_or(t);
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let rest = rest.replace(':', "");
    let (h, m) = match rest.len() {
        1 | 2 => (rest.parse::<i32>().ok()?, 0),
        4 => (
            rest[..2].parse::<i32>().ok()?,
            rest[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The splitter and quote scan as they were before they were made fast (the splitter found
    // each comma with its own `memchr`; quoted values are read by the same `quoted_value`): the
    // fast ones must agree with them on every line (`fast_splitting_agrees_with_the_plain_one`).
    /// Splits one CSV line (without its line end) into `out`. Values are borrowed unless a doubled
    /// quote had to be collapsed.
    fn reference_split<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) -> Result<(), SplitError> {
        out.clear();
        let bytes = line.as_bytes();
        if memchr::memchr(b'"', bytes).is_none() {
            out.extend(line.split(',').map(Cow::Borrowed));
            return Ok(());
        }
        let mut i = 0;
        loop {
            if i < bytes.len() && bytes[i] == b'"' {
                let (value, next) = quoted_value(line, i)?;
                out.push(value);
                i = next;
                if i == bytes.len() {
                    return Ok(());
                }
                if bytes[i] != b',' {
                    return Err(SplitError::AfterQuote);
                }
                i += 1;
            } else {
                match memchr::memchr(b',', &bytes[i..]) {
                    Some(k) => {
                        out.push(Cow::Borrowed(&line[i..i + k]));
                        i += k + 1;
                    }
                    None => {
                        out.push(Cow::Borrowed(&line[i..]));
                        return Ok(());
                    }
                }
            }
            if i == bytes.len() {
                out.push(Cow::Borrowed(""));
                return Ok(());
            }
        }
    }

    /// True when `text` ends inside a quoted value, i.e. the record continues on the next line.
    /// Follows the same rule as [`split_line`]: a quote opens a quoted value only at the start of a
    /// value; inside one, `""` is a literal quote and a single `"` closes it. A quote in the middle
    /// of an unquoted value is literal text, so it never swallows the following lines.
    fn reference_open_quote(text: &str) -> bool {
        let b = text.as_bytes();
        let mut i = 0;
        let mut at_start = true;
        while i < b.len() {
            if at_start && b[i] == b'"' {
                // Inside a quoted value: find its closing quote.
                let mut j = i + 1;
                loop {
                    match memchr::memchr(b'"', &b[j..]) {
                        None => return true,
                        Some(k) => {
                            let q = j + k;
                            if q + 1 < b.len() && b[q + 1] == b'"' {
                                j = q + 2;
                            } else {
                                i = q + 1;
                                break;
                            }
                        }
                    }
                }
                // After the closing quote the value runs to the next comma (split_line calls text
                // there an error; it does not open anything).
                match memchr::memchr2(b',', b'\n', &b[i..]) {
                    Some(k) => {
                        i += k + 1;
                        at_start = true;
                    }
                    None => return false,
                }
            } else {
                match memchr::memchr2(b',', b'\n', &b[i..]) {
                    Some(k) => {
                        i += k + 1;
                        at_start = true;
                    }
                    None => return false,
                }
            }
        }
        false
    }

    fn fast_ok_on_one_line(line: &str) -> bool {
        !line.contains('\n') && split_line(line, &mut Vec::new()).is_ok()
    }

    #[test]
    fn fast_splitting_agrees_with_the_plain_one() {
        use rand::{Rng, SeedableRng};
        // Commas, quotes and line breaks dense enough to hit every branch, lines long enough to
        // cross several 64-byte blocks, and a multi-byte letter so block edges fall inside one.
        const ALPHABET: [&str; 7] = [",", "\"", "\n", "a", "bc", " ", "é"];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for n in 0..200_000 {
            let (mut fast, mut plain) = (Vec::new(), Vec::new());
            let len = rng.random_range(0..if n % 10 == 0 { 400 } else { 70 });
            let line: String = (0..len)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect();
            assert_eq!(
                split_line(&line, &mut fast),
                reference_split(&line, &mut plain),
                "{line:?}"
            );
            assert_eq!(fast, plain, "{line:?}");
            assert_eq!(open_quote(&line), reference_open_quote(&line), "{line:?}");
            // What lets the record reader split a line once: a line (no line break in it)
            // that splits never ends inside a quoted value.
            if fast_ok_on_one_line(&line) {
                assert!(!open_quote(&line), "{line:?}");
            }
        }
        // Every position of a comma relative to the 64-byte blocks.
        for at in 0..200 {
            let line = format!("{}{}", "x".repeat(at), ",y,".repeat(3));
            let (mut fast, mut plain) = (Vec::new(), Vec::new());
            split_line(&line, &mut fast).unwrap();
            reference_split(&line, &mut plain).unwrap();
            assert_eq!(fast, plain);
        }
    }

    fn split(s: &str) -> Result<Vec<String>, SplitError> {
        let mut v = Vec::new();
        split_line(s, &mut v)?;
        Ok(v.into_iter().map(|c| c.into_owned()).collect())
    }

    /// The byte-searching helpers give what `str`'s own methods give, on ASCII and multi-byte text,
    /// white space of both kinds, and empty pieces.
    #[test]
    fn ascii_helpers_agree_with_str() {
        use rand::{Rng, SeedableRng};
        const ALPHABET: [&str; 10] = [
            ";", ".", " ", "\t", "\u{a0}", "\u{3000}", "a", "é", "<", "\n",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..50_000 {
            let s: String = (0..rng.random_range(0..12))
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                .collect();
            assert_eq!(trim(&s), s.trim(), "{s:?}");
            for sep in [b';', b'.', b'<'] {
                let want: Vec<&str> = s.split(sep as char).collect();
                assert_eq!(split_ascii(&s, sep).collect::<Vec<_>>(), want, "{s:?}");
                assert_eq!(
                    split_once_ascii(&s, sep),
                    s.split_once(sep as char),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn splits_plain_and_quoted() {
        assert_eq!(split("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(split("a,\"b,c\",d").unwrap(), ["a", "b,c", "d"]);
        assert_eq!(split("\"x\"\"y\",z").unwrap(), ["x\"y", "z"]);
        assert_eq!(split("a,\"b\"").unwrap(), ["a", "b"]);
        assert_eq!(split("a,\"b\",").unwrap(), ["a", "b", ""]);
        assert_eq!(split("\"\"").unwrap(), [""]);
        assert_eq!(split("a,\"b").unwrap_err(), SplitError::Unterminated);
        assert_eq!(split("a,\"b\"c,d").unwrap_err(), SplitError::AfterQuote);
        assert_eq!(split("a,b\"c,d").unwrap(), ["a", "b\"c", "d"]);
    }

    #[test]
    fn quotes_open_only_at_the_start_of_a_value() {
        assert!(open_quote("a,\"b"));
        assert!(open_quote("a,\"b\"\"c"));
        assert!(!open_quote("a,\"b\"\"c\""));
        assert!(!open_quote("a,b\"c,d"), "a quote inside a value is literal");
        assert!(!open_quote("a,\"x\ny\",z"));
        assert!(open_quote("a,\"x\ny,z"));
        assert!(!open_quote(""));
    }

    #[test]
    fn statuses_split_by_recipient() {
        let s = "550 5.2.2 mailbox full; STOREDRV.Deliver;250 2.1.5 Recipient OK";
        let mut out = Vec::new();
        split_statuses(s, 2, &mut out);
        let parts: Vec<&str> = out.iter().map(|&(a, b)| &s[a..b]).collect();
        assert_eq!(
            parts,
            [
                "550 5.2.2 mailbox full; STOREDRV.Deliver",
                "250 2.1.5 Recipient OK"
            ]
        );
        let s = "[{LRT=};{LED=550 5.7.1 RESOLVER.RST.AuthRequired; authentication required};{FQDN=};{IP=}]";
        split_statuses(s, 1, &mut out);
        assert_eq!(out, [(0, s.len())]);
        split_statuses("To;To;Cc", 3, &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn enhanced_codes() {
        assert_eq!(
            enhanced_code("554 5.2.2 mailbox full; STOREDRV"),
            Some("5.2.2")
        );
        assert_eq!(enhanced_code("[{LED=550 5.7.1 RESOLVER}]"), Some("5.7.1"));
        assert_eq!(
            enhanced_code("550 5.4.14 Hop count exceeded"),
            Some("5.4.14")
        );
        assert_eq!(enhanced_code("15.01.2375.007"), None);
        assert_eq!(enhanced_code("To"), None);
        assert_eq!(enhanced_code("4.4.7"), Some("4.4.7"));
    }

    #[test]
    fn iso_times() {
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_iso_ms("2022-09-19T15:02:29.339Z"),
            Some(1663599749339)
        );
        assert_eq!(
            parse_iso_ms("2022-09-19T15:02:29.3391234Z"),
            Some(1663599749339)
        );
        assert_eq!(parse_iso_ms("2022-09-19T15:02:29Z"), Some(1663599749000));
        assert_eq!(
            parse_iso_ms("2022-09-19T17:02:29.339+02:00"),
            Some(1663599749339)
        );
        assert_eq!(parse_iso_ms("2022-13-19T15:02:29.339Z"), None);
        assert_eq!(parse_iso_ms("not a time"), None);
        assert_eq!(
            parse_iso("2023-02-31T10:00:00.000Z"),
            Err(TimeError::Impossible)
        );
        assert_eq!(
            parse_iso("2024-02-29T10:00:00.000Z").map(|t| t.ms),
            Ok(1709200800000)
        );
        assert_eq!(
            parse_iso("2023-02-29T10:00:00.000Z"),
            Err(TimeError::Impossible)
        );
        assert_eq!(
            parse_iso("2100-02-29T10:00:00.000Z"),
            Err(TimeError::Impossible)
        );
        assert_eq!(
            parse_iso("2022-09-19T24:00:00.000Z"),
            Err(TimeError::Impossible)
        );
        assert_eq!(
            parse_iso("2022-09-19T12:00:60.000Z"),
            Err(TimeError::Impossible)
        );
        let leap = parse_iso("2016-12-31T23:59:60.500Z").expect("leap second");
        assert!(leap.leap);
        assert_eq!(
            leap.ms,
            parse_iso_ms("2016-12-31T23:59:59.999Z").expect("ms")
        );
        assert_eq!(
            parse_iso("2023-02-31T10:00:00+02:00"),
            Err(TimeError::Impossible)
        );
        assert!(starts_record("2022-09-19T15:02:29.339Z,1.2.3.4,x"));
        assert!(!starts_record("continued text, with a comma"));
    }

    #[test]
    fn local_formats() {
        assert_eq!(
            detect_local_format(&["7/18/2016 11:57:15 AM", "7/19/2016 1:02:03 PM"]),
            Some(("%m/%d/%Y %I:%M:%S %p", false))
        );
        assert_eq!(
            detect_local_format(&["18.07.2016 11:57:15"]),
            Some(("%d.%m.%Y %H:%M:%S", false))
        );
        assert_eq!(
            detect_local_format(&["18/07/2016 11:57:15"]),
            Some(("%d/%m/%Y %H:%M:%S", false))
        );
        assert_eq!(
            detect_local_format(&["07/08/2016 11:57:15"]),
            Some(("%m/%d/%Y %H:%M:%S", true))
        );
        assert_eq!(detect_local_format(&["garbage"]), None);
        let off = parse_offset("+02:00").unwrap();
        assert_eq!(off.local_minus_utc(), 7200);
        assert_eq!(parse_offset("UTC-5").unwrap().local_minus_utc(), -18000);
        assert!(parse_offset("Europe/Berlin").is_none());
    }
}
