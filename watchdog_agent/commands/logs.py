"""`watchdog-agent logs CONTAINER`: a container's logs as `docker logs` prints them.

The container's stdout goes to our stdout and its stderr to our stderr. Straight from
Docker when its socket answers (``GET /containers/{id}/logs``, the framing decoded by
logframes.Demuxer, so piped output carries the exact bytes docker writes); through a
running agent's ``/api/v1/containers/{id}/logs`` when it is named with ``--agent`` or
when Docker does not answer (lines then come decoded as text, one per line). Output to a
terminal shows control characters instead of obeying them (termsafe.escape_lines).
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from contextlib import aclosing
from typing import Any, BinaryIO
from urllib.parse import quote

from watchdog_agent.commands import agentlink
from watchdog_agent.commands.agentlink import AgentError, AgentOptions, Link
from watchdog_agent.config import Settings, settings_from
from watchdog_agent.docker.engine import QueryValue
from watchdog_agent.docker.lite import LiteDockerClient
from watchdog_agent.docker.logframes import STDERR, STDOUT, SYSTEM, Demuxer, Piece
from watchdog_agent.errors import (
    DockerError,
    DockerUnavailable,
    NotFound,
    UsageError,
    WatchdogError,
)
from watchdog_agent.events.timeparse import FLAGS, parse_window, to_docker_since
from watchdog_agent.termsafe import escape_lines

AGENT_MAX_TAIL = 10_000  # lines the agent's route sends at most (routes_logs.MAX_TAIL)
NO_LOGS = "this container's log driver keeps no logs"


class NoLogs(WatchdogError):
    """The container's log driver cannot be read (``--log-driver none``: Docker's 501)."""

    def __init__(self, ident: str, driver: str | None) -> None:
        super().__init__(f"{ident}: {NO_LOGS}" + (f" (--log-driver {driver})" if driver else ""))


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "logs", help="a container's logs (docker logs)",
        description="Print a container's logs: its stdout to stdout, its stderr to stderr.",
    )  # fmt: skip
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("-n", "--tail", default="all", metavar="N",
                   help="lines to show from the end (default all)")  # fmt: skip
    p.add_argument("--since", help="logs since: RFC 3339, unix seconds, or a duration such "
                   "as 10m (before now)")  # fmt: skip
    p.add_argument("--until", help="logs before (same forms as --since)")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("--docker-host", help="Docker address (default: $DOCKER_HOST or the "
                   "standard unix socket)")  # fmt: skip
    agentlink.add_arguments(p, "read through the agent there", fallback_only=True)
    p.set_defaults(run_command=_run)


async def _run(args: argparse.Namespace) -> int:
    query = LogsQuery.parse(args.follow, args.tail, args.since, args.until, args.timestamps)
    settings = settings_from(docker_host=args.docker_host)
    return await run_logs(settings, args.container, query, agentlink.options_from(args))


class LogsQuery:
    """The flags, checked; the same query for Docker and for the agent."""

    def __init__(
        self, follow: bool, tail: str, since: int | None, until: int | None, timestamps: bool
    ) -> None:
        self.follow, self.tail, self.timestamps = follow, tail, timestamps
        self.since, self.until = since, until

    @classmethod
    def parse(
        cls, follow: bool, tail: str, since: str | None, until: str | None, timestamps: bool
    ) -> LogsQuery:
        text = tail.strip().lower()
        if text != "all" and not (text.isascii() and text.isdigit()):  # int("²") fails
            raise UsageError(f"--tail {tail!r}: expected a number of lines or 'all'")
        since_ns, until_ns = parse_window(since, until, names=FLAGS)
        return cls(follow, text if text == "all" else str(int(text)), since_ns, until_ns,
                   timestamps)  # fmt: skip

    def params(self) -> dict[str, str]:
        out = {"follow": "1" if self.follow else "0", "tail": self.tail,
               "timestamps": "1" if self.timestamps else "0"}  # fmt: skip
        if self.since is not None:
            out["since"] = to_docker_since(self.since)
        if self.until is not None:
            out["until"] = to_docker_since(self.until)
        return out


class Output:
    """One of our two streams: the exact bytes, or on a terminal text with control
    characters shown (a "\\r\\n" line end read as "\\n"). Writes are collected until
    ``flush`` (one system call per chunk, also under PYTHONUNBUFFERED)."""

    def __init__(self, binary: BinaryIO, terminal: bool) -> None:
        self.binary = binary
        self.terminal = terminal
        self._pending: list[bytes] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._cr = ""  # a "\r" held back: the "\n" that may follow is in the next piece

    def write(self, data: bytes) -> None:
        if not self.terminal:
            self._pending.append(data)
            return
        text = self._cr + self._decoder.decode(data)
        self._cr = "\r" if text.endswith("\r") else ""
        text = text.removesuffix("\r").replace("\r\n", "\n")
        self._pending.append(escape_lines(text).encode())

    def flush(self) -> None:
        if self._pending:
            self.binary.write(b"".join(self._pending))
            self._pending.clear()
        self.binary.flush()

    def close(self) -> None:
        if self.terminal:
            rest = self._cr + self._decoder.decode(b"", final=True)
            self._pending.append(escape_lines(rest).encode())
            self._cr = ""
        self.flush()


def outputs() -> tuple[Output, Output]:
    return (Output(sys.stdout.buffer, sys.stdout.isatty()),
            Output(sys.stderr.buffer, sys.stderr.isatty()))  # fmt: skip


async def run_logs(
    settings: Settings,
    ident: str,
    query: LogsQuery,
    agent: AgentOptions,
    streams: tuple[Output, Output] | None = None,
) -> int:
    out, err = outputs() if streams is None else streams
    try:
        if agent.explicit:
            link = await agentlink.probe(agent)
            if link is None:
                raise agentlink.AgentUnavailable(str(agent.url), "nothing answers there")
            await _from_agent(link, ident, query, out, err)
            return 0
        client = LiteDockerClient(settings.docker_host)
        try:
            doc = await client.inspect_raw(ident)
        except DockerUnavailable as exc:  # only at the first contact: nothing printed yet
            link = await agentlink.fallback(exc, agent)
            await _from_agent(link, ident, query, out, err)
            return 0
        await _from_docker(client, doc, ident, query, out, err)
        return 0
    finally:
        out.close()
        err.close()


async def _from_docker(
    client: LiteDockerClient,
    doc: dict[str, Any],
    ident: str,
    query: LogsQuery,
    out: Output,
    err: Output,
) -> None:
    """The logs of the container ``doc`` (its inspect document) describes: HTTP/1.0,
    the body as it comes (no chunk framing to undo), frames split by the Demuxer."""
    cid, tty, driver = _describe(doc)
    demux = None if tty else Demuxer()
    sink = Sink(out, err)
    path = f"/containers/{cid}/logs"
    params: dict[str, QueryValue] = {"stdout": True, "stderr": True, **query.params()}
    try:
        async with aclosing(client.stream_raw(path, params)) as chunks:
            async for chunk in chunks:
                sink.write(demux.feed(chunk) if demux else [(STDOUT, chunk, False)])
    except DockerError as exc:
        if exc.status == 501:
            raise NoLogs(ident, driver) from exc
        raise
    if demux is not None:
        pieces, cut = demux.close()
        sink.write(pieces)
        if cut:
            raise WatchdogError("the log stream ended inside a frame (output cut short)")


class Sink:
    """Payload pieces to our stdout and stderr, in their order: one flush per switch of
    stream and per chunk (not per frame), so that a terminal showing both interleaves
    them as docker does."""

    def __init__(self, out: Output, err: Output) -> None:
        self.targets = {STDOUT: out, STDERR: err}

    def write(self, pieces: list[Piece]) -> None:
        last: Output | None = None
        for kind, data, _ in pieces:
            if kind == SYSTEM:  # the Engine's own error, in-band
                raise WatchdogError(f"docker: {data.decode('utf-8', 'replace').strip()}")
            target = self.targets[kind]
            if last is not None and last is not target:
                last.flush()
            target.write(data)
            last = target
        if last is not None:
            last.flush()


def _describe(doc: dict[str, Any]) -> tuple[str, bool, str | None]:
    """(id, TTY, log driver) of an inspect document."""
    config = doc.get("Config") or {}
    log_config = (doc.get("HostConfig") or {}).get("LogConfig") or {}
    driver = log_config.get("Type")
    return str(doc.get("Id", "")), bool(config.get("Tty")), driver if driver else None


async def _from_agent(link: Link, ident: str, query: LogsQuery, out: Output, err: Output) -> None:
    """Lines through the agent's route (NDJSON), each written to its stream."""
    params = [*query.params().items(), ("format", "json")]
    path = f"/api/v1/containers/{quote(ident, safe='')}/logs"
    count = 0
    try:
        async for raw in link.lines(path, params):
            doc = json.loads(raw)
            if "error" in doc:
                raise WatchdogError(f"docker: {doc.get('detail') or doc['error']}")
            text = doc["line"] + "\n"
            if query.timestamps and doc.get("time"):
                text = f"{doc['time']} {text}"
            target = err if doc.get("stream") == STDERR else out
            target.write(text.encode())
            target.flush()
            count += 1
    except AgentError as exc:
        if exc.status == 404:
            raise NotFound(ident, exc.error) from exc
        if exc.status == 502 and "does not support reading" in str(exc.detail):
            raise NoLogs(ident, None) from exc
        raise
    if not query.follow and query.tail == "all" and count >= AGENT_MAX_TAIL:
        agentlink.note_stderr(f"the agent sends at most the last {AGENT_MAX_TAIL} lines; "
                              "read Docker directly for more")  # fmt: skip
