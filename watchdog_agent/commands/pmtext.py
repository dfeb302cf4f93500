"""A post-mortem document (the API's JSON, agent.postmortem.store.postmortem_json) as text for a
terminal. Pure: every string that came from the container (name, image, commands,
users, log lines, event attributes) passes through termsafe.escape."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from watchdog_agent.commands.textfmt import MISSING, binary_size, table
from watchdog_agent.termsafe import escape
from watchdog_agent.wire.tojson import rfc3339

LOG_LINES = 20  # log lines shown (the document keeps up to 100)
EVENTS = 20  # events shown, the latest
EVENT_ATTRS = ("exitCode", "signal")  # attributes worth a column


def _text(value: Any) -> str:
    return MISSING if value is None else escape(str(value))


def _yes_no(value: bool | None) -> str:
    return MISSING if value is None else "yes" if value else "no"


def signal_name(number: int | None) -> str:
    if number is None:
        return MISSING
    try:
        return f"{number} ({signal.Signals(number).name})"
    except ValueError:
        return str(number)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _ran(doc: dict[str, Any]) -> str:
    started = doc.get("started_at")
    if not started:
        return ""
    try:
        begin = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return ""
    length = doc["died_at_nano"] / 1e9 - begin
    return f"   (ran {_duration(length)})" if length >= 0 else ""


def summarise(samples: Sequence[dict[str, Any]]) -> list[str]:
    """The last minute of samples in three lines: CPU, memory, PIDs."""
    if not samples:
        return ["  no samples in the minute before (the agent had none)"]

    def values(key: str) -> list[float]:
        return [s[key] for s in samples if isinstance(s.get(key), int | float)]

    cpu, mem, pids = values("cpu_percent"), values("memory_usage_bytes"), values("pids")
    limit = samples[-1].get("memory_limit_bytes")
    lines = [f"  {len(samples)} samples from {samples[0]['sampled_at']} "
             f"to {samples[-1]['sampled_at']}"]  # fmt: skip
    if cpu:
        lines.append(f"  CPU %    avg {sum(cpu) / len(cpu):.2f}   max {max(cpu):.2f}   "
                     f"last {cpu[-1]:.2f}")  # fmt: skip
    else:
        lines.append(f"  CPU %    {MISSING}")
    if mem:
        cap = "unlimited" if limit is None else binary_size(int(limit))
        lines.append(f"  Memory   max {binary_size(int(max(mem)))}   last "
                     f"{binary_size(int(mem[-1]))}   limit {cap}")  # fmt: skip
    else:
        lines.append(f"  Memory   {MISSING}")
    lines.append(f"  PIDs     max {int(max(pids))}   last {int(pids[-1])}" if pids
                 else f"  PIDs     {MISSING}")  # fmt: skip
    return lines


def _processes(doc: dict[str, Any]) -> list[str]:
    procs = doc.get("processes") or []
    if not procs:
        return ["  none read"]
    rows = [
        [str(p["pid"]), _text(p.get("ns_pid")), _text(p.get("user")), _text(p.get("state")),
         binary_size(p.get("rss_bytes")), _text(p.get("cmd"))]
        for p in procs
    ]  # fmt: skip
    body = table(("PID", "NSPID", "USER", "STATE", "RSS", "CMD"), rows)
    return ["  " + line for line in body.splitlines()]


def _logs(doc: dict[str, Any]) -> list[str]:
    logs = doc.get("logs") or []
    if not logs:
        return ["  none"]
    out = []
    for item in logs[-LOG_LINES:]:
        stamp = item.get("time") or MISSING
        out.append(f"  {stamp} {item.get('stream', MISSING):6} {escape(item.get('line', ''))}")
    return out


def _events(doc: dict[str, Any]) -> list[str]:
    events = doc.get("events") or []
    if not events:
        return ["  none seen"]
    rows = []
    for e in events[-EVENTS:]:
        attrs = (e.get("Actor") or {}).get("Attributes") or {}
        extra = " ".join(f"{k}={escape(str(attrs[k]))}" for k in EVENT_ATTRS if k in attrs)
        nano = e.get("timeNano")
        when = rfc3339(nano / 1e9) if isinstance(nano, int) else MISSING
        rows.append([when or MISSING, escape(str(e.get("Action"))), extra])
    return ["  " + line for line in table(("TIME", "ACTION", "DETAIL"), rows).splitlines()]


def render(doc: dict[str, Any]) -> str:
    cid = str(doc.get("id", ""))
    head = [
        f"Container:   {_text(doc.get('name'))} ({escape(cid[:12])})",
        f"Image:       {_text(doc.get('image'))}",
        f"Died:        {doc.get('died_at')} ({_text(doc.get('action'))})",
        f"Exit code:   {_text(doc.get('exit_code'))}",
        f"Signal:      {signal_name(doc.get('signal'))}",
        f"OOM killed:  {_yes_no(doc.get('oom_killed'))}",
        f"Started:     {doc.get('started_at') or MISSING}{_ran(doc)}",
        f"Captured:    {doc.get('captured_at') or MISSING}",
    ]
    procs_at = doc.get("processes_at")
    sections = [
        ("The last minute", summarise(doc.get("samples") or [])),
        (f"Processes (read at {procs_at or MISSING})", _processes(doc)),
        (f"Last log lines (up to {LOG_LINES})", _logs(doc)),
        (f"Events (up to {EVENTS}, the latest)", _events(doc)),
    ]
    errors = doc.get("errors") or []
    if errors:
        sections.append(("Not captured", ["  " + escape(str(e)) for e in errors]))
    out = head
    for title, lines in sections:
        out += ["", f"{title}:", *lines]
    return "\n".join(out) + "\n"
