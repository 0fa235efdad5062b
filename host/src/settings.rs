//! Model configuration under the reference Anton's names, from the
//! environment and `.env` files. The real environment wins, then the most
//! specific file: `./.env`, `<workspace>/.anton/.env`, `~/.anton/.env`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    /// Every key value in play, so output can be scrubbed of them.
    pub secrets: Vec<String>,
}

/// Variables from the environment and the `.env` chain.
pub struct Vars(HashMap<String, String>);

impl Vars {
    pub fn load(workspace: &Path) -> Vars {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut files = vec![workspace.join(".env"), workspace.join(".anton/.env")];
        if let Some(home) = home {
            files.push(home.join(".anton/.env"));
        }
        let mut vars = HashMap::new();
        // Least specific first, so later inserts win; the real environment last.
        for file in files.iter().rev() {
            if let Ok(text) = std::fs::read_to_string(file) {
                vars.extend(parse_dotenv(&text));
            }
        }
        vars.extend(std::env::vars());
        Vars(vars)
    }

    pub fn from_map(map: HashMap<String, String>) -> Vars {
        Vars(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    pub fn llm(&self) -> LlmSettings {
        let planning = self.role("PLANNING", "claude-sonnet-4-6", "gpt-4.1");
        let coding = self.role("CODING", "claude-haiku-4-5-20251001", "gpt-4.1-mini");
        let secrets = [
            "ANTON_ANTHROPIC_API_KEY",
            "ANTHROPIC_API_KEY",
            "ANTON_OPENAI_API_KEY",
            "OPENAI_API_KEY",
        ]
        .iter()
        .filter_map(|k| self.get(k))
        .map(str::to_string)
        .collect();
        LlmSettings {
            planning,
            coding,
            secrets,
        }
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
                    "{provider_var}={other} is not a provider: use anthropic, openai or openai-compatible"
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
        Vars::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
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
        assert_eq!(s.secrets, vec!["k"]);
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
    fn dotenv_lines_parse_like_a_shell() {
        let parsed = parse_dotenv("# c\nexport A=1\nB=\"two words\"\nC='x' \nD=plain # note\n");
        assert_eq!(
            parsed,
            [("A", "1"), ("B", "two words"), ("C", "x"), ("D", "plain")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }
}
