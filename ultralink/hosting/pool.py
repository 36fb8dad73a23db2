"""The pool: the client every stage holds, routing each request to a host and retrying it.

Why it exists: a stage actor must not care how many hosts there are or which one just died.
:class:`HostPool` lives on the driver and inside stage actors (it pickles to its names and
reconnects lazily). ``await pool.generate(request)`` routes by ``request.affinity`` with
rendezvous hashing (all turns of a dialogue hit one host's prefix cache, and a dead host only
moves its own keys) or to the least-loaded host, retries per-request errors with backoff, and
sends requests whose host died to the next host in the key's order while the supervisor
brings the dead one back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import ray
from ray.exceptions import RayActorError, RayTaskError

from ultralink.core.ids import stable_int
from ultralink.hosting.calls import invoke
from ultralink.hosting.options import EngineFactory, HostOptions, RetryPolicy
from ultralink.hosting.supervisor import LocalSupervisor, start_supervisor
from ultralink.llm.metrics import LLMMetrics
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatRequest, Completion, EngineDead, EngineGone, RequestError

log = logging.getLogger("ultralink.llm")


def rendezvous_order(key: str, num_hosts: int) -> list[int]:
    """Host indices by preference for ``key``; removing one host moves only its own keys."""
    return sorted(range(num_hosts), key=lambda i: stable_int(key, i, bits=64), reverse=True)


def pick_host(affinity: str, up: set[int] | frozenset[int], in_flight: list[int] | tuple[int, ...],
              num_hosts: int) -> int | None:
    """The host for a request: the first live host in the key's rendezvous order, or (empty
    key) a least-loaded live host; ``None`` when none is up."""
    if not up:
        return None
    if affinity:
        for index in rendezvous_order(affinity, num_hosts):
            if index in up:
                return index
    least = min(in_flight[i] for i in up)
    return random.choice([i for i in up if in_flight[i] == least])


class HostPool:
    """Routes requests to a job's engine hosts; picklable (reconnects by name in stage actors)."""

    def __init__(self, name_prefix: str, num_hosts: int | None = None, *,
                 namespace: str | None = None, retry: RetryPolicy | None = None) -> None:
        self.name_prefix = name_prefix
        self.num_hosts = num_hosts
        self.namespace = namespace
        self.retry = retry or RetryPolicy()
        self._supervisor: Any = None
        self._local = False
        self._reset()

    def _reset(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handles: list[Any] = []
        self._in_flight: list[int] = []
        self._up: set[int] = set()
        self._gone: set[int] = set()
        self._reviving: dict[int, asyncio.Task[None]] = {}
        self._info: dict[str, Any] = {}

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def create(cls, config: EngineConfig, num_hosts: int, name_prefix: str, *,
               namespace: str | None = None, options: HostOptions | None = None,
               retry: RetryPolicy | None = None) -> HostPool:
        """Start ``num_hosts`` hosts (each ``config.num_gpus`` GPUs) and wait for their models.

        Call once per job on the driver; pass the pool (or its names) to the stages.
        """
        options = options or HostOptions()
        if num_hosts < 1:
            raise ValueError(f"num_hosts must be >= 1, got {num_hosts}")
        namespace = namespace or ray.get_runtime_context().namespace
        sup = start_supervisor(config, num_hosts, name_prefix, namespace, options)
        pool = cls(name_prefix, num_hosts, namespace=namespace, retry=retry)
        pool._supervisor = sup
        return pool

    @classmethod
    def connect(cls, name_prefix: str, num_hosts: int | None = None, *,
                namespace: str | None = None, retry: RetryPolicy | None = None) -> HostPool:
        """A client for hosts another process created (looked up by name on first use)."""
        return cls(name_prefix, num_hosts, namespace=namespace, retry=retry)

    @classmethod
    def local(cls, config: EngineConfig, num_hosts: int = 1, *, options: HostOptions | None = None,
              retry: RetryPolicy | None = None,
              engine_factory: EngineFactory | None = None) -> HostPool:
        """Hosts in this process (no Ray): the same host, routing and retry code, for tests."""
        pool = cls("local", num_hosts, retry=retry)
        pool._supervisor = LocalSupervisor(config, num_hosts, options or HostOptions(),
                                            engine_factory)
        pool._local = True
        return pool

    def __getstate__(self) -> dict[str, Any]:
        if self._local:
            raise TypeError("a local HostPool lives in one process; use HostPool.create on Ray")
        return {"name_prefix": self.name_prefix, "num_hosts": self.num_hosts,
                "namespace": self.namespace, "retry": self.retry}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name_prefix"], state["num_hosts"], namespace=state["namespace"],
                      retry=state["retry"])

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._reset()
        self._sup_handle()
        handles = await invoke(self._supervisor, "hosts")
        if self.num_hosts is not None and len(handles) != self.num_hosts:
            raise ValueError(f"pool {self.name_prefix!r} has {len(handles)} hosts, "
                             f"expected {self.num_hosts}")
        self.num_hosts = len(handles)
        self._handles = handles
        self._in_flight = [0] * len(handles)
        self._up = set(range(len(handles)))
        self._loop = loop

    async def info(self) -> dict[str, Any]:
        """Model name, ``max_model_len`` and in-flight cap of the hosts (from host 0)."""
        await self._connect()
        if not self._info:
            self._info = await invoke(self._supervisor, "info")
        return self._info

    # -- routing ----------------------------------------------------------------------------
    def route(self, affinity: str) -> int | None:
        """The host this client sends a request to now (:func:`pick_host` on its view)."""
        return pick_host(affinity, self._up, self._in_flight, len(self._handles))

    def hosts_up(self) -> frozenset[int]:
        """Indices of the hosts this client currently routes to (read-only; a host that
        died leaves it until the supervisor has it back). Empty before the first call."""
        return frozenset(self._up)

    def in_flight(self) -> tuple[int, ...]:
        """This client's requests now waiting on each host (read-only)."""
        return tuple(self._in_flight)

    def _mark_down(self, index: int, handle: Any) -> None:
        if self._handles[index] is not handle or index not in self._up:
            return  # already known, or a stale handle
        self._up.discard(index)
        self._reviving[index] = asyncio.get_running_loop().create_task(self._revive(index))

    async def _revive(self, index: int) -> None:
        delay = 0.2
        while True:
            try:
                handle = await invoke(self._supervisor, "ensure", index)
            except Exception:  # supervisor busy or restarting: try again
                log.exception("host %d: revive failed", index)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if handle is None:
                self._gone.add(index)
            else:
                self._handles[index] = handle
                self._up.add(index)
            self._reviving.pop(index, None)
            return

    # -- requests ---------------------------------------------------------------------------
    async def generate(self, request: ChatRequest, metrics: LLMMetrics | None = None) -> Completion:
        """One completion, with bounded retries; raises a non-retryable RequestError at the end.

        Args:
            metrics: the caller's (a stage's) counters: attempts, retries, failures, tokens.
        """
        await self._connect()
        m = metrics or LLMMetrics()
        attempts = host_failures = 0
        waiting_since: float | None = None
        while True:
            index = self.route(request.affinity)
            if index is None:  # every host is restarting: wait for one, within host_wait_s
                waiting_since = waiting_since or time.monotonic()
                await self._wait_for_a_host(waiting_since, m)
                continue
            waiting_since = None
            handle = self._handles[index]
            self._in_flight[index] += 1
            m.sent()
            start = time.perf_counter()
            try:
                completion = await self._call(handle, request)
            except (EngineDead, RayActorError, asyncio.TimeoutError) as e:
                # The host is gone or hung (not this request's fault): fail over.
                host_failures += 1
                await self._host_failed(index, handle, host_failures, e, m)
                continue
            except (RequestError, RayTaskError) as e:
                attempts += 1
                await self._request_failed(e, attempts, m)
                continue
            finally:
                self._in_flight[index] -= 1
            m.completed(completion, time.perf_counter() - start)
            return completion

    async def _call(self, handle: Any, request: ChatRequest) -> Completion:
        call = invoke(handle, "generate", request)
        if self.retry.call_timeout_s:
            return await asyncio.wait_for(call, self.retry.call_timeout_s)
        return await call

    async def _wait_for_a_host(self, since: float, m: LLMMetrics) -> None:
        """Sleep a moment while no host is up; raise once all are gone or the wait is over."""
        if len(self._gone) == len(self._handles):
            m.failed("no_host")
            raise EngineGone(f"all {len(self._handles)} engine host(s) are gone after "
                             "their re-creations (see the host logs); rerun to resume")
        if time.monotonic() - since > self.retry.host_wait_s:
            m.failed("no_host")
            raise RequestError("no_host", "no engine host is up", retryable=False)
        await asyncio.sleep(random.uniform(0.05, 0.25))

    async def _host_failed(self, index: int, handle: Any, failures: int, e: BaseException,
                           m: LLMMetrics) -> None:
        m.error("host_dead")
        self._mark_down(index, handle)
        if failures > self.retry.max_host_failures:
            m.failed("host_dead")
            raise RequestError("host_dead", f"{failures} host failures: {e!r}",
                               retryable=False) from None
        m.retry()
        await asyncio.sleep(random.uniform(0, 0.05))

    async def _request_failed(self, e: RequestError | RayTaskError, attempts: int,
                              m: LLMMetrics) -> None:
        if isinstance(e, RequestError):
            reason, retryable = e.reason, e.retryable
        else:  # an unexpected error in the host's own code
            reason, retryable = "host_" + type(e.cause).__name__, True
        m.error(reason)
        if not retryable or attempts >= self.retry.max_attempts:
            m.failed(reason)
            raise RequestError(reason, f"{reason} after {attempts} attempt(s)",
                               retryable=False) from None
        m.retry()
        await asyncio.sleep(self.retry.backoff(attempts))

    # -- job side ---------------------------------------------------------------------------
    async def report(self, stage: str, delta: dict[str, Any]) -> None:
        """Merge a stage's counter delta into the pool's record (kept by the supervisor)."""
        await self._connect()
        await invoke(self._supervisor, "report", stage, delta)

    def capacity(self) -> dict[str, Any]:
        """Host 0's ``ready()`` info (engine capacity read back after load) plus
        ``num_hosts`` and ``total_in_flight``: what the stages size their concurrency from."""
        if self._local:
            info = asyncio.run(self._supervisor.info())
            n = len(asyncio.run(self._supervisor.hosts()))
        else:
            sup = self._sup_handle()
            info = ray.get(sup.info.remote())
            n = len(ray.get(sup.hosts.remote()))
        return {**info, "num_hosts": n, "total_in_flight": int(info["max_in_flight"]) * n}

    async def stats_async(self) -> dict[str, Any]:
        await self._connect()
        return await invoke(self._supervisor, "stats")

    def stats(self) -> dict[str, Any]:
        """``{"stages": {name: snapshot}, "hosts": {name: snapshot}}`` for the job report."""
        if self._local:
            return asyncio.run(self._supervisor.stats())
        return ray.get(self._sup_handle().stats.remote())

    def shutdown(self) -> None:
        """Release every engine and end the hosts and the supervisor."""
        if self._local:
            asyncio.run(self._supervisor.shutdown())
            return
        sup = self._sup_handle()
        try:
            ray.get(sup.shutdown.remote(), timeout=120)
        finally:
            ray.kill(sup)

    def _sup_handle(self) -> Any:
        if self._supervisor is None:
            name = f"{self.name_prefix}-supervisor"
            try:
                self._supervisor = ray.get_actor(name, namespace=self.namespace)
            except ValueError:
                raise ValueError(f"no engine host pool {self.name_prefix!r} (actor {name!r}) in "
                                 f"namespace {self.namespace!r}; the job creates it with "
                                 "HostPool.create before the stages run") from None
        return self._supervisor
