"""Output bookkeeping: --overwrite only wipes our own outputs; temporaries are invisible to
readers and swept; stale units (changed or removed inputs) leave the output."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pyarrow as pa
import pytest

from ultralink.cli import main
from ultralink.core.fs import resolve
from ultralink.dataset.sink import OutputConflict, UnitStore, write_parquet_atomic

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "enwiki-sample.xml"


def test_overwrite_refuses_a_folder_that_is_not_ours(tmp_path, capsys):
    out = tmp_path / "photos"
    (out / "2019").mkdir(parents=True)
    (out / "2019" / "beach.jpg").write_bytes(b"\xff\xd8 precious")
    (out / "_manifest.json").write_text('{"someone": "else"}')
    assert main(["prepare", "--language", "en", "--input", str(SAMPLE), "--output", str(out),
                 "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refusing to delete" in err and "Traceback" not in err
    (out / "_manifest.json").unlink()
    with pytest.raises(OutputConflict, match="not an ultralink output"):
        UnitStore(resolve(str(out)), "prepare", {}).open(overwrite=True)
    assert (out / "2019" / "beach.jpg").read_bytes() == b"\xff\xd8 precious"
    assert sorted(p.name for p in out.iterdir()) == ["2019"]   # not even a lease left behind


def test_overwrite_wipes_an_empty_folder_or_our_own_output(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    store = UnitStore(resolve(str(empty)), "prepare", {})
    store.open(overwrite=True)
    store.finish_unit("u", {"rows": 0})
    store.close()
    again = UnitStore(resolve(str(empty)), "prepare", {"other": 1})
    again.open(overwrite=True)                      # ours now: wiped and started over
    assert again.done() == {}
    again.close()


def test_temporary_shards_match_no_reader_glob_and_are_swept(tmp_path):
    out = resolve(str(tmp_path / "out"))
    schema = pa.schema([("id", pa.string())])
    seen: list[str] = []

    def batches():
        seen.extend(p.name for p in Path(out.path).iterdir())   # mid-write: the temporary
        yield pa.table({"id": ["a"]})

    write_parquet_atomic(out.join("part-u1.parquet"), batches(), schema)
    assert seen and not fnmatch.filter(seen, "*.parquet")
    assert [p.name for p in Path(out.path).iterdir()] == ["part-u1.parquet"]

    # a crash leaves temporaries behind; the next run's open() sweeps them
    (Path(out.path) / ".tmp-part-u2.parquet-x1y2").write_bytes(b"half")
    (Path(out.path) / "_units").mkdir()
    (Path(out.path) / "_units" / "u2.json.tmp-0123abcd").write_text("{")
    store = UnitStore(out, "prepare", {})
    store.open(overwrite=False)
    store.close()
    left = sorted(str(p.relative_to(out.path)) for p in Path(out.path).rglob("*"))
    assert left == ["_lease.json", "_manifest.json", "_units", "part-u1.parquet"]


def test_stale_units_and_unowned_shards_are_dropped(tmp_path):
    out = resolve(str(tmp_path / "out"))
    store = UnitStore(out, "prepare", {})
    store.open(overwrite=False)
    schema = pa.schema([("id", pa.string())])
    for uid in ("keep", "gone"):
        write_parquet_atomic(store.shard(uid), [pa.table({"id": [uid]})], schema)
        store.finish_unit(uid, {"rows": 1})
    write_parquet_atomic(store.shard("orphan"), [pa.table({"id": ["o"]})], schema)  # no marker
    assert store.drop_stale(["keep", "new"]) == ["gone"]
    assert sorted(store.done()) == ["keep"]
    assert sorted(Path(loc.path).name for loc in store.shards()) == ["part-keep.parquet"]
    store.record_inputs([resolve(str(SAMPLE))])
    store.write_manifest("done")
    store.close()
    assert json.loads((tmp_path / "out" / "_manifest.json").read_text())["inputs"][0]["uri"]


def test_a_unit_made_from_another_version_of_its_input_is_stale(tmp_path):
    store = UnitStore(resolve(str(tmp_path / "out")), "specific", {})
    store.open(overwrite=False)
    store.finish_unit("a", {"rows": 0, "info": {"version": "size=1;mtime_ns=1"}})
    store.finish_unit("b", {"rows": 0, "info": {"version": "size=1;mtime_ns=1"}})
    versions = {"a": "size=1;mtime_ns=1", "b": "size=9;mtime_ns=2"}   # b's file was rewritten
    assert store.drop_stale(["a", "b"], versions) == ["b"]
    assert sorted(store.done()) == ["a"]
    store.close()


def test_parts_belong_to_their_unit(tmp_path):
    """``part-<unit>.pNNNNN.parquet`` shards live and die with their unit."""
    store = UnitStore(resolve(str(tmp_path / "out")), "prepare", {})
    store.open(overwrite=False)
    schema = pa.schema([("id", pa.string())])
    for uid in ("keep", "gone", "again"):
        for i in range(2):
            write_parquet_atomic(store.part(uid, i), [pa.table({"id": [f"{uid}{i}"]})], schema)
    for uid in ("keep", "gone"):
        store.finish_unit(uid, {"rows": 2, "parts": 2})
    assert store.drop_stale(["keep", "again"]) == ["gone"]
    names = sorted(Path(loc.path).name for loc in store.shards())
    assert names == ["part-again.p00000.parquet", "part-again.p00001.parquet",
                     "part-keep.p00000.parquet", "part-keep.p00001.parquet"]
    store.clear_units(["again"])
    assert sorted(store.owner(loc) for loc in store.shards()) == ["keep", "keep"]
    store.close()


def test_shards_get_the_mode_open_would_give_them(tmp_path):
    """mkstemp's 0600 would hide a dataset from the other users of a shared filesystem."""
    import os

    old = os.umask(0o022)
    try:
        loc = resolve(str(tmp_path / "en" / "part-0.parquet"))
        schema = pa.schema([("id", pa.string())])
        write_parquet_atomic(loc, [pa.table({"id": ["a"]})], schema)
    finally:
        os.umask(old)
    assert (tmp_path / "en" / "part-0.parquet").stat().st_mode & 0o777 == 0o644


def test_a_finished_run_leaves_no_empty_request_folders(tmp_path):
    store = UnitStore(resolve(str(tmp_path / "out")), "agnostic", {"a": 1})
    store.open(overwrite=False)
    (tmp_path / "out" / "_requests" / "u1").mkdir(parents=True)
    (tmp_path / "out" / "_requests" / "_memo").mkdir()
    (tmp_path / "out" / "_requests" / "_memo" / "seg.jsonl").write_text("{}\n")
    store.close()
    assert sorted(p.name for p in (tmp_path / "out" / "_requests").iterdir()) == ["_memo"]
    assert json.loads((tmp_path / "out" / "_lease.json").read_text())["released"] is True
