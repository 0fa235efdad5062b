//! Where things live: the workspace (`.anton/`) and the user's directories.

use std::path::{Path, PathBuf};

/// `.anton` inside the workspace root.
pub const ANTON_DIR: &str = ".anton";

#[derive(Debug, Clone)]
pub struct Paths {
    /// The project folder (current directory or `--folder`).
    pub workspace: PathBuf,
    /// `<workspace>/.anton`.
    pub anton_dir: PathBuf,
    /// User config (`~/.config/anton`): config.toml.
    pub user_config: PathBuf,
    /// User data (`~/.local/share/anton`): plugins, trust records.
    pub user_data: PathBuf,
    /// Compiled-plugin cache; `None` when disabled.
    pub user_cache: Option<PathBuf>,
    /// The user's home: `~/.anton` (the reference Anton's files) lives here.
    pub home: PathBuf,
}

impl Paths {
    pub fn new(folder: Option<&Path>) -> Result<Paths, String> {
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
        let workspace = match folder {
            Some(dir) => {
                let dir = cwd.join(dir);
                if !dir.is_dir() {
                    return Err(format!("--folder {}: no such directory", dir.display()));
                }
                dir.canonicalize().unwrap_or(dir)
            }
            None => cwd,
        };
        let dirs = directories::ProjectDirs::from("", "", "anton")
            .ok_or("cannot find your home directory (set HOME) for anton's user config and cache")?;
        let anton_dir = workspace.join(ANTON_DIR);
        // A cloned repository could point it anywhere anton would then write.
        if std::fs::symlink_metadata(&anton_dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "{} is a symbolic link; anton keeps a workspace's files in a real folder there: remove the link",
                crate::terminal::sanitize_line(&anton_dir.display().to_string())
            ));
        }
        let no_cache = std::env::var_os("ANTON_NO_PLUGIN_CACHE").is_some_and(|v| v != "0" && !v.is_empty());
        Ok(Paths {
            home: crate::files::home_dir(),
            anton_dir,
            workspace,
            user_config: dirs.config_dir().to_path_buf(),
            user_data: dirs.data_dir().to_path_buf(),
            user_cache: (!no_cache).then(|| dirs.cache_dir().to_path_buf()),
        })
    }

    /// This project's rules and lessons.
    pub fn project_memory(&self) -> PathBuf {
        self.anton_dir.join("memory")
    }

    /// The user's rules and lessons, for every project.
    pub fn user_memory(&self) -> PathBuf {
        self.home.join(".anton/memory")
    }

    /// The data-source vault shared with the reference Anton.
    pub fn vault(&self) -> crate::vault::Vault {
        crate::vault::Vault::new(&self.home)
    }

    pub fn workspace_plugins(&self) -> PathBuf {
        self.anton_dir.join("plugins")
    }

    pub fn user_plugins(&self) -> PathBuf {
        self.user_data.join("plugins")
    }

    pub fn workspace_config(&self) -> PathBuf {
        self.anton_dir.join("config.toml")
    }

    pub fn user_config_file(&self) -> PathBuf {
        self.user_config.join("config.toml")
    }
}
