"""The gzip content coding of ``/metrics``: Accept-Encoding negotiation, and a gzip body
put together from pieces compressed once, ahead of the scrapes that send them.

A ``Deflated`` piece is raw DEFLATE data that starts on a block boundary, references
nothing before it and ends byte-aligned with no final block (a new compressor, ended by a
sync flush),
with the CRC-32 and length of the bytes it holds. Such pieces can follow one another in
any order inside one DEFLATE stream: ``gzip_chunks`` writes a single gzip member (RFC 1952)
of the pieces, an empty final block and the trailer, the CRC-32 of the whole worked out
from the pieces' own (``crc32_combine``), without their bytes. So a snapshot's families
are compressed once, however many scrapes send them, and a scrape compresses only what
changes between scrapes (a few hundred bytes). One member, not several concatenated: every
gzip reader takes it (some stop after the first member). No I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

# zlib level 1: at 1,000 containers a snapshot's 9.6 MB compress to 2.6 MB in about a
# third of the time level 6 takes for 2.4 MB (bench/metrics.py measures both); the ids,
# 64 random hex digits on every series, are most of what is left either way
LEVEL = 1
# deflate, no flags, no mtime, no extra flags, OS unknown
GZIP_HEADER = bytes((0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255))
FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set


class Deflated(NamedTuple):
    """Raw DEFLATE chunks of ``size`` bytes whose CRC-32 is ``crc`` (see the module)."""

    chunks: tuple[bytes, ...]
    crc: int
    size: int

    @property
    def compressed(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)


EMPTY = Deflated((), 0, 0)


def deflate(data: bytes, level: int = LEVEL) -> Deflated:
    """``data`` as one piece."""
    if not data:
        return EMPTY
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return Deflated((out,), zlib.crc32(data), len(data))


class Deflater:
    """Compresses bytes given a chunk at a time into one piece (one compressor over them
    all: what repeats across chunks is found); a chunk can be dropped once given."""

    def __init__(self, level: int = LEVEL) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._out: list[bytes] = []
        self._crc = self._size = 0

    def add(self, chunk: bytes | memoryview) -> None:
        self._out.append(self._compressor.compress(chunk))
        self._crc = zlib.crc32(chunk, self._crc)
        self._size += len(chunk)

    def finish(self) -> Deflated:
        if not self._size:
            return EMPTY
        self._out.append(self._compressor.flush(zlib.Z_SYNC_FLUSH))
        return Deflated((b"".join(self._out),), self._crc, self._size)


def deflate_chunks(chunks: Iterable[bytes | memoryview], level: int = LEVEL) -> Deflated:
    """The chunks' bytes, one after another, as one piece."""
    deflater = Deflater(level)
    for chunk in chunks:
        deflater.add(chunk)
    return deflater.finish()


def join(pieces: Iterable[Deflated]) -> Deflated:
    """Pieces one after another, as one piece (no bytes copied)."""
    chunks: list[bytes] = []
    crc = size = 0
    for piece in pieces:
        chunks += piece.chunks
        crc = crc32_combine(crc, piece.crc, piece.size)
        size += piece.size
    return Deflated(tuple(chunks), crc, size)


def gzip_chunks(pieces: Iterable[Deflated]) -> list[bytes]:
    """One gzip member holding the pieces' bytes in order, as chunks to write."""
    whole = join(pieces)
    trailer = (whole.crc & 0xFFFFFFFF).to_bytes(4, "little") + (whole.size & 0xFFFFFFFF).to_bytes(
        4, "little"
    )
    return [GZIP_HEADER, *whole.chunks, FINAL_BLOCK + trailer]


def inflate(piece: Deflated) -> bytes:
    """The bytes a piece holds (a plain-text scrape of a body kept only compressed)."""
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    out = b"".join(decompressor.decompress(chunk) for chunk in piece.chunks)
    if len(out) != piece.size or zlib.crc32(out) != piece.crc:
        raise ValueError("a compressed piece does not hold what it says")
    return out


# --------------------------------------------------------------------- CRC-32 combination
# zlib's crc32_combine (which Python does not expose): the CRC of A+B from crc(A), crc(B)
# and len(B), by multiplying crc(A) by x^(8 len(B)) modulo the CRC polynomial.

_POLY = 0xEDB88320  # reflected


def _multmodp(a: int, b: int) -> int:
    """a * b modulo the polynomial (reflected bit order)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    """x^(2^k) modulo the polynomial, k = 0..31."""
    out, p = [], 1 << 30  # x^1
    for _ in range(32):
        out.append(p)
        p = _multmodp(p, p)
    return out


_X2N = _powers()


def _x2nmodp(n: int, k: int) -> int:
    """x^(n * 2^k) modulo the polynomial."""
    p = 1 << 31  # x^0
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A+B, from crc1 = crc32(A), crc2 = crc32(B) and len2 = len(B)."""
    if len2 <= 0:
        return crc1
    if crc1 == 0:  # 0 times anything
        return crc2
    return _multmodp(_x2nmodp(len2, 3), crc1) ^ crc2


# ---------------------------------------------------------------- Accept-Encoding


def _weights(accept_encoding: str) -> dict[str, float]:
    """Coding -> q of an Accept-Encoding value (RFC 9110 12.5.3); codings lower-cased,
    ``x-gzip`` read as ``gzip`` (8.4.1.3); an entry with a malformed q is left out."""
    out: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = item.split(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        if coding == "x-gzip":
            coding = "gzip"
        q: float | None = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                q = _qvalue(value.strip())
        if q is not None:
            out[coding] = max(q, out.get(coding, 0.0))
    return out


def _qvalue(text: str) -> float | None:
    """A qvalue (``0`` to ``1`` with up to three decimals), None when malformed."""
    try:
        q = float(text)
    except ValueError:
        return None
    if not 0.0 <= q <= 1.0 or not text[:1].isdigit():
        return None
    return q


def wants_gzip(accept_encoding: str | None) -> bool:
    """Whether to answer with ``Content-Encoding: gzip`` (RFC 9110 12.5.3).

    No header: no coding (the client said nothing it can decode). Otherwise gzip's weight
    is its own entry's (or ``x-gzip``'s), else ``*``'s, else 0. gzip is sent when its
    weight is above 0 and, if ``identity`` has an entry of its own, not below that
    entry's (identity is acceptable by default, but only an entry of its own makes it
    compete: ``gzip;q=0.9`` asks for gzip). When neither is acceptable (``identity;q=0``
    with gzip excluded or absent) the body goes without a coding, as 12.5.3 says a
    server should when none of its codings is acceptable.
    """
    if accept_encoding is None:
        return False
    weights = _weights(accept_encoding)
    gzip = weights.get("gzip", weights.get("*", 0.0))
    return gzip > 0 and gzip >= weights.get("identity", 0.0)


def accept_encoding_values(headers: Sequence[str]) -> str | None:
    """Several Accept-Encoding fields as the one comma-separated value they mean."""
    return ", ".join(headers) if headers else None
