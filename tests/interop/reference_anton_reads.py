"""Check that the reference Anton (anton-agent on PyPI) reads a v0.1 file anton wrote.

Not part of the test suite (it needs the package from PyPI). Run by hand:

    python3 -m venv /tmp/av && /tmp/av/bin/pip install anton-agent
    anton share export --format v0.1            # in a workspace with a session
    /tmp/av/bin/python tests/interop/reference_anton_reads.py .anton/output/<file>.anton

It feeds the file through the reference importer's own steps (Episode rows,
the API history it rebuilds for /resume, rules and lessons into its memory
files, scratchpad cells) and prints what came out.
"""

import json
import sys
import tempfile
from pathlib import Path

from anton.core.backends.base import Cell, scrub_cell
from anton.core.memory.episodes import Episode
from anton.memory.history_store import HistoryStore

payload = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
assert payload["version"] == "0.1", payload["version"]
history = payload["session"]["conversation_history"]
episodes = [Episode(**row) for row in history]
api = HistoryStore.episodes_to_api_history(history)
uses = [b for m in api if isinstance(m["content"], list) for b in m["content"] if b.get("type") == "tool_use"]
results = [b for m in api if isinstance(m["content"], list) for b in m["content"] if b.get("type") == "tool_result"]
assert len(uses) == len(results), (len(uses), len(results))

from anton.core.memory.hippocampus import Hippocampus  # noqa: E402

with tempfile.TemporaryDirectory() as memory_dir:
    hc = Hippocampus(Path(memory_dir))
    memories = payload["memory"]["session_born"] + payload["memory"]["project_accessed"]
    for m in memories:
        if m["kind"] in ("always", "never", "when"):
            hc.encode_rule(m["content"], kind=m["kind"], source="import")
        elif m["kind"] == "lesson":
            hc.encode_lesson(m["content"], topic=m.get("topic", ""), source="import")
    written = sorted(p.name for p in Path(memory_dir).rglob("*.md"))

cells = [scrub_cell(Cell(code=c.get("code", ""), stdout=c.get("stdout", ""), stderr=c.get("stderr", ""),
                         error=c.get("error"), description=c.get("description", "")))
         for c in payload["scratchpad"]["cells"]]

print(f"episodes: {len(episodes)}; API messages: {len(api)} ({len(uses)} tool calls paired with results)")
print(f"memories: {len(memories)} -> {', '.join(written) or 'no files'}; cells: {len(cells)}")
print("the reference Anton reads this file")
