"""``dstats``: the command line. Parses the flags, builds the Fleet (the agents named with
``--agent``, else the default agent, else the collectors in-process) and runs either
``--once`` or the Textual app (``tui.app.DstatsApp``, imported only then).

Which source, without ``--agent``: the agent at ``$WATCHDOG_AGENT_URL``, else
http://127.0.0.1:9338 (as the other commands look for it, commands/agentlink.py). When
nothing answers there (or what answers is not an agent), the agent's collectors run
inside dstats (tui/local.py) and the header says so; ``WATCHDOG_AGENT_URL=none`` goes
there at once. An agent named with ``--agent`` is never replaced: when it does not
answer, its host shows as retrying.

Bad input (a flag, a URL, an unreadable credential file, a bad filter or sort column)
is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from watchdog_agent import __version__
from watchdog_agent.config import AGENT_URL_ENV as URL_ENV
from watchdog_agent.config import DEFAULT_AGENT_URL as DEFAULT_URL
from watchdog_agent.errors import UsageError, WatchdogError
from watchdog_agent.termsafe import escape
from watchdog_agent.tui.client import (
    AgentClient,
    AgentDown,
    BadAnswer,
    Credentials,
    check_url,
    first_line,
    tls_context,
)
from watchdog_agent.tui.columns import sort_column
from watchdog_agent.tui.fleet import AgentFleet, sources_for
from watchdog_agent.tui.options import ViewOptions
from watchdog_agent.tui.rowfilter import from_terms

PROBE_TIMEOUT = 3.0  # seconds the default agent has to answer before dstats samples itself
USAGE_EXIT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not argparse's usage block."""
        self.exit(USAGE_EXIT, f"dstats: {message} (see dstats --help)\n")


def build_parser() -> Parser:
    p = Parser(
        prog="dstats",
        description="Live resource use of Docker containers, on one host or a fleet "
        "(a top-like view over watchdog-agent).",
    )
    p.add_argument(
        "--agent", metavar="URL", action="append", default=[],
        help=f"an agent to show (repeatable: one view of several hosts); default: "
        f"${URL_ENV} or {DEFAULT_URL}, else the collectors run inside dstats",
    )  # fmt: skip
    p.add_argument("--agent-token-file", metavar="PATH",
                   help="bearer token for the agents (first line of the file)")  # fmt: skip
    p.add_argument("--agent-user", metavar="USER", help="basic-auth user for the agents")
    p.add_argument("--agent-password-file", metavar="PATH",
                   help="basic-auth password (first line of the file)")  # fmt: skip
    p.add_argument("--agent-ca", metavar="PATH",
                   help="CA bundle (PEM) to trust for https agents")  # fmt: skip
    p.add_argument("--agent-cert", metavar="PATH",
                   help="client certificate (PEM) for agents run with --tls-client-ca")  # fmt: skip
    p.add_argument("--agent-key", metavar="PATH",
                   help="the certificate's key (default: in the certificate file)")  # fmt: skip
    p.add_argument("--once", action="store_true",
                   help="print one snapshot and exit (for scripts and CI)")  # fmt: skip
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="with --once: a table (default) or a JSON list of rows")  # fmt: skip
    p.add_argument("-a", "--all", action="store_true",
                   help="show stopped containers too (with their exit codes)")  # fmt: skip
    p.add_argument(
        "--filter", metavar="FILTER", action="append", default=[],
        help="KEY=VALUE as docker ps --filter (id, name, label, status, ancestor, exited), "
        "or text matched in the name or image (repeatable: all must match)",
    )  # fmt: skip
    p.add_argument("--sort", metavar="COLUMN",
                   help="sort column: name, cpu, mem, mem%%, net, block, pids, psi, "
                   "throttled, restarts, uptime, state, image, id, host")  # fmt: skip
    p.add_argument("-r", "--reverse", action="store_true", help="reverse the sort order")
    p.add_argument("--version", action="version", version=f"dstats (watchdog-agent) {__version__}")
    return p


def credentials(args: argparse.Namespace) -> Credentials:
    if args.agent_token_file and (args.agent_user or args.agent_password_file):
        raise UsageError("--agent-token-file and --agent-user are alternatives: give one")
    if bool(args.agent_user) != bool(args.agent_password_file):
        raise UsageError("--agent-user and --agent-password-file go together")
    if args.agent_key and not args.agent_cert:
        raise UsageError("--agent-key needs --agent-cert")
    creds = Credentials(
        token=first_line(args.agent_token_file, "token") if args.agent_token_file else None,
        user=args.agent_user,
        password=first_line(args.agent_password_file, "password")
        if args.agent_password_file
        else None,
        ca_file=args.agent_ca,
        cert_file=args.agent_cert,
        key_file=args.agent_key,
    )
    if creds.ca_file or creds.cert_file:
        tls_context(creds)  # a bad CA, certificate or key is a usage error now, not later
    return creds


def view_options(args: argparse.Namespace) -> ViewOptions:
    filters = tuple(args.filter)
    from_terms(filters)  # UsageError now for a bad KEY=VALUE (as the app's own filter)
    sort = None if args.sort is None else sort_column(args.sort).key
    return ViewOptions(all=args.all, filters=filters, sort=sort, reverse=args.reverse)


def default_url(env: Mapping[str, str]) -> str | None:
    """The agent to try without ``--agent`` (None: ``none``, never an agent)."""
    url = (env.get(URL_ENV) or DEFAULT_URL).strip()
    return None if url.lower() == "none" else url


async def answers(url: str, creds: Credentials) -> bool:
    """Whether an agent answers at ``url`` (any answer of the agent's API, a refusal of
    the credentials included: the view then says so)."""
    client = AgentClient(url, creds)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await client.get_json("/api/v1/info")
    except (AgentDown, BadAnswer, TimeoutError):
        return False
    except Exception:  # an error status: an agent answered
        return True
    finally:
        await client.close()
    return True


async def _main(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    # SIGTERM and SIGHUP (a closed terminal) end dstats as Ctrl-C does: through the
    # finally below, so the fleet and the in-process agent (its directory) are cleaned up
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    creds = credentials(args)
    options = view_options(args)
    urls = [check_url(u) for u in args.agent]
    if len(set(urls)) != len(urls):
        raise UsageError("each --agent may be given once")
    local = None
    if urls:
        fleet = AgentFleet(sources_for(args.agent, creds))
    else:
        url = default_url(env)
        if url is not None:
            check_url(url)
        if url is not None and await answers(url, creds):
            fleet = AgentFleet(sources_for([url], creds))
        else:
            from watchdog_agent.tui.local import start_local

            local = await start_local()
            fleet = AgentFleet([local.source(url or f"{URL_ENV}=none")], owned=[local.stop])
    try:
        if args.once:
            from watchdog_agent.tui.once import run_once

            return await run_once(fleet, options, args.format)
        # the connections open and the first snapshots decode (on the fleet's data
        # thread, the agent building its document meanwhile) while Textual loads
        fleet.start()
        from watchdog_agent.tui.app import DstatsApp

        app = DstatsApp(fleet, options)
        await app.run_async()
        return int(getattr(app, "return_code", 0) or 0)
    finally:
        await fleet.close()


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_main(args, os.environ if env is None else env))
    except UsageError as exc:
        print(f"dstats: {escape(str(exc))}", file=sys.stderr)
        return USAGE_EXIT
    except WatchdogError as exc:
        print(f"dstats: {escape(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except asyncio.CancelledError:  # SIGTERM or SIGHUP, after the clean-up
        return 143
