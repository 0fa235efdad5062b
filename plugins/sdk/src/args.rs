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

    /// The value of `--key value` or `--key=value`; `Err` when the key is
    /// last, or given twice (which of two the user meant is theirs to say).
    pub fn value(&self, name: &str) -> Result<Option<&str>, String> {
        let prefix = format!("{name}=");
        let mut found = None;
        let mut args = self.raw.iter();
        while let Some(arg) = args.next() {
            let value = match arg.strip_prefix(&prefix) {
                Some(v) => v,
                None if arg == name => args
                    .next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("{name} needs a value"))?,
                None => continue,
            };
            if found.is_some() {
                return Err(format!("{name} is given twice; give it once"));
            }
            found = Some(value);
        }
        Ok(found)
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
