"""Bad input costs only itself, and reading stops once the work is planned (issue 29)."""

from __future__ import annotations

import json

from ultralink.core.fs import resolve
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.jobs.agnostic.scan import scan_file


def _math_file(path, n):
    path.write_text("".join(json.dumps({"question": f"What is {i} + 1?", "answer": f"#### {i + 1}"})
                            + "\n" for i in range(n)), encoding="utf-8")
    return resolve(str(path))


def test_limit_stops_the_scan(tmp_path):
    """``--limit 3`` of a 5,000-record file reads 3 records, not the file."""
    loc = _math_file(tmp_path / "big.jsonl", 5000)
    scan = scan_file(loc, "zh", "math", AgnosticConfig(limit=3))
    assert [r[0] for r in scan["records"]] == [0, 1, 2]
    assert scan["counters"]["counts"]["read"] <= 50 + 3   # the schema sniff reads ahead 50
    full = scan_file(loc, "zh", "math", AgnosticConfig())
    assert len(full["records"]) == 5000


def test_an_oversize_record_is_counted_not_scanned(tmp_path):
    loc = _math_file(tmp_path / "m.jsonl", 5)
    with open(loc.path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"question": "x" * 3000 + "?", "answer": "#### 1"}) + "\n")
    scan = scan_file(loc, "zh", "math", AgnosticConfig(max_record_bytes=1000))
    assert len(scan["records"]) == 5
    assert scan["counters"]["counts"]["dropped_too_large"] == 1
    assert any("m.jsonl:6: skipped: record of" in p for p in scan["problems"])
