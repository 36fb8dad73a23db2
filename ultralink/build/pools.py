"""One engine-host pool per distinct engine config, shared by every stage of a build and
shut down at its end."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from ultralink.llm.registry import EngineConfig

log = logging.getLogger("ultralink.build")


class EnginePools:
    """One HostPool per distinct engine config, created on first use, shut down at the end."""

    def __init__(self, num_hosts: int) -> None:
        self.num_hosts = num_hosts
        self.pools: dict[str, Any] = {}
        self.gpus: dict[str, float] = {}

    @staticmethod
    def key(engine: EngineConfig) -> str:
        return engine.model_dump_json()

    def get(self, engine: EngineConfig) -> Any:
        from ultralink.hosting.pool import HostPool

        k = self.key(engine)
        if k not in self.pools:
            log.info("starting %d engine host(s): %s %s", self.num_hosts, engine.engine,
                     engine.model)
            self.pools[k] = HostPool.create(engine, self.num_hosts,
                                            f"ul-build-{uuid.uuid4().hex[:8]}")
            self.gpus[k] = engine.gpus_per_host
        return self.pools[k]

    def busy(self, engine: EngineConfig) -> tuple[float, float]:
        """(engine busy seconds, GPU-seconds held) so far on this config's hosts (0 if not
        started): the projection prices the GPU time held, idle gaps included."""
        from ultralink.llm.metrics import job_report

        pool = self.pools.get(self.key(engine))
        if pool is None:
            return 0.0, 0.0
        hosts = job_report(pool.stats())["hosts"]
        return (sum(h["busy_s"] for h in hosts.values()),
                sum(h["gpu_seconds"] for h in hosts.values()))

    def shutdown(self) -> None:
        for pool in self.pools.values():
            try:
                pool.shutdown()
            except Exception as exc:  # noqa: BLE001 - report, keep releasing the others
                log.warning("engine pool shutdown failed: %s", exc)
        self.pools.clear()


