"""Zone-less ``--since``/``--until`` times are local time, read as the docker CLI reads them.

Docker (``api/types/time.GetTimestamp``) parses a value with no ``Z``/offset in a fixed
zone with the offset the local zone has at the reference time (now): a date alone is local
midnight, and a summer date read in winter gets the winter offset. These tests set ``TZ``
to zones that are not UTC, in this process (``time.tzset``) and for the two CLIs.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import subprocess
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from helpers.agentcli import AGENT, agent_env
from helpers.dockercli import IMAGE, TEST_LABEL, DockerCLI, unique_name

from watchdog_agent.events.timeparse import parse_time

NS = 10**9


def utc(*fields: int) -> int:
    return calendar.timegm((*fields, *(0,) * (6 - len(fields)), 0, 0, 0)) * NS


@pytest.fixture
def tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lets a test set TZ with ``monkeypatch.setenv`` and ``time.tzset()``; the process's
    zone is restored afterwards."""
    yield
    monkeypatch.undo()
    time.tzset()


def set_tz(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()


WINTER = calendar.timegm((2026, 1, 15, 12, 0, 0)) * 1.0  # a "now" in northern winter
SUMMER = calendar.timegm((2026, 7, 15, 12, 0, 0)) * 1.0  # and in summer


@pytest.mark.parametrize(
    ("zone", "value", "expected"),
    [
        ("Asia/Kolkata", "2026-11-28T07:12:00", utc(2026, 11, 28, 1, 42)),  # +05:30
        ("Asia/Kolkata", "2026-11-28T07:12", utc(2026, 11, 28, 1, 42)),
        ("Asia/Kolkata", "2026-11-28T07", utc(2026, 11, 28, 1, 30)),
        ("Asia/Kolkata", "2026-11-28T07:12:00.5", utc(2026, 11, 28, 1, 42) + NS // 2),
        ("Asia/Kolkata", "2026-11-28", utc(2026, 11, 27, 18, 30)),  # local midnight
        ("America/St_Johns", "2026-01-20T00:00:00", utc(2026, 1, 20, 3, 30)),  # -03:30
        ("Pacific/Chatham", "2026-01-20", utc(2026, 1, 19, 10, 15)),  # +13:45 in its summer
    ],
)
def test_zone_less_times_are_local(
    tz: None, monkeypatch: pytest.MonkeyPatch, zone: str, value: str, expected: int
) -> None:
    set_tz(monkeypatch, zone)
    assert parse_time(value, now=WINTER) == expected


def test_the_offset_is_the_one_in_force_now_as_docker_takes_it(
    tz: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker's time.FixedZone(reference.Zone()): the offset at the reference time, not
    at the parsed date (a July time read in January gets EST, -05:00)."""
    set_tz(monkeypatch, "America/New_York")
    assert parse_time("2026-07-01T12:00:00", now=WINTER) == utc(2026, 7, 1, 17)
    assert parse_time("2026-07-01T12:00:00", now=SUMMER) == utc(2026, 7, 1, 16)
    assert parse_time("2026-01-10", now=SUMMER) == utc(2026, 1, 10, 4)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-28T07:12:00Z", utc(2026, 11, 28, 7, 12)),
        ("2026-11-28T07:12:00+01:00", utc(2026, 11, 28, 6, 12)),
        ("2026-11-28Z", utc(2026, 11, 28)),
        ("1764313920", 1_764_313_920 * NS),
        ("10m", int(WINTER) * NS - 600 * NS),
    ],
)
def test_zones_seconds_and_durations_do_not_depend_on_tz(
    tz: None, monkeypatch: pytest.MonkeyPatch, value: str, expected: int
) -> None:
    for zone in ("UTC", "Asia/Kolkata", "America/St_Johns"):
        set_tz(monkeypatch, zone)
        assert parse_time(value, now=WINTER) == expected, zone


@pytest.mark.engine
def test_local_window_matches_docker_events(docker_cli: DockerCLI) -> None:
    """The same zone-less window, TZ=America/St_Johns (-03:30 or -02:30) for both CLIs:
    `watchdog-agent events` prints what `docker events` prints. Read as UTC instead, the
    window would lie hours in the past and hold none of these events."""
    zone = "America/St_Johns"
    start = int(time.time()) - 1  # whole seconds: the local form below has no fraction
    cid = docker_cli.run(
        "create", "--name", unique_name("wdtz"), "--label", TEST_LABEL,
        "--label", docker_cli.session_label, "--network", "none", IMAGE, "true",
    ).strip()  # fmt: skip
    docker_cli.started.append(cid)
    docker_cli.rm(cid)
    end = int(time.time()) + 1
    deadline = time.monotonic() + 5
    while time.time() <= end + 0.2 and time.monotonic() < deadline:  # --until in the past
        time.sleep(0.1)

    def local(seconds: int) -> str:
        return dt.datetime.fromtimestamp(seconds, ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S")

    span = ["--since", local(start), "--until", local(end), "--filter", f"container={cid}"]
    env = agent_env(docker_cli.host) | {"TZ": zone}
    docker = subprocess.run(
        [docker_cli.cli, "events", *span, "--format", "{{json .}}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ours = subprocess.run(
        [AGENT, "events", "--agent", "none", *span, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ours.returncode == 0, ours.stderr
    docker_lines = docker.stdout.splitlines()
    assert [json.loads(x)["Action"] for x in docker_lines] == ["create", "destroy"]
    assert ours.stdout.splitlines() == docker_lines
