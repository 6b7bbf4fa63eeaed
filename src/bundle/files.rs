//! Reading the file system without trusting it. The bundle path, or any file in a bundle
//! folder, may be a pipe that blocks until someone writes, a device that never ends, a socket, a
//! link out of the folder, or a file whose name is not UTF-8. Nothing here waits on a pipe,
//! follows a link found inside a folder, or opens anything but a regular file for reading.

use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::error::{Error, Result};

/// Opens `path` for reading only if it is a regular file; `Ok(None)` if it is anything else.
///
/// The caller has already looked at the file's type, but it can change between that look and
/// the open: the open itself never blocks (`O_NONBLOCK`: a FIFO opens at once instead of waiting
/// for a writer) and the type is checked again on the handle. With `follow` false a symbolic
/// link is not followed (`O_NOFOLLOW`), so a file swapped for a link cannot lead out of a folder.
pub(crate) fn open_regular(path: &Path, follow: bool) -> io::Result<Option<File>> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        opts.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    #[cfg(not(unix))]
    let _ = follow;
    let file = match opts.open(path) {
        Ok(f) => f,
        // O_NOFOLLOW on a link fails with ELOOP: that is "not a regular file", not an I/O fault.
        #[cfg(unix)]
        Err(e) if !follow && e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    if file.metadata()?.is_file() {
        Ok(Some(file))
    } else {
        Ok(None)
    }
}

/// Why a folder entry of this type is not read: shown as the entry's skip reason.
pub(crate) fn not_read_reason(ft: &FileType) -> &'static str {
    if ft.is_symlink() {
        return "a symbolic link: not followed (copy the file itself into the bundle)";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a named pipe (FIFO), not a file: not read";
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device, not a file: not read";
        }
        if ft.is_socket() {
            return "a socket, not a file: not read";
        }
    }
    "not a regular file: not read"
}

/// One file found in a bundle folder.
pub(crate) struct FolderEntry {
    /// The real path, for opening: names that are not UTF-8 must be opened by their bytes.
    pub full: PathBuf,
    /// Path relative to the folder, `/`-separated, lossily decoded: for showing only.
    pub display: String,
    /// Set for what is listed but never read (pipes, devices, sockets, links).
    pub not_read: Option<&'static str>,
}

/// Everything below `root` that is not a folder, in a fixed order (by displayed path in
/// [`super::names::path_order`], then by the real name for two names that display alike),
/// whatever order the file system lists them in. Symbolic links are listed, not followed: a
/// link out of the folder is not part of what the admin collected.
pub(crate) fn list_folder(root: &Path) -> Result<Vec<FolderEntry>> {
    let mut out = Vec::new();
    for ent in WalkDir::new(root).min_depth(1).follow_links(false) {
        let ent = ent.map_err(|e| Error::Io {
            path: e.path().unwrap_or(root).to_path_buf(),
            source: e.into(),
        })?;
        let ft = ent.file_type();
        if ft.is_dir() {
            continue;
        }
        let rel = ent.path().strip_prefix(root).unwrap_or(ent.path());
        let display = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let not_read = (!ft.is_file()).then(|| not_read_reason(&ft));
        out.push(FolderEntry {
            full: ent.into_path(),
            display,
            not_read,
        });
    }
    out.sort_by(|a, b| {
        super::names::path_order(&a.display, &b.display)
            .then_with(|| a.full.as_os_str().cmp(b.full.as_os_str()))
    });
    Ok(out)
}
