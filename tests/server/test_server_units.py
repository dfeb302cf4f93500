"""Pure parts of serve: settings loading, the snapshot store, id resolution, docker ps
filters, the stream registry and the OpenAPI document against the router."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers.serving import tree_settings
from structlog.testing import capture_logs

from watchdog_agent.agent.snapshots import SnapshotStore
from watchdog_agent.commands.serve import warn_if_exposed
from watchdog_agent.config import (
    Settings,
    default_journal_path,
    is_loopback,
    load_settings,
    parse_listen,
)
from watchdog_agent.errors import NotFound, UsageError
from watchdog_agent.inventory.psfilter import parse_ps_filters
from watchdog_agent.model import CgroupMode, CgroupSample, ContainerRef, ContainerStats, Snapshot
from watchdog_agent.server.app import create_app
from watchdog_agent.server.httperrors import ApiError
from watchdog_agent.server.openapi import document
from watchdog_agent.server.resolve import resolve
from watchdog_agent.server.streams import StreamRegistry

# -- settings -------------------------------------------------------------------------------


def test_settings_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    toml = tmp_path / "agent.toml"
    toml.write_text('listen = "0.0.0.0:9000"\ninterval = 5\nhistory = 10\njournal = "none"\n')
    env = {"WATCHDOG_INTERVAL": "2.5", "WATCHDOG_HISTORY": "20"}
    got = load_settings({"history": 30}, config_file=str(toml), env=env)
    assert (got.history, got.interval, got.listen, got.journal) == (30, 2.5, "0.0.0.0:9000", None)
    assert got.max_streams == 64 and got.docker_host == "unix:///var/run/docker.sock"
    assert load_settings(env={}).listen == "127.0.0.1:9338"
    docker = load_settings(env={"DOCKER_HOST": "unix:///a", "WATCHDOG_DOCKER_HOST": "unix:///b"})
    assert docker.docker_host == "unix:///b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('listne = "x"\n', "unknown key(s) 'listne'"),
        ("[server]\nlisten = 1\n", "unknown key(s) 'server'"),
        ('interval = "fast"\n', "interval in"),
        ("history = 0\n", "positive integer"),
        ("no_docker = 3\n", "true or false"),
        ('listen = "nowhere"\n', "HOST:PORT"),
        ("listen = [\n", "not valid TOML"),
    ],
)
def test_bad_config_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    toml = tmp_path / "agent.toml"
    toml.write_text(text)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config_file=str(toml), env={})


def test_bad_env_and_missing_file() -> None:
    with pytest.raises(UsageError, match="WATCHDOG_MAX_STREAMS"):
        load_settings(env={"WATCHDOG_MAX_STREAMS": "lots"})
    with pytest.raises(UsageError, match="cannot read config file"):
        load_settings(config_file="/nonexistent/agent.toml", env={})


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9338") == ("127.0.0.1", 9338)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("9338", ":9338", "host:port", "::1:80", "a:70000"):
        with pytest.raises(UsageError):
            parse_listen(bad)
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_default_journal_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert default_journal_path({}) == "/var/lib/watchdog-agent/events.db"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    state = default_journal_path({"XDG_STATE_HOME": "/s"})
    assert state == "/s/watchdog-agent/events.db"


# -- the store ----------------------------------------------------------------------------


def snap(n: int, *ids: str) -> Snapshot:
    def stats(cid: str) -> ContainerStats:
        return ContainerStats(cid, float(n), CgroupSample(cid, float(n), float(n)))

    return Snapshot(taken_at=float(n), mode=CgroupMode.V2, containers={c: stats(c) for c in ids})


async def test_store_history_and_fan_out() -> None:
    store = SnapshotStore(history=3, queue=2)
    fast, slow = store.subscribe(), store.subscribe()
    for n in range(5):
        store.put(snap(n, "a") if n != 3 else snap(n, "b"))
        assert [s.taken_at for s in [await anext(fast)]] == [float(n)]
    assert store.latest is not None and store.latest.taken_at == 4.0
    # each container keeps its own last 3 samples ("a" was not in pass 3)
    assert [s.sampled_at for s in store.history("a", 10)] == [1.0, 2.0, 4.0]
    assert [s.sampled_at for s in store.history("a", 1)] == [4.0]
    # the slow one kept only the newest two and counted what it skipped
    assert [(await anext(slow)).taken_at for _ in range(2)] == [3.0, 4.0]
    assert slow.skipped == 3
    store.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(fast), 1)
    assert store.subscribers == 0 and store.subscribe().closed


# -- resolution, filters, streams -----------------------------------------------------------

A = ContainerRef(id="abc1" + "0" * 60, name="web", state="running", image="busybox:latest",
                 labels={"team": "pay", "tier": "front"})  # fmt: skip
B = ContainerRef(id="abc2" + "0" * 60, name="abc1", state="exited", exit_code=137,
                 image="docker.io/library/nginx:1.25", image_id="sha256:feed")  # fmt: skip
REFS = {A.id: A, B.id: B}


def test_resolve_id_name_prefix_and_ambiguity() -> None:
    assert resolve(A.id, REFS) is A
    assert resolve("abc1", REFS) is B  # a name wins over an id prefix, as in Docker
    assert resolve("web", REFS) is A and resolve("abc2", REFS) is B
    with pytest.raises(ApiError) as err:
        resolve("abc", REFS)
    assert err.value.status == 409 and err.value.detail["matches"] == sorted(REFS)
    with pytest.raises(NotFound):
        resolve("zzz", REFS)
    for bad in ("../etc", "a b", "", "-x", "x" * 300):
        with pytest.raises(UsageError):
            resolve(bad, REFS)


@pytest.mark.parametrize(
    ("items", "want"),
    [
        ([], {A.id, B.id}),
        (["id=abc2"], {B.id}),
        (["name=we"], {A.id}),
        (["label=team"], {A.id}),
        (["label=team=pay", "label=tier=back"], set()),
        (["status=running", "status=exited"], {A.id, B.id}),
        (["status=exited", "exited=137"], {B.id}),
        (["ancestor=nginx"], {B.id}),
        (["image=busybox"], {A.id}),
        (["ancestor=sha256:fe"], {B.id}),
    ],
)
def test_ps_filters(items: list[str], want: set[str]) -> None:
    ps = parse_ps_filters(items)
    assert {r.id for r in REFS.values() if ps.matches(r)} == want


def test_stream_registry_limit_and_close_all() -> None:
    registry = StreamRegistry(limit=1)
    closed: list[str] = []
    with registry.slot(lambda: closed.append("one")):
        with pytest.raises(ApiError) as err, registry.slot(lambda: None):
            pass
        assert err.value.status == 429
        registry.close_all()
    assert closed == ["one"] and registry.open == 0
    with pytest.raises(ApiError) as err, registry.slot(lambda: None):
        pass
    assert err.value.status == 503


# -- the OpenAPI document -----------------------------------------------------------------


def test_openapi_documents_exactly_the_routes_of_the_router() -> None:
    app = create_app(tree_settings())
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    doc = document()
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert routes == documented
    for path, item in doc["paths"].items():
        declared = {p["name"] for p in item["get"].get("parameters", []) if p["in"] == "path"}
        assert declared == {s[1:-1] for s in path.split("/") if s.startswith("{")}, path


def test_openapi_references_resolve() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert doc["openapi"].startswith("3.0")


def test_a_non_loopback_listen_warns_loudly() -> None:
    with capture_logs() as logs:
        assert not warn_if_exposed(Settings(listen="127.0.0.1:9338"))
        assert not warn_if_exposed(Settings(listen="[::1]:9338"))
        assert warn_if_exposed(Settings(listen="0.0.0.0:9338"))
    assert [entry["log_level"] for entry in logs] == ["warning"]
    assert "WITHOUT AUTHENTICATION" in logs[0]["event"]


def test_settings_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().listen = "x"  # type: ignore[misc]
