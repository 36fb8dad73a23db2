"""The agnostic LLM stage: per conversation, the criteria judge (chat) then the translator.

One stage does both so one row's requests stay on one host (affinity = conversation id) and
a row's verdict, translation and costs travel together. A rejected row (criteria hit, judge
unparseable, translation failed validation) is dropped with ``Drop(reason, counts, detail)``;
a kept one comes back as ``Kept({"translation": …}, counts)``. Either way its verdict and
costs are the row's typed outcome counts (:mod:`ultralink.pipeline.outcome`), which the
job's ``UnitCollector`` adds to the unit's marker. LLM failures after retries
(``RequestError``) are dropped by the LLMStage base as ``llm_<reason>``.

What a row counts: ``judged``, ``judge_reused`` (an earlier language's verdict, no LLM call),
``translated`` and ``translated_messages``; and the groups ``llm`` (``requests``,
``retries``, ``prompt_tokens``, ``completion_tokens``), ``attempt_failed`` (failed
validation attempts by reason) and ``criterion`` (hits by criterion name, 0 when judged and
not hit).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from ultralink.agnostic.config import TranslationConfig
from ultralink.agnostic.criteria_filter import Judge, JudgeUnparseable, verdict_key
from ultralink.agnostic.translate import (
    Granularity,
    Style,
    TranslationFailed,
    Translator,
    Usage,
)
from ultralink.core.counters import Counters
from ultralink.core.records import conversation_type
from ultralink.hosting.llm_stage import LLMStage, StageClient
from ultralink.llm.request_cache import CacheSpec
from ultralink.pipeline.outcome import Drop, Kept

TRANSLATION_COLUMN = "translation"
USAGE_KEYS = ("requests", "retries", "prompt_tokens", "completion_tokens")
MAX_DETAIL = 200   # characters of a drop's detail (a model's output, a failed check)


def translation_type() -> pa.DataType:
    """What a kept row carries to the output record: the translated messages, the judge's
    criteria (null when not judged), retries and token counts per message."""
    ints = pa.list_(pa.int32())
    return pa.struct([
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("criteria", pa.list_(pa.struct([("name", pa.string()), ("hit", pa.bool_())]))),
        ("retries", ints),
        ("question_tokens", ints),
        ("answer_tokens", ints),
        ("tokens_generated", pa.int64()),
    ])


def count_usage(usage: Usage, counts: Counters) -> Counters:
    """A row's LLM costs into its counts (groups ``llm`` and ``attempt_failed``)."""
    for key in USAGE_KEYS:
        counts.add_in("llm", key, int(getattr(usage, key)))
    for reason, n in usage.failures.items():
        counts.add_in("attempt_failed", reason, int(n))
    return counts


def rejected(reason: str, usage: Usage, counts: Counters, detail: str = "") -> Drop:
    """The drop of a rejected row, with everything it counted and cost so far."""
    return Drop(reason, count_usage(usage, counts), detail[:MAX_DETAIL])


@dataclass(frozen=True, slots=True)
class Verdict:
    """The criteria judge's answer for one conversation (``criteria`` None: unparseable, the
    judge's last output in ``unparseable``); ``reused``: an earlier language's, no LLM call."""

    criteria: dict[str, bool] | None
    unparseable: str
    usage: Usage
    reused: bool


class AgnosticStage(LLMStage):
    """Reads an English conversation, writes its ``translation`` (kept rows only)."""

    name = "agnostic"
    reads: ClassVar[dict[str, str]] = {"id": "English source id (request affinity)",
             "conversation": "the English Conversation row (records.conversation_type)"}
    column_types: ClassVar[dict[str, Callable[[], pa.DataType]]] = {
        "conversation": conversation_type, TRANSLATION_COLUMN: translation_type}
    writes: ClassVar[dict[str, str]] = {
        TRANSLATION_COLUMN: "translation_type: messages, criteria, retries, token counts"}

    def __init__(self, pool: Any, *, language: str, subset: str, config: TranslationConfig,
                 style: Style, granularity: Granularity, prompts_dir: str | None = None,
                 keep_dropped: bool = True, request_cache: CacheSpec | None = None) -> None:
        super().__init__(pool, keep_dropped=keep_dropped, request_cache=request_cache)
        self.language = language
        self.subset = subset
        self.config = config
        self.style = style
        self.granularity = granularity
        self.prompts_dir = prompts_dir
        self.judge: Judge | None = None
        self.translator: Translator | None = None
        self.encoding: Any = None

    async def setup(self) -> None:
        cfg = self.config
        if self.subset == "chat" and cfg.judge:
            self.judge = Judge(cfg, self.style, self.prompts_dir)
        self.translator = Translator(self.language, cfg, self.style, self.granularity,
                                     self.prompts_dir)
        self.translator.setup()
        from ultralink.text.tokens import get_encoding

        self.encoding = get_encoding()

    async def process_row(self, row: dict[str, Any], client: StageClient) -> Kept:
        if self.translator is None:
            raise RuntimeError("AgnosticStage.setup() did not run")
        messages: list[dict[str, str]] = row["conversation"]["messages"]
        affinity = str(row["id"])
        usage, counts = Usage(), Counters()
        criteria = None
        if self.judge is not None:
            criteria = await self._judged(messages, client, affinity, usage, counts)
        out = await self._translate(messages, affinity, client, usage, counts)
        out["criteria"] = criteria
        counts.add("translated")
        counts.add("translated_messages", len(out["messages"]))
        return Kept({TRANSLATION_COLUMN: out}, count_usage(usage, counts))

    async def _judged(self, messages: list[dict[str, str]], client: StageClient,
                      affinity: str, usage: Usage, counts: Counters
                      ) -> list[dict[str, Any]]:
        """The verdict counted; raises the row's ``Drop`` when the judge could not be read
        or a criterion was hit."""
        verdict = await self._verdict(messages, client, affinity)
        if verdict.reused:
            counts.add("judge_reused")
        if verdict.criteria is None:
            raise rejected("judge_unparseable", usage, counts, verdict.unparseable)
        usage.merge(verdict.usage)
        counts.add("judged")
        for name, hit in verdict.criteria.items():
            counts.add_in("criterion", name, int(bool(hit)))
        if any(verdict.criteria.values()):
            raise rejected("criteria", usage, counts)
        return [{"name": k, "hit": v} for k, v in verdict.criteria.items()]

    async def _verdict(self, messages: list[dict[str, str]], client: StageClient,
                       affinity: str) -> Verdict:
        """One verdict per English conversation: the first language judges, the others
        (same pool in a build) reuse it. The only place verdicts are recalled/remembered."""
        judge = self.judge
        if judge is None:
            raise RuntimeError("AgnosticStage.setup() did not run")
        key = verdict_key(judge.prompt, judge.cfg, self.style, messages)
        known = await client.recall(key)
        if known is not None:
            if "unparseable" in known:
                return Verdict(None, known["unparseable"], Usage(), reused=True)
            return Verdict(known["verdict"], "", Usage(), reused=True)
        try:
            criteria, usage = await judge.judge(messages, client, affinity, affinity)
        except JudgeUnparseable as exc:
            await client.remember(key, {"unparseable": exc.last_output[:MAX_DETAIL]})
            return Verdict(None, exc.last_output[:MAX_DETAIL], Usage(), reused=False)
        await client.remember(key, {"verdict": criteria})
        return Verdict(criteria, "", usage, reused=False)

    async def _translate(self, messages: list[dict[str, str]], affinity: str,
                         client: StageClient, usage: Usage, counts: Counters
                         ) -> dict[str, Any]:
        """Every message translated (in parallel); the first failure (in message order)
        raises the row's ``Drop``, with the costs of the messages that did translate."""
        translator = self.translator
        if translator is None:
            raise RuntimeError("AgnosticStage.setup() did not run")
        jobs = [self._one(m, i, affinity, client, translator.cfg.translate_system)
                for i, m in enumerate(messages)]
        outs = await asyncio.gather(*jobs, return_exceptions=True)
        translated, retries = [], []
        failed: TranslationFailed | None = None
        for out in outs:
            if isinstance(out, TranslationFailed):
                failed = failed or out
                continue
            if isinstance(out, BaseException):
                raise out
            msg, u = out
            usage.merge(u)
            translated.append(msg)
            retries.append(u.retries)
        if failed is not None:
            raise rejected("translation_" + failed.reason, usage, counts, failed.detail)
        enc = self.encoding
        return {"messages": translated, "retries": retries,
                "question_tokens": [len(enc.encode_ordinary(m["content"]))
                                    for m in translated if m["role"] == "user"],
                "answer_tokens": [len(enc.encode_ordinary(m["content"]))
                                  for m in translated if m["role"] == "assistant"],
                "tokens_generated": usage.completion_tokens}

    async def _one(self, message: dict[str, str], index: int, affinity: str, client: StageClient,
                   translate_system: bool) -> tuple[dict[str, str], Usage]:
        if message["role"] == "system" and not translate_system:
            return dict(message), Usage()
        translator = self.translator
        if translator is None:
            raise RuntimeError("AgnosticStage.setup() did not run")
        text, usage = await translator.translate(message["content"], client, affinity,
                                                 f"{affinity}.{index}")
        return {"role": message["role"], "content": text}, usage
