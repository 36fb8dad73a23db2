"""Input units (independently readable byte ranges or row groups of one file) and the
byte-level plumbing every input reader shares.

A dump of tens of GB must become many small, deterministic work units (DESIGN.md, "Resume
and idempotence"), and every reader needs the same content sniffing, decompression and record
splitting. Breaks in the data (truncation, corruption) are reported through a callback, never
raised, so the records before a break still reach the pipeline.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import re
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, cast

import pyarrow.fs as pafs

from ultralink.core.counters import Counters
from ultralink.core.records import Page
from ultralink.core.ids import digest

CHUNK = 1 << 20            # raw bytes per read
OUT_MAX = 1 << 20          # most decompressed bytes per decompressor call (bounds memory)
MAX_RECORD = 64 << 20      # a record larger than this is treated as broken (bounds memory)

KINDS = ("mediawiki", "mediawiki-multistream", "wikiextractor", "wikiextractor-json",
         "jsonl", "parquet")

BZ2_STREAM = re.compile(rb"BZh[1-9]1AY&SY")   # stream header + first block magic, byte-aligned
_MAGIC = {b"BZh": "bz2", b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz"}
_UNSUPPORTED = {b"PK\x03\x04": "a zip archive (unpack it first)",
                b"\x28\xb5\x2f\xfd": "zstd-compressed (decompress it first, or recompress as bz2)",
                b"7z\xbc\xaf\x27\x1c": "a 7z archive (unpack it first)"}

Log = Callable[[str], None]
Break = Callable[[str, str, int], None]   # (kind "truncated"|"corrupt", detail, where)


@dataclass(frozen=True, slots=True)
class InputUnit:
    """One independently readable piece of one input file; picklable and deterministic."""

    uri: str            # the input as the user named it (local path or s3://...)
    kind: str           # one of KINDS
    index: int          # position of this unit within the file
    start: int = 0      # byte offset / first row group
    end: int = -1       # exclusive; -1 = to the end
    siteinfo_base: str = ""   # URL prefix for titles, e.g. "https://ru.wikipedia.org/wiki/"
    version: str = ""   # the input's identity (size + mtime / ETag): a changed file, new units

    @property
    def unit_id(self) -> str:
        """Stable, filesystem-safe name for this unit's outputs and manifest entry."""
        parts = (self.uri, self.kind, str(self.index), str(self.start), str(self.end))
        return digest(*parts, *((self.version,) if self.version else ()))


class InputError(Exception):
    """An input that cannot be read at all; the caller reports it and goes on."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(uri, reason)   # args kept as (uri, reason) so it pickles across Ray
        self.uri = uri
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.uri}: {self.reason}"


# --------------------------------------------------------------------------- raw access

class Cursor:
    """Sequential reads over a seekable pyarrow file, with push-back and known offsets.

    I/O failures become :class:`InputError` (not ``OSError``), so they are never mistaken for
    corrupt compressed data by the decompressors, which signal that with ``OSError``.
    """

    def __init__(self, fs: pafs.FileSystem, path: str, uri: str) -> None:
        self.uri = uri
        try:
            self._f = fs.open_input_file(path)
            self.size = self._f.size()
        except FileNotFoundError:
            raise InputError(uri, "no such file") from None
        except OSError as e:
            raise InputError(uri, f"cannot open: {e}") from None
        self._buf = b""
        self.offset = 0          # file offset of the next byte read() returns

    def read(self, n: int = CHUNK) -> bytes:
        if self._buf:
            out, self._buf = self._buf[:n], self._buf[n:]
        else:
            try:
                out = self._f.read(n)
            except OSError as e:
                raise InputError(self.uri, f"read failed at byte {self.offset}: {e}") from None
        self.offset += len(out)
        return out

    def unread(self, data: bytes) -> None:
        self._buf = data + self._buf
        self.offset -= len(data)

    def peek(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            more = self.read(n - len(data))
            if not more:
                break
            data += more
        self.unread(data)
        return data

    def seek(self, offset: int) -> None:
        if offset == self.offset:
            return
        self._buf = b""
        try:
            self._f.seek(offset)
        except OSError as e:
            raise InputError(self.uri, f"seek to byte {offset} failed: {e}") from None
        self.offset = offset

    def chunks(self) -> Iterator[bytes]:
        while data := self.read(CHUNK):
            yield data

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> Cursor:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def compression_of(head: bytes, uri: str) -> str:
    """``""``, ``"bz2"``, ``"gzip"`` or ``"xz"`` from magic bytes; unsupported formats raise."""
    for magic, name in _UNSUPPORTED.items():
        if head.startswith(magic):
            raise InputError(uri, f"content is {name}")
    if head.startswith(b"BZh"):
        # a stream header with its first block, or an empty stream (end-of-stream magic)
        return "bz2" if BZ2_STREAM.match(head) or head[4:10] == b"\x17rE8P\x90" else ""
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return ""


# --------------------------------------------------------------------------- decompression

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


# --------------------------------------------------------------------------- record splitting

@dataclass(slots=True)
class Record:
    offset: int        # position of the opener in the splitter's coordinates
    data: bytes        # opener … closer inclusive (or the broken prefix when not complete)
    complete: bool     # False: another opener (or the size cap) came before the closer


class RecordSplitter:
    """Cuts a byte stream into ``opener … closer`` records at tag level, without a parser.

    For MediaWiki exports this is exact: ``<`` is always escaped inside text, so ``<page`` and
    ``</page>`` occur only as tags. Working on bytes makes a byte range, a run of bz2 streams
    and a whole file the same problem, needs no root element, and lets one broken page cost
    only itself. Records whose opener lies at or after ``limit`` are left to the next unit
    (Hadoop-style splits); a record that starts before it is read to its end.
    """

    def __init__(self, opener: bytes, closer: bytes, *, offset: int = 0, limit: int | None = None,
                 follow: bytes = b" \t\r\n>", trailer: bytes = b"") -> None:
        self.opener, self.closer, self.trailer = opener, closer, trailer
        self._follow = follow
        self._tail = max(len(opener), len(closer), len(trailer)) + 1   # bytes kept for a split tag
        self._buf = b""
        self._base = offset      # coordinate of _buf[0]
        self._pos = 0            # next index of _buf to scan
        self._open = -1          # index of the open record's opener, -1 when none
        self.limit = limit
        self.done = False        # past the limit with no record open: stop feeding
        self.saw_closer = False  # a closer was seen (own record or the tail of an earlier one)
        self.saw_trailer = False
        self.records = 0

    @property
    def fed_end(self) -> int:
        """Coordinate just after the last byte fed."""
        return self._base + len(self._buf)

    @property
    def idle(self) -> bool:
        """No record open and no partial tag pending: stopping here loses nothing."""
        return self._open < 0 and b"<" not in self._buf[self._pos:]

    def reset(self, offset: int | None = None) -> None:
        """Forget buffered bytes (after a gap in the data); an open record is void."""
        base = self.fed_end if offset is None else offset
        self._buf, self._base, self._pos, self._open = b"", base, 0, -1

    def feed(self, data: bytes) -> Iterator[Record]:
        if self.done:
            return
        keep = self._open if self._open >= 0 else self._pos
        self._buf = self._buf[keep:] + data
        self._base += keep
        self._pos -= keep
        self._open = min(0, self._open)
        yield from self._scan(final=False)

    def finish(self) -> Record | None:
        """At end of data: the open record, if any (a truncated one), after checking the tail."""
        if self.done:
            return None
        for _ in self._scan(final=True):   # no new data: nothing completes, tail is inspected
            pass
        if self._open >= 0:
            return Record(self._base + self._open, self._buf[self._open:], False)
        self._inspect_gap(self._buf[self._pos:])
        return None

    def _find_opener(self, start: int, stop: int, final: bool) -> tuple[int, bool]:
        """``(index, sure)`` of the next opener in [start, stop); index -1 when none.

        ``sure`` is False when the opener ends the buffer, so the byte that tells ``<page>``
        from ``<pages`` has not arrived yet.
        """
        buf, n = self._buf, len(self.opener)
        while True:
            i = buf.find(self.opener, start, stop)
            if i < 0:
                return -1, True
            if i + n >= len(buf):
                return (-1, True) if final else (i, False)
            if buf[i + n] in self._follow:
                return i, True
            start = i + 1

    def _inspect_gap(self, gap: bytes) -> None:
        if not self.saw_closer and self.closer in gap:
            self.saw_closer = True
        if self.trailer and not self.saw_trailer and self.trailer in gap:
            self.saw_trailer = True

    def _scan(self, final: bool) -> Iterator[Record]:
        buf = self._buf
        while True:
            if self._open < 0:
                i, sure = self._find_opener(self._pos, len(buf), final)
                if not sure:                     # wait for the byte after the opener
                    self._inspect_gap(buf[self._pos:i])
                    self._pos = i
                    return
                if i < 0:
                    self._inspect_gap(buf[self._pos:])
                    self._pos = max(self._pos, len(buf) - self._tail)
                    if self.limit is not None and self._base + self._pos >= self.limit:
                        self.done = True
                    return
                self._inspect_gap(buf[self._pos:i])
                if self.limit is not None and self._base + i >= self.limit:
                    self.done = True
                    return
                self._open, self._pos = i, i + len(self.opener)
            j = buf.find(self.closer, self._pos)
            if j < 0:
                if len(buf) - self._open > MAX_RECORD:
                    yield Record(self._base + self._open, buf[self._open:self._open + 4096], False)
                    self._pos, self._open = len(buf), -1
                    continue
                self._pos = max(self._pos, len(buf) - len(self.closer) + 1)
                return
            k, _ = self._find_opener(self._open + len(self.opener), j, True)
            if k >= 0:   # a new record began before this one closed: this one is broken
                yield Record(self._base + self._open, buf[self._open:k], False)
                self._open, self._pos = k, k + len(self.opener)
                continue
            end = j + len(self.closer)
            self.records += 1
            self.saw_closer = True
            yield Record(self._base + self._open, buf[self._open:end], True)
            self._open, self._pos = -1, end


# --------------------------------------------------------------------------- tagged formats

@dataclass(frozen=True, slots=True)
class TagFormat:
    """What a tag-delimited text format looks like, and how one record becomes a Page."""

    opener: bytes                                   # b"<page"
    closer: bytes                                   # b"</page>"
    noun: str                                       # "page" (for log lines)
    label: Callable[[bytes], str]                   # short name of a record for log lines
    parse: Callable[[bytes, InputUnit], Page | str]      # a Page, or the reason it was skipped
    trailer: bytes = b""                            # b"</mediawiki" when the format has one
    follow: bytes = b" \t\r\n>"

    def splitter(self, offset: int = 0, limit: int | None = None) -> RecordSplitter:
        return RecordSplitter(self.opener, self.closer, offset=offset, limit=limit,
                              follow=self.follow, trailer=self.trailer)


class Reporter:
    """One log line and one counter per problem, naming the file (and record)."""

    def __init__(self, uri: str, counters: Counters, log: Log) -> None:
        self.uri, self.counters, self.log = uri, counters, log

    def error(self, kind: str, detail: str) -> None:
        self.counters.add("errors_" + kind)
        self.log(f"{self.uri}: {kind}: {detail}")

    def skip(self, detail: str) -> None:
        self.counters.drop("parse_error")
        self.log(f"{self.uri}: skipped {detail}")


def read_tagged(unit: InputUnit, fs: pafs.FileSystem, path: str, fmt: TagFormat,
                counters: Counters, log: Log) -> Iterator[Page]:
    """Read one unit of a tag-delimited file (MediaWiki XML, wikiextractor ``<doc>``).

    Plain UTF-8 files are read over the unit's byte range; ``*-multistream`` units decompress
    the bz2 streams that start in their range; anything else is one whole-file unit.
    """
    rep = Reporter(unit.uri, counters, log)
    with Cursor(fs, path, unit.uri) as cur:
        head = cur.peek(16)
        compression = compression_of(head, unit.uri)
        if unit.kind.endswith("-multistream"):
            records = _multistream_records(unit, cur, fmt, rep)
        elif compression == "" and not has_utf16_bom(head):
            records = _range_records(unit, cur, fmt, rep)
        elif unit.start != 0 or unit.end != -1:
            raise InputError(unit.uri, f"unit {unit.index} is a byte range but the file is "
                             f"{compression or 'UTF-16'} and cannot be split (changed since "
                             "planning?)")
        else:
            records = _whole_records(unit, cur, fmt, rep, compression)
        for rec, where in records:
            name = f"{fmt.noun} {fmt.label(rec.data)} at {where}"
            if not rec.complete:
                rep.skip(f"{name}: no closing {fmt.closer.decode()} before the next "
                         f"{fmt.opener.decode()}>")
                continue
            page = fmt.parse(rec.data, unit)
            if isinstance(page, str):
                rep.skip(f"{name}: {page}")
                continue
            counters.add("pages_read")
            yield page


def _finish(sp: RecordSplitter, unit: InputUnit, fmt: TagFormat, rep: Reporter, where: str) -> None:
    """At the true end of the file: report a record cut off, or a missing closing tag."""
    rec = sp.finish()
    if rec is not None:
        rep.error("truncated", f"file ends inside {fmt.noun} {fmt.label(rec.data)} ({where}); "
                  f"{sp.records} complete {fmt.noun}s before it were read")
    elif fmt.trailer and not sp.saw_trailer and (sp.saw_closer or unit.start == 0):
        rep.error("truncated", f"no closing {fmt.trailer.decode()}> at the end (file cut off "
                  f"between {fmt.noun}s?); {sp.records} {fmt.noun}s read")


def _range_records(unit: InputUnit, cur: Cursor, fmt: TagFormat,
                   rep: Reporter) -> Iterator[tuple[Record, str]]:
    sp = fmt.splitter(unit.start, None if unit.end < 0 else unit.end)
    cur.seek(unit.start)
    for data in cur.chunks():
        for rec in sp.feed(data):
            yield rec, f"byte {rec.offset}"
        if sp.done:
            return
    _finish(sp, unit, fmt, rep, "end of file")


def _whole_records(unit: InputUnit, cur: Cursor, fmt: TagFormat, rep: Reporter,
                   compression: str) -> Iterator[tuple[Record, str]]:
    sp = fmt.splitter()
    broke = False

    def on_break(kind: str, detail: str, at: int) -> None:
        nonlocal broke
        broke = True
        rep.error(kind, f"{detail}; {sp.records} {fmt.noun}s before it were read")

    unit_of = "decompressed byte" if compression else "byte (after UTF-16 to UTF-8)"
    for data in iter_decoded(cur, on_break):
        for rec in sp.feed(data):
            yield rec, f"{unit_of} {rec.offset}"
    if not broke:
        _finish(sp, unit, fmt, rep, "end of file")


def _multistream_records(unit: InputUnit, cur: Cursor, fmt: TagFormat,
                         rep: Reporter) -> Iterator[tuple[Record, str]]:
    end = None if unit.end < 0 else unit.end
    sp = fmt.splitter()
    starts: list[int] = []      # splitter coordinate where each stream's data begins
    streams: list[int] = []     # that stream's compressed offset
    foreign = False             # a break in a stream owned by the next unit: stop, it reports
    broke_last = False

    def on_break(kind: str, detail: str, at: int) -> None:
        nonlocal foreign, broke_last
        if end is not None and at >= end:
            foreign = True
            return
        broke_last = True
        rep.error(kind, f"{detail}; {sp.records} {fmt.noun}s read before it in this unit")

    def where(offset: int) -> str:
        i = bisect_right(starts, offset) - 1
        return f"bz2 stream at byte {streams[i]}" if i >= 0 else "start of unit"

    for ch in iter_bz2(cur, unit.start, scan=True, on_break=on_break):
        if foreign:
            return
        if ch.resumed:
            sp.reset()
        if not ch.data:                       # a new stream begins here
            if end is not None and ch.stream >= end and sp.limit is None:
                if sp.idle:
                    return
                sp.limit = sp.fed_end         # only finish the record already open
            starts.append(sp.fed_end)
            streams.append(ch.stream)
            continue
        broke_last = False
        for rec in sp.feed(ch.data):
            yield rec, where(rec.offset)
        if sp.done:
            return
    if not foreign and not broke_last and streams:
        _finish(sp, unit, fmt, rep, "end of file")
