"""VLLMEngine on CPU with the converted Gemma 3 270M: one engine per module, one event loop.

Needs .venv-vllm and the HF folder (scripts/vllm_env.sh builds both); deselected by default:

    .venv-vllm/bin/python -m pytest -m vllm tests/llm/test_vllm_engine.py -p no:cacheprovider

The greedy reference is llama.cpp on the original GGUF (tests/llm/data/llamacpp_greedy.json,
written by scripts/llamacpp_reference.py), so a broken conversion or prompt path shows up as a
divergence where llama.cpp was confident.
"""

from __future__ import annotations

import asyncio
import json
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.llm.vllm_smoke import REFERENCE, agreed_tokens, cpu_engine_config, hf_dir, models_yaml
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import (
    ChatEngine,
    ChatRequest,
    EngineDead,
    Message,
    RequestError,
    SamplingParams,
)

pytestmark = pytest.mark.vllm

# llama.cpp computes with Q4_K weights and Q8 activations, vLLM with bf16 (its CPU default):
# a greedy step may flip only where llama.cpp's own top-2 logit margin was this small.
NEAR_TIE = 0.5
MAX_MODEL_LEN = 2048


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """vLLM's output handler binds to the loop of the first request: one loop per engine."""
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@pytest.fixture(scope="module")
def yaml_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model_dir = hf_dir()
    if not (model_dir / ".ultralink-converted").is_file():
        pytest.fail(f"{model_dir} is missing: run scripts/vllm_env.sh first")
    return models_yaml(tmp_path_factory.mktemp("vllm"), model_dir)


@pytest.fixture(scope="module")
def engine(yaml_path: Path) -> Iterator[Any]:
    try:
        from ultralink.llm.vllm_engine import VLLMEngine
        eng = VLLMEngine(cpu_engine_config(yaml_path))
    except ImportError as exc:
        pytest.fail(f"{exc} (run this file with .venv-vllm/bin/python)")
    print(f"\nvLLM engine loaded in {eng.load_s:.1f}s")
    yield eng
    eng.shutdown()


@pytest.fixture(scope="module")
def references() -> list[dict]:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))["results"]


def run(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = 300) -> Any:
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def greedy(prompt: str, max_tokens: int = 32, **kw: Any) -> ChatRequest:
    return ChatRequest(prompt=prompt, sampling=SamplingParams(temperature=0, max_tokens=max_tokens,
                                                              **kw))


def test_is_a_chat_engine(engine: Any) -> None:
    assert isinstance(engine, ChatEngine)
    assert engine.model_name == "gemma3-270m-hf"
    assert engine.max_model_len == MAX_MODEL_LEN


def test_prompt_tokens_match_llamacpp(engine: Any, references: list[dict]) -> None:
    """Same ids as llama.cpp, <bos> first: its absence was the degenerate-output bug."""
    for ref in references:
        req = ChatRequest(prompt=ref["prompt"])
        assert engine.tokenize(req) == ref["prompt_token_ids"]
        assert engine.count_tokens(req) == len(ref["prompt_token_ids"])


def test_greedy_agrees_with_llamacpp(engine: Any, loop: asyncio.AbstractEventLoop,
                                     references: list[dict]) -> None:
    async def all_greedy() -> list[Any]:
        return list(await asyncio.gather(*(
            engine.generate(greedy(r["prompt"], len(r["token_ids"]))) for r in references)))

    outs = run(loop, all_greedy())
    agreed = []
    for ref, out in zip(references, outs, strict=True):
        n, margin = agreed_tokens(engine, out.text, ref)
        agreed.append(n)
        print(f"{ref['prompt']!r}: {n}/{len(ref['token_ids'])} tokens agree"
              + (f", diverged at llama.cpp margin {margin}" if margin is not None else ""))
        print(f"   vLLM:      {out.text!r}\n   llama.cpp: {ref['text']!r}")
        assert out.prompt_tokens == len(ref["prompt_token_ids"])
        assert margin is None or margin < NEAR_TIE, (
            f"{ref['prompt']!r} diverged from llama.cpp at token {n} where llama.cpp's top-2 "
            f"margin was {margin} (not a near-tie): {out.text!r} vs {ref['text']!r}")
    assert sum(agreed) / len(agreed) >= 8, agreed


def _printable_ratio(text: str) -> float:
    ok = sum(1 for ch in text if ch.isprintable() or ch in "\n\t")
    return ok / max(1, len(text))


def test_greedy_output_is_sane(engine: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Not degenerate: varied tokens, printable, in the prompt's script."""
    cases = {
        "The history of the printing press began": "LATIN",
        "El río más largo de América del Sur es": "LATIN",
        "北京是中国的首都，也是": "CJK",
    }
    for prompt, script in cases.items():
        out = run(loop, engine.generate(greedy(prompt, 40)))
        print(f"{prompt!r} -> {out.text!r}")
        text = out.text.strip()
        assert out.completion_tokens >= 10 and text
        assert _printable_ratio(out.text) > 0.95
        words = text.split() if script == "LATIN" else list(text)
        top, count = Counter(words).most_common(1)[0]
        assert count / len(words) < 0.5, f"{top!r} dominates: {out.text!r}"
        letters = [ch for ch in text if ch.isalpha()]
        in_script = [ch for ch in letters if script in unicodedata.name(ch, "")]
        assert len(in_script) / max(1, len(letters)) > 0.7, out.text


def test_32_concurrent_requests(engine: Any, loop: asyncio.AbstractEventLoop,
                                references: list[dict]) -> None:
    prompts = [references[i % len(references)]["prompt"] for i in range(32)]

    async def fan_out() -> list[Any]:
        return list(await asyncio.gather(*(
            engine.generate(ChatRequest(prompt=p, sampling=SamplingParams(
                temperature=0.8, max_tokens=32, seed=i), request_id=f"c{i}"))
            for i, p in enumerate(prompts))))

    t0 = time.perf_counter()
    outs = run(loop, fan_out())
    wall = time.perf_counter() - t0
    tokens = sum(o.completion_tokens for o in outs)
    print(f"32 requests: {tokens} tokens in {wall:.1f}s = {tokens / wall:.1f} tok/s")
    assert len(outs) == 32
    assert all(o.completion_tokens > 0 and o.finish_reason in ("stop", "length") for o in outs)
    assert all(o.prompt_tokens > 1 and o.latency_s > 0 for o in outs)
    # batched, not serialised: the requests' latencies overlap
    assert sum(o.latency_s for o in outs) > 4 * wall


def test_finish_reason_length_and_stop(engine: Any, loop: asyncio.AbstractEventLoop) -> None:
    out = run(loop, engine.generate(greedy("Once upon a time, there was a", 5)))
    assert out.finish_reason == "length" and out.completion_tokens == 5
    out = run(loop, engine.generate(greedy("The three primary colors are", 20, stop=[","])))
    assert out.finish_reason == "stop" and out.text == " red", out.text


def test_messages_use_the_completion_template(engine: Any, loop: asyncio.AbstractEventLoop) -> None:
    req = ChatRequest(messages=[Message("system", "You are a geography teacher."),
                                Message("user", "What is the capital of Italy?")],
                      sampling=SamplingParams(temperature=0, max_tokens=24))
    out = run(loop, engine.generate(req))
    print(repr(out.text))
    assert out.prompt_tokens == engine.count_tokens(req)
    assert "\nUser:" not in out.text  # the registry's stop strings apply


def test_context_overflow_is_a_request_error(engine: Any, loop: asyncio.AbstractEventLoop) -> None:
    long_prompt = "apple banana cherry " * 800
    n = engine.count_tokens(ChatRequest(prompt=long_prompt))
    assert n > MAX_MODEL_LEN
    for req in (greedy(long_prompt, 8), greedy("Hello", MAX_MODEL_LEN)):
        with pytest.raises(RequestError) as err:
            run(loop, engine.generate(req))
        assert err.value.reason == "context_overflow" and not err.value.retryable
    # the engine keeps serving, and prompt + max_tokens == max_model_len exactly still fits
    k = MAX_MODEL_LEN
    for _ in range(5):
        k += MAX_MODEL_LEN - 4 - engine.count_tokens(ChatRequest(prompt="word " * k))
    exact = "word " * k
    assert engine.count_tokens(ChatRequest(prompt=exact)) == MAX_MODEL_LEN - 4
    out = run(loop, engine.generate(ChatRequest(prompt=exact, sampling=SamplingParams(
        temperature=0.8, max_tokens=4, seed=1))))
    assert out.prompt_tokens == MAX_MODEL_LEN - 4 and out.completion_tokens == 4
    assert engine.stats.counts["errors_context_overflow"] >= 2


def test_prefix_cache_reports_cached_tokens(engine: Any, loop: asyncio.AbstractEventLoop) -> None:
    background = " ".join(
        f"Paragraph {i}: the river town of Alder{i} traded wool, salt and timber with its "
        f"neighbours, and its market opened every {i % 7 + 1} days." for i in range(30))
    prefix = f"<document>{background}</document>\n"
    first = run(loop, engine.generate(greedy(prefix + "Question: what did the towns trade?", 8)))
    second = run(loop, engine.generate(greedy(prefix + "Question: how often were markets?", 8)))
    print(f"prefix prompt {second.prompt_tokens} tokens: cached {first.cached_prompt_tokens} "
          f"then {second.cached_prompt_tokens}")
    if second.cached_prompt_tokens == 0:
        pytest.skip("this vLLM build reports no prefix-cache hits on CPU")
    assert second.prompt_tokens > 500
    assert second.cached_prompt_tokens >= 256
    assert engine.stats.counts["cached_prompt_tokens"] >= second.cached_prompt_tokens


def test_capacity_is_read_back_from_vllm(engine: Any) -> None:
    """The host gates on what vLLM allocated: its max_num_seqs and KV-cache tokens."""
    cap = engine.capacity()
    assert cap["max_num_seqs"] == engine.config.seqs
    assert cap["kv_cache_tokens"] and cap["kv_cache_tokens"] >= MAX_MODEL_LEN


def test_json_schema_constrains_the_output(engine: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Structured output (vLLM guided decoding): a base model writes the schema's JSON."""
    schema = {"type": "object", "properties": {"1": {"type": "string", "enum": ["yes", "no"]}},
              "required": ["1"], "additionalProperties": False}
    out = run(loop, engine.generate(greedy("Answer yes or no as JSON:", 16, json_schema=schema)))
    assert json.loads(out.text)["1"] in ("yes", "no")


def test_gguf_source_is_rejected_with_a_hint() -> None:
    from ultralink.llm.vllm_engine import VLLMEngine

    with pytest.raises(ValueError, match="gguf_to_hf"):
        VLLMEngine(EngineConfig(engine="vllm", model="gemma3-270m"))


def test_dead_engine_core_raises_engine_dead(engine: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Kill the engine core process we started: requests fail with EngineDead, not a hang."""
    import psutil

    def is_engine_core(p: psutil.Process) -> bool:
        try:
            return "EngineCore" in " ".join(p.cmdline() or [p.name()])
        except psutil.Error:
            return False

    cores = [p for p in psutil.Process().children(recursive=True) if is_engine_core(p)]
    if not cores:
        pytest.skip("no separate EngineCore process (in-process engine core)")
    for p in cores:
        p.kill()
    with pytest.raises(EngineDead):
        run(loop, engine.generate(greedy("The capital of France is", 4)), timeout=120)
    engine.shutdown()
    with pytest.raises(EngineDead):
        run(loop, engine.generate(greedy("Hello", 4)))

