"""The agnostic LLM stage: per conversation, the criteria judge (chat) then the translator.

One stage does both so one row's requests stay on one host (affinity = conversation id) and
a row's verdict, translation and costs travel together. Rejections (criteria hit, judge
unparseable, translation failed validation) are not raised as ``Drop``: the row comes back
with ``result.reject`` set, so its verdict and token costs still reach the unit's counters;
the job turns ``reject`` into the ``drop_reason`` the UnitCollector counts
(``jobs.agnostic.collect.outcome``). LLM failures
after retries (``RequestError``) are dropped by the LLMStage base as ``llm_<reason>``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from ultralink.agnostic.config import TranslationConfig
from ultralink.agnostic.criteria_filter import Judge, JudgeUnparseable, verdict_key
from ultralink.agnostic.translate import (
    Granularity,
    Style,
    TranslationFailed,
    Translator,
    Usage,
)
from ultralink.llm.request_cache import CacheSpec
from ultralink.hosting.llm_stage import LLMStage, StageClient
from ultralink.core.records import conversation_type, translation_result_type


@dataclass(frozen=True, slots=True)
class Verdict:
    """The criteria judge's answer for one conversation (``criteria`` None: unparseable, the
    judge's last output in ``unparseable``); ``reused``: an earlier language's, no LLM call."""

    criteria: dict[str, bool] | None
    unparseable: str
    usage: Usage
    reused: bool


class AgnosticStage(LLMStage):
    """Reads an English conversation (JSON), writes ``result`` (JSON, see ``process_row``)."""

    name = "agnostic"
    reads: ClassVar[dict[str, str]] = {"id": "English source id (request affinity)",
             "conversation": "the English Conversation row (records.conversation_type)"}
    column_types = {"conversation": conversation_type, "result": translation_result_type}
    writes: ClassVar[dict[str, str]] = {"result": "records.translation_result_type: messages, criteria, reject, detail, usage, token counts"}

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

    async def process_row(self, row: dict[str, Any], client: StageClient) -> dict[str, Any]:
        if self.translator is None:
            raise RuntimeError("AgnosticStage.setup() did not run")
        messages: list[dict[str, str]] = row["conversation"]["messages"]
        affinity = str(row["id"])
        usage = Usage()
        result: dict[str, Any] = {"messages": None, "criteria": None, "reject": "", "detail": "",
                                  "judged": False, "retries": None}
        if self.judge is not None:
            verdict = await self._verdict(messages, client, affinity)
            if verdict.reused:
                result["judge_reused"] = True
            if verdict.criteria is None:
                result.update(reject="judge_unparseable", detail=verdict.unparseable)
                return self._done(result, usage)
            usage.merge(verdict.usage)
            result["judged"] = True
            result["criteria"] = [{"name": k, "hit": v} for k, v in verdict.criteria.items()]
            if any(verdict.criteria.values()):
                result["reject"] = "criteria"
                return self._done(result, usage)
        await self._translate(messages, affinity, client, result, usage)
        return self._done(result, usage)

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
            await client.remember(key, {"unparseable": exc.last_output[:200]})
            return Verdict(None, exc.last_output[:200], Usage(), reused=False)
        await client.remember(key, {"verdict": criteria})
        return Verdict(criteria, "", usage, reused=False)

    async def _translate(self, messages: list[dict[str, str]], affinity: str,
                         client: StageClient, result: dict[str, Any], usage: Usage) -> None:
        """Every message translated (in parallel); the first failure rejects the row."""
        translator = self.translator
        if translator is None:
            raise RuntimeError("AgnosticStage.setup() did not run")
        jobs = [self._one(m, i, affinity, client, translator.cfg.translate_system)
                for i, m in enumerate(messages)]
        outs = await asyncio.gather(*jobs, return_exceptions=True)
        translated, retries = [], []
        for out in outs:
            if isinstance(out, TranslationFailed):
                if not result["reject"]:
                    result.update(reject="translation_" + out.reason, detail=out.detail[:200])
                continue
            if isinstance(out, BaseException):
                raise out
            msg, u = out
            usage.merge(u)
            translated.append(msg)
            retries.append(u.retries)
        if result["reject"]:
            return
        result["messages"] = translated
        result["retries"] = retries
        enc = self.encoding
        result["question_tokens"] = [len(enc.encode_ordinary(m["content"])) for m in translated
                                     if m["role"] == "user"]
        result["answer_tokens"] = [len(enc.encode_ordinary(m["content"])) for m in translated
                                   if m["role"] == "assistant"]

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

    @staticmethod
    def _done(result: dict[str, Any], usage: Usage) -> dict[str, Any]:
        result["usage"] = {"requests": usage.requests, "retries": usage.retries,
                           "prompt_tokens": usage.prompt_tokens,
                           "completion_tokens": usage.completion_tokens,
                           "failures": dict(usage.failures)}
        return {"result": result}
