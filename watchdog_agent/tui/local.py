"""The in-process agent: when no agent answers, dstats runs the agent's collectors itself,
the way ``docker stats`` works alone.

It is the real agent (``server.app.create_app``, the app ``serve`` runs: the same
sampler, inventory, host and daemon tasks), on a loop of its own thread, served on a
unix socket in a private directory (mode 0700, made with mkdtemp) and read through the
same client as any agent, so the view has one data path. No journal (events live in
memory), no auth and no TLS (the socket is reachable by this user only), and its log
goes to a file in that directory, never to the terminal the view draws on.
``LocalAgent.stop`` shuts it down and removes the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any, TextIO

from aiohttp import web

from watchdog_agent import logsetup
from watchdog_agent.config import Settings, load_settings
from watchdog_agent.errors import WatchdogError
from watchdog_agent.server.app import create_app
from watchdog_agent.tui.fleet import LOCAL_KEY, Source
from watchdog_agent.tui.loopthread import LoopThread
from watchdog_agent.tui.view import FleetError

LOCAL_URL = "http://localhost"  # the Host header's value; the socket is what connects
SOCKET = "agent.sock"
LOG = "agent.log"
START_TIMEOUT = 30.0  # seconds the agent's contexts may take to start (Docker's first list)
SHUTDOWN_GRACE = 2.0


def local_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The agent's settings from the environment (DOCKER_HOST, WATCHDOG_*), without a
    journal, credentials or TLS: nothing of them applies to a private socket."""
    settings = load_settings({"journal": "none"}, env=env)
    return dataclasses.replace(
        settings,
        journal=None,
        auth_token_file=None,
        basic_auth_file=None,
        tls_cert=None,
        tls_key=None,
        tls_client_ca=None,
    )


def local_detail(url: str) -> str:
    return f"no agent answered at {url}: sampling runs in-process (inside dstats)"


class LocalAgent:
    """The agent on its own thread and loop, served on a private unix socket."""

    def __init__(self, settings: Settings, log_level: str = "warning") -> None:
        self.settings = settings
        self.log_level = log_level
        self.directory: str | None = None
        self._thread = LoopThread("dstats-local-agent")
        self._runner: web.AppRunner | None = None
        self._log: TextIO | None = None
        self._logging: dict[str, Any] = {}

    @property
    def socket(self) -> str:
        assert self.directory is not None, "not started"
        return os.path.join(self.directory, SOCKET)

    def source(self, asked: str) -> Source:
        """The fleet's entry for it; ``asked``: the URL where no agent answered."""
        return Source(LOCAL_KEY, LOCAL_URL, None, self.socket, local_detail(asked))

    def start(self) -> None:
        """Start it (blocking until it listens); FleetError when it cannot start."""
        self.directory = tempfile.mkdtemp(prefix="dstats-")  # 0700: this user only
        self._log = open(os.path.join(self.directory, LOG), "a", encoding="utf-8")  # noqa: SIM115
        self._logging = logsetup.current()  # put back at stop
        logsetup.configure(self.log_level, json=True, stream=self._log)
        try:
            self._thread.submit(self._start()).result(START_TIMEOUT)
        except WatchdogError as exc:
            self.stop()
            raise FleetError(f"cannot run the collectors in-process: {exc}") from exc
        except Exception as exc:
            self.stop()
            raise FleetError(f"cannot run the collectors in-process: {exc!r}") from exc

    async def _start(self) -> None:
        app = create_app(self.settings)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE
        )
        self._runner = runner
        await runner.setup()  # the agent's contexts start here
        site = web.UnixSite(runner, self.socket)
        await site.start()
        os.chmod(self.socket, 0o600)

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def stop(self) -> None:
        """Shut the agent down (its contexts in reverse), end the thread, remove the
        directory (idempotent; from any thread but the agent's own)."""
        if self._runner is not None and self._thread.loop.is_running():
            # shutting down: whatever failed goes with the thread
            with contextlib.suppress(Exception):
                self._thread.submit(self._stop()).result(START_TIMEOUT)
        self._thread.stop()
        if self._log is not None:
            logsetup.restore(self._logging)  # nothing logs to the closed file
            self._log.close()
            self._log = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


async def start_local(settings: Settings | None = None) -> LocalAgent:
    """A started LocalAgent (started on a worker thread: it blocks until it listens).
    Cancelled meanwhile (SIGTERM), it lets the start finish, then stops the agent."""
    agent = LocalAgent(settings or local_settings())
    starting = asyncio.ensure_future(asyncio.to_thread(agent.start))
    try:
        await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await starting
        await asyncio.to_thread(agent.stop)
        raise
    return agent
