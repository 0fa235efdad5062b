//! The plugin host, driven through the real binary: built-ins, faults,
//! per-workspace switches, replacement, trust, install and check.

mod common;

use common::{Env, repo_root, staged_plugin};

#[test]
fn the_embedded_built_ins_are_exactly_the_declared_plugins() {
    let mut declared: Vec<String> = std::fs::read_dir(repo_root().join("plugins"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("anton-plugin.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    declared.sort();
    let mut embedded: Vec<String> = anton::plugin_host::BUILTIN_PLUGINS
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    embedded.sort();
    assert_eq!(embedded, declared);
    assert_eq!(declared, ["connect", "resume", "sessions", "share"]);
}

#[test]
fn every_built_in_agrees_with_its_manifest() {
    let env = Env::new();
    for name in ["sessions", "resume", "share", "connect"] {
        let dir = repo_root().join("plugins").join(name);
        let staged = env.home.path().join(name);
        std::fs::create_dir_all(&staged).unwrap();
        std::fs::copy(dir.join("anton-plugin.toml"), staged.join("anton-plugin.toml")).unwrap();
        let wasm = repo_root().join(format!("target/anton-plugins/wasm32-wasip2/plugin/{name}.wasm"));
        std::fs::copy(wasm, staged.join(format!("{name}.wasm"))).unwrap();
        let run = env.run(&["plugins", "check", staged.to_str().unwrap()]);
        run.ok();
        assert!(run.stdout.starts_with(&format!("ok: plugin '{name}'")), "{run:#?}");
    }
}

#[test]
fn plugins_list_shows_the_built_ins_running_with_their_commands() {
    let env = Env::new();
    let list = env.run(&["plugins", "list", "--json"]).ok().json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sessions", "resume", "share", "connect"]);
    for plugin in list.as_array().unwrap() {
        assert_eq!(plugin["source"], "built-in");
        assert_eq!(plugin["runnable"], true, "{plugin}");
    }
    let table = env.run(&["plugins", "list"]).ok().stdout.clone();
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("share     0.1.0    built-in  enabled"), "{table}");
}

#[test]
fn help_lists_plugin_commands_and_launch_flags() {
    let env = Env::new();
    let help = env.run(&["--help"]).ok().stdout.clone();
    // Exact names, each where help lists it: "session" is inside "sessions".
    let commands: Vec<&str> = help
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.split_whitespace().next())
        .collect();
    for expected in ["sessions", "session", "share", "plugins", "trust"] {
        assert!(
            commands.contains(&expected),
            "--help lacks the command {expected}:\n{help}"
        );
    }
    let flags: Vec<&str> = help.split_whitespace().map(|w| w.trim_end_matches(',')).collect();
    for expected in ["--resume", "--continue", "-r", "-c"] {
        assert!(flags.contains(&expected), "--help lacks the flag {expected}:\n{help}");
    }
}

#[test]
fn disabling_share_in_one_workspace_leaves_another_untouched() {
    let env = Env::new();
    let other = tempfile::tempdir().unwrap();
    env.run(&["plugins", "disable", "share"]).ok();

    let here = env.run(&["share", "status"]);
    assert_eq!(here.code, 1);
    assert!(
        here.stderr
            .contains("`share` is disabled in this workspace (plugin 'share')"),
        "{here:#?}"
    );
    assert!(here.stderr.contains("anton plugins enable share"), "{here:#?}");
    let config = std::fs::read_to_string(env.ws().join(".anton/config.toml")).unwrap();
    assert!(
        config.contains("[plugins.share]") && config.contains("enabled = false"),
        "{config}"
    );

    let there = env.run_in(other.path(), &["plugins", "list", "--json"]).ok().json();
    let share = there.as_array().unwrap().iter().find(|p| p["id"] == "share").unwrap();
    assert_eq!(share["enabled"], true);
    assert!(!env.run_in(other.path(), &["--help"]).stdout.is_empty());

    env.run(&["plugins", "enable", "share"]).ok();
    let again = env.run(&["share", "status"]);
    assert!(!again.stderr.contains("disabled"), "{again:#?}");
}

#[test]
fn a_global_disable_applies_everywhere_but_a_workspace_setting_wins() {
    let env = Env::new();
    let other = tempfile::tempdir().unwrap();
    env.run(&["plugins", "disable", "sessions", "--global"]).ok();
    let run = env.run_in(other.path(), &["sessions"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("anton plugins enable sessions --global"),
        "{run:#?}"
    );
    env.run(&["plugins", "enable", "sessions"]).ok();
    env.run(&["sessions"]).ok();
}

#[test]
fn a_workspace_plugin_replaces_the_built_in_sessions_command_there_only() {
    let env = Env::new();
    let other = tempfile::tempdir().unwrap();
    env.install("replacement").ok();
    let here = env.run(&["sessions"]).ok().stdout.clone();
    assert_eq!(here.trim(), "team sessions: served by the workspace plugin");
    let there = env.run_in(other.path(), &["sessions"]).ok().stdout.clone();
    assert!(there.contains("No sessions found."), "{there}");
    // The built-in still serves `session` here.
    assert!(env.run(&["session", "nope"]).stderr.contains("Session nope not found."));
}

#[test]
fn a_plugin_that_traps_is_reported_by_name_with_its_panic_message() {
    let env = Env::new();
    env.install("faulty").ok();
    let run = env.run(&["faulty", "trap"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("plugin 'faulty' 0.1.0 crashed in `faulty`"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("deliberate panic in faulty"), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
}

#[test]
fn a_plugin_that_loops_is_stopped_at_its_time_limit() {
    let env = Env::new();
    env.install("faulty").ok();
    let run = env.run(&["faulty", "loop"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("plugin 'faulty' 0.1.0 ran past its 300 ms time limit"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("timeout_ms"), "{run:#?}");
}

#[test]
fn a_plugin_that_allocates_without_end_hits_its_memory_limit() {
    let env = Env::new();
    env.install("faulty").ok();
    let run = env.run(&["faulty", "alloc"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("plugin 'faulty' 0.1.0 hit its 16 MiB memory limit"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("memory_mb"), "{run:#?}");
}

#[test]
fn a_plugin_cannot_read_files_it_was_not_granted() {
    let env = Env::new();
    env.install("faulty").ok();
    let run = env.run(&["faulty", "read-passwd"]).ok().stdout.clone();
    assert!(run.starts_with("no access to /etc/passwd"), "{run}");
    assert!(!run.contains("root:"), "{run}");
}

#[test]
fn a_plugin_sees_no_environment() {
    let env = Env::new();
    env.install("faulty").ok();
    let run = env.run(&["faulty", "env"]).ok().stdout.clone();
    assert_eq!(run.trim(), "environment variables: 0");
}

#[test]
fn capabilities_a_plugin_did_not_ask_for_are_denied_with_a_hint() {
    let env = Env::new();
    env.install("faulty").ok();
    for (what, capability) in [("llm", "llm"), ("sessions", "sessions-read")] {
        let run = env.run(&["faulty", what]);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(
            run.stderr
                .contains(&format!("plugin 'faulty' may not use {capability}")),
            "{run:#?}"
        );
        assert!(run.stderr.contains("anton-plugin.toml"), "{run:#?}");
    }
}

#[test]
fn a_plugin_that_crashes_mid_build_or_mid_write_leaves_nothing_behind() {
    let env = Env::new();
    env.install("faulty").ok();
    let run = env.run(&["faulty", "half-import"]);
    assert!(run.stderr.contains("crashed with a session half built"), "{run:#?}");
    assert_eq!(
        env.store().count_sessions().unwrap(),
        0,
        "the half-built session was rolled back"
    );
    let run = env.run(&["faulty", "half-export"]);
    assert!(run.stderr.contains("crashed with a file half written"), "{run:#?}");
    let output = env.ws().join(".anton/output");
    assert_eq!(
        common::every_file(&output),
        Vec::<std::path::PathBuf>::new(),
        "nothing left in {output:?}"
    );

    // A plugin cannot say a built session was forked from another.
    let built = env.run(&["faulty", "commit-twice"]);
    assert!(built.ok().stdout.contains("forked from None"), "{built:#?}");
    assert_eq!(env.store().count_sessions().unwrap(), 1);

    // Output files are plain names in the output folder, never paths.
    for name in ["../escaped.anton", ".hidden", "a/b.anton", "", "tab\there"] {
        let run = env.run(&["faulty", "output", name]);
        assert_eq!(run.code, 1, "{name:?}: {run:#?}");
        assert!(run.stderr.contains("cannot name an output file"), "{name:?}: {run:#?}");
    }
    assert!(!env.ws().join(".anton/escaped.anton").exists());
    let first = env.run(&["faulty", "output", "notes.txt"]);
    assert!(first.ok().stdout.ends_with("/.anton/output/notes.txt\n"), "{first:#?}");
    let second = env.run(&["faulty", "output", "notes.txt"]);
    assert!(
        second.ok().stdout.ends_with("/.anton/output/notes-2.txt\n"),
        "no file is replaced: {second:#?}"
    );
}

#[test]
fn a_plugin_that_arrives_with_a_workspace_runs_only_once_trusted_and_again_after_a_change() {
    let env = Env::new();
    // As if cloned with the repository: copied in, never installed.
    let dir = staged_plugin("faulty", &env.ws().join(".anton/plugins"));
    let untrusted = env.run(&["faulty", "ok"]);
    assert_eq!(untrusted.code, 1);
    assert!(
        untrusted.stderr.contains("which you have not trusted"),
        "{untrusted:#?}"
    );
    assert!(
        untrusted.stderr.contains("anton plugins trust faulty"),
        "{untrusted:#?}"
    );

    let refused = env.run_with_input(&["plugins", "trust", "faulty"], "n\n");
    assert_eq!(refused.code, 1);
    assert!(refused.stdout.contains("Not trusted."), "{refused:#?}");
    env.run_with_input(&["plugins", "trust", "faulty"], "y\n").ok();
    assert!(env.run(&["faulty", "ok"]).ok().stdout.contains("faulty is fine"));

    let wasm = dir.join("faulty.wasm");
    let mut bytes = std::fs::read(&wasm).unwrap();
    // A custom section (id 0, 4 bytes: name "abc"): still a valid component.
    bytes.extend_from_slice(&[0, 4, 3, b'a', b'b', b'c']);
    std::fs::write(&wasm, &bytes).unwrap();
    let changed = env.run(&["faulty", "ok"]);
    assert_eq!(changed.code, 1);
    assert!(changed.stderr.contains("changed since you trusted it"), "{changed:#?}");
}

#[test]
fn a_trusted_plugin_whose_manifest_changes_is_trusted_no_more() {
    let env = Env::new();
    env.install("faulty").ok();
    assert!(env.run(&["faulty", "ok"]).ok().stdout.contains("faulty is fine"));
    // Same component; the manifest now asks for far more memory and a new name.
    let manifest = env.ws().join(".anton/plugins/faulty/anton-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let grown = text.replace("memory_mb = 16", "memory_mb = 1024").replace(
        "kind = \"both\"",
        "kind = \"both\"\naliases = [\"sessions\", \"help\", \"stats2\"]",
    );
    std::fs::write(&manifest, grown).unwrap();
    let run = env.run(&["faulty", "alloc"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("changed since you trusted it"), "{run:#?}");
    // Trusted again: an alias another command has is never taken, and nothing panics.
    env.run_with_input(&["plugins", "trust", "faulty"], "y\n").ok();
    let listed = env.run(&["sessions"]);
    assert!(listed.ok().stdout.contains("No sessions found"), "{listed:#?}");
    assert!(env.run(&["stats2", "ok"]).ok().stdout.contains("faulty is fine"));
}

#[test]
fn install_refuses_a_plugin_whose_manifest_lies_and_installs_nothing() {
    let env = Env::new();
    let dir = staged_plugin("faulty", &env.home.path().join("liar"));
    let manifest = dir.join("anton-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("name = \"faulty\"", "name = \"trustme\"")).unwrap();
    for command in ["install", "check"] {
        let run =
            env.run(&["plugins", command, dir.to_str().unwrap(), "--yes"][..if command == "check" { 3 } else { 4 }]);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(
            run.stderr
                .contains("it lists command 'trustme', which the component does not serve"),
            "{run:#?}"
        );
        assert!(
            run.stderr
                .contains("the component serves 'faulty', which the manifest does not list"),
            "{run:#?}"
        );
    }
    assert!(!env.ws().join(".anton/plugins/faulty").exists());
}

#[test]
fn install_refuses_an_unknown_wit_version_and_a_non_component() {
    let env = Env::new();
    let dir = staged_plugin("faulty", &env.home.path().join("future"));
    let manifest = dir.join("anton-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("api = \"0.2.0\"", "api = \"0.9.0\"")).unwrap();
    let run = env.run(&["plugins", "install", dir.to_str().unwrap(), "--yes"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("field `api`: anton:plugin@0.9.0 is not served by this anton"),
        "{run:#?}"
    );
    // Built against 0.2.0 (it reads and writes in pieces), said to be 0.1.0.
    std::fs::write(&manifest, text.replace("api = \"0.2.0\"", "api = \"0.1.0\"")).unwrap();
    let run = env.run(&["plugins", "install", dir.to_str().unwrap(), "--yes"]);
    assert_eq!(run.code, 1);
    // Whichever 0.2.0 interface the host meets first is named.
    assert!(
        run.stderr
            .contains("its manifest says api 0.1.0, but the component imports anton:plugin/")
            && run
                .stderr
                .contains("@0.2.0; set `api = \"0.2.0\"` in its anton-plugin.toml"),
        "{run:#?}"
    );

    std::fs::write(&manifest, text).unwrap();
    // A core module: magic and version 1, no component layer.
    std::fs::write(dir.join("faulty.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let run = env.run(&["plugins", "install", dir.to_str().unwrap(), "--yes"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("plugin 'faulty': the file is a core wasm module, not a component"),
        "{run:#?}"
    );
    std::fs::write(dir.join("faulty.wasm"), b"hello").unwrap();
    let run = env.run(&["plugins", "check", dir.to_str().unwrap()]);
    assert!(run.stderr.contains("the file is not WebAssembly"), "{run:#?}");
    assert!(!env.ws().join(".anton/plugins").exists());
}

#[test]
fn a_broken_workspace_plugin_is_listed_with_the_file_and_field() {
    let env = Env::new();
    let dir = env.ws().join(".anton/plugins/bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("anton-plugin.toml"),
        "id = \"bad\"\nversion = \"1\"\napi = \"0.1.0\"\ncommands = []\n",
    )
    .unwrap();
    let list = env.run(&["plugins", "list"]).ok().clone();
    assert!(list.stdout.contains("broken"), "{list:#?}");
    assert!(list.stderr.contains("anton-plugin.toml: field `version`"), "{list:#?}");
}

#[test]
fn remove_takes_an_installed_plugin_away_but_never_a_built_in() {
    let env = Env::new();
    env.install("faulty").ok();
    env.run(&["plugins", "remove", "faulty"]).ok();
    assert!(!env.ws().join(".anton/plugins/faulty").exists());
    let run = env.run(&["plugins", "remove", "share"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("built in and cannot be removed"), "{run:#?}");
}

#[test]
fn a_cold_cache_compiles_a_plugin_once_and_a_corrupt_entry_is_recompiled() {
    let env = Env::with_cold_cache();
    let cached = || env.compiled_plugins();
    env.run(&["plugins", "list"]).ok();
    assert_eq!(cached().len(), 0, "listing built-ins compiles nothing");
    env.run(&["sessions"]).ok();
    let entries = cached();
    assert_eq!(entries.len(), 1, "only the plugin that ran: {entries:?}");
    let compiled = std::fs::metadata(&entries[0]).unwrap().modified().unwrap();
    env.run(&["sessions"]).ok();
    assert_eq!(
        std::fs::metadata(&entries[0]).unwrap().modified().unwrap(),
        compiled,
        "compiled once"
    );
    std::fs::write(&entries[0], b"garbage").unwrap();
    let run = env.run(&["sessions"]).ok().clone();
    assert!(run.stdout.contains("No sessions found."), "{run:#?}");
    assert!(
        std::fs::read(&entries[0]).unwrap().len() > 1000,
        "{} was rewritten",
        entries[0].display()
    );
}

#[test]
fn in_one_process_the_host_survives_a_trap_and_starts_the_plugin_afresh() {
    use anton::interfaces::latest::command::Origin;
    use anton::plugin_host::Dispatch;
    use anton::plugin_host::PluginHost;
    use anton::plugin_host::catalog::Catalog;
    use anton::services::Services;

    let env = Env::new();
    env.install("faulty").ok();
    let home = env.home.path();
    let paths = anton::workspace::Paths {
        workspace: env.ws().to_path_buf(),
        anton_dir: env.ws().join(".anton"),
        user_config: home.join("config/anton"),
        user_data: home.join("data/anton"),
        user_cache: Some(env.cache.join("anton")),
        home: home.to_path_buf(),
    };
    let config = anton::config::Config::load(&paths).unwrap();
    let trust = anton::plugin_host::trust::TrustStore::load(&paths.user_data).unwrap();
    let catalog = Catalog::discover(&paths, &config, &trust);
    let mut host = PluginHost::new(catalog, Services::new(paths));
    let mut call = |what: &str| match host.dispatch("faulty", vec![what.into()], Origin::Chat) {
        Dispatch::Ran(result) => result.map_err(|e| e.to_string()),
        _ => panic!("faulty should be runnable"),
    };
    assert_eq!(call("ok").unwrap().exit_code, 0);
    for fault in ["trap", "loop", "alloc"] {
        let error = call(fault).unwrap_err();
        assert!(error.starts_with("plugin 'faulty' 0.1.0 "), "{error}");
        // The broken instance is gone; the next call gets a fresh one that works.
        call("ok").unwrap();
    }
}

#[test]
fn the_build_hashes_each_embedded_plugin_correctly() {
    for builtin in anton::plugin_host::BUILTIN_PLUGINS {
        assert_eq!(
            builtin.sha256,
            anton::plugin_host::engine::sha256_hex(builtin.wasm),
            "{}",
            builtin.id
        );
    }
}

/// `faulty` staged with its manifest's files grant replaced by `grant`.
fn faulty_with_grant(env: &Env, grant: &str) -> std::path::PathBuf {
    let dir = staged_plugin("faulty", &env.home.path().join("granting"));
    let manifest = dir.join("anton-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let granted = text.replace("path = \"{workspace}/faulty-out\"", &format!("path = \"{grant}\""));
    assert_ne!(granted, text, "the faulty manifest grants {{workspace}}/faulty-out");
    std::fs::write(&manifest, granted).unwrap();
    dir
}

#[test]
fn describe_runs_sealed_so_check_install_and_trust_act_for_no_one_before_consent() {
    let env = Env::new();
    let dir = staged_plugin("faulty", &env.home.path().join("staged"));
    let dir = dir.to_str().unwrap();
    let out = env.ws().join("faulty-out");
    let nothing_happened = |run: &common::Run| {
        assert!(
            !out.exists(),
            "describe created {} before consent: {run:#?}",
            out.display()
        );
        assert!(
            !env.ws().join(".anton/anton.db").exists(),
            "describe reached the store: {run:#?}"
        );
        let shown = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !shown.contains("faulty describe"),
            "describe reached the terminal: {run:#?}"
        );
    };

    let check = env.run(&["plugins", "check", dir]);
    check.ok();
    assert!(check.stdout.starts_with("ok: plugin 'faulty'"), "{check:#?}");
    assert!(
        check
            .stdout
            .contains("  asks for files: read and write {workspace}/faulty-out"),
        "{check:#?}"
    );
    assert!(!check.stdout.contains("OUTSIDE THIS WORKSPACE"), "{check:#?}");
    nothing_happened(&check);

    let refused = env.run_with_input(&["plugins", "install", dir], "n\n");
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert!(refused.stdout.contains("Not installed."), "{refused:#?}");
    nothing_happened(&refused);

    // Arrived with the workspace: reviewing it runs nothing with its grant either.
    let other = Env::new();
    staged_plugin("faulty", &other.ws().join(".anton/plugins"));
    let not_trusted = other.run_with_input(&["plugins", "trust", "faulty"], "n\n");
    assert!(not_trusted.stdout.contains("Not trusted."), "{not_trusted:#?}");
    assert!(!other.ws().join("faulty-out").exists(), "{not_trusted:#?}");

    env.run(&["plugins", "install", dir, "--yes"]).ok();
    env.run(&["faulty", "ok"]).ok();
    assert!(out.is_dir(), "a consented run gets its grant");
}

#[test]
fn whole_tree_grants_are_refused_and_grants_outside_the_workspace_stand_out() {
    let env = Env::new();
    let home = env.home.path().to_str().unwrap().to_string();
    for (grant, why) in [
        ("/".to_string(), "'/' is the whole file system"),
        ("/etc".to_string(), "'/etc' is a top-level folder"),
        (home.clone(), "is your home folder"),
        ("~/notes".to_string(), "uses ~"),
    ] {
        let dir = faulty_with_grant(&env, &grant);
        for command in ["check", "install"] {
            let run = env
                .run(&["plugins", command, dir.to_str().unwrap(), "--yes"][..if command == "check" { 3 } else { 4 }]);
            assert_eq!(run.code, 1, "{grant}: {run:#?}");
            assert!(run.stderr.contains("field `capabilities.files`"), "{grant}: {run:#?}");
            assert!(run.stderr.contains(why), "{grant}: {run:#?}");
        }
    }
    assert!(!env.ws().join(".anton/plugins").exists());

    let shared = env.home.path().join("shared/data");
    let dir = faulty_with_grant(&env, shared.to_str().unwrap());
    let check = env.run(&["plugins", "check", dir.to_str().unwrap()]);
    check.ok();
    let refused = env.run_with_input(&["plugins", "install", dir.to_str().unwrap()], "n\n");
    assert_eq!(refused.code, 1);
    for run in [&check, &refused] {
        let line = format!("OUTSIDE THIS WORKSPACE: it may read and write {}", shared.display());
        assert!(run.stdout.lines().any(|l| l == line), "{run:#?}");
    }
    assert!(!shared.exists(), "nothing is created before consent");
}

#[test]
fn a_workspace_grant_that_leads_out_through_a_link_is_refused_at_run_time() {
    let env = Env::new();
    env.install("faulty").ok();
    // A repository can carry a link where the grant's folder would be.
    std::os::unix::fs::symlink(env.home.path(), env.ws().join("faulty-out")).unwrap();
    let run = env.run(&["faulty", "ok"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("plugin 'faulty': its grant {workspace}/faulty-out leads to"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("outside this workspace"), "{run:#?}");
}

#[test]
fn a_workspace_grant_is_refused_where_the_workspace_is_a_whole_tree() {
    let env = Env::new();
    let dir = staged_plugin("faulty", &env.home.path().join("staged"));
    let manifest = dir.join("anton-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("{workspace}/faulty-out", "{workspace}")).unwrap();
    env.run(&["plugins", "install", dir.to_str().unwrap(), "--global", "--yes"])
        .ok();
    assert!(env.run(&["faulty", "ok"]).ok().stdout.contains("faulty is fine"));
    // The same grant, with anton started in the home folder: all of it.
    let run = env.run_in(env.home.path(), &["faulty", "read-passwd"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("its grant {workspace} leads to"), "{run:#?}");
    assert!(run.stderr.contains("your home folder"), "{run:#?}");
    assert!(!run.stdout.contains("root:"), "{run:#?}");
}

#[test]
fn plugin_output_reaches_the_terminal_without_escape_sequences() {
    let env = Env::new();
    env.install("faulty").ok();
    let run = env.run(&["faulty", "escape"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.contains("stdout ␛]52;c;cHduZWQ=␇ ␛[2J"), "{run:#?}");
    assert!(run.stderr.contains("stderr ␛]0;pwned␇"), "{run:#?}");
    assert!(run.stderr.contains("error: faulty: error ␛[31mred"), "{run:#?}");
    let trapped = env.run(&["faulty", "escape-trap"]);
    assert_eq!(trapped.code, 1, "{trapped:#?}");
    assert!(
        trapped.stderr.contains("tail ␛]8;;https://evil.example␇link"),
        "{trapped:#?}"
    );
    for run in [&run, &trapped] {
        let shown = format!("{}{}", run.stdout, run.stderr);
        assert!(!shown.contains(['\x1b', '\x07', '\u{9b}']), "{run:#?}");
    }
}

/// A finished run and the most memory it held, in bytes. Stopped (and the
/// test failed) past a generous time or memory guard, so a regression
/// cannot hang the suite or exhaust the machine.
fn run_guarded(env: &Env, args: &[&str]) -> (common::Run, u64) {
    use std::io::Read;
    use std::process::Stdio;
    const TIME_GUARD: std::time::Duration = std::time::Duration::from_secs(20);
    const MEMORY_GUARD_KB: u64 = 512 * 1024;
    #[expect(clippy::zombie_processes, reason = "reaped by waitpid below")]
    let mut child = env
        .command_in(env.ws(), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).ok();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let started = std::time::Instant::now();
    // The peak is read from /proc as it runs: the rusage wait4 reports
    // counts in the memory of the process that spawned the child, this
    // test process.
    let mut peak_kb = 0;
    loop {
        let mut status = 0;
        // SAFETY: pid is our own child, not yet reaped; the pointer is live.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(reaped >= 0, "waitpid failed: {}", std::io::Error::last_os_error());
        if reaped == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
            let run = common::Run {
                code,
                stdout: stdout.join().unwrap(),
                stderr: stderr.join().unwrap(),
            };
            return (run, peak_kb * 1024);
        }
        let high_water_kb = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
        peak_kb = peak_kb.max(high_water_kb);
        if started.elapsed() > TIME_GUARD || high_water_kb > MEMORY_GUARD_KB {
            child.kill().ok();
            child.wait().ok();
            panic!(
                "anton {args:?} was stopped after {:?} having held {high_water_kb} KiB",
                started.elapsed()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[test]
fn hostile_workspace_plugin_files_cost_ordinary_commands_nothing() {
    const MEMORY_BUDGET: u64 = 200 * 1024 * 1024;
    type Make = fn(&std::path::Path);
    let kinds: [(&str, Make, &str); 3] = [
        (
            "a link to /dev/zero",
            |wasm| std::os::unix::fs::symlink("/dev/zero", wasm).unwrap(),
            "a symbolic link, not a regular file",
        ),
        (
            "a FIFO",
            |wasm| {
                let path = std::ffi::CString::new(wasm.to_str().unwrap()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
            },
            "a FIFO, not a regular file",
        ),
        (
            "a 1 GiB sparse file",
            |wasm| std::fs::File::create(wasm).unwrap().set_len(1 << 30).unwrap(),
            "1 GiB, over the 64 MiB limit",
        ),
    ];
    for (kind, make, refusal) in kinds {
        for trusted in [false, true] {
            let env = Env::new();
            let dir = env.ws().join(".anton/plugins/x");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("anton-plugin.toml"),
                "id = \"x\"\nversion = \"0.1.0\"\napi = \"0.1.0\"\ncomponent = \"plugin.wasm\"\n\
                 [[commands]]\nname = \"x\"\nkind = \"cli\"\nsummary = \"x\"\n",
            )
            .unwrap();
            make(&dir.join("plugin.wasm"));
            if trusted {
                let location = env.ws().canonicalize().unwrap().join(".anton/plugins/x");
                let record = serde_json::json!({"plugins": [{"location": location, "id": "x",
                    "sha256": "0".repeat(64), "granted": {}, "trusted_at": 0}]});
                let data = env.home.path().join("data/anton");
                std::fs::create_dir_all(&data).unwrap();
                std::fs::write(data.join("trusted-plugins.json"), record.to_string()).unwrap();
            }
            let case = format!("{kind}, trusted: {trusted}");
            let (sessions, peak) = run_guarded(&env, &["sessions"]);
            sessions.ok();
            assert!(sessions.stdout.contains("No sessions found."), "{case}: {sessions:#?}");
            assert!(peak < MEMORY_BUDGET, "{case}: `anton sessions` peaked at {peak} bytes");
            if !trusted {
                assert!(
                    sessions.stderr.is_empty(),
                    "{case}: untrusted, so not even read: {sessions:#?}"
                );
            }
            let (list, peak) = run_guarded(&env, &["plugins", "list"]);
            list.ok();
            assert!(
                peak < MEMORY_BUDGET,
                "{case}: `anton plugins list` peaked at {peak} bytes"
            );
            let line = list
                .stderr
                .lines()
                .find(|l| l.contains("plugin.wasm"))
                .unwrap_or_else(|| panic!("{case}: the refused file is not named: {list:#?}"));
            assert!(line.contains(refusal), "{case}: {line}");
            assert!(list.stdout.contains("broken"), "{case}: {list:#?}");
        }
    }
}

#[test]
fn a_linked_plugin_folder_is_refused_wherever_it_comes_from() {
    let env = Env::new();
    let real = staged_plugin("faulty", &env.home.path().join("elsewhere"));
    let plugins = env.ws().join(".anton/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(&real, plugins.join("faulty")).unwrap();
    let list = env.run(&["plugins", "list"]);
    assert!(
        list.stderr.contains("a symbolic link, not a plugin folder"),
        "{list:#?}"
    );
    let run = env.run(&["faulty", "ok"]);
    assert_eq!(run.code, 1, "{run:#?}");

    let link = env.home.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let install = env.run(&["plugins", "install", link.to_str().unwrap(), "--yes"]);
    assert_eq!(install.code, 1, "{install:#?}");
    assert!(
        install.stderr.contains("a symbolic link, not a plugin folder"),
        "{install:#?}"
    );
}
