"""Exposition formats: Accept negotiation, family headers and the fast text writer.

The bytes are exactly those of prometheus_client for the same families:
``exposition.generate_latest`` (Prometheus text 0.0.4) and
``openmetrics.exposition.generate_latest`` (OpenMetrics 1.0.0). The two formats differ
only in the family headers (a counter's HELP/TYPE name has ``_total`` in the text format,
not in OpenMetrics; OpenMetrics also escapes ``"`` in HELP) and in the final ``# EOF``;
sample lines are identical, so a family's body is rendered once for both.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from watchdog_agent.model import ContainerRef, ContainerStats

from .table import BASE_LABELS, MetricSpec, family_name

# prometheus_client's own value formatting (Go's float format): the same bytes by construction
go_float: Callable[[float], str] = floatToGoString
_openmetrics_latest: Callable[[Collector], bytes] = openmetrics.generate_latest

EOF = b"# EOF\n"
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


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


def base_label_string(values: Sequence[str]) -> str:
    """``id="..",image="..",name=".."`` (sorted names) from escaped (id, name, image)."""
    labels = dict(zip(BASE_LABELS, values, strict=True))
    return ",".join(f'{k}="{labels[k]}"' for k in sorted(labels))


def line_template(name: str, extra: Sequence[str]) -> str:
    """A ``str.format`` template for one sample line with extra labels. Positional
    arguments: the escaped id, name and image, the escaped extra values, the value."""
    names = (*BASE_LABELS, *extra)
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: duplicate label names {names}")
    order = sorted(range(len(names)), key=names.__getitem__)
    labels = ",".join(f'{names[i]}="{{{i}}}"' for i in order)
    return f"{name}{{{{{labels}}}}} {{{len(names)}}}\n"


# escaped (id, name, image) and their label string, per container
Row = tuple[ContainerStats, ContainerRef | None, tuple[str, str, str], str]


def write_family(spec: MetricSpec, rows: Sequence[Row]) -> str:
    """The sample lines of one container family, in row order."""
    get = spec.get
    lines: list[str] = []
    append = lines.append
    if not spec.labels:
        prefix = spec.name + "{"
        for stats, ref, _, base in rows:
            for _, value in get(stats, ref):
                append(f"{prefix}{base}}} {go_float(value)}\n")
    else:
        template = line_template(spec.name, spec.labels).format
        for stats, ref, values, _ in rows:
            for extra, value in get(stats, ref):
                append(template(*values, *map(escape_value, extra), go_float(value)))
    return "".join(lines)


class _Fixed:
    """A Collector that yields given families: prometheus_client renders them."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Sequence[Metric]:
        return self._metrics


def render_metrics(metrics: Sequence[Metric], fmt: Format) -> bytes:
    """Families from elsewhere (agent self-metrics, event counters), rendered by
    prometheus_client itself; no ``# EOF``."""
    if not metrics:
        return b""
    if fmt is Format.TEXT:
        return generate_latest(_Fixed(metrics))
    return _openmetrics_latest(_Fixed(metrics))[: -len(EOF)]
