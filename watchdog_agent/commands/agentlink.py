"""Using a running agent from the one-shot commands: where to look, whether to trust what
answers there, and a light HTTP client to it.

Where: ``--agent URL``, else ``$WATCHDOG_AGENT_URL``, else http://127.0.0.1:9338; the
word ``none`` means never. Whether: an agent found by default (not named with ``--agent``)
is used only when it watches the same Docker engine as the command would read: the
daemon's ``ID`` and ``DockerRootDir`` from Docker's ``GET /info`` against ``docker.id``
and ``docker.root_dir`` of the agent's ``GET /api/v1/info`` (Docker 20.10's ID is the
host's trust key, the same for every engine on the host, and the data root tells them
apart; from Docker 23 the ID alone is per engine). When the answer is not the obvious
one (the agent watches another engine; Docker does not answer and the agent is the only
source) a note on stderr says which source answered.

The client speaks HTTP/1.0 over asyncio streams, one connection per request (the agent
then ends each response by closing it, streams included), so that a probe costs no
aiohttp import (0.2-0.4 s here, more than a one-shot command's whole budget).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from watchdog_agent.config import AGENT_URL_ENV, DEFAULT_AGENT_URL
from watchdog_agent.docker.engine import EngineAPI, decode_json
from watchdog_agent.docker.lite import LiteDockerClient, parse_response
from watchdog_agent.errors import DockerError, DockerUnavailable, UsageError, WatchdogError
from watchdog_agent.termsafe import escape

DEFAULT_URL = DEFAULT_AGENT_URL
URL_ENV = AGENT_URL_ENV
CONNECT_TIMEOUT = 0.5  # seconds: an agent on this host answers a connect at once
PROBE_TIMEOUT = 3.0  # seconds for a whole probe (the agent's /info, Docker's /info)
MAX_HEAD = 64 * 1024
MAX_LINE = 16 * 1024 * 1024  # a streamed line longer than this is not the agent's output
MAX_BODY = 64 * 1024 * 1024

Params = Sequence[tuple[str, str]]
Note = Callable[[str], None]


def note_stderr(text: str) -> None:
    """A note on stderr, escaped: it may quote an agent's or Docker's reply."""
    print(f"watchdog-agent: {escape(text)}", file=sys.stderr, flush=True)


# -- options -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentOptions:
    url: str | None  # None: never use an agent
    token: str | None = None
    explicit: bool = False  # named with --agent: used without the engine check


def add_arguments(parser: argparse.ArgumentParser, use: str, fallback_only: bool = False) -> None:
    """``--agent`` and ``--agent-token-file``; ``use`` says what the agent is used for;
    ``fallback_only``: without the flag, an agent is asked only when Docker does not answer."""
    when = (
        "only when Docker does not answer" if fallback_only
        else "only when it watches the same Docker engine"
    )  # fmt: skip
    parser.add_argument(
        "--agent", metavar="URL",
        help=f"{use}; without it, the agent at ${URL_ENV} or {DEFAULT_URL}, {when} "
        "('none': never)",
    )  # fmt: skip
    parser.add_argument("--agent-token-file", metavar="PATH",
                        help="bearer token for that agent (first line of the file)")  # fmt: skip


def options_from(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> AgentOptions:
    env = os.environ if env is None else env
    explicit = bool(args.agent)
    url = args.agent or env.get(URL_ENV) or DEFAULT_URL
    if url.strip().lower() == "none":
        return AgentOptions(None)
    return AgentOptions(url.strip(), read_token(args.agent_token_file), explicit)


def read_token(path: str | None) -> str | None:
    """The first line of the token file (None without a file)."""
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip() or None
    except OSError as exc:
        raise UsageError(f"cannot read the token file {path}: {exc.strerror}") from exc


# -- errors ------------------------------------------------------------------------------


class AgentUnavailable(WatchdogError):
    """Nothing (or nothing that speaks HTTP) answers at the agent's address."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"no agent at {url}: {reason}")
        self.url = url
        self.reason = reason


class AgentError(WatchdogError):
    """The agent answered with an error status (``{"error", "detail"}``)."""

    def __init__(self, url: str, status: int, error: str, detail: Any) -> None:
        text = detail if isinstance(detail, str) else json.dumps(detail) if detail else ""
        message = f"the agent at {url} answered {status} {error}"
        super().__init__(f"{message}: {text}" if text else message)
        self.status = status
        self.error = error
        self.detail = detail


# -- the client --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """A running agent: its base URL, token and (once probed) its ``/api/v1/info``."""

    url: str
    token: str | None = None
    info: Mapping[str, Any] | None = None

    @property
    def engine(self) -> Engine | None:
        """The engine the agent watches (None: none, or an agent too old to say)."""
        docker = (self.info or {}).get("docker")
        if not isinstance(docker, dict) or not docker.get("id"):
            return None
        return Engine(str(docker["id"]), _str_or_none(docker.get("root_dir")))

    async def get_json(self, path: str, params: Params = ()) -> Any:
        """GET a JSON document; AgentError on an error status."""
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                status, body = await self._whole(path, params)
        except TimeoutError as exc:
            raise AgentUnavailable(self.url, f"timed out on GET {path}") from exc
        if status >= 400:
            raise self._error(status, body)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise AgentUnavailable(self.url, f"GET {path}: not JSON ({exc})") from exc

    async def lines(self, path: str, params: Params = ()) -> AsyncIterator[bytes]:
        """A streamed response line by line (no read timeout: streams may idle); blank
        lines (keep-alive ticks) skipped. AgentError on an error status."""
        reader, writer, status, headers = await self._open(path, params)
        try:
            if status >= 400:
                raise self._error(status, await _body(reader, headers))
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    line = exc.partial
                except (asyncio.LimitOverrunError, ValueError) as exc:
                    raise AgentUnavailable(self.url, f"GET {path}: line too long") from exc
                except OSError as exc:
                    raise AgentUnavailable(self.url, f"GET {path}: {exc}") from exc
                if line.strip():
                    yield line
                if not line.endswith(b"\n"):
                    return
        finally:
            writer.close()

    async def _whole(self, path: str, params: Params) -> tuple[int, bytes]:
        reader, writer, status, headers = await self._open(path, params)
        try:
            return status, await _body(reader, headers)
        except OSError as exc:
            raise AgentUnavailable(self.url, f"GET {path}: {exc}") from exc
        finally:
            writer.close()

    async def _open(
        self, path: str, params: Params
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int, dict[str, str]]:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"bad agent URL {self.url!r}: expected http://HOST:PORT")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise UsageError(f"bad agent URL {self.url!r}: {exc}") from exc
        target = parts.path.rstrip("/") + path + ("?" + urlencode(params) if params else "")
        head = [f"GET {target} HTTP/1.0", f"Host: {parts.netloc}", "Connection: close"]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        tls = None
        if parts.scheme == "https":
            import ssl  # only here: building a context costs what the probe must not

            tls = ssl.create_default_context()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT if tls is None else PROBE_TIMEOUT):
                reader, writer = await asyncio.open_connection(
                    parts.hostname, port, ssl=tls, limit=MAX_LINE
                )
        except (OSError, TimeoutError) as exc:
            raise AgentUnavailable(self.url, str(exc) or "timed out") from exc
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            raw = await reader.readuntil(b"\r\n\r\n")
            status, _, headers, _ = parse_response(raw, path)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            writer.close()
            raise AgentUnavailable(self.url, f"GET {path}: no HTTP answer") from exc
        except BaseException:
            writer.close()
            raise
        return reader, writer, status, dict(headers)

    def _error(self, status: int, body: bytes) -> AgentError:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("error"), str):
            return AgentError(self.url, status, doc["error"], doc.get("detail"))
        return AgentError(self.url, status, "error", body.decode("utf-8", "replace")[:200])


async def _body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) <= MAX_BODY:
        return await reader.readexactly(int(length))
    return await reader.read(MAX_BODY)


# -- which source answers ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Engine:
    """Which Docker engine: its ``ID`` and data root (``DockerRootDir``)."""

    id: str
    root_dir: str | None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


async def engine_of(docker_host: str) -> Engine:
    """The engine at ``docker_host`` (``GET /info``); DockerUnavailable or DockerError
    when Docker does not answer, within PROBE_TIMEOUT."""
    client: EngineAPI = LiteDockerClient(docker_host)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            body = (await client.request("GET", "/info", versioned=False))[3]
    except TimeoutError as exc:
        raise DockerUnavailable(client.host, "timed out on GET /info") from exc
    doc = decode_json(body, "/info")
    if not isinstance(doc, dict):
        doc = {}
    return Engine(str(doc.get("ID") or ""), _str_or_none(doc.get("DockerRootDir")))


async def probe(options: AgentOptions) -> Link | None:
    """The agent at ``options.url`` with its info, or None when nothing answers there.
    AgentError when it answers with an error (e.g. 401 without a token)."""
    if options.url is None:
        return None
    link = Link(options.url, options.token)
    try:
        info = await link.get_json("/api/v1/info")
    except AgentUnavailable:
        return None
    return Link(options.url, options.token, info if isinstance(info, dict) else {})


async def choose(
    docker_host: str, options: AgentOptions, note: Note = note_stderr, instead: str | None = None
) -> Link | None:
    """The agent to read from, or None to read Docker (at ``docker_host``) directly.

    An agent named with ``--agent`` is used whenever it answers (noted when it watches
    another engine than ``docker_host``). One found by default is used when it watches
    the engine at ``docker_host``, or when Docker does not answer (it is then the only
    source). Each answer that is not the obvious one is noted;
    ``instead`` says what the caller reads when it is not the agent.
    """
    if options.url is None:
        return None
    instead = instead or f"reading Docker at {docker_host}"
    # both asked at once; Docker's /info (tens of ms) is not waited for when no agent
    # answers: the common case of a one-shot command on a host without an agent
    docker_info = asyncio.create_task(engine_of(docker_host))
    agent: Link | None = None
    try:
        agent = await probe(options)
    except AgentError as exc:
        note(f"{exc}; {instead}")
    finally:
        if agent is None:
            docker_info.cancel()
        docker, *_ = await asyncio.gather(docker_info, return_exceptions=True)
    if agent is None:
        return None
    if isinstance(docker, DockerUnavailable | DockerError):
        if options.explicit:  # named, and nothing to compare it with: no surprise to note
            return agent
        reason = docker.reason if isinstance(docker, DockerUnavailable) else docker.message
        note(f"no Docker engine answers at {docker_host} ({reason}); "
             f"the agent at {agent.url} answers instead")  # fmt: skip
        return agent
    if isinstance(docker, BaseException):
        raise docker
    if agent.engine == docker:
        return agent
    watches = _watches(agent)
    if options.explicit:
        note(f"the agent at {agent.url} watches {watches}, not the one at {docker_host}; "
             "using it as --agent asks")  # fmt: skip
        return agent
    note(f"the agent at {agent.url} watches {watches}; {instead}")
    return None


async def fallback(
    error: DockerUnavailable, options: AgentOptions, note: Note = note_stderr
) -> Link:
    """For commands that read Docker first: the agent when Docker does not answer, or
    ``error`` again when no agent answers either."""
    try:
        agent = await probe(options)
    except AgentError as exc:
        note(str(exc))
        raise error from None
    if agent is None:
        raise error
    note(f"no Docker engine answers at {error.address} ({error.reason}); "
         f"reading through the agent at {agent.url}")  # fmt: skip
    return agent


def _watches(agent: Link) -> str:
    docker = (agent.info or {}).get("docker")
    if not isinstance(docker, dict):
        return "no Docker engine"
    if not docker.get("id"):
        return "an engine it does not name (an older agent)"
    return f"another engine (ID {str(docker['id'])[:14]}, data root {docker.get('root_dir')})"
