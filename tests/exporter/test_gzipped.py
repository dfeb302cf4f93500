"""The gzip coding of /metrics: Accept-Encoding negotiation, pieces compressed once and
spliced into one gzip member, and the scrape's gzip body (the plain body, compressed)."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest
from helpers.exporting import LAYOUTS, TREES, Exporter, sample_tree, tricky_refs

from watchdog_agent.exporter.exposition import Format
from watchdog_agent.exporter.gzipped import (
    crc32_combine,
    deflate,
    deflate_chunks,
    gzip_chunks,
    inflate,
    join,
    wants_gzip,
)


@pytest.mark.parametrize(
    ("header", "gzip_wanted"),
    [
        (None, False),  # no header: no coding
        ("", False),  # empty: identity only
        ("gzip", True),  # Prometheus
        ("GZip", True),  # case does not matter
        ("x-gzip", True),  # RFC 9110 8.4.1.3
        ("gzip, deflate, br", True),  # aiohttp, browsers
        ("deflate, gzip;q=1.0, *;q=0.5", True),  # curl --compressed
        ("br", False),  # only codings the agent does not do
        ("gzip;q=0", False),
        ("gzip ; Q=0.000", False),
        ("gzip;q=0.5, identity", False),  # identity preferred
        ("gzip;q=0.5", True),  # identity not listed: it does not compete
        ("deflate, gzip;q=0.9", True),
        ("gzip;q=0.5, identity;q=0.5", True),  # a tie: the smaller body
        ("identity;q=0", False),  # nothing acceptable: no coding (12.5.3)
        ("gzip;q=0, identity;q=0", False),
        ("*", True),
        ("*;q=0", False),
        ("*;q=0, gzip", True),
        ("*, gzip;q=0", False),
        ("*;q=0.3, identity;q=0.2", True),
        ("gzip;q=2", False),  # malformed q: the entry is left out
        ("gzip;q=nan", False),
        ("gzip;q=-1", False),
        ("gzip;q=abc, *", True),  # ... and * stands for gzip
        (" , gzip ,", True),
    ],
)
def test_accept_encoding_negotiation(header: str | None, gzip_wanted: bool) -> None:
    assert wants_gzip(header) is gzip_wanted


def test_crc32_combine_is_zlibs() -> None:
    rng = random.Random(12)
    for _ in range(50):
        a = rng.randbytes(rng.randrange(0, 3000))
        b = rng.randbytes(rng.choice([0, 1, 7, 4096, rng.randrange(1, 70_000)]))
        assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_pieces_splice_into_one_gzip_member() -> None:
    """Pieces compressed on their own, at any level, from one text or several chunks,
    spliced in any order, make one member every reader takes: Python's gzip, and a
    single-member reader (zlib's, as aiohttp and curl use) that must find nothing after."""
    rng = random.Random(3)
    texts = [rng.randbytes(500) * 40, b"abc" * 10_000, b"", b"x", rng.randbytes(70_000)]
    cut = [deflate_chunks([t[:100], memoryview(t)[100:]], level=9) for t in texts]
    alone = [deflate(t, level=6) for t in texts]
    order = [cut[1], alone[0], cut[4], alone[3], cut[0], cut[2], alone[1]]
    expected = texts[1] + texts[0] + texts[4] + texts[3] + texts[0] + texts[2] + texts[1]
    body = b"".join(gzip_chunks(order))
    assert gzip.decompress(body) == expected
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert reader.decompress(body) == expected
    assert reader.eof and reader.unused_data == b""
    assert inflate(join(order)) == expected
    assert gzip.decompress(b"".join(gzip_chunks([]))) == b""


def test_inflate_checks_what_a_piece_says_it_holds() -> None:
    piece = deflate(b"hello " * 100)
    with pytest.raises(ValueError, match="does not hold"):
        inflate(piece._replace(crc=piece.crc ^ 1))


def _gunzip_one_member(body: bytes) -> bytes:
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = reader.decompress(body)
    assert reader.eof and reader.unused_data == b""
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", list(Format))
def test_gzip_body_is_the_plain_body(layout: str, fmt: Format) -> None:
    """Decompressed, the gzip scrape is byte for byte the plain one (which is
    prometheus_client's), with the inventory's series and tricky names."""
    snapshot, _, _ = sample_tree(TREES / layout)
    served = Exporter(snapshot, tricky_refs(snapshot))
    plain = served.render(fmt)
    assert plain == served.oracle(fmt)
    assert _gunzip_one_member(b"".join(served.scrape.gzip_parts(fmt))) == plain


def test_no_snapshot_yet_gzip_body_is_the_agents_families() -> None:
    served = Exporter(None)
    for fmt in Format:
        assert _gunzip_one_member(b"".join(served.scrape.gzip_parts(fmt))) == served.render(fmt)


def test_compressed_once_per_snapshot_however_many_scrapes() -> None:
    root = TREES / LAYOUTS[0]
    first, refs, _ = sample_tree(root)
    served = Exporter(first, refs)
    cache = served.cache
    cache.install(cache.build(first))  # as the server's Renderer does
    assert cache.compressions == 0  # nothing asked for gzip yet: plain text only
    bodies = {fmt: b"".join(served.scrape.gzip_parts(fmt)) for fmt in Format}
    assert cache.compressions == 2  # each format once, when first asked
    for _ in range(20):
        for fmt in Format:
            assert b"".join(served.scrape.gzip_parts(fmt)) == bodies[fmt]
    assert cache.compressions == 2 and cache.renders == 1
    # a new Snapshot: compressed again, once per format asked before, into new bodies
    second, _, _ = sample_tree(root, skip=[sorted(refs)[0]])  # one container fewer
    cache.install(cache.build(second))
    assert cache.renders == 2 and cache.compressions == 4
    for _ in range(20):
        again = {fmt: b"".join(served.scrape.gzip_parts(fmt)) for fmt in Format}
    assert cache.compressions == 4
    for fmt in Format:
        assert again[fmt] != bodies[fmt]
        assert _gunzip_one_member(again[fmt]) == served.scrape.render(fmt)


def test_a_rendering_is_made_in_the_forms_the_last_was_asked_in() -> None:
    """Only OpenMetrics gzip asked (Prometheus): the next rendering holds that alone, no
    plain text; a plain scrape then inflates it (and the text body is spliced back)."""
    root = TREES / LAYOUTS[0]
    snapshot, refs, _ = sample_tree(root)
    served = Exporter(snapshot, refs)
    cache = served.cache
    cache.install(cache.build(snapshot))
    expected = {fmt: served.scrape.render(fmt) for fmt in Format}  # plain asked here
    cache.install(cache.build(snapshot, asking=Format.OPENMETRICS))
    assert cache.has(Format.OPENMETRICS) and cache.has(None)  # asked now, and before
    served.scrape.gzip_parts(Format.OPENMETRICS)  # asked: OpenMetrics gzip only
    compressions = cache.compressions
    cache.install(cache.build(snapshot, asking=Format.OPENMETRICS))
    assert compressions + 1 == cache.compressions  # made compressed, in the build
    assert cache.has(Format.OPENMETRICS) and not cache.has(Format.TEXT) and not cache.has(None)
    assert (
        _gunzip_one_member(b"".join(served.scrape.gzip_parts(Format.OPENMETRICS)))
        == (expected[Format.OPENMETRICS])
    )
    assert not cache.has(None)
    cache.prepare(Format.TEXT)  # text gzip asked: compressed from the inflated body...
    assert cache.has(Format.TEXT) and not cache.has(None)  # ... not kept plain
    assert (
        _gunzip_one_member(b"".join(served.scrape.gzip_parts(Format.TEXT)))
        == (expected[Format.TEXT])
    )
    cache.prepare(None)  # a plain scrape
    assert cache.has(None)
    assert {fmt: served.scrape.render(fmt) for fmt in Format} == expected
