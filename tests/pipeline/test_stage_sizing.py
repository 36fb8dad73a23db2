"""LLMStage sizing from the hosts' capacity, and the real dialogue stage → pool → host on the
GPU engine model (virtual time, prefix cache)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pyarrow as pa

from ultralink.hosting.options import HostOptions
from ultralink.hosting.pool import HostPool
from ultralink.llm.registry import EngineConfig
from ultralink.hosting.llm_stage import stage_sizing
from ultralink.specific.dialogue import DialogueConfig

ROOT = Path(__file__).resolve().parents[2]


def test_stage_sizing_keeps_twice_the_gates_in_flight_in_small_batches():
    s = stage_sizing(8 * 282, 4)
    assert s.rows_per_actor == 1128 and s.batch_size == 16
    assert s.batch_size * s.max_concurrent_batches >= s.rows_per_actor
    tiny = stage_sizing(5, 1)
    assert tiny.batch_size == 1 and tiny.max_concurrent_batches == 10


def test_dialogue_stage_runs_on_the_gpu_engine_model():
    """The real stage → pool → host on the engine model (virtual time, prefix cache)."""
    sys.path.insert(0, str(ROOT / "tests" / "specific"))
    from specific_fakes import DialogueFake  # noqa: F401  (the text source the model times)

    from benchmarks.gpu_engine_model import GPUEngineModel, VirtualClock
    from ultralink.specific.stage import DialogueStage

    cfg = EngineConfig(engine="benchmarks.gpu_engine_model:GPUEngineModel", model="sim",
                       max_concurrency=8, engine_kwargs={
                           "gpu": "h100", "clock": "test-stage",
                           "text": "specific_fakes:DialogueFake"})
    engines = []

    def factory(c):
        engines.append(GPUEngineModel(c))
        return engines[-1]

    pool = HostPool.local(cfg, 1, options=HostOptions(stats_poll_s=0), engine_factory=factory)
    stage = DialogueStage(pool, language="en", config=DialogueConfig(stop_first=0.1), seed=3,
                          prompt_format="chat", model="sim", keep_dropped=True)
    text = " ".join(f"word{i}" for i in range(600))
    table = pa.Table.from_pylist([
        {"id": f"en_seg{i}", "doc_id": str(i), "title": "t", "url": "u", "language": "en",
         "segment_index": i, "text": f"Document {i}. {text}", "n_tokens": 600,
         "source_file": "x", "unit_id": "u0"} for i in range(12)])
    try:
        out = asyncio.run(stage(table))
    finally:
        VirtualClock.drop("test-stage")
        pool.shutdown()
    assert out.num_rows == 12 and all(r == "" for r in out.column("drop_reason").to_pylist())
    stats = engines[0].stats()
    assert stats["steps"] > 0 and stats["tokens_out"] > 0
    # later turns share system + document + history with earlier ones: most tokens cached
    assert stats["cached_tokens"] > 0.5 * stats["prompt_tokens"]
