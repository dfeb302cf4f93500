"""`watchdog-agent serve`: run the agent's HTTP server until SIGTERM or SIGINT.

Shutdown order (aiohttp's runner): stop listening, end every open stream, wait for
handlers (at most SHUTDOWN_GRACE), then the agent's contexts in reverse: sampler, events
tap (what it queued goes to the journal), journal closed, Docker client closed.
"""

from __future__ import annotations

import asyncio
import signal

from watchdog_agent.agent.malloctune import tune_allocator
from watchdog_agent.config import Settings, is_loopback
from watchdog_agent.errors import UsageError
from watchdog_agent.logsetup import get_logger
from watchdog_agent.server.app import create_app
from watchdog_agent.server.connections import BACKLOG, GuardedSite, guarded_runner
from watchdog_agent.server.tls import server_context

log = get_logger("watchdog_agent.serve")

SHUTDOWN_GRACE = 5.0  # seconds handlers get to finish once streams are told to end


def warn_if_exposed(settings: Settings) -> bool:
    """Loopback is served as it is; a non-loopback listen without auth, or with auth but
    without TLS (credentials in clear text), gets one loud warning. True when warned."""
    host, _ = settings.listen_address
    if is_loopback(host):
        return False
    no_tls = "" if settings.tls_enabled else " AND WITHOUT TLS"
    if not settings.auth_enabled:
        log.warning(
            f"LISTENING ON A NON-LOOPBACK ADDRESS WITHOUT AUTHENTICATION{no_tls}: anyone who "
            "can reach it can read container stats, processes, logs and events; set "
            "--auth-token-file or --basic-auth-file"
            + ("" if settings.tls_enabled else ", and --tls-cert/--tls-key"),
            listen=settings.listen,
        )
        return True
    if not settings.tls_enabled:
        log.warning(
            "LISTENING ON A NON-LOOPBACK ADDRESS WITHOUT TLS: tokens and passwords cross "
            "the network in clear text; set --tls-cert and --tls-key",
            listen=settings.listen,
        )
        return True
    return False


async def run_serve(settings: Settings) -> int:
    host, port = settings.listen_address
    ssl_context = server_context(settings)  # bad TLS files fail here, before anything runs
    tune_allocator()  # before any thread starts (malloctune.py: why)
    app = create_app(settings)  # so do bad credential files
    warn_if_exposed(settings)
    # deadlines, a connection cap, parse errors answered without echoing the request;
    # handler_cancellation: a client that goes away ends its handler at once
    runner = guarded_runner(
        app, settings, handle_signals=False, handler_cancellation=True,
        access_log=None, shutdown_timeout=SHUTDOWN_GRACE,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.setup()  # the agent's contexts start here
        site = GuardedSite(runner, host, port, ssl_context=ssl_context, backlog=BACKLOG)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {settings.listen}: {exc.strerror}") from exc
        bound = [f"{a[0]}:{a[1]}" for a in runner.addresses if isinstance(a, tuple)]
        log.info(
            "serving",
            listen=settings.listen,
            addresses=bound,
            tls=ssl_context is not None,
            client_certificates=settings.tls_client_ca is not None,
            auth=settings.auth_enabled,
            max_connections=runner.guard.max_connections,
        )
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    log.info("stopped")
    return 0
