"""Raw SFT records from one file, streamed: a JSON list, a single JSON object, JSONL or Parquet.

A 1 GB ShareGPT list must never sit whole in one worker's memory, and a malformed line must
be skipped with ``file:line`` and its reason, and counted, never silently lost.
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
from ultralink.sources.input_unit import Log


def iter_records(loc: Location, counters: Counters, log: Log) -> Iterator[tuple[int, dict]]:
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
                    yield index, row
                    index += 1
            return
        if head.startswith(BOM):
            f.seek(len(BOM))
        first = _first_char(f)
        if first == "[":
            yield from _json_list(f, loc, counters, log)
            return
        text = io.TextIOWrapper(f, encoding="utf-8", errors="replace")
        head = [text.readline()]
        if first == "{" and head[0].strip() and not _is_json(head[0]):
            head += _peek_lines(text)
            if not any(line.startswith("{") and _is_object(line) for line in head[1:]):
                # no unindented line parses on its own: one (pretty-printed) JSON object
                try:
                    obj = json.loads("".join(head) + text.read())
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{loc.uri}: invalid JSON ({exc})") from None
                yield 0, obj
                return
        # JSON lines: a bad line, the first included, is skipped with file:line
        for lineno, line in enumerate(itertools.chain(head, iter(text.readline, "")), 1):
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


def _peek_lines(text: Any) -> list[str]:
    """Up to :data:`PEEK_LINES` more non-blank lines: enough to tell JSON lines whose first
    line is broken (a later line, unindented, parses on its own) from one pretty-printed
    object (its inner lines are indented), so one bad line never turns a JSONL file into a
    whole-file parse."""
    lines: list[str] = []
    while len([x for x in lines if x.strip()]) < PEEK_LINES and (line := text.readline()):
        lines.append(line)
    return lines


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


def _json_list(f: Any, loc: Location, counters: Counters, log: Log
               ) -> Iterator[tuple[int, dict]]:
    import ijson

    i = -1
    try:
        for i, rec in enumerate(ijson.items(f, "item", use_float=True)):
            if isinstance(rec, dict):
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


def _skip(counters: Counters, log: Log, where: str, reason: str) -> None:
    counters.drop("malformed")
    log(f"{where}: skipped: {reason}")
