"""Pure parsers for cgroup v1 and v2 interface files.

Every function takes the file's bytes and returns a value, or raises ParseError; nothing
else escapes (hypothesis checks that). Keyed files are parsed by key, never by position,
because kernels add keys (cgroup-v2.rst "Conventions").
"""

from __future__ import annotations

import re

from watchdog_agent.errors import ParseError
from watchdog_agent.model import IoDevice, Pressure, PsiLine

# cgroup v1 reports "no limit" as PAGE_COUNTER_MAX * PAGE_SIZE (0x7FFFFFFFFFFFF000 on
# 4 KiB pages) and Docker maps v2 "max" to 2**64-1: anything this large is no limit.
V1_UNLIMITED_FLOOR = 1 << 62


def parse_int(data: bytes, what: str = "integer file") -> int:
    """A file holding one integer (memory.current, pids.current, cpuacct.usage ...)."""
    try:
        return int(data.strip())
    except ValueError as exc:
        raise ParseError(what, repr(data[:40])) from exc


def parse_limit(data: bytes, what: str = "limit file") -> int | None:
    """A v2 limit: an integer, or ``max`` for no limit (returned as None)."""
    value = data.strip()
    if value == b"max":
        return None
    return parse_int(value, what)


def parse_v1_limit(data: bytes, what: str = "v1 limit file") -> int | None:
    """A v1 byte or count limit: huge values and -1 mean no limit (None)."""
    value = data.strip()
    if value == b"max":  # v1 pids.max uses the v2 token
        return None
    number = parse_int(value, what)
    if number < 0 or number >= V1_UNLIMITED_FLOOR:
        return None
    return number


def parse_int_list(data: bytes, what: str = "integer list") -> tuple[int, ...]:
    """Space- or newline-separated integers (cpuacct.usage_percpu)."""
    try:
        return tuple(int(tok) for tok in data.split())
    except ValueError as exc:
        raise ParseError(what, repr(data[:40])) from exc


def parse_pid_list(data: bytes, what: str = "cgroup.procs") -> tuple[int, ...]:
    """cgroup.procs / cgroup.threads: one PID a line; 0 (not visible, being reaped) skipped."""
    pids = parse_int_list(data, what)
    if any(pid < 0 for pid in pids):
        raise ParseError(what, "negative pid")
    return tuple(pid for pid in pids if pid)


def parse_flat_keyed(data: bytes, what: str = "flat-keyed file") -> dict[str, int]:
    """``KEY VALUE`` lines (cpu.stat, memory.stat, memory.events, cgroup.events, v1
    memory.oom_control and cpuacct.stat)."""
    tokens = data.split()
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    try:
        if 2 * lines == len(tokens):  # the kernel's shape: one pair a line (hot path)
            return dict(zip(map(bytes.decode, tokens[0::2]), map(int, tokens[1::2]), strict=True))
        out: dict[str, int] = {}
        for line in data.splitlines():
            if line.strip():
                key, value = line.split()
                out[key.decode("ascii")] = int(value)
        return out
    except ValueError as exc:  # wrong field count, bad number, undecodable key
        raise ParseError(what, repr(data[:40])) from exc


def parse_key(data: bytes, key: bytes, what: str = "flat-keyed file") -> int | None:
    """One key of a flat-keyed file, found without splitting the whole file (memory.stat
    has ~70 lines and a pass needs nine of them); None when the key is absent."""
    buf = b"\n" + data
    start = buf.find(b"\n" + key + b" ")
    if start < 0:
        return None
    start += len(key) + 2
    end = buf.find(b"\n", start)
    value = buf[start:] if end < 0 else buf[start:end]
    try:
        return int(value)
    except ValueError as exc:
        raise ParseError(what, f"{key.decode(errors='replace')}: {value[:20]!r}") from exc


def parse_cpu_max(data: bytes, what: str = "cpu.max") -> tuple[int | None, int]:
    """cpu.max ``$MAX $PERIOD``: (quota in µs or None for ``max``, period in µs)."""
    parts = data.split()
    if len(parts) != 2:
        raise ParseError(what, repr(data[:40]))
    quota = None if parts[0] == b"max" else parse_int(parts[0], what)
    period = parse_int(parts[1], what)
    if period <= 0 or (quota is not None and quota <= 0):
        raise ParseError(what, "non-positive quota or period")
    return quota, period


def parse_v1_quota(data: bytes, what: str = "cpu.cfs_quota_us") -> int | None:
    """v1 cpu.cfs_quota_us: -1 means no quota."""
    quota = parse_int(data, what)
    return None if quota < 0 else quota


def _parse_psi_line(fields: list[bytes], what: str) -> PsiLine:
    """``avg10=.. avg60=.. avg300=.. total=..`` in the kernel's fixed order."""
    try:
        a10, a60, a300, total = fields
        if not (
            a10.startswith(b"avg10=")
            and a60.startswith(b"avg60=")
            and a300.startswith(b"avg300=")
            and total.startswith(b"total=")
        ):
            raise ValueError(fields)
        return PsiLine(float(a10[6:]), float(a60[6:]), float(a300[7:]), int(total[6:]))
    except ValueError as exc:  # also a wrong field count
        raise ParseError(what, repr(b" ".join(fields)[:60])) from exc


_PSI = re.compile(
    rb"some avg10=(\d+\.\d+) avg60=(\d+\.\d+) avg300=(\d+\.\d+) total=(\d+)\n"
    rb"(?:full avg10=(\d+\.\d+) avg60=(\d+\.\d+) avg300=(\d+\.\d+) total=(\d+)\n)?"
)


def parse_pressure(data: bytes, what: str = "pressure file") -> Pressure:
    """PSI ``some``/``full`` lines (cpu.pressure, memory.pressure, io.pressure)."""
    m = _PSI.fullmatch(data)
    if m is not None:  # the kernel's exact layout: one regex match (hot path)
        g = m.groups()
        some = PsiLine(float(g[0]), float(g[1]), float(g[2]), int(g[3]))
        full = None if g[4] is None else PsiLine(float(g[4]), float(g[5]), float(g[6]), int(g[7]))
        return Pressure(some, full)
    tokens = data.split()  # anything else: five tokens a line, some and/or full
    if not tokens or len(tokens) % 5 or data.count(b"\n") > len(tokens) // 5:
        raise ParseError(what, repr(data[:40]))
    lines: dict[bytes, PsiLine] = {}
    for i in range(0, len(tokens), 5):
        if tokens[i] not in (b"some", b"full"):
            raise ParseError(what, repr(tokens[i][:20]))
        lines[tokens[i]] = _parse_psi_line(tokens[i + 1 : i + 5], what)
    return Pressure(lines.get(b"some"), lines.get(b"full"))


def _parse_device(token: bytes, what: str) -> tuple[int, int]:
    major, sep, minor = token.partition(b":")
    if not sep:
        raise ParseError(what, repr(token[:40]))
    return parse_int(major, what), parse_int(minor, what)


_IO_LINE = re.compile(rb"^(\d+):(\d+) rbytes=(\d+) wbytes=(\d+) rios=(\d+) wios=(\d+)(?= |$)", re.M)


def parse_io_stat(data: bytes, what: str = "io.stat") -> tuple[IoDevice, ...]:
    """v2 io.stat: ``MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. ...``; extra keys ignored."""
    found = _IO_LINE.findall(data)
    if len(found) == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1):
        # every line starts in the kernel's order (hot path)
        return tuple(IoDevice(*map(int, m)) for m in found)
    devices: list[IoDevice] = []
    for line in data.splitlines():
        fields = line.split()
        if not fields:
            continue
        major, minor = _parse_device(fields[0], what)
        keys: dict[bytes, bytes] = {}
        for item in fields[1:]:
            key, sep, value = item.partition(b"=")
            if not sep:
                raise ParseError(what, repr(item[:40]))
            keys[key] = value
        try:
            devices.append(
                IoDevice(
                    major=major,
                    minor=minor,
                    read_bytes=_optional_int(keys.get(b"rbytes")),
                    write_bytes=_optional_int(keys.get(b"wbytes")),
                    read_ios=_optional_int(keys.get(b"rios")),
                    write_ios=_optional_int(keys.get(b"wios")),
                )
            )
        except ValueError as exc:
            raise ParseError(what, repr(line[:60])) from exc
    return tuple(devices)


def _optional_int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def parse_blkio_ops(
    data: bytes, what: str = "blkio.throttle file"
) -> dict[tuple[int, int], dict[str, int]]:
    """v1 blkio.throttle.io_service_bytes(_recursive) / io_serviced: ``MAJ:MIN Op Value``
    lines plus a final ``Total N``. Returns {(major, minor): {op lower-cased: value}}."""
    out: dict[tuple[int, int], dict[str, int]] = {}
    for line in data.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 2 and fields[0] == b"Total":
            parse_int(fields[1], what)
            continue
        if len(fields) != 3:
            raise ParseError(what, repr(line[:60]))
        device = _parse_device(fields[0], what)
        try:
            op = fields[1].decode("ascii").lower()
        except UnicodeDecodeError as exc:
            raise ParseError(what, repr(line[:60])) from exc
        out.setdefault(device, {})[op] = parse_int(fields[2], what)
    return out


def blkio_devices(
    service_bytes: dict[tuple[int, int], dict[str, int]],
    serviced: dict[tuple[int, int], dict[str, int]] | None = None,
) -> tuple[IoDevice, ...]:
    """Combine v1 byte and count tables into IoDevice values (read/write ops only)."""
    devices = []
    for (major, minor), ops in sorted(service_bytes.items()):
        counts = (serviced or {}).get((major, minor), {})
        devices.append(
            IoDevice(
                major=major,
                minor=minor,
                read_bytes=ops.get("read"),
                write_bytes=ops.get("write"),
                read_ios=counts.get("read"),
                write_ios=counts.get("write"),
            )
        )
    return tuple(devices)
