"""``docker system df`` as text, from the disk document (wire/diskjson.py): the same
columns, numbers and units as the docker 20.10 CLI. Pure functions.

Sizes are go-units' (decimal, ``%.4g``: "1.982MB"; the per-row sizes docker prints with 3
digits where it does); ages are go-units' HumanDuration ("About an hour ago"); columns are
laid out as the CLI's tabwriter does (each at least 10 wide, 3 spaces of padding).
Untrusted cells (names, tags, commands, statuses) are escaped (termsafe).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from watchdog_agent.docker.decode import parse_rfc3339
from watchdog_agent.termsafe import escape

UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
TYPE_NAMES = {
    "images": "Images",
    "containers": "Containers",
    "volumes": "Local Volumes",
    "build_cache": "Build Cache",
}
NA = "N/A"
MIN_WIDTH = 10
PADDING = 3


def human_size(size: float | None, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision (HumanSize is precision 4); None is N/A."""
    if size is None:
        return NA
    value = float(size)
    i = 0
    while value >= 1000.0 and i < len(UNITS) - 1:
        value /= 1000.0
        i += 1
    return f"{value:.{precision}g}{UNITS[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def since(stamp: str | None, now: float) -> str:
    """``<duration> ago`` for an RFC 3339 time, "" when there is none."""
    at = parse_rfc3339(stamp)
    return "" if at is None else human_duration(now - at) + " ago"


def tabwriter(rows: Sequence[Sequence[str]]) -> str:
    """The CLI's tabwriter (minwidth 10, padding 3; the last cell is not padded). Cells
    are escaped first, so widths are those the terminal shows."""
    body = [[escape(c) for c in row] for row in rows]
    columns = max((len(r) for r in body), default=0)
    widths = [MIN_WIDTH] * columns
    for row in body:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell) + PADDING)
    lines = ["".join(c.ljust(widths[i]) for i, c in enumerate(r[:-1])) + r[-1] for r in body]
    return "".join(line + "\n" for line in lines)


def reclaimable(area: Mapping[str, Any]) -> str:
    size = human_size(area["reclaimable_bytes"])
    pct = area.get("reclaimable_percent")
    return size if pct is None else f"{size} ({pct}%)"


def summary(doc: Mapping[str, Any]) -> str:
    rows = [["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]]
    for a in doc["areas"]:
        rows.append([TYPE_NAMES.get(a["type"], a["type"]), str(a["total"]), str(a["active"]),
                     human_size(a["size_bytes"]), reclaimable(a)])  # fmt: skip
    return tabwriter(rows)


def summary_json_lines(doc: Mapping[str, Any]) -> str:
    """``docker system df --format '{{json .}}'``: one object a line, its keys and strings."""
    out = []
    for a in doc["areas"]:
        row = {"Active": str(a["active"]), "Reclaimable": reclaimable(a),
               "Size": human_size(a["size_bytes"]), "TotalCount": str(a["total"]),
               "Type": TYPE_NAMES.get(a["type"], a["type"])}  # fmt: skip
        out.append(json.dumps(row, separators=(",", ":")) + "\n")
    return "".join(out)


def short_id(ident: str) -> str:
    """stringid.TruncateID: without the algorithm prefix, 12 characters."""
    return ident.split(":", 1)[-1][:12]


def _count(value: int | None) -> str:
    return NA if value is None else str(value)


def ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def go_quote(text: str) -> str:
    """strconv.Quote, close enough for a table cell: JSON's escapes, Unicode kept."""
    return json.dumps(text, ensure_ascii=False)


def _image_ref(c: Mapping[str, Any]) -> str:
    image = c.get("image") or ""
    if not image:
        return "<no image>"
    if image.startswith("sha256:") or short_id(c.get("image_id") or "") == short_id(image):
        return short_id(image)
    name, at, _ = image.partition("@")
    return name if at and ":" in name.rsplit("/", 1)[-1] else image


def _name(names: Sequence[str]) -> str:
    own = [n for n in names if "/" not in n]
    return own[0] if own else ",".join(names)


def _cache_order(b: Mapping[str, Any]) -> tuple[int, float, str]:
    last = parse_rfc3339(b.get("last_used"))
    return (0, 0.0, b["id"]) if last is None else (1, last, b["id"])


def verbose(doc: Mapping[str, Any], now: float | None = None) -> str:
    """``docker system df -v``: images, containers, local volumes, build cache."""
    now = time.time() if now is None else now
    images = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE",
               "UNIQUE SIZE", "CONTAINERS"]]  # fmt: skip
    for i in doc["images"]:
        images.append([i["repository"], i["tag"], short_id(i["id"]), since(i["created"], now),
                       human_size(i["size_bytes"]), human_size(i["shared_size_bytes"]),
                       human_size(i["unique_size_bytes"]), _count(i["containers"])])  # fmt: skip
    containers = [["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED",
                   "STATUS", "NAMES"]]  # fmt: skip
    for c in doc["containers"]:
        containers.append([short_id(c["id"]), _image_ref(c),
                           go_quote(ellipsis(c["command"] or "", 20)), str(c["local_volumes"]),
                           human_size(c["size_bytes"], 3), since(c["created"], now),
                           c["status"] or "", _name(c["names"])])  # fmt: skip
    volumes = [["VOLUME NAME", "LINKS", "SIZE"]]
    for v in doc["volumes"]:
        volumes.append([v["name"], _count(v["links"]), human_size(v["size_bytes"])])
    cache = [["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]]
    for b in sorted(doc["build_cache"], key=_cache_order):
        cache.append([short_id(b["id"]) + ("*" if b["in_use"] else ""), b["type"] or "",
                      human_size(b["size_bytes"], 3), since(b["created"], now),
                      since(b["last_used"], now), str(b["usage_count"]),
                      "true" if b["shared"] else "false"])  # fmt: skip
    cache_size = next((a["size_bytes"] for a in doc["areas"] if a["type"] == "build_cache"), 0)
    return (
        "Images space usage:\n\n" + tabwriter(images)
        + "\nContainers space usage:\n\n" + tabwriter(containers)
        + "\nLocal Volumes space usage:\n\n" + tabwriter(volumes)
        + f"\nBuild cache usage: {human_size(cache_size)}\n\n" + tabwriter(cache)
    )  # fmt: skip
