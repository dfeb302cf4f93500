"""Post-mortems: the signal rule and the store (unit), then an OOM-killed container
against the real engine: OOMKilled, exit code, signal, samples, last log lines and
events; still served after the container is removed and after the agent restarts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.oomkill import recorded_oom_kill
from helpers.serving import check_schema, response_schema, serving

from watchdog_agent.agent.postmortem.capture import attribute_number, signal_of
from watchdog_agent.agent.postmortem.store import (
    APPLICATION_ID,
    POSTMORTEM_FILE,
    PostMortemStore,
    store_path,
)
from watchdog_agent.config import Settings
from watchdog_agent.errors import StoreError

# -- unit ---------------------------------------------------------------------------------


def test_event_numbers_are_ascii_decimals_or_absent() -> None:
    assert attribute_number({"signal": "15"}, "signal") == 15
    assert attribute_number({"exitCode": "137"}, "exitCode") == 137
    for odd in ("²", "-1", "", " 9", "1_0", "9\n", "٣"):
        assert attribute_number({"signal": odd}, "signal") is None, odd
    assert attribute_number({}, "signal") is None


def test_signal_from_the_kill_event_else_from_the_exit_code() -> None:
    assert signal_of(143, 15) == 15
    assert signal_of(0, 15) == 15  # sent, and the process exited on its own
    assert signal_of(137, None) == 9  # the kernel's OOM killer sends no kill event
    assert signal_of(1, None) is None and signal_of(None, None) is None


def _doc(cid: str, name: str, seq: int) -> dict[str, Any]:
    return {"id": cid, "name": name, "died_at_nano": seq, "exit_code": seq}


def test_store_finds_by_id_name_and_prefix_and_keeps_the_newest(tmp_path: Path) -> None:
    path = store_path(str(tmp_path / "state" / "events.db"))
    assert path == str(tmp_path / "state" / "events.postmortems.db")
    store = PostMortemStore(path, keep=3)
    store.open()
    store.put(_doc("aa11", "web", 1))
    store.put(_doc("aa22", "web", 2))  # the name now belongs to a newer container
    store.put(_doc("bb33", "db", 3))
    store.put(_doc("aa11", "old", 4))
    assert store.lookup("web") == ["aa22"] and store.lookup("bb") == ["bb33"]
    assert store.lookup("aa") == ["aa11", "aa22"] and store.lookup("zz") == []
    assert store.latest("aa11") == _doc("aa11", "old", 4)
    store.close()
    store = PostMortemStore(path, keep=3)  # durable, and only the newest 3 were kept
    store.open()
    assert store.lookup("web") == ["aa22"] and store.latest("aa11") == _doc("aa11", "old", 4)
    assert store.lookup("old") == ["aa11"]
    assert [store.latest(c)["exit_code"] for c in ("aa22", "bb33")] == [2, 3]  # type: ignore[index]
    store.close()


def test_store_in_memory_and_refusing_a_foreign_database(tmp_path: Path) -> None:
    memory = PostMortemStore(store_path(None))
    memory.open()
    memory.put(_doc("cc", "x", 1))
    assert memory.lookup("x") == ["cc"]
    memory.close()
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a post-mortem store"):
        PostMortemStore(str(foreign)).open()


def test_store_written_before_it_had_a_schema_version_opens_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "events.postmortems.db"
    with sqlite3.connect(path) as raw:  # what agents wrote before the shared SQLite set-up
        raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        raw.execute(
            "CREATE TABLE postmortems (seq INTEGER PRIMARY KEY, container_id TEXT NOT NULL,"
            " name TEXT, died_at_nano INTEGER NOT NULL, doc TEXT NOT NULL)"
        )
        raw.execute(
            "INSERT INTO postmortems (container_id, name, died_at_nano, doc) VALUES (?, ?, ?, ?)",
            ("ee", "old", 1, json.dumps(_doc("ee", "old", 1))),
        )
    raw.close()
    reader = PostMortemStore(str(path))
    reader.open_readonly()  # read as it is
    assert reader.latest("ee") == _doc("ee", "old", 1)
    reader.close()
    store = PostMortemStore(str(path))
    store.open()  # brought to the current version: the rows stay, new ones go in
    store.put(_doc("ff", "new", 2))
    assert store.lookup("old") == ["ee"] and store.lookup("new") == ["ff"]
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (POSTMORTEM_FILE.version,)
    raw.close()


# -- against the engine -------------------------------------------------------------------


async def _postmortem(client: Any, ident: str, timeout: float = 20.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        async with client.get(f"/api/v1/containers/{ident}/postmortem") as resp:
            if resp.status == 200:
                doc: dict[str, Any] = await resp.json()
                check_schema(doc, response_schema("/api/v1/containers/{id}/postmortem", 200))
                return doc
            assert resp.status == 404, await resp.text()
        assert loop.time() < end, f"no post-mortem for {ident}"
        await asyncio.sleep(0.1)


async def _forgotten(client: Any, ident: str, timeout: float = 20.0) -> None:
    """Wait until the agent no longer knows the container (404); fail if it still does."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        async with client.get(f"/api/v1/containers/{ident}") as resp:
            if resp.status == 404:
                return
            assert resp.status == 200, await resp.text()
        assert loop.time() < end, f"the agent still knows {ident} after {timeout} s"
        await asyncio.sleep(0.1)


@pytest.mark.engine
async def test_an_oom_killed_container_has_a_post_mortem_that_outlives_it(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    settings = Settings(docker_host=docker_host, interval=0.2, journal=str(tmp_path / "ev.db"))
    first = unique_name("pm-oom")
    names: list[str] = []  # one per run (helpers/oomkill.py may run it again)
    script = (
        "echo before-oom; echo to-stderr >&2; sleep 1.5; "
        "exec dd if=/dev/zero of=/data/f bs=1M count=64"
    )
    async with serving(settings) as client:
        async with client.get("/healthz") as resp:  # its loops are in the agent's health
            tasks = (await resp.json())["tasks"]
        assert tasks["postmortem"] == tasks["postmortem-procs"] == "running"
        async with client.get(f"/api/v1/containers/{first}/postmortem") as resp:
            assert resp.status == 404

        def run() -> str:
            names.append(unique_name("pm-oom") if names else first)
            return docker_cli.start("--memory", "16m", "--memory-swap", "16m", "--tmpfs",
                                    "/data", IMAGE, "sh", "-c", script, name=names[-1])  # fmt: skip

        cid = await asyncio.to_thread(recorded_oom_kill, docker_cli.run, run, first)
        name = names[-1]
        pm = await _postmortem(client, name)
        assert pm["id"] == cid and pm["name"] == name and pm["action"] == "die"
        assert pm["oom_killed"] is True and pm["exit_code"] == 137 and pm["signal"] == 9
        assert pm["samples"] and all(s["id"] == cid for s in pm["samples"])
        assert pm["samples"][-1]["memory_limit_bytes"] == 16 * 1024 * 1024
        got = {(x["stream"], x["line"]) for x in pm["logs"]}  # (dd's own stderr may follow)
        assert {("stdout", "before-oom"), ("stderr", "to-stderr")} <= got
        assert all(x["time"] for x in pm["logs"])
        actions = [e["Action"] for e in pm["events"]]
        assert {"start", "oom", "die"} <= set(actions) and actions[-1] == "die"
        assert 1 in [p["ns_pid"] for p in pm["processes"]] and pm["errors"] == []
        await asyncio.to_thread(docker_cli.rm, cid)
        await _forgotten(client, name)
        assert await _postmortem(client, name) == pm
        assert await _postmortem(client, cid[:10]) == pm
    async with serving(settings) as client:  # a restarted agent still has it
        assert await _postmortem(client, cid, timeout=0) == pm
