"""Raw SFT records from one file, streamed: a JSON list, a single JSON object, JSONL or Parquet.

A 1 GB ShareGPT list must never sit whole in one worker's memory, and a malformed line must
be skipped with ``file:line`` and its reason, and counted, never silently lost. A record over
``max_bytes`` (default: the XML readers' cap) is dropped with its size, never written: a JSONL
line is never read whole past the cap; a list element or Parquet row is measured once built
(it sits in this worker alone, never in the driver).
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq

from ultralink.core.counters import Counters
from ultralink.core.fs import Location
from ultralink.sources.byteio import MAX_RECORD
from ultralink.sources.input_unit import Log


def iter_records(loc: Location, counters: Counters, log: Log, max_bytes: int = MAX_RECORD
                 ) -> Iterator[tuple[int, dict]]:
    """``(line_or_index, record)`` from a JSON list, a single JSON object, JSONL or Parquet.

    Streams every form (Parquet by record batch, a JSON list element by element with ijson,
    JSONL line by line), so a 1 GB ShareGPT list never sits whole in one worker's memory; a
    JSONL line that does not parse (the first included) is skipped and counted; a JSON list
    or object broken half-way yields its records up to the break, then raises
    ``ValueError``."""
    with loc.fs.open_input_file(loc.path) as f:
        head = f.read(4)
        f.seek(0)
        if head == b"PAR1":
            index = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    size = _text_bytes(row)
                    if size > max_bytes:
                        _too_large(counters, log, f"{loc.uri}:{index}", size, max_bytes)
                    else:
                        yield index, row
                    index += 1
            return
        if head.startswith(BOM):
            f.seek(len(BOM))
        first = _first_char(f)
        if first == "[":
            yield from _json_list(f, loc, counters, log, max_bytes)
            return
        text = io.TextIOWrapper(f, encoding="utf-8", errors="replace")
        lines = _capped_lines(text, max_bytes)
        head = [next(lines, "")]
        if first == "{" and isinstance(head[0], str) and head[0].strip() and not _is_json(head[0]):
            head += _peek_lines(lines)
            if not any(isinstance(line, str) and line.startswith("{") and _is_object(line)
                       for line in head[1:]):
                # no unindented line parses on its own: one (pretty-printed) JSON object
                if f.size() > max_bytes:
                    _too_large(counters, log, f"{loc.uri}:1", f.size(), max_bytes)
                    return
                try:
                    obj = json.loads("".join(head) + text.read())
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{loc.uri}: invalid JSON ({exc})") from None
                yield 0, obj
                return
        # JSON lines: a bad line, the first included, is skipped with file:line
        for lineno, line in enumerate(itertools.chain(head, lines), 1):
            if isinstance(line, int):
                _too_large(counters, log, f"{loc.uri}:{lineno}", line, max_bytes)
                continue
            rec = _jsonl_record(line, f"{loc.uri}:{lineno}", counters, log)
            if rec is not None:
                yield lineno, rec


BOM = b"\xef\xbb\xbf"


def _first_char(f: Any) -> str:
    """The first non-blank character of a binary file, which is then rewound to its start
    (after a BOM)."""
    start = f.tell()
    while chunk := f.read(4096):
        stripped = chunk.lstrip()
        if stripped:
            f.seek(start)
            return stripped[:1].decode("utf-8", errors="replace")
    f.seek(start)
    return ""


PEEK_LINES = 8


def _peek_lines(lines: Iterator[str | int]) -> list[str | int]:
    """Up to :data:`PEEK_LINES` more non-blank lines: enough to tell JSON lines whose first
    line is broken (a later line, unindented, parses on its own) from one pretty-printed
    object (its inner lines are indented), so one bad line never turns a JSONL file into a
    whole-file parse."""
    out: list[str | int] = []
    while sum(1 for x in out if not isinstance(x, str) or x.strip()) < PEEK_LINES:
        line = next(lines, None)
        if line is None:
            break
        out.append(line)
    return out


def _capped_lines(text: Any, max_bytes: int) -> Iterator[str | int]:
    """The file's lines; a line longer than ``max_bytes`` characters comes as its length (an
    int), read past in pieces and never held whole."""
    while line := text.readline(max_bytes + 1):
        if len(line) <= max_bytes or line.endswith("\n"):
            yield line
            continue
        size = len(line)
        while (piece := text.readline(1 << 20)) and not piece.endswith("\n"):
            size += len(piece)
        yield size + len(piece)


def _text_bytes(value: Any) -> int:
    """About the size of a record: the characters of its strings, recursively."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(k) + _text_bytes(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(_text_bytes(v) for v in value)
    return 8


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _json_list(f: Any, loc: Location, counters: Counters, log: Log, max_bytes: int
               ) -> Iterator[tuple[int, dict]]:
    import ijson

    i = -1
    try:
        for i, rec in enumerate(ijson.items(f, "item", use_float=True)):
            if isinstance(rec, dict) and (size := _text_bytes(rec)) > max_bytes:
                _too_large(counters, log, f"{loc.uri}:{i}", size, max_bytes)
            elif isinstance(rec, dict):
                yield i, rec
            else:
                _skip(counters, log, f"{loc.uri}:{i}", "record is not an object")
    except ijson.JSONError as exc:
        raise ValueError(f"{loc.uri}: invalid JSON list after element {i} ({exc})") from None


def _jsonl_record(line: str, where: str, counters: Counters, log: Log) -> dict | None:
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        _skip(counters, log, where, f"malformed JSON ({exc.msg})")
        return None
    if not isinstance(rec, dict):
        _skip(counters, log, where, "record is not an object")
        return None
    return rec


def _too_large(counters: Counters, log: Log, where: str, size: int, cap: int) -> None:
    counters.drop("too_large")
    log(f"{where}: skipped: record of {size:,} bytes is over the cap of {cap:,} "
        "(max_record_bytes)")


def _skip(counters: Counters, log: Log, where: str, reason: str) -> None:
    counters.drop("malformed")
    log(f"{where}: skipped: {reason}")
