"""The header's text (tui/header.py): links, totals, gaps, the agent's own CPU."""

from __future__ import annotations

from dataclasses import replace

from tuifakes import NOW, fleet_of, host, row

from watchdog_agent.tui.header import AgentCpu, compact_line, cpu_text, fleet_lines, host_lines
from watchdog_agent.tui.view import LinkState


def test_one_host_gets_two_lines_with_its_totals() -> None:
    h = host([row("a", "a"), row("b", "b", state="exited")])
    first, second = (str(line) for line in host_lines(h, NOW, 1.5))
    assert first.startswith("● h1  connected")
    assert "sampled 1s ago, every 1s" in first and "docker 20.10.24 up" in first
    assert "data-root 40GB / 100GB (40%)" in first
    assert second.startswith("CPU 3.1% of 4 CPUs")  # 12.5 % on docker's scale, 4 cores
    assert "MEM 2GiB / 8GiB (25%)" in second and "load 0.50 0.40 0.30" in second
    assert "1 running, 1 stopped" in second and "agent 1.5% CPU 40MiB RSS" in second


def test_gaps_and_link_states() -> None:
    bare = host([], host=None, daemon=None, agent=None, sampled_at=None,
                link=LinkState.AUTH_REFUSED, detail="401: bad token\x1b[2J")  # fmt: skip
    first, second = (str(line) for line in host_lines(bare, NOW, None))
    assert "auth refused 1m00s: 401: bad token\\x1b[2J" in first
    assert "no sample yet" in first and "docker -" in first and "data-root - / - (-)" in first
    assert second.startswith("CPU -") and "load - - -" in second
    local = str(compact_line(replace(bare, link=LinkState.LOCAL, detail=None), NOW, None))
    assert "local: collectors in-process" in local and "dstats - CPU" in local
    assert cpu_text(host([], host={"cpu_fraction": 0.5, "cpus": 1})) == "CPU 50.0% of 1 CPU"


def test_a_fleet_gets_a_line_per_host_and_a_summary_past_eight() -> None:
    hosts = [host([], key=f"http://h{i}:9338", name=f"h{i}") for i in range(10)]
    hosts[9] = replace(hosts[9], link=LinkState.RETRYING)
    lines = [str(x) for x in fleet_lines(fleet_of(*hosts), NOW, {})]
    assert len(lines) == 8
    assert lines[0].startswith("● h0  connected · CPU 3.1% of 4 CPUs")
    assert lines[-1] == "… and 3 more hosts (1 of them not connected)"


def test_agent_cpu_from_two_snapshots() -> None:
    cpu = AgentCpu()
    h = host([])
    assert cpu.update(h) is None
    later = replace(h, sampled_at=h.sampled_at + 2.0 if h.sampled_at else None,
                    agent={"cpu_seconds_total": 10.1})  # fmt: skip
    value = cpu.update(later)  # 0.1 s of CPU over 2 s
    assert value is not None and abs(value - 5.0) < 1e-9
    assert cpu.update(later) == value  # the same snapshot again: unchanged


def test_container_counts_come_from_the_rows_not_the_daemons_minute_old_info() -> None:
    """The daemon's counts are from its /info, read once a minute: a container started
    since then is in the rows (the snapshot) first. Before any snapshot they stand in."""
    daemon = {"version": "20.10.24", "up": True, "containers_running": 1, "containers_stopped": 0}
    rows = [row("a", "a"), row("b", "b"), row("c", "c"), row("d", "d", state="exited")]
    assert "3 running, 1 stopped" in str(host_lines(host(rows, daemon=daemon), NOW, None)[1])
    early = host([], daemon=daemon, sampled_at=None)
    assert "1 running, 0 stopped" in str(host_lines(early, NOW, None)[1])
    assert "containers -" in str(host_lines(host([], daemon=None, sampled_at=None), NOW, None)[1])
