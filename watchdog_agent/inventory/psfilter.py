"""``docker ps --filter`` keys applied locally to the agent's ContainerRefs (pure).

AND across keys, OR across the values of one key, except ``label``, where every value
must hold (as Docker does). Matching:

- ``id``: the id starts with the value;
- ``name``: the name contains the value (Docker takes a regular expression; a plain
  substring covers what people write, and no user regex runs on the server);
- ``label``: ``key`` present, or ``key=value`` equal;
- ``status``: the state, one of created, restarting, running, removing, paused, exited,
  dead;
- ``ancestor`` (or ``image``): the image reference as given, its familiar name
  (``docker.io/library/busybox:latest`` is ``busybox``), or an image id prefix. Unlike
  Docker, images built on top of the value are not matched (that needs the image graph);
- ``exited``: the exit code of an exited container.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from watchdog_agent.errors import UsageError
from watchdog_agent.events.filters import familiar_name
from watchdog_agent.model import ContainerRef

STATUSES = frozenset({"created", "restarting", "running", "removing", "paused", "exited", "dead"})
PS_KEYS = frozenset({"id", "name", "label", "status", "ancestor", "image", "exited"})

Check = Callable[[ContainerRef], bool]

_EXIT_CODE = re.compile(r"-?[0-9]{1,10}")  # ASCII: "²".isdigit() holds but int("²") fails


@dataclass(frozen=True, slots=True)
class PsFilter:
    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _checks: tuple[Check, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks = tuple(_check(key, values) for key, values in self.include.items())
        object.__setattr__(self, "_checks", checks)

    def matches(self, ref: ContainerRef) -> bool:
        return all(check(ref) for check in self._checks)


def parse_ps_filters(items: Sequence[str]) -> PsFilter:
    """``key=value`` items into a PsFilter; unknown keys and bad values are UsageErrors."""
    found: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise UsageError(f"bad filter {item[:80]!r}: expected KEY=VALUE")
        if key not in PS_KEYS:
            raise UsageError(
                f"unknown filter key {key[:40]!r}; valid keys: {', '.join(sorted(PS_KEYS))}"
            )
        value = value.strip()
        if key == "status" and value not in STATUSES:
            raise UsageError(f"bad status {value[:40]!r}; valid: {', '.join(sorted(STATUSES))}")
        if key == "exited" and not _EXIT_CODE.fullmatch(value):  # ASCII: int("²") fails
            raise UsageError(f"bad exit code {value[:40]!r}: expected an integer")
        found.setdefault("ancestor" if key == "image" else key, []).append(value)
    return PsFilter({k: tuple(v) for k, v in sorted(found.items())})


def _check(key: str, values: tuple[str, ...]) -> Check:
    if key == "id":
        return lambda r: r.id.startswith(values)
    if key == "name":
        return lambda r: r.name is not None and any(v in r.name for v in values)
    if key == "label":
        pairs = [v.partition("=") for v in values]
        return lambda r: all(k in r.labels and (not sep or r.labels[k] == v) for k, sep, v in pairs)
    if key == "status":
        return lambda r: r.state in values
    if key == "exited":
        codes = {int(v) for v in values}
        return lambda r: r.state == "exited" and r.exit_code in codes
    return lambda r: any(_is_image(r, v) for v in values)


def _is_image(ref: ContainerRef, value: str) -> bool:
    if ref.image is not None and (
        ref.image == value or familiar_name(ref.image) == familiar_name(value)
    ):
        return True
    if ref.image_id is None or not value:
        return False
    short = ref.image_id.removeprefix("sha256:")
    return ref.image_id.startswith(value) or short.startswith(value)
