"""The one place the collectors open and read files (they list directories and stat
paths themselves).

Reading a small cgroup file costs 10-30 µs with open/read/close but 1.5-3 µs with pread on
a file descriptor kept open, so descriptors are kept per path (up to a budget derived
from RLIMIT_NOFILE) and closed when their container goes away. seq_file and kernfs files
regenerate their content on a read at offset 0. Files read once (a process's /proc
entries for ``top``, /proc/<pid>/cgroup to locate a container) go through a reader with
``keep=0``: open, read, close.

``memo`` also keeps each file's last bytes and parsed value: a file whose bytes did not
change since the previous read is not parsed again, and the caller learns it did not
change (the sampler's "did this container move" probe, collectors/sampler.py).

OS errors are translated here, once: a missing file is ``None`` (the field is absent);
a vanished cgroup or process raises ContainerGone; a permission problem raises
AccessDenied from ``read``; any other OSError is counted and reported as ``None``.
``get`` also parses, and counts a file that cannot be read or parsed as an error.
"""

from __future__ import annotations

import errno
import os
import resource
from collections.abc import Callable
from typing import TypeVar

from watchdog_agent.errors import AccessDenied, ContainerGone, ParseError

T = TypeVar("T")

_CHUNK = 65536
_GONE = {errno.ENODEV, errno.ESRCH}
_DENIED = {errno.EACCES, errno.EPERM}
_BAD = object()  # memo: these bytes did not parse


def fd_budget() -> int:
    """How many descriptors the reader may keep: the soft limit (raised to the hard limit
    first when allowed) less a tenth, at least 1,024, left for sockets and the journal."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    soft = min(soft, 1 << 20)
    return max(0, soft - max(1024, soft // 10))


class FileReader:
    """Reads whole small files, keeping descriptors open. Not thread-safe: one owner."""

    def __init__(self, keep: int | None = None) -> None:
        self._fds: dict[str, int] = {}
        self._memo: dict[str, tuple[bytes, object]] = {}  # path -> (bytes, parsed or _BAD)
        self._keep = fd_budget() if keep is None else keep
        self.errors = 0  # files that existed but could not be read or parsed

    @property
    def open_files(self) -> int:
        return len(self._fds)

    def read(self, path: str, keep: bool = True) -> bytes | None:
        """The file's bytes; None when it does not exist (or an unexpected error, counted).
        ``keep=False`` for files read rarely: their descriptor is not worth keeping."""
        fd = self._fds.get(path)
        try:
            if fd is None:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                if keep and len(self._fds) < self._keep:
                    self._fds[path] = fd
                else:
                    try:
                        return _read_all(fd)
                    finally:
                        os.close(fd)
            data = os.pread(fd, _CHUNK, 0)
            return data if len(data) < _CHUNK else _read_all(fd)
        except OSError as exc:
            self._failed(path, exc)
            return None

    def get(self, path: str, parser: Callable[[bytes], T], keep: bool = True) -> T | None:
        """The parsed file; None when absent, unreadable or unparsable (the last two
        counted in ``errors``). A vanished container still raises ContainerGone."""
        fd = self._fds.get(path)
        try:
            if fd is None:
                data = self.read(path, keep)
                if data is None:
                    return None
            else:  # the hot path, inlined: one dict lookup and one pread
                try:
                    data = os.pread(fd, _CHUNK, 0)
                    if len(data) == _CHUNK:
                        data = _read_all(fd)
                except OSError as exc:
                    self._failed(path, exc)
                    return None
            return parser(data)
        except (ParseError, AccessDenied):
            self.errors += 1
            return None

    def memo(self, path: str, parser: Callable[[bytes], T]) -> tuple[T | None, bool]:
        """``(get(path, parser), unchanged)``: ``unchanged`` is True when the file's bytes
        are those of the previous ``memo`` read (then the parser is not called again), or
        it was absent both times. The parsed value is shared between reads: it must not
        be mutated. A file that cannot be parsed is counted in ``errors`` on every read."""
        last = self._memo.get(path)
        fd = self._fds.get(path)
        data: bytes | None
        if fd is not None:  # the hot path, inlined as in get
            try:
                data = os.pread(fd, _CHUNK, 0)
                if len(data) == _CHUNK:
                    data = _read_all(fd)
            except OSError as exc:
                data = None
                try:
                    self._failed(path, exc)
                except AccessDenied:
                    self.errors += 1
        else:
            try:
                data = self.read(path)
            except AccessDenied:
                self.errors += 1
                data = None
        if data is None:
            self._memo.pop(path, None)
            return None, last is None
        if last is not None and last[0] == data:
            value = last[1]
            if value is _BAD:
                self.errors += 1
                return None, True
            return value, True  # type: ignore[return-value]  # what parser gave for data
        try:
            parsed: object = parser(data)
        except (ParseError, AccessDenied):
            self.errors += 1
            parsed = _BAD
        self._memo[path] = (data, parsed)
        return (None if parsed is _BAD else parsed), False  # type: ignore[return-value]

    def _failed(self, path: str, exc: OSError) -> None:
        """The one translation of a read's OS error: a missing file is just absent."""
        self._drop(path)
        if isinstance(exc, FileNotFoundError):
            return
        if exc.errno in _GONE:
            raise ContainerGone(path) from exc
        if exc.errno in _DENIED:
            raise AccessDenied(path) from exc
        self.errors += 1

    def forget(self, prefix: str) -> None:
        """Close every kept descriptor whose path starts with ``prefix``."""
        for path in [p for p in self._fds if p.startswith(prefix)]:
            self._drop(path)
        for path in [p for p in self._memo if p.startswith(prefix)]:
            del self._memo[path]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._memo.clear()

    def _drop(self, path: str) -> None:
        self._memo.pop(path, None)
        fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)


def _read_all(fd: int) -> bytes:
    data = os.pread(fd, _CHUNK, 0)
    if len(data) < _CHUNK:
        return data
    parts = [data]
    offset = len(data)
    while True:
        more = os.pread(fd, _CHUNK, offset)
        if not more:
            return b"".join(parts)
        parts.append(more)
        offset += len(more)
