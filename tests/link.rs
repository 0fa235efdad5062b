//! How `anton` is linked for a quick start (issue #18).
//!
//! The release link puts the functions the everyday commands run side by
//! side (`host/link/hot-text.ld`): `anton sessions` then maps 3.7 MiB of
//! its code, not 7.3. The script names functions without the build's
//! hashes, so it outlives most changes; a toolchain or dependency update
//! that renames many of them would quietly undo the gain.

use std::collections::BTreeSet;
use std::path::Path;

use object::{Object, ObjectSymbol};

/// The C maths functions anton calls are in the binary (`host/src/main.rs`),
/// so no start maps libm; a dependency that calls one more brings it back.
#[test]
fn anton_needs_no_libm() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_anton")).unwrap();
    let elf = object::File::parse(&*binary).unwrap();
    let needed = needed_libraries(&elf);
    assert!(!needed.is_empty(), "read the dynamic section: {needed:?}");
    if needed.iter().any(|lib| lib.starts_with("libm.so")) {
        let libm = std::fs::read("/lib/x86_64-linux-gnu/libm.so.6").unwrap_or_default();
        let wanted: Vec<String> = match object::File::parse(&*libm) {
            Ok(libm) => {
                let offered: BTreeSet<String> = libm
                    .dynamic_symbols()
                    .filter(|s| s.is_definition())
                    .filter_map(|s| s.name().ok().map(str::to_string))
                    .collect();
                elf.dynamic_symbols()
                    .filter(|s| s.is_undefined())
                    .filter_map(|s| s.name().ok().map(str::to_string))
                    .filter(|name| offered.contains(name))
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        panic!("anton needs libm again, for {wanted:?}: define them in host/src/main.rs");
    }
}

/// The `DT_NEEDED` entries of the dynamic section.
fn needed_libraries(elf: &object::File) -> Vec<String> {
    use object::read::elf::{Dyn as _, FileHeader as _};
    let object::File::Elf64(elf) = elf else {
        return Vec::new();
    };
    let (endian, data) = (elf.endian(), elf.data());
    let sections = elf.elf_header().sections(endian, data).unwrap();
    let Some((entries, strings)) = sections.dynamic(endian, data).unwrap() else {
        return Vec::new();
    };
    let strings = sections.strings(endian, data, strings).unwrap();
    entries
        .iter()
        .filter(|entry| entry.d_tag(endian) == object::elf::DT_NEEDED)
        .filter_map(|entry| entry.string(endian, strings).ok())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect()
}

#[test]
fn the_functions_the_hot_text_script_places_are_still_in_anton() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/hot-text.ld");
    let script = std::fs::read_to_string(&script).unwrap();
    let patterns: Vec<&str> = script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("*(.text."))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(patterns.len() > 500, "{} names in the script", patterns.len());

    let binary = std::fs::File::open(env!("CARGO_BIN_EXE_anton")).unwrap();
    let cache = object::ReadCache::new(binary);
    let elf = object::File::parse(&cache).unwrap();
    let names: BTreeSet<&str> = elf.symbols().filter_map(|s| s.name().ok()).collect();

    let missing: Vec<&str> = patterns
        .iter()
        .copied()
        .filter(|pattern| !names_match(&names, pattern))
        .collect();
    // This test's build is not the release one: inlining differs, and a few
    // per cent of the names are missing here even when the script is fresh.
    assert!(
        missing.len() * 5 < patterns.len(),
        "{} of the {} functions host/link/hot-text.ld places are not in anton, e.g. {:?}: \
         run host/link/trace-hot-text.py (it needs valgrind) and commit what it writes",
        missing.len(),
        patterns.len(),
        &missing[..missing.len().min(5)]
    );
}

/// Whether any name matches `pattern`, whose only wildcard is `*`.
fn names_match(names: &BTreeSet<&str>, pattern: &str) -> bool {
    let mut parts = pattern.split('*');
    let prefix = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    names
        .range(prefix..)
        .take_while(|name| name.starts_with(prefix))
        .any(|name| matches_rest(&name[prefix.len()..], &rest))
}

/// `text` against the parts of a pattern after its first `*`.
fn matches_rest(text: &str, rest: &[&str]) -> bool {
    let Some((last, middle)) = rest.split_last() else {
        return text.is_empty();
    };
    let mut at = 0;
    for part in middle {
        match text[at..].find(part) {
            Some(found) => at += found + part.len(),
            None => return false,
        }
    }
    text.len() - at >= last.len() && text.ends_with(last)
}
