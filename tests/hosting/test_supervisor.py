"""HostSupervisor: hosts restarted or re-created keep their counters and held GPU time, a host
gone for good stops the job, and the stages' counters reach the pool's report."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes import ScriptedEngine, fake_config
from tests.hosting.pools import req
from ultralink.hosting.options import HostOptions
from ultralink.hosting.pool import HostPool
from ultralink.llm.metrics import LLMMetrics, format_summary, job_report
from ultralink.llm.types import EngineGone


def test_held_gpu_time_and_counts_survive_a_recreated_host():
    """The engine dies on its 6th call: the local supervisor re-creates the host (as it
    re-creates an actor dead for good), and the report sums both incarnations."""
    cfg = fake_config(dead_nth=6).model_copy(update={"num_gpus": 2.0})
    pool = HostPool.local(cfg, 1, options=HostOptions(stats_poll_s=0))

    async def some(n):
        for i in range(n):  # one at a time: the dying call is the only one on the old engine
            await pool.generate(req(f"q{i}"))

    asyncio.run(some(5))
    first = pool.stats()
    asyncio.run(some(3))  # the first of these kills the engine and is retried on the new one
    report = job_report(pool.stats())
    host = report["hosts"]["local-host-0"]
    assert host["completions"] == 8 and host["incarnations"] == 2
    assert pool.stats()["hosts"]["local-host-0"]["recreated"] == 1
    # the report rounds to ms; rounding is monotonic, so compare rounded values
    assert host["held_s"] >= round(first["hosts"]["local-host-0"]["timings"]["held"], 3)
    assert host["gpu_seconds"] == round(2.0 * host["held_s"], 3)
    assert host["gpu_busy_seconds"] == round(2.0 * host["busy_s"], 3)
    assert report["total"]["gpu_seconds"] >= report["total"]["gpu_busy_seconds"]
    pool.shutdown()


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
