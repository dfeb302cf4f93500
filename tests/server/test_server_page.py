"""The page for browsers at ``/``: what a real browser (headless Chromium) renders from a
running agent, how the route tells browsers from API clients, and that text from inside
containers is escaped, never markup."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess
from helpers.serving import serving, tree_settings

from watchdog_agent.server import page
from watchdog_agent.server.overview import container_table, size
from watchdog_agent.server.page import Pairs, Table, prefers_html, render

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROMIUM = shutil.which("chromium")


class _Text(HTMLParser):
    """The text a reader sees (scripts and styles left out), and every tag met."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split()), parser.tags


# -- pure parts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("application/xhtml+xml,*/*;q=0.5", True),
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("application/json,text/html;q=0.9", False),
        ("text/html;q=0.5,*/*", False),
        ("text/html;q=oops", False),
    ],
)
def test_only_a_request_that_ranks_html_first_gets_the_page(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html


def test_text_from_containers_is_escaped_not_markup() -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'
    doc = render(
        hostile,
        hostile,
        [
            Pairs(hostile, [(hostile, hostile)]),
            Table(hostile, [hostile], [[hostile]]),
        ],
        [("/a?b=<c>&d", hostile), ("/api/v1/containers/{id}", hostile)],
    )
    text, tags = visible(doc)
    assert "script" not in tags and "img" not in tags
    assert "<script>" not in doc and "<img" not in doc
    # <title>, h1, subtitle, two section titles, label, value, header, cell, 2 summaries
    assert text.count(hostile) == 11  # each one shown to the reader exactly as it was
    assert 'href="/a?b=&lt;c&gt;&amp;d"' in doc
    assert 'href="/api/v1/containers/{id}"' not in doc  # a template is shown, not linked


def test_a_missing_number_is_a_gap_not_zero() -> None:
    table = container_table([{"id": "c" * 64, "name": "idle", "state": "running", "stats": None}])
    (row,) = table.rows
    assert row[:4] == ["idle", "c" * 12, "-", "running"]
    assert set(row[4:]) == {"-"}
    assert container_table([]).note is not None


@pytest.mark.parametrize(
    ("n", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"),
     (10 * 2**20, "10 MiB"), (123 * 2**30, "123 GiB"), (None, "-"), (True, "-")],
)  # fmt: skip
def test_sizes_read_in_binary_units(n: object, shown: str) -> None:
    assert size(n) == shown


# -- the route, in process over a fixture tree ---------------------------------------------


async def test_browsers_get_the_page_and_api_clients_the_json_index() -> None:
    async with serving(tree_settings()) as client:
        async with client.get("/", headers={"Accept": BROWSER_ACCEPT}) as resp:
            assert resp.status == 200
            assert resp.content_type == "text/html" and resp.charset == "utf-8"
            assert resp.headers["Content-Security-Policy"] == page.CSP
            assert "script-src" not in page.CSP and "default-src 'none'" in page.CSP
            assert resp.headers["Vary"] == "Accept"
            text, tags = visible(await resp.text())
        assert "script" not in tags
        assert re.search(r"Containers \(\d+\)", text)
        assert "/api/v1/containers" in text and "/metrics" in text
        async with client.get("/") as resp:
            assert resp.content_type == "application/json"
            index: dict[str, Any] = await resp.json()
        assert index["name"] == "watchdog-agent"
        assert {r["path"] for r in index["routes"]} >= {"/", "/metrics", "/api/v1/containers"}


# -- a real browser against a running agent ----------------------------------------------


def meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "chromium is not installed (scripts/test installs it)"
    with tempfile.TemporaryDirectory(prefix="wd-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
             *args],
            capture_output=True, text=True, timeout=90, check=True,
        )  # fmt: skip


@pytest.mark.engine
def test_headless_chromium_renders_the_running_agents_page(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    if CHROMIUM is None and os.environ.get("CI") != "true":
        pytest.skip("chromium is not installed; scripts/test installs it")
    name = unique_name("wd-page")
    docker_cli.start(IMAGE, "sleep", "300", name=name)
    data_root = docker_cli.run("info", "--format", "{{.DockerRootDir}}").strip()
    memory = size(meminfo_total())
    serve = ServeProcess("--journal", "none", "--interval", "0.2", docker_host=docker_host)
    try:
        url = serve.wait_url() + "/"
        deadline = time.monotonic() + 30
        while True:  # the agent lists the container once its inventory has it
            dom = chromium("--dump-dom", url).stdout
            text, tags = visible(dom)
            ready = name in text and f"{data_root}: " in text and "Disk use by area (" in text
            if ready or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        shot = tmp_path / "page.png"
        chromium("--window-size=1280,900", f"--screenshot={shot}", url)
    finally:
        serve.kill()
    assert name in text, text
    assert "Agent" in text and re.search(r"Containers \(\d+\)", text)
    # the host's memory as /proc/meminfo says, and the data root's filesystem line
    assert re.search(rf"memory used \S+ \S+ of {re.escape(memory)} \(\d+ %\)", text), text
    assert re.search(
        rf"data root \S*{re.escape(data_root)}: \S+ \S+ used of \S+ \S+, \S+ \S+ free", text
    ), text
    assert re.search(r"Images \d+ \d+ \S+ \S+", text), text  # disk use by area
    assert "running" in text
    assert "script" not in tags
    assert shot.stat().st_size > 10_000  # a rendered page, not an error screen
    with shot.open("rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("WATCHDOG_PAGE_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
