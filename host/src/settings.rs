//! Model configuration under the reference Anton's names, from the
//! environment and `.env` files. The real environment wins, then the most
//! specific file: `<workspace>/.env`, `<workspace>/.anton/.env`,
//! `~/.anton/.env`. A workspace file comes with the repository, not from the
//! user: its routing settings ([`is_routing`]: providers, servers, keys)
//! count only once the user trusts the workspace (`crate::workspace_trust`),
//! so a cloned repository cannot send the user's key or conversation to its
//! own server.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::workspace::Paths;

/// A `.env` larger than this is not a settings file.
const MAX_ENV_FILE: u64 = 1024 * 1024;

/// Settings that decide where requests and keys go.
const ROUTING: &[&str] = &[
    "ANTON_PLANNING_PROVIDER",
    "ANTON_CODING_PROVIDER",
    "ANTON_OPENAI_BASE_URL",
    "ANTON_ANTHROPIC_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "ANTON_MINDS_URL",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
];

/// Whether `name` chooses a provider, a server or a key.
pub fn is_routing(name: &str) -> bool {
    ROUTING.contains(&name) || is_key(name)
}

/// Whether `name` holds a model key.
pub fn is_key(name: &str) -> bool {
    matches!(name, "ANTHROPIC_API_KEY" | "OPENAI_API_KEY") || (name.starts_with("ANTON_") && name.ends_with("_API_KEY"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Anthropic,
    OpenAi,
    /// Any server speaking OpenAI Chat Completions (Ollama, vLLM, llama.cpp, OpenRouter, Azure-style).
    OpenAiCompatible,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::OpenAiCompatible => "openai-compatible",
        }
    }
}

/// One role's model: where to send requests and how to authenticate.
#[derive(Clone)]
pub struct ModelConfig {
    pub provider: Provider,
    pub model: String,
    pub api_key: Option<String>,
    pub base_url: String,
}

impl std::fmt::Debug for ModelConfig {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} at {}", self.provider.name(), self.model, self.base_url)
    }
}

/// Both roles, or why one is missing (a line telling how to fix it).
#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub planning: Result<ModelConfig, String>,
    pub coding: Result<ModelConfig, String>,
}

/// Where a variable was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Environment,
    /// `~/.anton/.env`.
    UserFile,
    /// `<workspace>/.env` or `<workspace>/.anton/.env`, with the sha256 of
    /// the bytes read (what trust pins).
    WorkspaceFile {
        path: PathBuf,
        sha256: String,
    },
}

/// The variables one source sets.
#[derive(Debug, Clone)]
pub struct Layer {
    pub source: Source,
    pub vars: HashMap<String, String>,
}

impl Layer {
    pub fn workspace_file(&self) -> Option<(&Path, &str)> {
        match &self.source {
            Source::WorkspaceFile { path, sha256 } => Some((path, sha256)),
            _ => None,
        }
    }
}

/// Every source of settings, strongest first: the environment, the
/// workspace's `.env`, its `.anton/.env`, the user's `~/.anton/.env`.
#[derive(Debug, Clone)]
pub struct Layers {
    layers: Vec<Layer>,
    /// Files that exist but were not read, and why (one line each).
    pub skipped: Vec<String>,
}

/// A routing setting a workspace file changes: trusting the workspace makes
/// `value` apply instead of the user's own setting or the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingChange {
    pub file: PathBuf,
    pub name: String,
    pub value: String,
}

impl Layers {
    pub fn read(paths: &Paths) -> Layers {
        let workspace = &paths.workspace;
        let mut layers = vec![Layer {
            source: Source::Environment,
            vars: std::env::vars().collect(),
        }];
        let mut skipped = Vec::new();
        let user_file = Some(paths.home.join(".anton/.env"));
        let user_file_itself = user_file.as_deref().and_then(|f| f.canonicalize().ok());
        for path in [workspace.join(".env"), workspace.join(".anton/.env")] {
            // The user's own file reached through the workspace (a workspace
            // at ~, a symlink) is still the user's word.
            if user_file_itself.is_some() && path.canonicalize().ok() == user_file_itself {
                continue;
            }
            match read_env_file(&path) {
                Ok(Some(bytes)) => layers.push(Layer {
                    vars: parse_dotenv(&String::from_utf8_lossy(&bytes)).into_iter().collect(),
                    source: Source::WorkspaceFile {
                        path,
                        sha256: crate::files::sha256_hex(&bytes),
                    },
                }),
                Ok(None) => {}
                Err(why) => skipped.push(why),
            }
        }
        if let Some(path) = user_file {
            match read_env_file(&path) {
                Ok(Some(bytes)) => layers.push(Layer {
                    source: Source::UserFile,
                    vars: parse_dotenv(&String::from_utf8_lossy(&bytes)).into_iter().collect(),
                }),
                Ok(None) => {}
                Err(why) => skipped.push(why),
            }
        }
        Layers { layers, skipped }
    }

    pub fn from_layers(layers: Vec<Layer>) -> Layers {
        Layers {
            layers,
            skipped: Vec::new(),
        }
    }

    /// The settings in effect: each variable from the strongest source that
    /// sets it; an untrusted workspace file's routing settings do not count.
    pub fn vars(&self, workspace_trusted: bool) -> Vars {
        let mut vars = HashMap::new();
        for layer in self.layers.iter().rev() {
            let counts = |name: &str| workspace_trusted || layer.workspace_file().is_none() || !is_routing(name);
            for (name, value) in layer.vars.iter().filter(|(name, _)| counts(name)) {
                vars.insert(name.clone(), value.clone());
            }
        }
        Vars(vars)
    }

    /// What trusting the workspace would change, in file order.
    pub fn routing_changes(&self) -> Vec<RoutingChange> {
        let (trusted, untrusted) = (self.vars(true), self.vars(false));
        let mut changes = Vec::new();
        for layer in &self.layers {
            let Some((file, _)) = layer.workspace_file() else {
                continue;
            };
            let mut names: Vec<&String> = layer
                .vars
                .keys()
                .filter(|name| is_routing(name))
                .filter(|name| trusted.0.get(*name) == layer.vars.get(*name))
                .filter(|name| trusted.0.get(*name) != untrusted.0.get(*name))
                .filter(|name| !changes.iter().any(|c: &RoutingChange| &&c.name == name))
                .collect();
            names.sort();
            changes.extend(names.into_iter().map(|name| RoutingChange {
                file: file.to_path_buf(),
                name: name.clone(),
                value: layer.vars[name].clone(),
            }));
        }
        changes
    }

    /// The workspace files read, with the sha256 of each.
    pub fn workspace_files(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.layers.iter().filter_map(Layer::workspace_file)
    }

    /// Every model key any source sets, used or ignored, so none is ever
    /// stored or shown.
    /// The values anton must never store or show: model keys, and every
    /// variable whose name says it is secret, from every layer (an ignored
    /// one too). Each as (is a model key, value).
    pub fn secret_values(&self) -> Vec<(bool, String)> {
        let mut secrets: Vec<(bool, String)> = self
            .layers
            .iter()
            .flat_map(|layer| &layer.vars)
            .filter(|(name, value)| (is_key(name) || crate::scrub::secret_name(name)) && !value.trim().is_empty())
            .map(|(name, value)| (is_key(name), value.clone()))
            .collect();
        secrets.sort();
        secrets.dedup();
        secrets
    }
}

/// A settings file's bytes; `None` when there is none. Only a regular file
/// of a sane size is read: a FIFO or device in a cloned repository must not
/// hang or flood anton.
fn read_env_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::ErrorKind;
    use std::os::unix::fs::OpenOptionsExt;
    let skipped = |why: &str| {
        format!(
            "skipped {}: {why}",
            crate::terminal::sanitize_line(&path.display().to_string())
        )
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => return Ok(None),
        Err(e) => return Err(skipped(&e.to_string())),
    };
    let meta = file.metadata().map_err(|e| skipped(&e.to_string()))?;
    if !meta.is_file() {
        return Err(skipped("not a regular file"));
    }
    if meta.len() > MAX_ENV_FILE {
        return Err(skipped("larger than 1 MiB"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ENV_FILE)
        .read_to_end(&mut bytes)
        .map_err(|e| skipped(&e.to_string()))?;
    Ok(Some(bytes))
}

/// The settings in effect, by name.
pub struct Vars(HashMap<String, String>);

impl Vars {
    pub fn from_map(map: HashMap<String, String>) -> Vars {
        Vars(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    pub fn llm(&self) -> LlmSettings {
        let planning = self.role("PLANNING", "claude-sonnet-4-6", "gpt-4.1");
        let coding = self.role("CODING", "claude-haiku-4-5-20251001", "gpt-4.1-mini");
        LlmSettings { planning, coding }
    }

    fn role(&self, role: &str, anthropic_default: &str, openai_default: &str) -> Result<ModelConfig, String> {
        let provider_var = format!("ANTON_{role}_PROVIDER");
        let model_var = format!("ANTON_{role}_MODEL");
        let provider = match self.get(&provider_var).unwrap_or("anthropic") {
            "anthropic" => Provider::Anthropic,
            "openai" => Provider::OpenAi,
            "openai-compatible" | "minds-cloud" => Provider::OpenAiCompatible,
            other => {
                return Err(format!(
                    "{provider_var}={} is not a provider: use anthropic, openai or openai-compatible",
                    crate::terminal::sanitize_line(other)
                ));
            }
        };
        let model = match (self.get(&model_var), provider) {
            (Some(model), _) => model.to_string(),
            (None, Provider::Anthropic) => anthropic_default.to_string(),
            (None, Provider::OpenAi) => openai_default.to_string(),
            (None, Provider::OpenAiCompatible) => {
                return Err(format!(
                    "set {model_var} to the model your openai-compatible server serves"
                ));
            }
        };
        let (api_key, base_url) = match provider {
            Provider::Anthropic => {
                let key = self.get("ANTON_ANTHROPIC_API_KEY").or(self.get("ANTHROPIC_API_KEY"));
                if key.is_none() {
                    return Err("set ANTON_ANTHROPIC_API_KEY (or ANTON_PLANNING_PROVIDER=openai with ANTON_OPENAI_API_KEY) in the environment or ~/.anton/.env".into());
                }
                let base = self
                    .get("ANTON_ANTHROPIC_BASE_URL")
                    .or(self.get("ANTHROPIC_BASE_URL"))
                    .unwrap_or("https://api.anthropic.com");
                (key, base)
            }
            Provider::OpenAi | Provider::OpenAiCompatible => {
                let key = self.get("ANTON_OPENAI_API_KEY").or(self.get("OPENAI_API_KEY"));
                let base = self.get("ANTON_OPENAI_BASE_URL");
                if provider == Provider::OpenAi && key.is_none() {
                    return Err(
                        "no model configured: set ANTON_OPENAI_API_KEY in the environment or ~/.anton/.env".into(),
                    );
                }
                if provider == Provider::OpenAiCompatible && base.is_none() {
                    return Err(
                        "set ANTON_OPENAI_BASE_URL to your openai-compatible server (e.g. http://localhost:11434/v1)"
                            .into(),
                    );
                }
                (key, base.unwrap_or("https://api.openai.com/v1"))
            }
        };
        Ok(ModelConfig {
            provider,
            model,
            api_key: api_key.map(str::to_string),
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }
}

/// `KEY=value` lines; `export`, quotes and `#` comments as shells write them.
fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                inner.to_string()
            } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                inner.to_string()
            } else {
                value.split(" #").next().unwrap_or(value).trim().to_string()
            };
            Some((key.trim().to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::from_map(map(pairs))
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn workspace_file(path: &str, pairs: &[(&str, &str)]) -> Layer {
        Layer {
            source: Source::WorkspaceFile {
                path: PathBuf::from(path),
                sha256: "0".repeat(64),
            },
            vars: map(pairs),
        }
    }

    /// The environment, `/ws/.env`, `/ws/.anton/.env`, `~/.anton/.env`.
    fn layers(
        env: &[(&str, &str)],
        dot_env: &[(&str, &str)],
        anton_env: &[(&str, &str)],
        user: &[(&str, &str)],
    ) -> Layers {
        Layers::from_layers(vec![
            Layer {
                source: Source::Environment,
                vars: map(env),
            },
            workspace_file("/ws/.env", dot_env),
            workspace_file("/ws/.anton/.env", anton_env),
            Layer {
                source: Source::UserFile,
                vars: map(user),
            },
        ])
    }

    const URL: &str = "ANTON_OPENAI_BASE_URL";
    const MODEL: &str = "ANTON_PLANNING_MODEL";

    #[test]
    fn the_environment_wins_then_the_most_specific_file() {
        let all = [(MODEL, "env"), (URL, "http://env")];
        let l = layers(&all, &[(MODEL, "dot")], &[(MODEL, "anton")], &[(MODEL, "user")]);
        assert_eq!(l.vars(false).get(MODEL), Some("env"));
        let l = layers(&[], &[(MODEL, "dot")], &[(MODEL, "anton")], &[(MODEL, "user")]);
        assert_eq!(l.vars(false).get(MODEL), Some("dot"), "model names count from any file");
        let l = layers(&[], &[], &[(MODEL, "anton")], &[(MODEL, "user")]);
        assert_eq!(l.vars(false).get(MODEL), Some("anton"));
        let l = layers(&[], &[], &[], &[(MODEL, "user")]);
        assert_eq!(l.vars(false).get(MODEL), Some("user"));
    }

    #[test]
    fn an_untrusted_workspace_cannot_choose_where_requests_and_keys_go() {
        let hostile = [
            (URL, "http://evil/v1"),
            ("ANTON_PLANNING_PROVIDER", "openai-compatible"),
            ("ANTON_OPENAI_API_KEY", "sk-their-key"),
            ("ANTON_MINDS_API_KEY", "sk-minds"),
            (MODEL, "their-model"),
        ];
        let user = [(URL, "http://mine/v1"), ("ANTON_OPENAI_API_KEY", "sk-my-key")];
        for (dot, anton) in [(&hostile[..], &[][..]), (&[][..], &hostile[..])] {
            let l = layers(&[], dot, anton, &user);
            let untrusted = l.vars(false);
            assert_eq!(untrusted.get(URL), Some("http://mine/v1"));
            assert_eq!(untrusted.get("ANTON_OPENAI_API_KEY"), Some("sk-my-key"));
            assert_eq!(untrusted.get("ANTON_PLANNING_PROVIDER"), None, "the default applies");
            assert_eq!(untrusted.get("ANTON_MINDS_API_KEY"), None);
            assert_eq!(untrusted.get(MODEL), Some("their-model"));
            let trusted = l.vars(true);
            assert_eq!(trusted.get(URL), Some("http://evil/v1"));
            assert_eq!(trusted.get("ANTON_OPENAI_API_KEY"), Some("sk-their-key"));
        }
        let l = layers(&[], &hostile, &[], &[]);
        assert_eq!(
            l.vars(false).get(URL),
            None,
            "no user setting: the default, not the workspace's"
        );
        assert!(
            l.vars(false).llm().planning.is_err(),
            "the default provider (anthropic) has no key"
        );
    }

    #[test]
    fn routing_changes_name_only_what_trust_would_change() {
        let l = layers(
            &[("ANTON_ANTHROPIC_BASE_URL", "http://env")],
            &[
                (URL, "http://dot"),
                ("ANTON_ANTHROPIC_BASE_URL", "http://shadowed"),
                (MODEL, "m"),
            ],
            &[(URL, "http://hidden-by-dot"), ("ANTON_CODING_PROVIDER", "openai")],
            &[("ANTON_CODING_PROVIDER", "openai"), ("ANTHROPIC_API_KEY", "k")],
        );
        let changes: Vec<(String, String, String)> = l
            .routing_changes()
            .into_iter()
            .map(|c| (c.file.display().to_string(), c.name, c.value))
            .collect();
        assert_eq!(
            changes,
            [("/ws/.env".to_string(), URL.to_string(), "http://dot".to_string())],
            "the environment's choice stands, the user's own value is no change, .env hides .anton/.env"
        );
        assert!(layers(&[], &[(MODEL, "m")], &[], &[]).routing_changes().is_empty());
    }

    #[test]
    fn every_key_is_scrubbed_even_an_ignored_one() {
        let l = layers(
            &[("ANTHROPIC_API_KEY", "sk-env")],
            &[("ANTON_OPENAI_API_KEY", "sk-workspace")],
            &[("OPENAI_API_KEY", " ")],
            &[
                ("ANTON_ANTHROPIC_API_KEY", "sk-user"),
                (URL, "http://not-a-key"),
                ("GITHUB_TOKEN", "ghtoken"),
                ("KEYBOARD", "us"),
            ],
        );
        assert_eq!(
            l.secret_values(),
            [
                (false, "ghtoken".to_string()),
                (true, "sk-env".to_string()),
                (true, "sk-user".to_string()),
                (true, "sk-workspace".to_string())
            ]
        );
        assert!(
            is_routing("ANTON_CODING_PROVIDER") && is_routing("ANTHROPIC_BASE_URL") && is_routing("ANTON_MINDS_URL")
        );
        assert!(!is_routing(MODEL) && !is_routing("ANTON_LLM_TIMEOUT"));
    }

    #[test]
    fn defaults_to_anthropic_and_says_how_to_configure_it() {
        let s = vars(&[]).llm();
        assert!(s.planning.unwrap_err().contains("ANTON_ANTHROPIC_API_KEY"));
        let s = vars(&[("ANTHROPIC_API_KEY", "k")]).llm();
        let p = s.planning.unwrap();
        assert_eq!(
            (p.provider, p.model.as_str()),
            (Provider::Anthropic, "claude-sonnet-4-6")
        );
        assert_eq!(s.coding.unwrap().model, "claude-haiku-4-5-20251001");
    }

    #[test]
    fn openai_compatible_needs_a_base_url_and_a_model_but_no_key() {
        let s = vars(&[
            ("ANTON_PLANNING_PROVIDER", "openai-compatible"),
            ("ANTON_PLANNING_MODEL", "llama3"),
        ])
        .llm();
        assert!(s.planning.unwrap_err().contains("ANTON_OPENAI_BASE_URL"));
        let s = vars(&[
            ("ANTON_PLANNING_PROVIDER", "openai-compatible"),
            ("ANTON_PLANNING_MODEL", "llama3"),
            ("ANTON_OPENAI_BASE_URL", "http://127.0.0.1:11434/v1/"),
        ])
        .llm();
        let p = s.planning.unwrap();
        assert_eq!(p.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(p.api_key, None);
        assert!(
            vars(&[("ANTON_PLANNING_PROVIDER", "gemini")])
                .llm()
                .planning
                .unwrap_err()
                .contains("not a provider")
        );
    }

    #[test]
    fn only_a_regular_file_of_a_sane_size_is_read() {
        assert!(
            read_env_file(Path::new("/dev/zero"))
                .unwrap_err()
                .ends_with("not a regular file")
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_env_file(&dir.path().join("absent")).unwrap(), None);
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'#'; MAX_ENV_FILE as usize + 1]).unwrap();
        assert!(read_env_file(&big).unwrap_err().ends_with("larger than 1 MiB"));
        std::fs::write(&big, "A=1\n").unwrap();
        assert_eq!(read_env_file(&big).unwrap().as_deref(), Some(&b"A=1\n"[..]));
    }

    #[test]
    fn dotenv_lines_parse_like_a_shell() {
        let parsed = parse_dotenv("# c\nexport A=1\nB=\"two words\"\nC='x' \nD=plain # note\n");
        assert_eq!(
            parsed,
            [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "plain")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }
}
