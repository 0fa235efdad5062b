//! Builds the built-in plugins (`plugins/<name>`) for wasm32-wasip2 and embeds
//! them, so `cargo build` / `cargo install --path host` yields one binary that
//! needs no other files.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The built-in plugins, by crate name (= plugin id).
const BUILTINS: &[&str] = &["sessions", "resume", "share", "connect"];
const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "plugin";

fn main() {
    let host_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = host_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    for watched in ["wit", "plugins/sdk", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    for name in BUILTINS {
        println!("cargo:rerun-if-changed={}", root.join("plugins").join(name).display());
    }

    ensure_wasm_target();
    pack_relocations();
    place_hot_text(&host_dir);
    link_unwinder_in(&out_dir);
    // A nested cargo must not share the outer build's target dir: it would wait
    // forever on the outer build's lock.
    let wasm_target_dir = outer_target_dir(&out_dir).join("anton-plugins");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args([
            "build",
            "--locked",
            "--profile",
            PROFILE,
            "--target",
            TARGET,
            "--target-dir",
        ])
        .arg(&wasm_target_dir);
    for name in BUILTINS {
        build.args(["-p", name]);
    }
    for (key, _) in env::vars() {
        let outer_only = key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_CFG_")
            || matches!(
                key.as_str(),
                "CARGO_ENCODED_RUSTFLAGS"
                    | "RUSTFLAGS"
                    | "CARGO_BUILD_TARGET"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_MAKEFLAGS"
                    | "MAKEFLAGS"
                    | "MFLAGS"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTC_WRAPPER"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_BUILD_RUSTFLAGS"
            );
        if outer_only {
            build.env_remove(key);
        }
    }
    let status = build
        .status()
        .expect("could not run cargo to build the built-in plugins");
    if !status.success() {
        panic!("building the built-in plugins for {TARGET} failed (see the errors above)");
    }

    let mut table = String::from("pub const BUILTIN_PLUGINS: &[BuiltinPlugin] = &[\n");
    for name in BUILTINS {
        let wasm = wasm_target_dir.join(TARGET).join(PROFILE).join(format!("{name}.wasm"));
        let embedded = out_dir.join(format!("{name}.wasm"));
        fs::copy(&wasm, &embedded).unwrap_or_else(|e| panic!("missing built plugin {}: {e}", wasm.display()));
        // Hashed here, not at every start of anton.
        let sha256: String = Sha256::digest(fs::read(&embedded).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let manifest = manifest_as_json(&root.join("plugins").join(name).join("anton-plugin.toml"));
        writeln!(
            table,
            "    BuiltinPlugin {{ id: {name:?}, manifest_json: {manifest:?}, wasm: include_bytes!({:?}), sha256: {sha256:?} }},",
            embedded.display().to_string()
        )
        .unwrap();
    }
    table.push_str("];\n");
    fs::write(out_dir.join("builtin_plugins.rs"), table).unwrap();
    embed_sdk(&root, &out_dir);
}

/// A built-in plugin's manifest, parsed here rather than at every start:
/// JSON reads in a few microseconds, this TOML took 40.
fn manifest_as_json(file: &Path) -> String {
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let value: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::to_string(&value).unwrap()
}

/// The SDK's sources and WIT (links followed, so 0.1.0 comes along as
/// `wit/deps/`), for `anton plugins new` to write into a new plugin: it then
/// builds with no anton sources around.
fn embed_sdk(root: &Path, out_dir: &Path) {
    fn walk(dir: &Path, under: &str, files: &mut Vec<(String, PathBuf)>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let inside = format!("{under}/{name}");
            if path.is_dir() {
                walk(&path, &inside, files);
            } else if name.ends_with(".rs") || name.ends_with(".wit") {
                files.push((inside, path));
            }
        }
    }
    let sdk = root.join("plugins/sdk");
    let mut files = Vec::new();
    for part in ["src", "macros/src", "wit"] {
        walk(&sdk.join(part), &format!("sdk/{part}"), &mut files);
    }
    let mut table = String::from("pub const SDK_FILES: &[(&str, &str)] = &[\n");
    for (inside, path) in files {
        writeln!(
            table,
            "    ({inside:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    let workspace = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for (inside, manifest) in [
        ("sdk/Cargo.toml", "plugins/sdk/Cargo.toml"),
        ("sdk/macros/Cargo.toml", "plugins/sdk/macros/Cargo.toml"),
    ] {
        let text = standalone(&fs::read_to_string(root.join(manifest)).unwrap(), &workspace);
        writeln!(table, "    ({inside:?}, {text:?}),").unwrap();
    }
    table.push_str("];\n");
    fs::write(out_dir.join("sdk_files.rs"), table).unwrap();
}

/// A member's manifest made to stand alone: each `key.workspace = true`
/// takes the value the workspace gives `key`.
fn standalone(manifest: &str, workspace: &str) -> String {
    let mut shared = std::collections::HashMap::new();
    let mut section = "";
    for line in workspace.lines() {
        if line.starts_with('[') {
            section = line.trim();
        } else if let Some((key, value)) = line.split_once(" = ")
            && matches!(section, "[workspace.package]" | "[workspace.dependencies]")
        {
            shared.insert(key.trim().to_string(), value.trim().to_string());
        }
    }
    let mut out = String::new();
    for line in manifest.lines() {
        match line.strip_suffix(".workspace = true") {
            Some(key) => {
                let value = shared
                    .get(key.trim())
                    .unwrap_or_else(|| panic!("the workspace gives no {key}"));
                writeln!(out, "{key} = {value}").unwrap();
            }
            None => writeln!(out, "{line}").unwrap(),
        }
    }
    out
}

/// `<target>/<profile>/build/anton-<hash>/out` → `<target>` (or `<target>/<triple>`).
fn outer_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()?.parent())
        .unwrap_or(out_dir)
        .to_path_buf()
}

/// Machines with RUSTUP_AUTO_INSTALL=0 do not add the target from
/// rust-toolchain.toml by themselves.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot
        .as_ref()
        .is_some_and(|s| Path::new(s).join("lib/rustlib").join(TARGET).exists());
    if installed {
        return;
    }
    println!("cargo:warning=adding the {TARGET} target with rustup (needed for the built-in plugins)");
    let added = Command::new("rustup").args(["target", "add", TARGET]).status();
    if !added.is_ok_and(|s| s.success()) {
        panic!(
            "the {TARGET} Rust target is missing and `rustup target add {TARGET}` failed; \
             run it yourself, then build again"
        );
    }
}

/// The functions the everyday commands run go side by side at the start of
/// the code (`link/hot-text.ld`, made by `link/trace-hot-text.py`): spread
/// over all of it, each start of `anton sessions` mapped 7.3 MiB of code for
/// the 1.6 MiB it ran. Release builds with the toolchain's own linker only
/// (a linker someone chose may not read the script); a name the script lists
/// that a build lacks is skipped.
fn place_hot_text(host_dir: &Path) {
    let script = host_dir.join("link").join("hot-text.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    if release_with_own_linker() {
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
}

/// The unwinder (libgcc_eh) linked into `anton`, not loaded with libgcc_s:
/// mapping and relocating that library and running its constructor (a
/// dozen CPUID instructions, slow on a virtual machine) took each start
/// about 0.15 ms. The standard library asks for `-lgcc_s`, last on the
/// command line; a linker script of that name, found first, hands the
/// linker the archive instead. Release builds only: there fat LTO makes
/// one object of everything that calls the unwinder.
fn link_unwinder_in(out_dir: &Path) {
    if release_with_own_linker() {
        let dir = out_dir.join("unwinder");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").unwrap();
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}

fn gnu_linux() -> bool {
    let cfg = |key: &str| env::var(key).unwrap_or_default();
    cfg("CARGO_CFG_TARGET_OS") == "linux" && cfg("CARGO_CFG_TARGET_ENV") == "gnu"
}

/// A release build for GNU/Linux with the toolchain's own linker, which
/// reads what these link arguments say.
fn release_with_own_linker() -> bool {
    let own_linker = env::var_os("RUSTC_LINKER").is_none()
        && !env::var("CARGO_ENCODED_RUSTFLAGS")
            .unwrap_or_default()
            .split('\x1f')
            .any(|flag| flag.contains("fuse-ld") || flag.contains("linker"));
    env::var("PROFILE").is_ok_and(|p| p == "release") && gnu_linux() && own_linker
}

/// The loader applies some 50,000 relative relocations to the
/// position-independent `anton` at every start, reading a 1.2 MB table;
/// packed (RELR, glibc 2.36 and later) the table takes a few KB.
fn pack_relocations() {
    if gnu_linux() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
