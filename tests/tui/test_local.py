"""No agent answers: dstats runs the real agent in-process on a private unix socket."""

from __future__ import annotations

import os
import stat

import pytest
from helpers import dstats as shared
from helpers.dstats import Workload

from watchdog_agent.tui.fleet import AgentFleet
from watchdog_agent.tui.local import local_settings, start_local
from watchdog_agent.tui.view import FleetView, LinkState

pytestmark = pytest.mark.engine
workload = shared.workload  # the module fixture


async def test_local_mode_shows_the_engines_containers(
    docker_host: str, workload: Workload
) -> None:
    env = {"DOCKER_HOST": docker_host, "WATCHDOG_INTERVAL": "0.5",
           # credentials meant for a served agent never apply to the private socket
           "WATCHDOG_AUTH_TOKEN_FILE": "/nonexistent/tokens"}  # fmt: skip
    settings = local_settings(env)
    assert settings.journal is None and settings.auth_token_file is None
    local = await start_local(settings)
    directory = local.directory
    assert directory is not None
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(local.socket).st_mode)
    fleet = AgentFleet([local.source("http://127.0.0.1:9")], owned=[local.stop])
    try:

        def ready(view: FleetView) -> bool:
            rows = {r.name: r for r in view.hosts[0].rows.values()}
            busy = rows.get(workload.busy)
            return busy is not None and busy.cpu_percent is not None

        view = await fleet.until(ready, 30)
        h = view.hosts[0]
        assert h.key == "local" and h.link == LinkState.LOCAL
        assert h.detail is not None and "no agent answered at http://127.0.0.1:9" in h.detail
        assert "in-process" in h.detail
        assert h.name == os.uname().nodename
        names = {r.name for r in h.rows.values()}
        assert {workload.busy, workload.idle, workload.dead} <= names
        busy = next(r for r in h.rows.values() if r.name == workload.busy)
        assert busy.cpu_limit == 0.5 and busy.cpu_percent is not None and busy.cpu_percent > 5
        roots = await fleet.top("local", busy.id)
        assert roots and "while" in roots[0].cmd
    finally:
        await fleet.close()
    assert not os.path.exists(directory)  # stopped and cleaned up
