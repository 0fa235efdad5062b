//! Teammates' public keys, and the user's own identity: `~/.anton/identity.txt`
//! (age) and the SSH keys in `~/.ssh` without a passphrase.

use std::io::{BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::ExposeSecret;

const IDENTITY_FILE: &str = ".anton/identity.txt";
const SSH_KEYS: [&str; 2] = [".ssh/id_ed25519", ".ssh/id_rsa"];
/// An identity file is a few lines; anything larger is not one.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Recipients from age (`age1…`) or SSH (`ssh-ed25519 …`, `ssh-rsa …`) public keys.
pub fn parse_recipients(keys: &[String]) -> Result<Vec<Box<dyn age::Recipient + Send>>, String> {
    let mut distinct: Vec<&str> = keys.iter().map(|k| k.trim()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() > super::MAX_RECIPIENTS {
        return Err(format!(
            "{} keys given; a share is encrypted to {} at most",
            distinct.len(),
            super::MAX_RECIPIENTS
        ));
    }
    distinct
        .into_iter()
        .map(|key| {
            if key.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") || key.contains("PRIVATE KEY") {
                return Err("that is a secret key, which must stay with its owner: give the public one (age1…, or the .pub of an SSH key)".to_string());
            }
            if key.starts_with("age1") {
                return age::x25519::Recipient::from_str(key)
                    .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
                    .map_err(|e| format!("{}: {e}", shown_key(key)));
            }
            if key.starts_with("ssh-") {
                return age::ssh::Recipient::from_str(key)
                    .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
                    .map_err(|_| {
                        format!(
                            "{}: not an SSH public key anton can encrypt to (ssh-ed25519 or ssh-rsa)",
                            shown_key(key)
                        )
                    });
            }
            Err(format!(
                "{}: not a public key; give an age key (age1…) or an SSH one (ssh-ed25519 …)",
                shown_key(key)
            ))
        })
        .collect()
}

/// A key as an error shows it: its start, enough to tell which.
fn shown_key(key: &str) -> String {
    let start: String = key.chars().take(24).collect();
    let start = crate::terminal::sanitize_line(&start);
    match key.chars().count() > 24 {
        true => format!("`{start}…`"),
        false => format!("`{start}`"),
    }
}

/// The user's identities, and what was looked at, for the message when none fits.
pub struct Identities {
    keys: Vec<Box<dyn age::Identity>>,
    looked_at: Vec<String>,
    skipped: Vec<String>,
}

impl Identities {
    pub fn load(home: &Path) -> Identities {
        let mut found = Identities {
            keys: Vec::new(),
            looked_at: Vec::new(),
            skipped: Vec::new(),
        };
        let identity_file = home.join(IDENTITY_FILE);
        if let Some(file) = key_file(&identity_file, &mut found.skipped) {
            found.looked_at.push(shown(&identity_file));
            match age::IdentityFile::from_buffer(BufReader::new(file))
                .and_then(|f| f.into_identities().map_err(|e| std::io::Error::other(e.to_string())))
            {
                Ok(keys) => found.keys.extend(keys.into_iter().map(|k| k as Box<dyn age::Identity>)),
                Err(e) => found.skipped.push(format!("{}: {e}", shown(&identity_file))),
            }
        }
        for ssh in SSH_KEYS {
            let path = home.join(ssh);
            let Some(file) = key_file(&path, &mut found.skipped) else {
                continue;
            };
            found.looked_at.push(shown(&path));
            match age::ssh::Identity::from_buffer(BufReader::new(file), Some(path.display().to_string())) {
                Ok(key @ age::ssh::Identity::Unencrypted(_)) => found.keys.push(Box::new(key)),
                Ok(age::ssh::Identity::Encrypted(_)) => found.skipped.push(format!(
                    "{} has a passphrase, which anton does not ask for",
                    shown(&path)
                )),
                Ok(_) | Err(_) => found
                    .skipped
                    .push(format!("{} is not a key anton can decrypt with", shown(&path))),
            }
        }
        found
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k.as_ref())
    }

    /// Why an encrypted share could not be opened, and what to do.
    pub fn none_fits(&self) -> String {
        let mut why = match (self.looked_at.is_empty(), self.skipped.is_empty()) {
            (true, false) => "it is encrypted, and none of your keys could be read".to_string(),
            (true, true) => format!(
                "it is encrypted, and you have no key: run `anton share key` to make one in ~/{IDENTITY_FILE}, and ask the sender to push again to the public key it shows"
            ),
            (false, _) => format!(
                "it was encrypted to other keys than yours ({}); ask the sender to push again to your public key (`anton share key` shows it)",
                self.looked_at.join(", ")
            ),
        };
        for skipped in &self.skipped {
            why.push_str(&format!("; {skipped}"));
        }
        why
    }
}

/// A key file that is there, a regular file and small; why not, when it is there.
fn key_file(path: &Path, skipped: &mut Vec<String>) -> Option<std::fs::File> {
    match crate::files::open_regular(path, MAX_KEY_FILE) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(why) => {
            skipped.push(format!("{}: {why}", shown(path)));
            None
        }
    }
}

/// `~/.anton/identity.txt` rather than the whole home path.
fn shown(path: &Path) -> String {
    let home = crate::files::home_dir();
    match path.strip_prefix(&home) {
        Ok(rest) if !home.as_os_str().is_empty() => format!("~/{}", rest.display()),
        _ => path.display().to_string(),
    }
}

/// The user's own public key, from `~/.anton/identity.txt`; with `create`,
/// a new identity is written there first when there is none.
pub fn own_recipient(home: &Path, create: bool) -> Result<Option<String>, String> {
    let path = home.join(IDENTITY_FILE);
    let mut skipped = Vec::new();
    if let Some(mut file) = key_file(&path, &mut skipped) {
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| format!("cannot read {}: {e}", shown(&path)))?;
        return text
            .lines()
            .map(str::trim)
            .find_map(|line| age::x25519::Identity::from_str(line).ok())
            .map(|identity| Some(identity.to_public().to_string()))
            .ok_or_else(|| format!("{} holds no age identity (a line AGE-SECRET-KEY-1…)", shown(&path)));
    }
    if let Some(why) = skipped.pop() {
        return Err(why);
    }
    if !create {
        return Ok(None);
    }
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let text = format!(
        "# made by anton for team shares; keep it secret\n# public key: {public}\n{}\n",
        identity.to_string().expose_secret()
    );
    write_private(&path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", shown(&path)))?;
    Ok(Some(public))
}

/// Write `bytes` to `path` readable by the user alone, never over a file.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
