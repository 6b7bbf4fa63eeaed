//! Bytes to text. Exchange writes UTF-8 (usually with a BOM); historical-search exports are
//! UTF-16 with a BOM. Anything else that looks like a log and does not decode is an error naming
//! the line and byte, never a guess: a wrong guess would put garbage into the findings.

use std::borrow::Cow;

use crate::error::{Error, Result};

pub(crate) enum Decoded<'a> {
    Text(Cow<'a, str>),
    /// Not text; the reason, for the inventory.
    Binary(String),
}

pub(crate) fn decode<'a>(path: &str, data: &'a [u8]) -> Result<Decoded<'a>> {
    if let Some(rest) = data.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(path, rest, 3).map(Decoded::Text);
    }
    for (bom, enc, name) in [
        (&b"\xFF\xFE"[..], encoding_rs::UTF_16LE, "UTF-16LE"),
        (&b"\xFE\xFF"[..], encoding_rs::UTF_16BE, "UTF-16BE"),
    ] {
        if let Some(rest) = data.strip_prefix(bom) {
            return match enc.decode_without_bom_handling_and_without_replacement(rest) {
                Some(s) => Ok(Decoded::Text(Cow::Owned(s.into_owned()))),
                None => {
                    let (offset, line) = utf16_error_at(rest, enc == encoding_rs::UTF_16LE);
                    Err(Error::Encoding {
                        entry: path.to_string(),
                        line,
                        offset: offset + 2,
                        encoding: name,
                    })
                }
            };
        }
    }
    let head = &data[..data.len().min(4096)];
    if head.contains(&0) {
        return Ok(Decoded::Binary(
            "binary content (NUL bytes, no UTF-16 byte-order mark)".into(),
        ));
    }
    match from_utf8(data) {
        Ok(s) => Ok(Decoded::Text(Cow::Borrowed(s))),
        Err(e) if looks_like_log_name(path) || looks_like_log_head(head) => {
            let offset = e.valid_up_to();
            Err(Error::Encoding {
                entry: path.to_string(),
                line: 1 + memchr::memchr_iter(b'\n', &data[..offset]).count() as u64,
                offset,
                encoding: "UTF-8",
            })
        }
        Err(_) => Ok(Decoded::Binary("not text (invalid UTF-8)".into())),
    }
}

/// UTF-8 validation, with SIMD on the whole entry; std's slower check runs only on a failure,
/// for the position of the first bad byte.
fn from_utf8(data: &[u8]) -> std::result::Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(data).or_else(|_| std::str::from_utf8(data))
}

fn utf8<'a>(path: &str, data: &'a [u8], skipped: usize) -> Result<Cow<'a, str>> {
    from_utf8(data).map(Cow::Borrowed).map_err(|e| {
        let offset = e.valid_up_to();
        Error::Encoding {
            entry: path.to_string(),
            line: 1 + memchr::memchr_iter(b'\n', &data[..offset]).count() as u64,
            offset: offset + skipped,
            encoding: "UTF-8",
        }
    })
}

fn utf16_error_at(data: &[u8], le: bool) -> (usize, u64) {
    let units: Vec<u16> = data
        .chunks(2)
        .map(|c| {
            let pair = [c[0], *c.get(1).unwrap_or(&0)];
            if le {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        })
        .collect();
    let mut line = 1;
    let mut unit = 0;
    for r in char::decode_utf16(units.iter().copied()) {
        match r {
            Ok('\n') => line += 1,
            Ok(_) => {}
            Err(_) => return (unit * 2, line),
        }
        unit += r.map_or(1, char::len_utf16);
    }
    (data.len(), line)
}

fn looks_like_log_name(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".log") || lower.ends_with(".csv") || lower.ends_with(".txt")
}

fn looks_like_log_head(head: &[u8]) -> bool {
    head.starts_with(b"#Software") || head.starts_with(b"#Fields") || head.starts_with(b"#TYPE")
}
