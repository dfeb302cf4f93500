"""The exposition writer: Accept negotiation, family headers, the series identity and the
sample lines of every family ``/metrics`` serves.

The bytes are exactly those of prometheus_client for the same families:
``exposition.generate_latest`` (Prometheus text 0.0.4) and
``openmetrics.exposition.generate_latest`` (OpenMetrics 1.0.0); tests/helpers/oracle.py
builds the same families as prometheus_client objects and the tests compare the two. The
formats differ only in the family headers (a counter's HELP/TYPE name has ``_total`` in
the text format, not in OpenMetrics; OpenMetrics also escapes ``"`` in HELP) and in the
final ``# EOF``; sample lines are identical, so a family's body is written once for both.

Every container series carries the base labels ``id``, ``name`` and ``image``, made here
and only here (``series``):

- ``id`` is cAdvisor's cgroup-style id of a Docker container, ``/docker/<full id>``
  (``series_id``), whatever the cgroup driver. It is what cAdvisor shows on a
  cgroupfs-driver host and what ``id=~"/docker/.*"`` dashboard selectors expect; with the
  systemd driver cAdvisor would say ``/system.slice/docker-<id>.scope``.
- ``name`` (without the leading "/") and ``image`` (as the user asked for it) are the
  empty string when unknown (no Docker): Prometheus reads an empty label as no label.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple, TypeVar

from prometheus_client.utils import floatToGoString

from .getters import Sample
from .table import FamilySpec, family_name

# prometheus_client's own value formatting (Go's float format): the same bytes by construction
go_float: Callable[[float], str] = floatToGoString

EOF = b"# EOF\n"
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
BASE_LABELS = ("id", "name", "image")


class Format(enum.Enum):
    """An exposition format; the value is the response's Content-Type."""

    TEXT = TEXT_CONTENT_TYPE
    OPENMETRICS = OPENMETRICS_CONTENT_TYPE

    @property
    def content_type(self) -> str:
        return self.value


def negotiate(accept: str | None) -> tuple[str, Format]:
    """(Content-Type, Format) for an Accept header.

    The highest-``q`` acceptable entry wins, the earlier one on a tie. OpenMetrics is
    served for ``application/openmetrics-text`` of any version (1.0.0 content: Prometheus
    asks for 1.0.0 or 0.0.1 and reads both the same); Prometheus text 0.0.4 for
    ``text/plain``, ``text/*``, ``*/*``, an empty header or nothing acceptable.
    """
    best: tuple[float, int, Format] | None = None
    for index, item in enumerate((accept or "").split(",")):
        media, *params = item.split(";")
        media = media.strip().lower()
        if media == "application/openmetrics-text":
            fmt = Format.OPENMETRICS
        elif media in ("text/plain", "text/*", "*/*"):
            fmt = Format.TEXT
        else:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or (q, -index) > best[:2]):
            best = (q, -index, fmt)
    fmt = Format.TEXT if best is None else best[2]
    return fmt.content_type, fmt


def header(name: str, type_: str, help_: str, fmt: Format) -> bytes:
    """``# HELP`` and ``# TYPE`` of one family; ``name`` is the sample name."""
    help_ = help_.replace("\\", r"\\").replace("\n", r"\n")
    if fmt is Format.OPENMETRICS:
        name = family_name(name, type_)
        help_ = help_.replace('"', r"\"")
    return f"# HELP {name} {help_}\n# TYPE {name} {type_}\n".encode()


def escape_value(value: str) -> str:
    """A label value as both formats write it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


# ---------------------------------------------------------------------- series identity


def series_id(cid: str) -> str:
    """The ``id`` label of a Docker container's series (cAdvisor's cgroupfs-driver id)."""
    return "/docker/" + cid


class Series(NamedTuple):
    """A container's identity on every series it has: the escaped id, name and image, and
    their label string (names sorted), made once per container per rendering."""

    values: tuple[str, str, str]
    labels: str


def series(cid: str, name: str | None, image: str | None) -> Series:
    """The base labels of a container: ``id`` from its full id, ``name`` and ``image``
    empty when unknown."""
    values = (escape_value(series_id(cid)), escape_value(name or ""),
              escape_value(image or ""))  # fmt: skip
    labels = dict(zip(BASE_LABELS, values, strict=True))
    return Series(values, ",".join(f'{k}="{labels[k]}"' for k in sorted(labels)))


# ------------------------------------------------------------------------- sample lines

A = TypeVar("A")
B = TypeVar("B")


def line_template(name: str, extra: Sequence[str]) -> str:
    """A ``str.format`` template for one sample line with extra labels. Positional
    arguments: the escaped id, name and image, the escaped extra values, the value."""
    names = (*BASE_LABELS, *extra)
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: duplicate label names {names}")
    order = sorted(range(len(names)), key=names.__getitem__)
    labels = ",".join(f'{names[i]}="{{{i}}}"' for i in order)
    return f"{name}{{{{{labels}}}}} {{{len(names)}}}\n"


def write_family(
    name: str,
    extra: Sequence[str],
    get: Callable[[A, B], Iterable[Sample]],
    rows: Sequence[tuple[A, B, Series]],
) -> str:
    """The sample lines of one per-container family, in row order: ``get(a, b)`` gives
    a row's (extra label values, value) samples, ``extra`` names those labels."""
    lines: list[str] = []
    append = lines.append
    if not extra:
        prefix = name + "{"
        for a, b, (_, base) in rows:
            for _, value in get(a, b):
                append(f"{prefix}{base}}} {go_float(value)}\n")
    else:
        template = line_template(name, extra).format
        for a, b, (values, _) in rows:
            for labels, value in get(a, b):
                append(template(*values, *map(escape_value, labels), go_float(value)))
    return "".join(lines)


def family(name: str, type_: str, help_: str, body: str, fmt: Format) -> bytes:
    """One family in ``fmt``: its header and its sample lines."""
    return header(name, type_, help_, fmt) + body.encode()


# ----------------------------------------------------------------- the agent's own families

Labels = Mapping[str, str]


class Family(NamedTuple):
    """A family whose samples are known only at scrape time (the agent's own counters);
    written with its header even when it has no sample, as prometheus_client does."""

    spec: FamilySpec
    samples: Sequence[tuple[Labels, float]]


def sample_line(name: str, labels: Labels, value: float) -> str:
    if not labels:
        return f"{name} {go_float(value)}\n"
    pairs = ",".join(f'{k}="{escape_value(labels[k])}"' for k in sorted(labels))
    return f"{name}{{{pairs}}} {go_float(value)}\n"


def write_families(families: Iterable[Family], fmt: Format) -> bytes:
    """Families known at scrape time, in order; no ``# EOF``."""
    out: list[bytes] = []
    for spec, samples in families:
        body = "".join(sample_line(spec.name, labels, value) for labels, value in samples)
        out.append(family(spec.name, spec.type, spec.help, body, fmt))
    return b"".join(out)
