"""EngineHost: its gate follows what the engine reports (sequences and KV tokens), the KV
reserve follows the outputs seen, and the host's semaphore caps what is inside the engine."""

from __future__ import annotations

import asyncio

from tests.fakes import ScriptedEngine, fake_config
from tests.hosting.pools import req as chat_req
from ultralink.hosting.host import EngineHost
from ultralink.hosting.options import HostOptions
from ultralink.llm.types import ChatRequest, SamplingParams


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


def test_kv_reserve_follows_the_outputs_seen_not_the_cap():
    """Once 64 requests of a similar max_tokens finished, a request reserves the 90th
    percentile of their outputs (here 1 word of 40 allowed): more fit in the same KV cache."""
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


def test_in_flight_capped_by_host_semaphore(ray_pool):
    pool = ray_pool(1, options=HostOptions(num_cpus=0, max_in_flight=20), latency_s=0.1)

    async def run():
        return await asyncio.gather(*(pool.generate(chat_req(f"q{i}")) for i in range(100)))

    assert len(asyncio.run(run())) == 100
    engine = pool.stats()["hosts"][f"{pool.name_prefix}-host-0"]["engine"]
    assert engine["max_in_flight"] == 20


def test_hundreds_of_requests_in_flight_per_host(ray_pool):
    pool = ray_pool(1, latency_s=1.0)

    async def run():
        return await asyncio.gather(*(pool.generate(chat_req(f"q{i}")) for i in range(200)))

    outs = asyncio.run(run())
    assert len(outs) == 200
    engine = pool.stats()["hosts"][f"{pool.name_prefix}-host-0"]["engine"]
    assert engine["max_in_flight"] >= 50, engine


def test_a_dead_engine_marks_the_host_dead():
    host = EngineHost(fake_config(dead_nth=1), engine_factory=ScriptedEngine)
    assert host.dead == ""

    async def run():
        try:
            await host.generate(chat_req("q"))
        except Exception as e:  # EngineDead
            return type(e).__name__

    assert asyncio.run(run()) == "EngineDead"
    assert "scripted engine death" in host.dead
