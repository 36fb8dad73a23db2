"""Capacity from one source: the host gates on what the engine reports (sequences and KV
tokens); held GPU time and counters survive a host's re-creation; stage batching is sized from
the hosts' capacity; the GPU engine model runs the real dialogue stage."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pyarrow as pa

from tests.fakes import ScriptedEngine, fake_config
from ultralink.llm.metrics import job_report
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatRequest, SamplingParams
from ultralink.pipeline.engine_host import EngineHost, HostOptions, HostPool
from ultralink.pipeline.llm_stage import stage_sizing
from ultralink.specific.dialogue import DialogueConfig

ROOT = Path(__file__).resolve().parents[2]


class SmallCard(ScriptedEngine):
    """Reports 4 sequences and a 100-token KV cache (prompt words + max_tokens per request)."""

    def capacity(self):
        return {"max_num_seqs": 4, "kv_cache_tokens": 100}


def req(i: int, max_tokens: int = 40) -> ChatRequest:
    return ChatRequest(prompt=f"p{i} " + "w " * 9, request_id=f"r{i}",
                       sampling=SamplingParams(max_tokens=max_tokens))


def test_gate_follows_the_engines_sequences_and_kv_cache():
    engines = []

    def factory(c):
        engines.append(SmallCard(c, latency_s=0.01))
        return engines[-1]

    host = EngineHost(fake_config(max_concurrency=256), engine_factory=factory)
    assert host.max_in_flight == 5  # ceil(1.1 × 4) from the engine, not 1.1 × 256
    assert host.capacity == {"max_num_seqs": 4, "kv_cache_tokens": 100}

    async def run(max_tokens):
        engines[0].max_in_flight = 0
        await asyncio.gather(*(host.generate(req(i, max_tokens)) for i in range(12)))
        return engines[0].max_in_flight

    assert asyncio.run(run(40)) == 2      # 10 prompt + 40 new = 50 tokens each: 2 fit
    assert asyncio.run(run(5)) == 5       # 15 each: the sequence gate binds
    assert asyncio.run(run(500)) == 1     # bigger than the cache: one at a time, still runs


def test_held_gpu_time_and_counts_survive_a_recreated_host():
    cfg = fake_config().model_copy(update={"num_gpus": 2.0})
    pool = HostPool.local(cfg, 1, options=HostOptions(stats_poll_s=0))

    async def some(n):
        await asyncio.gather(*(pool.generate(req(i)) for i in range(n)))

    asyncio.run(some(5))
    first = pool.stats()
    pool._supervisor._hosts[0] = pool._supervisor._create(0)  # what ensure() does
    asyncio.run(some(3))
    report = job_report(pool.stats())
    host = report["hosts"]["local-host-0"]
    assert host["completions"] == 8 and host["incarnations"] == 2
    # the report rounds to ms; rounding is monotonic, so compare rounded values
    assert host["held_s"] >= round(first["hosts"]["local-host-0"]["timings"]["held"], 3)
    assert host["gpu_seconds"] == round(2.0 * host["held_s"], 3)
    assert host["gpu_busy_seconds"] == round(2.0 * host["busy_s"], 3)
    assert report["total"]["gpu_seconds"] >= report["total"]["gpu_busy_seconds"]
    pool.shutdown()


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


def test_kv_reserve_follows_the_outputs_seen_not_the_cap():
    """Once 64 requests of a similar max_tokens finished, a request reserves the 90th
    percentile of their outputs (here 1 word of 40 allowed): more fit in the same KV cache."""
    from ultralink.pipeline.engine_host import OutputEstimate

    est = OutputEstimate(0.9, window=100, min_samples=64)
    assert est.reserve(1024) == 1024
    for i in range(100):
        est.observe(1000, 200 + i)          # 200..299
    assert est.reserve(1024) == 290 and est.reserve(600) == 290 and est.reserve(250) == 250
    assert est.reserve(128) == 128          # another bucket: nothing seen yet
    for _ in range(100):
        est.observe(1000, 900)              # the window slides: the old outputs leave
    assert est.reserve(1024) == 900

    engines = []

    def factory(c):
        engines.append(SmallCard(c, latency_s=0.01, completion_tokens=1))
        return engines[-1]

    host = EngineHost(fake_config(max_concurrency=256), engine_factory=factory)
    fixed = EngineHost(fake_config(max_concurrency=256),
                       options=HostOptions(kv_output_quantile=None), engine_factory=factory)

    async def run(h):
        engine = h.engine
        for _ in range(7):                  # 1-token answers, cap 40: the last 12 after 72
            engine.max_in_flight = 0
            await asyncio.gather(*(h.generate(req(i, 40)) for i in range(12)))
        return engine.max_in_flight

    assert asyncio.run(run(fixed)) == 2     # 10 + 40 reserved each: 2 fit in 100
    assert asyncio.run(run(host)) == 5      # 10 + 1 each once seen: the sequence gate binds
