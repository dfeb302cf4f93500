"""dashboards/build.py: the committed JSON is exactly what the code builds, and --check
names a file that differs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from helpers.dashqueries import DASHBOARDS, dashboard_files

BUILD = DASHBOARDS / "build.py"
NAMES = ["watchdog-container.json", "watchdog-overview.json"]


def build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BUILD), *args], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_the_committed_json_is_what_the_code_builds() -> None:
    assert [p.name for p in dashboard_files()] == NAMES
    proc = build("--check")
    assert proc.returncode == 0, (
        f"{proc.stderr}the committed dashboards differ from dashboards/*.py: "
        "run `python dashboards/build.py` and commit the JSON"
    )


def test_check_names_the_file_that_differs(tmp_path: Path) -> None:
    for name in NAMES:
        shutil.copy(DASHBOARDS / name, tmp_path / name)
    assert build("--check", "--out", str(tmp_path)).returncode == 0
    stale = tmp_path / "watchdog-container.json"
    stale.write_text(stale.read_text().replace('"CPU"', '"CPU (old)"', 1))
    proc = build("--check", "--out", str(tmp_path))
    assert proc.returncode == 1
    assert str(stale) in proc.stderr and "watchdog-overview" not in proc.stderr, proc.stderr
    assert "python dashboards/build.py" in proc.stderr
    # and without --check it writes the file back
    written = build("--out", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert stale.read_text() == (DASHBOARDS / stale.name).read_text()
