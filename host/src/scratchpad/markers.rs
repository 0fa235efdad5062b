//! Markers a pad leaves in `.anton/pads/<pid>` (its pid and start time,
//! and its anton's), so that the next anton reaps a pad its anton left
//! behind by dying in a way the kernel did not pass on.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rustix::process::{Pid, Signal};

use super::DRIVER;

/// The variable every process of a pad inherits (`ANTON_PAD=<token>`), so
/// that what a cell started can be found after the pad itself is gone.
pub const PAD_VARIABLE: &str = "ANTON_PAD";

/// A token no other pad has.
pub fn new_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    let value = RandomState::new().hash_one((std::process::id(), std::time::Instant::now()));
    format!("{value:016x}")
}

/// Leave `.anton/pads/<pid>` for the next anton to reap should this one
/// die in a way the kernel does not pass on.
pub fn record(markers: &Path, pad: u32, token: &str) -> Option<PathBuf> {
    let (Some(pad_started), Some(anton_started)) = (started_at(pad), started_at(std::process::id())) else {
        return None;
    };
    let marker = markers.join(pad.to_string());
    let written = std::fs::create_dir_all(markers).and_then(|()| {
        // The folder is the workspace's: never follow a link planted there.
        if std::fs::symlink_metadata(markers)?.file_type().is_symlink() {
            return Err(std::io::Error::other("it is a symbolic link"));
        }
        match std::fs::remove_file(&marker) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&marker)?;
        writeln!(
            file,
            "{pad} {pad_started} {} {anton_started} {token}",
            std::process::id()
        )
    });
    match written {
        Ok(()) => Some(marker),
        Err(e) => {
            eprintln!(
                "warning: cannot record the scratchpad in {} ({e}); a pad left by a crash is not cleaned up",
                markers.display()
            );
            None
        }
    }
}

/// A process as `/proc` knows it: its pid and its start time, which tells
/// it apart from a later process given the same pid.
pub fn started_at(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// The fields of `/proc/<pid>/stat` after the command name, from `state` on.
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// A marker's record: the pad and the anton that started it.
pub struct Marker {
    pub pad: u32,
    pub pad_started: u64,
    pub anton: u32,
    /// What the pad's processes carry in [`PAD_VARIABLE`].
    pub token: String,
    pub anton_started: u64,
}

impl Marker {
    /// At most one short line; anything else in the folder is not ours.
    pub fn read(path: &Path) -> Option<Marker> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.file_type().is_file() || meta.len() > 100 {
            return None;
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .ok()?
            .take(100)
            .read_to_string(&mut text)
            .ok()?;
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [pad, pad_started, anton, anton_started, token] = fields[..] else {
            return None;
        };
        let marker = Marker {
            pad: pad.parse().ok()?,
            pad_started: pad_started.parse().ok()?,
            anton: anton.parse().ok()?,
            anton_started: anton_started.parse().ok()?,
            token: token
                .chars()
                .all(|c| c.is_ascii_hexdigit())
                .then(|| token.to_string())?,
        };
        (path.file_name()? == marker.pad.to_string().as_str()).then_some(marker)
    }

    pub fn anton_runs(&self) -> bool {
        started_at(self.anton) == Some(self.anton_started)
    }

    /// Still the very process the marker names, still running the pad driver.
    pub fn pad_runs(&self) -> bool {
        started_at(self.pad) == Some(self.pad_started) && runs_driver(self.pad)
    }
}

/// Whether process `pid` runs the pad driver: its arguments after the
/// interpreter (a `python3` found on PATH may be a shim that execs another).
pub fn runs_driver(pid: u32) -> bool {
    let command = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let arguments: Vec<u8> = ["-u", "-c", DRIVER]
        .iter()
        .flat_map(|arg| std::iter::once(0).chain(arg.bytes()))
        .chain([0])
        .collect();
    command.ends_with(&arguments)
}

/// Kill the pads whose anton died without taking them along, and forget
/// their markers. Markers of a live anton stay; files that are not markers
/// are left alone (the folder is the workspace's, so nothing in it is trusted).
pub fn reap_leftovers(markers: &Path) {
    let is_folder = std::fs::symlink_metadata(markers).is_ok_and(|m| m.file_type().is_dir());
    let Some(entries) = is_folder.then(|| std::fs::read_dir(markers).ok()).flatten() else {
        return;
    };
    for path in entries.flatten().map(|entry| entry.path()) {
        let Some(marker) = Marker::read(&path) else {
            continue;
        };
        if marker.anton_runs() {
            continue;
        }
        if marker.pad > 1
            && marker.pad_runs()
            && let Some(pid) = Pid::from_raw(marker.pad as i32)
        {
            let leads_its_group =
                stat_fields(marker.pad).and_then(|f| f.get(2).cloned()) == Some(marker.pad.to_string());
            let killed = if leads_its_group {
                rustix::process::kill_process_group(pid, Signal::KILL)
            } else {
                rustix::process::kill_process(pid, Signal::KILL)
            };
            if let Err(e) = killed {
                eprintln!(
                    "warning: cannot stop scratchpad pid {} left by an earlier anton: {e}",
                    marker.pad
                );
                continue;
            }
        }
        // The pad is gone, but what its cells started may live on, holding
        // the pad's environment (and its secrets).
        for pid in processes_carrying(&marker.token) {
            if let Some(pid) = Pid::from_raw(pid as i32) {
                rustix::process::kill_process(pid, Signal::KILL).ok();
            }
        }
        remove_marker(&path);
    }
}

/// Processes whose environment holds `ANTON_PAD=<token>`: a pad's and the
/// processes its cells started, and no other.
fn processes_carrying(token: &str) -> Vec<u32> {
    let wanted = format!("{PAD_VARIABLE}={token}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|environ| environ.split(|b| *b == 0).any(|entry| entry == wanted.as_bytes()))
        })
        .collect()
}

pub fn remove_marker(marker: &Path) {
    match std::fs::remove_file(marker) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            eprintln!(
                "warning: cannot remove the scratchpad marker {} ({e})",
                marker.display()
            );
        }
        _ => {}
    }
}
