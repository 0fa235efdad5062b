//! `/connect [engine] | list [--json] | test <engine-name> | remove <engine-name>`.
//! Connections live in the user's vault, shared with the reference Anton.

use anton_plugin_sdk::vault::{self, Connection, Field};
use anton_plugin_sdk::{Args, Invocation, Outcome, Plugin, chat, register_plugin};
use serde_json::json;

/// How a field is asked for: its name, a default, whether it is secret.
type FieldSpec = (&'static str, Option<&'static str>, bool);

struct Engine {
    name: &'static str,
    label: &'static str,
    fields: &'static [FieldSpec],
    /// What `test` can check without a driver.
    reachable: bool,
}

const ENGINES: &[Engine] = &[
    Engine {
        name: "postgres",
        label: "PostgreSQL",
        fields: &[
            ("host", None, false),
            ("port", Some("5432"), false),
            ("database", None, false),
            ("user", None, false),
            ("password", None, true),
        ],
        reachable: true,
    },
    Engine {
        name: "mysql",
        label: "MySQL",
        fields: &[
            ("host", None, false),
            ("port", Some("3306"), false),
            ("database", None, false),
            ("user", None, false),
            ("password", None, true),
        ],
        reachable: true,
    },
    Engine {
        name: "sqlite",
        label: "SQLite",
        fields: &[("path", None, false)],
        reachable: false,
    },
    Engine {
        name: "snowflake",
        label: "Snowflake",
        fields: &[
            ("account", None, false),
            ("user", None, false),
            ("password", None, true),
            ("warehouse", None, false),
            ("database", None, false),
            ("schema", Some("PUBLIC"), false),
            ("role", None, false),
        ],
        reachable: false,
    },
    Engine {
        name: "bigquery",
        label: "BigQuery",
        fields: &[
            ("project", None, false),
            ("dataset", None, false),
            ("credentials_json", None, true),
        ],
        reachable: false,
    },
    Engine {
        name: "custom",
        label: "Custom (your own fields)",
        fields: &[],
        reachable: true,
    },
];

struct Connect;

impl Plugin for Connect {
    fn new() -> Self {
        Connect
    }

    fn run(&mut self, invocation: &Invocation) -> Result<Outcome, String> {
        let args = Args::new(invocation.args.get(1..).unwrap_or_default());
        match invocation.args.first().map(String::as_str) {
            None => match pick_engine()? {
                Some(engine) => connect(invocation, engine),
                None => cancelled(),
            },
            Some("list") => list(invocation, &args),
            Some("test") => test(invocation, &args),
            Some("remove") => remove(invocation, &args),
            Some(name) => match ENGINES.iter().find(|e| e.name == name) {
                Some(engine) => connect(invocation, engine),
                None => {
                    let engines: Vec<&str> = ENGINES.iter().map(|e| e.name).collect();
                    let hint = anton_plugin_sdk::closest(
                        name,
                        ["list", "test", "remove"].into_iter().chain(engines.iter().copied()),
                    )
                    .map(|near| format!("did you mean {}? ", invocation.how_to_run(&format!("connect {near}"))))
                    .unwrap_or_default();
                    Err(invocation.usage_error(&format!(
                        "unknown engine '{}': {hint}use {}",
                        chat::one_line(name),
                        engines.join(", ")
                    )))
                }
            },
        }
    }
}

register_plugin!(Connect);

fn cancelled() -> Result<Outcome, String> {
    chat::print("Cancelled; nothing saved.");
    Ok(Outcome::exit(1))
}

fn pick_engine() -> Result<Option<&'static Engine>, String> {
    let labels: Vec<String> = ENGINES.iter().map(|e| format!("{} ({})", e.label, e.name)).collect();
    Ok(chat::pick("Which kind of data source?", &labels)?.map(|i| &ENGINES[i as usize]))
}

fn connect(invocation: &Invocation, engine: &Engine) -> Result<Outcome, String> {
    chat::print(&format!(
        "Connect {}. Secret fields are not shown as you type.",
        engine.label
    ));
    let mut fields = Vec::new();
    let mut specs: Vec<(String, Option<&str>, bool)> =
        engine.fields.iter().map(|(n, d, s)| (n.to_string(), *d, *s)).collect();
    if engine.name == "custom" {
        loop {
            let Some(name) = chat::ask("Field name (empty when done):")? else {
                return cancelled();
            };
            let name = name.trim().to_lowercase().replace(' ', "_");
            if name.is_empty() {
                break;
            }
            let secret = chat::confirm(&format!("Is {name} secret?"), false)?;
            specs.push((name, None, secret));
        }
    }
    for (name, default, secret) in specs {
        let prompt = match default {
            Some(d) => format!("{name} [{d}]:"),
            None => format!("{name}:"),
        };
        let answer = if secret {
            chat::ask_secret(&prompt)?
        } else {
            chat::ask(&prompt)?
        };
        let Some(answer) = answer else { return cancelled() };
        let value = if answer.trim().is_empty() {
            default.unwrap_or_default().to_string()
        } else {
            answer.trim().to_string()
        };
        fields.push(Field { name, value, secret });
    }
    let Some(name) = chat::ask(&format!("Name for this connection [{}]:", engine.name))? else {
        return cancelled();
    };
    let name = handle_part(if name.trim().is_empty() {
        engine.name
    } else {
        name.trim()
    });
    let handle = format!("{}-{name}", engine.name);
    let existing = vault::connections()?
        .connections
        .iter()
        .any(|c| format!("{}-{}", c.engine, c.name) == handle);
    if existing && !chat::confirm(&format!("Replace the saved connection {handle}?"), false)? {
        chat::print("Kept the saved connection; nothing changed.");
        return Ok(Outcome::exit(1));
    }
    let connection = Connection {
        engine: engine.name.into(),
        name,
        created_at: String::new(),
        updated_at: String::new(),
        fields,
    };
    let prefix = vault::save(&connection)?;
    chat::print(&format!(
        "Saved {handle}. Scratchpad code sees it as {prefix}<FIELD> variables. Check it with {}.",
        invocation.how_to_run(&format!("connect test {handle}"))
    ));
    Ok(Outcome::ok())
}

/// Lowercase, words joined by `-`: safe as part of a file name.
fn handle_part(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(['-', '.']).to_string()
}

fn shown(field: &Field) -> String {
    if field.secret {
        format!("{}=••••", field.name)
    } else {
        format!("{}={}", field.name, field.value)
    }
}

fn list(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    let listing = vault::connections()?;
    for bad in &listing.unreadable {
        chat::print_error(&format!(
            "Skipped {}: not a valid connection ({}); fix or remove the file.",
            bad.file, bad.error
        ));
    }
    if args.flag("--json") {
        let rows: Vec<_> = listing
            .connections
            .iter()
            .map(|c| {
                let fields: serde_json::Map<String, serde_json::Value> =
                    c.fields.iter().map(|f| (f.name.clone(), json!(if f.secret { "••••" } else { f.value.as_str() }))).collect();
                json!({"handle": format!("{}-{}", c.engine, c.name), "engine": c.engine, "name": c.name, "fields": fields, "updated_at": c.updated_at})
            })
            .collect();
        chat::print_json(&serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?);
        return Ok(Outcome::ok());
    }
    if listing.connections.is_empty() {
        chat::print(&format!(
            "No data sources connected. Add one with {}.",
            invocation.how_to_run("connect")
        ));
        return Ok(Outcome::ok());
    }
    let rows = listing
        .connections
        .iter()
        .map(|c| {
            vec![
                c.engine.clone(),
                c.name.clone(),
                c.fields.iter().map(shown).collect::<Vec<_>>().join(", "),
                when(&c.updated_at),
            ]
        })
        .collect();
    chat::print_table(&["Engine", "Name", "Fields", "Updated"], &["Fields"], rows);
    Ok(Outcome::ok())
}

/// `2026-11-24T02:07:57Z` → `2026-11-24 02:07 UTC`; a time without a zone
/// (older reference Anton files) is shown as written.
fn when(iso: &str) -> String {
    let utc = iso.ends_with('Z') || iso.ends_with("+00:00");
    match (iso.get(..16), utc) {
        (Some(minute), true) => format!("{} UTC", minute.replace('T', " ")),
        _ => iso.to_string(),
    }
}

fn handle_arg(invocation: &Invocation, args: &Args, verb: &str) -> Result<String, String> {
    args.positionals(&[]).first().map(|h| h.to_string()).ok_or_else(|| {
        format!(
            "which connection? usage: {}; {}",
            invocation.how_to_run(&format!("connect {verb} <engine-name>")),
            listed_by(invocation)
        )
    })
}

/// "`anton connect list` lists them" (/connect list in the chat).
fn listed_by(invocation: &Invocation) -> String {
    format!("{} lists them", invocation.how_to_run("connect list"))
}

fn test(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    let handle = handle_arg(invocation, args, "test")?;
    let listing = vault::connections()?;
    let Some(connection) = listing
        .connections
        .iter()
        .find(|c| format!("{}-{}", c.engine, c.name) == handle)
    else {
        chat::print_error(&format!("No connection {handle}; {}.", listed_by(invocation)));
        return Ok(Outcome::exit(1));
    };
    let engine = ENGINES.iter().find(|e| e.name == connection.engine);
    if engine.is_some_and(|e| !e.reachable) {
        chat::print(&format!(
            "{handle}: {} cannot be checked without its driver; nothing was tested.",
            engine.map(|e| e.label).unwrap_or("this engine")
        ));
        return Ok(Outcome::ok());
    }
    let result = vault::reach(&handle, 3000)?;
    if result.reached {
        chat::print(&format!(
            "✓ Reached {} in {} ms. Only the network path was checked, not the credentials or the database.",
            result.target, result.millis
        ));
        Ok(Outcome::ok())
    } else {
        chat::print(&format!(
            "! Could not reach {}: {}. Check the host, the port and your network.",
            result.target,
            result.error.unwrap_or_default()
        ));
        Ok(Outcome::exit(1))
    }
}

fn remove(invocation: &Invocation, args: &Args) -> Result<Outcome, String> {
    let handle = handle_arg(invocation, args, "remove")?;
    if !chat::confirm(&format!("Remove the connection {handle}?"), false)? {
        chat::print("Kept it.");
        return Ok(Outcome::exit(1));
    }
    if vault::remove(&handle)? {
        chat::print(&format!("Removed {handle}."));
        Ok(Outcome::ok())
    } else {
        chat::print_error(&format!("No connection {handle}; {}.", listed_by(invocation)));
        Ok(Outcome::exit(1))
    }
}
