"""logsetup.py imports structlog without rich (and pygments): the agent's modules load
neither, yet a command that uses rich (dstats, through Textual) imports it as before."""

from __future__ import annotations

import subprocess
import sys

LOADED = "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'pygments'}))\n"


def _run(script: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys\n" + script],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_agents_modules_load_neither_rich_nor_pygments() -> None:
    out = _run(
        "import watchdog_agent.commands.serve, watchdog_agent.server.app\n"
        "import watchdog_agent.agent.wiring, watchdog_agent.cli\n"
        + LOADED
        + "import rich.console\n"
        + LOADED
    )
    assert out == "[]\n['rich']\n"


def test_rich_imported_first_stays_imported() -> None:
    out = _run(
        "import rich\nheld = rich\nimport watchdog_agent.logsetup\n"
        "print(sys.modules['rich'] is held)\n"
    )
    assert out == "True\n"
