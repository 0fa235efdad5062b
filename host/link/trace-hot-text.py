#!/usr/bin/env python3
"""Regenerate host/link/hot-text.ld: the functions anton's everyday commands
run, so the release link puts them side by side.

Scattered over 19 MB of code, the few thousand functions `anton sessions`
runs sit in about 120 of the kernel's 64 KiB fault-around windows: 7 MiB
mapped and as many page faults at each start. Side by side they fill about 30.

Run on demand after a dependency or toolchain update, from the repository:
    host/link/trace-hot-text.py [BINARY]
Needs valgrind and nm (binutils). Builds the release binary, runs each
command once under valgrind's lackey tool (every instruction it executes, in
order) in a scratch workspace, and writes the functions in the order they
first ran. Names are written without the build's hashes, so the same script
serves `cargo build --release`, `cargo install` and `cargo bench`.
"""

import bisect
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "host" / "link" / "hot-text.ld"
BINARY = ROOT / "target" / "release" / "anton"
FIXTURE = ROOT / "tests" / "fixtures" / "anton-v0.1" / "revenue-by-region.anton"
# Where valgrind maps a position-independent executable (checked below).
VALGRIND_PIE_BASE = 0x108000
# A generic function's copies share one name once the hash is gone, so all
# of them go in together. Left out, each copy run would cost about one
# fault-around window of its own; put in, they cost their size. So a name goes
# in unless its copies take more than a window for each copy run.
WINDOW = 64 * 1024


def run(args, **kw):
    return subprocess.run(args, check=True, **kw)


def functions(binary):
    listing = run(["nm", "-S", "--defined-only", str(binary)], capture_output=True, text=True).stdout
    found = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            found.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    found.sort()
    return found


def entry_point(binary):
    header = run(["readelf", "-h", str(binary)], capture_output=True, text=True).stdout
    return int(re.search(r"Entry point address:\s+(0x[0-9a-f]+)", header).group(1), 16)


def trace(binary, args, env, cwd, table, starts, entry, order, seen):
    """Add to `order` each function of `binary` that `args` runs, first run first."""
    with tempfile.TemporaryFile("w+") as log:
        fd = log.fileno()
        command = ["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-fd={fd}", str(binary), *args]
        subprocess.run(
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, pass_fds=(fd,), check=True,
        )
        log.seek(0)
        first = True
        for line in log:
            if not line.startswith("I"):
                continue
            address = int(line.split()[1].split(",")[0], 16) - VALGRIND_PIE_BASE
            i = bisect.bisect_right(starts, address) - 1
            if i < 0 or address >= table[i][0] + max(table[i][1], 1):
                continue
            if first:
                first = False
                if address != entry:
                    sys.exit(f"valgrind did not load anton at {VALGRIND_PIE_BASE:#x}: update VALGRIND_PIE_BASE")
            name = table[i][2]
            if name not in seen:
                seen.add(name)
                order.append(name)


def without_hashes(name):
    # Legacy mangling ends in a hash of the build; v0 names each crate by one.
    name = re.sub(r"17h[0-9a-f]{16}E$", "17h*", name)
    return re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", name)


def main():
    binary = Path(sys.argv[1]) if len(sys.argv) > 1 else BINARY
    if len(sys.argv) == 1:
        run(["cargo", "build", "--release", "--locked", "-p", "anton"], cwd=ROOT)
    table = functions(binary)
    starts = [f[0] for f in table]
    size = {name: s for _, s, name in table}
    entry = entry_point(binary)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        workspace = scratch / "workspace"
        workspace.mkdir()
        env = dict(os.environ)
        env.update(HOME=str(scratch / "home"), XDG_CONFIG_HOME=str(scratch / "config"),
                   XDG_DATA_HOME=str(scratch / "data"), XDG_CACHE_HOME=str(scratch / "cache"), NO_COLOR="1")
        env.pop("ANTON_LOG", None)
        imported = run([str(binary), "share", "import", str(FIXTURE)], env=env, cwd=workspace,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
        session = re.search(r"Session:\s+(\S+)", imported).group(1)
        commands = [["sessions"], ["session", session], ["sessions", "--search", "revenue"],
                    ["share", "history"], ["plugins", "list"], ["--version"]]
        # Traced warm, as people run them: the compiled plugins are cached.
        # Under valgrind, which shows the program another CPU, so another
        # cache entry.
        for args in commands:
            run(["valgrind", "--tool=none", "-q", str(binary), *args], env=env, cwd=workspace,
                stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        order, seen = [], set()
        for args in commands:
            print("tracing anton", " ".join(args), file=sys.stderr)
            trace(binary, args, env, workspace, table, starts, entry, order, seen)

    every_copy = {}
    for name, s in size.items():
        pattern = without_hashes(name)
        every_copy[pattern] = every_copy.get(pattern, 0) + s
    copies_run = {}
    for name in order:
        pattern = without_hashes(name)
        copies_run[pattern] = copies_run.get(pattern, 0) + 1
    patterns, placed, left_out = [], 0, 0
    for name in order:
        pattern = without_hashes(name)
        if pattern not in copies_run:
            continue
        if every_copy[pattern] <= copies_run.pop(pattern) * WINDOW:
            patterns.append(pattern)
            placed += every_copy[pattern]
        else:
            left_out += 1

    with open(OUT, "w") as out:
        out.write(
            "/* Generated by host/link/trace-hot-text.py: do not edit. The functions\n"
            f" * `anton`'s everyday commands run, first run first ({len(patterns)} names,\n"
            f" * {placed // 1024} KiB), side by side at the start of the code. */\n"
            "SECTIONS {\n  .text.hot : {\n"
        )
        for pattern in patterns:
            out.write(f"    *(.text.{pattern} .text.unlikely.{pattern})\n")
        out.write("  }\n} INSERT BEFORE .text;\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(patterns)} functions, {placed // 1024} KiB "
          f"({left_out} generic names with too many untraced copies left out)", file=sys.stderr)


if __name__ == "__main__":
    main()
