"""The agnostic criteria judge + translator on the GPU engine model (SIMULATED, virtual time).

The real :class:`~ultralink.agnostic.stage.AgnosticStage` (the six-criteria judge for chat,
then the translator with every validator: placeholders, numbers, fastText language, length
ratio, repeats) runs through the real ``HostPool`` / ``EngineHost`` on
:mod:`benchmarks.gpu_engine_model`, with the prompt style and granularity ``jobs/full.yaml``
resolves to (Qwen2.5-7B-Instruct: chat prompts, one request per message).

Records are shaped like the paper's agnostic sources (lengths from Table 2 of the paper:
87.86 tokens per question, 290.35 per answer, drawn lognormal; words stand for tokens):

- ``chat`` (ShareGPT): 1-5 turns of English prose; the judge runs first (a deterministic
  ``judge_hit`` share of conversations hits a criterion and is not translated);
- ``math`` (MetaMathQA): one turn; the answer has ``<<a*b=c>>`` calculator marks, inline
  arithmetic and ``The answer is: N`` (protected spans, numbers the validator checks);
- ``code`` (Magicoder): one turn; the answer holds a fenced code block (copied, never sent)
  and inline code.

What the engine model answers (:class:`AgnosticText`, its ``text`` engine): the judge gets a
JSON verdict; a translation gets filler prose in the target language of the length a real
translation has, keeping every placeholder and number, so the stage's validators pass it as
they would a good model's output; the engine times each answer by its length.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.gpu_engine_model import GPUEngineModel, VirtualClock
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.agnostic.stage import AgnosticStage
from ultralink.agnostic.translation_checks import EXPECTED_RATIO
from ultralink.agnostic.translation_prompt import unwrap_source
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatRequest, Completion
from ultralink.hosting.options import HostOptions
from ultralink.hosting.pool import HostPool
from ultralink.hosting.llm_stage import stage_sizing


def _split(text: str) -> list[str]:
    return text.split()


QUESTION_TOKENS, ANSWER_TOKENS = 87.86, 290.35  # Table 2 (UltraLink, per turn)
ENGLISH = _split("the of and to in is that for it as with was on be by this are from at or an "
           "which have one their has more time people other some what there can when would "
           "water system number value school history world power music energy process "
           "example result method table market family language science program model "
           "question answer problem story reason change place point group state city")
FILLER = {
    "zh": _split("我们 他们 这个 问题 时间 因为 所以 但是 可以 没有 知道 已经 工作 学习 生活 国家 "
           "城市 世界 历史 文化 方法 结果 系统 能力 社会 经济 发展 重要 今天 朋友 学校 老师 "
           "音乐 语言 科学 市场 家庭 故事 原因 变化"),
    "ru": _split("мы они этот вопрос время потому поэтому но можно нет знать уже работа учеба "
           "жизнь страна город мир история культура метод результат система общество "
           "экономика развитие важный сегодня друг школа учитель музыка язык наука рынок "
           "семья рассказ причина изменение очень"),
    "fr": _split("nous ils cette question temps parce que donc mais peut pas savoir déjà travail "
           "études vie pays ville monde histoire culture méthode résultat système société "
           "économie développement important aujourd'hui ami école professeur musique "
           "langue science marché famille raison changement très"),
    "es": _split("nosotros ellos esta pregunta tiempo porque entonces pero puede saber ya trabajo "
           "estudios vida país ciudad mundo historia cultura método resultado sistema "
           "sociedad economía desarrollo importante hoy amigo escuela profesor música "
           "idioma ciencia mercado familia razón cambio muy"),
}
_PLACEHOLDER = re.compile(r"⟦P\d+⟧")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _length(rng: random.Random, mean: float, sigma: float = 0.6, lo: int = 4,
            hi: int = 1500) -> int:
    return max(lo, min(hi, int(rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))))


def _prose(rng: random.Random, n: int, question: bool = False) -> str:
    out, i = [], 0
    while i < n:
        k = min(n - i, rng.randint(8, 18))
        words = rng.choices(ENGLISH, k=k)
        out.append(" ".join(words).capitalize() + ("?" if question and i + k >= n else "."))
        i += k
    return " ".join(out)


def make_record(subset: str, i: int, seed: int) -> dict[str, Any]:
    """One English record of ``subset`` as AgnosticStage reads it (``id``, ``conversation``)."""
    rng = random.Random(f"{seed}|{subset}|{i}")
    messages: list[dict[str, str]] = []
    turns = rng.choices([1, 2, 3, 4, 5], weights=[30, 25, 20, 15, 10])[0] if subset == "chat" \
        else 1
    for _ in range(turns):
        q = _prose(rng, _length(rng, QUESTION_TOKENS, 0.5), question=True)
        n = _length(rng, ANSWER_TOKENS)
        if subset == "math":
            a, b = rng.randint(2, 99), rng.randint(2, 99)
            a_text = (f"{_prose(rng, n // 2)} So {a}*{b} = <<{a}*{b}={a * b}>>{a * b} in total. "
                      f"{_prose(rng, n - n // 2)}\nThe answer is: {a * b}")
        elif subset == "code":
            code = "\n".join(f"    x{j} = compute(x{j - 1}, {rng.randint(1, 9)})"
                             for j in range(1, max(2, n // 12)))
            a_text = (f"{_prose(rng, n // 2)}\n\n```python\ndef solve(x0):\n{code}\n"
                      f"    return x0\n```\n\nCall `solve(1)` to run it. {_prose(rng, n // 3)}")
        else:
            a_text = _prose(rng, n)
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a_text}]
    return {"id": f"{subset}{i}", "conversation": {"messages": messages}}


class AgnosticText:
    """The text the engine model returns for judge and translation requests (chat prompts).

    ``engine_kwargs``: ``language`` (the translation target), ``judge_hit`` (share of
    conversations whose verdict hits a criterion, chosen by a hash of the conversation).
    """

    def __init__(self, config: Any) -> None:
        kw = dict(config.engine_kwargs)
        self.language = str(kw.get("language", "zh"))
        self.judge_hit = float(kw.get("judge_hit", 0.15))
        self.model_name = config.model

    async def generate(self, request: ChatRequest) -> Completion:
        last = (request.messages or [])[-1].content if request.messages else request.prompt or ""
        if last.startswith("Conversation:"):
            h = int(hashlib.blake2b(last.encode(), digest_size=4).hexdigest(), 16)
            hit = (h % 10_000) < self.judge_hit * 10_000
            text = json.dumps({str(c): ("yes" if hit and c == 2 else "no") for c in range(1, 7)})
        else:
            text = translation(unwrap_source(last), self.language, request.request_id or "")
        return Completion(text=text, finish_reason="stop", model=self.model_name)


def translation(body: str, language: str, key: str) -> str:
    """Filler prose in ``language`` as long as a translation of ``body``, with as many
    sentences and the same final sign, every placeholder and number kept (in the last
    sentence), no sentence repeated: what the validators accept from a faithful model."""
    from ultralink.quality.signals import sentence_count

    rng = random.Random(key)
    words = FILLER[language]
    plain = _PLACEHOLDER.sub(" ", body)
    numbers = _NUMBER.findall(plain)
    count = max(1, sentence_count(plain))
    size = max(4, int(len(" ".join(plain.split())) * EXPECTED_RATIO.get(language, 1.15)))
    spaced = language != "zh"
    joiner, end = (" ", ".") if spaced else ("", "。")
    per = max(2, size // count // (6 if spaced else 2))
    parts = [joiner.join(rng.choices(words, k=rng.randint(per, per + 3))) for _ in range(count)]
    tail = [*_PLACEHOLDER.findall(body), *numbers]
    if tail:
        parts[-1] += " " + " ".join(tail)
    last = body.rstrip()[-1:]
    final = {"?": " ?" if spaced else "？", "？": "？", "!": "!"}.get(
        last, end if last in ".。" else "")
    return joiner.join(p + end for p in parts[:-1]) + joiner + parts[-1] + final


class RecordingPool:
    """The pool as the stage sees it, counting prompt / cached tokens by request kind."""

    def __init__(self, pool: HostPool) -> None:
        self._pool = pool
        self.prompt: dict[str, int] = defaultdict(int)
        self.cached: dict[str, int] = defaultdict(int)
        self.requests: dict[str, int] = defaultdict(int)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    async def generate(self, request: ChatRequest, metrics: Any = None) -> Completion:
        out = await self._pool.generate(request, metrics)
        kind = "judge" if "#judge" in (request.request_id or "") else "translate"
        self.requests[kind] += 1
        self.prompt[kind] += out.prompt_tokens
        self.cached[kind] += out.cached_prompt_tokens
        return out


def engine_config(base: EngineConfig, gpu: str, clock: str, seed: int, language: str,
                  judge_hit: float) -> EngineConfig:
    return base.model_copy(update={
        "engine": "benchmarks.gpu_engine_model:GPUEngineModel", "model": f"sim-{base.model}",
        "num_gpus": base.gpus_per_host,
        "engine_kwargs": {"gpu": gpu, "clock": clock, "seed": seed, "language": language,
                          "judge_hit": judge_hit,
                          "text": "benchmarks.agnostic_sim:AgnosticText"}})


async def run_subset(base: EngineConfig, hosts: int, actors: int, subset: str, n: int,
                     language: str, cfg: AgnosticConfig, gpu: str = "h100", seed: int = 0,
                     judge_hit: float = 0.15, clock: str | None = None) -> dict[str, Any]:
    """``n`` records of ``subset`` through AgnosticStage actors on ``hosts`` engine models;
    batches fed the way Ray Data feeds an async UDF, sized by ``stage_sizing``."""
    clock = clock or f"agnostic-{subset}"
    ecfg = engine_config(base, gpu, clock, seed, language, judge_hit)
    engines: list[GPUEngineModel] = []

    def factory(c: EngineConfig) -> GPUEngineModel:
        engines.append(GPUEngineModel(c))
        return engines[-1]

    pool = HostPool.local(ecfg, hosts, options=HostOptions(stats_poll_s=0, request_timeout_s=1e9),
                          engine_factory=factory)
    rec = RecordingPool(pool)
    try:
        info = await pool.info()
        sizing = stage_sizing(int(info["max_in_flight"]) * hosts, actors)
        stages = [AgnosticStage(rec, language=language, subset=subset,
                                config=cfg, style="chat", granularity="message")
                  for _ in range(actors)]
        rows = [make_record(subset, i, seed) for i in range(n)]
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        for i in range(0, n, sizing.batch_size):
            queue.put_nowait(rows[i:i + sizing.batch_size])
        results: list[dict[str, Any]] = []

        async def worker(stage: AgnosticStage) -> None:
            import pyarrow as pa

            while not queue.empty():
                batch = queue.get_nowait()
                table = await stage(pa.Table.from_pylist(batch))
                results.extend(table.to_pylist())

        await asyncio.gather(*(worker(s) for s in stages
                               for _ in range(sizing.max_concurrent_batches)))
        makespan = VirtualClock.named(clock).now
    finally:
        VirtualClock.drop(clock)
        for e in engines:
            e.shutdown()
    rejects: dict[str, int] = defaultdict(int)
    for r in results:
        reason = r.get("drop_reason") or ((r.get("result") or {}).get("reject") or "")
        if reason:
            rejects[reason] += 1
    seqs = engines[0].max_num_seqs
    seq_seconds = sum(e.seq_seconds for e in engines)
    gpu_hours = hosts * base.gpus_per_host * makespan / 3600
    translated = len(results) - sum(rejects.values())
    return {
        "records": n, "translated": translated, "rejects": dict(rejects),
        "requests": dict(rec.requests), "makespan_s": round(makespan, 1),
        "occupancy": round(seq_seconds / (seqs * makespan * hosts), 4) if makespan else 0.0,
        "tokens_out_per_s_per_host": round(sum(e.tokens_out for e in engines) / makespan / hosts,
                                           1) if makespan else 0.0,
        "prefix_hit": {k: round(rec.cached[k] / rec.prompt[k], 4) for k in sorted(rec.prompt)
                       if rec.prompt[k]},
        "records_per_gpu_hour": round(n / gpu_hours, 1) if gpu_hours else 0.0,
        "preemptions": sum(e.preemptions for e in engines),
        "batch_size": sizing.batch_size,
        "batches_in_flight_per_actor": sizing.max_concurrent_batches,
    }
