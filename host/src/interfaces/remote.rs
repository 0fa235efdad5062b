//! `remote` (0.3.0): the team's object storage and the age keys, used by
//! the host on the plugin's behalf. A plugin names files; it never sees a
//! credential, a key or a path outside the workspace's own folders.

use std::fs::File;
use std::path::{Path, PathBuf};

use wasmtime::component::Resource;

use super::file_io::{NamedFile, new_temp, plain_file_name};
use super::latest::remote::{Host, Pushed, RemoteFile, RemotePage, RemoteSettings};
use super::{HostError, PluginState};
use crate::config::{Config, ShareSettings};
use crate::remote::{self, Identities, MAX_REMOTE_FILE, Remote};

/// The most files one listing call hands out.
const MAX_PAGE: u32 = 1000;
/// What an encrypted share's name ends with.
const ENCRYPTED: &str = ".age";

impl Host for PluginState {
    fn settings(&mut self) -> Result<Option<RemoteSettings>, HostError> {
        self.require(self.grants.remote, "remote")?;
        let share = self.share_settings()?;
        Ok(share.remote.map(|(location, _)| RemoteSettings {
            location,
            push_allowed: share.push,
            recipients: share.recipients,
        }))
    }

    fn list_files(&mut self, offset: u32, limit: u32) -> Result<RemotePage, HostError> {
        self.require(self.grants.remote, "remote")?;
        let remote = self.remote(&self.share_settings()?)?;
        let files = self.on_network(|| remote.list())?;
        Ok(RemotePage {
            total: files.len().min(u32::MAX as usize) as u32,
            files: files
                .into_iter()
                .skip(offset as usize)
                .take(limit.min(MAX_PAGE) as usize)
                .map(|f| RemoteFile {
                    name: f.name,
                    size: f.size,
                    stored_at: f.stored_at,
                })
                .collect(),
        })
    }

    fn push_file(&mut self, path: String, name: String, recipients: Vec<String>) -> Result<Pushed, HostError> {
        self.require(self.grants.remote, "remote")?;
        let share = self.share_settings()?;
        if !share.push {
            return Err(HostError::Denied(
                "this workspace keeps its sessions in: `[share] push = false` in its config.toml; `/share pull` still works"
                    .into(),
            ));
        }
        let remote = self.remote(&share)?;
        let name = self.services.secrets().scrubber.scrub(&name);
        plain_file_name(&name)?;
        let keys = remote::parse_recipients(&recipients).map_err(HostError::Invalid)?;
        let name = match keys.is_empty() {
            true => name,
            false => format!("{name}{ENCRYPTED}"),
        };
        let file = self.output_file_at(&path)?;
        let size = file
            .metadata()
            .map_err(|e| HostError::Failed(format!("cannot read {path}: {e}")))?
            .len();
        let (stored_as, sent) = self.on_network(|| async {
            let name = remote.free_name(&name).await?;
            let sent = remote
                .upload(&name, size, move |sink| remote::encrypt_into(file, &keys, sink))
                .await?;
            Ok((name, sent))
        })?;
        Ok(Pushed {
            location: format!("{}/{stored_as}", remote.location),
            size: sent,
        })
    }

    fn own_key(&mut self, create: bool) -> Result<Option<String>, HostError> {
        self.require(self.grants.remote, "remote")?;
        remote::own_recipient(&self.services.paths.home, create).map_err(HostError::Failed)
    }

    fn pull_file(&mut self, name: String) -> Result<Resource<NamedFile>, HostError> {
        self.require(self.grants.remote, "remote")?;
        plain_file_name(&name)?;
        let remote = self.remote(&self.share_settings()?)?;
        let dir = self.own_dir("pulled")?;
        if !self.on_network(|| remote.has(&name))? {
            return Err(HostError::NotFound(format!(
                "{} has no {name}; `share list --remote` shows what it has",
                remote.location
            )));
        }
        let mut downloaded = Temp::new(&dir)?;
        self.on_network(|| remote.download(&name, &mut downloaded.file))?;
        let kept = match name.ends_with(ENCRYPTED) {
            false => downloaded,
            true => {
                let identities = Identities::load(&self.services.paths.home);
                let mut decrypted = Temp::new(&dir)?;
                remote::decrypt_into(&downloaded.path, &identities, &mut decrypted.file, MAX_REMOTE_FILE)
                    .map_err(|why| HostError::Failed(format!("cannot open {name}: {why}")))?;
                decrypted
            }
        };
        // Read once, by the import, then gone: the session keeps what it holds,
        // and no plaintext copy of a share outlives the command.
        let named = NamedFile::open(&kept.path.display().to_string())?.removed_when_dropped(kept.keep());
        self.keep(named)
    }
}

impl PluginState {
    fn share_settings(&self) -> Result<ShareSettings, HostError> {
        let paths = &self.services.paths;
        let config = Config::load(paths).map_err(HostError::Failed)?;
        let settings = config.share(crate::workspace_trust::trusted(paths));
        for problem in &settings.problems {
            eprintln!("warning: {}", crate::terminal::sanitize_line(problem));
        }
        Ok(settings)
    }

    /// The remote the settings name, or what to set.
    fn remote(&self, share: &ShareSettings) -> Result<Remote, HostError> {
        let Some((location, _)) = &share.remote else {
            let ignored = Config::load(&self.services.paths)
                .ok()
                .and_then(|c| c.workspace_share_choice())
                .is_some();
            return Err(HostError::NotFound(match ignored {
                true => "this workspace's `[share] remote` counts once you trust the workspace: run `anton trust`"
                    .into(),
                false => "no team remote is set: add `[share] remote = \"s3://bucket/prefix\"` (or gs://, az://, file:///folder) to your config.toml".into(),
            }));
        };
        Remote::open(location).map_err(HostError::Invalid)
    }

    /// Run a remote call on the host's runtime; its time is the host's.
    fn on_network<T, F: Future<Output = Result<T, String>>>(
        &mut self,
        call: impl FnOnce() -> F,
    ) -> Result<T, HostError> {
        let services = self.services.clone();
        let (runtime, _) = services
            .llm()
            .ok_or_else(|| HostError::Failed("cannot start the network runtime".into()))?;
        self.waiting_on_user(|| runtime.block_on(call()))
            .map_err(HostError::Failed)
    }

    /// A file this workspace's output folder holds, opened for reading.
    fn output_file_at(&self, path: &str) -> Result<File, HostError> {
        let outside = || {
            HostError::Denied(format!(
                "plugin '{}' may push only files in this workspace's .anton/output, and {path} is not one",
                self.plugin_id
            ))
        };
        let dir = self.output_dir()?.canonicalize().map_err(|_| outside())?;
        let file = Path::new(path);
        let parent = file.parent().and_then(|p| p.canonicalize().ok()).ok_or_else(outside)?;
        if parent != dir {
            return Err(outside());
        }
        crate::files::open_regular(file, MAX_REMOTE_FILE)
            .map_err(|e| HostError::Failed(format!("cannot read {path}: {e}")))
    }
}

/// A file under a temporary name, readable by the user alone, removed
/// when dropped unless it was kept.
struct Temp {
    file: File,
    path: PathBuf,
    kept: bool,
}

impl Temp {
    fn new(dir: &Path) -> Result<Temp, HostError> {
        let (file, path) = new_temp(dir, 0o600)?;
        Ok(Temp {
            file,
            path,
            kept: false,
        })
    }

    /// Its path, now the caller's to remove.
    fn keep(mut self) -> PathBuf {
        self.kept = true;
        self.path.clone()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "warning: cannot remove {}: {e}; the next pull removes it",
                self.path.display()
            );
        }
    }
}
