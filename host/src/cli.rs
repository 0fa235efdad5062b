//! The `anton` command line. Built at run time: plugin commands and launch
//! flags come from the manifests of the plugins enabled in this workspace.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::app::App;
use crate::interfaces::latest::command::{Action, Origin, Outcome};
use crate::plugin_host::catalog::Catalog;
use crate::plugin_host::{Dispatch, PluginHost};
use crate::{plugins_command, workspace_trust};

pub fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    match run(argv) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {}", crate::terminal::sanitize_line(&message));
            ExitCode::from(1)
        }
    }
}

fn run(argv: Vec<OsString>) -> Result<ExitCode, String> {
    let mut app = App::open(folder_from(&argv))?;
    let matches = match command(&app.plugins.catalog).try_get_matches_from(&argv) {
        Ok(matches) => matches,
        Err(error) => {
            // Help and version go out as clap wrote them; an error quotes
            // the arguments, which may hold anything.
            if !error.use_stderr() {
                error.print().map_err(|e| format!("cannot print: {e}"))?;
                return Ok(ExitCode::SUCCESS);
            }
            eprint!("{}", crate::terminal::sanitize(&error.to_string()));
            return Ok(ExitCode::from(2));
        }
    };
    crate::app::warn_broken(&app.plugins.catalog);
    match matches.subcommand() {
        Some(("plugins", sub)) => plugins_command::run(&mut app, sub),
        Some(("trust", sub)) => workspace_trust::run(&app.paths, sub),
        Some((name, sub)) => {
            // Known plugin commands name their arguments "args"; anything else
            // arrives as an external subcommand, whose arguments clap names "".
            let args = ["args", ""]
                .iter()
                .find_map(|id| sub.try_get_many::<OsString>(id).ok().flatten())
                .into_iter()
                .flatten()
                .map(lossy)
                .collect();
            let code = run_plugin_command(&mut app.plugins, name, args);
            app.services.close_writer();
            // Its output is out and its writes committed: the process's end
            // frees the plugin's memory and the store faster than taking
            // them apart piece by piece.
            std::mem::forget(app);
            code
        }
        None => {
            let resume = match run_launch_flags(&mut app.plugins, &matches) {
                None => None,
                Some(Ok(outcome)) if outcome.exit_code != 0 => return Ok(ExitCode::from(outcome.exit_code)),
                Some(Ok(outcome)) => outcome.action.map(|Action::SwitchSession(id)| id),
                Some(Err(why)) => return Err(why),
            };
            crate::chat::run(&mut app, resume)
        }
    }
}

/// `--folder` decides which plugins exist, so it is read before the full parse.
fn folder_from(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "-f" || arg == "--folder" {
            return args.next().map(|v| PathBuf::from(v.as_ref()));
        }
        if let Some(value) = arg.strip_prefix("--folder=") {
            return Some(PathBuf::from(value));
        }
    }
    None
}

fn lossy(arg: &OsString) -> String {
    arg.to_string_lossy().into_owned()
}

/// Names anton (and clap, for `help`) keeps for itself.
const BUILT_IN_COMMANDS: &[&str] = &["plugins", "trust", "help"];

fn command(catalog: &Catalog) -> Command {
    let mut cmd = Command::new("anton")
        .about("A terminal AI coworker. With no command: a chat in this workspace.")
        .version(env!("CARGO_PKG_VERSION"))
        .allow_external_subcommands(true)
        .arg(
            Arg::new("folder")
                .short('f')
                .long("folder")
                .value_name("DIR")
                .global(true)
                .help("Workspace folder (default: the current directory)"),
        )
        .subcommand(plugins_command::command())
        .subcommand(workspace_trust::command());
    let commands = catalog.commands();
    let names: Vec<&str> = commands.iter().map(|(c, _)| c.name.as_str()).collect();
    let mut taken: Vec<&str> = BUILT_IN_COMMANDS.to_vec();
    for (spec, record) in &commands {
        // A plugin cannot take over a command of anton's own, nor another's name.
        if spec.kind.is_cli() && !BUILT_IN_COMMANDS.contains(&spec.name.as_str()) {
            let aliases: Vec<&String> = spec
                .aliases
                .iter()
                .filter(|a| !names.contains(&a.as_str()) && !taken.contains(&a.as_str()))
                .collect();
            taken.extend(aliases.iter().map(|a| a.as_str()));
            cmd = cmd.subcommand(
                Command::new(spec.name.clone())
                    .about(format!(
                        "{} [{}]",
                        crate::terminal::sanitize_line(&spec.summary),
                        record.id()
                    ))
                    .aliases(aliases)
                    .disable_help_flag(true)
                    .arg(
                        Arg::new("args")
                            .num_args(0..)
                            .trailing_var_arg(true)
                            .allow_hyphen_values(true)
                            .value_parser(clap::value_parser!(OsString)),
                    ),
            );
        }
    }
    for (flag, _, runnable) in catalog.launch_flags() {
        let mut arg = Arg::new(format!("launch:{}", flag.long))
            .long(flag.long.clone())
            .help(crate::terminal::sanitize_line(&flag.summary))
            .hide(!runnable);
        if let Some(short) = flag.short {
            arg = arg.short(short);
        }
        arg = match &flag.value_name {
            Some(value) => arg.value_name(value.clone()).num_args(0..=1).default_missing_value(""),
            None => arg.action(ArgAction::SetTrue),
        };
        cmd = cmd.arg(arg);
    }
    cmd
}

/// Run the plugin behind a launch flag (`--resume`), if one was given.
fn run_launch_flags(host: &mut PluginHost, matches: &ArgMatches) -> Option<Result<Outcome, String>> {
    let (long, args) = host.catalog.launch_flags().into_iter().find_map(|(flag, _, _)| {
        let id = format!("launch:{}", flag.long);
        let args = match &flag.value_name {
            Some(_) => matches
                .get_one::<String>(&id)
                .map(|v| v.split_whitespace().map(str::to_string).collect())?,
            None => matches.get_flag(&id).then(Vec::new)?,
        };
        Some((flag.long.clone(), args))
    })?;
    Some(match host.dispatch(&long, args, Origin::Launch) {
        Dispatch::Ran(result) => result.map_err(|failure| failure.to_string()),
        Dispatch::Unavailable(why) => Err(why),
        Dispatch::Unknown => unreachable!("launch flags come from the catalog"),
    })
}

fn run_plugin_command(host: &mut PluginHost, name: &str, args: Vec<String>) -> Result<ExitCode, String> {
    match host.dispatch(name, args, Origin::Cli) {
        Dispatch::Ran(Ok(outcome)) => Ok(ExitCode::from(outcome.exit_code)),
        Dispatch::Ran(Err(failure)) => {
            eprintln!("error: {}", crate::terminal::sanitize_line(&failure.to_string()));
            Ok(ExitCode::from(1))
        }
        Dispatch::Unavailable(why) => {
            eprintln!("{}", crate::terminal::sanitize(&why));
            Ok(ExitCode::from(1))
        }
        Dispatch::Unknown => {
            let mut names: Vec<String> = host
                .catalog
                .commands()
                .into_iter()
                .filter(|(c, _)| c.kind.is_cli())
                .map(|(c, _)| c.name.clone())
                .collect();
            names.extend(["plugins", "trust"].map(String::from));
            let hint = crate::terminal::nearest(name, &names)
                .map(|n| format!("did you mean `anton {n}`? "))
                .unwrap_or_default();
            Err(format!(
                "unknown command '{}'; {hint}`anton --help` lists them",
                crate::terminal::sanitize_line(name)
            ))
        }
    }
}
