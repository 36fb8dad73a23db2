"""EngineHost / HostPool: routing, in-flight depth, retries, drops and host death."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest

from tests.fakes import ScriptedEngine, fake_config
from ultralink.llm.metrics import LLMMetrics, format_summary, job_report
from ultralink.llm.types import ChatRequest, EngineGone, Message, RequestError
from ultralink.pipeline.engine_host import (
    HostOptions,
    HostPool,
    RetryPolicy,
    _PriorityGate,
    rendezvous_order,
)

FAST = RetryPolicy(max_attempts=3, backoff_s=0.01, max_backoff_s=0.05)
NO_CPU = HostOptions(num_cpus=0, max_restarts=1)


def req(text: str, key: str = "") -> ChatRequest:
    return ChatRequest(messages=[Message("user", text)], affinity=key, request_id=key or text)


@pytest.fixture
def ray_pool(ray_local):
    """Factory for Ray-hosted pools (unique names), shut down after the test."""
    pools: list[HostPool] = []

    def make(num_hosts: int = 2, options: HostOptions = NO_CPU, retry: RetryPolicy = FAST,
             **script):
        pool = HostPool.create(fake_config(**script), num_hosts, "t" + uuid.uuid4().hex[:8],
                               options=options, retry=retry)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown()


# -- routing (pure) ---------------------------------------------------------------------------
def test_rendezvous_moves_only_the_dead_hosts_keys():
    keys = [f"dialogue-{i}" for i in range(2000)]
    first4 = {k: rendezvous_order(k, 4)[0] for k in keys}
    assert set(Counter(first4.values())) == {0, 1, 2, 3}
    assert min(Counter(first4.values()).values()) > 350  # roughly even
    # Without host 2, keys on hosts 0/1/3 stay put; host 2's keys go to their next choice.
    for k in keys:
        order = [i for i in rendezvous_order(k, 4) if i != 2]
        if first4[k] != 2:
            assert order[0] == first4[k]


def test_local_pool_routes_affinity_and_least_loaded():
    pool = HostPool.local(fake_config(), 3, retry=FAST)

    async def run():
        await pool.info()
        assert pool.route("abc") == pool.route("abc") == rendezvous_order("abc", 3)[0]
        pool._in_flight[:] = [5, 0, 5]
        assert pool.route("") == 1
        pool._up.discard(rendezvous_order("abc", 3)[0])  # its host is down: next choice
        assert pool.route("abc") == rendezvous_order("abc", 3)[1]

    asyncio.run(run())


def test_admission_prefers_the_oldest_dialogue():
    async def run():
        gate = _PriorityGate(1)
        order: list[int] = []
        await gate.acquire(0)  # the engine is full

        async def waiter(priority: int) -> None:
            await gate.acquire(priority)
            order.append(priority)
            gate.release()

        tasks = [asyncio.ensure_future(waiter(p)) for p in (7, 3, 9, 1)]
        await asyncio.sleep(0)
        gate.release()
        await asyncio.gather(*tasks)
        return order, gate.free

    assert asyncio.run(run()) == ([1, 3, 7, 9], 1)


def test_host_orders_requests_by_first_request_of_their_dialogue():
    from ultralink.pipeline.engine_host import EngineHost

    host = EngineHost(fake_config(), options=HostOptions(), engine_factory=ScriptedEngine)
    first = [host._priority(k) for k in ("a", "b", "c")]
    assert host._priority("b") == first[1]  # b's follow-up outranks anything newer
    assert host._priority("") > first[2]
    fifo = EngineHost(fake_config(), options=HostOptions(admission="fifo"),
                      engine_factory=ScriptedEngine)
    assert [fifo._priority(k) for k in ("a", "b", "a")] == [1, 2, 3]


def test_connect_to_a_missing_pool_names_it(ray_local):
    pool = HostPool.connect("nope", 1)
    with pytest.raises(ValueError, match="no engine host pool 'nope'"):
        asyncio.run(pool.generate(req("x")))


# -- on Ray -----------------------------------------------------------------------------------
def test_same_key_same_host_and_keys_spread(ray_pool):
    pool = ray_pool(2)

    async def run():
        keys = [f"d{i}" for i in range(40)]
        outs = await asyncio.gather(*(pool.generate(req(f"turn {t} of {k}", k))
                                      for k in keys for t in range(3)))
        by_key: dict[str, set[str]] = {}
        for (k, _t), out in zip(((k, t) for k in keys for t in range(3)), outs):
            by_key.setdefault(k, set()).add(out.model)
        return by_key

    by_key = asyncio.run(run())
    assert all(len(engines) == 1 for engines in by_key.values())  # one host per dialogue
    assert len(set().union(*by_key.values())) == 2  # both hosts used


def test_hundreds_of_requests_in_flight_per_host(ray_pool):
    pool = ray_pool(1, latency_s=1.0)

    async def run():
        return await asyncio.gather(*(pool.generate(req(f"q{i}")) for i in range(200)))

    outs = asyncio.run(run())
    assert len(outs) == 200
    engine = pool.stats()["hosts"][f"{pool.name_prefix}-host-0"]["engine"]
    assert engine["max_in_flight"] >= 50, engine


def test_in_flight_capped_by_host_semaphore(ray_pool):
    pool = ray_pool(1, options=HostOptions(num_cpus=0, max_in_flight=20), latency_s=0.1)

    async def run():
        return await asyncio.gather(*(pool.generate(req(f"q{i}")) for i in range(100)))

    assert len(asyncio.run(run())) == 100
    engine = pool.stats()["hosts"][f"{pool.name_prefix}-host-0"]["engine"]
    assert engine["max_in_flight"] == 20


def test_transient_errors_are_retried_and_bad_rows_fail_with_reason():
    pool = HostPool.local(fake_config(fail_nth=[2, 3], fail_if="BAD"), 1, retry=FAST)
    metrics = LLMMetrics()

    async def run():
        ok = [await pool.generate(req(f"good {i}"), metrics) for i in range(4)]
        with pytest.raises(RequestError) as err:
            await pool.generate(req("BAD row"), metrics)
        return ok, err.value

    ok, err = asyncio.run(run())
    assert [o.text for o in ok] == [ScriptedEngine.answer(req(f"good {i}")) for i in range(4)]
    assert err.reason == "scripted_row" and not err.retryable
    counts = metrics.counters.counts
    assert counts["errors_scripted"] == 2  # calls 2 and 3 failed, then succeeded
    assert counts["errors_scripted_row"] == FAST.max_attempts
    assert counts["failed_scripted_row"] == 1
    assert counts["retries"] == 2 + FAST.max_attempts - 1
    assert counts["completions"] == 4


def test_timeout_is_a_retryable_request_error():
    pool = HostPool.local(fake_config(hang_if="SLOW", hang_s=30),
                          1, options=HostOptions(request_timeout_s=0.05), retry=FAST)
    metrics = LLMMetrics()

    async def run():
        with pytest.raises(RequestError) as err:
            await pool.generate(req("SLOW one"), metrics)
        return err.value

    assert asyncio.run(run()).reason == "timeout"
    assert metrics.counters.counts["errors_timeout"] == FAST.max_attempts


def test_killed_host_loses_no_request(ray_pool, tmp_path):
    import ray

    pool = ray_pool(2, latency_s=1.0, calls_dir=str(tmp_path))
    keys = [f"k{i}" for i in range(120)]

    async def run():
        await pool.info()
        victim = pool._handles[0]
        tasks = [asyncio.ensure_future(pool.generate(req(f"q {k}", k))) for k in keys]
        while not (await victim.stats.remote())["engine"]["calls"]:
            await asyncio.sleep(0.02)  # wait until requests are inside the victim's engine
        ray.kill(victim)  # no_restart=True: dead for good, the pool must re-create it
        outs = await asyncio.gather(*tasks)
        # the re-created host 0 serves its keys again
        deadline = time.time() + 30
        while 0 not in pool._up and time.time() < deadline:
            await asyncio.sleep(0.1)
        late = await pool.generate(req("after", keys[0]))
        return outs, late

    outs, late = asyncio.run(run())
    assert [o.text for o in outs] == [ScriptedEngine.answer(req(f"q {k}", k)) for k in keys]
    stats = pool.stats()
    assert stats["hosts"][f"{pool.name_prefix}-host-0"]["recreated"] == 1
    assert late.text == ScriptedEngine.answer(req("after", keys[0]))
    # the requests in flight on the killed host were sent again
    calls = Counter(_calls(tmp_path))
    assert set(calls) >= set(keys)
    assert any(calls[k] > 1 for k in keys)


def test_engine_dead_restarts_the_host_and_requests_complete(ray_pool):
    pool = ray_pool(1, options=HostOptions(num_cpus=0, max_restarts=2), dead_nth=10,
                    dead_once=True, latency_s=0.05)

    async def run():
        return await asyncio.gather(*(pool.generate(req(f"q{i}")) for i in range(60)))

    outs = asyncio.run(run())
    assert [o.text for o in outs] == [ScriptedEngine.answer(req(f"q{i}")) for i in range(60)]
    host = pool.stats()["hosts"][f"{pool.name_prefix}-host-0"]
    assert host["restarts"] == 1 and host["recreated"] == 0


def test_hosts_gone_for_good_stop_the_job(ray_pool):
    """A host whose engine dies on every call is re-created (under a name of its own: the dead
    actor's may still be registered) and then given up: the request raises EngineGone, which
    no stage turns into a dropped row, so no unit is marked done without its rows."""
    pool = ray_pool(1, options=HostOptions(num_cpus=0, max_restarts=0, max_recreates=1),
                    dead_nth=1)
    with pytest.raises(EngineGone, match="gone"):
        asyncio.run(pool.generate(req("q")))
    assert pool.stats()["hosts"][f"{pool.name_prefix}-host-0"]["recreated"] == 1


def test_pool_pickles_to_names_and_reconnects(ray_pool):
    import pickle

    pool = ray_pool(1)
    clone = pickle.loads(pickle.dumps(pool))
    out = asyncio.run(clone.generate(req("hello", "x")))
    assert out.text == ScriptedEngine.answer(req("hello", "x"))
    connected = HostPool.connect(pool.name_prefix, 1, namespace=pool.namespace)
    assert asyncio.run(connected.generate(req("hello", "x"))).text == out.text


def test_stats_and_summary(ray_pool):
    pool = ray_pool(2, completion_tokens=7)

    async def run():
        m = LLMMetrics()
        await asyncio.gather(*(pool.generate(req(f"q{i}", f"k{i}"), m) for i in range(10)))
        m.counters.add("total", 10)
        m.counters.add("kept", 10)
        await pool.report("answer", m.take())

    asyncio.run(run())
    report = job_report(pool.stats())
    assert report["stages"]["answer"]["tokens_completion"] == 70
    assert sum(h["tokens_completion"] for h in report["hosts"].values()) == 70
    assert report["total"]["requests"] == 10
    text = format_summary(report)
    assert "answer" in text and f"{pool.name_prefix}-host-1" in text


def _calls(path):
    from tests.fakes import read_calls

    return read_calls(path)
