"""The bench contract's two kinds of markers, read and rewritten (pure text, no I/O).

A benchmark module's stdout is Markdown tables, each preceded by a line
``<!-- table: KEY -->``; ``split_tables`` cuts it into {KEY: text}.

docs/performance.md holds each table between ``<!-- bench: MODULE/KEY -->`` and
``<!-- /bench -->`` (and the machine's description between ``<!-- bench: machine -->``
and ``<!-- /bench -->``). ``rewrite`` replaces exactly what is between the markers of
the tables a run printed, leaves everything outside them alone, and says which blocks
it replaced, which it kept because their module ran without printing them (stale),
which it left because their module did not run, and where it placed tables the
document had no markers for yet: after the last block of the same module, else after
the module's slot line ``<!-- bench-slot: MODULE -->`` (where a section expects the
tables of a module that has printed none yet), else at the end under a heading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

TABLE = re.compile(r"^<!-- table: ([A-Za-z0-9_.-]+) -->$")
OPEN = re.compile(r"^<!-- bench: ([A-Za-z0-9_./-]+) -->$")
CLOSE = "<!-- /bench -->"
SLOT = re.compile(r"^<!-- bench-slot: ([A-Za-z0-9_.-]+) -->$")
MACHINE = "machine"
UNPLACED_HEADING = "## Tables without a section yet"


class MarkerError(ValueError):
    """A module's output or the document's markers do not follow the contract."""


def split_tables(stdout: str) -> dict[str, str]:
    """{key: Markdown} of a module's stdout, in order ({} for none). Raises MarkerError
    for text before the first key, a key printed twice or a key without a Markdown table."""
    tables: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, line in enumerate(stdout.splitlines(), 1):
        found = TABLE.match(line.strip())
        if found:
            key = found.group(1)
            if key in tables:
                raise MarkerError(f"line {number}: table key {key!r} printed twice")
            current = tables[key] = []
        elif current is not None:
            current.append(line.rstrip())
        elif line.strip():
            raise MarkerError(
                f"line {number}: text before the first `<!-- table: KEY -->` line: {line[:80]!r}"
            )
    out = {}
    for key, lines in tables.items():
        text = "\n".join(lines).strip("\n")
        if not any(line.lstrip().startswith("|") for line in lines):
            raise MarkerError(f"table {key!r} holds no Markdown table")
        out[key] = text
    return out


@dataclass(frozen=True)
class Block:
    name: str  # "MODULE/KEY" or "machine"
    start: int  # index of the opening marker line
    end: int  # index of the closing marker line

    @property
    def module(self) -> str:
        return self.name.split("/", 1)[0]


def find_blocks(doc: str) -> list[Block]:
    """The document's marked blocks in order. Raises MarkerError for a block opened twice,
    one left open, or a closing marker without an opening one."""
    blocks: list[Block] = []
    names: set[str] = set()
    opened: tuple[str, int] | None = None
    for index, line in enumerate(doc.splitlines()):
        text = line.strip()
        found = OPEN.match(text)
        if found:
            if opened is not None:
                raise MarkerError(f"line {index + 1}: {text} inside the open block {opened[0]!r}")
            if found.group(1) in names:
                raise MarkerError(f"line {index + 1}: block {found.group(1)!r} appears twice")
            opened = (found.group(1), index)
            names.add(found.group(1))
        elif text == CLOSE:
            if opened is None:
                raise MarkerError(f"line {index + 1}: {CLOSE} without an opening marker")
            blocks.append(Block(opened[0], opened[1], index))
            opened = None
    if opened is not None:
        raise MarkerError(f"line {opened[1] + 1}: block {opened[0]!r} is never closed")
    return blocks


@dataclass
class Rewrite:
    doc: str
    replaced: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # module ran, table not printed: kept
    not_run: list[str] = field(default_factory=list)  # module did not run: left as it was
    added: list[str] = field(default_factory=list)  # printed, no marker yet: placed
    unchanged: list[str] = field(default_factory=list)  # printed, same text as before


def _block(name: str, text: str) -> list[str]:
    return [f"<!-- bench: {name} -->", *text.splitlines(), CLOSE]


def rewrite(
    doc: str,
    tables: Mapping[str, Mapping[str, str]],
    ran: set[str],
    machine: str | None = None,
) -> Rewrite:
    """The document with the blocks of ``tables`` ({module: {key: Markdown}}) replaced.

    ``ran``: the modules that ran and succeeded in this run; a block of one of them that
    it did not print is stale (kept, reported). ``machine``: the new text of the machine
    block (None: left as it was; added at the top, after the title, when missing)."""
    blocks = find_blocks(doc)
    lines = doc.splitlines()
    wanted = {f"{m}/{k}": text for m, keys in tables.items() for k, text in keys.items()}
    result = Rewrite(doc)
    out: list[str] = []
    placed_after: dict[int, list[str]] = {}  # index of a block's closing line -> names
    last_of_module = {b.module: b.end for b in blocks if b.name != MACHINE}
    for index, line in enumerate(lines):
        slot = SLOT.match(line.strip())
        if slot:
            last_of_module.setdefault(slot.group(1), index)
    known = {b.name for b in blocks}
    unplaced: list[str] = []
    for name in wanted:
        if name in known:
            continue
        end = last_of_module.get(name.split("/", 1)[0])
        if end is None:
            unplaced.append(name)
        else:
            placed_after.setdefault(end, []).append(name)
    by_start = {b.start: b for b in blocks}
    index = 0
    while index < len(lines):
        block = by_start.get(index)
        if block is None:
            out.append(lines[index])
            for name in placed_after.get(index, []):  # a slot line
                out.extend(["", *_block(name, wanted[name])])
                result.added.append(name)
            index += 1
            continue
        old = "\n".join(lines[block.start + 1 : block.end]).strip("\n")
        if block.name == MACHINE and machine is not None:
            new = machine
        elif block.name in wanted:
            new = wanted[block.name]
        else:
            new = old
            if block.name != MACHINE:
                (result.stale if block.module in ran else result.not_run).append(block.name)
        if block.name in wanted or (block.name == MACHINE and machine is not None):
            (result.unchanged if new == old else result.replaced).append(block.name)
        out.extend(_block(block.name, new))
        for name in placed_after.get(block.end, []):
            out.extend(["", *_block(name, wanted[name])])
            result.added.append(name)
        index = block.end + 1
    if machine is not None and MACHINE not in known:
        at = 1 if out and out[0].startswith("# ") else 0
        out[at:at] = ["", *_block(MACHINE, machine)]
        result.added.append(MACHINE)
    if unplaced:
        if UNPLACED_HEADING not in out:
            out.extend(["", UNPLACED_HEADING])
        for name in unplaced:
            out.extend(["", f"`{name}`:", "", *_block(name, wanted[name])])
            result.added.append(name)
    result.doc = "\n".join(out) + ("\n" if doc.endswith("\n") or not doc else "")
    return result
