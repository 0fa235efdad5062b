//! `file-io` (0.2.0): a file the user named, read in pieces; a file made in
//! `.anton/output/`, written in pieces under a temporary name and linked to
//! its own only when whole.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::component::Resource;

use super::latest::file_io::{Host, HostNamedFile, HostOutputFile, HostSha256, WrittenFile};
use super::{HostError, PluginState};
use crate::files::{self, NamedFileError};
use crate::terminal::{self, Unit};

mod behind;
use behind::{behind, caught_up};

/// The most one read hands out.
const MAX_READ: u32 = 16 * 1024 * 1024;
/// The most an output file holds.
const MAX_OUTPUT: u64 = 4 << 30;
const MAX_NAME_BYTES: usize = 200;
/// What a write interrupted by a crash leaves is swept once it is this old.
const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(600);
const TEMP_PREFIX: &str = ".output-";

pub struct NamedFile {
    file: File,
    shown: String,
    /// Bytes handed out so far, for the progress line.
    handed_out: u64,
    size: u64,
    sha256: String,
    /// What the file was when opened: a later read of a changed file is refused.
    stamp: (u64, i64, i64),
    /// A file the host made for this reading alone (a pulled share), removed with the handle.
    removed_when_dropped: Option<PathBuf>,
}

pub struct OutputFile {
    written: Arc<Mutex<Written>>,
    /// The first write that failed, said by the next write or the finish;
    /// apart from the file, so checking it never waits for a write.
    failed: Arc<OnceLock<String>>,
    temp: PathBuf,
    name: String,
    /// Bytes handed over, written or not yet.
    size: u64,
    finished: bool,
}

/// What an output file's writes, done behind the plugin, made of it.
struct Written {
    file: File,
    hasher: Sha256,
}

/// A digest a plugin feeds in pieces, hashed behind it.
pub struct Sha256Stream(Arc<Mutex<Sha256>>);

/// A lock no job can poison: a job that panics ends the process.
fn locked<T>(shared: &Mutex<T>) -> MutexGuard<'_, T> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

impl Host for PluginState {
    fn open_named_file(&mut self, path: String) -> Result<Resource<NamedFile>, HostError> {
        self.require(self.grants.named_files, "named-files")?;
        if !self.named_paths.contains(&path) {
            return Err(HostError::Denied(format!(
                "plugin '{}' may read only files named in the command, and '{path}' was not",
                self.plugin_id
            )));
        }
        let named = NamedFile::open(&path)?;
        self.keep(named)
    }

    fn create_output_file(&mut self, name: String) -> Result<Resource<OutputFile>, HostError> {
        self.require(self.grants.output_files, "output-files")?;
        let name = self.services.secrets().scrubber.scrub(&name);
        plain_file_name(&name)?;
        let dir = self.output_dir()?;
        let (file, temp) = new_temp(&dir, 0o644)?;
        self.keep(OutputFile {
            written: Arc::new(Mutex::new(Written {
                file,
                hasher: Sha256::new(),
            })),
            failed: Arc::default(),
            temp,
            name,
            size: 0,
            finished: false,
        })
    }
}

impl NamedFile {
    /// `path` (as the user typed it, or absolute) opened, hashed and stamped.
    pub(super) fn open(path: &str) -> Result<NamedFile, HostError> {
        let (mut file, meta) = files::open_named(path, files::MAX_NAMED_FILE_IN_PIECES).map_err(|e| match e {
            NamedFileError::Missing(m) => HostError::NotFound(m),
            NamedFileError::Refused(m) => HostError::Invalid(m),
            NamedFileError::Failed(m) => HostError::Failed(m),
        })?;
        let shown = files::user_path(path).display().to_string();
        let mut hasher = Sha256::new();
        let hashed = std::io::copy(&mut file, &mut hasher).map_err(|e| HostError::Failed(format!("{shown}: {e}")))?;
        let named = NamedFile {
            removed_when_dropped: None,
            handed_out: 0,
            stamp: stamp(&meta),
            size: meta.len(),
            sha256: files::hex(&hasher.finalize()),
            file,
            shown,
        };
        if hashed != named.size {
            return Err(HostError::Failed(format!("{} changed while it was read", named.shown)));
        }
        Ok(named)
    }
}

impl NamedFile {
    pub(super) fn removed_when_dropped(mut self, path: PathBuf) -> NamedFile {
        self.removed_when_dropped = Some(path);
        self
    }
}

impl Drop for NamedFile {
    fn drop(&mut self) {
        if let Some(path) = &self.removed_when_dropped
            && let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "warning: cannot remove {}: {e}; the next pull removes it",
                path.display()
            );
        }
    }
}

impl HostNamedFile for PluginState {
    fn size(&mut self, file: Resource<NamedFile>) -> u64 {
        self.kept(&file).map(|f| f.size).unwrap_or(0)
    }

    fn sha256(&mut self, file: Resource<NamedFile>) -> String {
        self.kept(&file).map(|f| f.sha256.clone()).unwrap_or_default()
    }

    fn read_at(&mut self, file: Resource<NamedFile>, offset: u64, max_bytes: u32) -> Result<Vec<u8>, HostError> {
        let plugin = self.plugin_id.clone();
        let f = self.kept_mut(&file)?;
        let changed = f.file.metadata().map(|m| stamp(&m) != f.stamp).unwrap_or(true);
        if changed {
            return Err(HostError::Failed(format!(
                "{} changed since it was opened; import it again once it is complete",
                f.shown
            )));
        }
        let wanted = max_bytes.min(MAX_READ) as u64;
        let wanted = wanted.min(f.size.saturating_sub(offset)) as usize;
        let mut bytes = vec![0; wanted];
        let mut filled = 0;
        while filled < wanted {
            match f.file.read_at(&mut bytes[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(HostError::Failed(format!("{}: {e}", f.shown))),
            }
        }
        bytes.truncate(filled);
        f.handed_out += filled as u64;
        let what = format!("{plugin}: reading {}", f.shown);
        terminal::progress(&what, f.handed_out.min(f.size), f.size, Unit::Bytes);
        Ok(bytes)
    }

    fn drop(&mut self, file: Resource<NamedFile>) -> wasmtime::Result<()> {
        self.table.delete(file)?;
        terminal::clear_progress();
        Ok(())
    }
}

impl HostOutputFile for PluginState {
    fn write(&mut self, file: Resource<OutputFile>, bytes: Vec<u8>) -> Result<(), HostError> {
        let f = self.kept_mut(&file)?;
        if f.finished {
            return Err(finished_already());
        }
        if f.size + bytes.len() as u64 > MAX_OUTPUT {
            return Err(HostError::Invalid(format!(
                "{} would grow past {MAX_OUTPUT} bytes, the most an output file holds",
                f.name
            )));
        }
        if let Some(failed) = f.failed.get() {
            return Err(HostError::Failed(failed.clone()));
        }
        f.size += bytes.len() as u64;
        let (written, failed, temp) = (f.written.clone(), f.failed.clone(), f.temp.clone());
        behind(bytes.len(), move || {
            if failed.get().is_some() {
                return;
            }
            let mut w = locked(&written);
            match w.file.write_all(&bytes) {
                Ok(()) => w.hasher.update(&bytes),
                Err(e) => {
                    failed.get_or_init(|| format!("cannot write {}: {e}", temp.display()));
                }
            }
        });
        Ok(())
    }

    fn finish(&mut self, file: Resource<OutputFile>) -> Result<WrittenFile, HostError> {
        let f = self.kept_mut(&file)?;
        if f.finished {
            return Err(finished_already());
        }
        caught_up();
        if let Some(failed) = f.failed.get() {
            return Err(HostError::Failed(failed.clone()));
        }
        let w = locked(&f.written);
        let io = |e: std::io::Error| HostError::Failed(format!("cannot write {}: {e}", f.temp.display()));
        w.file.sync_all().map_err(io)?;
        let path = link_unique(&f.temp, &f.name)?;
        f.finished = true;
        if let Err(e) = std::fs::remove_file(&f.temp) {
            // Linked already; the next output's sweep takes the temp name.
            eprintln!("warning: cannot remove {}: {e}", f.temp.display());
        }
        if let Some(dir) = path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| HostError::Failed(format!("cannot sync {}: {e}", dir.display())))?;
        }
        Ok(WrittenFile {
            path: path.display().to_string(),
            sha256: files::hex(&w.hasher.clone().finalize()),
            size: f.size,
        })
    }

    fn drop(&mut self, file: Resource<OutputFile>) -> wasmtime::Result<()> {
        self.table.delete(file)?;
        Ok(())
    }
}

impl HostSha256 for PluginState {
    fn new(&mut self) -> Resource<Sha256Stream> {
        // The table refuses a handle only past u32::MAX of them; a constructor
        // cannot fail, so that plugin gets a handle that hashes nothing.
        self.table
            .push(Sha256Stream(Arc::default()))
            .unwrap_or_else(|_| Resource::new_own(u32::MAX))
    }

    fn update(&mut self, hasher: Resource<Sha256Stream>, bytes: Vec<u8>) {
        if let Ok(h) = self.table.get(&hasher) {
            let hasher = h.0.clone();
            behind(bytes.len(), move || locked(&hasher).update(&bytes));
        }
    }

    fn hex_digest(&mut self, hasher: Resource<Sha256Stream>) -> String {
        caught_up();
        self.kept(&hasher)
            .map(|h| files::hex(&locked(&h.0).clone().finalize()))
            .unwrap_or_default()
    }

    fn drop(&mut self, hasher: Resource<Sha256Stream>) -> wasmtime::Result<()> {
        self.table.delete(hasher)?;
        Ok(())
    }
}

impl Drop for OutputFile {
    /// Never finished: the part written goes.
    fn drop(&mut self) {
        if !self.finished
            && let Err(e) = std::fs::remove_file(&self.temp)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "warning: cannot remove the unfinished {}: {e}; the next export removes it",
                self.temp.display()
            );
        }
    }
}

impl PluginState {
    /// `<workspace>/.anton/output`, made when missing, and never a link to
    /// somewhere else (a cloned repository may carry one).
    pub(super) fn output_dir(&self) -> Result<PathBuf, HostError> {
        self.own_dir("output")
    }

    /// `<workspace>/.anton/<name>`, as [`PluginState::output_dir`] is.
    pub(super) fn own_dir(&self, name: &str) -> Result<PathBuf, HostError> {
        let dir = self.services.paths.anton_dir.join(name);
        let refuse = |why: String| HostError::Failed(format!("cannot write in {}: {why}", dir.display()));
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => Ok(dir),
            Ok(_) => Err(refuse("it is not a folder; move it aside".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&dir).map_err(|e| refuse(e.to_string()))?;
                Ok(dir)
            }
            Err(e) => Err(refuse(e.to_string())),
        }
    }
}

fn stamp(meta: &std::fs::Metadata) -> (u64, i64, i64) {
    (meta.len(), meta.mtime(), meta.mtime_nsec())
}

fn finished_already() -> HostError {
    HostError::Invalid("this output file was finished already".into())
}

/// A name of one file in the output folder, as people will see it.
pub(super) fn plain_file_name(name: &str) -> Result<(), HostError> {
    let refuse = |why: &str| {
        Err(HostError::Invalid(format!(
            "{} cannot name an output file: {why}",
            crate::terminal::sanitize_line(&format!("{name:?}"))
        )))
    };
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return refuse("a name has 1 to 200 bytes");
    }
    if name.starts_with('.') || name.contains('/') || name.contains('\\') {
        return refuse("it must be a plain file name, not a path or a hidden file");
    }
    if name.chars().any(|c| c.is_control()) {
        return refuse("it holds control characters");
    }
    Ok(())
}

/// Link `temp` as `<dir>/<name>`, or `<stem>-2.<ext>`, `-3`, … when taken:
/// a hard link never replaces another file.
fn link_unique(temp: &Path, name: &str) -> Result<PathBuf, HostError> {
    let dir = temp.parent().unwrap_or(Path::new("."));
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 1..1000 {
        let candidate = match n {
            1 => dir.join(name),
            _ => dir.join(format!("{stem}-{n}{extension}")),
        };
        match std::fs::hard_link(temp, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(HostError::Failed(format!("cannot write in {}: {e}", dir.display()))),
        }
    }
    Err(HostError::Failed(format!(
        "too many files named {name} in {}",
        dir.display()
    )))
}

/// A new file under a temporary name in `dir`, once the stale ones a
/// crash left there are swept.
pub(super) fn new_temp(dir: &Path, mode: u32) -> Result<(File, PathBuf), HostError> {
    use std::os::unix::fs::OpenOptionsExt;
    sweep_stale_temps(dir)?;
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}-{}.tmp",
        std::process::id(),
        crate::store::now_ms(),
        MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(|e| HostError::Failed(format!("cannot write in {}: {e}", dir.display())))?;
    Ok((file, temp))
}

/// An output interrupted by a crash leaves its temp file; one older than
/// any write takes is removed by the next output.
fn sweep_stale_temps(dir: &Path) -> Result<(), HostError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        let ours = (name.starts_with(TEMP_PREFIX) || name.starts_with(".export-")) && name.ends_with(".tmp");
        if ours && stale {
            std::fs::remove_file(entry.path())
                .map_err(|e| HostError::Failed(format!("cannot remove {}/{name}: {e}", dir.display())))?;
        }
    }
    Ok(())
}
