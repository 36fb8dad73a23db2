"""Knowledge inputs of ``ultralink prepare``: plan each file into work units, read a unit.

Formats are recognised by content (magic bytes, then the first characters), never by the
file name alone:

==========================  =====================================  ===========================
content                     kind                                   units
==========================  =====================================  ===========================
MediaWiki XML, plain UTF-8  ``mediawiki``                          byte ranges (Hadoop-style)
MediaWiki XML, multistream  ``mediawiki-multistream``              byte ranges of bz2 streams
bz2
MediaWiki XML, other        ``mediawiki``                          one per file
(gz, xz, single bz2, UTF-16)
wikiextractor ``<doc>``     ``wikiextractor``                      byte ranges if plain, else 1
wikiextractor ``--json``    ``wikiextractor-json``                 byte ranges if plain, else 1
JSON lines (id/title/text)  ``jsonl``                              byte ranges if plain, else 1
Parquet (id/title/text)     ``parquet``                            runs of row groups
==========================  =====================================  ===========================

Planning reads only the head of each file (and, for bz2, its first stream), so it stays cheap
on multi-GB dumps on S3. Multistream units find their first stream start themselves by
scanning for the byte-aligned stream header from their range start; see :func:`read_unit`.

Example::

    from ultralink.core.fs import resolve
    loc = resolve("s3://dumps/ruwiki-latest-pages-articles-multistream.xml.bz2")
    for unit in plan_units(loc, 64 << 20):           # on the driver
        for page in read_unit(unit, loc.fs, loc.path, counters, print):   # in a task
            ...
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyarrow.fs as pafs

from ultralink.core.counters import Counters
from ultralink.core.fs import Location
from ultralink.core.records import Page
from ultralink.sources import mediawiki, tabular
from ultralink.sources.mediawiki import PAGE_FORMAT
from ultralink.sources.byteio import Cursor, compression_of
from ultralink.sources.decompress import has_utf16_bom, iter_decoded, to_utf8
from ultralink.sources.input_unit import KINDS, InputError, InputUnit, Log
from ultralink.sources.tagged import read_tagged
from ultralink.sources.wikiextractor import DOC_FORMAT

__all__ = ["KINDS", "InputError", "InputUnit", "plan_units", "read_unit"]

_HEAD = 256 << 10
_FIRST_TAG = re.compile(r"(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*"
                        r"<([A-Za-z_][\w.:-]*)", re.DOTALL)
_EXTRACTOR_JSON = re.compile(r'\{"id":\s*"\d+",\s*(?:"revid":\s*"\d*",\s*)?"url":')


def plan_units(loc: Location, unit_bytes: int) -> list[InputUnit]:
    """Split one input file into deterministic work units (same file, same units).

    Raises :class:`InputError` for a missing, empty, unrecognised or unreadable file.
    """
    if unit_bytes <= 0:
        raise ValueError("unit_bytes must be positive")
    try:
        info = loc.fs.get_file_info(loc.path)
    except OSError as e:
        raise InputError(loc.uri, f"cannot stat: {e}") from None
    if info.type == pafs.FileType.NotFound:
        raise InputError(loc.uri, "no such file")
    if info.type != pafs.FileType.File:
        raise InputError(loc.uri, "not a regular file")
    if not info.size:
        raise InputError(loc.uri, "empty file")
    with Cursor(loc.fs, loc.path, loc.uri) as cur:
        raw = cur.peek(16)
        if raw.startswith(b"PAR1"):
            return tabular.plan_parquet(loc.fs, loc.path, loc.uri, unit_bytes)
        compression = compression_of(raw, loc.uri)
        multistream = False
        if compression == "bz2":
            head, multistream = mediawiki.bz2_head(cur)
            head = b"".join(to_utf8(iter([head])))
        else:
            head = _decoded_head(cur)
        text = head.decode("utf-8", "replace")
        kind = _content_kind(text, raw, loc.uri)
        splittable = compression == "" and not has_utf16_bom(raw)
        base = ""
        if kind == "mediawiki":
            base = mediawiki.siteinfo_base(text)
            if multistream:
                kind = "mediawiki-multistream"
        if kind == "mediawiki-multistream" or splittable:
            return _ranges(loc.uri, kind, info.size, unit_bytes, base)
        return [InputUnit(loc.uri, kind, 0, 0, -1, base)]


def read_unit(unit: InputUnit, fs: pafs.FileSystem, path: str, counters: Counters,
              log: Log) -> Iterator[Page]:
    """Yield the pages of one unit; counts ``pages_read``, drops and errors in ``counters``.

    Bad records are skipped with one log line each (``dropped_parse_error``); a file cut off
    or corrupt mid-read yields everything before the break and logs it once
    (``errors_truncated`` / ``errors_corrupt``). A multistream unit that meets a corrupt bz2
    stream resumes at the next stream. Raises :class:`InputError` only when the file cannot
    be opened or read (I/O), so that the task can be retried.
    """
    if unit.kind in ("mediawiki", "mediawiki-multistream"):
        yield from read_tagged(unit, fs, path, PAGE_FORMAT, counters, log)
    elif unit.kind == "wikiextractor":
        yield from read_tagged(unit, fs, path, DOC_FORMAT, counters, log)
    elif unit.kind in ("jsonl", "wikiextractor-json"):
        yield from tabular.read_jsonl(unit, fs, path, counters, log)
    elif unit.kind == "parquet":
        yield from tabular.read_parquet(unit, fs, path, counters, log)
    else:
        raise InputError(unit.uri, f"unknown unit kind {unit.kind!r} (expected one of {KINDS})")


def _ranges(uri: str, kind: str, size: int, unit_bytes: int, base: str) -> list[InputUnit]:
    n = max(1, -(-size // unit_bytes))
    return [InputUnit(uri, kind, i, i * unit_bytes, -1 if i == n - 1 else (i + 1) * unit_bytes, base)
            for i in range(n)]


def _decoded_head(cur: Cursor) -> bytes:
    """The first ~256 KB after decompression and transcoding to UTF-8."""
    errors: list[str] = []

    def on_break(kind: str, detail: str, at: int) -> None:
        errors.append(detail)

    head = b""
    for data in iter_decoded(cur, on_break):
        head += data
        if len(head) >= _HEAD:
            break
    if not head and errors:
        raise InputError(cur.uri, errors[0])
    return head[:_HEAD]


def _content_kind(text: str, raw: bytes, uri: str) -> str:
    """The unit kind for a file whose decoded head is ``text``."""
    t = text.lstrip("\ufeff \t\r\n")
    if not t:
        raise InputError(uri, "no content (empty after decompression, or only whitespace)")
    if t.startswith("<"):
        m = _FIRST_TAG.match(t)
        name = m.group(1).rpartition(":")[2].lower() if m else ""
        if name in ("mediawiki", "page", "siteinfo"):
            return "mediawiki"
        if name == "doc":
            return "wikiextractor"
        what = f"<{name}>" if name else repr(t[:20])
        raise InputError(uri, f"markup starting with {what} is neither a MediaWiki XML export "
                         "nor wikiextractor <doc> output")
    if t.startswith("{"):
        return "wikiextractor-json" if _EXTRACTOR_JSON.match(t) else "jsonl"
    if t.startswith("["):
        raise InputError(uri, "a JSON array; expected JSON lines (one object per line)")
    raise InputError(uri, f"unrecognised content (starts with {raw[:12]!r}); expected MediaWiki "
                     "XML, wikiextractor output, JSON lines or Parquet")
