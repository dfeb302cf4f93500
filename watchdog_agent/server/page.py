"""The page for browsers at ``/``: a small server-rendered HTML document (pure).

No JavaScript and nothing fetched from elsewhere: one document with its own style, which
reloads itself every few seconds. Every text that reaches it (container names, labels,
images, daemon warnings) may come from inside a container or from the daemon, so each
one is escaped here, in one place; the Content-Security-Policy the route sends forbids
scripts and any other origin as a second line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

REFRESH_SECONDS = 5
GAP = "-"  # a value the agent does not know (never shown as 0)

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2327;background:#fff}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
p.sub{color:#50575e;margin:0 0 1em}
dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1.2em;margin:0}
dt{color:#50575e}dd{margin:0;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:.2em .7em;text-align:left;border-bottom:1px solid #dcdcde;white-space:nowrap}
th{color:#50575e;font-weight:600}td.n{text-align:right}
code{font:12px ui-monospace,monospace}
.na{color:#8c8f94}
"""


@dataclass(frozen=True)
class Pairs:
    """A section of label/value lines; ``note`` replaces them when the data is missing."""

    title: str
    pairs: Sequence[tuple[str, str]]
    note: str | None = None


@dataclass(frozen=True)
class Table:
    """A section holding one table; ``numeric`` marks the columns aligned right."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    numeric: frozenset[int] = frozenset()
    note: str | None = None


Section = Pairs | Table


def _pairs(section: Pairs) -> str:
    if section.note is not None:
        return f'<p class="na">{escape(section.note)}</p>'
    lines = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in section.pairs
    )
    return f"<dl>{lines}</dl>"


def _cell(value: str, numeric: bool) -> str:
    return f'<td class="n">{escape(value)}</td>' if numeric else f"<td>{escape(value)}</td>"


def _table(section: Table) -> str:
    if section.note is not None:
        return f'<p class="na">{escape(section.note)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in section.headers)
    body = "".join(
        "<tr>" + "".join(_cell(cell, i in section.numeric) for i, cell in enumerate(row)) + "</tr>"
        for row in section.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(
    title: str, subtitle: str, sections: Sequence[Section], links: Sequence[tuple[str, str]]
) -> str:
    """The whole document. ``links`` are (path, summary) of the agent's routes; a path
    with a ``{placeholder}`` is shown, not linked."""
    parts = []
    for section in sections:
        inner = _pairs(section) if isinstance(section, Pairs) else _table(section)
        parts.append(f"<section><h2>{escape(section.title)}</h2>{inner}</section>")
    items = "".join(
        (
            f"<li><code>{escape(path)}</code> {escape(summary)}</li>"
            if "{" in path
            else f'<li><a href="{escape(path, quote=True)}"><code>{escape(path)}</code></a> '
            f"{escape(summary)}</li>"
        )
        for path, summary in links
    )
    parts.append(f"<section><h2>Routes</h2><ul>{items}</ul></section>")
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="sub">{escape(subtitle)}</p>'
        + "".join(parts)
        + "</body></html>\n"
    )


def prefers_html(accept: str | None) -> bool:
    """True when the Accept header ranks ``text/html`` above JSON, as a browser's does
    (``text/html,...,*/*;q=0.8``); ``*/*`` alone, no header, or JSON first: False."""
    if not accept:
        return False
    html = json = 0.0
    for item in accept.split(","):
        media, _, rest = item.partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in rest.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            html = max(html, q)
        elif media in ("application/json", "*/*", "application/*"):
            json = max(json, q)
    return html > json
