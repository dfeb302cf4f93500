"""Every text renderer shows control characters from containers escaped; JSON keeps them.

One test per renderer (top table and tree, stats table, events text line, templates,
the CLI's error line, the stderr gap note, console logs). The real-engine side is in
test_escapes_engine.py.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace

import pytest
import structlog

from watchdog_agent import logsetup
from watchdog_agent.cli import main
from watchdog_agent.commands.events import _gap_note
from watchdog_agent.commands.textfmt import stats_table, top_table, top_tree
from watchdog_agent.events.render import compile_template, json_line, text_line
from watchdog_agent.model import ContainerRef, Event, Gap, ProcessInfo
from watchdog_agent.wire.tojson import process_json, unsampled

PWN = "\x1b]0;pwned\x07\x1b[2J"  # set the terminal title, clear the screen
PWN_SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J"
CSI8 = "\x9b31m"  # the 8-bit CSI (C1), as a character
RAW = ("\x1b", "\x07", "\x9b", "\x7f", "\x00")


def no_controls(text: str) -> None:
    """``text`` may hold newlines between lines, but no other control character."""
    bad = [c for c in text.replace("\n", "") if c in RAW or ord(c) < 0x20]
    assert not bad, f"raw control characters {bad!r} in {text!r}"


def proc(pid: int, cmd: str, user: str = "root", ppid: int = 1) -> ProcessInfo:
    return ProcessInfo(
        pid=pid, ppid=ppid, ns_pid=pid - 100, ns_ppid=None, user=user, uid=0, state="S",
        threads=1, cpu_seconds=0.0, cpu_percent=0.0, rss_bytes=4096, started_at=None,
        cmd=cmd,
    )  # fmt: skip


def test_top_table_escapes_argv_and_user_and_aligns_on_shown_text() -> None:
    evil = proc(200, f"sh -c sleep {PWN}", user=f"u{PWN}")
    plain = proc(201, "sleep 600")
    out = top_table([evil, plain])
    no_controls(out)
    lines = out.splitlines()
    assert lines[1].endswith(f"sh -c sleep {PWN_SHOWN}")
    assert f"u{PWN_SHOWN}" in lines[1]
    # STATE starts where the header says, on both rows: widths of the escaped text
    at = lines[0].index("STATE")
    assert lines[1][at] == "S" and lines[2][at] == "S", out
    # JSON keeps the exact characters
    assert json.loads(json.dumps(process_json(evil)))["cmd"] == f"sh -c sleep {PWN}"


def test_top_tree_escapes_children_and_keeps_branches() -> None:
    child = proc(201, f"sleep {PWN}", ppid=200)
    root = replace(proc(200, f"sh {CSI8}"), children=(child,))
    out = top_tree([root])
    no_controls(out)
    lines = out.splitlines()
    assert lines[1].endswith("sh \\x9b31m")
    assert lines[2].endswith(f"└─ sleep {PWN_SHOWN}")


def test_stats_table_escapes_the_name_and_aligns_on_shown_text() -> None:
    at = time.time()
    evil = unsampled(ContainerRef(id="a" * 64, name=f"web{PWN}"), at)
    plain = unsampled(ContainerRef(id="b" * 64, name="db"), at)
    out = stats_table([evil, plain])
    no_controls(out)
    lines = out.splitlines()
    assert f"web{PWN_SHOWN}" in lines[1]
    cpu = lines[0].index("CPU %")
    assert lines[1][cpu] == "-" and lines[2][cpu] == "-", out
    assert lines[1][cpu - 1] == " " and lines[2][cpu - 1] == " ", out


EXEC = Event(
    type="container",
    action=f"exec_start: sh -c echo {PWN}",
    actor_id="c" * 64,
    attributes={"name": "evt", "evil": f"v{PWN}{CSI8}\x7f", f"k{PWN}": "x"},
    scope="local",
    time=1795852388,
    time_nano=1795852388401537705,
)


def test_event_text_line_escapes_action_and_attributes() -> None:
    line = text_line(EXEC)
    no_controls(line)
    assert f"exec_start: sh -c echo {PWN_SHOWN}" in line
    assert f"evil=v{PWN_SHOWN}\\x9b31m\\x7f" in line
    assert f"k{PWN_SHOWN}=x" in line
    # the JSON line keeps every character exactly
    doc = json.loads(json_line(EXEC))
    assert doc["Action"] == EXEC.action
    assert doc["Actor"]["Attributes"] == dict(EXEC.attributes)


def test_template_values_are_escaped_and_literals_are_kept() -> None:
    render = compile_template(
        "{{.Action}}\\t{{.Actor.Attributes.evil}}|{{.Actor.Attributes}}\\n"
        "{{json .Actor.Attributes}}"
    )
    out = render(EXEC)
    first, second = out.split("\n")
    action, rest = first.split("\t")  # the template's own \t and \n are kept
    no_controls(action + rest + second)
    assert action == f"exec_start: sh -c echo {PWN_SHOWN}"
    value, as_map = rest.split("|")
    assert value == f"v{PWN_SHOWN}\\x9b31m\\x7f"
    assert as_map.startswith("map[") and f"evil:{value}" in as_map
    # {{json}} in a template is still JSON and decodes to the exact values
    assert json.loads(second) == dict(EXEC.attributes)
    label = compile_template("{{json .Actor}}")(EXEC)
    no_controls(label)
    assert json.loads(label)["Attributes"]["evil"] == f"v{PWN}{CSI8}\x7f"


def test_cli_error_line_escapes_what_it_quotes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["top", "--no-docker", f"nosuch{PWN}"])
    err = capsys.readouterr().err
    assert code == 1, err
    no_controls(err)
    assert f"nosuch{PWN_SHOWN}" in err


def test_gap_note_escapes_the_reason() -> None:
    note = _gap_note(Gap(1, 2, f"agent said {PWN}"))
    no_controls(note)
    assert note.endswith(f"(agent said {PWN_SHOWN})")


def test_console_logs_escape_values_and_json_logs_keep_them() -> None:
    console, as_json = io.StringIO(), io.StringIO()
    try:
        logsetup.configure(json=False, stream=console)
        structlog.get_logger().info("post-mortem captured", name=f"web{PWN}")
        logsetup.configure(json=True, stream=as_json)
        structlog.get_logger().info("post-mortem captured", name=f"web{PWN}")
    finally:
        logsetup.configure()
    no_controls(console.getvalue())
    assert f"name=web{PWN_SHOWN}" in console.getvalue()
    assert json.loads(as_json.getvalue())["name"] == f"web{PWN}"
