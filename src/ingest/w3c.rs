//! The record loop that message tracking logs and SMTP protocol logs share. Both are W3C-style
//! logs: `#Software`, `#Version`, `#Log-type`, `#Date` and `#Fields` directives, then CSV rows
//! (RFC 4180 quoting; a quoted value may span lines). The two formats differ only in what a row
//! means, which each gives as a [`Dialect`].
//!
//! A stray quote must not swallow the rows after it: a continuation line that starts like a new
//! record (an ISO timestamp and a comma, as every record of these logs does) ends the broken
//! record, which is reported as malformed with its line, and reading goes on normally. Every
//! physical line ends up in exactly one place: a row, the malformed count, a directive or a
//! blank line ([`Parsed::lines`] keeps the tally, and tests hold it as an invariant).

use std::borrow::Cow;

use super::fields::{self, split_line, starts_record, SplitError};
use super::schema::Mapping;
use super::{EntryCtx, Parsed, Sink};

/// Longest record (in lines) a quoted value may span before the first line is called malformed.
const MAX_CONTINUATION: usize = 64;

pub(crate) enum Item<'a> {
    Directive(&'a str),
    /// A record and how many physical lines it took.
    Data(Cow<'a, str>, u32),
    /// A record on one line, already split into [`Records::values`] ([`Records::next_split`]).
    Split,
    /// A quoted value that never closes: its first line, reported alone.
    Broken,
}

/// Iterates the records of a W3C log, yielding (first line number, item).
pub(crate) struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    joined: String,
    /// The values of the last [`Item::Split`] record.
    values: Vec<Cow<'a, str>>,
    pub blank: u64,
}

impl<'a> Records<'a> {
    pub fn new(text: &'a str) -> Self {
        Records::at(text, 0, 0)
    }

    /// Starts at byte `pos`, which is the start of line `line + 1`.
    pub fn at(text: &'a str, pos: usize, line: u64) -> Self {
        Records {
            text,
            pos,
            line,
            joined: String::new(),
            values: Vec::new(),
            blank: 0,
        }
    }

    fn peek_line(&self) -> Option<(&'a str, usize)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, adv) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if self.pos == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        Some((line, adv))
    }

    fn next_line(&mut self) -> Option<&'a str> {
        let (line, adv) = self.peek_line()?;
        self.pos += adv;
        self.line += 1;
        Some(line)
    }

    /// Next item with its starting line number; blank lines are counted and skipped.
    pub fn next_item(&mut self) -> Option<(u64, Item<'a>)> {
        self.next(false)
    }

    /// Like [`Records::next_item`], but a one-line record whose values split is split here and
    /// comes as [`Item::Split`], its values in [`Records::values`]. `split_line` succeeds only
    /// when every quoted value on the line closes, i.e. when [`fields::open_quote`] would say
    /// the record does not go on: so the line's quotes are scanned once instead of twice.
    pub fn next_split(&mut self) -> Option<(u64, Item<'a>)> {
        self.next(true)
    }

    /// The values of the record the last [`Item::Split`] was.
    pub fn values(&self) -> &[Cow<'a, str>] {
        &self.values
    }

    fn next(&mut self, split: bool) -> Option<(u64, Item<'a>)> {
        loop {
            let line = self.next_line()?;
            let start = self.line;
            if line.trim().is_empty() {
                self.blank += 1;
                continue;
            }
            if line.starts_with('#') {
                return Some((start, Item::Directive(line)));
            }
            if split && split_line(line, &mut self.values).is_ok() {
                return Some((start, Item::Split));
            }
            if !fields::open_quote(line) {
                return Some((start, Item::Data(Cow::Borrowed(line), 1)));
            }
            let mut joined = std::mem::take(&mut self.joined);
            joined.clear();
            joined.push_str(line);
            let save = (self.pos, self.line);
            let mut lines = 1u32;
            for _ in 0..MAX_CONTINUATION {
                let Some((next, _)) = self.peek_line() else {
                    break;
                };
                // Resynchronise: the quote was stray, and this line is the next record.
                if starts_record(next) {
                    break;
                }
                self.next_line();
                lines += 1;
                joined.push('\n');
                joined.push_str(next);
                if !fields::open_quote(&joined) {
                    return Some((start, Item::Data(Cow::Owned(joined), lines)));
                }
            }
            // Never closed: report this line alone and read on from the next one.
            self.pos = save.0;
            self.line = save.1;
            self.joined = joined;
            return Some((start, Item::Broken));
        }
    }

    pub fn lines_read(&self) -> u64 {
        self.line
    }
}

/// What one W3C format makes of its rows.
pub(crate) trait Dialect {
    /// The columns of a file that lost its `#Fields` line, from its first row's value count,
    /// with a label saying what the count suggests; `None` when no version has that many.
    fn headerless(&self, values: usize) -> Option<(Vec<&'static str>, String)>;
    /// Names of a `#Fields` line's columns this format does not know (kept in `extra`).
    fn unknown<'m>(&self, m: &'m Mapping) -> Vec<&'m str>;
    /// Handles one row whose values match the mapping; `Err` is the malformed-line reason.
    fn row(
        &mut self,
        line: u64,
        values: &[Cow<'_, str>],
        mapping: &Mapping,
        ctx: &EntryCtx<'_>,
        p: &mut Parsed,
        sink: &mut dyn Sink,
    ) -> Result<(), String>;
}

/// Reads a whole W3C log: directives, then rows through the dialect. Bad lines are counted and
/// listed with their line, never dropped silently.
pub(crate) fn read<D: Dialect>(
    text: &str,
    ctx: &EntryCtx<'_>,
    dialect: &mut D,
    sink: &mut dyn Sink,
) -> Parsed {
    let mut r = Reading {
        mapping: None,
        dialect,
        ctx,
        p: Parsed::default(),
        sink,
    };
    let mut records = Records::new(text);
    let mut spare: Vec<Cow<'static, str>> = Vec::with_capacity(32);
    while let Some((line, item)) = records.next_split() {
        let (data, lines) = match item {
            Item::Directive(d) => {
                r.directive(line, d);
                continue;
            }
            Item::Broken => {
                r.p.bad_line(ctx.path, line, 1, "a quoted value is never closed");
                continue;
            }
            Item::Split => {
                r.record(records.values(), line, 1);
                continue;
            }
            Item::Data(d, lines) => (d, lines),
        };
        let mut vals = fields::recycle(std::mem::take(&mut spare));
        if let Err(e) = split_line(&data, &mut vals) {
            let why = match e {
                SplitError::Unterminated => "a quoted value is never closed",
                SplitError::AfterQuote => "text after a closing quote",
            };
            r.p.bad_line(ctx.path, line, lines, why);
            continue;
        }
        r.record(&vals, line, lines);
        spare = fields::recycle(vals);
    }
    r.p.lines.blank = records.blank;
    r.p.lines.total = records.lines_read();
    r.p
}

/// One file being read: the columns in force, the dialect, and where rows and tallies go.
struct Reading<'r, 'c, D> {
    mapping: Option<Mapping>,
    dialect: &'r mut D,
    ctx: &'r EntryCtx<'c>,
    p: Parsed,
    sink: &'r mut dyn Sink,
}

impl<D: Dialect> Reading<'_, '_, D> {
    fn directive(&mut self, line: u64, d: &str) {
        let (p, path) = (&mut self.p, self.ctx.path);
        p.lines.directives += 1;
        if let Some(f) = d.strip_prefix("#Fields:") {
            let m = Mapping::new(f.split(','));
            if m.time_col.is_none() {
                p.warnings.push(format!(
                    "{path}: line {line}: #Fields has no date-time column"
                ));
            }
            let unknown = self.dialect.unknown(&m);
            if !unknown.is_empty() {
                p.warnings.push(format!(
                    "{path}: unknown columns kept in `extra`: {}",
                    unknown.join(", ")
                ));
            }
            self.mapping = Some(m);
        } else if let Some(v) = d.strip_prefix("#Version:") {
            p.version = Some(v.trim().to_string());
        }
    }

    /// One record's values, `lines` physical lines from `line` on: a row through the dialect,
    /// or a malformed line with its reason.
    fn record(&mut self, vals: &[Cow<'_, str>], line: u64, lines: u32) {
        let (p, path) = (&mut self.p, self.ctx.path);
        if self.mapping.is_none() {
            match self.dialect.headerless(vals.len()) {
                Some((cols, label)) => {
                    p.warnings.push(format!(
                        "{path}: no #Fields header; read by its column count as {label}"
                    ));
                    p.inferred_version = Some(label);
                    self.mapping = Some(Mapping::new(cols));
                }
                None => {
                    p.bad_line(
                        path,
                        line,
                        lines,
                        format!(
                            "no #Fields header before this row and {} values match no known layout",
                            vals.len()
                        ),
                    );
                    return;
                }
            }
        }
        let Some(m) = self.mapping.as_ref() else {
            return;
        };
        if vals.len() != m.names.len() {
            p.bad_line(
                path,
                line,
                lines,
                format!(
                    "{} values where #Fields names {}",
                    vals.len(),
                    m.names.len()
                ),
            );
            return;
        }
        match self.dialect.row(line, vals, m, self.ctx, p, self.sink) {
            Ok(()) => {
                p.rows += 1;
                p.lines.rows += lines as u64;
            }
            Err(why) => p.bad_line(path, line, lines, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Vec<String> {
        let mut r = Records::new(text);
        let mut got = Vec::new();
        while let Some((line, item)) = r.next_item() {
            got.push(match item {
                Item::Directive(d) => format!("{line}:dir:{d}"),
                Item::Data(d, n) => format!("{line}:data{n}:{d}"),
                Item::Split => unreachable!("next_item never splits"),
                Item::Broken => format!("{line}:broken"),
            });
        }
        got
    }

    /// `next_split` gives the items `next_item` gives, with each one-line record that splits
    /// already split: over random texts of directives, record-like lines, stray and doubled
    /// quotes and quoted line breaks.
    #[test]
    fn splitting_while_reading_gives_the_same_records() {
        use rand::{Rng, SeedableRng};
        const PIECES: [&str; 10] = [
            ",",
            "\"",
            "\"\"",
            "\r\n",
            "\n",
            "a",
            "b c",
            "#Fields: x,y",
            "2026-01-01T00:00:00Z,",
            "é",
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut splits = 0;
        for _ in 0..20_000 {
            let len = rng.random_range(0..60);
            let text: String = (0..len)
                .map(|_| PIECES[rng.random_range(0..PIECES.len())])
                .collect();
            let (mut plain, mut fast) = (Records::new(&text), Records::new(&text));
            loop {
                let (a, b) = (plain.next_item(), fast.next_split());
                let (Some((la, a)), Some((lb, b))) = (a, b) else {
                    assert!(plain.next_item().is_none() && fast.next_split().is_none());
                    break;
                };
                assert_eq!(la, lb, "{text:?}");
                match (a, b) {
                    (Item::Data(d, 1), Item::Split) => {
                        let mut v = Vec::new();
                        assert!(split_line(&d, &mut v).is_ok(), "{text:?}");
                        assert_eq!(v, fast.values(), "{text:?}");
                        splits += 1;
                    }
                    (Item::Data(d, n), Item::Data(e, m)) => {
                        assert_eq!((&d, n), (&e, m), "{text:?}");
                        assert!(split_line(&e, &mut Vec::new()).is_err() || m > 1);
                    }
                    (Item::Directive(d), Item::Directive(e)) => assert_eq!(d, e),
                    (Item::Broken, Item::Broken) => {}
                    _ => panic!("items differ at line {la}: {text:?}"),
                }
            }
            assert_eq!(plain.blank, fast.blank);
            assert_eq!(plain.lines_read(), fast.lines_read());
        }
        assert!(splits > 1000, "the cases reach the split path ({splits})");
    }

    #[test]
    fn quoted_line_breaks_join_and_stray_quotes_resynchronise() {
        let text = "#Fields: a,b\r\n2026-01-01T00:00:00Z,\"x\r\ny\"\r\n2026-01-01T00:00:01Z,\"never\r\n2026-01-01T00:00:02Z,z\r\n";
        assert_eq!(
            items(text),
            [
                "1:dir:#Fields: a,b",
                "2:data2:2026-01-01T00:00:00Z,\"x\ny\"",
                "4:broken",
                "5:data1:2026-01-01T00:00:02Z,z"
            ]
        );
        // Without a record-like line after it, a never-closed quote still costs one line only.
        assert_eq!(
            items("1,\"never\r\nplain\r\n"),
            ["1:broken", "2:data1:plain"]
        );
    }
}
