"""Decompressed, UTF-8 bytes from a Cursor: bz2 (whole or multistream), gzip, xz, UTF-16.

Readers must see the same bytes whatever the container, and a break in the data (truncation,
corruption) is reported through a callback, never raised, so the records before a break still
reach the pipeline. Multistream bz2 resumes at the next stream after a corrupt one.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, cast

from ultralink.sources.byteio import BZ2_STREAM, CHUNK, OUT_MAX, Cursor, compression_of

Break = Callable[[str, str, int], None]   # (kind "truncated"|"corrupt", detail, where)


@dataclass(slots=True)
class Bz2Chunk:
    stream: int       # compressed offset of the stream this data came from
    data: bytes
    resumed: bool     # first data after skipping corrupt bytes: an open record before it is void


def iter_bz2(cur: Cursor, start: int, *, scan: bool, on_break: Break) -> Iterator[Bz2Chunk]:
    """Decompress consecutive bz2 streams from ``start``.

    ``scan=False``: a stream must begin exactly at ``start`` and each next one where the last
    ended (a whole file); the first break ends the iteration. ``scan=True`` (multistream
    units): find the first stream header at or after ``start`` and, after a corrupt stream,
    resume at the next header, so one bad stream costs only its own ~100 pages.
    """
    at: int | None = find_bz2_stream(cur, start) if scan else start
    resumed = False
    while at is not None:
        yield Bz2Chunk(at, b"", resumed)   # announce the stream before paying to decompress it
        cur.seek(at)
        d = bz2.BZ2Decompressor()
        try:
            while not d.eof:
                data = b""
                if d.needs_input:
                    data = cur.read(CHUNK)
                    if not data:
                        raise EOFError("end of file inside the stream")
                out = d.decompress(data, OUT_MAX)
                if out:
                    yield Bz2Chunk(at, out, resumed)
                    resumed = False
        except EOFError:
            on_break("truncated", f"bz2 stream at byte {at} ends early (file cut off)", at)
            return
        except OSError as e:   # the decompressor's "Invalid data stream"
            if not scan:
                on_break("corrupt", f"bz2 data corrupt in the stream at byte {at} ({e})", at)
                return
            on_break("corrupt", f"bz2 stream at byte {at} is corrupt ({e}); "
                     "skipped to the next stream", at)
            at, resumed = find_bz2_stream(cur, at + 1), True
            continue
        cur.unread(d.unused_data)
        head = cur.peek(10)
        if not head or not head.strip(b"\0"):
            return                                  # end of file (or zero padding)
        if BZ2_STREAM.match(head):
            at = cur.offset
            continue
        end = cur.offset
        if not scan:
            on_break("corrupt", f"bytes at {end}, after a complete bz2 stream, are not bz2", end)
            return
        on_break("corrupt", f"bytes at {end} are not a bz2 stream; skipped to the next stream", end)
        at, resumed = find_bz2_stream(cur, end + 1), True


def find_bz2_stream(cur: Cursor, start: int) -> int | None:
    """Offset of the first byte-aligned bz2 stream header at or after ``start``.

    Candidates are verified by the caller, which decompresses from them: a false match (odds
    about 2^-80 per byte) fails on its first block and is reported as corrupt.
    """
    cur.seek(start)
    carry, base = b"", start
    while data := cur.read(CHUNK):
        window = carry + data
        m = BZ2_STREAM.search(window)
        if m:
            cur.unread(window[m.start():])   # the caller reads the stream from here, no re-read
            return base + m.start()
        keep = min(len(window), 9)
        carry, base = window[-keep:], base + len(window) - keep
    return None


class _Reader:
    """A minimal read-only file object over a Cursor, for gzip.GzipFile / lzma.LZMAFile."""

    def __init__(self, cur: Cursor) -> None:
        self._cur = cur

    def read(self, n: int = -1) -> bytes:
        return self._cur.read(CHUNK if n is None or n < 0 else n)

    def readable(self) -> bool:
        return True


def iter_decoded(cur: Cursor, on_break: Break) -> Iterator[bytes]:
    """A whole file, decompressed by its magic bytes and transcoded to UTF-8 (BOM removed)."""
    cur.seek(0)
    compression = compression_of(cur.peek(16), cur.uri)
    raw: Iterator[bytes]
    if compression == "bz2":
        raw = (c.data for c in iter_bz2(cur, 0, scan=False, on_break=on_break))
    elif compression in ("gzip", "xz"):
        raw = _iter_filelike(cur, compression, on_break)
    else:
        raw = cur.chunks()
    return to_utf8(raw)


def _iter_filelike(cur: Cursor, compression: str, on_break: Break) -> Iterator[bytes]:
    src = cast(IO[bytes], _Reader(cur))
    if compression == "gzip":
        with gzip.GzipFile(fileobj=src, mode="rb") as gz:
            yield from _read1_all(gz, compression, on_break)
    else:
        with lzma.LZMAFile(src) as xz:
            yield from _read1_all(xz, compression, on_break)


def _read1_all(f: gzip.GzipFile | lzma.LZMAFile, compression: str,
               on_break: Break) -> Iterator[bytes]:
    produced = 0
    while True:
        try:
            data = f.read1(OUT_MAX)   # read() would drop the data decoded before a break
        except EOFError:
            on_break("truncated", f"{compression} data ends early (file cut off)", produced)
            return
        except (OSError, lzma.LZMAError, zlib.error, ValueError) as e:
            on_break("corrupt", f"{compression} data corrupt after {produced} "
                     f"decompressed bytes ({e})", produced)
            return
        if not data:
            return
        produced += len(data)
        yield data


def to_utf8(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Strip a UTF-8 BOM, or transcode UTF-16 with a BOM; other bytes pass unchanged."""
    first = b""
    for data in chunks:
        first += data
        if len(first) >= 4:
            break
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        dec = codecs.getincrementaldecoder("utf-16")(errors="replace")
        yield dec.decode(first).encode("utf-8")
        for data in chunks:
            yield dec.decode(data).encode("utf-8")
        yield dec.decode(b"", final=True).encode("utf-8")
        return
    if first.startswith(codecs.BOM_UTF8):
        first = first[3:]
    if first:
        yield first
    yield from chunks


def has_utf16_bom(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
