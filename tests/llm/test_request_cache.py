"""The request cache: keyed by what decides a completion, flushed as it goes, replayed once."""

from __future__ import annotations

import asyncio

import pyarrow as pa

from tests.fakes import ThreeTurns, fake_config
from ultralink.core.fs import resolve
from ultralink.llm.request_cache import CacheSpec, RequestCache, read_unit, request_key
from ultralink.llm.types import ChatRequest, Completion, Message, SamplingParams
from ultralink.hosting.pool import HostPool


def req(text: str = "q", seed: int = 1, **kw) -> ChatRequest:
    return ChatRequest(messages=[Message("user", text)], sampling=SamplingParams(seed=seed, **kw),
                       request_id=f"rid-{text}-{seed}")


def test_key_covers_engine_model_prompt_sampling_and_seed_only():
    base = request_key("vllm", "m", req())
    assert base == request_key("vllm", "m", ChatRequest(messages=[Message("user", "q")],
                                                        sampling=SamplingParams(seed=1),
                                                        request_id="other", affinity="x"))
    for other in (request_key("llamacpp", "m", req()), request_key("vllm", "m2", req()),
                  request_key("vllm", "m", req("q2")), request_key("vllm", "m", req(seed=2)),
                  request_key("vllm", "m", req(temperature=0.1)),
                  request_key("vllm", "m", req(stop=["\n"])),
                  request_key("vllm", "m", ChatRequest(prompt="q", sampling=SamplingParams(seed=1)))):
        assert other != base


def test_flush_every_n_then_a_new_cache_replays_in_order_once(tmp_path):
    spec = CacheSpec(resolve(str(tmp_path / "_requests")), "e", "m", flush_every=2,
                     flush_seconds=3600)

    async def record() -> None:
        cache = RequestCache(spec)
        assert await cache.get("u1", req()) is None
        await cache.put("u1", req(), Completion("first", "stop", 3, 1))
        assert not read_unit(spec.root, "u1")  # buffered
        await cache.put("u1", req(), Completion("second", "length", 3, 2))  # same key twice
        assert [e["text"] for e in read_unit(spec.root, "u1")] == ["first", "second"]
        await cache.put("u2", req("x"), Completion("x!", "stop"))
        await cache.flush()

    async def replay() -> list:
        cache = RequestCache(spec)
        got = [await cache.get("u1", req()) for _ in range(3)]
        return got + [await cache.get("u2", req("x")), await cache.get("u1", req("x"))]

    asyncio.run(record())
    a, b, c, x, miss = asyncio.run(replay())
    assert (a.text, a.finish_reason, a.completion_tokens) == ("first", "stop", 1)
    assert (b.text, b.finish_reason) == ("second", "length") and c is None
    assert x.text == "x!" and miss is None  # per unit


def test_a_stage_rerun_replays_without_calling_the_engine(tmp_path):
    spec = CacheSpec(resolve(str(tmp_path / "_requests")), "scripted", "m", flush_every=100)
    data = pa.Table.from_pylist([{"id": f"r{i}", "question": f"question {i}", "unit_id": "u0"}
                                 for i in range(6)])

    def run_once() -> tuple[list, int, dict]:
        pool = HostPool.local(fake_config(), 1)
        out = asyncio.run(ThreeTurns(pool, request_cache=spec)(data)).to_pylist()
        stats = asyncio.run(pool.stats_async())
        engine = stats["hosts"]["local-host-0"]["engine"]
        return out, engine["calls"], stats["stages"]["three_turns"]["counts"]

    first, calls, _ = run_once()
    assert calls == 18 and len(read_unit(spec.root, "u0")) == 18  # flushed at the batch end
    again, calls, counts = run_once()
    assert calls == 0 and counts["requests_replayed"] == 18
    assert [r["answer"] for r in again] == [r["answer"] for r in first]
