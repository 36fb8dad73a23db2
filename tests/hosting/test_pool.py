"""HostPool: routing (rendezvous by dialogue, least-loaded otherwise), retries, failover to
the next host when one dies, and a client that pickles to names and reconnects."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from tests.fakes import ScriptedEngine, fake_config
from tests.hosting.pools import FAST, req
from ultralink.hosting.options import HostOptions
from ultralink.hosting.pool import HostPool, pick_host, rendezvous_order
from ultralink.llm.metrics import LLMMetrics
from ultralink.llm.types import RequestError


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


def test_affinity_picks_the_first_live_host_and_no_key_the_least_loaded():
    up = {0, 1, 2}
    first, second = rendezvous_order("abc", 3)[:2]
    assert pick_host("abc", up, [0, 0, 0], 3) == first
    assert pick_host("abc", up - {first}, [0, 0, 0], 3) == second  # its host is down
    assert pick_host("", up, [5, 0, 5], 3) == 1
    assert pick_host("", {0, 2}, [5, 0, 3], 3) == 2
    assert pick_host("abc", set(), [0, 0, 0], 3) is None


def test_local_pool_routes_by_affinity_to_live_hosts():
    pool = HostPool.local(fake_config(), 3, retry=FAST)
    assert pool.hosts_up() == frozenset()  # not connected yet

    async def run():
        await pool.info()
        assert pool.hosts_up() == {0, 1, 2} and pool.in_flight() == (0, 0, 0)
        assert pool.route("abc") == pool.route("abc") == rendezvous_order("abc", 3)[0]

    asyncio.run(run())


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
        victim = ray.get_actor(f"{pool.name_prefix}-host-0", namespace=pool.namespace)
        tasks = [asyncio.ensure_future(pool.generate(req(f"q {k}", k))) for k in keys]
        while not (await victim.stats.remote())["engine"]["calls"]:
            await asyncio.sleep(0.02)  # wait until requests are inside the victim's engine
        ray.kill(victim)  # no_restart=True: dead for good, the pool must re-create it
        outs = await asyncio.gather(*tasks)
        # the re-created host 0 serves its keys again
        deadline = time.time() + 30
        while 0 not in pool.hosts_up() and time.time() < deadline:
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


def test_pool_pickles_to_names_and_reconnects(ray_pool):
    import pickle

    pool = ray_pool(1)
    clone = pickle.loads(pickle.dumps(pool))
    out = asyncio.run(clone.generate(req("hello", "x")))
    assert out.text == ScriptedEngine.answer(req("hello", "x"))
    connected = HostPool.connect(pool.name_prefix, 1, namespace=pool.namespace)
    assert asyncio.run(connected.generate(req("hello", "x"))).text == out.text


def _calls(path):
    from tests.fakes import read_calls

    return read_calls(path)
