"""``--since``/``--until`` values as unix nanoseconds, and ``since`` as the Engine wants it.

Accepted, after trimming surrounding blanks:

- RFC 3339, fraction up to 9 digits, ``Z``/``z`` or ``+hh:mm``/``-hh:mm``:
  ``2026-11-28T07:12:00Z``, ``2026-11-28T07:12:00.123456789+01:00``; like the docker CLI,
  minutes and seconds may be left out (``2026-11-28T07``, ``2026-11-28T07:12``);
- a date, ``2026-11-28``: midnight;
- unix seconds with up to 9 fraction digits: ``1732780800``, ``1732780800.000000001``;
- a Go duration, meaning that long before now: ``10m``, ``1h30m``, ``1.5h``, ``500ms``
  (units ns us µs ms s m h; a leading ``-`` means after now, as Go's sign does).

Values without a zone are local time, as the docker CLI reads them: it parses them in a
fixed zone with the offset the local zone (``TZ``) has *now* (Go's
``time.FixedZone(reference.Zone())``), so a summer date read in winter takes the winter
offset, exactly as ``docker events --since`` does. A date alone is local midnight.

Any time docker can represent is accepted: one before 1970 is clamped to 0 and one after
the end of Go's int64 nanoseconds (2262-04-11T23:47:16.854775807Z, the Engine's own
limit) to that end, so ``--until 9999999999`` (year 2286) means "no end". Unix seconds
beyond int64 (docker refuses them too) and durations longer than Go's 292 years are
errors. Everything stays in integers: no value goes through a float.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
import time
from decimal import Decimal

from watchdog_agent.errors import UsageError

NS = 1_000_000_000
MAX_NANOS = 2**63 - 1  # 2262-04-11T23:47:16.854775807Z
MAX_SECONDS = 2**63 - 1  # Go's strconv.ParseInt(seconds, 10, 64), as the Engine reads them
FLAGS = ("--since", "--until")  # the window's names on the command line
FORMS = (
    "RFC 3339 (2026-11-28T07:12:00Z, 2026-11-28T07:12:00.5+01:00), a date (2026-11-28), "
    "unix seconds (1732780800, 1732780800.5) or a duration before now (10m, 1h30m, 500ms)"
)

_UNIX = re.compile(r"([0-9]+)(?:\.([0-9]{1,9}))?")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt]([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)
_UNIT = r"(?:ns|us|µs|μs|ms|s|m|h)"  # micro sign U+00B5 and Greek mu U+03BC, as Go
_DURATION = re.compile(rf"([-+]?)((?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+){_UNIT})+)")
_PART = re.compile(rf"([0-9]*)(?:\.([0-9]*))?({_UNIT})")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": NS,
    "m": 60 * NS,
    "h": 3600 * NS,
}


def parse_time(value: str, now: float | None = None) -> int:
    """Parse a ``--since``/``--until`` value into unix nanoseconds.

    ``now`` (unix seconds) anchors durations; it defaults to the current time.
    Raises UsageError naming the value and the accepted forms.
    """
    text = value.strip()
    nanos: int | None = None
    if len(text) <= 64:
        if m := _UNIX.fullmatch(text):
            if int(m[1]) > MAX_SECONDS:
                raise UsageError(f"time {value!r} is out of range (unix seconds end at 2**63-1)")
            nanos = int(m[1]) * NS + _fraction_ns(m[2])
        elif m := _RFC3339.fullmatch(text):
            nanos = _rfc3339_ns(m, _local_offset(now))
        elif m := _DURATION.fullmatch(text):
            length = _duration_ns(m[2])
            if length > MAX_NANOS:
                raise UsageError(f"duration {value!r} is too long (Go durations end at 292 years)")
            nanos = _now_ns(now) - (-length if m[1] == "-" else length)
    if nanos is None:
        raise UsageError(f"bad time {value!r}: expected {FORMS}")
    return min(max(nanos, 0), MAX_NANOS)


def parse_window(
    since: str | None,
    until: str | None,
    now: float | None = None,
    names: tuple[str, str] = ("since", "until"),  # FLAGS for the commands
) -> tuple[int | None, int | None]:
    """A ``since``/``until`` window (either end may be absent) as unix nanoseconds, both
    read against the same ``now`` (unix seconds; default: the current time).

    An ``until`` before ``since`` is a UsageError naming them as the user wrote them:
    ``names`` is FLAGS for the commands' ``--since``/``--until``.
    """
    now = time.time() if now is None else now
    since_nano = None if since is None else parse_time(since, now)
    until_nano = None if until is None else parse_time(until, now)
    if since_nano is not None and until_nano is not None and until_nano < since_nano:
        raise UsageError(f"{names[1]} is before {names[0]}")
    return since_nano, until_nano


def to_docker_since(nanos: int) -> str:
    """Format unix nanoseconds as ``<seconds>.<nanos, 9 digits>`` for ``since``/``until``."""
    if nanos < 0:
        raise ValueError(f"negative timestamp: {nanos}")
    seconds, rest = divmod(nanos, NS)
    return f"{seconds}.{rest:09d}"


def _fraction_ns(digits: str | None) -> int:
    return int(digits.ljust(9, "0")) if digits else 0


def _local_offset(now: float | None) -> int:
    """Seconds east of UTC of the local zone at ``now`` (default: the current time)."""
    return time.localtime(None if now is None else math.floor(now)).tm_gmtoff


def _rfc3339_ns(m: re.Match[str], local_offset: int) -> int | None:
    """``local_offset`` (seconds east of UTC) applies when the value names no zone."""
    year, month, day, hour, minute, second = (int(g or 0) for g in m.groups()[:6])
    try:
        stamp = dt.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    offset = 0 if m[8] else local_offset
    if m[9]:
        off_h, off_m = int(m[10]), int(m[11])
        if off_h > 23 or off_m > 59:
            return None
        offset = (off_h * 3600 + off_m * 60) * (-1 if m[9] == "-" else 1)
    seconds = calendar.timegm(stamp.timetuple()) - offset
    return seconds * NS + _fraction_ns(m[7])


def _duration_ns(body: str) -> int:
    """Go's time.ParseDuration without the sign: whole part times unit plus the fraction
    truncated to whole nanoseconds (Go goes through a float there; exact here)."""
    total = 0
    for whole, frac, unit in _PART.findall(body):
        scale = _UNIT_NS[unit]
        total += int(whole or 0) * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
    return total


def _now_ns(now: float | None) -> int:
    if now is None:
        return time.time_ns()
    return int(Decimal(repr(now)) * NS)
