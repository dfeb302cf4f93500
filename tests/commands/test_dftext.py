"""docker system df's text from the disk document: go-units sizes and durations, the CLI's
tabwriter layout, repository/tag and escaped untrusted cells. Pure functions."""

from __future__ import annotations

import json

import pytest
from helpers.diskdocs import DF, usage

from watchdog_agent.agent.diskareas import areas
from watchdog_agent.commands.dftext import (
    human_duration,
    human_size,
    summary,
    summary_json_lines,
    tabwriter,
    verbose,
)
from watchdog_agent.wire.diskjson import disk_json, repo_tag


@pytest.mark.parametrize(
    ("size", "precision", "text"),
    [(0, 4, "0B"), (999, 4, "999B"), (1000, 4, "1kB"), (1_982_417, 4, "1.982MB"),
     (10_485_760, 4, "10.49MB"), (8_388_608, 3, "8.39MB"), (1_982_417, 3, "1.98MB"),
     (999_960, 4, "1000kB"), (999_600, 3, "1e+03kB"), (2_500_000_000_000, 4, "2.5TB"),
     (None, 4, "N/A")],
)  # fmt: skip
def test_human_size_is_go_units(size: int | None, precision: int, text: str) -> None:
    assert human_size(size, precision) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
     (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
     (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"),
     (48 * 3600, "2 days"), (14 * 86400, "2 weeks"), (60 * 86400, "2 months"),
     (730 * 86400, "2 years")],
)  # fmt: skip
def test_human_duration_is_go_units(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_tabwriter_pads_as_the_cli() -> None:
    text = tabwriter([["TYPE", "TOTAL", "LAST"], ["Local Volumes", "1", "x"]])
    assert text == "TYPE            TOTAL     LAST\nLocal Volumes   1         x\n"


def test_repo_tag() -> None:
    assert repo_tag(["<none>:<none>"]) == ("<none>", "<none>")
    assert repo_tag([]) == ("<none>", "<none>")
    assert repo_tag(["localhost:5000/web:1.2", "web:x"]) == ("localhost:5000/web", "1.2")
    assert repo_tag(["docker.io/library/busybox:latest"]) == ("busybox", "latest")
    assert repo_tag(["docker.io/me/app:2"]) == ("me/app", "2")


def test_summary_and_its_json_lines() -> None:
    du = usage()
    doc = disk_json(du, areas(du), verbose=False)
    assert summary(doc).splitlines() == [
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE",
        "Images          3         2         10kB      6kB (60%)",
        "Containers      5         3         1.05kB    900B (85%)",
        "Local Volumes   3         1         5kB       1kB (20%)",
        "Build Cache     3         2         1kB       300B",
    ]
    first = json.loads(summary_json_lines(doc).splitlines()[0])
    assert first == {"Active": "2", "Reclaimable": "6kB (60%)", "Size": "10kB",
                     "TotalCount": "3", "Type": "Images"}  # fmt: skip


def test_verbose_rows_escape_untrusted_names() -> None:
    raw = json.loads(json.dumps(DF))
    raw["Containers"][0]["Names"] = ["/evil\x1b]0;pwned\x07"]
    raw["Containers"][0]["Command"] = "sh -c 'a very long command line'"
    du = usage(raw)
    doc = disk_json(du, areas(du), verbose=True)
    assert doc["containers"][0]["names"] == ["evil\x1b]0;pwned\x07"]  # JSON: exact
    text = verbose(doc, now=1_800_000_000.0)
    assert "\x1b" not in text and "\x07" not in text
    line = next(x for x in text.splitlines() if x.startswith("1111111111"))
    assert '   "sh -c \'a very long …"   ' in line  # 19 characters and an ellipsis
    cache = text.split("Build cache usage: 1kB\n\n")[1].splitlines()
    # never-used records first, then by last use; in use marked with *
    assert [c.split()[0] for c in cache[1:]] == ["x1*", "x3*", "x2"]
