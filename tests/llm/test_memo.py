"""ResultMemo: memoised results persist beside the output (a new actor or a rerun reads them
back), memory stays bounded (evicted values are read again from disk), shards compact."""

from __future__ import annotations

import asyncio

from ultralink.core.fs import list_files, resolve
from ultralink.llm.memo import ResultMemo, shard_of
from ultralink.llm.request_cache import CacheSpec, RequestCache, RequestCacheConfig


def test_remembered_values_survive_a_new_actor(tmp_path):
    root = resolve(str(tmp_path / "memo"))

    async def first():
        memo = ResultMemo(root)
        assert await memo.recall("judge:a") is None
        await memo.remember("judge:a", {"verdict": {"x": True}})
        assert await memo.recall("judge:a") == {"verdict": {"x": True}}
        await memo.flush()

    async def second():
        memo = ResultMemo(root)  # another actor, or the rerun after a crash
        return await memo.recall("judge:a"), await memo.recall("judge:b")

    asyncio.run(first())
    assert asyncio.run(second()) == ({"verdict": {"x": True}}, None)


def test_memory_is_bounded_and_evicted_values_come_back_from_disk(tmp_path):
    root = resolve(str(tmp_path / "memo"))
    keys = [f"judge:{i}" for i in range(50)]

    async def run():
        memo = ResultMemo(root, max_entries=10)
        for i, k in enumerate(keys):
            await memo.remember(k, i)
        await memo.flush()
        assert len(memo) == 10
        got = [await memo.recall(k) for k in keys]
        return got, len(memo)

    got, held = asyncio.run(run())
    assert got == list(range(50)) and held <= 10


def test_in_memory_only_without_a_root():
    async def run():
        memo = ResultMemo(None)
        await memo.remember("k", [1, 2])
        await memo.flush()  # nothing to write
        return await memo.recall("k"), await memo.recall("other")

    assert asyncio.run(run()) == ([1, 2], None)


def test_a_shard_of_many_segments_is_compacted_when_read(tmp_path):
    root = resolve(str(tmp_path / "memo"))
    keys = [k for k in (f"judge:{i}" for i in range(400)) if shard_of(k) == "0"][:6]

    async def run():
        writer = ResultMemo(root)
        for i, k in enumerate(keys):
            await writer.remember(k, i)
            await writer.flush()  # one segment each
        reader = ResultMemo(root, compact_at=3)
        return [await reader.recall(k) for k in keys]

    assert asyncio.run(run()) == list(range(6))
    assert len(list_files(root.join("0"), ".jsonl")) == 1
    assert asyncio.run(ResultMemo(root).recall(keys[-1])) == 5


def test_the_request_cache_keeps_its_memo_beside_the_output_or_in_memo_dir(tmp_path):
    out = resolve(str(tmp_path / "out"))
    spec = CacheSpec.for_output(out, "e", "m")
    assert spec.memo.uri.endswith("/_requests/_memo")
    shared = CacheSpec.for_output(out, "e", "m", RequestCacheConfig(
        memo_dir=str(tmp_path / "shared")))
    assert shared.memo.uri.endswith("/shared")

    async def run():
        cache = RequestCache(shared)
        await cache.memo.remember("judge:z", 1)
        await cache.flush()  # the batch's flush writes the memo too
        return await RequestCache(shared).memo.recall("judge:z")

    assert asyncio.run(run()) == 1
