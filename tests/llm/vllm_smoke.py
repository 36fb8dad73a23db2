"""Load the converted Gemma 3 270M in VLLMEngine on CPU and report load time and throughput.

A by-hand check and the source of the numbers quoted for CI; the assertions live in
test_vllm_engine.py. Run inside .venv-vllm after scripts/vllm_env.sh:

    .venv-vllm/bin/python tests/llm/vllm_smoke.py [--prompts 32] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "data" / "llamacpp_greedy.json"


def hf_dir() -> Path:
    cache = os.environ.get("ULTRALINK_CACHE") or os.path.expanduser("~/.cache/ultralink")
    return Path(cache) / "gemma3-270m-hf"


def models_yaml(directory: Path, model_dir: Path) -> Path:
    """Register the converted folder as a completion-format (base) model."""
    path = directory / "models.yaml"
    path.write_text(json.dumps({"models": {"gemma3-270m-hf": {
        "engine_hint": "vllm",
        "source": str(model_dir),
        "context_length": 32768,
        "default_max_model_len": 2048,
        "prompt_format": "completion",
        "stop": ["\nUser:", "\nAssistant:"],
    }}}), encoding="utf-8")  # JSON is YAML
    return path


def cpu_engine_config(yaml_path: Path, **overrides):
    """Settings that fit a 2-core, shared 24 GiB CI machine: eager mode, 1 GiB of KV cache."""
    from ultralink.llm.registry import EngineConfig

    kwargs = {"kv_cache_memory_bytes": 1 << 30}
    kwargs.update(overrides.pop("engine_kwargs", {}))
    return EngineConfig(engine="vllm", model="gemma3-270m-hf", models_yaml=str(yaml_path),
                        max_model_len=2048, gpu_memory_utilization=0.4, enforce_eager=True,
                        seed=0, engine_kwargs=kwargs, **overrides)


def agreed_tokens(engine, text: str, ref: dict) -> tuple[int, float | None]:
    """Leading llama.cpp tokens our text reproduces, and llama.cpp's top-2 margin where it stops."""
    tok, ids = engine.tokenizer, ref["token_ids"]
    for i in range(len(ids)):
        if not text.startswith(tok.decode(ids[: i + 1])):
            return i, ref["top2_margins"][i]
    return len(ids), None


async def measure(engine, n_prompts: int, max_tokens: int) -> dict:
    from ultralink.llm.types import ChatRequest, SamplingParams

    refs = json.loads(REFERENCE.read_text(encoding="utf-8"))["results"]
    agreement = []
    for ref in refs:
        out = await engine.generate(ChatRequest(prompt=ref["prompt"], sampling=SamplingParams(
            temperature=0, max_tokens=ref["token_ids"].__len__())))
        agreement.append(agreed_tokens(engine, out.text, ref))
    prompts = [refs[i % len(refs)]["prompt"] for i in range(n_prompts)]
    t0 = time.perf_counter()
    outs = await asyncio.gather(*(
        engine.generate(ChatRequest(prompt=p, sampling=SamplingParams(
            temperature=0.8, max_tokens=max_tokens, seed=i)))
        for i, p in enumerate(prompts)))
    wall = time.perf_counter() - t0
    tokens = sum(o.completion_tokens for o in outs)
    return {"agreement": agreement, "prompts": n_prompts,
            "completion_tokens": tokens, "wall_s": round(wall, 2),
            "tok_per_s": round(tokens / wall, 1)}


def main() -> None:
    from ultralink.llm.vllm_engine import VLLMEngine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--dtype", default=None, help="vLLM dtype (CPU default: bfloat16)")
    args = ap.parse_args()
    extra = {"engine_kwargs": {"dtype": args.dtype}} if args.dtype else {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        engine = VLLMEngine(cpu_engine_config(models_yaml(Path(tmp), hf_dir()), **extra))
        load_s = time.perf_counter() - t0
        try:
            result = asyncio.run(measure(engine, args.prompts, args.max_tokens))
        finally:
            engine.shutdown()
    print(json.dumps({"load_s": round(load_s, 1), **result}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
