"""DockerClient against the real test engine, and decode.py on hand-written documents."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from hypothesis import given
from hypothesis import strategies as st

from watchdog_agent.docker import client as client_module
from watchdog_agent.docker import engine as engine_module
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.docker.decode import (
    container_from_inspect,
    container_from_summary,
    parse_rfc3339,
)
from watchdog_agent.errors import DockerError, DockerUnavailable, NotFound, ParseError, UsageError

engine = pytest.mark.engine


def go_time(value: str) -> float:
    """An independent RFC 3339 parse (microseconds) to compare with parse_rfc3339."""
    head, _, frac = value.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    return whole + (float(f"0.{frac}") if frac else 0.0)


@pytest.fixture
async def docker(docker_host: str, docker_cli: DockerCLI) -> AsyncIterator[DockerClient]:
    """A client on the test engine (skips, or fails under CI, without one)."""
    async with DockerClient(docker_host) as c:
        yield c


# --- against the engine ------------------------------------------------------------


@engine
async def test_negotiates_the_daemons_version_below_ours(
    docker: DockerClient, docker_cli: DockerCLI
) -> None:
    assert docker.api_version is None  # lazy: nothing sent yet
    assert await docker.negotiate() == "1.41"  # a 20.10 daemon, API_MAX is 1.47
    assert docker.api_version == "1.41"
    server = docker_cli.run("version", "--format", "{{.Server.APIVersion}}").strip()
    assert server == "1.41"
    assert (await docker.version())["ApiVersion"] == "1.41"


@engine
async def test_first_request_negotiates_lazily(docker: DockerClient, docker_cli: DockerCLI) -> None:
    info = await docker.info()
    assert docker.api_version == "1.41"
    assert info["ID"] == docker_cli.run("info", "--format", "{{.ID}}").strip()


@engine
async def test_concurrent_first_requests_share_one_negotiation(docker: DockerClient) -> None:
    version, info, listed = await asyncio.gather(
        docker.version(), docker.info(), docker.list_containers(all=True)
    )
    assert docker.api_version == version["ApiVersion"] == "1.41"
    assert isinstance(info["Containers"], int) and isinstance(listed, list)


@engine
async def test_list_and_inspect_a_running_container(
    docker: DockerClient, docker_cli: DockerCLI
) -> None:
    name = unique_name("wd-client")
    cid = docker_cli.start(
        "-t", "--label", "com.example.team=payments", IMAGE, "sleep", "300", name=name
    )
    raw = docker_cli.inspect(cid)
    labels = {"watchdog.test": "1", "com.example.team": "payments"}

    listed = await docker.list_containers(filters={"id": [cid]})
    assert len(listed) == 1
    ref = listed[0]
    assert (ref.id, ref.name, ref.image, ref.image_id) == (cid, name, IMAGE, raw["Image"])
    assert {k: ref.labels[k] for k in labels} == labels
    assert ref.state == "running"
    assert ref.pid is None  # the summary has none
    assert ref.created is not None and abs(ref.created - go_time(raw["Created"])) < 1.0

    ref = await docker.inspect_container(cid)
    assert (ref.id, ref.name, ref.image, ref.image_id) == (cid, name, IMAGE, raw["Image"])
    assert {k: ref.labels[k] for k in labels} == labels
    assert ref.state == "running"
    assert ref.pid == raw["State"]["Pid"] and ref.pid is not None and ref.pid > 0
    assert ref.tty is True
    assert ref.restart_count == 0 and ref.exit_code == 0 and ref.oom_killed is False
    assert ref.started_at == pytest.approx(go_time(raw["State"]["StartedAt"]), abs=1e-5)
    assert ref.created == pytest.approx(go_time(raw["Created"]), abs=1e-5)

    # a name and a unique id prefix find the same container
    assert (await docker.inspect_container(name)).id == cid
    assert (await docker.inspect_container(cid[:16])).id == cid
    assert (await docker.inspect_raw(cid))["Id"] == cid


@engine
async def test_a_stopped_container_has_no_pid(docker: DockerClient, docker_cli: DockerCLI) -> None:
    cid = docker_cli.start(IMAGE, "sh", "-c", "exit 3", name=unique_name("wd-exited"))
    assert docker_cli.run("wait", cid).strip() == "3"

    ref = await docker.inspect_container(cid)
    assert ref.state == "exited"
    assert ref.pid is None
    assert ref.exit_code == 3 and ref.tty is False
    assert ref.started_at is not None

    assert await docker.list_containers(filters={"id": [cid]}) == []
    (listed,) = await docker.list_containers(all=True, filters={"id": [cid]})
    assert (listed.id, listed.state, listed.pid) == (cid, "exited", None)


@engine
async def test_unknown_container_raises_not_found(docker: DockerClient) -> None:
    ident = unique_name("wd-no-such")
    with pytest.raises(NotFound) as info:
        await docker.inspect_container(ident)
    assert info.value.ident == ident
    assert info.value.reason == "no such container"
    with pytest.raises(NotFound):
        await docker.inspect_raw(ident)


@engine
async def test_engine_error_status_becomes_docker_error(docker: DockerClient) -> None:
    with pytest.raises(DockerError) as info:
        await docker.list_containers(filters={"bogus": ["x"]})
    assert info.value.status == 400
    assert "bogus" in info.value.message


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "HEAD", "post"])
async def test_non_get_is_refused_before_the_socket(method: str, tmp_path: Path) -> None:
    # No socket at this address: reaching for it would raise DockerUnavailable.
    c = DockerClient(f"unix://{tmp_path}/absent.sock")
    with pytest.raises(UsageError, match="GET-only"):
        await c.request(method, "/containers/x/kill")
    assert c._session is None and c.api_version is None
    await c.close()


@engine
async def test_non_get_leaves_the_container_alone(
    docker: DockerClient, docker_cli: DockerCLI
) -> None:
    cid = docker_cli.start(IMAGE, "sleep", "300", name=unique_name("wd-get-only"))
    with pytest.raises(UsageError):
        await docker.request("POST", f"/containers/{cid}/kill")
    assert docker_cli.inspect(cid)["State"]["Running"] is True


@engine
async def test_stream_lines_reads_events_between_since_and_until(
    docker: DockerClient, docker_cli: DockerCLI
) -> None:
    since = time.time() - 1
    cid = docker_cli.start(IMAGE, "true", name=unique_name("wd-events"))
    docker_cli.run("wait", cid)
    params = {
        "since": f"{since:.9f}",
        "until": f"{time.time():.9f}",  # in the past: the stream ends by itself
        "filters": json.dumps({"container": [cid]}),
    }
    async with asyncio.timeout(30):
        lines = [line async for line in docker.stream_lines("/events", params)]
    events = [json.loads(line) for line in lines]
    assert all(isinstance(line, bytes) and not line.endswith(b"\n") for line in lines)
    assert [e["Action"] for e in events] == ["create", "start", "die"]
    assert {e["Actor"]["ID"] for e in events} == {cid}
    assert events[-1]["Actor"]["Attributes"]["exitCode"] == "0"


@engine
async def test_stream_lines_can_be_closed_early(
    docker: DockerClient, docker_cli: DockerCLI
) -> None:
    cid = docker_cli.start(IMAGE, "true", name=unique_name("wd-follow"))
    docker_cli.run("wait", cid)
    params = {"since": "0", "filters": json.dumps({"container": [cid]})}  # no until: follows
    async with asyncio.timeout(30), aclosing(docker.stream_lines("/events", params)) as lines:
        first = await anext(lines)
    assert json.loads(first)["Action"] == "create"
    assert (await docker.version())["ApiVersion"] == "1.41"  # the client is still usable


# --- no engine needed --------------------------------------------------------------


async def test_missing_socket_raises_docker_unavailable(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/absent.sock"
    async with DockerClient(host) as c:
        with pytest.raises(DockerUnavailable) as info:
            await c.version()
    assert info.value.address == host
    assert "No such file" in info.value.reason


async def test_refused_connection_raises_docker_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "refusing.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))  # bound, never listening: connect() is refused
    async with DockerClient(f"unix://{path}") as c:
        with pytest.raises(DockerUnavailable) as info:
            await c.list_containers()
    assert "refused" in info.value.reason


@pytest.mark.parametrize(
    "host", ["tcp://127.0.0.1:2375", "ssh://user@host", "npipe:////./pipe/docker", "unix://"]
)
def test_only_unix_sockets_are_supported(host: str) -> None:
    with pytest.raises(UsageError):
        DockerClient(host)


def test_host_defaults_to_docker_host_then_the_standard_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert DockerClient().socket_path == "/run/user/1000/docker.sock"
    monkeypatch.delenv("DOCKER_HOST")
    assert DockerClient().host == "unix:///var/run/docker.sock"


@pytest.mark.parametrize(
    ("daemon", "expected"),
    [("1.41", "1.41"), ("1.47", "1.47"), ("1.56", "1.47"), ("1.5", "1.5"), ("2.0", "1.47")],
)
def test_version_comparison_is_numeric(daemon: str, expected: str) -> None:
    assert min(client_module.API_MAX, daemon, key=engine_module.version_key) == expected


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ((b'{"a":1}\n{"b":2}\n',), [b'{"a":1}', b'{"b":2}']),
        ((b'{"a"', b":1}\r\n", b"\n", b'{"b"', b":", b"2}\n"), [b'{"a":1}', b'{"b":2}']),
        ((b"x\ny",), [b"x", b"y"]),  # a last line without "\n" is kept
        ((b"", b"\n\n"), []),
    ],
)
async def test_split_lines(parts: tuple[bytes, ...], expected: list[bytes]) -> None:
    assert [x async for x in client_module._split_lines(chunks(*parts), "test")] == expected


# --- decode.py ---------------------------------------------------------------------

ID = "3f2a" + "0" * 58 + "c9"
IMAGE_ID = "sha256:" + "9c7a" * 16


def summary(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "Id": ID,
        "Names": ["/worker-1"],
        "Image": "alpine:3.20",
        "ImageID": IMAGE_ID,
        "Command": "sleep 300",
        "Created": 1787476320,
        "Labels": {"com.example.team": "payments"},
        "State": "running",
        "Status": "Up 4 days",
    }
    doc.update(over)
    return doc


def inspect_doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "Id": ID,
        "Name": "/worker-1",
        "Image": IMAGE_ID,
        "Created": "2026-08-23T09:11:59.5Z",
        "RestartCount": 2,
        "State": {
            "Status": "running",
            "Running": True,
            "OOMKilled": False,
            "Pid": 48213,
            "ExitCode": 0,
            "StartedAt": "2026-08-23T09:12:00.123456789Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
        },
        "Config": {"Image": "alpine:3.20", "Tty": False, "Labels": {"team": "payments"}},
    }
    doc.update(over)
    return doc


T0 = datetime(2026, 8, 23, 9, 12, tzinfo=UTC).timestamp()


def test_summary_decodes() -> None:
    ref = container_from_summary(summary())
    assert ref.id == ID and ref.name == "worker-1"
    assert (ref.image, ref.image_id) == ("alpine:3.20", IMAGE_ID)
    assert ref.labels == {"com.example.team": "payments"}
    assert (ref.state, ref.pid, ref.created) == ("running", None, 1787476320.0)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("Exited (3) 5 seconds ago", 3),
        ("Exited (0) About a minute ago", 0),
        ("Exited (-1) 2 hours ago", -1),
        ("Up 3 minutes", None),
        ("Created", None),
        ("Restarting (1) 2 seconds ago", None),  # live: its inspect document says
        ("", None),
    ],
)
def test_summary_takes_a_stopped_containers_exit_code_from_its_status(
    status: str, code: int | None
) -> None:
    """A resync lists stopped containers without inspecting them: their exit code must
    survive it (dstats' stopped rows show it)."""
    assert container_from_summary(summary(State="exited", Status=status)).exit_code == code


def test_summary_tolerates_nulls_and_missing_keys() -> None:
    ref = container_from_summary({"Id": ID, "Labels": None, "Names": None})
    assert ref.id == ID
    assert (ref.name, ref.image, ref.state, ref.created) == (None, None, None, None)
    assert ref.labels == {}


def test_summary_prefers_the_own_name_over_legacy_link_names() -> None:
    ref = container_from_summary(summary(Names=["/web/db", "/db"]))
    assert ref.name == "db"


@pytest.mark.parametrize(
    "doc",
    [
        [],
        summary(Id=None),
        summary(Id=""),
        summary(Names="/worker-1"),
        summary(Labels=["a=b"]),
        summary(Labels={"a": 1}),
        summary(State={"Status": "running"}),
        summary(Created="2026-08-23T09:12:00Z"),
        summary(Created=True),
    ],
)
def test_summary_rejects_malformed_documents(doc: Any) -> None:
    with pytest.raises(ParseError):
        container_from_summary(doc)


def test_inspect_decodes() -> None:
    ref = container_from_inspect(inspect_doc())
    assert (ref.id, ref.name, ref.image, ref.image_id) == (ID, "worker-1", "alpine:3.20", IMAGE_ID)
    assert ref.labels == {"team": "payments"}
    assert (ref.state, ref.pid, ref.tty) == ("running", 48213, False)
    assert ref.started_at == pytest.approx(T0 + 0.123456789, abs=1e-6)
    assert ref.created == pytest.approx(T0 - 0.5, abs=1e-6)
    assert (ref.restart_count, ref.exit_code, ref.oom_killed) == (2, 0, False)


def test_inspect_of_a_stopped_container() -> None:
    state = {
        "Status": "exited",
        "Pid": 0,
        "ExitCode": 137,
        "OOMKilled": True,
        "StartedAt": "0001-01-01T00:00:00Z",
    }
    ref = container_from_inspect(inspect_doc(State=state))
    assert (ref.state, ref.pid, ref.exit_code, ref.oom_killed) == ("exited", None, 137, True)
    assert ref.started_at is None


def test_inspect_tolerates_nulls_and_missing_keys() -> None:
    ref = container_from_inspect({"Id": ID, "Config": {"Labels": None}})
    assert ref.labels == {}
    assert (ref.name, ref.image, ref.image_id, ref.state, ref.pid) == (None,) * 5
    assert (ref.started_at, ref.created, ref.tty, ref.exit_code) == (None,) * 4
    ref = container_from_inspect({"Id": ID, "Config": None, "State": None, "Name": ""})
    assert (ref.labels, ref.name, ref.state) == ({}, None, None)


@pytest.mark.parametrize(
    "doc",
    [
        "not a mapping",
        inspect_doc(Id=None),
        inspect_doc(State="running"),
        inspect_doc(Config=[]),
        inspect_doc(State={"Pid": "48213"}),
        inspect_doc(State={"Pid": True}),
        inspect_doc(State={"OOMKilled": "no"}),
        inspect_doc(State={"StartedAt": "yesterday"}),
        inspect_doc(State={"StartedAt": 1787476320}),
        inspect_doc(Created="2026-13-01T00:00:00Z"),
        inspect_doc(Config={"Tty": 0}),
    ],
)
def test_inspect_rejects_malformed_documents(doc: Any) -> None:
    with pytest.raises(ParseError):
        container_from_inspect(doc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-08-23T09:12:00Z", T0),
        ("2026-08-23T09:12:00.1Z", T0 + 0.1),
        ("2026-08-23T09:12:00.000000001Z", T0 + 1e-9),
        ("2026-08-23T11:12:00.5+02:00", T0 + 0.5),
        ("2026-08-23T04:12:00-05:00", T0),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_rfc3339(text: str | None, expected: float | None) -> None:
    got = parse_rfc3339(text)
    assert got == (pytest.approx(expected, abs=1e-6) if expected is not None else None)


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2026-08-23",
        "2026-08-23T09:12:00",
        "2026-08-23T09:12:00.Z",
        "2026-08-23T09:12:00.1234567890Z",
        "2026-02-30T00:00:00Z",
        " 2026-08-23T09:12:00Z",
    ],
)
def test_parse_rfc3339_rejects_garbage(text: str) -> None:
    with pytest.raises(ParseError):
        parse_rfc3339(text)


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(0, 999_999_999),
    st.integers(-14 * 60, 14 * 60),
)
def test_parse_rfc3339_round_trips(moment: datetime, nanos: int, offset_min: int) -> None:
    moment = moment.replace(microsecond=0)
    tz = timezone(timedelta(minutes=offset_min))
    local = moment.astimezone(tz)
    offset = local.strftime("%z")
    text = f"{local:%Y-%m-%dT%H:%M:%S}.{nanos:09d}{offset[:3]}:{offset[3:]}"
    assert parse_rfc3339(text) == pytest.approx(moment.timestamp() + nanos / 1e9, abs=2e-6)


def test_inspect_limits_from_host_config() -> None:
    raw: dict[str, Any] = {
        "Id": "a" * 64,
        "HostConfig": {"Memory": 134217728, "NanoCpus": 500000000, "PidsLimit": 50},
    }
    ref = container_from_inspect(raw)
    assert (ref.memory_limit_bytes, ref.cpu_limit, ref.pids_limit) == (134217728, 0.5, 50)
    raw["HostConfig"] = {"Memory": 0, "CpuQuota": 150000, "CpuPeriod": 100000, "PidsLimit": -1}
    ref = container_from_inspect(raw)
    assert (ref.memory_limit_bytes, ref.cpu_limit, ref.pids_limit) == (None, 1.5, None)
    raw["HostConfig"] = {"PidsLimit": None}
    ref = container_from_inspect(raw)
    assert (ref.memory_limit_bytes, ref.cpu_limit, ref.pids_limit) == (None, None, None)


def test_network_mode_from_the_summary_and_inspect() -> None:
    """HostConfig.NetworkMode tells a non-root agent, which cannot name network
    namespaces, whether a container's net/dev is its own or the host's."""
    assert container_from_summary(summary()).network_mode is None  # not said: unknown
    for mode in ("host", "none", "default", f"container:{'b' * 64}"):
        listed = summary(HostConfig={"NetworkMode": mode})
        assert container_from_summary(listed).network_mode == mode
        inspected = container_from_inspect({"Id": "a" * 64, "HostConfig": {"NetworkMode": mode}})
        assert inspected.network_mode == mode
    with pytest.raises(ParseError):
        container_from_summary(summary(HostConfig={"NetworkMode": 3}))
