"""The README's main job: the whole sample build with the real CPU model (llama.cpp, 270M)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from ultralink.build import BuildConfig, run_build

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.llm
@pytest.mark.slow
def test_sample_build_with_the_cpu_model(ray_local, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # jobs/sample.yaml names its inputs relative to the repository
    values = yaml.safe_load((ROOT / "jobs" / "sample.yaml").read_text())
    values["output"] = str(tmp_path / "out")
    run_build(BuildConfig(**values))
    out = tmp_path / "out"
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "done"
    def rows(lang: str, subset: str) -> list[dict]:
        return [r for p in sorted((out / lang / subset).glob("part-*.parquet"))
                for r in pq.read_table(p).to_pylist()]

    for lang in values["languages"]:  # the CPU default yields validated dialogues everywhere
        dialogues = rows(lang, "chat_specific")
        assert dialogues and {r["language"] for r in dialogues} == {lang}, lang
    for subset in ("math", "code"):   # and validated translations (which records: model luck)
        assert sum(len(rows(lang, subset)) for lang in values["languages"] if lang != "en"), subset
    assert rows("en", "chat_agnostic")
    stats = json.loads((out / "stats.json").read_text())
    assert stats and (out / "README.md").exists() and list((out / "figures").glob("*.png"))
