//! Secrets out of text before it is stored, shown to the model, or exported:
//! data-source values, provider keys, and common token shapes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::vault::DataSource;

#[derive(Default, Clone)]
pub struct Scrubber {
    /// Exact values and what replaces them, longest first.
    exact: Vec<(String, String, &'static str)>,
}

/// What was redacted: counts by kind, never values.
pub type Report = BTreeMap<&'static str, usize>;

/// One pass that says whether any shape occurs at all (most texts: none).
fn any_shape() -> &'static regex::RegexSet {
    static SET: OnceLock<regex::RegexSet> = OnceLock::new();
    SET.get_or_init(|| regex::RegexSet::new(shapes().iter().map(|(r, _, _)| r.as_str())).expect("valid patterns"))
}

fn shapes() -> &'static [(Regex, &'static str, &'static str)] {
    static SHAPES: OnceLock<Vec<(Regex, &'static str, &'static str)>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        [
            (
                r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
                "[REDACTED_JWT]",
                "jwt",
            ),
            (
                r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}",
                "Bearer [REDACTED_TOKEN]",
                "bearer token",
            ),
            (r"\bsk-[A-Za-z0-9_-]{16,}", "[REDACTED_API_KEY]", "api key"),
            (r"\bmdb_[A-Za-z0-9_-]{16,}", "[REDACTED_API_KEY]", "api key"),
            (r"\bAIza[0-9A-Za-z_-]{30,}", "[REDACTED_API_KEY]", "api key"),
            (r"\bgh[pousr]_[A-Za-z0-9]{30,}", "[REDACTED_API_KEY]", "api key"),
            (r"\bxox[abpr]-[A-Za-z0-9-]{10,}", "[REDACTED_API_KEY]", "api key"),
            (r"\bya29\.[A-Za-z0-9_-]{20,}", "[REDACTED_TOKEN]", "oauth token"),
        ]
        .into_iter()
        .map(|(pattern, replacement, kind)| (Regex::new(pattern).expect("valid pattern"), replacement, kind))
        .collect()
    })
}

impl Scrubber {
    pub fn new(provider_keys: &[String], sources: &[DataSource]) -> Scrubber {
        let mut exact = Vec::new();
        for key in provider_keys.iter().filter(|k| k.len() >= 8) {
            exact.push((key.clone(), "[REDACTED_API_KEY]".to_string(), "provider key"));
        }
        for source in sources {
            let prefix = source.env_prefix();
            for (field, value) in &source.fields {
                if source.is_secret(field) && value.len() >= 4 {
                    exact.push((
                        value.clone(),
                        format!("[{prefix}{}]", field.to_uppercase()),
                        "data-source secret",
                    ));
                }
            }
        }
        exact.sort_by_key(|(value, _, _)| std::cmp::Reverse(value.len()));
        Scrubber { exact }
    }

    pub fn scrub(&self, text: &str) -> String {
        self.scrub_counting(text, &mut Report::new())
    }

    pub fn scrub_counting(&self, text: &str, report: &mut Report) -> String {
        let mut text = text.to_string();
        for (value, replacement, kind) in &self.exact {
            let found = text.matches(value.as_str()).count();
            if found > 0 {
                text = text.replace(value.as_str(), replacement);
                *report.entry(kind).or_default() += found;
            }
        }
        let present = any_shape().matches(&text);
        for (index, (pattern, replacement, kind)) in shapes().iter().enumerate() {
            if !present.matched(index) {
                continue;
            }
            let found = pattern.find_iter(&text).count();
            if found > 0 {
                text = pattern.replace_all(&text, *replacement).into_owned();
                *report.entry(kind).or_default() += found;
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_vault_values_provider_keys_and_token_shapes_and_counts_them() {
        let source = DataSource {
            engine: "postgres".into(),
            name: "prod-db".into(),
            created_at: String::new(),
            updated_at: String::new(),
            fields: [
                ("host".to_string(), "db.internal".to_string()),
                ("password".to_string(), "hunter22".to_string()),
            ]
            .into(),
            extra: Default::default(),
        };
        let scrubber = Scrubber::new(&["key-abcdefgh-1234".to_string()], &[source]);
        let text = "host db.internal pw hunter22 key key-abcdefgh-1234 \
                    openai sk-proj-ABCDEFGHIJKLMNOPQRST jwt eyJhbGciOiJI.eyJzdWIiOiIx.SflKxwRJSMeKKF2Q \
                    Authorization: Bearer abc.def-123456";
        let mut report = Report::new();
        let clean = scrubber.scrub_counting(text, &mut report);
        assert_eq!(
            clean,
            "host db.internal pw [DS_POSTGRES_PROD_DB__PASSWORD] key [REDACTED_API_KEY] \
             openai [REDACTED_API_KEY] jwt [REDACTED_JWT] Authorization: Bearer [REDACTED_TOKEN]"
        );
        assert_eq!(report.values().sum::<usize>(), 5);
        assert_eq!(report["data-source secret"], 1);
    }
}
