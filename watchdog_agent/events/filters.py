"""Docker's ``docker events --filter`` grammar and matching, plus ``key!=value`` exclusions.

One engine serves both ends: :meth:`EventFilter.to_docker_query` gives the ``filters`` map
for ``GET /events``, and :meth:`EventFilter.matches` applies the same semantics locally
(journal queries, live streams). Positive filters follow moby ``daemon/events/filter.go``:

- AND across keys, OR across the values of one key;
- ``type``/``scope``: exact;
- ``event``: exact on Action, but *all* values match as prefixes once any value is a bare
  ``health_status``, ``exec_create`` or ``exec_start`` (``exec_die`` does not switch);
- ``container``, ``daemon``, ``plugin``, ``volume``, ``network``, ``node``, ``service``,
  ``secret``, ``config``: Actor.ID or Attributes["name"] equal to or starting with a value,
  whatever the event's type (``container=web`` keeps a volume named ``web-data``);
- ``image``: exact against Actor.ID and Attributes["image"] (Attributes["name"] for image
  events), and against both reduced to their familiar name (tag and digest dropped);
- ``label``: every value (``k`` or ``k=v``) must be present in Actor.Attributes.

Exclusions (beyond Docker): an event that matches any excluded value of a key, using that
key's matcher on the excluded values alone, is dropped. For ``label`` that means "carries
any of these labels"; for ``event`` the prefix switch is decided over the excluded values.

Keys are trimmed and lower-cased and values trimmed, as the docker CLI does; an empty item
is skipped as the CLI does. Unlike the daemon, an unknown key is an error, not ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from watchdog_agent.errors import UsageError
from watchdog_agent.model import Event

NAME_KEYS = frozenset(
    {"config", "container", "daemon", "network", "node", "plugin", "secret", "service", "volume"}
)
FILTER_KEYS = NAME_KEYS | {"event", "image", "label", "scope", "type"}
PREFIX_SWITCH = frozenset({"health_status", "exec_create", "exec_start"})
_VALID = ", ".join(sorted(FILTER_KEYS))
# cheap checks first; every key in FILTER_KEYS appears once
_ORDER = ("type", "scope", "event", *sorted(NAME_KEYS), "image", "label")

Check = Callable[[Event], bool]
Values = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Narrowing:
    """What a store can test on its columns before decoding an event: every event the
    filter keeps passes it (it may pass more; :meth:`EventFilter.matches` decides). None
    or empty: that part does not narrow."""

    types: frozenset[str] | None = None  # Type is one of these
    scopes: frozenset[str] | None = None  # Scope is one of these
    actions: frozenset[str] | None = None  # Action is one of these, or starts with one
    action_prefixes: bool = False  # when the ``actions`` are prefixes (PREFIX_SWITCH)
    labels: tuple[tuple[str, str | None], ...] = ()  # each key present (with this value)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """A parsed set of filters; build it with :func:`parse_filters` or from mappings."""

    include: Values = field(default_factory=dict)  # key -> values, Docker semantics
    exclude: Values = field(default_factory=dict)  # key -> values, from ``key!=value``
    _checks: tuple[Check, ...] = field(init=False, repr=False, compare=False)
    _drops: tuple[Check, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        include, exclude = _normalise(self.include), _normalise(self.exclude)
        object.__setattr__(self, "include", include)
        object.__setattr__(self, "exclude", exclude)
        checks = tuple(_matcher(k, include[k], every=True) for k in _ORDER if k in include)
        drops = tuple(_matcher(k, exclude[k], every=False) for k in _ORDER if k in exclude)
        object.__setattr__(self, "_checks", checks)
        object.__setattr__(self, "_drops", drops)

    def __hash__(self) -> int:
        return hash((frozenset(self.include.items()), frozenset(self.exclude.items())))

    @property
    def is_empty(self) -> bool:
        """True when the filter keeps every event."""
        return not self.include and not self.exclude

    def matches(self, event: Event) -> bool:
        """Whether ``event`` passes: every positive key matches and no exclusion does."""
        return all(check(event) for check in self._checks) and not any(
            drop(event) for drop in self._drops
        )

    def narrowing(self) -> Narrowing:
        """The positive keys a store can test before decoding (``type``, ``scope``,
        ``event`` and every ``label``); exclusions and the name keys stay with
        :meth:`matches`."""
        include = self.include
        actions = include.get("event")
        labels = tuple(_label(v) for v in sorted(include.get("label", ())))
        return Narrowing(
            types=include.get("type"),
            scopes=include.get("scope"),
            actions=actions,
            action_prefixes=bool(actions and actions & PREFIX_SWITCH),
            labels=labels,
        )

    def to_docker_query(self) -> tuple[dict[str, list[str]], EventFilter]:
        """Split into the ``filters`` map Docker applies and the filter to apply locally.

        The map holds every positive key/value (sorted). The residual is the whole filter:
        Docker cannot exclude, and re-applying the positive part is harmless because
        :meth:`matches` has Docker's semantics; it also covers daemons that ignore a key.
        """
        query = {key: sorted(values) for key, values in sorted(self.include.items())}
        return query, self

    def filters_json(self) -> str | None:
        """The ``filters`` query-string value for ``/events``; None when nothing to push."""
        query, _ = self.to_docker_query()
        return json.dumps(query, separators=(",", ":")) if query else None

    def to_args(self) -> list[str]:
        """The filter as ``key=value`` / ``key!=value`` items (``parse_filters`` inverse)."""
        out = [f"{k}={v}" for k, vs in sorted(self.include.items()) for v in sorted(vs)]
        out += [f"{k}!={v}" for k, vs in sorted(self.exclude.items()) for v in sorted(vs)]
        return out


def parse_filters(items: Sequence[str]) -> EventFilter:
    """Parse ``--filter`` items (``key=value`` or ``key!=value``) into an EventFilter."""
    if isinstance(items, str):
        items = (items,)
    include: dict[str, set[str]] = {}
    exclude: dict[str, set[str]] = {}
    for item in items:
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"bad filter {item!r}: expected KEY=VALUE (or KEY!=VALUE)")
        key = key.strip()
        target = include
        if key.endswith("!"):
            key, target = key[:-1].strip(), exclude
        key = key.lower()
        if not key:
            raise UsageError(f"bad filter {item!r}: empty key, expected KEY=VALUE")
        if key not in FILTER_KEYS:
            raise UsageError(f"unknown filter key {key!r} in {item!r}; valid keys: {_VALID}")
        target.setdefault(key, set()).add(value.strip())
    return EventFilter(
        {k: frozenset(v) for k, v in include.items()},
        {k: frozenset(v) for k, v in exclude.items()},
    )


def _normalise(values: Mapping[str, Iterable[str]]) -> Values:
    unknown = sorted(set(values) - FILTER_KEYS)
    if unknown:
        raise UsageError(f"unknown filter key(s) {', '.join(unknown)}; valid keys: {_VALID}")
    return MappingProxyType({k: frozenset(v) for k, v in sorted(values.items()) if v})


def _matcher(key: str, values: frozenset[str], *, every: bool) -> Check:
    """One key's test. ``every`` (positive filters) only matters for labels (ANDed)."""
    if key == "type":
        return lambda ev: ev.type in values
    if key == "scope":
        return lambda ev: ev.scope in values
    if key == "event":
        if values & PREFIX_SWITCH:
            prefixes = tuple(values)  # exact matches are prefix matches too
            return lambda ev: ev.action.startswith(prefixes)
        return lambda ev: ev.action in values
    if key == "image":
        return lambda ev: _match_image(ev, values)
    if key == "label":
        labels = tuple(_label(v) for v in values)
        if every:
            return lambda ev: all(_has_label(ev.attributes, lb) for lb in labels)
        return lambda ev: any(_has_label(ev.attributes, lb) for lb in labels)
    names = tuple(values)
    return lambda ev: (
        ev.actor_id.startswith(names) or ev.attributes.get("name", "").startswith(names)
    )


def _label(value: str) -> tuple[str, str | None]:
    key, sep, wanted = value.partition("=")
    return key, wanted if sep else None


def _has_label(attributes: Mapping[str, str], label: tuple[str, str | None]) -> bool:
    key, wanted = label
    found = attributes.get(key)
    return found is not None and (wanted is None or found == wanted)


def _match_image(ev: Event, values: frozenset[str]) -> bool:
    name = ev.attributes.get("name" if ev.type == "image" else "image", "")
    return (
        ev.actor_id in values
        or name in values
        or familiar_name(ev.actor_id) in values
        or familiar_name(name) in values
    )


# distribution/reference grammar (regexp.go), ASCII like Go's \w
_ALNUM = r"[a-z0-9]+"
_PATH = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_REMOTE = rf"{_PATH}(?:/{_PATH})*"
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME_RE = re.compile(rf"(?:({_DOMAIN})/)?({_REMOTE})", re.ASCII)
_REF_RE = re.compile(
    rf"((?:{_DOMAIN}/)?{_REMOTE})(?::[\w][\w.-]{{0,127}})?"
    r"(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?",
    re.ASCII,
)
_ID_RE = re.compile(r"[a-f0-9]{64}")
_DIGEST_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}


@lru_cache(maxsize=4096)
def familiar_name(image: str) -> str:
    """Docker's ``stripTag``: the familiar name of a reference, or ``image`` unchanged.

    ``docker.io/library/busybox:latest`` -> ``busybox``; ``localhost:5000/x:tag`` ->
    ``localhost:5000/x``; ``busybox@sha256:...`` -> ``busybox``. Anything that is not a
    valid normalised reference (a 64-hex ID, uppercase, a bad digest) comes back as is.
    As in Go, ``sha256:<hex>`` parses as repository ``sha256`` with a tag.
    """
    if len(image) > 1024 or _ID_RE.fullmatch(image):
        return image
    domain, remainder = _split_docker_domain(image)
    if remainder.split(":", 1)[0].lower() != remainder.split(":", 1)[0]:
        return image
    ref = _REF_RE.fullmatch(f"{domain}/{remainder}")
    if ref is None or len(ref[1]) > 255 or not _valid_digest(ref[2]):
        return image
    name = _NAME_RE.fullmatch(ref[1])
    if name is None:  # pragma: no cover - the reference regexp already matched the name
        return image
    domain, path = name[1] or "", name[2]
    if domain == "docker.io":
        tail = path.removeprefix("library/")
        return tail if "/" not in tail else path
    return f"{domain}/{path}" if domain else path


def _split_docker_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep:
        return "docker.io", "library/" + name
    if first == "index.docker.io":
        domain, remainder = "docker.io", rest
    elif first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        domain, remainder = first, rest
    else:
        domain, remainder = "docker.io", name
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    return domain, remainder


def _valid_digest(digest: str | None) -> bool:
    """go-digest's Validate: a known algorithm with lower-case hex of the right length."""
    if digest is None:
        return True
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_LEN.get(algorithm)
    return size == len(encoded) and re.fullmatch(r"[a-f0-9]+", encoded) is not None
