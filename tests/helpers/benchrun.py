"""The benchmark entry point's quick run (``python -m bench --quick``) of some modules,
checked: each module ran and printed tables with figures, placed between their markers
in the document written (tests/bench/)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.__main__ import REGISTRY  # noqa: E402
from bench.docmarkers import find_blocks  # noqa: E402

# The default run's modules in quick mode, in two tests: those with rows from real
# containers on the test engine (run with the engine's other tests), and the rest with
# no engine at all (a test file of its own: run beside them on another worker).
ENGINE_RUN = ("stats_api", "stats_cli", "sampling", "events_latency", "memory")
QUICK_RUN = tuple(m.name for m in REGISTRY if m.default and m.name not in ENGINE_RUN)
NUMBER = re.compile(r"\d")


def data_rows(markdown: str) -> list[list[str]]:
    """The cells of a Markdown table's rows below its separator line."""
    rows, below = [], False
    for line in markdown.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
            below = True
        elif below:
            rows.append(cells)
    return rows


def quick_run(tmp_path: Path, modules: tuple[str, ...], docker_host: str) -> None:
    """Each module runs in its quick mode and prints at least one table with data rows
    holding figures; the document written holds each between its markers, with the
    machine block."""
    out, report = tmp_path / "performance.md", tmp_path / "report.json"
    env = {**os.environ, "DOCKER_HOST": docker_host}
    argv = [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--report", str(report)]
    proc = subprocess.run([*argv, "--only", ",".join(modules)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    outcomes = {o["module"]: o for o in json.loads(report.read_text())}
    assert sorted(outcomes) == sorted(modules)
    doc = out.read_text()
    blocks = {b.name for b in find_blocks(doc)}
    assert "machine" in blocks
    for name, outcome in outcomes.items():
        assert outcome["status"] == "ok", (name, outcome["message"])
        assert outcome["tables"], f"{name} printed no table: {outcome['skipped']}"
        for key, text in outcome["tables"].items():
            rows = data_rows(text)
            assert rows, f"{name}/{key} has no data row:\n{text}"
            assert all(any(NUMBER.search(c) for c in row[1:]) for row in rows), (
                f"{name}/{key} has a row without a figure:\n{text}"
            )
            assert f"{name}/{key}" in blocks
            assert text in doc
