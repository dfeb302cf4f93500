"""The gzip coding of /metrics: Accept-Encoding negotiation, pieces compressed once and
spliced into one gzip member, and the scrape's gzip body (the plain body, compressed)."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest
from helpers.exporting import LAYOUTS, TREES, Exporter, sample_tree, tricky_refs

from watchdog_agent.exporter import gzipped
from watchdog_agent.exporter.exposition import Format
from watchdog_agent.exporter.gzipped import (
    Segmenter,
    crc32_combine,
    deflate,
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
    """Pieces from one compressor (cut by full flushes) and from their own, spliced in
    another order, make one member every reader takes: Python's gzip, and a single-member
    reader (zlib's, as aiohttp and curl use) that must find nothing after it."""
    rng = random.Random(3)
    texts = [rng.randbytes(500) * 40, b"abc" * 10_000, b"", b"x", rng.randbytes(70_000)]
    segmenter = Segmenter()
    cut = [segmenter.piece(t) for t in texts]
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


@pytest.fixture
def fed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes given to the snapshot compressor (Segmenter), one entry per call."""
    sizes: list[int] = []
    compress = Segmenter.compress

    def counting(self: Segmenter, data: bytes) -> bytes:
        sizes.append(len(data))
        return compress(self, data)

    monkeypatch.setattr(gzipped.Segmenter, "compress", counting)
    return sizes


def test_compressed_once_per_snapshot_however_many_scrapes(fed: list[int]) -> None:
    root = TREES / LAYOUTS[0]
    first, refs, _ = sample_tree(root)
    served = Exporter(first, refs)
    cache = served.cache
    cache.install(cache.build(first))  # as the server's Renderer does
    once = sum(fed)
    text = b"".join(cache.last(Format.TEXT))
    latest = cache._latest
    assert latest is not None
    om_heads = sum(len(head) for _, _, head in latest.heads)
    assert once == len(text) + om_heads  # the bodies once, each format's headers
    bodies = {fmt: b"".join(served.scrape.gzip_parts(fmt)) for fmt in Format}
    for _ in range(20):
        for fmt in Format:
            served.scrape.gzip_parts(fmt)
    assert sum(fed) == once and cache.renders == 1
    # a new Snapshot: compressed again, once, into a new body
    second, _, _ = sample_tree(root, skip=[sorted(refs)[0]])  # one container fewer
    cache.install(cache.build(second))
    assert cache.renders == 2 and sum(fed) > once
    again = {fmt: b"".join(served.scrape.gzip_parts(fmt)) for fmt in Format}
    for fmt in Format:
        assert again[fmt] != bodies[fmt]
        assert _gunzip_one_member(again[fmt]) == served.scrape.render(fmt)


def test_plain_text_kept_only_while_plain_scrapes_ask() -> None:
    root = TREES / LAYOUTS[0]
    snapshot, refs, _ = sample_tree(root)
    served = Exporter(snapshot, refs)
    cache = served.cache
    cache.install(cache.build(snapshot))  # nothing asked for plain text before
    assert not cache.plain_ready  # only the compressed body is held
    gzip_body = _gunzip_one_member(b"".join(served.scrape.gzip_parts(Format.TEXT)))
    assert not cache.plain_ready
    cache.restore_plain()  # a plain scrape: inflated once
    assert cache.plain_ready
    assert served.scrape.render(Format.TEXT) == gzip_body == served.oracle(Format.TEXT)
    later, _, _ = sample_tree(root)
    cache.install(cache.build(later))
    assert cache.plain_ready  # plain scrapes came: the next rendering keeps its text
    cache.install(cache.build(later))
    assert not cache.plain_ready  # none since: dropped again
