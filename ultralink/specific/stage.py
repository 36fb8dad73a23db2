"""The Ray Data LLM stage that turns one segment into one grounded multi-turn dialogue.

Reads segment rows (``ultralink prepare`` output plus the job's ``unit_id``) and writes a
``conversation`` column (the conversation schema, null for dropped rows). Its counters
(turns, tokens, rejections by reason) are the row's outcome counts (``pipeline.outcome``), on
*every* row, dropped ones included, so rejection counts reach the unit markers and the
report. A segment with no passing question–answer pair is dropped with
``Drop(<end reason>, counts)``; with ``keep_dropped=True`` it stays in the stream with a
``drop_reason``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from ultralink.core.counters import Counters
from ultralink.llm.request_cache import CacheSpec
from ultralink.hosting.pool import HostPool
from ultralink.hosting.llm_stage import LLMStage, StageClient
from ultralink.pipeline.outcome import Drop, Kept
from ultralink.core.records import Conversation, Turn, conversation_type
from ultralink.specific.dialogue import Dialogue, DialogueConfig, DialogueResult
from ultralink.specific.prompts import PromptBuilder, load_prompts
from ultralink.specific.validate import MessageValidator
from ultralink.core.ids import digest

SUBSET = "chat_specific"
CONVERSATION_COLUMN = "conversation"


def dialogue_id(segment_id: str, language: str) -> str:
    """``{lang}_chat_specific_{hash}``: content-derived, so a rerun cannot duplicate."""
    return f"{language}_{SUBSET}_{digest(segment_id, language)}"


def dialogue_stats(res: DialogueResult) -> Counters:
    """The per-segment counts every unit marker and the report add up (``dialogues_in`` is
    the stage's ``every_row`` count)."""
    c = Counters()
    c.add("requests", res.requests)
    c.add("tokens_generated", res.tokens_generated)
    c.add("history_cuts", res.history_cuts)
    c.add_in("planned_turns", res.planned_turns)
    c.add_in("end", res.end_reason)
    for reason, n in res.rejections.items():
        c.add_in("rejected", reason, n)
    if res.ok:
        c.add("dialogues_out")
        c.add_in("turns", len(res.turns))
        c.add("questions", len(res.turns))
        c.add("question_tokens", sum(res.question_tokens))
        c.add("answer_tokens", sum(res.answer_tokens))
        c.add("retries", sum(res.retries))
        for kind in res.kinds:
            c.add_in("kind", kind)
    return c


class DialogueStage(LLMStage):
    """Ray Data UDF (actor): every segment of a batch runs its dialogue concurrently.

    Args:
        pool: the job's engine hosts.
        language: target language (selects ``prompts/<language>.yaml``).
        config: :class:`DialogueConfig` as a dict (picklable).
        seed: job seed; with the segment id it fixes every random choice.
        prompt_format: ``"chat"`` or ``"completion"`` (the model registry's format).
        model: the model name recorded in ``meta.model``.
        max_in_flight: dialogues running at once in this actor (1 suits llama.cpp, whose
            single-slot prompt cache then keeps the current document; hundreds suit vLLM).
    """

    name: ClassVar[str] = "specific_dialogue"
    reads: ClassVar[Mapping[str, str]] = {"id": "segment id (seeds, affinity, dialogue id)", "text": "the segment text",
             "language": "segment language (must be the job's)", "title": "article title",
             "url": "article URL", "doc_id": "article id", "segment_index": "segment number"}
    column_types = {CONVERSATION_COLUMN: conversation_type}
    writes: ClassVar[Mapping[str, str]] = {
        CONVERSATION_COLUMN: "the dialogue in the conversation schema (null if dropped)"}
    every_row: ClassVar[Mapping[str, int]] = {"dialogues_in": 1}

    def __init__(self, pool: HostPool, *, language: str, config: DialogueConfig, seed: int,
                 prompt_format: str, model: str, prompts_dir: str | None = None,
                 max_in_flight: int = 256, fasttext_model: str | None = None,
                 keep_dropped: bool = False, request_cache: CacheSpec | None = None) -> None:
        super().__init__(pool, keep_dropped=keep_dropped, request_cache=request_cache)
        self.language = language
        self.cfg = config
        self.seed = seed
        self.prompt_format = prompt_format
        self.model = model
        self.prompts_dir = prompts_dir
        self.max_in_flight = max_in_flight
        self.fasttext_model = fasttext_model
        self._dialogue: Dialogue | None = None
        self._sem: asyncio.Semaphore | None = None
        self._version = ""

    async def setup(self) -> None:
        from ultralink.text.tokens import get_encoding

        prompts = load_prompts(self.language, self.prompts_dir)
        self._version = f"{prompts.language}:{prompts.version}"
        builder = PromptBuilder(prompts, self.prompt_format,  # type: ignore[arg-type]
                                num_examples=self.cfg.num_examples)
        validator = MessageValidator.for_dialogue(prompts, self.cfg, builder.echo_sources(),
                                                  self.fasttext_model)
        validator.setup()
        enc = get_encoding(self.cfg.encoding)
        self._dialogue = Dialogue(builder, validator, self.cfg, self.seed,
                                  lambda text: len(enc.encode_ordinary(text)))
        self._builder = builder
        self._sem = asyncio.Semaphore(self.max_in_flight)

    async def process_row(self, row: dict[str, Any], client: StageClient) -> Kept:
        if self._dialogue is None or self._sem is None:
            raise RuntimeError("DialogueStage.process_row called before setup()")
        if row["language"] != self.language:
            raise Drop("wrong_segment_language")
        conv_id = dialogue_id(row["id"], self.language)
        async with self._sem:
            res = await self._dialogue.run(row["id"], row["text"], client.generate, conv_id)
        stats = dialogue_stats(res)
        if not res.ok:
            raise Drop(res.end_reason, stats)
        return Kept({CONVERSATION_COLUMN: self.record(row, conv_id, res)}, stats)

    def record(self, row: dict[str, Any], conv_id: str, res: DialogueResult) -> dict[str, Any]:
        messages = []
        for i, turn in enumerate(res.turns):
            question = turn.question
            if i == 0 and self.cfg.document_in_first_message:
                question = self._builder.document_block(row["text"]) + "\n" + question
            messages += [Turn("user", question), Turn("assistant", turn.answer)]
        return Conversation(
            id=conv_id, language=self.language, subset=SUBSET, messages=messages,
            source={"dataset": "wikipedia", "id": row["id"], "title": row.get("title"),
                    "url": row.get("url"), "doc_id": row.get("doc_id"),
                    "segment_index": row.get("segment_index"), "schema": "segment",
                    "file": row.get("source_file")},
            meta={"question_kinds": res.kinds, "question_tokens": res.question_tokens,
                  "answer_tokens": res.answer_tokens, "retries": res.retries,
                  "model": self.model, "prompt_version": self._version, "seed": self.seed,
                  "tokens_generated": res.tokens_generated}).to_row()
