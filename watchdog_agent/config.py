"""Frozen settings: flags over WATCHDOG_* environment over an optional TOML file over
defaults.

Every setting has one name, used as the TOML key (``interval = 2.0``), as the environment
variable ``WATCHDOG_<NAME>`` and, with dashes, as the flag (``--max-streams``). Values are
checked once, here: a bad value is a UsageError naming where it came from. An unknown TOML
key is an error too, never ignored (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import ipaddress
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from watchdog_agent.errors import UsageError

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_LISTEN = "127.0.0.1:9338"
# where the client commands (stats, top, events, dstats) look for a running agent
AGENT_URL_ENV = "WATCHDOG_AGENT_URL"
DEFAULT_AGENT_URL = f"http://{DEFAULT_LISTEN}"
JOURNAL_NAME = "watchdog-agent/events.db"


@dataclass(frozen=True, slots=True)
class Settings:
    docker_host: str = DEFAULT_DOCKER_HOST
    proc_root: str = "/proc"
    cgroup_root: str = "/sys/fs/cgroup"
    interval: float = 1.0  # seconds between sampling passes
    disk_interval: float = 300.0  # seconds between samples of Docker's disk use (/system/df)
    # seconds between full re-lists of the containers (a backstop to the events stream)
    resync_interval: float = 60.0
    no_docker: bool = False  # never try Docker: discover containers by cgroup path
    listen: str = DEFAULT_LISTEN  # HOST:PORT of the HTTP server ([::1]:9338 for IPv6)
    # the SQLite event journal; None: no journal. load_settings() defaults it to a state
    # directory (default_journal_path) and reads "none" as None.
    journal: str | None = None
    history: int = 300  # samples kept per container for ?history=N and post-mortems
    max_streams: int = 64  # concurrent streaming responses; more answer 429
    # connections: open at most (at most half the open-files limit in force), seconds
    # for a request's head to arrive, seconds an idle kept-alive connection stays open
    max_connections: int = 512
    header_timeout: float = 5.0
    idle_timeout: float = 30.0
    # authentication: either or both; when any is set, every route requires it
    auth_token_file: str | None = None  # bearer tokens, one a line
    basic_auth_file: str | None = None  # `user:bcrypt-hash` lines
    auth_exempt_health: bool = False  # True: /healthz and /readyz answer without auth
    # TLS: cert and key serve HTTPS; a client CA also requires client certificates
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # container labels copied onto watchdog_container_info (never onto data series)
    metric_labels: tuple[str, ...] = ()

    @property
    def docker_host_named(self) -> bool:
        """True when the user chose an engine (flag, WATCHDOG_DOCKER_HOST, DOCKER_HOST or
        the config file) other than the standard socket: one-shot commands then fail when
        it does not answer, where the standard socket falls back to cgroup paths."""
        return self.docker_host != DEFAULT_DOCKER_HOST

    @property
    def auth_enabled(self) -> bool:
        return self.auth_token_file is not None or self.basic_auth_file is not None

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None

    @property
    def listen_address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``[v6]:PORT``) -> (host, port); port 0 picks a free one."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise UsageError(f"bad listen address {value!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise UsageError(f"bad listen address {value!r}: write IPv6 hosts as [::1]:9338")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; any other name counts as exposed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_journal_path(env: Mapping[str, str] | None = None) -> str:
    """/var/lib/watchdog-agent/events.db as root, else under $XDG_STATE_HOME."""
    env = os.environ if env is None else env
    if os.geteuid() == 0:
        return "/var/lib/" + JOURNAL_NAME
    state = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, JOURNAL_NAME)


# -- value checks: (value, where it came from) -> the setting --------------------------


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where} must be a non-empty string, not {value!r}")
    return value.strip()


def _positive_float(value: Any, where: str) -> float:
    try:
        number = float(value) if isinstance(value, str | int | float) else math.nan
    except (ValueError, OverflowError):  # OverflowError: a TOML integer beyond float's range
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise UsageError(f"{where} must be a positive number of seconds, not {value!r}")
    return number


def _positive_int(value: Any, where: str) -> int:
    try:
        number = int(value) if isinstance(value, str | int) else 0
    except ValueError:
        number = 0
    if isinstance(value, bool) or number < 1:
        raise UsageError(f"{where} must be a positive integer, not {value!r}")
    return number


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise UsageError(f"{where} must be true or false, not {value!r}")


def _listen(value: Any, where: str) -> str:
    text = _text(value, where)
    parse_listen(text)
    return text


def _names(value: Any, where: str) -> tuple[str, ...]:
    """A list (TOML), or a comma-separated string (flag, environment)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise UsageError(f"{where} must be a list of label keys, not {value!r}")
    return tuple(dict.fromkeys(i.strip() for i in items if i.strip()))


def _journal(value: Any, where: str) -> str | None:
    text = _text(value, where)
    return None if text.lower() == "none" else text


_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "docker_host": _text,
    "proc_root": _text,
    "cgroup_root": _text,
    "interval": _positive_float,
    "disk_interval": _positive_float,
    "resync_interval": _positive_float,
    "no_docker": _bool,
    "listen": _listen,
    "journal": _journal,
    "history": _positive_int,
    "max_streams": _positive_int,
    "max_connections": _positive_int,
    "header_timeout": _positive_float,
    "idle_timeout": _positive_float,
    "auth_token_file": _text,
    "basic_auth_file": _text,
    "auth_exempt_health": _bool,
    "tls_cert": _text,
    "tls_key": _text,
    "tls_client_ca": _text,
    "metric_labels": _names,
}
assert set(_CHECKS) == {f.name for f in fields(Settings)}
# environment variables per setting, first found wins
_ENV: dict[str, tuple[str, ...]] = {name: (f"WATCHDOG_{name.upper()}",) for name in _CHECKS} | {
    "docker_host": ("WATCHDOG_DOCKER_HOST", "DOCKER_HOST")
}


def read_config_file(path: str) -> dict[str, Any]:
    """The TOML file's settings (keys checked, values not yet)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"config file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(_CHECKS))
    if unknown:
        raise UsageError(
            f"config file {path}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(sorted(_CHECKS))}"
        )
    return data


def load_settings(
    flags: Mapping[str, Any] | None = None,
    config_file: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Each setting from its flag (None: not given), else its environment variable, else
    the config file, else the default."""
    flags = flags or {}
    env = os.environ if env is None else env
    unknown = sorted(set(flags) - set(_CHECKS))
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(unknown)}")
    from_file = read_config_file(config_file) if config_file is not None else {}
    values: dict[str, Any] = {}
    for name, check in _CHECKS.items():
        flag = "--" + name.replace("_", "-")
        found = next(((v, e) for e in _ENV[name] if (v := env.get(e)) not in (None, "")), None)
        if flags.get(name) is not None:
            values[name] = check(flags[name], flag)
        elif found is not None:
            values[name] = check(found[0], found[1])
        elif name in from_file:
            values[name] = check(from_file[name], f"{name} in {config_file}")
    if "journal" not in values:
        values["journal"] = default_journal_path(env)
    return Settings(**values)


def settings_from(
    docker_host: str | None = None,
    proc_root: str | None = None,
    cgroup_root: str | None = None,
    interval: float | None = None,
    no_docker: bool | None = None,
) -> Settings:
    """Each value from its flag, else WATCHDOG_<NAME>, else the default."""
    return load_settings(
        {
            "docker_host": docker_host,
            "proc_root": proc_root,
            "cgroup_root": cgroup_root,
            "interval": interval,
            "no_docker": no_docker,
        }
    )
