//! `share push | pull | list --remote | key`: sessions through the team's
//! object storage, encrypted to teammates' keys. The host moves the bytes
//! and holds credentials and keys; this names the files.

use anton_plugin_sdk::chat::{self, TimeStyle, one_line};
use anton_plugin_sdk::remote::{self, RemoteFile, RemoteSettings};
use anton_plugin_sdk::storage::{self, ShareEntry};
use anton_plugin_sdk::{Args, HostError, Invocation, Outcome};
use serde_json::{Value, json};

use crate::{export, import, time};

/// Shares one listing page shows.
const PAGE: u32 = 50;
/// Between the pusher's name and the export's file name in a share's name.
const WHO_SEPARATOR: &str = "__";

/// The remote, or why there is none and what to set.
fn settings() -> Result<RemoteSettings, String> {
    match remote::settings()? {
        Some(settings) => Ok(settings),
        // The host says why: nothing set, or set by a workspace not yet trusted.
        None => Err(remote::list(0, 0)
            .err()
            .map(|e| e.reason().to_string())
            .unwrap_or_else(|| "no team remote is set".into())),
    }
}

/// `push [--summary] [--format v1|v0.1] [--to KEY]… [--session ID]`.
pub fn push(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    let settings = settings()?;
    if !settings.push_allowed {
        return Err(
            "this workspace keeps its sessions in (`[share] push = false` in its config.toml); `share pull` still works"
                .into(),
        );
    }
    if let Some(format) = args.value("--format")?
        && !matches!(format, "v1" | "anton" | "v0.1")
    {
        return Err(format!(
            "push sends .anton files: use --format v1 (default) or v0.1, not {}",
            one_line(format)
        ));
    }
    let given = args.values("--to")?;
    let mut recipients: Vec<String> = given.iter().flat_map(|keys| split_keys(keys)).collect();
    if !given.is_empty() && recipients.is_empty() {
        return Err("--to names no key: give an age key (age1…) or an SSH public key, or leave --to out to use [share] recipients".into());
    }
    if recipients.is_empty() {
        recipients = settings.recipients.clone();
    }
    let Some(exported) = export::export(invocation, args, &["--to"], false)? else {
        chat::print("Nothing pushed.");
        return Ok(Outcome::ok());
    };
    let file_name = exported.path.rsplit('/').next().unwrap_or(&exported.path).to_string();
    let who = crate::slug(&exported.entry.who, 40).unwrap_or_else(|| "someone".into());
    let name = format!("{who}{WHO_SEPARATOR}{file_name}");
    let pushed = remote::push(&exported.path, &name, &recipients)?;
    storage::record_share(&ShareEntry {
        path: pushed.location.clone(),
        at: time::now_ms(),
        ..exported.entry
    })?;
    let encrypted = match recipients.len() {
        0 => "no: anyone who can read the remote can read it (give --to KEY or set [share] recipients)".to_string(),
        n => format!("to {}", chat::count(n as u64, "key", "keys")),
    };
    chat::print(&format!(
        "Session pushed\n  To:        {}\n  Size:      {}\n  Encrypted: {encrypted}",
        pushed.location,
        human_size(pushed.size)
    ));
    Ok(Outcome::ok())
}

/// `--to` may list several keys at once, separated by commas.
fn split_keys(keys: &str) -> Vec<String> {
    keys.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect()
}

/// `pull NAME | --latest`, then imported as `import` would.
pub fn pull(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--latest", "--accept-memories", "--again"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let settings = settings()?;
    let names = args.positionals(&[]);
    let name = match (names.as_slice(), args.flag("--latest")) {
        // A whole name is fetched as it is; only a part of one needs the listing.
        ([name], false) => match remote::pull(name) {
            Ok(file) => return import::import(invocation, args, file, &format!("{}/{name}", settings.location)),
            Err(HostError::NotFound(_)) => one_share(&settings, name)?,
            Err(e) => return Err(format!("cannot pull {}: {}", one_line(name), e.reason())),
        },
        ([], true) => match remote::list(0, 1)?.files.into_iter().next() {
            Some(newest) => newest.name,
            None => return Err(format!("{} holds no shares yet", settings.location)),
        },
        ([], false) => return Err(invocation.usage_error("which share? give its name, or --latest")),
        _ => return Err(invocation.usage_error("one share at a time: a name or --latest")),
    };
    let file = remote::pull(&name).map_err(|e| format!("cannot pull {}: {}", one_line(&name), e.reason()))?;
    import::import(invocation, args, file, &format!("{}/{name}", settings.location))
}

/// The share `asked` names: its whole name, or a part of one name alone.
fn one_share(settings: &RemoteSettings, asked: &str) -> Result<String, String> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let page = remote::list(offset, 1000)?;
        let done = page.files.is_empty();
        offset += page.files.len() as u32;
        all.extend(page.files.into_iter().map(|f| f.name));
        if done || offset >= page.total {
            break;
        }
    }
    if all.iter().any(|name| name == asked) {
        return Ok(asked.to_string());
    }
    let wanted = asked.to_lowercase();
    let matching: Vec<&String> = all
        .iter()
        .filter(|name| name.to_lowercase().contains(&wanted))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!(
            "{} has no share named like {}; `share list --remote` shows what it has",
            settings.location,
            one_line(asked)
        )),
        many => Err(format!(
            "{} names {} shares on {} (the newest: {}); give more of the name",
            one_line(asked),
            many.len(),
            settings.location,
            one_line(many[0])
        )),
    }
}

/// `list --remote [--page N] [--json]`: what the team shared, newest first.
pub fn list(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&["--remote", "--page", "--json"]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    if !args.flag("--remote") {
        return Err(invocation.usage_error(
            "`list` lists the team remote: give --remote (`share history` lists this workspace's exports)",
        ));
    }
    let settings = settings()?;
    let page = match args.value("--page")? {
        None => 1,
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("--page takes a number from 1, not {}", one_line(n)))?,
    };
    let listed = remote::list((page - 1).saturating_mul(PAGE), PAGE)?;
    if args.flag("--json") {
        let rows: Vec<Value> = listed.files.iter().map(|f| as_json(f, &settings.location)).collect();
        let out = json!({"remote": settings.location, "total": listed.total, "page": page, "shares": rows});
        chat::print_json(&serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?);
        return Ok(Outcome::ok());
    }
    if listed.files.is_empty() {
        chat::print(&match listed.total {
            0 => format!(
                "{} holds no shares yet. {} sends this session there.",
                settings.location,
                invocation.how_to_run("share push")
            ),
            n => format!(
                "Page {page} is past the end: {} in all.",
                chat::count(n as u64, "share", "shares")
            ),
        });
        return Ok(Outcome::ok());
    }
    let rows = listed
        .files
        .iter()
        .map(|f| {
            let (who, title) = who_and_title(&f.name);
            vec![
                chat::format_time(f.stored_at, TimeStyle::Relative),
                who,
                title,
                human_size(f.size),
                f.name.clone(),
            ]
        })
        .collect();
    chat::print(&format!("Shares on {}", settings.location));
    chat::print_table(&["When", "Who", "Title", "Size", "Name"], &["Title", "Name"], rows);
    let pages = listed.total.div_ceil(PAGE).max(1);
    let mut footer = format!(
        "Page {page} of {pages} · {}",
        chat::count(listed.total as u64, "share", "shares")
    );
    if page < pages {
        footer.push_str(&format!(
            " · {} for more",
            invocation.how_to_run(&format!("share list --remote --page {}", page + 1))
        ));
    }
    footer.push_str(&format!(
        " · {} imports one (any part of its name will do)",
        invocation.how_to_run("share pull NAME")
    ));
    chat::print(&footer);
    Ok(Outcome::ok())
}

fn as_json(file: &RemoteFile, location: &str) -> Value {
    let (who, title) = who_and_title(&file.name);
    json!({
        "name": file.name,
        "who": who,
        "title": title,
        "size": file.size,
        "stored_at": chat::format_time(file.stored_at, TimeStyle::Iso),
        "encrypted": file.name.ends_with(".age"),
        "location": format!("{location}/{}", file.name),
    })
}

/// Who pushed a share and its title, as its name tells them
/// (`ann__churn-in-q3_20261203_101500.anton.age`); a name anton did not
/// make tells neither.
fn who_and_title(name: &str) -> (String, String) {
    let Some((who, file)) = name.split_once(WHO_SEPARATOR) else {
        return ("?".into(), one_line(name));
    };
    let stem = file.split('.').next().unwrap_or(file);
    // The export's name ends with its date and time: `_YYYYMMDD_HHMMSS`.
    let title = match stem.rsplitn(3, '_').collect::<Vec<_>>().as_slice() {
        [_, _, title] => title.replace('-', " "),
        _ => stem.replace('-', " "),
    };
    (one_line(who), one_line(&title))
}

/// `key`: the user's public key, made on first use, for teammates' `--to`.
pub fn key(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    if let Some(bad) = args.unknown_option(&[]) {
        return Err(invocation.usage_error(&format!("unknown option {bad}")));
    }
    let made = remote::own_key(false)?.is_none();
    let public = remote::own_key(true)?.ok_or("no key could be made")?;
    let first = match made {
        true => "Made your key in ~/.anton/identity.txt (keep that file secret).\n",
        false => "",
    };
    chat::print(&format!(
        "{first}Your public key, for teammates to push to (--to, or [share] recipients):\n  {public}"
    ));
    Ok(Outcome::ok())
}

fn human_size(bytes: u64) -> String {
    anton_share_format::human_size(bytes)
}
