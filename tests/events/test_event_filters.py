"""``docker events --filter`` semantics (moby daemon/events/filter.go) over hand-built events."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import pytest

from watchdog_agent.errors import UsageError
from watchdog_agent.events.filters import EventFilter, familiar_name, parse_filters
from watchdog_agent.model import Event

T = 1_732_780_800
WEB_ID = "ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743"
API_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
DB_ID = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000"
NET_ID = "7d2fa1c3b4e5d6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f"
WEBNET_ID = "99aa88bb77cc66dd55ee44ff33001122334455667788990011aabbccddeeff00"
IMG_ID = "sha256:" + "3f" * 32
PG_DIGEST = "sha256:" + "ab" * 32


def event(
    kind: str, action: str, actor: str, attrs: Mapping[str, str], scope: str = "local"
) -> Event:
    return Event(kind, action, actor, dict(attrs), scope, T, T * 10**9)


def container(
    action: str, cid: str, name: str, image: str, labels: Mapping[str, str], **extra: str
) -> Event:
    """Like Docker: labels first, then ``image`` and ``name`` (without ``/``), then extras."""
    return event("container", action, cid, {**labels, "image": image, "name": name, **extra})


WEB = {"team": "payments", "tier": "frontend"}
API = {"team": "payments", "tier": "backend"}

EVENTS: dict[str, Event] = {
    "web_start": container("start", WEB_ID, "web-1", "alpine:3.20", WEB),
    "web_die": container(
        "die", WEB_ID, "web-1", "alpine:3.20", WEB, exitCode="137", execDuration="42"
    ),
    "web_health": container("health_status: healthy", WEB_ID, "web-1", "alpine:3.20", WEB),
    "web_exec_create": container(
        "exec_create: sh -c true", WEB_ID, "web-1", "alpine:3.20", WEB, execID="e1"
    ),
    "web_exec_start": container(
        "exec_start: sh -c true", WEB_ID, "web-1", "alpine:3.20", WEB, execID="e1"
    ),
    "web_exec_die": container(
        "exec_die", WEB_ID, "web-1", "alpine:3.20", WEB, execID="e1", exitCode="0"
    ),
    "api_start": container("start", API_ID, "api", "localhost:5000/shop/api:2.1", API),
    "db_start": container("start", DB_ID, "db", f"postgres@{PG_DIGEST}", {}),
    "container_prune": event("container", "prune", "", {"reclaimed": "1024"}),
    "image_pull": event("image", "pull", "busybox:latest", {"name": "busybox"}),
    "image_tag": event("image", "tag", IMG_ID, {"name": "localhost:5000/shop/api:2.1"}),
    "image_delete": event("image", "delete", IMG_ID, {"name": IMG_ID}),
    "net_connect": event(
        "network", "connect", NET_ID, {"container": WEB_ID, "name": "bridge", "type": "bridge"}
    ),
    "net_create": event("network", "create", WEBNET_ID, {"name": "web-net", "type": "bridge"}),
    "net_prune": event("network", "prune", "", {"reclaimed": "0"}),
    "vol_mount": event(
        "volume",
        "mount",
        "data",
        {
            "driver": "local",
            "container": WEB_ID,
            "destination": "/data",
            "read/write": "true",
            "propagation": "",
        },
    ),
    "vol_create": event("volume", "create", "web-cache", {"driver": "local"}),
    "daemon_reload": event("daemon", "reload", "4YHZ:QW3E:T7NX:2LMS", {"name": "host-1"}),
    "service_update": event("service", "update", "svc9k2", {"name": "shop_api"}, scope="swarm"),
}

ALL = frozenset(EVENTS)
CONTAINER = frozenset(n for n, e in EVENTS.items() if e.type == "container")
WEB_CONTAINER = frozenset(n for n in EVENTS if n.startswith("web_"))
IMAGE = frozenset(n for n, e in EVENTS.items() if e.type == "image")


def kept(flt: EventFilter) -> frozenset[str]:
    return frozenset(name for name, ev in EVENTS.items() if flt.matches(ev))


CASES: list[tuple[list[str], AbstractSet[str]]] = [
    ([], ALL),
    # type / scope: exact, OR across values
    (["type=container"], CONTAINER),
    (["type=container", "type=image"], CONTAINER | IMAGE),
    (["type=contain"], frozenset()),
    (["scope=swarm"], {"service_update"}),
    (["scope=local", "type=service"], frozenset()),
    # event: exact on Action
    (["event=start"], {"web_start", "api_start", "db_start"}),
    (["event=start", "event=die"], {"web_start", "api_start", "db_start", "web_die"}),
    (["event=health_status: healthy"], {"web_health"}),
    (["event=health"], frozenset()),
    (["event=exec"], frozenset()),
    # ... bare health_status / exec_create / exec_start switch every value to prefixes
    (["event=health_status"], {"web_health"}),
    (["event=exec_create"], {"web_exec_create"}),
    (["event=exec_start"], {"web_exec_start"}),
    (["event=exec_start", "event=exec"], {"web_exec_create", "web_exec_start", "web_exec_die"}),
    (["event=health_status", "event=st"], {"web_health", "web_start", "api_start", "db_start"}),
    # ... but exec_die does not switch: exact, so a prefix of it matches nothing
    (["event=exec_die"], {"web_exec_die"}),
    (["event=exec_die", "event=exec"], {"web_exec_die"}),
    # container & co: Actor.ID or name, exact or prefix, whatever the event type
    (["container=web-1"], WEB_CONTAINER),
    (["container=web"], WEB_CONTAINER | {"net_create", "vol_create"}),
    (["container=" + WEB_ID], WEB_CONTAINER),
    (["container=" + WEB_ID[:12]], WEB_CONTAINER),
    (["container=web-1", "container=api"], WEB_CONTAINER | {"api_start"}),
    (["container=eb-1"], frozenset()),
    (["network=bridge"], {"net_connect"}),
    (["network=" + NET_ID[:6]], {"net_connect"}),
    (["volume=data"], {"vol_mount"}),
    (["daemon=host-1"], {"daemon_reload"}),
    (["daemon=4YHZ"], {"daemon_reload"}),
    (["service=shop"], {"service_update"}),
    (["plugin=busybox"], {"image_pull"}),  # Docker ignores the type here too
    # image: exact, or against the familiar name (tag/digest dropped); the filter value
    # itself is not normalised
    (["image=alpine:3.20"], WEB_CONTAINER),
    (["image=alpine"], WEB_CONTAINER),
    (["image=alpine:3.19"], frozenset()),
    (["image=docker.io/library/alpine"], frozenset()),
    (["image=localhost:5000/shop/api"], {"api_start", "image_tag"}),
    (["image=localhost:5000/shop/api:2.1"], {"api_start", "image_tag"}),
    (["image=localhost"], frozenset()),
    (["image=busybox"], {"image_pull"}),
    (["image=busybox:latest"], {"image_pull"}),
    (["image=postgres"], {"db_start"}),
    (["image=" + IMG_ID], {"image_tag", "image_delete"}),
    (["image=sha256"], {"image_tag", "image_delete"}),  # Go parses sha256:<hex> as name:tag
    (["image=" + WEB_ID], WEB_CONTAINER),
    # label: key or key=value, values ANDed, daemon-added attributes count
    (["label=team"], WEB_CONTAINER | {"api_start"}),
    (["label=team=payments"], WEB_CONTAINER | {"api_start"}),
    (["label=team=payments", "label=tier=backend"], {"api_start"}),
    (["label=tier=frontend", "label=tier=backend"], frozenset()),
    (["label=name=web-1"], WEB_CONTAINER),
    (["label=reclaimed"], {"container_prune", "net_prune"}),
    (["label=exitCode=0"], {"web_exec_die"}),
    # AND across keys
    (["type=container", "event=die"], {"web_die"}),
    (["type=network", "container=web"], {"net_create"}),
    (["container=web", "event=start"], {"web_start"}),
    (["type=container", "label=team", "event=start"], {"web_start", "api_start"}),
    # prune has an empty Actor.ID and no name: any name/image filter drops it
    (["type=container", "event=prune"], {"container_prune"}),
    (["event=prune", "container=web"], frozenset()),
    (["event=prune", "image=alpine"], frozenset()),
    # an empty value is a prefix of everything, as in Docker
    (["container="], ALL),
    # exclusions, applied after the positive filters
    (["type!=image"], ALL - IMAGE),
    (["type!=image", "type!=container"], ALL - IMAGE - CONTAINER),
    (["type=container", "type!=container"], frozenset()),
    (["event!=health_status"], ALL - {"web_health"}),
    (["event!=exec"], ALL),
    (
        ["container=web-1", "event!=exec_create", "event!=exec_start"],
        {"web_start", "web_die", "web_health", "web_exec_die"},
    ),
    (["type=container", "container!=web"], CONTAINER - WEB_CONTAINER),
    (["type=container", "label!=tier=backend"], CONTAINER - {"api_start"}),
    (
        ["type=container", "label!=tier=backend", "label!=tier=frontend"],
        {"db_start", "container_prune"},
    ),
    (["label=team", "label!=tier"], frozenset()),
    (["type=container", "image!=alpine"], CONTAINER - WEB_CONTAINER),
    (["scope!=local"], {"service_update"}),
]


@pytest.mark.parametrize(("items", "expected"), CASES, ids=[" ".join(c[0]) or "-" for c in CASES])
def test_matches(items: list[str], expected: AbstractSet[str]) -> None:
    assert kept(parse_filters(items)) == expected


@pytest.mark.parametrize(("items", "expected"), CASES, ids=[" ".join(c[0]) or "-" for c in CASES])
def test_pushdown_then_residual_equals_local(items: list[str], expected: AbstractSet[str]) -> None:
    flt = parse_filters(items)
    query, residual = flt.to_docker_query()
    docker_side = EventFilter(include={k: frozenset(v) for k, v in query.items()})
    assert kept(docker_side) & kept(residual) == expected
    assert kept(docker_side) >= expected


def test_parse_normalises_like_the_docker_cli() -> None:
    flt = parse_filters([" Type = container ", "LABEL=a=b", "label!=c=d", "label=e!=f", "", "  "])
    assert flt.include == {"type": {"container"}, "label": {"a=b", "e!=f"}}
    assert flt.exclude == {"label": {"c=d"}}
    assert parse_filters(["type =container", "type!= image"]) == EventFilter(
        {"type": frozenset({"container"})}, {"type": frozenset({"image"})}
    )


def test_a_lone_string_is_one_item() -> None:
    assert parse_filters("type=container") == parse_filters(["type=container"])


def test_equal_filters_are_equal_and_hash_alike() -> None:
    a = parse_filters(["event=die", "type=container", "event=start", "event=die"])
    b = parse_filters(["event=start", "type=container", "event=die"])
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != parse_filters(["event=start", "type=container"])


@pytest.mark.parametrize(
    ("item", "fragments"),
    [
        ("nokey", ["'nokey'", "expected KEY=VALUE"]),
        ("foo=bar", ["'foo'", "valid keys", "container", "volume"]),
        ("Foo!=bar", ["'foo'", "valid keys"]),
        ("=bar", ["empty key"]),
        ("!=bar", ["empty key"]),
        (" =bar", ["empty key"]),
    ],
)
def test_bad_items(item: str, fragments: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        parse_filters(["type=container", item])
    for fragment in fragments:
        assert fragment in str(info.value)


def test_unknown_key_in_a_hand_built_filter() -> None:
    with pytest.raises(UsageError, match="bogus"):
        EventFilter(include={"bogus": frozenset({"x"})})


def test_docker_query_and_json() -> None:
    flt = parse_filters(["type=container", "event=start", "event=die", "label!=x", "label=a=b"])
    query, residual = flt.to_docker_query()
    assert query == {"event": ["die", "start"], "label": ["a=b"], "type": ["container"]}
    assert list(query) == ["event", "label", "type"]
    assert residual == flt
    assert flt.filters_json() == '{"event":["die","start"],"label":["a=b"],"type":["container"]}'
    assert not flt.is_empty


def test_exclusions_only_push_nothing_down() -> None:
    flt = parse_filters(["type!=image"])
    assert flt.to_docker_query()[0] == {}
    assert flt.filters_json() is None
    assert not flt.is_empty


def test_empty_filter() -> None:
    flt = parse_filters([])
    assert flt.is_empty
    assert flt == EventFilter()
    assert flt.filters_json() is None
    assert flt.to_docker_query() == ({}, flt)


def test_to_args_round_trips() -> None:
    items = ["type=container", "event=die", "label=a=b", "label!=c", "container!=web"]
    flt = parse_filters(items)
    assert sorted(flt.to_args()) == sorted(items)
    assert parse_filters(flt.to_args()) == flt


@pytest.mark.parametrize(
    ("image", "familiar"),
    [
        ("busybox", "busybox"),
        ("busybox:latest", "busybox"),
        ("docker.io/library/busybox:1.36", "busybox"),
        ("index.docker.io/library/busybox", "busybox"),
        ("docker.io/foo/bar:1", "foo/bar"),
        ("foo/bar:1", "foo/bar"),
        ("library/a/b", "library/a/b"),
        ("localhost:5000/x:tag", "localhost:5000/x"),
        ("localhost:5000/x", "localhost:5000/x"),
        ("localhost/x:1", "localhost/x"),
        ("registry.example.com:443/team/app:v2", "registry.example.com:443/team/app"),
        ("[::1]:5000/x:1", "[::1]:5000/x"),
        (f"postgres@{PG_DIGEST}", "postgres"),
        (f"postgres:16@{PG_DIGEST}", "postgres"),
        (f"localhost:5000/x@{PG_DIGEST}", "localhost:5000/x"),
        (IMG_ID, "sha256"),
        # not valid normalised references: returned unchanged
        (WEB_ID, WEB_ID),
        ("Busybox:latest", "Busybox:latest"),
        ("postgres@sha256:abc", "postgres@sha256:abc"),
        ("postgres@md5:" + "ab" * 16, "postgres@md5:" + "ab" * 16),
        ("x:" + "t" * 129, "x:" + "t" * 129),
        ("", ""),
        ("a//b", "a//b"),
    ],
)
def test_familiar_name(image: str, familiar: str) -> None:
    assert familiar_name(image) == familiar
