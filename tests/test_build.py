"""``ultralink build`` end to end on local Ray with a deterministic fake engine (one engine
serves dialogue generation, judging and translation), plus config validation and the CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

from tests.build_helpers import (ROOT, SUBSETS, ids_by_subset, read_calls, records_digest,
                                 sample_values)
from ultralink.build import BuildConfig, load_config, run_build
from ultralink.cli import main

FAKE = "tests.build_helpers:BuildFake"
GOLDEN = ROOT / "tests" / "data" / "golden" / "sample_build_records.json"


def sample_config(tmp_path: Path, calls: Path, **over) -> BuildConfig:
    values = sample_values()
    values["output"] = str(tmp_path / "out")
    values["engines"] = {"generator": {"engine": FAKE, "model": "gemma3-270m",
                                       "max_concurrency": 64,
                                       "engine_kwargs": {"calls_dir": str(calls)}}}
    values.update(over)
    return BuildConfig(**values)


def test_unknown_key_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("output: x\nsizes: {max_dialoges: 2}\n")
    assert main(["build", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0  # one clear line
    assert "sizes.max_dialoges: unknown key" in err
    bad.write_text("engines: {generator: {engine: llamacpp, n_thread: 1}}\n")
    assert main(["build", "--config", str(bad)]) == 2
    assert "engines.generator.n_thread: unknown key" in capsys.readouterr().err
    bad.write_text("languages: [en, xx]\n")
    assert main(["build", "--config", str(bad)]) == 2
    assert "unknown language 'xx'" in capsys.readouterr().err


def test_shipped_configs_load():
    sample = load_config(str(ROOT / "jobs" / "sample.yaml"))
    assert sample.sizes.max_dialogues == 2 and sample.engines.generator.n_threads == 2
    assert sample.specific.dialogue.max_turns == 3   # the laptop sample's cap on the stop rule
    bundled = load_config("sample")   # the same file by name, inputs anchored in the bundle
    assert bundled.engines == sample.engines and all(
        Path(p).is_absolute() and Path(p).exists() for p in bundled.sources.wikipedia["en"])
    full = load_config(str(ROOT / "jobs" / "full.yaml"))
    assert full.engines.generator.engine == "vllm" and full.engines.generator.gpus_per_host == 1
    assert full.agnostic_config("math").prune_size == 32000
    assert full.agnostic_config("code").prune_size == 16000
    # Table 1 per language, counted as finished dialogues (a single int still works: sample)
    assert full.specific_config("zh").target_dialogues == 36000
    assert {lang: full.specific_config(lang).target_dialogues for lang in full.languages} == \
        {"en": 10000, "zh": 36000, "ru": 37000, "fr": 30000, "es": 34000}
    assert sample.specific_config("fr").target_dialogues == 2


def test_sample_build_layout_stats_card_and_resume(ray_local, tmp_path, capsys):
    calls = tmp_path / "calls"
    calls.mkdir()
    cfg = sample_config(tmp_path, calls)
    out = Path(cfg.output)
    result = run_build(cfg)
    printed = capsys.readouterr().out
    ids = ids_by_subset(out)
    for lang in cfg.languages:
        for subset in SUBSETS:
            assert ids.get(f"{lang}/{subset}"), f"{lang}/{subset} is empty: {result['stages']}"
    # English agnostic data passes through whole (up to the limit); others are pruned to 3
    assert len(ids["en/math"]) == 3 and len(ids["fr/math"]) <= 3
    assert all(len(ids[f"{lang}/chat_specific"]) <= 2 for lang in cfg.languages)
    assert (out / "stats.json").exists() and (out / "README.md").exists()
    assert list((out / "figures").glob("*.png"))
    # work files beside the dataset, not in it (tests/dataset/test_published_layout.py)
    assert (tmp_path / "out_work" / "segments" / "zh" / "_manifest.json").exists()
    assert not (out / "_work").exists()
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["config_hash"]
    assert manifest["versions"]
    assert all(s["status"] == "done" for s in manifest["stages"].values())
    assert manifest["counts"]["agnostic/zh/math"] == len(ids["zh/math"])
    assert "projection to the Table 1 targets" in printed and "engine_s" in printed
    n_calls = len(read_calls(calls))
    assert n_calls > 0
    # byte-identical records to the golden build (refactors must not change a record);
    # regenerate with ULTRALINK_UPDATE_GOLDEN=1 only for an intended change, and say why
    digest = records_digest(out)
    if os.environ.get("ULTRALINK_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n")
    assert digest == json.loads(GOLDEN.read_text())

    # rerun: same ids, no engine call, every stage skipped cheaply
    again = run_build(cfg)
    assert ids_by_subset(out) == ids
    assert len(read_calls(calls)) == n_calls
    assert all(s["skipped"] for s in again["stages"].values())

    # a lost stage output reruns that stage only, and its job's units resume
    shutil.rmtree(out / "ru" / "code")
    third = run_build(cfg)
    assert ids_by_subset(out) == ids and records_digest(out) == digest
    ran = [name for name, s in third["stages"].items() if not s["skipped"]]
    assert ran == ["agnostic/ru/code", "decontaminate"]   # the rewritten shards are checked


def test_cli_build(ray_local, tmp_path, capsys):
    calls = tmp_path / "calls"
    calls.mkdir()
    cfg = sample_config(tmp_path, calls, languages=["en", "fr"])
    cfg_path = tmp_path / "job.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    out2 = tmp_path / "other"
    assert main(["build", "--config", str(cfg_path), "--output", str(out2)]) == 0
    assert (out2 / "fr" / "chat_specific").is_dir() and (out2 / "README.md").exists()
    assert not (tmp_path / "out").exists()
    assert "ultralink build → " + str(out2) in capsys.readouterr().out


def test_stage_key_follows_the_inputs_identity(tmp_path):
    """A dump replaced under the same name must rerun its stage, not be skipped as done."""
    from ultralink.build import stage_key

    dump = tmp_path / "enwiki.xml"
    dump.write_text("<mediawiki>cut")
    before = stage_key("prepare/en", {"lang": "en", "inputs": [str(dump)]})
    assert stage_key("prepare/en", {"lang": "en", "inputs": [str(dump)]}) == before
    dump.write_text("<mediawiki>the whole download</mediawiki>")
    assert stage_key("prepare/en", {"lang": "en", "inputs": [str(dump)]}) != before
