"""The agnostic judge + translator (the real AgnosticStage, HostPool, EngineHost) on the GPU
engine model: the model's answers pass the stage's validators, the judge runs once per
conversation, prompts share cached prefixes, and the engine reports its occupancy."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.agnostic_sim import make_record, run_subset, translation
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.llm.registry import EngineConfig

BASE = EngineConfig(engine="vllm", model="qwen2.5-7b-instruct", max_concurrency=8,
                    max_model_len=8192, max_num_batched_tokens=2048)


@pytest.mark.parametrize("subset,n", [("chat", 8), ("math", 4), ("code", 4)])
def test_agnostic_stage_runs_on_the_gpu_engine_model(subset, n):
    cfg = AgnosticConfig(stage_concurrency=2)
    r = asyncio.run(run_subset(BASE, 1, 2, subset, n, "fr", cfg, judge_hit=0.25,
                               clock=f"test-agnostic-{subset}"))
    rejects = r["rejects"]
    # every translation the model wrote passed the validators (numbers, placeholders, langid)
    assert not [k for k in rejects if k != "criteria"], rejects
    assert r["translated"] + rejects.get("criteria", 0) == n
    messages = sum(len(make_record(subset, i, 0)["conversation"]["messages"])
                   for i in range(n))
    if subset == "chat":
        assert r["requests"]["judge"] == n  # one verdict per conversation
        assert 0 < r["translated"] < n       # some hit a criterion, none was translated then
        assert r["prefix_hit"]["judge"] > 0.2  # system + examples shared by every verdict
    else:
        assert "judge" not in r["requests"] and r["translated"] == n
        assert r["requests"]["translate"] == messages
    assert r["prefix_hit"]["translate"] > 0.2  # system + examples shared by every message
    assert 0 < r["occupancy"] <= 1 and r["makespan_s"] > 0 and r["records_per_gpu_hour"] > 0


def test_model_translations_keep_numbers_placeholders_and_questions():
    out = translation("Is 48 bigger than ⟦P0⟧ and 12.5?", "zh", "k")
    assert "48" in out and "12.5" in out and "⟦P0⟧" in out and out.endswith("？")
    assert translation("Is 48 bigger?", "zh", "k") == translation("Is 48 bigger?", "zh", "k")
