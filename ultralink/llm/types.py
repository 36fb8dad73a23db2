"""The engine contract every LLM stage talks to: requests in, completions out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(slots=True)
class Message:
    role: Role
    content: str


@dataclass(slots=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    # Structured output: engines that can constrain decoding to this JSON schema do so
    # (vLLM guided decoding, a llama.cpp grammar, OpenAI response_format); others ignore it,
    # so callers still parse the text.
    json_schema: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatRequest:
    """Chat messages or a raw prompt (exactly one), plus sampling settings.

    ``affinity`` keys requests that share a prefix (e.g. one dialogue's id) so a host pool
    sends them to the same engine and its prefix cache keeps the document.
    """

    messages: list[Message] | None = None
    prompt: str | None = None
    sampling: SamplingParams = field(default_factory=SamplingParams)
    request_id: str = ""
    affinity: str = ""

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a ChatRequest needs exactly one of messages or prompt")


FinishReason = Literal["stop", "length", "error"]


@dataclass(slots=True)
class Completion:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    latency_s: float = 0.0
    model: str = ""


class RequestError(Exception):
    """A per-request failure: the row is retried or dropped, the engine stays up.

    ``reason`` is a short counter-friendly slug (``"context_overflow"``, ``"timeout"``,
    ``"http_429"`` …).
    """

    def __init__(self, reason: str, message: str = "", retryable: bool = True) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.retryable = retryable


class EngineDead(Exception):
    """The engine itself is gone (process died, CUDA error): the host must be recreated."""


class EngineGone(RuntimeError):
    """Every engine host is gone for good (re-creations used up): the job stops.

    Not a per-row error: dropping rows here would mark their units done with nothing in
    them, and a rerun would never redo them. Raised through the stage so the job fails with
    one line and a rerun (request cache kept) picks up where it stopped.
    """


@runtime_checkable
class ChatEngine(Protocol):
    """One loaded model. ``generate`` is safe to call concurrently (hundreds in flight)."""

    model_name: str
    max_model_len: int

    async def generate(self, request: ChatRequest) -> Completion: ...

    def count_tokens(self, request: ChatRequest) -> int: ...

    def shutdown(self) -> None: ...
