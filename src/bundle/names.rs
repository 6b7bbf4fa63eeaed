//! Entry names inside zip archives. Windows tools write `EX01\TransportRoles\...`, others
//! `EX01/TransportRoles/...`; an archive holding both spellings of one file would be read twice
//! and counted twice, and a crafted one could use the other spelling to hide a second copy behind
//! the first. So every name gets one spelling before anything is checked or shown, and the
//! archive is refused when two entries end up with the same one.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::error::{printable, Error, Result};

use super::SharedZip;

/// The name with `\` read as `/` (Windows tools write either), before anything is dropped, so
/// that the safety check sees `..` and a leading separator however they were spelt.
fn slashed(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).replace('\\', "/")
}

/// Names that would escape an extraction folder. We never extract, but such a name is a sign of
/// a crafted archive, and echoing it into a report as a path would mislead.
fn is_unsafe(slashed: &str) -> bool {
    if slashed.starts_with('/') || slashed.contains('\0') {
        return true;
    }
    let b = slashed.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return true;
    }
    slashed.split('/').any(|c| c == "..")
}

/// The one spelling of an entry name ([`validate`] spells every name so): `/`-separated,
/// without empty or `.` components (which every extractor ignores, so `a//b` and `./a/b` are
/// `a/b`). Case is kept: the bundle may come from a case-sensitive file system where `a.log`
/// and `A.LOG` are two files.
#[cfg(test)]
fn entry_name(raw: &[u8]) -> String {
    collapse(&slashed(raw))
}

/// A `/`-separated name ([`slashed`]) in its one spelling (see `entry_name`).
fn collapse(slashed: &str) -> String {
    slashed
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// The one order of entries in every bundle, whatever order the zip's directory or the file
/// system lists them in: by path, with runs of digits compared as numbers and letters without
/// regard to case, as Windows Explorer shows them (`MSGTRK2026111608-2.LOG` before `-10.LOG`,
/// so a server's logs come in the order they were written; `ex01/` before `EX02/`). Findings
/// must not depend on how the admin happened to zip the logs: rows are numbered, and ties
/// broken, in this order. Two paths equal but for leading zeros or case are ordered by their
/// bytes, so the order is total.
///
/// Server names are listed in this order too (`ex01`, `EX02`, `EX10`), so that every list of
/// servers in the findings reads as the bundle's folders do.
pub(crate) fn path_order(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        if x[i].is_ascii_digit() && y[j].is_ascii_digit() {
            let run = |s: &[u8], at: usize| {
                let end = s[at..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .map_or(s.len(), |n| at + n);
                let zeros = s[at..end].iter().take_while(|&&c| c == b'0').count();
                (at + zeros, end)
            };
            let ((xs, xe), (ys, ye)) = (run(x, i), run(y, j));
            // Without leading zeros, the longer number is the larger; then digit by digit.
            let by_value = (xe - xs)
                .cmp(&(ye - ys))
                .then_with(|| x[xs..xe].cmp(&y[ys..ye]));
            if by_value != Ordering::Equal {
                return by_value;
            }
            (i, j) = (xe, ye);
        } else {
            let (a, b) = (x[i].to_ascii_lowercase(), y[j].to_ascii_lowercase());
            if a != b {
                return a.cmp(&b);
            }
            i += 1;
            j += 1;
        }
    }
    (x.len() - i).cmp(&(y.len() - j)).then_with(|| x.cmp(y))
}

/// Refuses an archive with an unsafe name, an encrypted entry, or two entries that are one file
/// once spelt alike. `display` names the archive in messages. Returns every entry's name, by
/// index, in its one spelling: `/`-separated, without empty or `.` components, case kept.
pub(crate) fn validate(display: &str, zip: &SharedZip) -> Result<Vec<String>> {
    // The zip reader keeps one entry per exact name: a second file under the same name would be
    // lost without a word, and we cannot even see its name.
    if zip.has_duplicate_names() {
        return Err(Error::DuplicateNames {
            path: display.to_string(),
            names: String::new(),
        });
    }
    let meta = zip.metadata();
    let mut names = Vec::with_capacity(zip.len());
    let mut seen: HashMap<String, String> = HashMap::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = meta.entry(i).map_err(|e| Error::CorruptZip {
            path: display.to_string(),
            source: e,
        })?;
        let raw = entry.name_raw();
        let spelt = slashed(raw);
        if is_unsafe(&spelt) {
            return Err(Error::UnsafePath {
                entry: format!("{display}: {}", printable(&spelt)),
            });
        }
        let name = collapse(&spelt);
        // Checked here, before any entry is read, so that the user hears about the password
        // rather than about a corrupt archive, and before minutes of parsing other entries.
        if entry.encrypted() {
            return Err(Error::Encrypted {
                entry: format!("{display}: {}", printable(&name)),
            });
        }
        // Folder entries hold no data, so nothing can hide behind them.
        if !entry.is_dir() {
            let original = String::from_utf8_lossy(raw).into_owned();
            if let Some(first) = seen.insert(name.clone(), original.clone()) {
                return Err(Error::DuplicateNames {
                    path: display.to_string(),
                    names: format!(" (`{}` and `{}`)", printable(&first), printable(&original)),
                });
            }
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_caught_however_spelt() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "\\x",
            "C:\\x",
            "c:/x",
            "a\\..\\b",
            "a/..\\b",
            "x\0y",
        ] {
            assert!(is_unsafe(&slashed(bad.as_bytes())), "{bad}");
        }
        for good in ["EX01/MSGTRK1.LOG", "a..b/c", "x/.../y", "EX01\\MSGTRK1.LOG"] {
            assert!(!is_unsafe(&slashed(good.as_bytes())), "{good}");
        }
    }

    #[test]
    fn one_spelling_per_name_keeping_case() {
        let want = "EX01/TransportRoles/Logs/MSGTRK1.LOG";
        for spelt in [
            "EX01\\TransportRoles\\Logs\\MSGTRK1.LOG",
            "EX01/TransportRoles\\Logs/MSGTRK1.LOG",
            "./EX01//TransportRoles/./Logs/MSGTRK1.LOG",
            "EX01/TransportRoles/Logs/MSGTRK1.LOG",
        ] {
            assert_eq!(entry_name(spelt.as_bytes()), want, "{spelt}");
        }
        assert_ne!(
            entry_name(b"ex01/msgtrk1.log"),
            entry_name(b"EX01/MSGTRK1.LOG")
        );
        assert_eq!(entry_name(b"EX01/"), "EX01");
        assert_eq!(entry_name(b"caf\xe9.LOG"), "caf\u{fffd}.LOG");
    }

    #[test]
    fn paths_are_ordered_with_numbers_as_numbers() {
        use std::cmp::Ordering::*;
        let log = |n: &str| format!("EX01/MSGTRK2026111608-{n}.LOG");
        assert_eq!(path_order(&log("2"), &log("10")), Less);
        assert_eq!(path_order(&log("10"), &log("9")), Greater);
        assert_eq!(path_order(&log("10"), &log("10")), Equal);
        assert_eq!(path_order("EX01/a", "EX02/a"), Less);
        assert_eq!(path_order("EX9/z", "EX10/a"), Less);
        assert_eq!(path_order("ex01/x", "EX02/x"), Less);
        assert_eq!(
            path_order("EX01/x", "ex01/x"),
            Less,
            "equal but for case: by bytes"
        );
        assert_eq!(
            path_order("a_b", "aB"),
            Less,
            "letters compare as lower case"
        );
        assert_eq!(path_order("a", "a1"), Less);
        assert_eq!(path_order("a1", "a1b"), Less);
        // Equal as numbers: the bytes decide, so that two names never compare equal.
        assert_eq!(path_order("x-01", "x-1"), Less);
        assert_eq!(path_order("x-1", "x-01"), Greater);
        // Numbers longer than any integer type.
        assert_eq!(path_order("n123456789012345678901234", "n99"), Greater);
        // A total order: sorting agrees with every pair, whatever order it started from.
        let names = [
            "b", "a10", "a2", "a02", "a", "a-1", "a1b", "A1", "a1", "1", "01", "", "a/b", "a-c/x",
            "10", "9", "a002", "a2x", "a2/x", "B", "A_", "a_", "A2X", "[", "`",
        ];
        let mut sorted: Vec<&str> = names.to_vec();
        sorted.sort_by(|a, b| path_order(a, b));
        let mut again: Vec<&str> = names.iter().rev().copied().collect();
        again.sort_by(|a, b| path_order(a, b));
        assert_eq!(sorted, again);
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(path_order(a, b), i.cmp(&j), "{a:?} {b:?}");
            }
        }
    }
}
