"""The host actor: one engine, loaded once, fed through an admission gate and counted.

Why it exists: an LLM stage's rows come from many Ray Data actors, but the model must load
once per GPU (or TP group) and see all their requests at once so continuous batching stays
full. :class:`EngineHost` runs as an async Ray actor (``max_concurrency`` ~1000): it builds its
:class:`~ultralink.llm.types.ChatEngine` in the constructor, admits requests through
:class:`~ultralink.hosting.admission.PriorityGate` (oldest dialogue first, within the engine's
sequences and KV cache), times them out, and counts tokens and busy time. An engine that
raises :class:`~ultralink.llm.types.EngineDead` makes the host exit its process so Ray
restarts it (``max_restarts``); its in-flight requests fail over to the pool's retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from typing import Any

import ray

from ultralink.hosting.admission import (
    ArrivalOrder,
    OutputEstimate,
    PriorityGate,
    engine_capacity,
    max_in_flight_for,
)
from ultralink.hosting.options import EngineFactory, HostOptions
from ultralink.llm.factory import build_engine
from ultralink.llm.metrics import LLMMetrics
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatRequest, Completion, EngineDead, RequestError

log = logging.getLogger("ultralink.llm")


class EngineHost:
    """Holds one engine; run as a Ray actor (see ``HostSupervisor``) or in process (tests)."""

    def __init__(self, config: EngineConfig, index: int = 0, options: HostOptions | None = None,
                 engine_factory: EngineFactory | None = None) -> None:
        self._started = time.time()  # GPU time is held from here (model load included)
        self._stopped: float | None = None
        self.incarnation = uuid.uuid4().hex[:12]
        self.config = config
        self.index = index
        self.options = options or HostOptions()
        self.engine = (engine_factory or build_engine)(config)  # weights load once, here
        self.metrics = LLMMetrics(num_gpus=config.gpus_per_host)
        self.capacity = engine_capacity(self.engine, config)
        self.max_in_flight = max_in_flight_for(config, self.options,
                                               self.capacity["max_num_seqs"])
        self._gate: PriorityGate | None = None
        self._outputs = (OutputEstimate(self.options.kv_output_quantile)
                         if self.options.kv_output_quantile else None)
        self._order = ArrivalOrder(self.options.admission)
        self._dead: str | None = None
        self._restarts = 0
        if ray.is_initialized() and ray.get_runtime_context().get_actor_id():
            self._restarts = int(ray.get_runtime_context().was_current_actor_reconstructed)

    async def ready(self) -> dict[str, Any]:
        """Answers once the model is loaded; what the stages need to budget tokens."""
        in_actor = ray.is_initialized() and ray.get_runtime_context().get_actor_id()
        return {"index": self.index, "model": self.engine.model_name,
                "max_model_len": self.engine.max_model_len, "pid": os.getpid(),
                "max_in_flight": self.max_in_flight, **self.capacity,
                "gpus": self.config.gpus_per_host,
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()] if in_actor else []}

    def _kv_need(self, request: ChatRequest) -> int:
        """KV tokens a request is expected to grow to (prompt + the output reserve of
        :class:`OutputEstimate`, else max new tokens); 0 when the cache is unknown."""
        if self.capacity["kv_cache_tokens"] is None:
            return 0
        try:
            prompt = self.engine.count_tokens(request)
        except (RequestError, ValueError, TypeError, KeyError):  # generate reports it
            prompt = 0
        cap = request.sampling.max_tokens
        return prompt + (self._outputs.reserve(cap) if self._outputs is not None else cap)

    async def generate(self, request: ChatRequest) -> Completion:
        if self._dead:
            raise EngineDead(f"host {self.index}: {self._dead}")
        if self._gate is None:
            self._gate = PriorityGate(self.max_in_flight, self.capacity["kv_cache_tokens"])
        need = self._kv_need(request)
        await self._gate.acquire(self._order.priority(request.affinity), need)
        try:
            if self._dead:
                raise EngineDead(f"host {self.index}: {self._dead}")
            self.metrics.begin()
            self.metrics.sent()
            start = time.perf_counter()
            try:
                completion = await asyncio.wait_for(self.engine.generate(request),
                                                    self.options.request_timeout_s)
            except asyncio.TimeoutError:
                self.metrics.error("timeout")
                raise RequestError("timeout", f"no answer in "
                                   f"{self.options.request_timeout_s}s") from None
            except RequestError as e:
                self.metrics.error(e.reason)
                raise
            except EngineDead as e:
                self.metrics.error("engine_dead")
                self._die(str(e) or "engine dead")
                raise
            except Exception as e:  # an engine bug on one request: retried, then the row dropped
                self.metrics.error("engine_" + type(e).__name__)
                raise RequestError("engine_" + type(e).__name__, repr(e)) from e
            finally:
                self.metrics.end()
        finally:
            self._gate.release(need)
        if not completion.latency_s:
            completion.latency_s = time.perf_counter() - start
        if self._outputs is not None:
            self._outputs.observe(request.sampling.max_tokens, completion.completion_tokens)
        self.metrics.completed(completion)
        return completion

    @property
    def dead(self) -> str:
        """Why the engine is gone ("" while it serves): a dead host is rebuilt, not reused."""
        return self._dead or ""

    def count_tokens(self, request: ChatRequest) -> int:
        return self.engine.count_tokens(request)

    async def stats(self) -> dict[str, Any]:
        snap = self.metrics.snapshot()
        held = (self._stopped or time.time()) - self._started
        snap["timings"]["held"] = round(held, 6)
        snap.update(index=self.index, model=self.engine.model_name, restarts=self._restarts,
                    dead=self._dead or "", incarnation=self.incarnation)
        engine_stats = getattr(self.engine, "stats", None)
        if callable(engine_stats):
            snap["engine"] = engine_stats()
        return snap

    async def shutdown(self) -> None:
        """Release the engine explicitly (STYLE: no cleanup by ``__del__``)."""
        self._dead = self._dead or "shut down"
        self._stopped = self._stopped or time.time()
        self.engine.shutdown()

    def _die(self, why: str) -> None:
        if self._dead:
            return
        self._dead = why
        self._stopped = time.time()
        log.error("host %d: engine dead (%s)", self.index, why)
        try:
            self.engine.shutdown()
        except Exception:  # the engine is already broken; exiting is what matters
            log.exception("host %d: shutdown of a dead engine failed", self.index)
        in_actor = ray.is_initialized() and ray.get_runtime_context().get_actor_id()
        if in_actor and self.options.exit_on_engine_dead:
            # Let the EngineDead replies leave, then crash so Ray restarts the actor.
            asyncio.get_running_loop().call_later(0.2, os._exit, 1)
