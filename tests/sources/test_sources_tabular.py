"""JSON lines and Parquet inputs with id/title/text."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sources_helpers import ids, read_all, write

from ultralink.core.fs import resolve
from ultralink.sources.wikipedia import InputError, plan_units


def _rows(n: int) -> list[dict]:
    return [{"id": i, "title": f"T{i}", "text": f"text {i} " * (i % 13 + 1),
             "url": f"https://x.org/{i}"} for i in range(1, n + 1)]


def test_jsonl_fields_and_bad_lines(tmp_path):
    lines = [json.dumps({"id": 1, "title": "A", "text": "alpha", "url": "https://a"}),
             "",
             json.dumps({"id": "2", "title": "B", "text": "beta"}),
             '{"id": 3, "title": "C"',
             json.dumps({"id": 4, "text": "no title"}),
             json.dumps(["not", "an", "object"]),
             json.dumps({"id": 6, "title": "F", "text": 7}),
             json.dumps({"id": 7, "title": "G", "text": "last line, no newline"})]
    path = write(tmp_path / "pages.jsonl", "\n".join(lines))
    pages, counters, logs, units = read_all(path)
    assert units[0].kind == "jsonl"
    assert ids(pages) == ["1", "2", "7"]
    assert (pages[0].url, pages[1].url, pages[0].markup) == ("https://a", "", "plain")
    assert counters.counts["dropped_parse_error"] == 4 and len(logs) == 4
    assert [line.split(": skipped ")[1].split(":")[0] for line in logs] == [
        "line 4", "line 5", "line 6", "line 7"]
    assert "malformed JSON" in logs[0] and "missing 'title'" in logs[1]
    assert "not a JSON object" in logs[2] and "'text' is int" in logs[3]
    assert all(line.startswith(str(path)) for line in logs)


@pytest.mark.parametrize("unit_bytes", [1, 40, 333, 1 << 30])
def test_jsonl_byte_ranges_cover_each_line_once(tmp_path, unit_bytes):
    path = write(tmp_path / "p.jsonl", "".join(json.dumps(r) + "\n" for r in _rows(80)))
    pages, _, logs, units = read_all(path, unit_bytes)
    assert ids(pages) == [str(i) for i in range(1, 81)] and logs == []
    assert len(units) > 1 or unit_bytes > 10_000


def test_jsonl_gzip_and_truncated(tmp_path):
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in _rows(2000)).encode())
    pages, _, logs, units = read_all(write(tmp_path / "p.jsonl.gz", data), 100)
    assert len(units) == 1 and len(pages) == 2000 and logs == []
    pages, counters, logs, _ = read_all(write(tmp_path / "cut.gz", data[:len(data) // 2]))
    assert 0 < len(pages) < 2000 and counters.counts["errors_truncated"] == 1
    assert len(logs) <= 2   # the break, and possibly the half line before it


def test_parquet_row_group_units(tmp_path):
    table = pa.Table.from_pylist(_rows(100))
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=10)
    pages, _, logs, units = read_all(path, 500)
    assert {u.kind for u in units} == {"parquet"} and len(units) > 1
    assert units[0].start == 0 and units[-1].end == 10
    assert ids(pages) == [str(i) for i in range(1, 101)] and logs == []
    assert pages[4].url == "https://x.org/5" and pages[4].markup == "plain"
    whole, *_ = read_all(path)
    assert ids(whole) == ids(pages)


def test_parquet_nulls_and_missing_columns(tmp_path):
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"id": ["a", None, "c"], "title": ["A", "B", None],
                             "text": ["x", "y", "z"]}), path)
    pages, counters, logs, _ = read_all(path)
    assert ids(pages) == ["a"] and counters.counts["dropped_parse_error"] == 2
    assert "row 2: missing 'id'" in logs[0] and "row 3: missing 'title'" in logs[1]
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": [1], "body": ["x"]}), bad)
    with pytest.raises(InputError, match=r"lacks column\(s\) title, text \(has: id, body\)"):
        plan_units(resolve(str(bad)), 1 << 20)


def test_parquet_corrupt_row_group_keeps_rows_before(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist(_rows(150)), path, row_group_size=50)
    offset = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset:offset + 16] = b"\xff" * 16              # the second group's first page header
    path.write_bytes(bytes(data))
    pages, counters, logs, _ = read_all(path)
    assert ids(pages) == [str(i) for i in range(1, 151) if not 51 <= i <= 100]
    assert counters.counts["errors_corrupt"] == 1 and len(logs) == 1
    assert "c.parquet" in logs[0] and "row group 1 unreadable after row 50" in logs[0]
