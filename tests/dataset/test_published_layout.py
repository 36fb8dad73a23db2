"""A finished build's folder is the dataset and nothing else: DuckDB, pyarrow, Ray Data and
🤗 ``datasets`` read it whole (``**/*.parquet``, the card's configs) and count what
``stats.json`` counts; the work files live beside it. An output of the old layout (work files
in ``{output}/_work``) still resumes.

One small build: en (Wikipedia sample → segments → dialogues with the fake engine; math
passed through) and zh (math translated by the fake engine)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.build_helpers import ids_by_subset, sample_values
from ultralink.build import BuildConfig, run_build
from ultralink.core.records import conversation_schema

FAKE = "tests.build_helpers:BuildFake"
ROOT_FILES = {"README.md", "stats.json", "figures", "_manifest.json", "_decontamination.json",
              "_lease.json"}   # the lease: issue 28 item 2


def small_config(out: Path, memo: Path) -> BuildConfig:
    values = sample_values(["en", "zh"])
    values["sources"].update({"wikipedia": {"en": values["sources"]["wikipedia"]["en"]},
                              "chat": [], "code": []})
    values["output"] = str(out)
    values["engines"] = {"generator": {"engine": FAKE, "model": "gemma3-270m",
                                       "max_concurrency": 16}}
    # a verdict store named outright, so the old-layout copy below has the same stage keys
    values["agnostic"] = {**values.get("agnostic", {}), "request_cache": {"memo_dir": str(memo)}}
    return BuildConfig(**values)


@pytest.fixture(scope="module")
def built(ray_local, tmp_path_factory):
    base = tmp_path_factory.mktemp("published")
    cfg = small_config(base / "out", base / "memo")
    result = run_build(cfg, progress=False)
    out = Path(cfg.output)
    stats = json.loads((out / "stats.json").read_text())
    return cfg, out, stats, result


def per_language(stats: dict) -> dict[str, int]:
    return {lang: c["total"] for lang, c in stats["table1"]["languages"].items() if c["total"]}


def test_the_root_holds_only_the_dataset(built):
    cfg, out, stats, _ = built
    assert {p.name for p in out.iterdir()} - {"en", "zh"} <= ROOT_FILES
    for path in out.rglob("*"):
        rel = path.relative_to(out).parts
        if path.is_file() and rel[0] in ("en", "zh"):
            # {lang}/{subset}/part-*.parquet, or the subset's `_` bookkeeping
            assert len(rel) >= 3 and (rel[2].startswith("_") or (
                len(rel) == 3 and rel[2].startswith("part-") and rel[2].endswith(".parquet"))), rel
    parquet = sorted(out.rglob("*.parquet"))
    assert parquet and all(len(p.relative_to(out).parts) == 3 for p in parquet)
    assert all(ds.dataset(p).schema.equals(conversation_schema()) for p in parquet)
    # the work files: beside it, by default <output>_work
    work = out.parent / "out_work"
    assert (work / "segments" / "en" / "_manifest.json").exists()
    assert list((work / "segments" / "en").glob("part-*.parquet"))
    assert (work / "decontaminate" / "_manifest.json").exists()
    assert per_language(stats) == {"en": stats["table1"]["languages"]["en"]["total"],
                                   "zh": stats["table1"]["languages"]["zh"]["total"]}
    assert stats["table1"]["languages"]["en"]["chat_specific"] > 0


def test_duckdb_counts_what_stats_counts(built):
    duckdb = pytest.importorskip("duckdb")
    _, out, stats, _ = built
    rows = duckdb.sql(f"select language, count(*) from '{out}/**/*.parquet' group by 1").fetchall()
    assert dict(rows) == per_language(stats)
    by_subset = duckdb.sql(f"select language, subset, count(*) from '{out}/**/*.parquet' "
                           "group by all").fetchall()
    assert {(lang, s): n for lang, s, n in by_subset} == {
        (lang, s): n for lang, c in stats["table1"]["languages"].items()
        for s, n in c.items() if s != "total" and n}


def test_pyarrow_and_ray_read_the_root(built, ray_local):
    _, out, stats, _ = built
    total = stats["table1"]["UltraLink"]["total"]
    assert ds.dataset(str(out), format="parquet", exclude_invalid_files=True).count_rows() == total
    # Ray skips paths whose part below the root starts with `.` or `_` (a top-level `_work/`
    # was hidden from it, never from DuckDB or datasets) and reads only *.parquet: the card,
    # stats.json, figures/ and the subsets' `_` bookkeeping are left alone
    import ray.data

    assert ray.data.read_parquet(str(out)).count() == total


def test_datasets_reads_the_root_and_the_card_configs(built, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    _, out, stats, _ = built
    cache = str(tmp_path / "cache")
    total = stats["table1"]["UltraLink"]["total"]
    glob = datasets.load_dataset("parquet", data_files=f"{out}/**/*.parquet", split="train",
                                 cache_dir=cache)
    assert len(glob) == total
    assert len(datasets.load_dataset(str(out), split="train", cache_dir=cache)) == total
    assert len(datasets.load_dataset(str(out), "all", split="train", cache_dir=cache)) == total
    for lang, n in per_language(stats).items():
        one = datasets.load_dataset(str(out), lang, split="train", cache_dir=cache)
        assert len(one) == n and set(one["language"]) == {lang}
    zh_math = datasets.load_dataset(str(out), "zh_math", split="train", cache_dir=cache)
    assert len(zh_math) == stats["table1"]["languages"]["zh"]["math"]


def test_an_output_of_the_old_layout_resumes(built, tmp_path, caplog):
    """Work files in ``{output}/_work`` (before ``work``): found, said in one line, reused."""
    cfg, out, _, result = built
    old = tmp_path / "out"
    shutil.copytree(out, old)
    shutil.copytree(out.parent / "out_work", old / "_work")
    ids = ids_by_subset(old)
    with caplog.at_level(logging.WARNING, logger="ultralink.build"):
        again = run_build(cfg.model_copy(update={"output": str(old)}), progress=False)
    said = [r.getMessage() for r in caplog.records if "layout before 'work'" in r.getMessage()]
    assert len(said) == 1 and str(old / "_work") in said[0]
    assert list(again["stages"]) == list(result["stages"])
    assert all(s["skipped"] for s in again["stages"].values()), again["stages"]
    assert ids_by_subset(old) == ids
    assert not (tmp_path / "out_work").exists()


def test_work_location_rules(tmp_path):
    from ultralink.build.config import default_work
    from ultralink.build.run import Build
    from ultralink.core.errors import UsageError

    assert default_work("./out") == "out_work" and default_work("out/") == "out_work"
    assert default_work("s3://b/ds/") == "s3://b/ds_work"
    assert default_work(str(tmp_path)) == f"{tmp_path}_work"
    with pytest.raises(UsageError, match="bucket's root"):
        default_work("s3://b")
    cfg = BuildConfig(output="./out")
    assert cfg.agnostic_config("chat").request_cache.memo_dir == "out_work/memo"
    # the old layout's verdict store keeps its string, so its stage keys are unchanged
    assert cfg.agnostic_config("chat", "./out/_work").request_cache.memo_dir == "./out/_work/memo"
    out = tmp_path / "ds"
    assert Build(BuildConfig(output=str(out)), None, False).work_location() == f"{out}_work"
    (out / "_work").mkdir(parents=True)
    assert Build(BuildConfig(output=str(out)), None, False).work_location() == f"{out}/_work"
    assert Build(BuildConfig(output=str(out)), None, True).work_location() == f"{out}_work"
    named = BuildConfig(output=str(out), work=str(tmp_path / "w"))
    assert Build(named, None, False).work_location() == str(tmp_path / "w")
    for bad in (out, tmp_path):
        with pytest.raises(UsageError, match="is or holds the output"):
            Build(BuildConfig(output=str(out), work=str(bad)), None, False).work_location()


def test_overwrite_clears_a_work_location_of_ours_only(ray_local, tmp_path):
    from ultralink.dataset.sink import OutputConflict

    cfg = BuildConfig(output=str(tmp_path / "out"), languages=["en"])   # no inputs: quick
    run_build(cfg, progress=False)
    work = tmp_path / "out_work"
    assert json.loads((work / "_manifest.json").read_text())["job"] == "build-work"
    (work / "stale.json").write_text("{}")
    run_build(cfg, overwrite=True, progress=False)
    assert not (work / "stale.json").exists() and (work / "_manifest.json").exists()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "keep.txt").write_text("x")
    with pytest.raises(OutputConflict, match="not an ultralink output"):
        run_build(cfg.model_copy(update={"work": str(theirs)}), overwrite=True, progress=False)
    assert (theirs / "keep.txt").exists()
