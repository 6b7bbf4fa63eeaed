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
    /// A quoted value that never closes: its first line, reported alone.
    Broken,
}

/// Iterates the records of a W3C log, yielding (first line number, item).
pub(crate) struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    joined: String,
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
    let mut p = Parsed::default();
    let mut mapping: Option<Mapping> = None;
    let mut records = Records::new(text);
    let mut spare: Vec<Cow<'static, str>> = Vec::with_capacity(32);
    while let Some((line, item)) = records.next_item() {
        let (data, lines) = match item {
            Item::Directive(d) => {
                p.lines.directives += 1;
                if let Some(f) = d.strip_prefix("#Fields:") {
                    let m = Mapping::new(f.split(','));
                    if m.time_col.is_none() {
                        p.warnings.push(format!(
                            "{}: line {line}: #Fields has no date-time column",
                            ctx.path
                        ));
                    }
                    let unknown = dialect.unknown(&m);
                    if !unknown.is_empty() {
                        p.warnings.push(format!(
                            "{}: unknown columns kept in `extra`: {}",
                            ctx.path,
                            unknown.join(", ")
                        ));
                    }
                    mapping = Some(m);
                } else if let Some(v) = d.strip_prefix("#Version:") {
                    p.version = Some(v.trim().to_string());
                }
                continue;
            }
            Item::Broken => {
                p.bad_line(ctx.path, line, 1, "a quoted value is never closed");
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
            p.bad_line(ctx.path, line, lines, why);
            continue;
        }
        if mapping.is_none() {
            match dialect.headerless(vals.len()) {
                Some((cols, label)) => {
                    p.warnings.push(format!(
                        "{}: no #Fields header; read by its column count as {label}",
                        ctx.path
                    ));
                    p.inferred_version = Some(label);
                    mapping = Some(Mapping::new(cols));
                }
                None => {
                    p.bad_line(
                        ctx.path,
                        line,
                        lines,
                        format!(
                            "no #Fields header before this row and {} values match no known layout",
                            vals.len()
                        ),
                    );
                    continue;
                }
            }
        }
        let Some(m) = mapping.as_ref() else { continue };
        if vals.len() != m.names.len() {
            p.bad_line(
                ctx.path,
                line,
                lines,
                format!(
                    "{} values where #Fields names {}",
                    vals.len(),
                    m.names.len()
                ),
            );
            continue;
        }
        match dialect.row(line, &vals, m, ctx, &mut p, sink) {
            Ok(()) => {
                p.rows += 1;
                p.lines.rows += lines as u64;
            }
            Err(why) => p.bad_line(ctx.path, line, lines, why),
        }
        spare = fields::recycle(vals);
    }
    p.lines.blank = records.blank;
    p.lines.total = records.lines_read();
    p
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
                Item::Broken => format!("{line}:broken"),
            });
        }
        got
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
