"""The pure parts behind `logs` and `postmortem`: the demuxer's exact bytes, terminal
output, the agent options, the post-mortem text, and the read-only store."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchdog_agent.agent.postmortem.store import PostMortemStore
from watchdog_agent.commands import agentlink
from watchdog_agent.commands.logs import LogsQuery, Output
from watchdog_agent.commands.pmtext import render, signal_name, summarise
from watchdog_agent.commands.stats import render as stats_render
from watchdog_agent.docker.logframes import MAX_PIECE, STDERR, STDOUT, Demuxer, frame
from watchdog_agent.errors import StoreError, UsageError
from watchdog_agent.model import CgroupMode, ContainerRef, Snapshot
from watchdog_agent.wire.tojson import stats_doc

# -- Demuxer -------------------------------------------------------------------------------

PAYLOADS = st.lists(
    st.tuples(st.sampled_from([1, 2]), st.binary(min_size=0, max_size=300)), max_size=12
)


@given(PAYLOADS, st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_demuxer_gives_each_stream_its_exact_bytes(
    frames: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(frame(kind, data) for kind, data in frames)
    demux, got = Demuxer(), {STDOUT: b"", STDERR: b""}
    at = 0
    for size in [*cuts, len(stream)]:
        for kind, data, _ in demux.feed(stream[at : at + size]):
            got[kind] += data
        at += size
    pieces, cut = demux.close()
    assert pieces == [] and not cut
    assert got[STDOUT] == b"".join(d for k, d in frames if k == 1)
    assert got[STDERR] == b"".join(d for k, d in frames if k == 2)


def test_demuxer_pieces_a_long_frame_and_says_when_cut() -> None:
    demux = Demuxer()
    pieces = demux.feed(frame(1, b"x" * (MAX_PIECE + 5)))
    assert [(k, len(d), first) for k, d, first in pieces] == [
        (STDOUT, MAX_PIECE, True), (STDOUT, 5, False)
    ]  # fmt: skip
    assert demux.feed(frame(2, b"abcdef")[:11]) == []
    assert demux.close() == ([(STDERR, b"abc", True)], True)


# -- terminal output -----------------------------------------------------------------------


class _Sink(io.BytesIO):
    pass


def test_output_piped_keeps_bytes_and_a_terminal_sees_them_shown() -> None:
    piped = Output(_Sink(), terminal=False)
    piped.write(b"\x1b[2Ja\r\n\xff")
    assert piped.binary.getvalue() == b""  # type: ignore[attr-defined]
    piped.flush()
    assert piped.binary.getvalue() == b"\x1b[2Ja\r\n\xff"  # type: ignore[attr-defined]

    shown = Output(_Sink(), terminal=True)
    for piece in (b"\x1b]0;t\x07 caf", b"\xc3", b"\xa9\r", b"\nnext\r", b"x\tend"):
        shown.write(piece)  # a UTF-8 character and a CRLF split across writes
    shown.close()
    assert shown.binary.getvalue().decode() == (  # type: ignore[attr-defined]
        "\\x1b]0;t\\x07 café\nnext\\x0dx\tend"
    )


def test_logs_query_checks_flags_like_docker() -> None:
    q = LogsQuery.parse(True, "ALL", "1732780800.5", None, True)
    assert q.params() == {"follow": "1", "tail": "all", "timestamps": "1",
                          "since": "1732780800.500000000"}  # fmt: skip
    assert LogsQuery.parse(False, "007", None, None, False).params()["tail"] == "7"
    with pytest.raises(UsageError, match="--tail '-1'"):
        LogsQuery.parse(False, "-1", None, None, False)
    with pytest.raises(UsageError, match="--until is before --since"):
        LogsQuery.parse(False, "all", "1732780800", "1732780799", False)


def test_agent_options_from_flag_environment_and_default(tmp_path: Path) -> None:
    def ns(agent: str | None = None, token: str | None = None) -> argparse.Namespace:
        return argparse.Namespace(agent=agent, agent_token_file=token)

    assert agentlink.options_from(ns(), {}) == agentlink.AgentOptions(agentlink.DEFAULT_URL)
    env = {agentlink.URL_ENV: "http://127.0.0.1:7000"}
    assert agentlink.options_from(ns(), env).url == "http://127.0.0.1:7000"
    assert not agentlink.options_from(ns(), env).explicit
    token = tmp_path / "token"
    token.write_text("s3cret\nignored\n")
    named = agentlink.options_from(ns("http://127.0.0.1:7001", str(token)), env)
    assert named == agentlink.AgentOptions("http://127.0.0.1:7001", "s3cret", explicit=True)
    assert agentlink.options_from(ns("none"), env).url is None
    assert agentlink.options_from(ns(), {agentlink.URL_ENV: "NONE"}).url is None
    with pytest.raises(UsageError, match="cannot read the token file"):
        agentlink.options_from(ns(token=str(tmp_path / "missing")), {})


# -- post-mortem text ----------------------------------------------------------------------


def _stats(at: str, cpu: float | None, mem: int | None, pids: int | None) -> dict[str, Any]:
    return {"sampled_at": at, "cpu_percent": cpu, "memory_usage_bytes": mem,
            "memory_limit_bytes": 64 * 1024 * 1024, "pids": pids}  # fmt: skip


def _pm(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "ab" * 32, "name": "web\x1b[2J", "image": "img", "action": "die",
        "died_at": "2026-11-30T08:00:10.000000Z", "died_at_nano": 1796025610 * 10**9,
        "exit_code": 137, "oom_killed": True, "signal": 9,
        "started_at": "2026-11-30T07:58:00.000000Z",
        "samples": [_stats("t1", 10.0, 1024, 2), _stats("t2", 30.0, 4096, 3)],
        "processes": [{"pid": 10, "ns_pid": 1, "user": "root", "state": "S",
                       "rss_bytes": 2048, "cmd": "sh -c \x1b]0;x\x07"}],
        "processes_at": "2026-11-30T08:00:09.000000Z",
        "logs": [{"stream": "stderr", "time": "T", "line": "boom \x1b[31m"}],
        "events": [{"Type": "container", "Action": "die",
                    "Actor": {"ID": "ab" * 32, "Attributes": {"exitCode": "137"}},
                    "timeNano": 1796025610 * 10**9}],
        "captured_at": "2026-11-30T08:00:10.100000Z", "errors": [],
    }  # fmt: skip
    doc.update(over)
    return doc


def test_postmortem_text_escapes_what_came_from_the_container() -> None:
    text = render(_pm())
    assert "\x1b" not in text
    lines = text.splitlines()
    assert "Container:   web\\x1b[2J (abababababab)" in lines
    assert "Exit code:   137" in lines and "Signal:      9 (SIGKILL)" in lines
    assert "OOM killed:  yes" in lines
    assert "Started:     2026-11-30T07:58:00.000000Z   (ran 2m10s)" in lines
    assert "  CPU %    avg 20.00   max 30.00   last 30.00" in lines
    assert "  Memory   max 4KiB   last 4KiB   limit 64MiB" in lines
    assert "  PIDs     max 3   last 3" in lines
    assert any(line.endswith("sh -c \\x1b]0;x\\x07") for line in lines)
    assert "  T stderr boom \\x1b[31m" in lines
    assert any("die" in line and "exitCode=137" in line for line in lines)


def test_postmortem_text_shows_gaps_as_dashes() -> None:
    text = render(_pm(exit_code=None, oom_killed=None, signal=None, started_at=None,
                      samples=[], processes=[], logs=[], events=[],
                      errors=["docker: gone \x07"]))  # fmt: skip
    lines = text.splitlines()
    assert "Exit code:   -" in lines and "OOM killed:  -" in lines and "Signal:      -" in lines
    assert "Started:     -" in lines and "  docker: gone \\x07" in lines
    assert summarise([_stats("t", None, None, None)])[1:] == [
        "  CPU %    -", "  Memory   -", "  PIDs     -"
    ]  # fmt: skip
    assert signal_name(99) == "99"


# -- the store, read-only -----------------------------------------------------------------


def test_the_store_opens_read_only_and_never_creates_one(tmp_path: Path) -> None:
    path = tmp_path / "events.postmortems.db"
    with pytest.raises(StoreError, match="no such file"):
        PostMortemStore(str(path)).open_readonly()
    assert not path.exists()
    writer = PostMortemStore(str(path))
    writer.open()
    writer.put({"id": "cc" * 32, "name": "db", "died_at_nano": 1, "exit_code": 1})
    reader = PostMortemStore(str(path))
    reader.open_readonly()
    assert reader.lookup("db") == ["cc" * 32]
    with pytest.raises(StoreError, match="readonly"):
        reader.put({"id": "dd", "name": None, "died_at_nano": 2})
    reader.close()
    writer.close()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StoreError, match="not a post-mortem store"):
        PostMortemStore(str(other)).open_readonly()


# -- stats: a container with no sample -------------------------------------------------------


def test_stats_row_without_a_sample_is_all_gaps_in_json_and_table() -> None:
    """`stats -a` shows a stopped container as the API does: every number and PSI entry
    null in JSON (absent is not 0), "-" in the table; ``sampled_at`` is the table's time
    (the API, with no table, says null)."""
    ref = ContainerRef(id="c" * 64, name="stopped", image="busybox", state="exited")
    snap = Snapshot(taken_at=1_700_000_000.0, mode=CgroupMode.V2, containers={})
    out = io.StringIO()
    stats_render([ref], snap, "json", out)
    (doc,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (doc["id"], doc["name"], doc["image"]) == (ref.id, "stopped", "busybox")
    assert doc["psi"] == {"cpu": None, "memory": None, "io": None}
    assert doc["sampled_at"] == "2023-11-14T22:13:20.000000Z"
    named = {"id", "name", "image", "psi", "sampled_at"}
    assert {k: v for k, v in doc.items() if k not in named} == dict.fromkeys(set(doc) - named)
    api = stats_doc(ref, None)  # the API's GET .../stats for the same container
    assert api == {**doc, "sampled_at": None}
    table = io.StringIO()
    stats_render([ref], snap, "table", table)
    _header, row = table.getvalue().splitlines()
    assert row.startswith(ref.id[:12]) and "stopped" in row
    assert not any(ch.isdigit() for ch in row), row  # no number shown, not even 0
    assert row.split()[2] == "-", row  # CPU %
