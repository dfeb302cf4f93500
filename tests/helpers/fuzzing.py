"""How many examples a property test runs: a small budget in the normal suite, many more
in the nightly-style run (``WATCHDOG_TEST_NIGHTLY=1``, see README.md).

tests/conftest.py loads the matching hypothesis profile: ``ci`` (derandomized, so the
normal suite is deterministic) or ``nightly`` (random; a failure prints the blob that
reproduces it with ``@reproduce_failure``).
"""

from __future__ import annotations

import os

NIGHTLY = os.environ.get("WATCHDOG_TEST_NIGHTLY", "") not in ("", "0")
# the nightly run multiplies every budget by this (WATCHDOG_TEST_NIGHTLY_FACTOR to change)
FACTOR = int(os.environ.get("WATCHDOG_TEST_NIGHTLY_FACTOR", "40")) if NIGHTLY else 1


def examples(normal: int) -> int:
    """``normal`` examples in the suite; FACTOR times as many in the nightly run."""
    return normal * FACTOR
