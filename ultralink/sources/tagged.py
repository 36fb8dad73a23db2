"""Read one unit of a tag-delimited file (MediaWiki XML, wikiextractor ``<doc>``) as Pages.

The three ways a unit is laid out (a plain byte range, the bz2 streams of a multistream
range, a whole compressed file) differ only in how bytes reach the record splitter and how
a break is located in a log line; this module holds those three feeds, one reporter that
counts and names every problem, and the format description each reader supplies.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow.fs as pafs

from ultralink.core.counters import Counters
from ultralink.core.records import Page
from ultralink.sources.byteio import Cursor, compression_of
from ultralink.sources.decompress import has_utf16_bom, iter_bz2, iter_decoded
from ultralink.sources.input_unit import InputError, InputUnit, Log
from ultralink.sources.record_splitter import Record, RecordSplitter


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
