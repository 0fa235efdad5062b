//! The shapes of secrets anton finds without being told the value.
//!
//! Where the rules come from: the families gitleaks ships in its default
//! `config/gitleaks.toml` (v8, MIT) and the plugins detect-secrets enables by
//! default (v1.5, Apache-2.0): AWS, GitHub, GitLab, Slack, Stripe, Google,
//! OpenAI, Anthropic, JWT, private keys, basic auth in URLs, Azure storage,
//! npm, PyPI, SendGrid, Twilio, Telegram, Hugging Face, DigitalOcean, Shopify,
//! Databricks, and a keyword rule with an entropy check. The patterns are
//! rewritten for Rust's `regex` (no look-around) and kept loose at the edges:
//! a secret a few characters shorter than its vendor's is still a secret.
//! No rule was copied from a crate: none that is kept up builds with the
//! pinned toolchain (keyspoor needs rustc 1.96).

use std::sync::OnceLock;

use regex::{Regex, RegexSet};

/// One shape. `kind` names it in reports and in its placeholder
/// (`aws access key id` → `[REDACTED_AWS_ACCESS_KEY_ID]`); `group` is the
/// part replaced (0: the whole match); `keep` rejects a match that only
/// looks like a secret.
pub struct Rule {
    pub kind: &'static str,
    pub placeholder: String,
    pub regex: Regex,
    pub group: usize,
    pub keep: Option<fn(&regex::Captures) -> bool>,
}

/// `kind` as its placeholder: `[REDACTED_` + upper snake case + `]`.
pub fn placeholder(kind: &str) -> String {
    let name: String = kind
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("[REDACTED_{name}]")
}

/// (kind, pattern, group replaced, check). Order matters: a private key
/// block before the tokens its body could hold, a vendor's prefix before a
/// looser one that also fits it, the keyword rule last.
type Spec = (&'static str, &'static str, usize, Option<fn(&regex::Captures) -> bool>);

const SPECS: &[Spec] = &[
    (
        "private key",
        r"-----BEGIN[A-Z0-9 _-]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 _-]{0,40}PRIVATE KEY(?: BLOCK)?-----|(?:(?:\s|\\n)*[A-Za-z0-9+/=]{20,})*)",
        0,
        None,
    ),
    (
        "password",
        r"(?i)(?-u:\b)[a-z][a-z0-9+.-]{1,20}://[^\s:/@'`<>\x22]{0,100}:([^\s/`<>\x22]{1,200})@",
        1,
        Some(not_a_template),
    ),
    (
        "aws access key id",
        r"(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        0,
        None,
    ),
    (
        "aws secret key",
        r"(?i)aws[a-z0-9_. -]{0,20}(?:secret|key)[a-z0-9_. -]{0,20}[\x22']?\s*(?::=|=>|[:=\s])\s*[\x22']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
        1,
        None,
    ),
    (
        "github token",
        r"(?-u:\b)(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}",
        0,
        None,
    ),
    ("github token", r"(?-u:\b)github_pat_[A-Za-z0-9_]{22,}", 0, None),
    (
        "gitlab token",
        r"(?-u:\b)gl(?:pat|ptt|rt|dt|cbt|soat|ffct|imt|oas|ft|agent)-[A-Za-z0-9_-]{20,}",
        0,
        None,
    ),
    ("slack token", r"(?-u:\b)xox[abeoprs]-[A-Za-z0-9-]{10,}", 0, None),
    ("slack token", r"(?-u:\b)xapp-\d-[A-Za-z0-9-]{10,}", 0, None),
    (
        "slack webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
        0,
        None,
    ),
    (
        "stripe key",
        r"(?-u:\b)(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,}",
        0,
        None,
    ),
    ("google api key", r"(?-u:\b)AIza[0-9A-Za-z_-]{30,}", 0, None),
    ("token", r"(?-u:\b)ya29\.[0-9A-Za-z_-]{20,}", 0, None),
    ("anthropic api key", r"(?-u:\b)sk-ant-[A-Za-z0-9_-]{20,}", 0, None),
    ("openai api key", r"(?-u:\b)sk-[A-Za-z0-9_-]{16,}", 0, None),
    ("api key", r"(?-u:\b)mdb_[A-Za-z0-9_-]{16,}", 0, None),
    ("npm token", r"(?-u:\b)npm_[A-Za-z0-9]{36}(?-u:\b)", 0, None),
    ("pypi token", r"(?-u:\b)pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{40,}", 0, None),
    (
        "sendgrid key",
        r"(?-u:\b)SG\.[A-Za-z0-9_-]{20,24}\.[A-Za-z0-9_-]{40,46}(?-u:\b)",
        0,
        None,
    ),
    ("twilio key", r"(?-u:\b)SK[0-9a-f]{32}(?-u:\b)", 0, None),
    (
        "telegram bot token",
        r"(?-u:\b)\d{8,10}:AA[0-9A-Za-z_-]{32,33}(?-u:\b)",
        0,
        None,
    ),
    ("huggingface token", r"(?-u:\b)hf_[A-Za-z]{34}(?-u:\b)", 0, None),
    (
        "digitalocean token",
        r"(?-u:\b)do[por]_v1_[a-f0-9]{64}(?-u:\b)",
        0,
        None,
    ),
    (
        "shopify token",
        r"(?-u:\b)shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?-u:\b)",
        0,
        None,
    ),
    ("databricks token", r"(?-u:\b)dapi[a-f0-9]{32}(?:-\d)?(?-u:\b)", 0, None),
    (
        "azure storage key",
        r"AccountKey=([A-Za-z0-9+/]{80,100}={0,2})",
        1,
        None,
    ),
    (
        "jwt",
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        0,
        None,
    ),
    (
        "token",
        r"(?i)(?-u:\b)bearer\s+([A-Za-z0-9._~+/=-]{8,})",
        1,
        Some(has_digit),
    ),
    (
        "token",
        r"(?i)(?-u:\b)authorization:\s*basic\s+([A-Za-z0-9+/=]{8,})",
        1,
        None,
    ),
    (
        "secret",
        r"(?i)([a-z0-9_.-]*(?:passw(?:or)?d|pwd|secret|token|api[_.-]?key|access[_.-]?key|private[_.-]?key|auth[_.-]?key|credentials?)[a-z0-9_.-]*)[\x22']?[ \t]*(?::=|=>|:|=)[ \t]*([\x22']?)([^\s\x22'`,;()\[\]{}<>]{6,})(\()?",
        3,
        Some(assigned_secret),
    ),
];

/// A vendor prefix must start a token, yet `call_ghp_…` still holds one:
/// `\b` would not fire after `_`, so the rule asks for no letter or digit
/// before the prefix, and replaces only what follows.
fn pattern(spec: &Spec) -> (String, usize) {
    match spec.1.strip_prefix(r"(?-u:\b)") {
        Some(rest) if spec.2 == 0 => (format!("(?:^|[^A-Za-z0-9])({rest})"), 1),
        _ => (spec.1.to_string(), spec.2),
    }
}

pub fn all() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        SPECS
            .iter()
            .map(|spec| {
                let (pattern, group) = pattern(spec);
                Rule {
                    kind: spec.0,
                    placeholder: placeholder(spec.0),
                    regex: Regex::new(&pattern).expect("valid rule"),
                    group,
                    keep: spec.3,
                }
            })
            .collect()
    })
}

/// One pass that says which rules can match at all (most texts: none).
pub fn any() -> &'static RegexSet {
    static SET: OnceLock<RegexSet> = OnceLock::new();
    SET.get_or_init(|| RegexSet::new(SPECS.iter().map(|s| pattern(s).0)).expect("valid rules"))
}

/// `${DB_PASSWORD}`, `$DB_PASSWORD`, `%(pw)s`, `{password}`: a value yet to
/// be filled in; `[REDACTED_PASSWORD]`: one already taken out. A `$` or `%`
/// inside a value (`S3cr%40t`, `Xk9$mLp2`) is just a character.
fn is_template(value: &str) -> bool {
    ["${", "$(", "%(", "{{"].iter().any(|t| value.contains(t)) || value.starts_with(['$', '%', '{', '<', '['])
}

fn has_digit(captures: &regex::Captures) -> bool {
    captures[1].chars().any(|c| c.is_ascii_digit())
}

/// Whether a name says its value is secret: it ends in one of these
/// (`db_password`, `clientSecret`, `GITHUB_TOKENS`), so `secretary`,
/// `passwordless` and `tokenizer` do not.
fn secret_sounding(name: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "privatekey",
        "authkey",
        "secretkey",
        "credential",
    ];
    let flat: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let flat = flat.strip_suffix('s').unwrap_or(&flat);
    ENDINGS.iter().any(|e| flat.ends_with(e))
}

fn not_a_template(captures: &regex::Captures) -> bool {
    !is_template(&captures[1])
}

/// A value assigned to a secret-sounding name, the way detect-secrets'
/// keyword plugin and gitleaks' generic rule judge it: a quoted literal
/// given to a password-like name is taken; anything else must look random
/// (letters and digits, high entropy) to be taken, so `token = get_token`,
/// `password = os.environ` and `api_key=args.key` stay as they are.
fn assigned_secret(captures: &regex::Captures) -> bool {
    let name = captures[1].to_ascii_lowercase();
    if !secret_sounding(&name) {
        return false;
    }
    let quoted = !captures[2].is_empty();
    let value = &captures[3];
    let called = captures.get(4).is_some();
    // `Mutex::new(None)`, `self.vault()`, `os.environ`: code, not a value.
    let code = called
        || value.contains("::")
        || (!quoted && value.contains('.') && value.chars().all(|c| c.is_alphanumeric() || "._".contains(c)));
    if code || is_template(value) || (name == "pwd" && value.starts_with('/')) {
        return false;
    }
    let password_like = ["pass", "pwd", "secret"].iter().any(|w| name.contains(w));
    let has_digit = value.chars().any(|c| c.is_ascii_digit());
    let has_letter = value.chars().any(|c| c.is_ascii_alphabetic());
    let has_symbol = value.chars().any(|c| c.is_ascii_punctuation() && !"._-".contains(c));
    match (password_like, quoted) {
        (true, true) => true,
        (true, false) => value.len() >= 8 && has_letter && (has_digit || has_symbol),
        (false, _) => value.len() >= if quoted { 12 } else { 16 } && has_letter && has_digit && entropy(value) >= 3.0,
    }
}

/// Shannon entropy in bits per character.
pub fn entropy(text: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in text.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let total = text.chars().count() as f64;
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.log2()
        })
        .sum()
}
