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
        match self.values(name)?.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            _ => Err(format!("{name} is given twice; give it once")),
        }
    }

    /// Every value of a repeatable `--key value` / `--key=value`, in order.
    pub fn values(&self, name: &str) -> Result<Vec<&str>, String> {
        let prefix = format!("{name}=");
        let mut found = Vec::new();
        let mut args = self.raw.iter();
        while let Some(arg) = args.next() {
            match arg.strip_prefix(&prefix) {
                Some(v) => found.push(v),
                None if arg == name => found.push(
                    args.next()
                        .map(String::as_str)
                        .ok_or_else(|| format!("{name} needs a value"))?,
                ),
                None => {}
            }
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
