"""/metrics over HTTP with and without gzip, on a fixture tree (no Docker): the coding
follows Accept-Encoding, every answer says Vary, the gzip body is one member holding the
plain body, and authentication is the same either way."""

from __future__ import annotations

import secrets
import zlib
from pathlib import Path

import aiohttp
import pytest
from helpers.serving import serving, tree_settings

OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}
TOKEN = "tok-" + secrets.token_hex(16)
# one Snapshot for the whole test: every scrape has the same families (a rate-derived one
# comes with the second pass)
ONE_SNAPSHOT = 600.0


def _gunzip(body: bytes) -> bytes:
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = reader.decompress(body)
    assert reader.eof and reader.unused_data == b""  # one whole member
    return out


def _families(body: bytes) -> list[str]:
    return [line.split()[2] for line in body.decode().splitlines() if line.startswith("# TYPE")]


def _scrapes(body: bytes, encoding: str) -> float:
    wanted = f'watchdog_metrics_scrapes_total{{encoding="{encoding}"}} '
    lines = [x for x in body.decode().splitlines() if x.startswith(wanted)]
    assert len(lines) == 1, lines
    return float(lines[0].rsplit(" ", 1)[1])


async def test_gzip_follows_accept_encoding() -> None:
    async with serving(tree_settings("systemd", interval=ONE_SNAPSHOT)) as client:
        url = client.make_url("/metrics")
        # the raw bytes: no decompression, no Accept-Encoding unless given
        async with aiohttp.ClientSession(
            auto_decompress=False, skip_auto_headers=["Accept-Encoding"]
        ) as http:

            async def get(headers: dict[str, str]) -> tuple[aiohttp.ClientResponse, bytes]:
                async with http.get(url, headers=headers) as resp:
                    assert resp.status == 200
                    assert resp.headers["Vary"] == "Accept-Encoding"
                    return resp, await resp.read()

            plain_resp, plain = await get({})
            assert "Content-Encoding" not in plain_resp.headers
            for refused in ("gzip;q=0", "identity;q=0", "br", "gzip;q=0.5, identity"):
                resp, body = await get({"Accept-Encoding": refused})
                assert "Content-Encoding" not in resp.headers, refused
                assert body.startswith(b"# HELP ") and _families(body) == _families(plain)
            for accepted in ("gzip", "*", "deflate, GZIP;q=0.9", "x-gzip"):
                resp, body = await get({"Accept-Encoding": accepted})
                assert resp.headers["Content-Encoding"] == "gzip", accepted
                assert resp.headers["Content-Length"] == str(len(body))
                text = _gunzip(body)
                assert _families(text) == _families(plain), accepted
                assert "container_cpu_usage_seconds_total" in _families(text)
            assert _scrapes(text, "gzip") == 4  # this one included
            assert _scrapes(text, "identity") == 5
            resp, body = await get({"Accept-Encoding": "gzip", **OPENMETRICS})
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            om = _gunzip(body)
            assert om.endswith(b"# EOF\n") and om.count(b"# EOF") == 1
            assert _families(om)[0] == "container_cpu_usage_seconds"  # OpenMetrics names
        async with client.head("/metrics") as resp:
            assert resp.status == 405  # as before: GET only


async def test_gzip_scrape_needs_the_same_credentials(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN + "\n")
    settings = tree_settings("systemd", auth_token_file=str(tokens))
    async with serving(settings, ready=False) as client:
        gzip = {"Accept-Encoding": "gzip"}
        async with client.get("/metrics", headers=gzip) as resp:
            assert resp.status == 401
            assert "Content-Encoding" not in resp.headers
            assert (await resp.json())["error"] == "unauthorized"
        auth = {**gzip, "Authorization": f"Bearer {TOKEN}"}
        async with client.get("/metrics", headers=auth) as resp:
            assert resp.status == 200 and resp.headers["Content-Encoding"] == "gzip"
            assert b"watchdog_build_info" in await resp.read()  # decompressed by aiohttp


@pytest.mark.parametrize("accept", [{}, OPENMETRICS])
async def test_gzip_then_plain_scrapes_hold_the_same_families(accept: dict[str, str]) -> None:
    """A gzip scrape, then a plain one (made from the compressed rendering when it holds
    no plain text: tests/exporter/test_gzipped.py): the same families, whole."""
    async with serving(tree_settings("systemd", interval=ONE_SNAPSHOT)) as client:
        url = client.make_url("/metrics")
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            async with http.get(url, headers={"Accept-Encoding": "gzip", **accept}) as resp:
                zipped = _gunzip(await resp.read())
            identity = {"Accept-Encoding": "identity", **accept}
            async with http.get(url, headers=identity) as resp:
                assert "Content-Encoding" not in resp.headers
                plain = await resp.read()
    assert _families(plain) == _families(zipped)
    assert plain.count(b"\ncontainer_cpu_usage_seconds_total{") == 2  # both containers
