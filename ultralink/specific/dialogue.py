"""One grounded dialogue as a small state machine: plan, ask, answer, validate, retry, stop.

The paper's loop (§2.1.2, reference code ``DialogGenerator.gene_dialog_from_txt`` with
``ProbabilityIterator(0.1)``): an initial question and its answer, then always one follow-up;
after every follow-up turn the dialogue stops with probability ``p`` (``stop_first`` after the
first follow-up, times ``stop_growth`` after each later one). A fair coin picks an in-depth or
an expansive follow-up question, which is answered. With the defaults (0.1, doubling) a
dialogue has 2, 3, 4, 5 or 6 pairs with probabilities 0.1, 0.18, 0.288, 0.3456, 0.0864:
4.14 pairs on average (:func:`turn_distribution`). Every random choice comes from a generator
seeded by (job seed, segment id), drawn up front as a :class:`Plan`, so a rerun makes the same
choices whatever the engine returns. Sampling seeds of retries are derived the same way.

A message that fails validation is regenerated with a new seed, at most ``max_attempts``
times; when the attempts run out the dialogue ends there: kept if at least one
question–answer pair passed, else the segment is dropped. A prompt that no longer fits the
model's context loses its oldest history pairs; when nothing is left to cut, the dialogue
ends (never a crash).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import Field

from ultralink.core.config import Strict
from ultralink.core.ids import stable_int
from ultralink.llm.types import ChatRequest, Completion, RequestError
from ultralink.specific.prompts import PART_OF_KIND, PromptBuilder, Turn
from ultralink.specific.validate import MessageValidator


class DialogueConfig(Strict):
    """How dialogues are planned, sampled and checked (defaults follow the paper)."""

    stop_first: float = Field(0.1, ge=0.0, le=1.0, description="stop probability after the "
                              "first follow-up turn (one follow-up always comes first, as in "
                              "the reference code)")
    stop_growth: float = Field(2.0, ge=1.0, description="the stop probability is multiplied "
                               "by this after every follow-up turn")
    in_depth_probability: float = Field(0.5, ge=0.0, le=1.0, description="chance a follow-up "
                                        "is in-depth (else expansive): a fair coin")
    max_turns: int = Field(8, ge=1, description="hard cap on question–answer pairs")
    question_max_tokens: int = Field(64, gt=0)
    answer_max_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_attempts: int = Field(3, ge=1, description="generations per message (first + retries) "
                              "before the dialogue ends")
    langid_threshold: float = Field(0.5, ge=0.0, le=1.0, description="fastText probability "
                                    "of the target language a message needs")
    echo_ngram_words: int = Field(8, ge=3, description="a shared word n-gram of this size "
                                  "with the prompt texts is an echo")
    echo_ngram_chars: int = Field(12, ge=4, description="the same for unspaced scripts (zh)")
    max_copied_words: int = Field(30, gt=0, description="an answer that copies this many words "
                                  "of its passage in a row (x1.7 characters for Chinese) is "
                                  "rejected as copied_passage")
    max_answer_in_question: float = Field(0.35, gt=0.0, le=1.0, description="share of an "
                                          "answer's content already in its question that "
                                          "makes the pair an answer_leak")
    repeat_fraction: float = Field(0.5, gt=0.0, le=1.0, description="share of a message "
                                   "copied from earlier turns that makes it an echo")
    max_history_tokens: int = Field(3000, gt=0, description="tiktoken budget of the rendered "
                                    "history; older pairs are cut first")
    num_examples: int = Field(2, ge=0, description="few-shot examples shown to "
                              "completion-format (base) models")
    document_in_first_message: bool = Field(True, description="the first user message carries "
                                            "the <document> block, as in the UltraLink release")
    encoding: str = Field("cl100k_base", description="tiktoken encoding of the reported "
                          "token counts (Table 2)")


# ------------------------------------------------------------------------------ the plan


def dialogue_rng(seed: int, segment_id: str) -> random.Random:
    return random.Random(stable_int("dialogue", seed, segment_id))


@dataclass(frozen=True, slots=True)
class Plan:
    """The question kinds of a dialogue if every message passes: ``initial`` then follow-ups."""

    kinds: tuple[str, ...]

    @property
    def turns(self) -> int:
        return len(self.kinds)


def plan_dialogue(seed: int, segment_id: str, cfg: DialogueConfig) -> Plan:
    """Draw the stop decisions and coins for one segment, deterministically."""
    rng = dialogue_rng(seed, segment_id)
    kinds = ["initial"]
    p = cfg.stop_first
    while len(kinds) < cfg.max_turns:
        kinds.append("in_depth" if rng.random() < cfg.in_depth_probability else "expansive")
        if len(kinds) >= cfg.max_turns or rng.random() < p:
            break
        p = min(1.0, p * cfg.stop_growth)
    return Plan(tuple(kinds))


def turn_distribution(cfg: DialogueConfig) -> dict[int, float]:
    """Closed form of P(turns = n) under the stop rule (for tests and the report)."""
    out: dict[int, float] = {}
    alive = 1.0
    p = cfg.stop_first
    if cfg.max_turns == 1:
        return {1: 1.0}
    for n in range(2, cfg.max_turns + 1):
        if n == cfg.max_turns:
            out[n] = alive
            break
        out[n] = alive * p
        alive *= 1.0 - p
        p = min(1.0, p * cfg.stop_growth)
        if alive == 0.0:
            break
    return {n: q for n, q in out.items() if q > 0}


def sampling_seed(seed: int, segment_id: str, turn: int, role: str, attempt: int) -> int:
    """The engine seed of one generation; a retry gets a new one."""
    return stable_int("sample", seed, segment_id, turn, role, attempt, bits=31)


# ---------------------------------------------------------------------------- the dialogue

Generate = Callable[[ChatRequest], Awaitable[Completion]]
CountTokens = Callable[[str], int]


@dataclass(slots=True)
class DialogueResult:
    """What one segment produced: the passed turns and every count the report needs."""

    turns: list[Turn] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    question_tokens: list[int] = field(default_factory=list)
    answer_tokens: list[int] = field(default_factory=list)
    retries: list[int] = field(default_factory=list)    # per pair: question + answer retries
    rejections: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    tokens_generated: int = 0
    history_cuts: int = 0
    planned_turns: int = 0
    end_reason: str = "plan"  # plan | rejected_question | rejected_answer | context | llm_<x>
    model: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.turns)


class Dialogue:
    """Runs one segment's dialogue against ``generate`` (a StageClient's, or a fake's)."""

    def __init__(self, builder: PromptBuilder, validator: MessageValidator,
                 cfg: DialogueConfig, seed: int, count_tokens: CountTokens) -> None:
        self.builder = builder
        self.validator = validator
        self.cfg = cfg
        self.seed = seed
        self.count_tokens = count_tokens

    async def run(self, segment_id: str, document: str, generate: Generate,
                  affinity: str) -> DialogueResult:
        plan = plan_dialogue(self.seed, segment_id, self.cfg)
        res = DialogueResult(planned_turns=plan.turns)
        for turn_index, kind in enumerate(plan.kinds):
            question = await self._message(res, segment_id, document, turn_index,
                                           PART_OF_KIND[kind], None, generate, affinity)
            if question is None:
                res.end_reason = res.end_reason if res.end_reason != "plan" else "rejected_question"
                break
            q_text, q_retries = question
            answer = await self._message(res, segment_id, document, turn_index, "answer",
                                         q_text, generate, affinity)
            if answer is None:
                res.end_reason = res.end_reason if res.end_reason != "plan" else "rejected_answer"
                break
            a_text, a_retries = answer
            res.turns.append(Turn(q_text, a_text))
            res.kinds.append(kind)
            res.question_tokens.append(self.count_tokens(q_text))
            res.answer_tokens.append(self.count_tokens(a_text))
            res.retries.append(q_retries + a_retries)
        return res

    def _history(self, res: DialogueResult, pending: str | None) -> list[Turn]:
        """The most recent pairs whose rendered size fits ``max_history_tokens``."""
        budget = self.cfg.max_history_tokens - (self.count_tokens(pending) if pending else 0)
        kept: list[Turn] = []
        for t in reversed(res.turns):
            cost = self.count_tokens(t.question) + self.count_tokens(t.answer) + 8
            if cost > budget:
                break
            budget -= cost
            kept.append(t)
        kept.reverse()
        return kept

    async def _message(self, res: DialogueResult, segment_id: str, document: str,
                       turn_index: int, part: str, pending: str | None, generate: Generate,
                       affinity: str) -> tuple[str, int] | None:
        """One validated message and its retries, or ``None`` (``res.end_reason`` says why)."""
        role = "answer" if part == "answer" else "question"
        history = self._history(res, pending)
        if len(history) < len(res.turns):
            res.history_cuts += 1
        previous = [m for t in res.turns for m in (t.question, t.answer)]
        if pending:
            previous.append(pending)
        attempt = 0
        while attempt < self.cfg.max_attempts:
            request = self.builder.request(
                document, history, part, pending_question=pending,
                max_tokens=(self.cfg.answer_max_tokens if role == "answer"
                            else self.cfg.question_max_tokens),
                temperature=self.cfg.temperature, top_p=self.cfg.top_p,
                seed=sampling_seed(self.seed, segment_id, turn_index, role, attempt),
                affinity=affinity, request_id=f"{affinity}:{turn_index}:{role}:{attempt}")
            res.requests += 1
            try:
                out = await generate(request)
            except RequestError as exc:
                if exc.reason == "context_overflow" and history:
                    history = history[1:]  # cut the oldest pair and ask again (not a retry)
                    res.history_cuts += 1
                    continue
                res.end_reason = ("context" if exc.reason == "context_overflow"
                                  else "llm_" + exc.reason)
                res.rejections["llm_" + exc.reason] += 1
                return None
            res.tokens_generated += out.completion_tokens
            if out.model and not res.model:
                res.model = out.model
            verdict = self.validator.check(out.text, role, out.finish_reason, previous, document)
            if verdict.ok:
                return verdict.text, attempt
            res.rejections[f"{role}_{verdict.reason}"] += 1
            attempt += 1
        return None
