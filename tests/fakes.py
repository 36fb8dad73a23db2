"""Scripted fake engines for unit tests: deterministic answers, latency, failures, call counts.

A script travels inside the engine config (``EngineConfig.engine_kwargs``) so it reaches
engines built in Ray actors; :func:`fake_config` builds one.

Script keys (all optional):

- ``latency_s`` / ``jitter_s``: time per request (``asyncio.sleep``, so requests overlap);
- ``completion_tokens``: tokens per answer (default: words of the answer text);
- ``fail_nth``: 1-based call numbers (per engine instance) that raise a retryable
  ``RequestError("scripted")``;
- ``fail_if``: a substring; requests whose text contains it always fail (``scripted_row``);
- ``dead_nth``: the call number that raises ``EngineDead``; with ``dead_once``, only in the
  host's first process (a host Ray restarted keeps its engine, so a test of one restart does
  not depend on how many calls each incarnation gets under load);
- ``hang_if`` / ``hang_s``: requests containing the substring sleep ``hang_s`` (past a timeout);
- ``calls_dir``: a directory; each call appends its request id to ``<pid>.calls`` there, so a
  test can count calls across actor processes and restarts;
- ``max_model_len``.

``Completion.model`` is ``<model>@<pid>:<engine id>``, so a test can tell which engine answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatRequest, Completion, EngineDead, Message, RequestError
from ultralink.hosting.llm_stage import Drop, LLMStage

_INT = {"completion_tokens", "dead_nth", "max_model_len"}
_FLOAT = {"latency_s", "jitter_s", "hang_s"}


def _parse(script: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in script.items():
        if key in _INT:
            out[key] = int(value)
        elif key in _FLOAT:
            out[key] = float(value)
        elif key == "fail_nth":
            out[key] = ({int(v) for v in str(value).split(",") if v} if isinstance(value, str)
                        else {int(v) for v in value})
        else:
            out[key] = value
    return out


def _restarted_actor() -> bool:
    """True in a Ray actor that Ray restarted after its process died."""
    import ray

    ctx = ray.get_runtime_context() if ray.is_initialized() else None
    return bool(ctx and ctx.get_actor_id() and ctx.was_current_actor_reconstructed)


def request_text(request: ChatRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return "\n".join(f"{m.role}: {m.content}" for m in request.messages or [])


class ScriptedEngine:
    """A ChatEngine whose answer is a hash of prompt + seed; behaviour set by a script."""

    def __init__(self, config: Any = None, **script: Any) -> None:
        merged = dict(config.engine_kwargs) if config is not None else {}
        merged.update(script)
        self.script = _parse(merged)
        self.model_name = config.model if config is not None else "scripted"
        self.max_model_len = int(self.script.get("max_model_len", 4096))
        self.calls = 0
        self.completed = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = False
        self._rng = random.Random(0)

    async def generate(self, request: ChatRequest) -> Completion:
        if self.closed:
            raise EngineDead("engine shut down")
        self.calls += 1
        n = self.calls
        text = request_text(request)
        self._log_call(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            s = self.script
            delay = s.get("latency_s", 0.0) + self._rng.uniform(0, s.get("jitter_s", 0.0))
            if delay:
                await asyncio.sleep(delay)
            if s.get("hang_if") and s["hang_if"] in text:
                await asyncio.sleep(s.get("hang_s", 3600.0))
            if n == s.get("dead_nth") and not (s.get("dead_once") and _restarted_actor()):
                raise EngineDead(f"scripted engine death at call {n}")
            if n in s.get("fail_nth", ()):
                raise RequestError("scripted", f"scripted failure of call {n}")
            if s.get("fail_if") and s["fail_if"] in text:
                raise RequestError("scripted_row", "scripted failure of this row")
            answer = self.answer(request)
            self.completed += 1
            return Completion(
                text=answer, finish_reason="stop",
                prompt_tokens=self.count_tokens(request),
                completion_tokens=int(s.get("completion_tokens", len(answer.split()))),
                cached_prompt_tokens=0, model=f"{self.model_name}@{os.getpid()}:{id(self):x}")
        finally:
            self.in_flight -= 1

    @staticmethod
    def answer(request: ChatRequest) -> str:
        """The deterministic answer to ``request`` (tests compute the expected text with it)."""
        text = request_text(request)
        digest = hashlib.sha256(f"{text}|{request.sampling.seed}".encode()).hexdigest()[:12]
        last = text.rsplit(":", 1)[-1].strip()[:40]
        return f"answer {digest} to {last}"

    def count_tokens(self, request: ChatRequest) -> int:
        return len(request_text(request).split())

    def shutdown(self) -> None:
        self.closed = True

    def stats(self) -> dict[str, int]:
        return {"calls": self.calls, "completed": self.completed,
                "max_in_flight": self.max_in_flight}

    def _log_call(self, request: ChatRequest) -> None:
        calls_dir = self.script.get("calls_dir")
        if calls_dir:
            with open(Path(calls_dir) / f"{os.getpid()}.calls", "a") as f:
                f.write((request.request_id or request.affinity or "-") + "\n")


def read_calls(calls_dir: str | os.PathLike[str]) -> list[str]:
    """Every request id logged under ``calls_dir`` by ScriptedEngines in any process."""
    out: list[str] = []
    for path in sorted(Path(calls_dir).glob("*.calls")):
        out += path.read_text().splitlines()
    return out


def fake_config(engine: str = "tests.fakes:ScriptedEngine", *, max_concurrency: int = 256,
                num_gpus: float = 0.0, **script: Any) -> EngineConfig:
    """An engine config for a ScriptedEngine; ``script`` travels as ``engine_kwargs``."""
    return EngineConfig(engine=engine, model="scripted", max_concurrency=max_concurrency,
                        num_gpus=num_gpus, engine_kwargs=script)


# -- a scripted LLM stage (here, not in a test module, so Ray Data workers can import it) ----
TURNS = 3


def ask(row_id: str, history: list[Message]) -> ChatRequest:
    return ChatRequest(messages=list(history), affinity=row_id, request_id=row_id)


class ThreeTurns(LLMStage):
    """A multi-turn dialogue per row: each turn waits for the previous answer.

    Questions starting ``SKIP`` raise ``Drop("skipped")``; ``NONE`` returns None.
    """

    name = "three_turns"
    reads = {"id": "row id", "question": "first user turn"}
    writes = {"answer": "last answer", "turns": "answers received"}

    async def process_row(self, row: dict[str, Any], client: Any) -> dict[str, Any] | None:
        if row["question"].startswith("SKIP"):
            raise Drop("skipped")
        if row["question"].startswith("NONE"):
            return None
        history = [Message("user", row["question"])]
        for _ in range(TURNS):
            out = await client.generate(ask(row["id"], history))
            history += [Message("assistant", out.text), Message("user", "go on")]
        return {"answer": out.text, "turns": TURNS}


def expected_answer(question: str, row_id: str) -> str:
    """The ``answer`` ThreeTurns writes for a row (ScriptedEngine is deterministic)."""
    history = [Message("user", question)]
    text = ""
    for _ in range(TURNS):
        text = ScriptedEngine.answer(ask(row_id, history))
        history += [Message("assistant", text), Message("user", "go on")]
    return text



# Distinct natural sentences per target language: scripted "translations" are cut from them in
# order, so they read as the language (fastText) and never repeat themselves (duplicate check).
FILLER_SENTENCES = {
    "French": ["le petit chat regarde la maison blanche pendant que les enfants jouent dans le "
               "jardin", "la boulangère prépare le pain chaque matin avant le lever du soleil",
               "nous avons visité un vieux château au bord de la rivière pendant les vacances",
               "les élèves écoutent attentivement le professeur qui explique la leçon",
               "ma grand-mère cultive des tomates et des haricots dans son potager",
               "le train de nuit traverse lentement les montagnes couvertes de neige",
               "ils ont acheté des fleurs au marché pour décorer la table du dîner",
               "la bibliothèque municipale ouvre ses portes tous les jours sauf le lundi"],
    "Spanish": ["el gato pequeño mira la casa blanca mientras los niños juegan en el jardín",
                "la panadera prepara el pan cada mañana antes de que salga el sol",
                "visitamos un castillo antiguo a orillas del río durante las vacaciones",
                "los alumnos escuchan con atención al profesor que explica la lección",
                "mi abuela cultiva tomates y judías en su huerto detrás de la casa",
                "el tren nocturno cruza despacio las montañas cubiertas de nieve",
                "compraron flores en el mercado para adornar la mesa de la cena",
                "la biblioteca municipal abre sus puertas todos los días excepto el lunes"],
    "Russian": ["маленький кот смотрит на белый дом пока дети играют в саду",
                "пекарь каждое утро готовит хлеб ещё до восхода солнца",
                "во время каникул мы посетили старый замок на берегу реки",
                "ученики внимательно слушают учителя который объясняет урок",
                "моя бабушка выращивает помидоры и фасоль в своём огороде",
                "ночной поезд медленно проезжает через заснеженные горы",
                "они купили на рынке цветы чтобы украсить стол к ужину",
                "городская библиотека открыта каждый день кроме понедельника"],
    "Chinese": ["小猫看着白色的房子孩子们在花园里玩耍", "面包师每天早上在太阳升起之前准备面包",
                "假期里我们参观了河边的一座古老城堡", "学生们认真地听老师讲解今天的课文",
                "奶奶在她的菜园里种了西红柿和豆角", "夜班火车慢慢地穿过白雪覆盖的群山",
                "他们在市场上买了鲜花来装饰晚餐的桌子", "市图书馆除了星期一以外每天都开放"],
}


def translation_filler(body: str, label: str, ratio: float, extra: Sequence[str] = ()) -> str:
    """Filler prose in the language ``label`` ("French") of the length a translation of
    ``body`` would have, with as many sentences as ``body`` and its final sign (a question
    stays a question: an unmarked one reads as answered instead of translated); ``extra``
    (the source's placeholders and numbers) goes into the last sentence, before its sign."""
    import re

    from ultralink.quality.signals import sentence_count

    sentences = FILLER_SENTENCES[label]
    spaced = label != "Chinese"
    plain = re.sub(r"⟦P\d+⟧", "", body)
    count = max(1, sentence_count(plain))
    size = max(4 * count, int(len(plain) * ratio))
    text = ""
    # where a long piece starts depends on it, so two pieces of one message never read the
    # same (a short one starts with the first sentence, the surest to read as the language)
    i = int(hashlib.sha1(plain.encode()).hexdigest(), 16) % len(sentences) if size >= 40 else 0
    while len(text) < size:
        n = len(sentences)  # 8: every pass takes them in another order (an odd stride)
        sentence = sentences[(i % n) * (2 * (i // n) + 1) % n]
        if (i // n) % 2:  # and every other pass reads backwards: never a repeat
            sentence = " ".join(sentence.split()[::-1]) if spaced else sentence[::-1]
        if i // n >= 2:  # later passes rotate the words too, so no sentence comes back
            k = i // n
            units = sentence.split() if spaced else list(sentence)
            sentence = (" " if spaced else "").join(units[k:] + units[:k])
        text += (" " if spaced and text else "") + sentence
        i += 1
    text = text[:size]
    if spaced and " " in text:
        text = text.rsplit(" ", 1)[0]
    # cut into the source's number of sentences, each closed
    words = text.split() if spaced else list(text)
    step = max(1, len(words) // count)
    parts = [words[k * step:(k + 1) * step if k < count - 1 else None] for k in range(count)]
    joiner, stop = (" ", ".") if spaced else ("", "。")
    out = [joiner.join(p) for p in parts if p]
    end = body.rstrip()[-1:]
    last = {"?": " ?" if spaced else "？", "？": "？", "!": "!"}.get(end, stop if end in ".。" else "")
    tail = " ".join([out[-1], *extra]) if extra else out[-1]
    return (joiner.join(f"{p}{stop}" for p in out[:-1]) + joiner + tail + last).strip()
