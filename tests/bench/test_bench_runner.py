"""The benchmark entry point (``python -m bench``): its quick run of every registered
module against the test engine (so the benchmarks cannot rot; nothing is asserted on
time), and the rewriting of docs/performance.md's marked tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.benchrun import ENGINE_RUN, QUICK_RUN, quick_run
from helpers.dockercli import DockerCLI

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.__main__ import BY_NAME, REGISTRY  # noqa: E402
from bench.docmarkers import (  # noqa: E402
    UNPLACED_HEADING,
    MarkerError,
    find_blocks,
    rewrite,
    split_tables,
)


@pytest.mark.engine
def test_quick_run_of_the_modules_with_real_containers(
    tmp_path: Path, docker_cli: DockerCLI, docker_host: str
) -> None:
    """docker_cli: skipped without an engine, failed under CI."""
    quick_run(tmp_path, ENGINE_RUN, docker_host)


def test_registry_names_modules_that_exist() -> None:
    assert len(BY_NAME) == len(REGISTRY)
    for module in REGISTRY:
        assert (ROOT / "bench" / f"{module.name}.py").is_file(), module.name
    assert set(QUICK_RUN) | set(ENGINE_RUN) == {m.name for m in REGISTRY if m.default}


# --- the markers ------------------------------------------------------------------------

DOC = """# Performance

Prose at the top, kept as it is.

<!-- bench: machine -->
| machine | |
|---|---|
| old | row |
<!-- /bench -->

## Events

Events prose: `| not a table |`.

<!-- bench: journal/journal-insert -->
| events | rate |
|---:|---:|
| 1 | 2 |
<!-- /bench -->

Between the tables.

<!-- bench: journal/journal-queries -->
| query | p50 |
|---|---:|
| old | 9 |
<!-- /bench -->

<!-- bench: host/host-read -->
| read | µs |
|---|---:|
| old | 1 |
<!-- /bench -->

Closing prose.
"""

NEW_INSERT = "| events | rate |\n|---:|---:|\n| 1,000,000 | 16,079 |"


def prose(doc: str) -> list[str]:
    """The lines outside every marked block."""
    lines = doc.splitlines()
    inside: set[int] = set()
    for block in find_blocks(doc):
        inside.update(range(block.start, block.end + 1))
    return [line for n, line in enumerate(lines) if n not in inside]


def test_replaces_only_between_the_markers() -> None:
    result = rewrite(DOC, {"journal": {"journal-insert": NEW_INSERT}}, {"journal"})
    assert NEW_INSERT in result.doc
    assert "| 1 | 2 |" not in result.doc
    assert prose(result.doc) == prose(DOC)
    assert result.replaced == ["journal/journal-insert"]
    assert result.stale == ["journal/journal-queries"]  # journal ran without printing it
    assert result.not_run == ["host/host-read"]
    assert "| old | 9 |" in result.doc and "| old | 1 |" in result.doc  # kept, reported
    again = rewrite(result.doc, {"journal": {"journal-insert": NEW_INSERT}}, {"journal"})
    assert again.doc == result.doc and again.unchanged == ["journal/journal-insert"]


def test_machine_block_is_rewritten_or_added_after_the_title() -> None:
    machine = "| machine | |\n|---|---|\n| CPU | 2 |"
    result = rewrite(DOC, {}, set(), machine=machine)
    assert machine in result.doc and "| old | row |" not in result.doc
    assert prose(result.doc) == prose(DOC)
    bare = "# Title\n\nProse.\n"
    added = rewrite(bare, {}, set(), machine=machine)
    assert added.doc.startswith("# Title\n\n<!-- bench: machine -->\n" + machine)
    assert added.doc.endswith("Prose.\n") and added.added == ["machine"]


def test_a_table_without_a_marker_is_placed_and_reported() -> None:
    tables = {
        "journal": {"journal-replay": "| replay | ms |\n|---|---:|\n| all | 3 |"},
        "events_fanout": {"fanout-bus": "| n | lost |\n|---:|---:|\n| 100 | 0 |"},
    }
    result = rewrite(DOC, tables, {"journal", "events_fanout"})
    assert result.added == ["journal/journal-replay", "events_fanout/fanout-bus"]
    order = [b.name for b in find_blocks(result.doc)]
    # after the journal's last table; a module with no block yet goes to the end
    assert order.index("journal/journal-replay") == order.index("journal/journal-queries") + 1
    assert order[-1] == "events_fanout/fanout-bus"
    assert result.doc.index(UNPLACED_HEADING) < result.doc.index("fanout-bus")
    kept = [line for line in prose(DOC) if line]
    assert [line for line in prose(result.doc) if line] == [
        *kept,
        UNPLACED_HEADING,
        "`events_fanout/fanout-bus`:",
    ]


def test_a_new_table_goes_to_its_module_slot() -> None:
    doc = "# T\n\n## Sampling\n\nProse.\n\n<!-- bench-slot: sampling -->\n\nMore.\n"
    table = "| n | µs |\n|---:|---:|\n| 1000 | 90 |"
    result = rewrite(doc, {"sampling": {"sampling-generated": table}}, {"sampling"})
    assert result.added == ["sampling/sampling-generated"]
    assert result.doc == doc.replace(
        "<!-- bench-slot: sampling -->\n",
        "<!-- bench-slot: sampling -->\n\n<!-- bench: sampling/sampling-generated -->\n"
        f"{table}\n<!-- /bench -->\n",
    )
    assert UNPLACED_HEADING not in result.doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("<!-- bench: a/b -->\n| x |\n", "never closed"),
        ("<!-- /bench -->\n", "without an opening marker"),
        ("<!-- bench: a/b -->\n<!-- bench: a/c -->\n<!-- /bench -->\n", "inside the open"),
        ("<!-- bench: a/b -->\n<!-- /bench -->\n<!-- bench: a/b -->\n<!-- /bench -->\n",
         "appears twice"),
    ],
)  # fmt: skip
def test_broken_markers_are_refused(doc: str, message: str) -> None:
    with pytest.raises(MarkerError, match=message):
        rewrite(doc, {}, set())


def test_module_output_is_split_by_table_key() -> None:
    out = "<!-- table: a -->\ncaption\n\n| x |\n|---|\n| 1 |\n\n<!-- table: b -->\n| y |\n"
    assert split_tables(out) == {"a": "caption\n\n| x |\n|---|\n| 1 |", "b": "| y |"}
    assert split_tables("") == {}
    for bad, message in (
        ("some text\n<!-- table: a -->\n| x |\n", "before the first"),
        ("<!-- table: a -->\n| x |\n<!-- table: a -->\n| y |\n", "printed twice"),
        ("<!-- table: a -->\nno table here\n", "no Markdown table"),
    ):
        with pytest.raises(MarkerError, match=message):
            split_tables(bad)


def test_a_broken_document_stops_the_run_before_any_module(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# T\n\n<!-- bench: host/host-read -->\n| x |\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "host", "--doc", str(doc)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "block 'host/host-read' is never closed" in proc.stderr
    assert "==> [1/1]" not in proc.stderr  # no module ran
    assert doc.read_text() == "# T\n\n<!-- bench: host/host-read -->\n| x |\n"
