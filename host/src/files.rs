//! Small file-system helpers shared by every writer.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` so that readers see the old file or the new one,
/// never a part: a temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with_mode(path, bytes, 0o644)
}

/// `write_atomic` for secrets: the file is 0600 from its first byte.
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with_mode(path, bytes, 0o600)
}

fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Read `path` only if it is a regular file of at most `max` bytes. A
/// symbolic link is never followed and a FIFO or device never read, so a
/// hostile folder (a cloned repository's plugins) cannot point anton at
/// `/dev/zero`, hang it on a pipe or make it read a huge file.
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path, max)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64, max));
    }
    Ok(bytes)
}

/// `path` opened for reading only if it is a regular file of at most `max`
/// bytes, checked as [`read_regular`] does.
pub fn open_regular(path: &Path, max: u64) -> io::Result<fs::File> {
    use rustix::fs::{Mode, OFlags};
    // Checked before opening too: opening some devices has effects of its own.
    check_regular(path, max)?;
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fs::File::from(fd),
        // Swapped for a link since the check above.
        Err(rustix::io::Errno::LOOP) => return Err(not_regular("a symbolic link")),
        Err(errno) => return Err(errno.into()),
    };
    require_regular(&file.metadata()?, max)?;
    Ok(file)
}

/// A text file a workspace may carry (config, memory), read as
/// [`read_regular`] does; `None` when there is none.
pub fn read_text(path: &Path, max: u64) -> io::Result<Option<String>> {
    match read_regular(path, max) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The largest config or memory file anton reads.
pub const MAX_TEXT_FILE: u64 = 4 * 1024 * 1024;

/// What [`read_regular`] checks before opening, for a caller that must not
/// read the file: a regular file (not followed if a link) of at most `max` bytes.
pub fn check_regular(path: &Path, max: u64) -> io::Result<()> {
    require_regular(&fs::symlink_metadata(path)?, max)
}

fn require_regular(meta: &fs::Metadata, max: u64) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return if meta.len() > max {
            Err(too_large(meta.len(), max))
        } else {
            Ok(())
        };
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a plain file"
    };
    Err(not_regular(what))
}

fn not_regular(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}, not a regular file; anton reads only regular files here"),
    )
}

fn too_large(size: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}, over the {} limit", human_size(size), human_size(max)),
    )
}

/// Bytes in the largest unit that keeps the number readable: "64 KiB", "1.5 GiB".
pub fn human_size(bytes: u64) -> String {
    for (unit, name) in [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
        if bytes >= unit {
            return if bytes.is_multiple_of(unit) {
                format!("{} {name}", bytes / unit)
            } else {
                format!("{:.1} {name}", bytes as f64 / unit as f64)
            };
        }
    }
    crate::terminal::count(bytes, "byte")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A path the user typed: `~/x` from home, a relative one from where anton
/// was started.
pub fn user_path(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/") {
        return home_dir().join(rest);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    cwd.join(path)
}

pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default()
}

/// Why a file the user named could not be read.
pub enum NamedFileError {
    Missing(String),
    Refused(String),
    Failed(String),
}

/// The largest file the user may name for a plugin to read whole.
pub const MAX_NAMED_FILE: u64 = 256 * 1024 * 1024;

/// The largest file the user may name for a plugin to read in pieces.
pub const MAX_NAMED_FILE_IN_PIECES: u64 = 4 << 30;

/// A file the user named in a command: a regular file (through a link is
/// fine: the user chose it) of at most [`MAX_NAMED_FILE`], never a FIFO or
/// device that would hang or never end.
pub fn read_named(path: &str) -> Result<Vec<u8>, NamedFileError> {
    let (mut file, meta) = open_named(path, MAX_NAMED_FILE)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| NamedFileError::Failed(format!("{}: {e}", user_path(path).display())))?;
    Ok(bytes)
}

/// A file the user named, opened after the checks [`read_named`] makes,
/// with `max` bytes the most it may hold.
pub fn open_named(path: &str, max: u64) -> Result<(fs::File, fs::Metadata), NamedFileError> {
    let file = user_path(path);
    let shown = file.display();
    let meta = fs::metadata(&file).map_err(|e| NamedFileError::Missing(format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(NamedFileError::Refused(format!("{shown} is not a file")));
    }
    if meta.len() > max {
        return Err(NamedFileError::Refused(format!(
            "{shown} is {}; the limit is {}",
            human_size(meta.len()),
            human_size(max)
        )));
    }
    let opened = fs::File::open(&file).map_err(|e| NamedFileError::Failed(format!("{shown}: {e}")))?;
    // Checked again on what was opened: the name may lead elsewhere by now.
    let meta = opened
        .metadata()
        .map_err(|e| NamedFileError::Failed(format!("{shown}: {e}")))?;
    if !meta.is_file() || meta.len() > max {
        return Err(NamedFileError::Refused(format!("{shown} changed as it was opened")));
    }
    Ok((opened, meta))
}
