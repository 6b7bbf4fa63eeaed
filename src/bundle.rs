//! The bundle stage: what the admin hands us (a zip, a folder, or one log file) turned into a
//! stream of in-memory entries. Nothing is ever extracted to disk, hostile archives (paths that
//! climb out, zip bombs, endless nesting) are refused before any parsing, and every entry is
//! hashed so the report can prove which bytes it was built from.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zip::ZipArchive;

use crate::error::{Error, Result};

/// Guards against archives built to exhaust memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes the whole bundle may inflate to, nested archives and `.gz` members included.
    pub max_uncompressed: u64,
    /// How deep zips inside zips may go.
    pub max_depth: usize,
    /// Largest inflated/compressed ratio accepted for an entry over 8 MiB. Logs compress 10 to
    /// 50 times; a file of zeros, the classic bomb, a thousand times and more.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_uncompressed: 16 << 30,
            max_depth: 3,
            max_ratio: 1000,
        }
    }
}

/// One file of the bundle, decompressed, with its provenance. The bytes live in a per-thread
/// buffer that is reused for the next entry (fresh pages cost more than the parsing here).
pub struct Entry<'a> {
    /// Path inside the bundle, `/`-separated; members of nested archives read `outer.zip!/inner`.
    pub path: String,
    pub data: &'a [u8],
    /// SHA-256 of `data` (the decompressed content, as the user would see it after extracting).
    pub sha256: String,
    /// Set when the entry is an archive whose members are listed separately.
    pub container: Option<usize>,
}

type SharedZip = ZipArchive<Cursor<Arc<[u8]>>>;

enum Source {
    Zip(SharedZip),
    Dir(PathBuf, Vec<String>),
    File(PathBuf, String),
}

/// An opened bundle. Opening validates the container (zip structure, entry names) but reads no
/// entry yet; [`Bundle::par_map`] then streams entries through a parser in parallel.
pub struct Bundle {
    /// As the user named it.
    pub display: String,
    /// SHA-256 of the zip or file; `None` for a folder (see [`folder_digest`]).
    pub sha256: Option<String>,
    /// Declared uncompressed size of all entries (for progress only: never trusted as a limit).
    pub declared_bytes: u64,
    source: Source,
    limits: Limits,
    inflated: AtomicU64,
}

pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// The digest of a folder bundle: SHA-256 over its sorted `path NUL sha256 LF` lines, so two
/// copies of the same folder hash alike whatever their timestamps.
pub fn folder_digest<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (path, sha) in entries {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(sha.as_bytes());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

fn is_zip_magic(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
}

fn is_gzip_magic(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Names that would escape an extraction folder. We never extract, but such a name is a sign of a
/// crafted archive, and echoing it into a report as a path would mislead.
fn unsafe_name(name: &str) -> bool {
    if name.starts_with('/') || name.starts_with('\\') || name.contains('\0') {
        return true;
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return true;
    }
    name.split(['/', '\\']).any(|c| c == "..")
}

fn open_zip(display: &str, data: Arc<[u8]>) -> Result<SharedZip> {
    let zip = ZipArchive::new(Cursor::new(data)).map_err(|e| Error::CorruptZip {
        path: display.to_string(),
        source: e,
    })?;
    // The zip reader keeps one entry per name: a second file under the same name would be lost
    // without a word, so such an archive is refused.
    if zip.has_duplicate_names() {
        return Err(Error::DuplicateNames {
            path: display.to_string(),
        });
    }
    for name in zip.file_names_raw() {
        let name = String::from_utf8_lossy(name);
        if unsafe_name(&name) {
            return Err(Error::UnsafePath {
                entry: format!("{display}: {name}"),
            });
        }
    }
    Ok(zip)
}

impl Bundle {
    pub fn open(path: &Path, limits: Limits) -> Result<Bundle> {
        let display = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                Error::Io {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, path, &mut files)?;
            files.sort();
            if files.is_empty() {
                return Err(Error::EmptyBundle { path: display });
            }
            return Ok(Bundle {
                display,
                sha256: None,
                declared_bytes: 0,
                source: Source::Dir(path.to_path_buf(), files),
                limits,
                inflated: AtomicU64::new(0),
            });
        }
        let data = std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let sha = sha256_hex(&data);
        let looks_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if data.is_empty() {
            return Err(Error::EmptyBundle { path: display });
        }
        if is_zip_magic(&data) {
            let zip = open_zip(&display, Arc::from(data))?;
            if zip.is_empty() {
                return Err(Error::EmptyBundle { path: display });
            }
            let declared = (0..zip.len())
                .filter_map(|i| zip.metadata().entry(i).ok().map(|e| e.size()))
                .fold(0u64, |a, b| a.saturating_add(b));
            return Ok(Bundle {
                display,
                sha256: Some(sha),
                declared_bytes: declared,
                source: Source::Zip(zip),
                limits,
                inflated: AtomicU64::new(0),
            });
        }
        if looks_zip {
            let detail = if data.starts_with(b"PK") {
                "unknown zip signature".to_string()
            } else {
                "no zip signature at the start".to_string()
            };
            return Err(Error::NotAZip {
                path: display,
                detail,
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| display.clone());
        Ok(Bundle {
            display,
            sha256: Some(sha),
            declared_bytes: data.len() as u64,
            source: Source::File(path.to_path_buf(), name),
            limits,
            inflated: AtomicU64::new(0),
        })
    }

    pub fn entry_count(&self) -> usize {
        match &self.source {
            Source::Zip(z) => z.len(),
            Source::Dir(_, files) => files.len(),
            Source::File(..) => 1,
        }
    }

    /// Runs `f` on every entry, in parallel, and returns the results in bundle order (so output
    /// does not depend on thread timing). Archives inside the bundle are opened and their members
    /// passed to `f` as well; the archive itself is passed too, with `container` set.
    pub fn par_map<T, F>(&self, f: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        let n = self.entry_count();
        let per_index: Vec<Result<Vec<T>>> = (0..n)
            .into_par_iter()
            .map_init(
                || {
                    let zip = match &self.source {
                        Source::Zip(z) => Some(z.clone()),
                        _ => None,
                    };
                    (zip, Vec::new())
                },
                |(zip, buf), i| {
                    let mut out = Vec::new();
                    if let Some(path) = self.load_top(zip.as_mut(), i, buf)? {
                        self.expand(path, buf, 0, &f, &mut out)?;
                    }
                    Ok(out)
                },
            )
            .collect();
        let mut all = Vec::new();
        for r in per_index {
            all.extend(r?);
        }
        Ok(all)
    }

    /// Reads top-level entry `i` into `buf`; returns its path, or `None` for a folder entry.
    fn load_top(
        &self,
        zip: Option<&mut SharedZip>,
        i: usize,
        buf: &mut Vec<u8>,
    ) -> Result<Option<String>> {
        match (&self.source, zip) {
            (Source::Zip(_), Some(zip)) => {
                let mut file = zip.by_index(i).map_err(|e| Error::CorruptZip {
                    path: self.display.clone(),
                    source: e,
                })?;
                if file.is_dir() {
                    return Ok(None);
                }
                let name = String::from_utf8_lossy(file.name_raw()).replace('\\', "/");
                let hint = file.size();
                let packed = file.compressed_size();
                self.read_limited(&name, &mut file, hint, Some(packed), buf)?;
                Ok(Some(name))
            }
            (Source::Dir(root, files), _) => {
                let rel = &files[i];
                let full = root.join(rel);
                let f = std::fs::File::open(&full).map_err(|e| Error::Io {
                    path: full.clone(),
                    source: e,
                })?;
                let hint = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.read_limited(rel, f, hint, None, buf)?;
                Ok(Some(rel.clone()))
            }
            (Source::File(path, name), _) => {
                let f = std::fs::File::open(path).map_err(|e| Error::Io {
                    path: path.clone(),
                    source: e,
                })?;
                let hint = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.read_limited(name, f, hint, None, buf)?;
                Ok(Some(name.clone()))
            }
            (Source::Zip(_), None) => Err(Error::Internal("zip reader missing")),
        }
    }

    /// Reads at most the remaining budget, in steps, so a bomb is stopped after a few megabytes
    /// rather than after filling memory. The declared size is only a capacity hint: a crafted
    /// archive can lie about it. `packed` is the compressed size, for the ratio guard.
    fn read_limited(
        &self,
        name: &str,
        r: impl Read,
        hint: u64,
        packed: Option<u64>,
        data: &mut Vec<u8>,
    ) -> Result<()> {
        const STEP: u64 = 8 << 20;
        let limit = self.limits.max_uncompressed;
        data.clear();
        data.reserve(hint.min(limit).min(1 << 30) as usize);
        let mut r = r;
        loop {
            let before = data.len();
            (&mut r)
                .take(STEP)
                .read_to_end(data)
                .map_err(|e| Error::Decompress {
                    entry: name.to_string(),
                    source: e,
                })?;
            let got = (data.len() - before) as u64;
            let total = self
                .inflated
                .fetch_add(got, Ordering::Relaxed)
                .saturating_add(got);
            if total > limit {
                return Err(Error::TooLarge {
                    entry: name.to_string(),
                    limit,
                });
            }
            if let Some(packed) = packed {
                let ratio = data.len() as u64 / packed.max(1);
                if data.len() as u64 > STEP && ratio > self.limits.max_ratio {
                    return Err(Error::Bomb {
                        entry: name.to_string(),
                        ratio: self.limits.max_ratio,
                    });
                }
            }
            if got < STEP {
                return Ok(());
            }
        }
    }

    fn expand<T, F>(
        &self,
        path: String,
        data: &[u8],
        depth: usize,
        f: &F,
        out: &mut Vec<T>,
    ) -> Result<()>
    where
        F: Fn(Entry<'_>) -> Result<T>,
    {
        if is_zip_magic(data) {
            if depth + 1 > self.limits.max_depth {
                return Err(Error::TooDeep {
                    entry: path,
                    depth: self.limits.max_depth,
                });
            }
            let sha = sha256_hex(data);
            let shared: Arc<[u8]> = Arc::from(data);
            let mut zip = open_zip(&path, shared)?;
            out.push(f(Entry {
                path: path.clone(),
                data: &[],
                sha256: sha,
                container: Some(zip.len()),
            })?);
            let mut inner_buf = Vec::new();
            for i in 0..zip.len() {
                let mut file = zip.by_index(i).map_err(|e| Error::CorruptZip {
                    path: path.clone(),
                    source: e,
                })?;
                if file.is_dir() {
                    continue;
                }
                let inner = format!(
                    "{path}!/{}",
                    String::from_utf8_lossy(file.name_raw()).replace('\\', "/")
                );
                let hint = file.size();
                let packed = file.compressed_size();
                self.read_limited(&inner, &mut file, hint, Some(packed), &mut inner_buf)?;
                drop(file);
                self.expand(inner, &inner_buf, depth + 1, f, out)?;
            }
            return Ok(());
        }
        if is_gzip_magic(data) {
            let inner = path
                .strip_suffix(".gz")
                .or_else(|| path.strip_suffix(".GZ"))
                .map(str::to_string)
                .unwrap_or_else(|| format!("{path}!/content"));
            if depth + 1 > self.limits.max_depth {
                return Err(Error::TooDeep {
                    entry: path,
                    depth: self.limits.max_depth,
                });
            }
            let mut bytes = Vec::new();
            self.read_limited(
                &path,
                flate2::read::MultiGzDecoder::new(data),
                (data.len() as u64).saturating_mul(8),
                Some(data.len() as u64),
                &mut bytes,
            )?;
            return self.expand(inner, &bytes, depth + 1, f, out);
        }
        out.push(f(Entry {
            path,
            data,
            sha256: sha256_hex(data),
            container: None,
        })?);
        Ok(())
    }
}

/// Collects regular files below `dir`, relative to `root`, `/`-separated. Symbolic links are not
/// followed: a link out of the folder is not part of what the admin collected.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    for ent in rd {
        let ent = ent.map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let ft = ent.file_type().map_err(|e| Error::Io {
            path: ent.path(),
            source: e,
        })?;
        let p = ent.path();
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_file() {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push(rel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_caught() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "\\x",
            "C:\\x",
            "a\\..\\b",
        ] {
            assert!(unsafe_name(bad), "{bad}");
        }
        for good in ["EX01/MSGTRK1.LOG", "a..b/c", "x/.../y"] {
            assert!(!unsafe_name(good), "{good}");
        }
    }

    #[test]
    fn folder_digest_is_order_sensitive_and_stable() {
        let a = folder_digest([("a", "1"), ("b", "2")].into_iter());
        let b = folder_digest([("a", "1"), ("b", "2")].into_iter());
        let c = folder_digest([("b", "2"), ("a", "1")].into_iter());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }
}
