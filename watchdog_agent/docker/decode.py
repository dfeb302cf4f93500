"""Raw Engine JSON -> model types. The only place Engine JSON is decoded.

Missing and null keys are tolerated (older and newer daemons differ) and become None
or empty; a value of the wrong type raises ParseError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from watchdog_agent.errors import ParseError
from watchdog_agent.model import (
    BuildCacheRecord,
    ContainerRef,
    DaemonInfo,
    DiskContainer,
    DiskImage,
    DiskUsage,
    DiskVolume,
    Event,
)

__all__ = [
    "container_from_inspect",
    "container_from_summary",
    "daemon_info_from_json",
    "disk_usage_from_json",
    "event_from_json",
    "parse_rfc3339",
]

_T = TypeVar("_T")

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_rfc3339(value: str | None, what: str = "timestamp") -> float | None:
    """RFC 3339 (up to nanoseconds) -> unix seconds.

    None, "" and Go's zero time ("0001-01-01T00:00:00Z", Docker's "never") give None;
    anything else that is not RFC 3339 raises ParseError.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ParseError(what, f"expected an RFC 3339 string, got {value!r}")
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ParseError(what, f"not an RFC 3339 time: {value!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if year == 1 and month == 1 and day == 1:
        return None
    tz = UTC
    if m.group(9):
        hours, minutes = int(m.group(10)), int(m.group(11))
        if hours > 23 or minutes > 59:  # RFC 3339 time-numoffset; timezone() refuses it
            raise ParseError(what, f"{value!r}: offset out of range")
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if m.group(9) == "-" else offset)
    try:
        whole = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise ParseError(what, f"{value!r}: {exc}") from exc
    frac = m.group(7) or ""
    return whole.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


# the summary's Status of a stopped container, as the daemon writes it (container/state.go
# String: "Exited (%d) %s ago"): the only place the list gives its exit code
_EXITED = re.compile(r"Exited \((-?\d+)\)")


def container_from_summary(raw: Mapping[str, Any]) -> ContainerRef:
    """One item of ``GET /containers/json``. The summary has no pid: pid is None; a
    stopped container's exit code comes from its Status text (None when it says none)."""
    what = "container summary"
    _require_mapping(raw, what)
    names = raw.get("Names")
    if names is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) for n in names)
    ):
        raise ParseError(what, f"Names is {names!r}, expected a list of strings")
    created = raw.get("Created")
    if created is not None and (isinstance(created, bool) or not isinstance(created, int | float)):
        raise ParseError(what, f"Created is {created!r}, expected unix seconds")
    status = _opt(raw, "Status", str, what) or ""
    return ContainerRef(
        id=_id(raw, what),
        name=_primary_name(names or []),
        image=_opt(raw, "Image", str, what),
        image_id=_opt(raw, "ImageID", str, what),
        labels=_labels(raw.get("Labels"), what),
        state=_opt(raw, "State", str, what),
        pid=None,
        created=float(created) if created is not None else None,
        exit_code=int(m.group(1)) if (m := _EXITED.match(status)) else None,
        network_mode=_network_mode(raw.get("HostConfig"), what),
    )


def container_from_inspect(raw: Mapping[str, Any]) -> ContainerRef:
    """The document of ``GET /containers/{id}/json``."""
    what = "container inspect"
    _require_mapping(raw, what)
    config = _section(raw, "Config", what)
    state = _section(raw, "State", what)
    host = _section(raw, "HostConfig", what)
    name = (_opt(raw, "Name", str, what) or "").removeprefix("/")
    memory = _opt(host, "Memory", int, what)
    pids_limit = _opt(host, "PidsLimit", int, what)
    pid = _opt(state, "Pid", int, what)
    return ContainerRef(
        id=_id(raw, what),
        name=name or None,
        image=_opt(config, "Image", str, what) or None,
        image_id=_opt(raw, "Image", str, what) or None,
        labels=_labels(config.get("Labels"), what),
        state=_opt(state, "Status", str, what) or None,
        pid=pid if pid else None,  # the engine reports 0 when not running
        started_at=parse_rfc3339(_opt(state, "StartedAt", str, what), f"{what} State.StartedAt"),
        created=parse_rfc3339(_opt(raw, "Created", str, what), f"{what} Created"),
        tty=_opt(config, "Tty", bool, what),
        restart_count=_opt(raw, "RestartCount", int, what),
        exit_code=_opt(state, "ExitCode", int, what),
        oom_killed=_opt(state, "OOMKilled", bool, what),
        memory_limit_bytes=memory if memory else None,  # 0 means unlimited
        cpu_limit=_cpu_limit(host, what),
        pids_limit=pids_limit if pids_limit and pids_limit > 0 else None,  # 0, -1: none
        network_mode=_opt(host, "NetworkMode", str, what) or None,
    )


def _network_mode(host: object, what: str) -> str | None:
    """The summary's ``HostConfig.NetworkMode`` (its only field there), or None."""
    if not isinstance(host, Mapping):
        return None
    return _opt(host, "NetworkMode", str, what) or None


def _cpu_limit(host: Mapping[str, Any], what: str) -> float | None:
    """CPUs from NanoCpus, else CpuQuota / (CpuPeriod or 100000 µs), else None."""
    nano = _opt(host, "NanoCpus", int, what)
    if nano:
        return nano / 1e9
    quota = _opt(host, "CpuQuota", int, what)
    if quota and quota > 0:
        return quota / (_opt(host, "CpuPeriod", int, what) or 100_000)
    return None


def _require_mapping(raw: object, what: str) -> None:
    if not isinstance(raw, Mapping):
        raise ParseError(what, f"expected a JSON object, got {type(raw).__name__}")


def _id(raw: Mapping[str, Any], what: str) -> str:
    ident = raw.get("Id")
    if not isinstance(ident, str) or not ident:
        raise ParseError(what, f"Id is {ident!r}, expected a non-empty string")
    return ident


def _section(raw: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParseError(what, f"{key} is {value!r}, expected an object")
    return value


def _opt(raw: Mapping[str, Any], key: str, kind: type[_T], what: str) -> _T | None:
    """``raw[key]`` if present and of ``kind``; None if missing or null."""
    value = raw.get(key)
    if value is None:
        return None
    # bool is an int subclass: never accept one for the other.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ParseError(what, f"{key} is {value!r}, expected {kind.__name__}")
    return value


def _labels(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ParseError(what, f"Labels is {value!r}, expected an object of strings")
    return dict(value)


def _primary_name(names: list[str]) -> str | None:
    """The container's own name: legacy links add names like ``/web/db``."""
    stripped = [n.removeprefix("/") for n in names if n]
    for name in stripped:
        if "/" not in name:
            return name
    return stripped[0] if stripped else None


def event_from_json(line: bytes) -> Event:
    """One line of ``GET /events``. Accepts old and new daemons: the legacy ``status``,
    ``id``, ``from`` fields (kept as sent), a missing ``timeNano`` (from ``time``), and
    an empty or missing Actor.ID (prune)."""
    what = "event"
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise ParseError(what, f"not JSON: {line[:80]!r}") from exc
    _require_mapping(raw, what)
    actor = _section(raw, "Actor", what)
    seconds = _opt(raw, "time", int, what)
    nanos = _opt(raw, "timeNano", int, what)
    if nanos is None:
        if seconds is None:
            raise ParseError(what, "no time or timeNano")
        nanos = seconds * 1_000_000_000
    if seconds is None:
        seconds = nanos // 1_000_000_000
    action = _opt(raw, "Action", str, what) or _opt(raw, "status", str, what)
    if not action:
        raise ParseError(what, "no Action")
    return Event(
        type=_opt(raw, "Type", str, what) or "container",  # pre-1.22 daemons: containers only
        action=action,
        actor_id=_opt(actor, "ID", str, what) or _opt(raw, "id", str, what) or "",
        attributes=_labels(actor.get("Attributes"), what),
        scope=_opt(raw, "scope", str, what) or "local",
        time=seconds,
        time_nano=nanos,
        status=_opt(raw, "status", str, what),
        id=_opt(raw, "id", str, what),
        from_=_opt(raw, "from", str, what),
    )


def daemon_info_from_json(
    info: Mapping[str, Any], version: Mapping[str, Any] | None = None
) -> DaemonInfo:
    """``GET /info``, completed by ``GET /version`` (the API version, and the engine's
    version when /info lacks ServerVersion)."""
    what = "daemon info"
    _require_mapping(info, what)
    ver: Mapping[str, Any] = {}
    if version is not None:
        _require_mapping(version, "daemon version")
        ver = version
    registry = _section(info, "RegistryConfig", what)
    return DaemonInfo(
        id=_opt(info, "ID", str, what) or None,
        name=_opt(info, "Name", str, what) or None,
        version=_opt(info, "ServerVersion", str, what) or _opt(ver, "Version", str, what) or None,
        api_version=_opt(ver, "ApiVersion", str, "daemon version") or None,
        os=_opt(info, "OperatingSystem", str, what) or None,
        kernel_version=_opt(info, "KernelVersion", str, what) or None,
        storage_driver=_opt(info, "Driver", str, what) or None,
        logging_driver=_opt(info, "LoggingDriver", str, what) or None,
        cgroup_driver=_opt(info, "CgroupDriver", str, what) or None,
        cgroup_version=_opt(info, "CgroupVersion", str, what) or None,
        data_root=_opt(info, "DockerRootDir", str, what) or None,
        registry_mirrors=_strings(registry, "Mirrors", what) if registry else None,
        insecure_registries=_insecure_registries(registry, what) if registry else None,
        live_restore=_opt(info, "LiveRestoreEnabled", bool, what),
        default_runtime=_opt(info, "DefaultRuntime", str, what) or None,
        security_options=_strings(info, "SecurityOptions", what),
        containers=_opt(info, "Containers", int, what),
        containers_running=_opt(info, "ContainersRunning", int, what),
        containers_paused=_opt(info, "ContainersPaused", int, what),
        containers_stopped=_opt(info, "ContainersStopped", int, what),
        images=_opt(info, "Images", int, what),
        warnings=_strings(info, "Warnings", what),
    )


def _insecure_registries(registry: Mapping[str, Any], what: str) -> tuple[str, ...]:
    """What ``docker info`` lists under "Insecure Registries" (docker/cli
    cli/command/system/info.go): the name of every IndexConfigs entry with Secure=false
    (Go iterates that map in random order; sorted here), then every
    InsecureRegistryCIDRs entry as sent ("127.0.0.0/8"). ``--insecure-registry
    host:5000`` gives an index entry named "host:5000"; a CIDR gives a CIDR."""
    indexes = _section(registry, "IndexConfigs", what)
    names: list[str] = []
    for key, entry in indexes.items():
        if not isinstance(entry, Mapping):
            raise ParseError(what, f"IndexConfigs[{key!r}] is {entry!r}, expected an object")
        if _opt(entry, "Secure", bool, what) is False:
            names.append(_opt(entry, "Name", str, what) or key)
    return (*sorted(names), *(_strings(registry, "InsecureRegistryCIDRs", what) or ()))


def _strings(raw: Mapping[str, Any], key: str, what: str) -> tuple[str, ...] | None:
    """A list of strings; None when the key is missing (an older daemon), () when null
    (Go's nil slice: the daemon has none)."""
    if key not in raw:
        return None
    value = raw[key]
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ParseError(what, f"{key} is {value!r:.80}, expected a list of strings")
    return tuple(value)


# -- GET /system/df ------------------------------------------------------------------------


def disk_usage_from_json(raw: object, sampled_at: float, duration: float) -> DiskUsage:
    """The document of ``GET /system/df``. Docker's -1 (not computed) becomes None; a
    null list (BuildCache without BuildKit, Volumes on old daemons) is empty."""
    what = "/system/df"
    if not isinstance(raw, Mapping):
        raise ParseError(what, f"expected a JSON object, got {type(raw).__name__}")
    return DiskUsage(
        layers_size=_opt(raw, "LayersSize", int, what) or 0,
        images=tuple(_disk_image(i) for i in _items(raw, "Images", what)),
        containers=tuple(_disk_container(c) for c in _items(raw, "Containers", what)),
        volumes=tuple(_disk_volume(v) for v in _items(raw, "Volumes", what)),
        build_cache=tuple(_build_cache(b) for b in _items(raw, "BuildCache", what)),
        sampled_at=sampled_at,
        duration_seconds=duration,
    )


def _items(raw: Mapping[str, Any], key: str, what: str) -> list[Mapping[str, Any]]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ParseError(what, f"{key} is not a list of objects")
    return value


def _known(value: int | None) -> int | None:
    """Docker's -1 ("not computed") as None."""
    return None if value is None or value < 0 else value


def _string_list(raw: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
    """A list of strings, missing or null read as none (what /system/df's rows mean)."""
    return _strings(raw, key, what) or ()


def _disk_image(raw: Mapping[str, Any]) -> DiskImage:
    what = "/system/df image"
    ident = _opt(raw, "Id", str, what)
    if not ident:
        raise ParseError(what, "no Id")
    size = _opt(raw, "VirtualSize", int, what)  # what the 20.10 CLI reads; gone in API 1.44
    return DiskImage(
        id=ident,
        repo_tags=_string_list(raw, "RepoTags", what),
        created=_opt(raw, "Created", int, what),
        size=_known(size if size is not None else _opt(raw, "Size", int, what)),
        shared_size=_known(_opt(raw, "SharedSize", int, what)),
        containers=_known(_opt(raw, "Containers", int, what)),
    )


def _disk_container(raw: Mapping[str, Any]) -> DiskContainer:
    what = "/system/df container"
    mounts = raw.get("Mounts") or []
    if not isinstance(mounts, list) or not all(isinstance(m, Mapping) for m in mounts):
        raise ParseError(what, "Mounts is not a list of objects")
    return DiskContainer(
        id=_id(raw, what),
        names=tuple(n.removeprefix("/") for n in _string_list(raw, "Names", what)),
        image=_opt(raw, "Image", str, what),
        image_id=_opt(raw, "ImageID", str, what),
        command=_opt(raw, "Command", str, what),
        created=_opt(raw, "Created", int, what),
        state=_opt(raw, "State", str, what),
        status=_opt(raw, "Status", str, what),
        size_rw=_opt(raw, "SizeRw", int, what),
        size_root_fs=_opt(raw, "SizeRootFs", int, what),
        local_volumes=sum(1 for m in mounts if m.get("Driver") == "local"),
    )


def _disk_volume(raw: Mapping[str, Any]) -> DiskVolume:
    what = "/system/df volume"
    name = _opt(raw, "Name", str, what)
    if name is None:
        raise ParseError(what, "no Name")
    usage = raw.get("UsageData")
    if usage is not None and not isinstance(usage, Mapping):
        raise ParseError(what, f"UsageData is {usage!r:.80}, expected an object")
    return DiskVolume(
        name=name,
        driver=_opt(raw, "Driver", str, what),
        size=None if usage is None else _known(_opt(usage, "Size", int, what)),
        links=None if usage is None else _known(_opt(usage, "RefCount", int, what)),
    )


def _build_cache(raw: Mapping[str, Any]) -> BuildCacheRecord:
    what = "/system/df build cache"
    ident = _opt(raw, "ID", str, what)
    if not ident:
        raise ParseError(what, "no ID")
    return BuildCacheRecord(
        id=ident,
        type=_opt(raw, "Type", str, what),
        size=_opt(raw, "Size", int, what) or 0,
        created=parse_rfc3339(_opt(raw, "CreatedAt", str, what), f"{what} CreatedAt"),
        last_used=parse_rfc3339(_opt(raw, "LastUsedAt", str, what), f"{what} LastUsedAt"),
        usage_count=_opt(raw, "UsageCount", int, what) or 0,
        in_use=bool(_opt(raw, "InUse", bool, what)),
        shared=bool(_opt(raw, "Shared", bool, what)),
    )
