//! `share push | pull | list --remote | key` through the real binary, on a
//! team folder (`file://`): encryption to teammates, the workspace's
//! policy and trust, what a failed push leaves.

mod common;

use std::path::{Path, PathBuf};

use anton::store::NewSession;
use common::{Env, every_file};

/// A session with words no one outside the team should read.
fn worked_session(env: &Env) -> String {
    let store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    store
        .append_message(&s.id, 1, "user", "why did churn rise in Q3?", "{}", None)
        .unwrap();
    store
        .append_message(
            &s.id,
            1,
            "assistant",
            "Churn rose with the Falcon price change.",
            "{}",
            None,
        )
        .unwrap();
    store.set_title(&s.id, "Churn in Q3", false).unwrap();
    store.set_summary(&s.id, "Churn rose with the price change.").unwrap();
    s.id
}

fn config_file(env: &Env) -> PathBuf {
    env.home.path().join("config/anton/config.toml")
}

/// `[share]` in the user's own config.toml.
fn share_settings(env: &Env, settings: &str) {
    env.user_config(&format!("[share]\n{settings}\n"));
}

fn team_remote(team: &Path) -> String {
    format!("remote = \"file://{}\"", team.display())
}

/// The public key `share key` makes for this user.
fn own_key(env: &Env) -> String {
    let run = env.run(&["share", "key"]);
    run.ok().stdout.lines().last().unwrap().trim().to_string()
}

fn shared(team: &Path) -> Vec<PathBuf> {
    every_file(team)
}

#[test]
fn a_push_encrypted_to_a_teammate_lists_and_pulls_on_their_machine_only() {
    let team = tempfile::tempdir().unwrap();
    let (ann, bob, eve) = (Env::new(), Env::new(), Env::new());
    let bobs_key = own_key(&bob);
    assert!(bobs_key.starts_with("age1"), "{bobs_key}");
    assert_eq!(own_key(&bob), bobs_key, "the key is made once");
    let identity = bob.home.path().join(".anton/identity.txt");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&identity).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for env in [&ann, &bob, &eve] {
        share_settings(env, &team_remote(team.path()));
    }
    let id = worked_session(&ann);

    let push = ann.run(&["share", "push", "--to", &bobs_key]);
    push.ok();
    assert!(push.stdout.contains("Session pushed"), "{push:#?}");
    assert!(push.stdout.contains("Encrypted: to 1 key"), "{push:#?}");
    let files = shared(team.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.ends_with(".anton.age") && name.contains("churn-in-q3"), "{name}");
    let stored = std::fs::read(&files[0]).unwrap();
    assert!(
        stored.starts_with(b"age-encryption.org/v1"),
        "the remote holds only ciphertext"
    );
    assert!(!String::from_utf8_lossy(&stored).contains("Falcon"));

    let listed = bob.run(&["share", "list", "--remote", "--json"]).ok().json();
    assert_eq!(listed["total"], 1);
    let row = &listed["shares"][0];
    assert_eq!(row["name"], name.as_str());
    assert_eq!(row["title"], "churn in q3");
    assert_eq!(row["encrypted"], true);
    assert_eq!(row["size"], stored.len() as u64);
    let table = bob.run(&["share", "list", "--remote"]).ok().stdout.clone();
    assert!(
        table.contains("churn in q3") && table.contains("Page 1 of 1 · 1 share"),
        "{table}"
    );

    let refused = eve.run(&["share", "pull", "--latest"]);
    refused.fails();
    assert!(
        refused.stderr.contains("it is encrypted, and you have no key"),
        "{refused:#?}"
    );
    own_key(&eve);
    let refused = eve.run(&["share", "pull", "--latest"]);
    assert!(
        refused
            .fails()
            .stderr
            .contains("it was encrypted to other keys than yours (~/.anton/identity.txt)"),
        "{refused:#?}"
    );
    assert!(eve.store().list_sessions(&Default::default()).unwrap().is_empty());
    assert!(
        every_file(&eve.ws().join(".anton/pulled")).is_empty(),
        "nothing of a share no key opened is kept"
    );

    let pull = bob.run(&["share", "pull", "churn-in-q3"]);
    assert!(pull.ok().stdout.contains("Imported: Churn in Q3"), "{pull:#?}");
    let store = bob.store();
    let copy = store.list_sessions(&Default::default()).unwrap().remove(0).0;
    let said: Vec<String> = store
        .messages(&copy.id, 0)
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    let original: Vec<String> = ann
        .store()
        .messages(&id, 0)
        .unwrap()
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(said, original);
    assert_eq!(
        copy.provenance.source_file.as_deref(),
        Some(format!("file://{}/{name}", team.path().display()).as_str())
    );

    let history = ann.run(&["share", "history", "--json"]).ok().json();
    let pushed = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["remote"] == true)
        .unwrap();
    assert_eq!(pushed["direction"], "export");
    assert_eq!(
        pushed["path"],
        format!("file://{}/{name}", team.path().display()).as_str()
    );
    let status = ann.run(&["share", "status"]).ok().stdout.clone();
    assert!(status.contains("pushed to file://"), "{status}");
    let pulled = bob.run(&["share", "history"]).ok().stdout.clone();
    assert!(pulled.contains("pull · full"), "{pulled}");
}

#[test]
fn the_team_list_encrypts_every_push_and_a_plain_push_says_it_is_plain() {
    let team = tempfile::tempdir().unwrap();
    let (ann, bob) = (Env::new(), Env::new());
    let bobs_key = own_key(&bob);
    share_settings(
        &ann,
        &format!("{}\nrecipients = [\"{bobs_key}\"]", team_remote(team.path())),
    );
    share_settings(&bob, &team_remote(team.path()));
    worked_session(&ann);
    let push = ann.run(&["share", "push"]);
    assert!(push.ok().stdout.contains("Encrypted: to 1 key"), "{push:#?}");
    let pull = bob.run(&["share", "pull", "--latest"]);
    assert!(pull.ok().stdout.contains("Imported: Churn in Q3"), "{pull:#?}");

    share_settings(&ann, &team_remote(team.path()));
    let plain = ann.run(&["share", "push", "--summary"]);
    assert!(
        plain
            .ok()
            .stdout
            .contains("Encrypted: no: anyone who can read the remote can read it"),
        "{plain:#?}"
    );
    let names: Vec<String> = shared(team.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.iter().filter(|n| n.ends_with(".anton")).count(), 1, "{names:?}");
    // Both are the same session: the newer one is the plain summary.
    let listed = bob.run(&["share", "list", "--remote", "--json"]).ok().json();
    assert_eq!(listed["shares"][0]["encrypted"], false);
    let ambiguous = bob.run(&["share", "pull", "churn"]);
    assert!(ambiguous.fails().stderr.contains("names 2 shares"), "{ambiguous:#?}");
}

#[test]
fn a_workspace_that_keeps_its_sessions_in_refuses_push_and_still_pulls() {
    let team = tempfile::tempdir().unwrap();
    let (ann, bob) = (Env::new(), Env::new());
    share_settings(&ann, &team_remote(team.path()));
    share_settings(&bob, &team_remote(team.path()));
    worked_session(&ann);
    ann.run(&["share", "push"]).ok();
    worked_session(&bob);
    std::fs::create_dir_all(bob.ws().join(".anton")).unwrap();
    std::fs::write(bob.ws().join(".anton/config.toml"), "[share]\npush = false\n").unwrap();
    let refused = bob.run(&["share", "push"]);
    assert!(
        refused
            .fails()
            .stderr
            .contains("this workspace keeps its sessions in (`[share] push = false`"),
        "{refused:#?}"
    );
    assert_eq!(shared(team.path()).len(), 1, "nothing more reached the remote");
    assert!(!bob.ws().join(".anton/output").exists(), "nothing was even exported");
    let pull = bob.run(&["share", "pull", "--latest"]);
    assert!(pull.ok().stdout.contains("Imported: "), "{pull:#?}");
}

#[test]
fn a_workspace_chooses_where_its_sessions_go_only_once_trusted() {
    let (theirs, ours) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let env = Env::new();
    share_settings(&env, &team_remote(ours.path()));
    worked_session(&env);
    // A cloned repository names a remote of its own.
    let workspace_config = env.ws().join(".anton/config.toml");
    std::fs::write(&workspace_config, format!("[share]\n{}\n", team_remote(theirs.path()))).unwrap();
    env.run(&["share", "push"]).ok();
    assert_eq!(
        shared(ours.path()).len(),
        1,
        "the user's own remote, not the workspace's"
    );
    assert!(shared(theirs.path()).is_empty());

    let trust = env.run(&["trust", "--yes"]);
    assert!(
        trust.ok().stdout.contains("choose where /share push sends sessions"),
        "{trust:#?}"
    );
    env.run(&["share", "push"]).ok();
    assert_eq!(shared(theirs.path()).len(), 1, "trusted, the workspace's remote counts");

    // Changed after it was trusted: ignored again until trusted again.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        &workspace_config,
        format!("[share]\n{}\n", team_remote(elsewhere.path())),
    )
    .unwrap();
    env.run(&["share", "push"]).ok();
    assert!(shared(elsewhere.path()).is_empty());
    assert_eq!(shared(ours.path()).len(), 2);

    std::fs::remove_file(config_file(&env)).unwrap();
    let refused = env.run(&["share", "push"]);
    assert!(
        refused
            .fails()
            .stderr
            .contains("this workspace's `[share] remote` counts once you trust the workspace: run `anton trust`"),
        "{refused:#?}"
    );
}

#[test]
fn without_a_remote_or_with_a_bad_key_nothing_leaves_and_the_fix_is_named() {
    let team = tempfile::tempdir().unwrap();
    let env = Env::new();
    worked_session(&env);
    let refused = env.run(&["share", "push"]);
    assert!(
        refused
            .fails()
            .stderr
            .contains("no team remote is set: add `[share] remote = \"s3://bucket/prefix\"`"),
        "{refused:#?}"
    );
    share_settings(&env, &team_remote(team.path()));
    let refused = env.run(&["share", "push", "--to", "age1notakey"]);
    assert!(refused.fails().stderr.contains("`age1notakey`"), "{refused:#?}");
    let refused = env.run(&["share", "push", "--to", "hunter2"]);
    assert!(
        refused
            .fails()
            .stderr
            .contains("not a public key; give an age key (age1…) or an SSH one"),
        "{refused:#?}"
    );
    assert!(
        shared(team.path()).is_empty(),
        "a refused push leaves nothing on the remote"
    );
    share_settings(&env, "remote = \"ftp://example.com/x\"");
    let refused = env.run(&["share", "list", "--remote"]);
    assert!(
        refused.fails().stderr.contains("use s3://, gs://, az:// or file:///"),
        "{refused:#?}"
    );
}

/// A real S3 server on loopback: `s3s-fs`, from crates.io. `.ci/run`
/// installs it; a run without it installs it once into `target/tools`.
struct S3Server {
    child: std::process::Child,
    root: tempfile::TempDir,
    port: u16,
}

impl S3Server {
    fn start() -> S3Server {
        let binary = s3s_fs();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("team")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", "AKTEST", "--secret-key", "SKTEST"])
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed().as_secs() < 20, "s3s-fs did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        S3Server { child, root, port }
    }

    /// What the AWS credential chain reads, pointed at this server.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "AKTEST".into()),
            ("AWS_SECRET_ACCESS_KEY", "SKTEST".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// What the bucket holds, by the server's own files.
    fn stored(&self) -> Vec<PathBuf> {
        every_file(&self.root.path().join("team"))
            .into_iter()
            .filter(|p| !p.to_string_lossy().contains(".s3s"))
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("s3s-fs: {e}");
        }
        self.child.wait().ok();
    }
}

/// The `s3s-fs` binary: on PATH, in `target/tools`, or installed there now.
fn s3s_fs() -> PathBuf {
    let on_path = std::env::var_os("PATH").map(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("s3s-fs"))
            .find(|p| p.is_file())
    });
    if let Some(found) = on_path.flatten() {
        return found;
    }
    // The target folder, wherever CARGO_TARGET_DIR puts it.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let tools = target.join("tools");
    let binary = tools.join("bin/s3s-fs");
    if !binary.is_file() {
        let lock = std::fs::File::create(target.join("tools.lock")).unwrap();
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
        if !binary.is_file() {
            eprintln!("installing s3s-fs into {} for the S3 tests (once)", tools.display());
            let installed = std::process::Command::new(env!("CARGO"))
                .args([
                    "install",
                    "s3s-fs",
                    "--version",
                    "0.14.1",
                    "--features",
                    "binary",
                    "--locked",
                    "--root",
                ])
                .arg(&tools)
                .status()
                .unwrap();
            assert!(
                installed.success(),
                "cannot install s3s-fs: cargo install s3s-fs --features binary"
            );
        }
    }
    binary
}

fn s3_settings(env: &Env, extra: &str) {
    share_settings(env, &format!("remote = \"s3://team/anton\"\n{extra}"));
}

/// Words that do not compress to nothing, so a push takes several parts.
fn noise(bytes: usize, seed: u64) -> String {
    let mut state = seed;
    let mut out = String::with_capacity(bytes + 16);
    while out.len() < bytes {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push_str(&format!("{:x} ", state >> 20));
    }
    out
}

#[test]
fn a_large_session_pushes_in_parts_to_s3_and_pulls_back_whole() {
    let server = S3Server::start();
    let (ann, bob) = (Env::new(), Env::new());
    let bobs_key = own_key(&bob);
    s3_settings(&ann, "");
    s3_settings(&bob, "");
    let store = ann.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    for turn in 1..=3 {
        store
            .append_message(&s.id, turn, "user", &format!("part {turn}"), "{}", None)
            .unwrap();
        store
            .append_message(&s.id, turn, "assistant", &noise(6 << 20, turn as u64), "{}", None)
            .unwrap();
    }
    store.set_title(&s.id, "Big run", false).unwrap();
    store.set_summary(&s.id, "A lot of output.").unwrap();
    drop(store);

    let push = ann.run_env(&server.env(), &["share", "push", "--to", &bobs_key], "");
    assert!(push.ok().stdout.contains("Session pushed"), "{push:#?}");
    assert!(push.stdout.contains("To:        s3://team/anton/"), "{push:#?}");
    let stored = server.stored();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        std::fs::metadata(&stored[0]).unwrap().len() > 10 << 20,
        "more than one part"
    );

    let listed = bob.run_env(&server.env(), &["share", "list", "--remote", "--json"], "");
    let listed = listed.ok().json();
    assert_eq!(listed["remote"], "s3://team/anton");
    assert_eq!(listed["shares"][0]["title"], "big run");
    let pull = bob.run_env(&server.env(), &["share", "pull", "--latest"], "");
    assert!(pull.ok().stdout.contains("Imported: Big run"), "{pull:#?}");
    let store = bob.store();
    let copy = store.list_sessions(&Default::default()).unwrap().remove(0).0.id;
    let replies: Vec<String> = store
        .messages(&copy, 0)
        .unwrap()
        .into_iter()
        .filter(|m| m.role == "assistant")
        .map(|m| m.content)
        .collect();
    assert_eq!(replies, (1..=3).map(|t| noise(6 << 20, t)).collect::<Vec<_>>());
}

#[test]
fn a_dead_or_refusing_s3_endpoint_fails_in_one_line_and_leaves_nothing() {
    let server = S3Server::start();
    let env = Env::new();
    s3_settings(&env, "");
    worked_session(&env);
    let mut wrong_key = server.env();
    wrong_key[3].1 = "not-the-secret".into();
    let refused = env.run_env(&wrong_key, &["share", "push"], "");
    refused.fails();
    let error = refused.stderr.trim();
    assert!(
        error.starts_with("error: share: ") && !error.contains('\n'),
        "{refused:#?}"
    );
    assert!(
        error.contains("s3://team/anton: it refused your credentials"),
        "{refused:#?}"
    );
    assert!(server.stored().is_empty(), "{:?}", server.stored());

    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut nowhere = server.env();
    nowhere[0].1 = format!("http://127.0.0.1:{dead}");
    let refused = env.run_env(&nowhere, &["share", "list", "--remote"], "");
    refused.fails();
    assert!(refused.stderr.contains("cannot list s3://team/anton"), "{refused:#?}");
    assert_eq!(refused.stderr.trim().lines().count(), 1, "{refused:#?}");
}

/// An SSH key pair in `env`'s `~/.ssh`, as `ssh-keygen` makes it; the public key.
fn ssh_key(env: &Env, passphrase: &str) -> String {
    let ssh = env.home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-C", "bob@laptop", "-N", passphrase, "-f"])
        .arg(ssh.join("id_ed25519"))
        .stdin(std::process::Stdio::null())
        .status()
        .expect("ssh-keygen (openssh-client) makes the test's SSH keys");
    assert!(made.success());
    std::fs::read_to_string(ssh.join("id_ed25519.pub"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_push_to_an_ssh_key_pulls_with_that_key_and_a_locked_key_is_named() {
    let team = tempfile::tempdir().unwrap();
    let (ann, bob, carol) = (Env::new(), Env::new(), Env::new());
    for env in [&ann, &bob, &carol] {
        share_settings(env, &team_remote(team.path()));
    }
    let bobs_key = ssh_key(&bob, "");
    worked_session(&ann);
    let push = ann.run(&["share", "push", "--to", &bobs_key]);
    assert!(push.ok().stdout.contains("Encrypted: to 1 key"), "{push:#?}");
    let pull = bob.run(&["share", "pull", "--latest"]);
    assert!(pull.ok().stdout.contains("Imported: Churn in Q3"), "{pull:#?}");

    ssh_key(&carol, "a passphrase");
    let refused = carol.run(&["share", "pull", "--latest"]);
    assert!(
        refused
            .fails()
            .stderr
            .contains("~/.ssh/id_ed25519 has a passphrase, which anton does not ask for"),
        "{refused:#?}"
    );
}

/// A loopback proxy to `port` that passes `budget` bytes of requests, then
/// drops every connection and takes no more: a link that dies mid-upload.
fn dying_link(port: u16, budget: usize) -> u16 {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = listener.local_addr().unwrap().port();
    let passed = std::sync::Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            if passed.load(Ordering::SeqCst) >= budget {
                return;
            }
            let server = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut from_server, mut to_client) = (server, client);
            let passed = passed.clone();
            std::thread::spawn(move || {
                let mut buffer = [0; 64 * 1024];
                while let Ok(n @ 1..) = from_client.read(&mut buffer) {
                    if passed.fetch_add(n, Ordering::SeqCst) + n > budget || to_server.write_all(&buffer[..n]).is_err()
                    {
                        break;
                    }
                }
                to_server.shutdown(std::net::Shutdown::Both).ok();
                from_client.shutdown(std::net::Shutdown::Both).ok();
            });
            std::thread::spawn(move || std::io::copy(&mut from_server, &mut to_client).ok());
        }
    });
    proxy
}

#[test]
fn a_push_cut_off_mid_upload_fails_in_one_line_and_lists_nothing() {
    let server = S3Server::start();
    let env = Env::new();
    s3_settings(&env, "");
    let store = env.store();
    let s = store.create_session(&NewSession::default()).unwrap();
    store
        .append_message(&s.id, 1, "user", "print a lot", "{}", None)
        .unwrap();
    store
        .append_message(&s.id, 1, "assistant", &noise(7 << 20, 7), "{}", None)
        .unwrap();
    store
        .append_message(&s.id, 2, "assistant", &noise(7 << 20, 8), "{}", None)
        .unwrap();
    drop(store);
    // The link dies after the first part of three is on its way.
    let mut cut_off = server.env();
    cut_off[0].1 = format!("http://127.0.0.1:{}", dying_link(server.port, 9 << 20));
    let failed = env.run_env(&cut_off, &["share", "push"], "");
    failed.fails();
    let error = failed.stderr.trim();
    assert!(
        error.starts_with("error: share: ") && !error.contains('\n'),
        "{failed:#?}"
    );
    assert!(error.contains("s3://team/anton"), "{failed:#?}");
    assert!(
        server.stored().is_empty(),
        "nothing half-written is listed: {:?}",
        server.stored()
    );
    let listed = env.run_env(&server.env(), &["share", "list", "--remote", "--json"], "");
    assert_eq!(listed.ok().json()["total"], 0);
}

#[test]
fn what_teammates_put_on_a_team_folder_cannot_stall_leak_or_linger() {
    let team = tempfile::tempdir().unwrap();
    let env = Env::new();
    share_settings(&env, &team_remote(team.path()));
    own_key(&env);
    // A header no push makes: pulling must refuse it at once, not parse it for minutes.
    let mut bomb = b"age-encryption.org/v1\n-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".to_vec();
    for _ in 0..2_000 {
        bomb.extend_from_slice(&[b'A'; 64]);
        bomb.push(b'\n');
    }
    bomb.extend_from_slice(b"--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    std::fs::write(team.path().join("eve__bomb_20261203_120000-aaaaaa.anton.age"), &bomb).unwrap();
    let started = std::time::Instant::now();
    let refused = env.run(&["share", "pull", "bomb"]);
    assert!(
        refused
            .fails()
            .stderr
            .contains("its age header is longer than 64 KiB or broken"),
        "{refused:#?}"
    );
    assert!(started.elapsed().as_secs() < 30, "refused, not parsed");
    // A link to the user's own secret key, dressed as a share.
    std::os::unix::fs::symlink(
        env.home.path().join(".anton/identity.txt"),
        team.path().join("eve__keys_20261203_120000-bbbbbb.anton"),
    )
    .unwrap();
    let listed = env.run(&["share", "list", "--remote", "--json"]).ok().json();
    assert_eq!(listed["total"], 1, "links are not listed: {listed}");
    let refused = env.run(&["share", "pull", "eve__keys_20261203_120000-bbbbbb.anton"]);
    assert!(refused.fails().stderr.contains("is not a plain file"), "{refused:#?}");
    // A plain file that is no share: refused, and no copy of it stays.
    std::fs::write(
        team.path().join("eve__notes_20261203_120000-cccccc.anton"),
        "just notes",
    )
    .unwrap();
    env.run(&["share", "pull", "notes"]).fails();
    assert!(
        every_file(&env.ws().join(".anton/pulled")).is_empty(),
        "nothing pulled lingers"
    );
}

#[test]
fn settings_given_wrong_keep_sessions_in() {
    let team = tempfile::tempdir().unwrap();
    let env = Env::new();
    worked_session(&env);
    share_settings(&env, &format!("{}\npush = \"false\"", team_remote(team.path())));
    let refused = env.run(&["share", "push"]);
    assert!(refused.fails().stderr.contains("[share] push = false"), "{refused:#?}");
    assert!(refused.stderr.contains("sessions stay in until it is"), "{refused:#?}");
    share_settings(&env, &team_remote(team.path()));
    let refused = env.run(&["share", "push", "--to", ""]);
    assert!(refused.fails().stderr.contains("--to names no key"), "{refused:#?}");
    let refused = env.run(&["share", "push", "--to", "AGE-SECRET-KEY-1QQQQ"]);
    assert!(refused.fails().stderr.contains("that is a secret key"), "{refused:#?}");
    assert!(!refused.stderr.contains("QQQQ"), "{refused:#?}");
    share_settings(&env, "remote = \"s3://AKIAEXAMPLE:hunter2@team/anton\"");
    let refused = env.run(&["share", "list", "--remote"]);
    assert!(
        refused.fails().stderr.contains("it holds credentials; remove them"),
        "{refused:#?}"
    );
    assert!(shared(team.path()).is_empty());
}

#[test]
fn a_push_that_fails_is_not_listed_as_shared() {
    let env = Env::new();
    let team = tempfile::tempdir().unwrap();
    share_settings(&env, &team_remote(team.path()));
    worked_session(&env);
    env.run(&["share", "push", "--to", "age1notakey"]).fails();
    let status = env.run(&["share", "status"]).ok().stdout.clone();
    assert!(status.contains("Shared:   never exported"), "{status}");
    assert!(
        env.run(&["share", "history", "--json"])
            .ok()
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
}
