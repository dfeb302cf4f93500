"""The project's small error tree. OS and daemon errors are translated into these once,
at the boundary; everything inside the package only sees these."""

from __future__ import annotations


class WatchdogError(Exception):
    """Base of every error the agent raises on purpose."""


class ParseError(WatchdogError, ValueError):
    """A kernel or daemon file/document did not have the expected shape."""

    def __init__(self, what: str, detail: str = "") -> None:
        super().__init__(f"cannot parse {what}: {detail}" if detail else f"cannot parse {what}")
        self.what = what
        self.detail = detail


class ContainerGone(WatchdogError):
    """The container (or process) vanished while it was being read: normal flow."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"{ident} is gone")
        self.ident = ident


class AccessDenied(WatchdogError):
    """The agent lacks the permission to read something it needs."""

    def __init__(self, path: str) -> None:
        super().__init__(f"permission denied: {path}")
        self.path = path


class DockerError(WatchdogError):
    """The Docker engine answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"docker: {message} (HTTP {status})")
        self.status = status
        self.message = message


class DockerUnavailable(WatchdogError):
    """No Docker engine answers at the configured address."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"no Docker engine at {address}: {reason}")
        self.address = address
        self.reason = reason


class NotFound(WatchdogError):
    """A container id, prefix or name matched nothing (or more than one container)."""

    def __init__(self, ident: str, reason: str = "no such container") -> None:
        super().__init__(f"{reason}: {ident}")
        self.ident = ident
        self.reason = reason


class StoreError(WatchdogError):
    """An on-disk store (the event journal, the post-mortem store) cannot be opened, read
    or written; ``store`` says which, ``path`` names the file."""

    def __init__(self, store: str, path: str, reason: str) -> None:
        super().__init__(f"{store} {path}: {reason}")
        self.store = store
        self.path = path
        self.reason = reason


class UsageError(WatchdogError):
    """Bad user input (a flag, a filter, a time)."""
