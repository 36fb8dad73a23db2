"""Cut a byte stream into ``opener … closer`` records at tag level, without an XML parser.

A byte range, a run of bz2 streams and a whole file become the same problem; one broken
record costs only itself, and records that start past a unit's limit are left to the next
unit (Hadoop-style splits).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ultralink.sources.byteio import MAX_RECORD


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
