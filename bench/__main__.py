"""Every benchmark, one command: runs each registered module as ``python -m bench.NAME
[--quick]``, one after the other, and rewrites the tables of docs/performance.md.

    python -m bench [--quick] [--only NAME[,NAME]] [--skip NAME[,NAME]]
                    [--doc PATH] [--out PATH | --no-write] [--report PATH]

(or ``scripts/bench``, which uses the repository's .venv). With ``DOCKER_HOST`` set to
an engine, the modules add their real-container rows; without one they print what they
measure without Docker and say what they skipped.

Each module prints Markdown tables on stdout, each after a line ``<!-- table: KEY -->``
(bench/docmarkers.py), and its progress on stderr, which is shown here as it comes. The
document holds each table between ``<!-- bench: MODULE/KEY -->`` and ``<!-- /bench -->``;
only what is between those markers is replaced, and the machine block
(``<!-- bench: machine -->``) describes the machine and the run. A table whose module
ran without printing it is kept and reported (in the summary and in the machine block);
a new table is placed after its module's last table. A module that fails, or whose
output does not follow the contract, is reported with the tail of its stderr; the others
still run, and the exit status is 1 at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from bench import machine
from bench.docmarkers import MarkerError, find_blocks, rewrite, split_tables

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
TAIL = 25  # stderr lines shown for a failed module


@dataclass(frozen=True)
class Module:
    name: str
    measures: str
    default: bool = True  # in a run without --only (long ones are run by name)
    timeout: float = 1800.0  # seconds (a quick run: a tenth, at least 120 s)


REGISTRY: tuple[Module, ...] = (
    Module("stats_api", "stats: the agent's API, `docker stats` and Docker's stats endpoint"),
    Module("stats_cli", "stats: `watchdog-agent stats --no-stream` against `docker stats`"),
    Module("sampling", "sampling cost per container per pass, share of a core"),
    Module("metrics", "/metrics rendering against prometheus_client"),
    Module("scrapers", "/metrics over HTTP, plain and gzip, scrapers in parallel"),
    Module("events_fanout", "events: fan-out to 100 subscribers, exact Lost(n)"),
    Module("events_fanout_http", "events: the same through the HTTP stream route"),
    Module("journal", "events: journal inserts and queries at 1,000,000 events"),
    Module("events_latency", "events: delivery latency next to `docker events`"),
    Module("memory", "agent RSS at 0, real and generated containers"),
    Module("dstats_refresh", "dstats: refresh at 1,000 rows, start to first frame"),
    Module("dstats_agent", "dstats through a real agent: first frame, idle CPU"),
    Module("dstats_rows", "dstats' data side: one snapshot document decoded"),
    Module("host", "one host sample and the agent's own cost"),
    Module("abuse_memory", "agent RSS and sockets through slow and bad clients"),
    Module("login_flood", "a real login while attackers guess passwords"),
    Module("disk", "does a disk sample delay sampling (builds 200 images)", default=False),
    Module("soak", "RSS over 30 minutes of churn", default=False, timeout=7200.0),
)
BY_NAME = {m.name: m for m in REGISTRY}


@dataclass
class Outcome:
    module: str
    status: str = "ok"  # ok, failed, contract, timeout
    seconds: float = 0.0
    tables: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    message: str = ""
    stderr_tail: list[str] = field(default_factory=list)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_module(module: Module, quick: bool, index: str) -> Outcome:
    """Runs one module, streaming its stderr (prefixed) to ours."""
    argv = [sys.executable, "-m", f"bench.{module.name}", *(["--quick"] if quick else [])]
    timeout = max(120.0, module.timeout / 10) if quick else module.timeout
    outcome = Outcome(module.name)
    tail: deque[str] = deque(maxlen=TAIL)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    say(f"==> [{index}] {module.name}: {module.measures}")
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace")  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    chunks: list[str] = []
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: chunks.append(stdout.read()), daemon=True)
    reader.start()

    def follow_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            tail.append(line)
            if line.lower().startswith("skipped"):
                outcome.skipped.append(line)
            say(f"    {module.name} {time.monotonic() - start:6.1f} s | {line}")

    follower = threading.Thread(target=follow_stderr, daemon=True)
    follower.start()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
        outcome.status, outcome.message = "timeout", f"killed after {timeout:.0f} s"
    reader.join(10)
    follower.join(10)
    outcome.seconds = time.monotonic() - start
    outcome.stderr_tail = list(tail)
    if outcome.status == "ok" and code != 0:
        why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        outcome.status, outcome.message = "failed", why
    if outcome.status == "ok":
        try:
            outcome.tables = split_tables("".join(chunks))
        except MarkerError as exc:
            outcome.status = "contract"
            outcome.message = f"stdout does not follow the bench contract: {exc}"
        else:
            if not outcome.tables and not outcome.skipped:
                outcome.status = "contract"
                outcome.message = ("printed no `<!-- table: KEY -->` line and no `skipped: ...` "
                                   "line on stderr saying why")  # fmt: skip
    if outcome.status == "ok":
        say(f"<== {module.name}: {len(outcome.tables)} tables in {outcome.seconds:.1f} s")
    else:
        say(f"<== {module.name}: FAILED ({outcome.message}) after {outcome.seconds:.1f} s")
    return outcome


def names(values: list[str]) -> list[str]:
    out = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in out if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return out


def selected(only: list[str], skip: list[str]) -> list[Module]:
    chosen = [BY_NAME[n] for n in names(only)] if only else [m for m in REGISTRY if m.default]
    skipped = set(names(skip))
    return [m for m in chosen if m.name not in skipped]


def summary(outcomes: list[Outcome], stale: list[str], added: list[str]) -> None:
    say("\n==> summary")
    for o in outcomes:
        state = "ok" if o.status == "ok" else f"FAILED: {o.message}"
        say(f"    {o.module:<18} {o.seconds:7.1f} s  {len(o.tables):2} tables  {state}")
        for line in o.skipped:
            say(f"        {line}")
    for o in outcomes:
        if o.status != "ok":
            say(f"\n==> {o.module}: {o.message}; the last lines of its stderr:")
            for line in o.stderr_tail or ["(nothing)"]:
                say(f"    {line}")
    if stale:
        say("\n==> tables their module no longer printed (kept from an earlier run; remove "
            "their markers from the document if they are gone for good):")  # fmt: skip
        for name in stale:
            say(f"    {name}")
    if added:
        say("\n==> tables new to the document (placed after their module's last table):")
        for name in added:
            say(f"    {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smallest runs (CI smoke)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="run these modules only (also those not in a default run)",
    )
    parser.add_argument("--skip", action="append", default=[], metavar="NAME[,NAME]")
    parser.add_argument("--doc", type=Path, default=DOC, help="the document to update")
    parser.add_argument("--out", type=Path, help="write the updated document here instead")
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="print the updated document on stdout, write nothing",
    )
    parser.add_argument("--report", type=Path, help="also write the outcome as JSON here")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    args = parser.parse_args(argv)  # fmt: skip
    if args.list:
        for m in REGISTRY:
            print(f"{m.name:<18} {'default' if m.default else 'by name'}  {m.measures}")
        return 0
    modules = selected(args.only, args.skip)
    try:
        doc = args.doc.read_text()
        find_blocks(doc)  # a broken marker is found before the modules run, not after
    except (OSError, MarkerError) as exc:
        raise SystemExit(f"python -m bench: {args.doc}: {exc}") from None
    docker = machine.docker_version()
    flags = ["--quick"] if args.quick else []
    flags += [f"--only {o}" for o in args.only] + [f"--skip {k}" for k in args.skip]
    mode = " ".join(["python -m bench", *flags])
    started, load_before, commit = machine.now(), machine.load(), machine.git_commit(ROOT)
    say(f"==> {len(modules)} benchmarks{' (quick)' if args.quick else ''}; Docker: "
        f"{docker or 'none answers at $DOCKER_HOST: real-container rows are skipped'}")  # fmt: skip
    outcomes = []
    t0 = time.monotonic()
    for n, module in enumerate(modules, 1):
        outcomes.append(run_module(module, args.quick, f"{n}/{len(modules)}"))
    say(f"==> all ran in {time.monotonic() - t0:.1f} s")
    ok = [o for o in outcomes if o.status == "ok"]
    tables = {o.module: o.tables for o in ok}
    ran = {o.module for o in ok}
    first = rewrite(doc, tables, ran)  # which blocks are stale, for the machine block
    describe = machine.describe(commit=commit, load_before=load_before, load_after=machine.load(),
                                started=started, docker=docker, mode=mode,
                                modules=[o.module for o in ok], stale=first.stale)  # fmt: skip
    result = rewrite(doc, tables, ran, machine=describe)
    summary(outcomes, result.stale, [a for a in result.added if a != "machine"])
    if args.no_write:
        sys.stdout.write(result.doc)
    else:
        target = args.out or args.doc
        target.write_text(result.doc)
        say(f"\n==> wrote {target}: {len(result.replaced)} blocks replaced, "
            f"{len(result.unchanged)} unchanged, {len(result.added)} added, "
            f"{len(result.stale)} stale, {len(result.not_run)} not run")  # fmt: skip
    if args.report:
        args.report.write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    failed = [o.module for o in outcomes if o.status != "ok"]
    if failed:
        say(f"==> FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
