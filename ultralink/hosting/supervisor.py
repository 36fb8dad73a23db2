"""The supervisor: creates and owns a pool's hosts, re-creates dead ones, keeps the counters.

Why it exists: hosts must share the job's fate (created by one owner, not by whichever stage
actor came first), a host that is dead for good (``ray.kill``, restarts used up) must be
re-created under a name of its own, and the stages' counter deltas must outlive Ray Data's
actor scale-down. :class:`HostSupervisor` is one small named actor per pool (no CPU) that
does all three; :class:`LocalSupervisor` is the same code with in-process hosts (tests,
benchmarks). It holds no results of the stages: values a stage memoises (judge verdicts) live
in the request cache beside the job output (:mod:`ultralink.llm.request_cache`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from ray.actor import ActorHandle
from ray.exceptions import ActorDiedError, RayActorError

from ultralink.hosting.calls import invoke, remote_class
from ultralink.hosting.host import EngineHost
from ultralink.hosting.options import EngineFactory, HostOptions
from ultralink.llm.metrics import merge_snapshots
from ultralink.llm.registry import EngineConfig

log = logging.getLogger("ultralink.llm")


class HostSupervisor:
    """Creates and owns a pool's hosts, re-creates dead ones, and collects stage counters."""

    def __init__(self, config: EngineConfig, num_hosts: int, name_prefix: str,
                 namespace: str | None, options: HostOptions) -> None:
        self.config = config
        self.name_prefix = name_prefix
        self.namespace = namespace
        self.options = options
        self._groups: dict[int, Any] = {}
        self._recreates = [0] * num_hosts
        self._hosts: list[Any] = [self._create(i) for i in range(num_hosts)]
        self._locks: list[asyncio.Lock] | None = None
        self._stages: dict[str, dict[str, Any]] = {}
        self._info: dict[str, Any] = {}
        # per host: the latest snapshot seen and the sum of its earlier incarnations, so a
        # restarted or re-created host's counters and held GPU time are not lost
        self._last: list[dict[str, Any] | None] = [None] * num_hosts
        self._carried: list[dict[str, Any] | None] = [None] * num_hosts
        self._incarnations = [1] * num_hosts
        self._poller: asyncio.Task[None] | None = None

    def _create(self, index: int) -> Any:
        gpus = self.config.gpus_per_host
        placement: dict[str, Any] = {}
        if self.config.tensor_parallel_size > 1:
            # a TP group is all-or-nothing on one node: reserve its GPUs as one bundle
            from ray.util.placement_group import placement_group
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            if index not in self._groups:
                bundle = {k: v for k, v in (("CPU", self.options.num_cpus), ("GPU", gpus)) if v}
                self._groups[index] = placement_group(
                    [bundle], strategy="STRICT_PACK",
                    name=f"{self.name_prefix}-tp-{index}")
            placement["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                self._groups[index], placement_group_bundle_index=0,
                placement_group_capture_child_tasks=True)
        # a re-created host gets a name of its own: the dead actor's name may still be
        # registered for a moment, and reusing it fails with ActorAlreadyExistsError
        again = self._recreates[index]
        name = f"{self.name_prefix}-host-{index}" + (f"-r{again}" if again else "")
        return remote_class(EngineHost).options(
            name=name, namespace=self.namespace,
            num_cpus=self.options.num_cpus, num_gpus=gpus,
            max_restarts=self.options.max_restarts, max_task_retries=0,
            max_concurrency=self.options.actor_max_concurrency, **placement,
        ).remote(self.config, index, self.options)

    async def ready(self) -> list[dict[str, Any]]:
        infos = await asyncio.gather(*(invoke(h, "ready") for h in self._hosts))
        self._info = infos[0]
        if self._poller is None and self.options.stats_poll_s:
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        return infos

    async def _poll(self) -> None:
        """Read host counters now and then, so a host that dies loses at most one period."""
        while True:
            await asyncio.sleep(self.options.stats_poll_s)
            await self._host_snapshots()

    async def _host_snapshots(self) -> list[dict[str, Any]]:
        async def one(i: int, h: Any) -> dict[str, Any]:
            try:
                snap = await asyncio.wait_for(invoke(h, "stats"), 30)
            except Exception as e:  # dead or restarting: its earlier counters are kept below
                return {"counts": {}, "timings": {}, "error": type(e).__name__}
            last = self._last[i]
            if last is not None and last.get("incarnation") != snap.get("incarnation"):
                self._carried[i] = merge_snapshots(self._carried[i], last)
                self._incarnations[i] += 1
            self._last[i] = snap
            return snap

        snaps = await asyncio.gather(*(one(i, h) for i, h in enumerate(self._hosts)))
        out = []
        for i, snap in enumerate(snaps):
            current = snap if "error" not in snap else (self._last[i] or snap)
            total = merge_snapshots(self._carried[i], current) if self._carried[i] else dict(
                current)
            for key in ("index", "model", "restarts", "dead", "engine", "incarnation", "error"):
                if key in snap:
                    total[key] = snap[key]
            total["incarnations"] = self._incarnations[i]
            out.append(total)
        return out

    async def hosts(self) -> list[Any]:
        return list(self._hosts)

    async def info(self) -> dict[str, Any]:
        if not self._info:
            await self.ready()
        return self._info

    async def ensure(self, index: int) -> Any | None:
        """A live handle for host ``index`` (waiting out a restart, re-creating a dead one).

        ``None`` once the host has been re-created ``max_recreates`` times: it is gone.
        """
        if self._locks is None:
            self._locks = [asyncio.Lock() for _ in self._hosts]
        async with self._locks[index]:
            delay = 0.2
            while True:
                handle = self._hosts[index]
                try:
                    await invoke(handle, "ready")
                    return handle
                except ActorDiedError:  # dead for good: ray.kill, restarts used up, init failed
                    if self._recreates[index] >= self.options.max_recreates:
                        log.error("host %d: dead after %d re-creations", index,
                                  self._recreates[index])
                        return None
                    self._recreates[index] += 1
                    log.warning("host %d: dead, re-creating (%d)", index, self._recreates[index])
                    self._hosts[index] = self._create(index)
                except RayActorError:  # restarting (ActorUnavailableError): wait for it
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)

    async def report(self, stage: str, delta: dict[str, Any]) -> None:
        self._stages[stage] = merge_snapshots(self._stages.get(stage), delta)

    async def stats(self) -> dict[str, Any]:
        snaps = await self._host_snapshots()
        for i, snap in enumerate(snaps):
            snap["recreated"] = self._recreates[i]
        return {"stages": dict(self._stages),
                "hosts": {f"{self.name_prefix}-host-{i}": s for i, s in enumerate(snaps)}}

    async def shutdown(self) -> None:
        async def one(h: Any) -> None:
            try:
                await asyncio.wait_for(invoke(h, "shutdown"), 60)
            except Exception:  # already dead: nothing to release
                pass
            if isinstance(h, ActorHandle):
                ray.kill(h)

        if self._poller is not None:
            self._poller.cancel()
        await self._host_snapshots()  # the final counters, held time up to the stop
        await asyncio.gather(*(one(h) for h in self._hosts))
        if self._groups:
            from ray.util.placement_group import remove_placement_group

            for group in self._groups.values():
                remove_placement_group(group)


def start_supervisor(config: EngineConfig, num_hosts: int, name_prefix: str,
                     namespace: str | None, options: HostOptions) -> Any:
    """The pool's supervisor actor, its hosts created and their models loaded (or raises,
    having released whatever did load)."""
    # The supervisor owns the hosts (they share its fate) and is not restartable (it holds
    # the stages' counters): pin it to the driver's node, whose loss ends the job anyway,
    # so that losing any other node only costs the hosts there (which Ray restarts).
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    sup = remote_class(HostSupervisor).options(
        name=f"{name_prefix}-supervisor", namespace=namespace, num_cpus=0,
        max_concurrency=1000,
        scheduling_strategy=NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=False),
    ).remote(config, num_hosts, name_prefix, namespace, options)
    try:
        ray.get(sup.ready.remote(), timeout=options.ready_timeout_s)
    except Exception:  # a model failed to load (or timed out): release the others
        try:
            ray.get(sup.shutdown.remote(), timeout=120)
        finally:
            ray.kill(sup)
        raise
    return sup


class LocalHost:
    """In-process stand-in for a host actor handle (tests, benchmarks): same EngineHost code."""

    def __init__(self, host: EngineHost) -> None:
        self.host = host

    def __getattr__(self, method: str) -> Any:
        return getattr(self.host, method)


class LocalSupervisor(HostSupervisor):
    """The supervisor without Ray: hosts are in-process; a dead engine is rebuilt on ensure."""

    def __init__(self, config: EngineConfig, num_hosts: int, options: HostOptions,
                 engine_factory: EngineFactory | None) -> None:
        self.engine_factory = engine_factory
        super().__init__(config, num_hosts, "local", None, options)

    def _create(self, index: int) -> Any:
        return LocalHost(EngineHost(self.config, index, self.options, self.engine_factory))

    async def ensure(self, index: int) -> Any | None:
        if self._hosts[index].host.dead:
            if self._recreates[index] >= self.options.max_recreates:
                return None
            self._recreates[index] += 1
            self._hosts[index] = self._create(index)
        return self._hosts[index]
