"""The typed knobs of hosting: where hosts go and how hard they are driven, and how hard a
request is retried. Kept apart so a job config can hold them without importing Ray actors."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from ultralink.core.config import Strict
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatEngine

EngineFactory = Callable[[EngineConfig], ChatEngine]
"""Builds a host's engine from its config (default: ``llm.factory.build_engine``)."""


class HostOptions(Strict):
    """How hosts are placed and how hard they are driven (independent of Ray Data's CPU ops)."""

    max_in_flight: int | None = Field(None, gt=0, description="requests inside the engine at "
                                      "once; default ceil(1.1 × config.max_concurrency)")
    actor_max_concurrency: int = Field(1000, gt=0, description="Ray actor max_concurrency: "
                                       "requests queued in the host beyond max_in_flight")
    request_timeout_s: float = Field(600.0, gt=0, description="engine time per request "
                                     "(queueing in the host not counted)")
    num_cpus: float = Field(1.0, ge=0)
    max_restarts: int = Field(3, ge=-1, description="Ray restarts of a crashed host process")
    max_recreates: int = Field(3, ge=0, description="re-creations of a host dead for good")
    ready_timeout_s: float = Field(3600.0, gt=0, description="model load time allowed")
    exit_on_engine_dead: bool = Field(True, description="exit the actor process on EngineDead "
                                      "so Ray restarts it with a fresh engine")
    stats_poll_s: float = Field(10.0, ge=0, description="how often the supervisor reads host "
                                "counters (a dead host loses at most this much); 0: only on "
                                "stats()")
    kv_output_quantile: float | None = Field(
        0.9, gt=0, le=1, description="KV tokens reserved for a request's output: this "
        "quantile of the outputs the host has seen for requests of a similar max_tokens (the "
        "cap until 64 of them finished; never above max_tokens). vLLM allocates KV as tokens "
        "are generated, so reserving every answer's full max_tokens (1024 for ~290-token "
        "answers) keeps ~10 % of the slots of an H100 empty; None: always max_tokens")
    admission: Literal["oldest_dialogue", "fifo"] = Field(
        "oldest_dialogue", description="which queued request enters the engine next: the one "
        "whose affinity key the host saw first (finishes started dialogues, so Ray Data "
        "batches do not all drain at once), or arrival order")


class RetryPolicy(Strict):
    """Bounded retries: per-request errors back off; host deaths fail over."""

    max_attempts: int = Field(4, ge=1, description="attempts for a retryable RequestError")
    backoff_s: float = Field(0.5, ge=0)
    max_backoff_s: float = Field(30.0, ge=0)
    max_host_failures: int = Field(20, ge=0, description="host deaths one request survives")
    host_wait_s: float = Field(1800.0, ge=0, description="how long a request waits for a host "
                               "to come back when none is up (restarts reload the model)")
    call_timeout_s: float | None = Field(None, gt=0, description="client-side limit on one "
                                         "call (covers a hung host); None: none")

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (attempt 1 → up to backoff_s)."""
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))
