"""Shared helpers of the hosting tests: fast retries, CPU-free hosts, one request builder, and
the factory of Ray-hosted pools behind the ``ray_pool`` fixture (``conftest.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

from tests.fakes import fake_config
from ultralink.hosting.options import HostOptions, RetryPolicy
from ultralink.hosting.pool import HostPool
from ultralink.llm.types import ChatRequest, Message

FAST = RetryPolicy(max_attempts=3, backoff_s=0.01, max_backoff_s=0.05)
NO_CPU = HostOptions(num_cpus=0, max_restarts=1)


def req(text: str, key: str = "") -> ChatRequest:
    return ChatRequest(messages=[Message("user", text)], affinity=key, request_id=key or text)


def ray_pools() -> Iterator[Callable[..., HostPool]]:
    """Yields a factory of Ray-hosted pools (unique names); shuts them down afterwards."""
    made: list[HostPool] = []

    def make(num_hosts: int = 2, options: HostOptions = NO_CPU, retry: RetryPolicy = FAST,
             **script: object) -> HostPool:
        pool = HostPool.create(fake_config(**script), num_hosts, "t" + uuid.uuid4().hex[:8],
                               options=options, retry=retry)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.shutdown()
