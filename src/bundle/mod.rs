//! The bundle stage: what the admin hands us (a zip, a folder, or one log file) turned into a
//! stream of in-memory entries. Nothing is ever extracted to disk, hostile archives (paths that
//! climb out, zip bombs, endless nesting) are refused before any parsing, and every entry is
//! hashed so the report can prove which bytes it was built from.
//!
//! Every read from the input is bounded by `--max-uncompressed`: the bundle file, each folder
//! entry, each zip member and each `.gz` member stop at the limit rather than after filling
//! memory, and anything that is not a regular file (a pipe, a device) is refused or skipped
//! before a byte is read.

mod files;
mod names;
pub(crate) use names::path_order;

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zip::result::ZipError;
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
    /// Set when the bundle listed this entry but did not read it (a pipe, device, socket or
    /// symbolic link in a folder): `data` is empty and this says why, for the skip reason.
    pub not_read: Option<&'static str>,
    /// The top-level entry it came from (itself, or the archive it was nested in), so it can be
    /// read again with [`Bundle::read_one`].
    pub top: usize,
}

type SharedZip = ZipArchive<ZipBytes>;

/// Bytes of a nested archive, shared by the handles that read it. An `Arc<Vec<u8>>` rather
/// than an `Arc<[u8]>`: making the latter from a `Vec` copies the whole archive.
#[derive(Clone)]
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Where a zip's bytes are read from: a nested archive is in memory (it was inflated from its
/// parent); the bundle's own zip stays in its file, and each thread reads the members it
/// inflates at their offsets. Holding the archive in memory would make every command's memory
/// grow with the size of the zip, and reading it whole before the first member is inflated is
/// time on one core while the others wait.
#[derive(Clone)]
enum ZipBytes {
    Memory(Cursor<Shared>),
    File(FileAt),
}

/// A file read at explicit offsets, so that clones of it (one per thread) share one open
/// handle and never move each other's position. Its length is the one seen when the bundle was
/// opened: a file that grows afterwards is read as it was. Small reads (the inflater asks for
/// 8 KiB at a time) are served from a read-ahead of its own.
#[derive(Clone)]
struct FileAt {
    file: Arc<File>,
    pos: u64,
    len: u64,
    ahead: ReadAhead,
}

/// Bytes read past what was asked for, starting at file offset `at`.
#[derive(Clone, Default)]
struct ReadAhead {
    bytes: Vec<u8>,
    at: u64,
}

impl ReadAhead {
    /// The bytes held from file offset `pos` on (empty when `pos` is not held).
    fn from(&self, pos: u64) -> &[u8] {
        match pos.checked_sub(self.at) {
            Some(d) if d < self.bytes.len() as u64 => &self.bytes[d as usize..],
            _ => &[],
        }
    }
}

/// Read-ahead size: eight of the inflater's reads per system call. Below glibc's mmap
/// threshold (128 KiB) on purpose: freeing a larger block raises that threshold for the rest
/// of the run, and the entries' columns, allocated from the heap instead, then stay resident
/// after the model took them over (+140 MB at 2 M events).
const READ_AHEAD: usize = 64 << 10;

impl FileAt {
    fn new(file: Arc<File>, len: u64) -> FileAt {
        FileAt {
            file,
            pos: 0,
            len,
            ahead: ReadAhead::default(),
        }
    }

    fn read_at(&self, out: &mut [u8], at: u64) -> std::io::Result<usize> {
        let room = self.len.saturating_sub(at);
        let n = usize::try_from(room).unwrap_or(usize::MAX).min(out.len());
        let out = &mut out[..n];
        if out.is_empty() {
            return Ok(0);
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_at(&*self.file, out, at)
        }
        #[cfg(windows)]
        {
            std::os::windows::fs::FileExt::seek_read(&*self.file, out, at)
        }
        #[cfg(not(any(unix, windows)))]
        {
            let _ = at;
            Err(std::io::ErrorKind::Unsupported.into())
        }
    }

    /// SHA-256 of the whole file, through a reader of its own.
    fn sha256(&self) -> std::io::Result<String> {
        let mut h = Sha256::new();
        let n = std::io::copy(&mut FileAt::new(self.file.clone(), self.len), &mut h)?;
        if n < self.len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(format!("{:x}", h.finalize()))
    }
}

impl Read for FileAt {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.ahead.from(self.pos).is_empty() {
            if out.len() >= READ_AHEAD {
                let n = self.read_at(out, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            let mut bytes = std::mem::take(&mut self.ahead.bytes);
            bytes.resize(READ_AHEAD, 0);
            // On an error nothing is held, and the next read tries the same place again.
            let n = self.read_at(&mut bytes, self.pos)?;
            bytes.truncate(n);
            self.ahead = ReadAhead {
                bytes,
                at: self.pos,
            };
        }
        let held = self.ahead.from(self.pos);
        let n = out.len().min(held.len());
        out[..n].copy_from_slice(&held[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for FileAt {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

impl Read for ZipBytes {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match self {
            ZipBytes::Memory(c) => c.read(out),
            ZipBytes::File(f) => f.read(out),
        }
    }
}

impl Seek for ZipBytes {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        match self {
            ZipBytes::Memory(c) => c.seek(to),
            ZipBytes::File(f) => f.seek(to),
        }
    }
}

/// A reusable read buffer whose bytes stay initialised between entries. `Read::read_to_end`
/// zero-fills the spare capacity on every call, which on a reused buffer means clearing
/// every entry's size again before inflating into it (2% of `inspect`); here each byte is
/// zeroed once, when the buffer first grows to it.
#[derive(Default)]
pub(crate) struct Buf {
    /// Initialised bytes; its length is the most this buffer ever held.
    bytes: Vec<u8>,
    /// How many of them the current content uses.
    len: usize,
}

impl Buf {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The content, moved out: for an archive whose bytes its readers share, which would
    /// otherwise be copied while the buffer still holds them.
    fn take(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.truncate(self.len);
        self.len = 0;
        bytes
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Makes the content `n` bytes long, for a caller that writes them in place (bytes are
    /// zeroed only where the buffer grows).
    fn fill(&mut self, n: usize) -> &mut [u8] {
        if self.bytes.len() < n {
            self.bytes.resize(n, 0);
        }
        self.len = n;
        &mut self.bytes[..n]
    }

    /// Makes room for `n` bytes in all (virtual memory only: nothing is zeroed yet).
    fn reserve(&mut self, n: usize) {
        self.bytes.reserve(n.saturating_sub(self.bytes.len()));
    }

    /// Reads from `r` until it ends or `want` bytes came; returns how many came.
    fn read_from(&mut self, r: &mut impl Read, want: u64) -> std::io::Result<u64> {
        let mut got = 0u64;
        let mut probe = [0u8; 32];
        while got < want {
            let limit = usize::try_from(want - got).unwrap_or(usize::MAX);
            if self.len == self.bytes.len() && self.bytes.capacity() > self.len {
                // Zero what was reserved a megabyte at a time: a declared size may lie.
                let grow = self.bytes.capacity().min(self.len + (1 << 20));
                self.bytes.resize(grow, 0);
            }
            // Full to the capacity reserved: most likely the end. A small read says so before
            // the buffer grows (and then it grows by appending what came).
            let full = self.len == self.bytes.len();
            let into = if full {
                &mut probe[..limit.min(32)]
            } else {
                let room = (self.bytes.len() - self.len).min(limit);
                &mut self.bytes[self.len..self.len + room]
            };
            match r.read(into) {
                Ok(0) => break,
                Ok(n) => {
                    if full {
                        self.bytes.extend_from_slice(&probe[..n]);
                    }
                    self.len += n;
                    got += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }
}

/// Zip members inflated in one call: the compressed member is read whole, and libdeflate
/// inflates it straight into the entry's buffer, at about 1.5 times the speed of streaming it
/// through zlib-rs (0.69 s against 1.05 s for the 631 MB of the 1 M-event bench bundle, CRC
/// included). Only for plain deflated members whose declared sizes pass every guard; a member
/// whose result it cannot vouch for (a size that lied, bad data, a wrong CRC) is read again by
/// the streaming path, so its errors are the streaming path's.
#[derive(Default)]
struct Whole {
    packed: Vec<u8>,
    inflater: Option<libdeflater::Decompressor>,
}

/// What one thread reads entries with, kept from entry to entry: its handle on the zip, the
/// entry's buffer, and the one-call inflater's.
#[derive(Default)]
struct Reader {
    zip: Option<SharedZip>,
    buf: Buf,
    whole: Whole,
}

/// Largest member inflated in one call, inflated and compressed: both declared sizes are set
/// aside before a byte is inflated, and a crafted archive may lie about them. Exchange rolls its
/// logs at 10 MB by default.
const WHOLE_MAX: u64 = 64 << 20;

/// Reads are bounded in steps of this size, and the ratio guard applies past one step.
const STEP: u64 = 8 << 20;

enum Source {
    /// A zip, with its entries' names by index ([`names::validate`]).
    Zip(SharedZip, Vec<String>),
    Dir(Vec<files::FolderEntry>),
    File {
        path: PathBuf,
        name: String,
    },
}

/// An opened bundle. Opening validates the container (zip structure, entry names) but reads no
/// entry yet; [`Bundle::par_map`] then streams entries through a parser in parallel.
pub struct Bundle {
    /// As the user named it.
    pub display: String,
    /// SHA-256 of the zip or file; unset for a folder (see [`folder_digest`]). A zip's is taken
    /// by [`Bundle::par_map`] beside the entries, not before them on one core.
    sha256: OnceLock<String>,
    /// The zip's file, to hash.
    zip_file: Option<FileAt>,
    /// Declared uncompressed size of all entries (for progress only: never trusted as a limit).
    pub declared_bytes: u64,
    source: Source,
    /// The path the bundle was opened from.
    origin: PathBuf,
    limits: Limits,
    inflated: AtomicU64,
    read_back: ReadBack,
}

/// Archives inside the bundle (a server's zip) loaded again to read entries back, kept so that
/// evidence from forty logs of one server's zip loads that zip once, not forty times: at most
/// [`READ_BACK_MAX`] bytes, the least recently used given up first. Bundles of logs, with no
/// archive inside, never fill it.
#[derive(Default)]
struct ReadBack(Mutex<Vec<(usize, String, Shared)>>);

/// Bytes of archives [`ReadBack`] keeps.
const READ_BACK_MAX: usize = 256 << 20;

impl ReadBack {
    /// Top-level entry `top`'s name and bytes, if kept.
    fn get(&self, top: usize) -> Option<(String, Shared)> {
        let mut kept = self.0.lock().ok()?;
        let at = kept.iter().position(|k| k.0 == top)?;
        let k = kept.remove(at);
        let found = (k.1.clone(), k.2.clone());
        kept.push(k);
        Some(found)
    }

    fn keep(&self, top: usize, name: &str, bytes: &Shared) {
        let size = bytes.0.len();
        let Ok(mut kept) = self.0.lock() else {
            return;
        };
        if size > READ_BACK_MAX || kept.iter().any(|k| k.0 == top) {
            return;
        }
        while kept.iter().map(|k| k.2 .0.len()).sum::<usize>() + size > READ_BACK_MAX {
            kept.remove(0);
        }
        kept.push((top, name.to_string(), bytes.clone()));
    }
}

impl Whole {
    /// Inflates zip member `i` (declared `size` and `packed` bytes, checksum `crc`) in one call
    /// into `buf`. False when the result cannot be vouched for: the compressed bytes could not
    /// all be read, the data is bad, it inflates to another size than declared, or its CRC
    /// differs.
    fn inflate<R: Read + Seek>(
        &mut self,
        zip: &mut ZipArchive<R>,
        i: usize,
        (size, packed, crc): (u64, u64, u32),
        buf: &mut Buf,
    ) -> bool {
        let (Ok(size), Ok(packed)) = (usize::try_from(size), usize::try_from(packed)) else {
            return false;
        };
        let Ok(mut raw) = zip.by_index_raw(i) else {
            return false;
        };
        if self.packed.len() < packed {
            self.packed.resize(packed, 0);
        }
        let input = &mut self.packed[..packed];
        if raw.read_exact(input).is_err() {
            return false;
        }
        let inflater = self
            .inflater
            .get_or_insert_with(libdeflater::Decompressor::new);
        let out = buf.fill(size);
        matches!(inflater.deflate_decompress(input, out), Ok(n) if n == size)
            && libdeflater::crc32(out) == crc
    }
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

/// The indexes of `names` in path order (ties by index).
pub(crate) fn in_path_order<S: AsRef<str>>(names: &[S]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names::path_order(names[a].as_ref(), names[b].as_ref()).then(a.cmp(&b)));
    order
}

/// Each name's place in path order.
fn ranks(names: &[String]) -> Vec<usize> {
    let mut rank = vec![0; names.len()];
    for (r, i) in in_path_order(names).into_iter().enumerate() {
        rank[i] = r;
    }
    rank
}

/// Which entries a reading of a top-level entry hands over: all, or `only` those of these
/// paths.
#[derive(Clone, Copy)]
struct Walk<'a> {
    top: usize,
    only: Option<&'a [&'a str]>,
}

impl Walk<'_> {
    /// Whether the member `member` of an archive is to be read.
    fn reads(&self, member: &str) -> bool {
        self.only
            .is_none_or(|want| want.iter().any(|w| may_hold(member, w)))
    }
}

/// Whether the member `member` of an archive is, or may hold, the entry `want`: `want` is it,
/// or lies inside it (`member!/…`), or is what it gives once ungzipped (`x.log` of `x.log.gz`).
fn may_hold(member: &str, want: &str) -> bool {
    let at_or_under = |p: &str| {
        want.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("!/"))
    };
    at_or_under(member)
        || member
            .strip_suffix(".gz")
            .or_else(|| member.strip_suffix(".GZ"))
            .is_some_and(at_or_under)
}

fn is_zip_magic(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
}

fn is_gzip_magic(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// The zip reader's error, except that a missing password gets its own message: "corrupt" would
/// send the user looking for a broken download.
fn zip_error(display: &str, e: ZipError) -> Error {
    match e {
        ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) => Error::Encrypted {
            entry: crate::error::printable(display),
        },
        e => Error::CorruptZip {
            path: display.to_string(),
            source: e,
        },
    }
}

/// An archive, checked, with its entries' names by index.
fn open_zip(display: &str, data: ZipBytes) -> Result<(SharedZip, Vec<String>)> {
    let zip = ZipArchive::new(data).map_err(|e| zip_error(display, e))?;
    let names = names::validate(display, &zip)?;
    Ok((zip, names))
}

fn read_error(path: &Path, e: std::io::Error) -> Error {
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
}

/// What one top-level entry turned out to be.
enum Top {
    /// A folder entry inside a zip: nothing to pass on.
    Folder,
    /// Listed but not read, with why.
    NotRead(String, &'static str),
    /// Read into the thread's buffer, under this path.
    Read(String),
}

impl Bundle {
    pub fn open(path: &Path, limits: Limits) -> Result<Bundle> {
        let display = path.display().to_string();
        // `metadata` follows a link the user named (that is a choice they made), and never
        // blocks, unlike opening a FIFO.
        let meta = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
        if meta.is_dir() {
            let files = files::list_folder(path)?;
            if files.is_empty() {
                return Err(Error::EmptyBundle { path: display });
            }
            return Ok(Bundle {
                display,
                sha256: OnceLock::new(),
                zip_file: None,
                declared_bytes: files
                    .iter()
                    .filter_map(|f| f.full.symlink_metadata().ok())
                    .filter(|m| m.is_file())
                    .fold(0u64, |a, m| a.saturating_add(m.len())),
                source: Source::Dir(files),
                origin: path.to_path_buf(),
                limits,
                inflated: AtomicU64::new(0),
                read_back: ReadBack::default(),
            });
        }
        let not_regular = || Error::NotRegular {
            path: path.to_path_buf(),
        };
        if !meta.is_file() {
            return Err(not_regular());
        }
        let limit = limits.max_uncompressed;
        let too_large = || Error::InputTooLarge {
            path: path.to_path_buf(),
            limit,
        };
        if meta.len() > limit {
            return Err(too_large());
        }
        let file = files::open_regular(path, true)
            .map_err(|e| read_error(path, e))?
            .ok_or_else(not_regular)?;
        let file = Arc::new(file);
        // The size can grow while we read (a log still being written): the `take` stops there.
        let mut reader = (&*file).take(limit.saturating_add(1));
        let io = |e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut head = Vec::with_capacity(4);
        (&mut reader).take(4).read_to_end(&mut head).map_err(io)?;
        if head.is_empty() {
            return Err(Error::EmptyBundle { path: display });
        }
        if is_zip_magic(&head) {
            // The archive stays in its file: its directory is read now, its members when
            // they are inflated. Its length is the open handle's, not the path's of before.
            let len = file.metadata().map_err(io)?.len();
            if len > limit {
                return Err(too_large());
            }
            let at = FileAt::new(file.clone(), len);
            let (zip, names) = open_zip(&display, ZipBytes::File(at.clone()))?;
            if zip.is_empty() {
                return Err(Error::EmptyBundle { path: display });
            }
            let declared = (0..zip.len())
                .filter_map(|i| zip.metadata().entry(i).ok().map(|e| e.size()))
                .fold(0u64, |a, b| a.saturating_add(b));
            return Ok(Bundle {
                display,
                sha256: OnceLock::new(),
                zip_file: Some(at),
                declared_bytes: declared,
                source: Source::Zip(zip, names),
                origin: path.to_path_buf(),
                limits,
                inflated: AtomicU64::new(0),
                read_back: ReadBack::default(),
            });
        }
        let looks_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if looks_zip {
            let detail = if head.starts_with(b"PK") {
                "unknown zip signature".to_string()
            } else {
                "no zip signature at the start".to_string()
            };
            return Err(Error::NotAZip {
                path: display,
                detail,
            });
        }
        // A single log is hashed as it streams past and read again, bounded, when parsed: no
        // need to hold it twice.
        let mut hasher = Sha256::new();
        hasher.update(&head);
        let rest = std::io::copy(&mut reader, &mut hasher).map_err(io)?;
        let size = rest.saturating_add(head.len() as u64);
        if size > limit {
            return Err(too_large());
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| display.clone());
        Ok(Bundle {
            display,
            sha256: OnceLock::from(format!("{:x}", hasher.finalize())),
            zip_file: None,
            declared_bytes: size,
            source: Source::File {
                path: path.to_path_buf(),
                name,
            },
            origin: path.to_path_buf(),
            limits,
            inflated: AtomicU64::new(0),
            read_back: ReadBack::default(),
        })
    }

    /// SHA-256 of the zip or file; `None` for a folder (see [`folder_digest`]), and for a zip
    /// whose file could not be read to its end again.
    pub fn sha256(&self) -> Option<String> {
        // Normally taken beside the entries already ([`Bundle::par_map`]).
        self.hash_zip().ok()?;
        self.sha256.get().cloned()
    }

    /// Takes the zip's digest from its file, once.
    fn hash_zip(&self) -> Result<()> {
        let Some(f) = &self.zip_file else {
            return Ok(());
        };
        if self.sha256.get().is_none() {
            let sha = f.sha256().map_err(|e| Error::Io {
                path: self.origin.clone(),
                source: e,
            })?;
            let _ = self.sha256.set(sha);
        }
        Ok(())
    }

    pub fn entry_count(&self) -> usize {
        match &self.source {
            Source::Zip(z, _) => z.len(),
            Source::Dir(files) => files.len(),
            Source::File { .. } => 1,
        }
    }

    /// Runs `f` on every entry, in parallel, and returns the results in path order
    /// (`names::path_order`; so output depends neither on thread timing nor on the order the
    /// archive happens to list its entries in). Archives inside the bundle are opened and their
    /// members passed to `f` as well, also in path order; the archive itself is passed too, with
    /// `container` set.
    pub fn par_map<T, F>(&self, f: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        // Largest entries first, handed out one at a time as threads free up: a big log left
        // for last would keep one core busy while the other idles. Results are put in path
        // order below.
        let sizes = self.entry_sizes();
        let mut order: Vec<usize> = (0..self.entry_count()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sizes.get(i).copied().unwrap_or(0)));
        // A zip's own digest is one serial pass over the archive: taken on whichever thread is
        // free, beside the entries, instead of before them.
        let (mut per_index, digest) = rayon::join(|| self.read_in(order, &f), || self.hash_zip());
        digest?;
        let rank = self.path_ranks();
        per_index.sort_unstable_by_key(|(i, _)| (rank.get(*i).copied().unwrap_or(usize::MAX), *i));
        let mut all = Vec::new();
        for (_, r) in per_index {
            all.extend(r?);
        }
        Ok(all)
    }

    /// Reads the top-level entries in `order`, in parallel, with each one's index.
    fn read_in<T, F>(&self, order: Vec<usize>, f: &F) -> Vec<(usize, Result<Vec<T>>)>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        order
            .into_iter()
            .par_bridge()
            .map_init(
                // Each thread reads through its own handle on the shared archive bytes.
                Reader::default,
                |reader, i| {
                    let mut out = Vec::new();
                    let read = match self.load_top(reader, i) {
                        Err(e) => Err(e),
                        Ok(Top::Folder) => Ok(()),
                        Ok(Top::NotRead(path, why)) => f(Entry {
                            path,
                            data: &[],
                            sha256: sha256_hex(&[]),
                            container: None,
                            not_read: Some(why),
                            top: i,
                        })
                        .map(|x| out.push(x)),
                        Ok(Top::Read(path)) => {
                            let walk = Walk { top: i, only: None };
                            self.expand_top(path, &mut reader.buf, walk, false, f, &mut out)
                        }
                    };
                    (i, read.map(|()| out))
                },
            )
            .collect()
    }

    /// Each top-level entry's place in path order. A folder is listed in that order already.
    fn path_ranks(&self) -> Vec<usize> {
        match &self.source {
            Source::Zip(_, names) => ranks(names),
            Source::Dir(files) => (0..files.len()).collect(),
            Source::File { .. } => vec![0],
        }
    }

    /// Each top-level entry's size as listed (uncompressed size in a zip's directory, file size
    /// in a folder): only a scheduling hint, a crafted archive may lie.
    fn entry_sizes(&self) -> Vec<u64> {
        match &self.source {
            Source::Zip(z, _) => (0..z.len())
                .map(|i| z.metadata().entry(i).map_or(0, |e| e.size()))
                .collect(),
            Source::Dir(files) => files
                .iter()
                .map(|f| f.full.symlink_metadata().map_or(0, |m| m.len()))
                .collect(),
            Source::File { .. } => Vec::new(),
        }
    }

    /// Reads top-level entry `i` into the reader's buffer.
    fn load_top(&self, reader: &mut Reader, i: usize) -> Result<Top> {
        let buf = &mut reader.buf;
        match &self.source {
            Source::Zip(shared, names) => {
                let zip = reader.zip.get_or_insert_with(|| shared.clone());
                self.zip_member(zip, &self.display, i, &names[i], buf, &mut reader.whole)
            }
            Source::Dir(files) => {
                let entry = &files[i];
                if let Some(why) = entry.not_read {
                    return Ok(Top::NotRead(entry.display.clone(), why));
                }
                let Some(f) = files::open_regular(&entry.full, false).map_err(|e| Error::Io {
                    path: entry.full.clone(),
                    source: e,
                })?
                else {
                    // Replaced by a pipe or a link since the folder was listed.
                    return Ok(Top::NotRead(
                        entry.display.clone(),
                        "not a regular file: not read",
                    ));
                };
                self.read_file(&entry.display, &entry.full, f, buf)?;
                Ok(Top::Read(entry.display.clone()))
            }
            Source::File { path, name } => {
                let f = files::open_regular(path, true)
                    .map_err(|e| read_error(path, e))?
                    .ok_or_else(|| Error::NotRegular { path: path.clone() })?;
                self.read_file(name, path, f, buf)?;
                Ok(Top::Read(name.clone()))
            }
        }
    }

    /// Reads member `i` (named `name`) of the archive `zip` (named `archive` in errors) into
    /// `buf`: in one call where its declared sizes allow, else streaming.
    fn zip_member(
        &self,
        zip: &mut SharedZip,
        archive: &str,
        i: usize,
        name: &str,
        buf: &mut Buf,
        whole: &mut Whole,
    ) -> Result<Top> {
        let mut file = zip.by_index(i).map_err(|e| zip_error(archive, e))?;
        if file.is_dir() {
            return Ok(Top::Folder);
        }
        let name = name.to_string();
        let hint = file.size();
        let packed = file.compressed_size();
        if file.compression() == zip::CompressionMethod::Deflated
            && !file.encrypted()
            && self.whole_allowed(hint, packed)
        {
            let sizes = (hint, packed, file.crc32());
            drop(file);
            if whole.inflate(zip, i, sizes, buf) {
                self.count(&name, hint, true)?;
                return Ok(Top::Read(name));
            }
            file = zip.by_index(i).map_err(|e| zip_error(archive, e))?;
        }
        self.read_limited(&name, &mut file, hint, Some(packed), buf)?;
        Ok(Top::Read(name))
    }

    /// Whether a member of these declared sizes may be inflated in one call: only where the
    /// streaming path would pass every guard with the same sizes (the budget, the ratio), so
    /// that the one-call path never accepts what streaming refuses. Both sizes are set aside
    /// before a byte is read, so both are bounded: a crafted directory may declare either.
    fn whole_allowed(&self, size: u64, packed: u64) -> bool {
        size <= WHOLE_MAX
            && packed <= WHOLE_MAX
            && size <= self.budget()
            && !self.bomb(size, packed)
    }

    /// What is left of `--max-uncompressed` for the entries not read yet.
    fn budget(&self) -> u64 {
        self.limits
            .max_uncompressed
            .saturating_sub(self.inflated.load(Ordering::Relaxed))
    }

    /// The ratio guard: `size` bytes inflated from `packed` is a bomb (past the first step).
    fn bomb(&self, size: u64, packed: u64) -> bool {
        size > STEP && size / packed.max(1) > self.limits.max_ratio
    }

    /// Adds `n` bytes read for entry `name` to the budget; past the limit, the entry is refused
    /// ("inflates past the limit" when they came out of a decompressor, `inflated`).
    fn count(&self, name: &str, n: u64, inflated: bool) -> Result<()> {
        let limit = self.limits.max_uncompressed;
        let total = self
            .inflated
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if total <= limit {
            return Ok(());
        }
        Err(if inflated {
            Error::TooLarge {
                entry: name.to_string(),
                limit,
            }
        } else {
            Error::InputTooLarge {
                path: PathBuf::from(name),
                limit,
            }
        })
    }

    /// Reads a regular file, refusing it from its size alone when that is already past the
    /// budget rather than after reading up to the limit.
    fn read_file(&self, name: &str, full: &Path, f: std::fs::File, buf: &mut Buf) -> Result<()> {
        let size = f
            .metadata()
            .map_err(|e| Error::Io {
                path: full.to_path_buf(),
                source: e,
            })?
            .len();
        if size > self.budget() {
            return Err(Error::InputTooLarge {
                path: PathBuf::from(name),
                limit: self.limits.max_uncompressed,
            });
        }
        self.read_limited(name, f, size, None, buf)
    }

    /// Reads at most the remaining budget, in steps, so a bomb is stopped at the limit rather
    /// than after filling memory. `hint` (a declared size) is only a capacity hint: a crafted
    /// archive can lie about it. `packed` is the compressed size, for the ratio guard; `None`
    /// means the bytes come straight from a file.
    fn read_limited(
        &self,
        name: &str,
        r: impl Read,
        hint: u64,
        packed: Option<u64>,
        data: &mut Buf,
    ) -> Result<()> {
        data.clear();
        data.reserve(hint.min(self.budget()).min(1 << 30) as usize);
        let mut r = r;
        loop {
            // One byte past the budget is enough to know the limit is crossed.
            let want = STEP.min(self.budget().saturating_add(1));
            let got = data.read_from(&mut r, want).map_err(|e| match packed {
                Some(_) => Error::Decompress {
                    entry: name.to_string(),
                    source: e,
                },
                None => Error::Io {
                    path: PathBuf::from(name),
                    source: e,
                },
            })?;
            self.count(name, got, packed.is_some())?;
            // "Zip bomb" only fits bytes that came out of a decompressor.
            if packed.is_some_and(|p| self.bomb(data.len as u64, p)) {
                return Err(Error::Bomb {
                    entry: name.to_string(),
                    ratio: self.limits.max_ratio,
                });
            }
            if got < want {
                return Ok(());
            }
        }
    }

    /// Hands `f` the entry `path` whose bytes are `data`, or, for an archive, the archive and
    /// then each of its members, depth first in path order. With `walk.only`, only the entries
    /// of those paths are handed over, and only the members on the way to them are inflated.
    fn expand<T, F>(
        &self,
        path: String,
        data: &[u8],
        depth: usize,
        walk: Walk<'_>,
        f: &F,
        out: &mut Vec<T>,
    ) -> Result<()>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        let top = walk.top;
        if is_zip_magic(data) {
            let bytes = Shared(Arc::new(data.to_vec()));
            return self.expand_zip(path, bytes, depth, walk, f, out);
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
            let mut bytes = Buf::default();
            self.read_limited(
                &path,
                flate2::read::MultiGzDecoder::new(data),
                (data.len() as u64).saturating_mul(8),
                Some(data.len() as u64),
                &mut bytes,
            )?;
            return self.expand(inner, bytes.as_slice(), depth + 1, walk, f, out);
        }
        if walk.only.is_some_and(|want| !want.contains(&path.as_str())) {
            return Ok(());
        }
        out.push(f(Entry {
            path,
            data,
            sha256: sha256_hex(data),
            container: None,
            not_read: None,
            top,
        })?);
        Ok(())
    }

    /// [`Bundle::expand`] for top-level entry `path`, read into `buf`: an archive takes the
    /// buffer's bytes rather than a copy of them, and with `keep` is kept for the next entry
    /// read back from it ([`ReadBack`]).
    fn expand_top<T, F>(
        &self,
        path: String,
        buf: &mut Buf,
        walk: Walk<'_>,
        keep: bool,
        f: &F,
        out: &mut Vec<T>,
    ) -> Result<()>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        if !is_zip_magic(buf.as_slice()) {
            return self.expand(path, buf.as_slice(), 0, walk, f, out);
        }
        let bytes = Shared(Arc::new(buf.take()));
        if keep {
            self.read_back.keep(walk.top, &path, &bytes);
        }
        self.expand_zip(path, bytes, 0, walk, f, out)
    }

    /// [`Bundle::expand`] for the archive `path` whose bytes are `bytes`.
    fn expand_zip<T, F>(
        &self,
        path: String,
        bytes: Shared,
        depth: usize,
        walk: Walk<'_>,
        f: &F,
        out: &mut Vec<T>,
    ) -> Result<()>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        if depth + 1 > self.limits.max_depth {
            return Err(Error::TooDeep {
                entry: path,
                depth: self.limits.max_depth,
            });
        }
        let sha256 = walk.only.is_none().then(|| sha256_hex(bytes.as_ref()));
        let (zip, names) = open_zip(&path, ZipBytes::Memory(Cursor::new(bytes)))?;
        if let Some(sha256) = sha256 {
            out.push(f(Entry {
                path: path.clone(),
                data: &[],
                sha256,
                container: Some(zip.len()),
                not_read: None,
                top: walk.top,
            })?);
        }
        // Reading entries back (evidence, a copy's bytes): the other members of a server's
        // archive are neither inflated again nor hashed.
        let members: Vec<(usize, String)> = in_path_order(&names)
            .into_iter()
            .map(|i| (i, format!("{path}!/{}", names[i])))
            .filter(|(_, inner)| walk.reads(inner))
            .collect();
        // The members are read as the bundle's own are, in parallel and each in one call
        // where it can be: a bundle of one zip per server would otherwise be read on one
        // core per server, every member streamed.
        let read: Vec<Result<Vec<T>>> = members
            .into_par_iter()
            .map_init(
                || (zip.clone(), Buf::default(), Whole::default()),
                |(zip, buf, whole), (i, inner)| {
                    let mut out = Vec::new();
                    if let Top::Read(inner) = self.zip_member(zip, &path, i, &inner, buf, whole)? {
                        self.expand(inner, buf.as_slice(), depth + 1, walk, f, &mut out)?;
                    }
                    Ok(out)
                },
            )
            .collect();
        for member in read {
            out.extend(member?);
        }
        Ok(())
    }

    /// The bytes of one entry, read again: top-level entry `top`, and inside it (for nested
    /// archives and `.gz` members) the entry listed under `path`. For evidence rows, which are
    /// read back from the bundle rather than kept in memory for every row.
    /// Returns the bytes with their SHA-256.
    pub fn read_one(&self, top: usize, path: &str) -> Result<Option<(Vec<u8>, String)>> {
        // Only that entry is handed over, never its archive.
        let found = self.reread(top, Some(&[path]), true, &|e: Entry<'_>| {
            Ok((e.data.to_vec(), e.sha256))
        })?;
        Ok(found.into_iter().next())
    }

    /// Every entry that top-level entry `top` gives (itself, or the members of the archive it
    /// is), or `only` those of these paths, read again and handed to `f`, in one reading of
    /// `top`: entries of one nested archive read back one by one with [`Bundle::read_one`]
    /// would load it once each.
    pub fn read_top<T, F>(&self, top: usize, only: Option<&[&str]>, f: &F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        self.reread(top, only, false, f)
    }

    /// Reads top-level entry `top` again for [`Bundle::read_one`] (`keep`: one entry of many
    /// to come, so an archive is kept) or [`Bundle::read_top`] (all it needs in one reading).
    fn reread<T, F>(&self, top: usize, only: Option<&[&str]>, keep: bool, f: &F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(Entry<'_>) -> Result<T> + Sync,
    {
        let mut out = Vec::new();
        if top >= self.entry_count() {
            return Ok(out);
        }
        let walk = Walk { top, only };
        if only.is_some() {
            if let Some((name, bytes)) = self.read_back.get(top) {
                self.expand_zip(name, bytes, 0, walk, f, &mut out)?;
                return Ok(out);
            }
        }
        let mut reader = Reader::default();
        match self.load_top(&mut reader, top)? {
            Top::Read(name) => self.expand_top(name, &mut reader.buf, walk, keep, f, &mut out)?,
            Top::Folder | Top::NotRead(..) => {}
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_digest_is_order_sensitive_and_stable() {
        let a = folder_digest([("a", "1"), ("b", "2")].into_iter());
        let b = folder_digest([("a", "1"), ("b", "2")].into_iter());
        let c = folder_digest([("b", "2"), ("a", "1")].into_iter());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }

    /// Hands out at most 7 bytes per read, and is interrupted once, as real readers may be.
    struct Dribble<'a>(&'a [u8], bool);
    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if !self.1 {
                self.1 = true;
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = out.len().min(7).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_file_read_at_offsets_is_read_as_it_was_opened() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("z");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        let file = Arc::new(File::open(&path).expect("open"));
        let mut a = FileAt::new(file, bytes.len() as u64);
        // Grown after it was opened: the growth is not part of the bundle.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"more"))
            .expect("append");
        let mut b = a.clone();
        assert_eq!(a.seek(SeekFrom::End(-10)).expect("seek"), 199_990);
        let mut tail = Vec::new();
        a.read_to_end(&mut tail).expect("read");
        assert_eq!(tail, bytes[199_990..], "stops at the length seen at open");
        // A clone keeps its own position.
        let mut head = [0u8; 5];
        b.read_exact(&mut head).expect("read");
        assert_eq!(head, bytes[..5]);
        assert_eq!(b.seek(SeekFrom::Current(-2)).expect("seek"), 3);
        assert!(b.seek(SeekFrom::Current(-4)).is_err(), "before the start");
        assert_eq!(b.seek(SeekFrom::Start(300_000)).expect("seek"), 300_000);
        assert_eq!(
            b.read(&mut head).expect("read"),
            0,
            "past the end reads nothing"
        );
        // Small reads come from the read-ahead, large ones straight from the file, wherever
        // a seek left the position: the bytes are the file's either way.
        let mut c = a.clone();
        for (start, len) in [
            (0u64, 10usize),
            (5, 3),
            (65_530, 20),
            (131_000, 9_000),
            (100, 70_000),
            (64, 65_536),
            (199_995, 10),
            (12, 1),
        ] {
            c.seek(SeekFrom::Start(start)).expect("seek");
            let mut got = vec![0u8; len];
            let mut n = 0;
            while n < len {
                match c.read(&mut got[n..]).expect("read") {
                    0 => break,
                    k => n += k,
                }
            }
            let end = (start as usize + len).min(bytes.len());
            assert_eq!(&got[..n], &bytes[start as usize..end], "{start}+{len}");
        }
        // The digest is the one of the bytes, over steps of the read buffer.
        assert_eq!(a.sha256().expect("digest"), sha256_hex(&bytes));
        // Cut short since: the digest says it could not be read whole.
        std::fs::write(&path, &bytes[..1000]).expect("truncate");
        assert!(a.sha256().is_err());
    }

    #[test]
    fn a_reused_buffer_holds_exactly_what_was_read_last() {
        let long: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut buf = Buf::default();
        buf.reserve(100);
        assert_eq!(
            buf.read_from(&mut Dribble(&long, false), u64::MAX).ok(),
            Some(200_000)
        );
        assert_eq!(buf.as_slice(), &long[..]);
        // A step stops at `want`, and the next step goes on from there.
        buf.clear();
        let mut r = Dribble(b"abcdefghijklmnopqrstuvwxyz", false);
        assert_eq!(buf.read_from(&mut r, 10).ok(), Some(10));
        assert_eq!(buf.read_from(&mut r, 100).ok(), Some(16));
        assert_eq!(buf.as_slice(), b"abcdefghijklmnopqrstuvwxyz");
        // Shorter content after longer: nothing of the old bytes shows.
        buf.clear();
        assert_eq!(
            buf.read_from(&mut Dribble(b"xyz", false), 100).ok(),
            Some(3)
        );
        assert_eq!(buf.as_slice(), b"xyz");
        buf.clear();
        assert_eq!(buf.read_from(&mut Dribble(b"", false), 100).ok(), Some(0));
        assert_eq!(buf.as_slice(), b"");
        // Filled to exactly the size reserved: the end is found without doubling the buffer.
        let mut exact = Buf::default();
        exact.reserve(70);
        let cap = exact.bytes.capacity();
        let data: Vec<u8> = (0..cap as u8).collect();
        assert_eq!(
            exact.read_from(&mut Dribble(&data, false), u64::MAX).ok(),
            Some(cap as u64)
        );
        assert_eq!(exact.as_slice(), &data[..]);
        assert_eq!(exact.bytes.capacity(), cap);
        // One byte more than reserved still arrives.
        let mut over = Buf::default();
        over.reserve(70);
        let data: Vec<u8> = (0..=over.bytes.capacity() as u8).collect();
        assert_eq!(
            over.read_from(&mut Dribble(&data, true), u64::MAX).ok(),
            Some(data.len() as u64)
        );
        assert_eq!(over.as_slice(), &data[..]);
    }

    /// A zip written on the spot: each member deflated, or stored when its name says so.
    fn zip_bytes(members: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in members {
            let method = if name.starts_with("stored") {
                zip::CompressionMethod::Stored
            } else {
                zip::CompressionMethod::Deflated
            };
            let opts = zip::write::SimpleFileOptions::default().compression_method(method);
            z.start_file(*name, opts).expect("entry");
            z.write_all(data).expect("write");
        }
        z.finish().expect("finish").into_inner()
    }

    /// Log-like text of `n` lines (compresses about as logs do, and spans many deflate blocks).
    fn log_text(n: u32) -> Vec<u8> {
        (0..n)
            .flat_map(|i| {
                format!(
                    "2026-12-05T10:{:02}:{:02}.{i:03}Z,10.0.0.{},DELIVER,<{i}@x>\n",
                    i % 60,
                    i % 59,
                    i % 7
                )
                .into_bytes()
            })
            .collect()
    }

    #[test]
    fn one_call_inflation_vouches_only_for_what_streaming_gives() {
        let big = log_text(40_000);
        let bytes = zip_bytes(&[
            ("empty.log", b""),
            ("small.log", b"abc"),
            ("big.log", &big),
            ("stored.log", b"kept as is"),
        ]);
        let mut zip = ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let (mut buf, mut whole) = (Buf::default(), Whole::default());
        let mut deflated = 0;
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).expect("member");
            let (size, packed, crc) = (f.size(), f.compressed_size(), f.crc32());
            let is_deflated = f.compression() == zip::CompressionMethod::Deflated;
            let mut streamed = Vec::new();
            f.read_to_end(&mut streamed).expect("stream");
            drop(f);
            if !is_deflated {
                continue;
            }
            deflated += 1;
            let mut one = |size: u64, packed: u64, crc: u32| {
                let ok = whole.inflate(&mut zip, i, (size, packed, crc), &mut buf);
                (ok, buf.as_slice().to_vec())
            };
            assert_eq!(
                one(size, packed, crc),
                (true, streamed.clone()),
                "member {i}"
            );
            // Everything it cannot vouch for is left to the streaming path.
            assert!(!one(size, packed, crc ^ 1).0, "member {i}: another CRC");
            assert!(
                !one(size + 1, packed, crc).0,
                "member {i}: declared too long"
            );
            if size > 0 {
                assert!(
                    !one(size - 1, packed, crc).0,
                    "member {i}: declared too short"
                );
            }
            assert!(
                !one(size, packed - 1, crc).0,
                "member {i}: stream cut short"
            );
            assert!(
                !one(size, packed + 1, crc).0,
                "member {i}: more than the member has"
            );
            // And after all that, the same buffers still give the right bytes.
            assert_eq!(one(size, packed, crc), (true, streamed), "member {i}");
        }
        assert_eq!(deflated, 3);
    }

    /// Offsets of the CRC field of every local header and central directory record.
    fn crc_fields(zip: &[u8]) -> Vec<usize> {
        let mut at = Vec::new();
        for i in 0..zip.len().saturating_sub(4) {
            match &zip[i..i + 4] {
                b"PK\x03\x04" => at.push(i + 14),
                b"PK\x01\x02" => at.push(i + 16),
                _ => {}
            }
        }
        at
    }

    #[test]
    fn a_bundle_reads_the_same_bytes_either_way_and_a_bad_crc_still_fails() {
        let big = log_text(60_000);
        let members: [(&str, &[u8]); 3] = [
            ("a.log", &big),
            ("b.log", b"one line\n"),
            ("stored.log", b"as is\n"),
        ];
        let bytes = zip_bytes(&members);
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("b.zip");
        std::fs::write(&path, &bytes).expect("write");
        let read = |path: &Path, limits: Limits| {
            Bundle::open(path, limits)?.par_map(|e| Ok((e.path, e.data.to_vec(), e.sha256)))
        };
        let got = read(&path, Limits::default()).expect("read");
        assert_eq!(got.len(), 3);
        // The deflated member is read in one call, the stored one streams.
        let bundle = Bundle::open(&path, Limits::default()).expect("open");
        for (i, one_call) in [(0, true), (1, true), (2, false)] {
            let mut reader = Reader::default();
            assert!(matches!(bundle.load_top(&mut reader, i), Ok(Top::Read(_))));
            assert_eq!(reader.whole.inflater.is_some(), one_call, "member {i}");
            assert_eq!(reader.buf.as_slice(), members[i].1, "member {i}");
        }
        for ((name, data), (path, bytes, sha)) in members.iter().zip(&got) {
            assert_eq!(
                (name, *data, sha256_hex(data)),
                (&path.as_str(), &bytes[..], sha.clone())
            );
        }
        // The budget counts members inflated in one call: the whole is over it by one byte.
        let total = members.iter().map(|m| m.1.len() as u64).sum::<u64>();
        let tight = Limits {
            max_uncompressed: total - 1,
            ..Limits::default()
        };
        let err = read(&path, tight).expect_err("over the budget");
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        assert!(read(
            &path,
            Limits {
                max_uncompressed: total,
                ..Limits::default()
            }
        )
        .is_ok());
        // A wrong checksum on the big member: the error is the streaming path's.
        let mut bad = bytes.clone();
        let fields = crc_fields(&bad);
        assert_eq!(fields.len(), 6);
        for &at in [fields[0], fields[3]].iter() {
            bad[at] ^= 0xff;
        }
        std::fs::write(&path, &bad).expect("write");
        let err = read(&path, Limits::default()).expect_err("bad CRC");
        let text = format!("{:#}", anyhow::Error::from(err));
        assert!(
            text.contains("a.log: cannot decompress") && text.contains("checksum"),
            "{text}"
        );
    }

    #[test]
    fn one_entry_read_back_inflates_only_the_members_on_its_way() -> Result<()> {
        use std::io::Write;
        let a = log_text(60_000);
        let c = log_text(300);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&c).expect("gzip");
        let c_gz = gz.finish().expect("gzip");
        let mut inner = zip_bytes(&[
            ("EX01/a.log", &a),
            ("EX01/b.log", b"one line\n"),
            ("EX01/c.log.gz", &c_gz),
        ]);
        // b.log's checksum spoilt: reading it fails, and so does reading the whole archive.
        let fields = crc_fields(&inner);
        assert_eq!(fields.len(), 6);
        for &at in [fields[1], fields[4]].iter() {
            inner[at] ^= 0xff;
        }
        let outer = zip_bytes(&[("EX01.zip", &inner), ("top.log", b"x\n")]);
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("bundle.zip");
        std::fs::write(&path, &outer).expect("write");
        let bundle = Bundle::open(&path, Limits::default())?;
        assert!(bundle
            .read_top(0, None, &|e: Entry<'_>| Ok(e.path))
            .is_err());
        assert!(bundle.read_one(0, "EX01.zip!/EX01/b.log").is_err());
        // The other members are read back without touching b.log.
        assert_eq!(
            bundle.read_one(0, "EX01.zip!/EX01/a.log")?,
            Some((a.clone(), sha256_hex(&a)))
        );
        assert_eq!(bundle.read_one(0, "EX01.zip!/EX01/none.log")?, None);
        assert_eq!(bundle.read_one(0, "EX01.zip")?, None);
        assert_eq!(
            bundle.read_one(1, "top.log")?,
            Some((b"x\n".to_vec(), sha256_hex(b"x\n")))
        );
        // The archive read back is kept: with the bundle's file emptied, a member not read
        // back yet is still read (a.log makes the archive too big for the file's read-ahead).
        std::fs::write(&path, b"").expect("empty");
        assert_eq!(
            bundle.read_one(0, "EX01.zip!/EX01/c.log")?,
            Some((c.clone(), sha256_hex(&c)))
        );
        Ok(())
    }

    #[test]
    fn a_member_may_hold_the_entries_under_it_and_what_it_ungzips_to() {
        assert!(may_hold("b.zip!/EX01/a.log", "b.zip!/EX01/a.log"));
        assert!(may_hold("b.zip!/EX01.zip", "b.zip!/EX01.zip!/EX01/a.log"));
        assert!(may_hold("b.zip!/a.log.gz", "b.zip!/a.log"));
        assert!(may_hold("b.zip!/a.LOG.GZ", "b.zip!/a.LOG"));
        assert!(may_hold("b.zip!/a.gz", "b.zip!/a!/content"));
        assert!(may_hold("b.zip!/a", "b.zip!/a!/content"));
        assert!(!may_hold("b.zip!/a.log", "b.zip!/a.log2"));
        assert!(!may_hold("b.zip!/EX01", "b.zip!/EX01/a.log"));
        assert!(!may_hold("b.zip!/a.log.gz", "b.zip!/a.log.gz2"));
    }

    #[test]
    fn one_call_inflation_sets_aside_only_bounded_sizes() -> Result<()> {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("b.zip");
        std::fs::write(&path, zip_bytes(&[("a.log", b"one line\n")])).expect("write");
        let bundle = Bundle::open(&path, Limits::default())?;
        assert!(bundle.whole_allowed(WHOLE_MAX, WHOLE_MAX));
        // A directory that declares a huge compressed size (or inflated size) for a small
        // member must not make the reader set that much memory aside: it streams instead.
        assert!(!bundle.whole_allowed(10, WHOLE_MAX + 1));
        assert!(!bundle.whole_allowed(WHOLE_MAX + 1, WHOLE_MAX));
        Ok(())
    }

    #[test]
    fn one_call_inflation_keeps_the_ratio_guard() {
        // 9 MiB of one repeated line: past the first step, and far more than 100 times its
        // compressed size, yet small enough for the one-call path.
        let bomb = b"2026-12-05T10:00:00.000Z,same line\n".repeat(270_000);
        assert!(bomb.len() as u64 > STEP && (bomb.len() as u64) < WHOLE_MAX);
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("b.zip");
        std::fs::write(&path, zip_bytes(&[("a.log", &bomb)])).expect("write");
        let strict = Limits {
            max_ratio: 100,
            ..Limits::default()
        };
        let read = |limits| Bundle::open(&path, limits)?.par_map(|e| Ok(e.data.len()));
        let err = read(strict).expect_err("a bomb");
        assert!(matches!(err, Error::Bomb { ratio: 100, .. }), "{err}");
        assert_eq!(read(Limits::default()).expect("read"), vec![bomb.len()]);
    }

    #[test]
    fn sha256_is_lower_hex() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
