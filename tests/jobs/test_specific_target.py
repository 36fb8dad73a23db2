"""``target_dialogues``: segments are drawn in id order, round after round, until that many
dialogues are finished; the report says when the segments do not allow it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_specific_job import fake_config, read_output  # noqa: E402

from ultralink.jobs.specific import run_specific  # noqa: E402


def write_segments(d: Path, failing: set[str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for f in range(2):
        rows = [{"id": f"fr_{f}{i:02d}", "doc_id": str(f), "title": f"T{f}",
                 "url": f"https://example.org/{f}", "language": "fr", "segment_index": i,
                 "text": f"Segment {f}/{i} about old canals."
                         + (" FAIL" if f"fr_{f}{i:02d}" in failing else ""),
                 "n_tokens": 10, "source_file": "sample.xml"} for i in range(5)]
        pq.write_table(pa.Table.from_pylist(rows), d / f"part-{f:04d}.parquet")
    return d


def test_target_counts_finished_dialogues(ray_local, tmp_path):
    seg = write_segments(tmp_path / "seg", {"fr_001", "fr_003"})
    script = {"fail_marker": "FAIL"}
    out = tmp_path / "out"
    report = run_specific("fr", [str(seg)], str(out),
                          fake_config("fr", script=script, target_dialogues=5))
    got = report["dialogues"]["out"]
    assert got >= 5 and report["target"]["met"] and report["target"]["rounds"] == 2
    assert report["target"]["segments_available"] == 10
    ids = sorted(read_output(out).column("id").to_pylist())
    assert len(ids) == got
    assert json.loads((out / "_report.json").read_text())["target"] == report["target"]
    # more than the segments allow (resuming the same output: the target is not part of its
    # identity): everything is used and the report says so
    short = run_specific("fr", [str(seg)], str(out),
                         fake_config("fr", script=script, target_dialogues=20))
    assert short["dialogues"]["out"] == 8 and short["target"] == {
        "dialogues": 20, "met": False, "segments_used": 10, "segments_available": 10,
        "rounds": 1}
    assert set(ids) < set(read_output(out).column("id").to_pylist())
