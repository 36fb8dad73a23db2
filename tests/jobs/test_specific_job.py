"""``ultralink specific`` on local Ray with a scripted engine: output, report, units, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from ultralink.core.records import conversation_schema
from ultralink.dataset.sink import OutputConflict
from ultralink.specific.dialogue import plan_dialogue
from ultralink.jobs.specific import SpecificConfig, plan_units, run_specific
from ultralink.specific.stage import dialogue_id

ROOT = Path(__file__).resolve().parents[2]
FAKE = "tests.specific.specific_fakes:DialogueFake"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "specific"))


def write_segments(d: Path, lang: str, files: int, per_file: int) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        rows = [{"id": f"{lang}_{f}{i:02d}", "doc_id": str(f), "title": f"T{f}",
                 "url": f"https://example.org/{f}", "language": lang, "segment_index": i,
                 "text": f"Segment {f}/{i} about old canals and towns.", "n_tokens": 10,
                 "source_file": "sample.xml"} for i in range(per_file)]
        pq.write_table(pa.Table.from_pylist(rows), d / f"part-{f:04d}.parquet")
    (d / "_report.json").write_text("{}")  # prepare's side files are not inputs
    return d


def fake_config(lang: str, **kw) -> SpecificConfig:
    script = kw.pop("script", {})
    return SpecificConfig(**{"unit_size": 2, "batch_size": 4, "seed": 3, **kw,
                             "llm": {"engine": FAKE, "model": "fake",
                                     "engine_kwargs": {"language": lang, **script}}})


def read_output(out: Path) -> pa.Table:
    files = sorted(out.glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def test_every_segment_dropped_is_counted_not_written(ray_local, tmp_path):
    seg = write_segments(tmp_path / "seg", "es", files=1, per_file=3)
    out = tmp_path / "out"
    report = run_specific("es", [str(seg)], str(out),
                          fake_config("es", script={"bad": {"0:question:*": "short"}}))
    assert not list(out.glob("part-*.parquet"))
    assert report["dialogues"] == {"in": 3, "out": 0, "dropped": {"rejected_question": 3}}
    assert report["rejections"] == {"question_too_short": 9}  # 3 attempts each
    assert report["end_reasons"] == {"rejected_question": 3}


def test_job_report_and_max_dialogues(ray_local, tmp_path):
    seg = write_segments(tmp_path / "seg", "fr", files=2, per_file=5)
    out = tmp_path / "out"
    cfg = fake_config("fr", script={"bad": {"1:question:0": "leak"}}, max_dialogues=6)
    report = run_specific("fr", [str(seg)], str(out), cfg)
    table = read_output(out)
    assert table.schema == conversation_schema()
    all_ids = sorted(f"fr_{f}{i:02d}" for f in range(2) for i in range(5))
    chosen = all_ids[:6]  # first N by segment id
    assert sorted(table.column("source").combine_chunks().field("id").to_pylist()) == chosen
    ids = table.column("id").to_pylist()
    assert sorted(ids) == sorted(dialogue_id(s, "fr") for s in chosen)
    turns = {s: plan_dialogue(3, s, cfg.dialogue).turns for s in chosen}
    hist: dict[str, int] = {}
    for n in turns.values():
        hist[str(n)] = hist.get(str(n), 0) + 1
    assert report["dialogues"] == {"in": 6, "out": 6, "dropped": {}}
    assert report["turns_histogram"] == hist
    follow_ups = sum(1 for n in turns.values() if n > 1)
    # the passage is in the first message (default): "the provided text" is meta talk
    assert report["rejections"] == ({"question_meta": follow_ups} if follow_ups else {})
    assert report["avg_question_tokens"] > 5 and report["avg_answer_tokens"] > 10
    assert report["tokens_generated"] > 0 and report["requests"] >= 2 * 6
    assert isinstance(report["this_run"]["engine_seconds"], float) and report["llm"]["hosts"]
    assert report["units"] == {"total": 4, "skipped_done": 0, "run": 4}
    on_disk = json.loads((out / "_report.json").read_text())
    assert on_disk["dialogues"] == report["dialogues"]
    # rerun: nothing to do, same report totals; a different config is refused
    again = run_specific("fr", [str(seg)], str(out), cfg)
    assert again["units"]["run"] == 0 and again["dialogues"] == report["dialogues"]
    with pytest.raises(OutputConflict):
        run_specific("fr", [str(seg)], str(out), fake_config("fr", seed=4))
    # a bigger --max-dialogues keeps the finished units and replaces the partial one
    # (file 1 had a 1-segment chunk; now it has 2)
    bigger = run_specific("fr", [str(seg)], str(out), fake_config(
        "fr", script={"bad": {"1:question:0": "leak"}}))
    assert bigger["units"]["skipped_done"] == 3 and bigger["dialogues"]["out"] == 10
    final = read_output(out).column("id").to_pylist()
    assert sorted(final) == sorted(dialogue_id(s, "fr") for s in all_ids)


def test_units_are_deterministic(tmp_path):
    seg = write_segments(tmp_path / "seg", "en", files=2, per_file=5)
    from ultralink.core.fs import expand

    files, _ = expand([str(seg)])
    files = [f for f in files if f.path.endswith(".parquet")]
    a, _ = plan_units(files, 2, None)
    b, _ = plan_units(files, 2, None)
    assert [u.unit_id for u in a] == [u.unit_id for u in b] and len(a) == 6
    small, small_members = plan_units(files, 2, 3)
    assert sum(u.n_rows for u in small) == 3
    assert small[0].unit_id == a[0].unit_id  # a full chunk keeps its id in a smaller run
    assert sorted(i for m in small_members.values() for i in m) == ["en_000", "en_001", "en_002"]

    # workers read a unit's texts: the driver's plan holds segment ids only
    from ultralink.jobs.specific import read_unit_segments

    unit = a[1]
    ids = members_of(files, unit)
    rows = read_unit_segments({"file": unit.info["file"], "ids": ids,
                               "units": [unit.unit_id] * len(ids)}, files={f.uri: f for f in files})
    assert [r["id"] for r in rows] == members_of(files, unit) and all(
        r["unit_id"] == unit.unit_id and r["text"] for r in rows)


def members_of(files, unit) -> list[str]:
    _, members = plan_units(files, 2, None)
    return members[unit.unit_id]


def cached_entries(out: Path) -> list[dict]:
    """Every completion recorded in ``out``'s request cache (all units)."""
    from ultralink.core.fs import resolve
    from ultralink.llm.request_cache import REQUESTS_DIR, read_unit

    root = out / REQUESTS_DIR
    units = [d.name for d in root.iterdir()] if root.is_dir() else []
    return [e for u in units for e in read_unit(resolve(str(root)), u)]


def test_resume_after_a_kill(ray_local, tmp_path):
    """Kill a run mid-way; the rerun generates only the unfinished units; ids match a clean run."""
    seg = write_segments(tmp_path / "seg", "ru", files=1, per_file=8)
    clean = tmp_path / "clean"
    run_specific("ru", [str(seg)], str(clean), fake_config("ru", unit_size=1))
    expected = sorted(read_output(clean).column("id").to_pylist())

    out = tmp_path / "out"
    calls = tmp_path / "calls"
    calls.mkdir()
    cfg = fake_config("ru", unit_size=1, batch_size=1, dialogues_in_flight=1,
                      script={"latency_s": 0.4, "calls_dir": str(calls)})
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"specific": cfg.model_dump()}))
    address = ray_local.get_runtime_context().gcs_address
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ultralink", "specific", "--language", "ru", "--input", str(seg),
         "--output", str(out), "--config", str(tmp_path / "cfg.yaml"), "--ray-address", address],
        env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            markers = list((out / "_units").glob("*.json")) if (out / "_units").is_dir() else []
            if len(markers) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = {json.loads(m.read_text())["unit_id"] for m in (out / "_units").glob("*.json")}
    assert 2 <= len(done_before) < 8, "the kill must land mid-run"
    ids_before = set(read_output(out).column("id").to_pylist())

    time.sleep(2)  # let Ray reap the killed driver's actors
    for p in calls.glob("*.calls"):
        p.unlink()
    # dialogues the killed run finished but could not mark: replayed from the request cache
    cached = {e["request_id"].split(":")[0] for e in cached_entries(out)}
    report = run_specific("ru", [str(seg)], str(out), cfg)
    assert report["units"]["skipped_done"] == len(done_before)
    final = read_output(out).column("id").to_pylist()
    assert sorted(final) == expected and len(final) == len(set(final))
    # the rerun sent no request for a dialogue whose unit had finished
    rerun_dialogues = {line.split(":")[0] for p in calls.glob("*.calls")
                       for line in p.read_text().splitlines()}
    assert rerun_dialogues and not rerun_dialogues & ids_before
    assert rerun_dialogues | ids_before | cached == set(expected)


def test_a_rerun_replays_the_finished_turns_of_a_unit_killed_midway(ray_local, tmp_path):
    """Issue 12: kill ``ultralink specific`` inside a unit; the rerun sends no request the
    killed run completed (the request cache beside the output answers them) and writes the
    dialogues an uninterrupted run writes."""
    seg = write_segments(tmp_path / "seg", "fr", files=1, per_file=4)
    clean_calls = tmp_path / "clean_calls"
    clean_calls.mkdir()
    clean = run_specific("fr", [str(seg)], str(tmp_path / "clean"), fake_config(
        "fr", unit_size=8, script={"calls_dir": str(clean_calls)}))
    n_clean = sum(len(p.read_text().splitlines()) for p in clean_calls.glob("*.calls"))
    expected = {r["id"]: r["messages"] for r in read_output(tmp_path / "clean").to_pylist()}

    out = tmp_path / "out"
    calls = tmp_path / "calls"
    calls.mkdir()
    cfg = fake_config("fr", unit_size=8, batch_size=1, dialogues_in_flight=1,
                      request_cache={"flush_every": 1},
                      script={"latency_s": 0.3, "calls_dir": str(calls)})
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"specific": cfg.model_dump()}))
    address = ray_local.get_runtime_context().gcs_address
    proc = subprocess.Popen(
        [sys.executable, "-m", "ultralink", "specific", "--language", "fr", "--input", str(seg),
         "--output", str(out), "--config", str(tmp_path / "cfg.yaml"), "--ray-address", address],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if len(cached_entries(out)) >= 3:
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not list((out / "_units").glob("*.json")), "the kill must land inside the unit"
    time.sleep(2)  # let Ray reap the killed driver's actors
    done = {e["request_id"] for e in cached_entries(out)}
    assert 3 <= len(done) < n_clean
    for p in calls.glob("*.calls"):
        p.unlink()

    report = run_specific("fr", [str(seg)], str(out), cfg)
    rerun = [line for p in calls.glob("*.calls") for line in p.read_text().splitlines()]
    assert not set(rerun) & done  # no finished turn was requested again
    assert len(rerun) <= n_clean - len(done)
    assert {r["id"]: r["messages"] for r in read_output(out).to_pylist()} == expected
    assert report["requests"] == clean["requests"]  # replayed turns count as the clean run's
    assert not list((out / "_requests").glob("*/*.jsonl"))  # a finished unit's cache is spent
