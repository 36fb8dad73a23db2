"""Row-shaped inputs with ``id``, ``title``, ``text`` (optional ``url``): JSON lines (including
wikiextractor ``--json`` output) and Parquet. Already plain text, so ``markup="plain"``.

Plain JSONL splits by byte range at line starts (Hadoop's LineRecordReader rule: a unit owns
the lines that start inside it); compressed JSONL is one unit. Parquet units are runs of row
groups of about ``unit_bytes`` compressed bytes; a corrupt row group costs only itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ultralink.core.counters import Counters
from ultralink.core.records import Page
from ultralink.sources.byteio import MAX_RECORD, Cursor, compression_of
from ultralink.sources.decompress import has_utf16_bom, iter_decoded
from ultralink.sources.input_unit import InputError, InputUnit, Log
from ultralink.sources.tagged import Reporter
from ultralink.sources.wikiextractor import strip_title_line

REQUIRED = ("id", "title", "text")


def page_from_row(row: dict[str, Any], unit: InputUnit, *, strip_title: bool = False) -> Page | str:
    """A JSON object or Parquet row as a Page, or the reason it cannot be one."""
    values: dict[str, str] = {}
    for key in (*REQUIRED, "url"):
        v = row.get(key)
        if v is None:
            if key == "url":
                continue
            return f"missing {key!r}"
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif key == "id" and isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str):
            return f"{key!r} is {type(v).__name__}, not a string"
        values[key] = v
    if not values["id"].strip():
        return "empty 'id'"
    if not values["title"].strip():
        return "empty 'title'"
    text = strip_title_line(values["text"], values["title"]) if strip_title else values["text"]
    return Page(page_id=values["id"].strip(), title=values["title"].strip(), text=text,
                source_file=unit.uri, markup="plain", url=values.get("url", ""))


# --------------------------------------------------------------------------- JSON lines

def read_jsonl(unit: InputUnit, fs: pafs.FileSystem, path: str, counters: Counters,
               log: Log) -> Iterator[Page]:
    rep = Reporter(unit.uri, counters, log)
    strip_title = unit.kind == "wikiextractor-json"
    with Cursor(fs, path, unit.uri) as cur:
        head = cur.peek(16)
        splittable = compression_of(head, unit.uri) == "" and not has_utf16_bom(head)
        if splittable:
            first = max(unit.start - 1, 0)   # a unit owns the lines that start inside it
            cur.seek(first)
            lines = _lines(cur.chunks(), first, None if unit.end < 0 else unit.end,
                           skip_first=unit.start > 0)
        elif unit.start != 0 or unit.end != -1:
            raise InputError(unit.uri, f"unit {unit.index} is a byte range but the file is "
                             "compressed and cannot be split (changed since planning?)")
        else:
            def on_break(kind: str, detail: str, at: int) -> None:
                rep.error(kind, f"{detail}; {n} lines before it were read")

            lines = _lines(iter_decoded(cur, on_break), 0, None, skip_first=False)
        n = 0
        for offset, line in lines:
            n += 1
            where = f"line {n}" if unit.start == 0 else f"line at byte {offset}"
            if not line.strip():
                continue
            if len(line) > MAX_RECORD:
                rep.skip(f"{where}: longer than {MAX_RECORD >> 20} MB")
                continue
            try:
                obj = json.loads(line.decode("utf-8", "replace").lstrip("\ufeff"))
            except ValueError as e:
                rep.skip(f"{where}: malformed JSON ({e})")
                continue
            page = page_from_row(obj, unit, strip_title=strip_title) if isinstance(obj, dict) \
                else "not a JSON object"
            if isinstance(page, str):
                rep.skip(f"{where}: {page}")
                continue
            counters.add("pages_read")
            yield page


def _lines(chunks: Iterator[bytes], offset: int, limit: int | None,
           *, skip_first: bool) -> Iterator[tuple[int, bytes]]:
    """``(start offset, line without newline)`` for lines starting before ``limit``."""
    buf, base = b"", offset
    for data in chunks:
        buf += data
        start = 0
        if skip_first:
            i = buf.find(b"\n")
            if i < 0:
                base, buf = base + len(buf), b""
                continue
            start, skip_first = i + 1, False
        while limit is None or base + start < limit:
            j = buf.find(b"\n", start)
            if j < 0:
                break
            yield base + start, buf[start:j]
            start = j + 1
        else:
            return
        buf, base = buf[start:], base + start
        if len(buf) > MAX_RECORD:   # give up on this line; the next newline starts afresh
            yield base, buf
            buf, base, skip_first = b"", base + len(buf), True
    if buf and not skip_first and (limit is None or base < limit):
        yield base, buf


# --------------------------------------------------------------------------- Parquet

def _open_parquet(fs: pafs.FileSystem, path: str, uri: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(fs.open_input_file(path))
    except FileNotFoundError:
        raise InputError(uri, "no such file") from None
    except (pa.ArrowException, OSError) as e:
        raise InputError(uri, f"not a readable Parquet file ({e})") from None


def plan_parquet(fs: pafs.FileSystem, path: str, uri: str, unit_bytes: int) -> list[InputUnit]:
    """Runs of row groups of about ``unit_bytes`` compressed bytes; checks columns first."""
    with _open_parquet(fs, path, uri) as pf:
        return _plan_row_groups(pf, uri, unit_bytes)


def _plan_row_groups(pf: pq.ParquetFile, uri: str, unit_bytes: int) -> list[InputUnit]:
    names = pf.schema_arrow.names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InputError(uri, f"Parquet file lacks column(s) {', '.join(missing)} "
                         f"(has: {', '.join(names)})")
    md = pf.metadata
    units: list[InputUnit] = []
    first, size = 0, 0
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        size += sum(rg.column(c).total_compressed_size for c in range(rg.num_columns))
        if size >= unit_bytes or i == md.num_row_groups - 1:
            units.append(InputUnit(uri, "parquet", len(units), first, i + 1))
            first, size = i + 1, 0
    return units or [InputUnit(uri, "parquet", 0, 0, 0)]


def read_parquet(unit: InputUnit, fs: pafs.FileSystem, path: str, counters: Counters,
                 log: Log) -> Iterator[Page]:
    with _open_parquet(fs, path, unit.uri) as pf:
        yield from _read_row_groups(pf, unit, Reporter(unit.uri, counters, log), counters)


def _read_row_groups(pf: pq.ParquetFile, unit: InputUnit, rep: Reporter,
                     counters: Counters) -> Iterator[Page]:
    """Row group by row group, so a corrupt group costs only itself and memory stays small."""
    md = pf.metadata
    end = md.num_row_groups if unit.end < 0 else min(unit.end, md.num_row_groups)
    columns = [c for c in (*REQUIRED, "url") if c in pf.schema_arrow.names]
    first = sum(md.row_group(i).num_rows for i in range(unit.start))
    for group in range(unit.start, end):
        row = first
        try:
            for batch in pf.iter_batches(batch_size=1024, row_groups=[group], columns=columns):
                for rec in batch.to_pylist():
                    row += 1
                    page = page_from_row(rec, unit)
                    if isinstance(page, str):
                        rep.skip(f"row {row}: {page}")
                        continue
                    counters.add("pages_read")
                    yield page
        except (pa.ArrowException, OSError) as e:
            rep.error("corrupt", f"row group {group} unreadable after row {row} ({e}); "
                      "skipped the rest of the group")
        first += md.row_group(group).num_rows
