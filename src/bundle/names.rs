//! Entry names inside zip archives. Windows tools write `EX01\TransportRoles\...`, others
//! `EX01/TransportRoles/...`; an archive holding both spellings of one file would be read twice
//! and counted twice, and a crafted one could use the other spelling to hide a second copy behind
//! the first. So every name gets one spelling before anything is checked or shown, and the
//! archive is refused when two entries end up with the same one.

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

/// The one spelling of an entry name: `/`-separated, without empty or `.` components (which
/// every extractor ignores, so `a//b` and `./a/b` are `a/b`). Case is kept: the bundle may come
/// from a case-sensitive file system where `a.log` and `A.LOG` are two files.
pub(crate) fn entry_name(raw: &[u8]) -> String {
    collapse(&slashed(raw))
}

fn collapse(slashed: &str) -> String {
    slashed
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Refuses an archive with an unsafe name, an encrypted entry, or two entries that are one file
/// once spelt alike. `display` names the archive in messages.
pub(crate) fn validate(display: &str, zip: &SharedZip) -> Result<()> {
    // The zip reader keeps one entry per exact name: a second file under the same name would be
    // lost without a word, and we cannot even see its name.
    if zip.has_duplicate_names() {
        return Err(Error::DuplicateNames {
            path: display.to_string(),
            names: String::new(),
        });
    }
    let meta = zip.metadata();
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
        if entry.is_dir() {
            continue;
        }
        let original = String::from_utf8_lossy(raw).into_owned();
        if let Some(first) = seen.insert(name, original.clone()) {
            return Err(Error::DuplicateNames {
                path: display.to_string(),
                names: format!(" (`{}` and `{}`)", printable(&first), printable(&original)),
            });
        }
    }
    Ok(())
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
}
