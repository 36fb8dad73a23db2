"""Admission rules on their own: the priority gate, the arrival order, the output estimate."""

from __future__ import annotations

import asyncio

from ultralink.hosting.admission import ArrivalOrder, OutputEstimate, PriorityGate


def test_admission_prefers_the_oldest_dialogue():
    async def run():
        gate = PriorityGate(1)
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


def test_requests_rank_by_the_first_request_of_their_dialogue():
    order = ArrivalOrder("oldest_dialogue")
    first = [order.priority(k) for k in ("a", "b", "c")]
    assert order.priority("b") == first[1]  # b's follow-up outranks anything newer
    assert order.priority("") > first[2]
    fifo = ArrivalOrder("fifo")
    assert [fifo.priority(k) for k in ("a", "b", "a")] == [1, 2, 3]


def test_a_forgotten_dialogue_counts_as_new():
    order = ArrivalOrder(max_keys=2)
    assert [order.priority(k) for k in ("a", "b", "c")] == [1, 2, 3]  # "a" forgotten
    assert order.priority("a") == 4 and order.priority("c") == 3


def test_output_reserve_follows_the_outputs_seen_not_the_cap():
    """Once 64 requests of a similar max_tokens finished, a request reserves the 90th
    percentile of their outputs."""
    est = OutputEstimate(0.9, window=100, min_samples=64)
    assert est.reserve(1024) == 1024
    for i in range(100):
        est.observe(1000, 200 + i)          # 200..299
    assert est.reserve(1024) == 290 and est.reserve(600) == 290 and est.reserve(250) == 250
    assert est.reserve(128) == 128          # another bucket: nothing seen yet
    for _ in range(100):
        est.observe(1000, 900)              # the window slides: the old outputs leave
    assert est.reserve(1024) == 900
