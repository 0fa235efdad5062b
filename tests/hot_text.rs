//! The release link puts the functions the everyday commands run side by
//! side (`host/link/hot-text.ld`, issue #18): `anton sessions` then maps
//! 3.7 MiB of its code, not 7.3. The script names functions without the
//! build's hashes, so it outlives most changes; a toolchain or dependency
//! update that renames many of them would quietly undo the gain.

use std::collections::BTreeSet;
use std::path::Path;

use object::{Object, ObjectSymbol};

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
