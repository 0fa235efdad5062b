/// Command arguments: `--flag`, `--key value` / `--key=value`, positionals.
#[derive(Debug, Clone)]
pub struct Args {
    raw: Vec<String>,
}

impl Args {
    pub fn new(raw: &[String]) -> Self {
        Args { raw: raw.to_vec() }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.raw.iter().any(|a| a == name)
    }

    /// The value of `--key value` or `--key=value`; `Err` when the key is last.
    pub fn value(&self, name: &str) -> Result<Option<&str>, String> {
        let prefix = format!("{name}=");
        for (i, arg) in self.raw.iter().enumerate() {
            if let Some(v) = arg.strip_prefix(&prefix) {
                return Ok(Some(v));
            }
            if arg == name {
                return match self.raw.get(i + 1) {
                    Some(v) => Ok(Some(v)),
                    None => Err(format!("{name} needs a value")),
                };
            }
        }
        Ok(None)
    }

    /// Arguments that are neither options nor option values. `valued` lists
    /// the options that take a value.
    pub fn positionals(&self, valued: &[&str]) -> Vec<&str> {
        let mut out = Vec::new();
        let mut skip = false;
        for arg in &self.raw {
            if skip {
                skip = false;
            } else if valued.contains(&arg.as_str()) {
                skip = true;
            } else if !arg.starts_with("--") {
                out.push(arg.as_str());
            }
        }
        out
    }

    /// The first option not in `known`, to report typos.
    pub fn unknown_option(&self, known: &[&str]) -> Option<&str> {
        self.raw
            .iter()
            .filter(|a| a.starts_with("--"))
            .map(|a| a.split('=').next().unwrap_or(a))
            .find(|a| !known.contains(a))
    }
}
