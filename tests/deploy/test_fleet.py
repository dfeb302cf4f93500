"""Many hosts through one Prometheus: every dashboard query answers for each host, and
each shipped alert fires on its real cause.

One fleet for the whole module (tests/helpers/fleet.py): three private engines with an
agent each and one real Prometheus on the shipped prometheus.yml and alerts.yml (scrape
and evaluation every second, ``for:`` 0; alerts_test.yml proves the real ``for:``
timings), the workload on every host. Host 1's data root is a small tmpfs a test fills.

The tests run in file order (pytest keeps a module's order) and this module relies on it:
first the checks that need every host up, then the destructive ones, last: host 3's agent
stopped, host 2's engine stopped, then started again (its event buffer is then empty, so
its agent records an event gap). Nothing is restarted after them; the very last test
reads host 1 only, which they leave alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.dashqueries import unanswered
from helpers.dockercli import IMAGE, TEST_LABEL
from helpers.fleet import (
    BUSY,
    BUSY_CPUS,
    EXIT3,
    NEAR_LIMIT,
    NEAR_LIMIT_BYTES,
    OOM,
    PROJECT,
    RESTARTING,
    RESYNC_SECONDS,
    Fleet,
    FleetHost,
    Prometheus,
    fleet,
    start_workload,
)

pytestmark = pytest.mark.engine

DATA_ROOT_MIB = 256  # host 1's data root: a tmpfs this small, filled by a test
ALERT_TIMEOUT = 90.0  # seconds for an alert to fire once its cause exists


@pytest.fixture(scope="module")
def loaded_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The fleet, with the workload on every host, once every agent has been scraped."""
    with fleet(tmp_path_factory.mktemp("fleet"), 3, data_root_tmpfs={0: DATA_ROOT_MIB}) as f:
        for host in f.hosts:
            start_workload(host)
        f.prometheus.wait_for('count(up{job="watchdog-agent"} == 1) == 3', "3 agents up", 60)
        yield f


def wait_alert(prom: Prometheus, alert: str, host: FleetHost) -> list[dict[str, Any]]:
    """Wait (bounded) until ``alert`` fires on ``host``; its alerts firing there then."""
    deadline = time.monotonic() + ALERT_TIMEOUT
    while True:
        found = [
            a
            for a in prom.firing()
            if a["labels"]["alertname"] == alert and a["labels"].get("instance") == host.instance
        ]
        if found:
            return found
        if time.monotonic() > deadline:
            now = sorted(
                (a["labels"]["alertname"], a["labels"].get("instance")) for a in prom.firing()
            )
            pytest.fail(f"{alert} did not fire on {host.name} in {ALERT_TIMEOUT} s; firing: {now}")
        time.sleep(0.5)


def firing_on(prom: Prometheus, alert: str) -> set[str]:
    """The instances ``alert`` fires on now."""
    return {
        a["labels"].get("instance", "") for a in prom.firing() if a["labels"]["alertname"] == alert
    }


def names(alerts: list[dict[str, Any]]) -> set[str]:
    return {a["labels"].get("name", "") for a in alerts}


def value(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_every_dashboard_query_answers_for_every_host(loaded_fleet: Fleet) -> None:
    """Every query of both dashboards (panels, template variables, annotations), with
    ``$instance`` set to each host in turn and the other variables to All, returns data
    from that host through the shipped scrape config; the event-driven ones (OOM kills,
    exit codes, restarts, starts) too, since the workload made their events. Checked
    first, before anything is stopped; rates need a few scrapes, hence the retries."""
    instances = [host.instance for host in loaded_fleet.hosts]
    deadline = time.monotonic() + 60
    missing = unanswered(loaded_fleet.prometheus.query, instances)
    while missing and time.monotonic() < deadline:
        time.sleep(2)
        missing = unanswered(loaded_fleet.prometheus.query, instances)
    assert missing == [], "queries without data:\n" + "\n".join(missing)


def test_every_host_is_scraped_with_its_containers(loaded_fleet: Fleet) -> None:
    """Each agent is up and its containers' series reach Prometheus under its instance,
    with the right numbers: the --cpus 0.2 loop's CPU rate is what the kernel counted for
    it over the same 12 s (at most its quota; a loaded machine may give it less), the
    memory holder holds about 37 MiB of its 40 MiB, the compose labels are on
    watchdog_container_info."""
    prom, hosts = loaded_fleet.prometheus, loaded_fleet.hosts
    before = [(h.cpu_seconds(BUSY), time.time()) for h in hosts]
    time.sleep(12)
    after = [(h.cpu_seconds(BUSY), time.time()) for h in hosts]
    for host, (k0, t0), (k1, t1) in zip(hosts, before, after, strict=True):
        sel = f'job="watchdog-agent",instance="{host.instance}"'
        assert value(prom.query(f"up{{{sel}}}")) == 1
        busy = f'{sel},name="{BUSY}"'
        window = f"{round(t1 - t0)}s"
        rate = f'rate(container_cpu_usage_seconds_total{{{busy},cpu="total"}}[{window}])'
        cpu, kernel = value(prom.query(rate, at=t1)), (k1 - k0) / (t1 - t0)
        assert kernel <= BUSY_CPUS * 1.05, (host.name, kernel)
        assert cpu == pytest.approx(kernel, rel=0.2, abs=0.01), (host.name, cpu, kernel)
        quota = value(prom.query(f"container_spec_cpu_quota{{{busy}}}"))
        period = value(prom.query(f"container_spec_cpu_period{{{busy}}}"))
        assert quota / period == pytest.approx(BUSY_CPUS)
        near = f'{sel},name="{NEAR_LIMIT}"'
        limit = value(prom.query(f"container_spec_memory_limit_bytes{{{near}}}"))
        assert limit == NEAR_LIMIT_BYTES
        used = value(prom.query(f"container_memory_working_set_bytes{{{near}}}"))
        assert 36 * 2**20 < used < limit, (host.name, used)
        project = f'label_com_docker_compose_project="{PROJECT}"'
        info = prom.query(f"watchdog_container_info{{{sel},{project}}}")
        services = {
            r["metric"]["name"]: r["metric"]["label_com_docker_compose_service"] for r in info
        }
        assert services == {BUSY: "web", NEAR_LIMIT: "cache"}, host.name
        ids = {r["metric"]["id"] for r in prom.query(f"watchdog_container_state{{{sel}}}")}
        out = host.docker("ps", "-aq", "--no-trunc").stdout.split()
        assert ids == {f"/docker/{i}" for i in out}, host.name  # each host its own containers
        states = prom.query(f'watchdog_container_state{{{sel},state="exited"}} == 1')
        assert {r["metric"]["name"] for r in states} == {EXIT3, OOM}, host.name


def test_block_io_is_counted_on_every_host(loaded_fleet: Fleet) -> None:
    """The busy loop's fsync'd writes (to a disk-backed bind mount: host 1's data root is
    a tmpfs) show on every host."""
    prom = loaded_fleet.prometheus
    for host in loaded_fleet.hosts:
        expr = (f'rate(container_fs_writes_bytes_total{{instance="{host.instance}",'
                f'name="{BUSY}"}}[20s]) > 0')  # fmt: skip
        prom.wait_for(expr, f"the busy loop's block writes on {host.name}", 60)


def test_oom_kill_fires(loaded_fleet: Fleet) -> None:
    for host in loaded_fleet.hosts:
        alerts = wait_alert(loaded_fleet.prometheus, "ContainerOOMKilled", host)
        assert names(alerts) == {OOM}, host.name
        assert alerts[0]["labels"]["severity"] == "warning"
        assert alerts[0]["annotations"]["summary"] == (
            f"Container {OOM} on {host.instance} was OOM-killed"
        )


def test_restart_loop_fires(loaded_fleet: Fleet) -> None:
    for host in loaded_fleet.hosts:
        alerts = wait_alert(loaded_fleet.prometheus, "ContainerRestartLoop", host)
        assert names(alerts) == {RESTARTING}, host.name
        assert float(alerts[0]["value"]) >= 3


def test_cpu_throttling_fires(loaded_fleet: Fleet) -> None:
    for host in loaded_fleet.hosts:
        alerts = wait_alert(loaded_fleet.prometheus, "ContainerCPUThrottled", host)
        assert names(alerts) == {BUSY}, host.name
        assert float(alerts[0]["value"]) > 0.25  # the share of throttled periods


def test_memory_near_limit_fires(loaded_fleet: Fleet) -> None:
    for host in loaded_fleet.hosts:
        alerts = wait_alert(loaded_fleet.prometheus, "ContainerMemoryNearLimit", host)
        assert names(alerts) == {NEAR_LIMIT}, host.name
        assert 0.9 < float(alerts[0]["value"]) < 1


def test_non_zero_exit_fires(loaded_fleet: Fleet) -> None:
    """Exit code 3 fires; the OOM kill's 137 has its own alert and does not (and still
    does not after the agent's inventory resync: the module's last test)."""
    for host in loaded_fleet.hosts:
        alerts = wait_alert(loaded_fleet.prometheus, "ContainerExitedNonZero", host)
        assert names(alerts) == {EXIT3}, host.name
        assert float(alerts[0]["value"]) == 3
        assert alerts[0]["annotations"]["summary"].endswith("exited with code 3")


def test_data_root_filling_up_fires(loaded_fleet: Fleet) -> None:
    """Host 1's data root (a tmpfs) filled from the host: both data-root alerts fire
    there, which did not before. The agent measures the data root with Docker's /info, which
    container events make it read again: a short container a second until they fire."""
    host, prom = loaded_fleet.hosts[0], loaded_fleet.prometheus
    root = host.engine.root / "data"
    fill = root / "fill"
    st = os.statvfs(root)
    size, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    assert size <= DATA_ROOT_MIB * 2**20, "host 1's data root should be its small tmpfs"
    free_bytes = f'watchdog_docker_data_root_free_bytes{{instance="{host.instance}"}}'
    prom.wait_for(f"{free_bytes} > {size * 0.5}", "host 1's data root measured, mostly free", 30)
    assert host.instance not in firing_on(prom, "DockerDataRootFillingUp")
    assert host.instance not in firing_on(prom, "DockerDataRootAlmostFull")
    try:
        with open(fill, "wb") as f:
            chunk = b"\0" * 2**20
            for _ in range(int(free - size * 0.02) // 2**20):
                f.write(chunk)
        for _ in range(int(ALERT_TIMEOUT)):
            if {"DockerDataRootFillingUp", "DockerDataRootAlmostFull"} <= {
                a["labels"]["alertname"] for a in prom.firing()
                if a["labels"].get("instance") == host.instance
            }:  # fmt: skip
                break
            host.docker("run", "--rm", "--network", "none", "--label", TEST_LABEL,
                        IMAGE, "true", check=False)  # fmt: skip
            time.sleep(1)
        predictive = wait_alert(prom, "DockerDataRootFillingUp", host)
        full = wait_alert(prom, "DockerDataRootAlmostFull", host)
        assert float(full[0]["value"]) < 0.05
        assert float(predictive[0]["value"]) < 0.05  # the free share it fires with
        # hosts 2 and 3 have their data roots on this machine's disk: "filling up" may
        # rightly fire there too (under 40 % free and shrinking while tests write), but
        # "almost full" (under 5 %) would mean a machine unfit to run the tests
        others = {h.instance for h in loaded_fleet.hosts[1:]}
        assert not others & firing_on(prom, "DockerDataRootAlmostFull")
    finally:
        fill.unlink(missing_ok=True)


# --- destructive: nothing is restarted after these ---------------------------------------


def test_agent_down_fires(loaded_fleet: Fleet) -> None:
    host, prom = loaded_fleet.hosts[2], loaded_fleet.prometheus
    host.stop_agent()
    alerts = wait_alert(prom, "WatchdogAgentDown", host)
    assert alerts[0]["labels"]["severity"] == "critical"
    assert value(prom.query(f'up{{instance="{host.instance}"}}')) == 0
    assert firing_on(prom, "WatchdogAgentDown") == {host.instance}
    assert not firing_on(prom, "WatchdogAgentsMissing")


def test_docker_down_fires(loaded_fleet: Fleet) -> None:
    """Host 2's engine stopped: its agent stays up and says Docker does not answer."""
    host, prom = loaded_fleet.hosts[1], loaded_fleet.prometheus
    host.engine.stop()
    wait_alert(prom, "DockerDown", host)
    assert value(prom.query(f'up{{instance="{host.instance}"}}')) == 1
    assert firing_on(prom, "DockerDown") == {host.instance}


def test_event_gap_fires_after_the_engine_comes_back(loaded_fleet: Fleet) -> None:
    """Host 2's engine started again has an empty event buffer: its agent cannot prove
    it missed nothing while Docker was down, and counts a gap."""
    host, prom = loaded_fleet.hosts[1], loaded_fleet.prometheus
    assert host.engine.proc is not None and host.engine.proc.poll() is not None, "still down"
    assert not firing_on(prom, "WatchdogEventGap")
    host.engine.start()
    wait_alert(prom, "WatchdogEventGap", host)
    prom.wait_for(f'watchdog_docker_up{{instance="{host.instance}"}} == 1', "Docker back up", 30)
    assert value(prom.query(f'watchdog_events_gaps_total{{instance="{host.instance}"}}')) >= 1
    assert firing_on(prom, "WatchdogEventGap") == {host.instance}


def test_the_oom_flag_outlives_the_inventory_resync(loaded_fleet: Fleet) -> None:
    """The agent's inventory resync (every RESYNC_SECONDS from its start) once dropped a
    stopped container's OOM flag, and its exit code 137 then fired ContainerExitedNonZero:
    on host 1 (untouched by the tests before), once two resyncs have passed, the flag must
    be there and have been at every scrape across them (the OOM kill came earlier), and
    the exit alert must still name only the exit-3 container. Last in the module, so
    its own run time covers most of the wait."""
    host, prom = loaded_fleet.hosts[0], loaded_fleet.prometheus
    time.sleep(max(0.0, host.agent_started + 2 * RESYNC_SECONDS + 5 - time.monotonic()))
    flag = f'watchdog_container_oom_killed{{instance="{host.instance}",name="{OOM}"}}'
    window = int(2 * RESYNC_SECONDS)  # two resyncs, scraped every second
    prom.wait_for(f"count_over_time({flag}[{window}s]) >= {window - 5} and {flag} == 1",
                  f"{OOM} on {host.name} flagged OOM-killed across the resync", 30)  # fmt: skip
    assert names(wait_alert(prom, "ContainerExitedNonZero", host)) == {EXIT3}
