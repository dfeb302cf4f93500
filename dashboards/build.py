"""Writes the dashboards' JSON from their code: ``python dashboards/build.py``.

``--check`` writes nothing: it exits 1 and names each file whose committed JSON differs
from what the code builds (run ``python dashboards/build.py`` and commit the result)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import container
import overview

HERE = Path(__file__).resolve().parent


def built() -> dict[str, str]:
    """File name -> JSON text, for every dashboard."""
    return dict(module.build() for module in (overview, container))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed JSON instead of writing it"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder of the JSON files (default: dashboards/)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    stale = []
    for name, text in built().items():
        path = out / name
        if args.check:
            old = path.read_text(encoding="utf-8") if path.exists() else None
            if old != text:
                stale.append(path)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    for path in stale:
        what = "missing" if not path.exists() else "differs from what the code builds"
        print(f"{path}: {what}; run: python dashboards/build.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
