"""The multi-criteria filter (paper §2.2.1, Figure 9): an LLM judge marks English chat that is
tied to one culture, so only conversations that hit no criterion are translated.

The judge answers one yes/no per criterion (``prompts/criteria_filter.yaml``) as strict JSON;
the parser also takes ``1: no`` lines, criterion names as keys, true/false and 1/0. An
unparseable verdict is asked again with a new seed, then the row is dropped as
``judge_unparseable``. Chat models get system + instruction + examples as messages; base
(completion) models get the same text followed by few-shot ``Conversation: …`` /
``Verdict: {json}`` pairs and write the JSON one value at a time: the prompt ends inside the
verdict (``{"1": "no", "2": "``), so the output is JSON by construction and each step only
has to say yes or no.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from ultralink.agnostic.config import TranslationConfig
from ultralink.agnostic.translate import Usage, request_seed
from ultralink.agnostic.translation_prompt import PROMPTS_DIR
from ultralink.llm.escape import escape_tags, indent_continuations
from ultralink.llm.types import ChatRequest, Message, SamplingParams

Style = Literal["completion", "chat"]

_YES = {"yes", "y", "true", "1", "hit"}
_NO = {"no", "n", "false", "0", "none"}
_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_LINE = re.compile(r"(?im)^[^\w\n]*(?:criterion\s*)?(\d|[a-z_]+)[ \t]*[.:=\-–)]*[ \t]*[\"']?"
                   r"(yes|no|true|false|[01])\b")


class JudgeUnparseable(Exception):
    """No attempt produced a verdict for every criterion."""

    def __init__(self, last_output: str) -> None:
        super().__init__(f"unparseable verdict: {last_output[:120]!r}")
        self.last_output = last_output


@dataclass(frozen=True, slots=True)
class Criterion:
    id: int
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class CriteriaPrompt:
    """``prompts/criteria_filter.yaml``."""

    version: str
    system: str
    instruction: str
    criteria: tuple[Criterion, ...]
    examples: tuple[tuple[str, dict[str, str]], ...]

    @classmethod
    def load(cls, prompts_dir: str | Path | None = None) -> CriteriaPrompt:
        with open(Path(prompts_dir or PROMPTS_DIR) / "criteria_filter.yaml", encoding="utf-8") as f:
            data = yaml.safe_load(f)
        return cls(version=str(data["version"]), system=" ".join(data["system"].split()),
                   instruction=" ".join(data["instruction"].split()),
                   criteria=tuple(Criterion(int(c["id"]), c["name"], " ".join(c["description"].split()))
                                  for c in data["criteria"]),
                   examples=tuple((e["conversation"].strip(), {str(k): str(v) for k, v in
                                                               e["verdict"].items()})
                                  for e in data["examples"]))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.criteria]

    def criteria_text(self) -> str:
        return "\n".join(f"{c.id}. {c.name}: {c.description}" for c in self.criteria)


def render_conversation(messages: list[dict[str, str]], message_chars: int | None = None,
                        total_chars: int | None = None) -> str:
    """``User: …`` / ``Assistant: …`` lines; each message and the whole cut to a budget only
    when one is set (by default the judge sees the whole conversation: the pre-filter's
    ``max_conversation_tokens`` already bounds what is admitted)."""
    labels = {"user": "User", "assistant": "Assistant", "system": "System"}
    parts = []
    for m in messages:
        text = m["content"].strip()
        if message_chars is not None and len(text) > message_chars:
            text = text[:message_chars] + " […]"
        parts.append(f"{labels.get(m['role'], m['role'])}: {text}")
    out = "\n".join(parts)
    return out if total_chars is None or len(out) <= total_chars else out[:total_chars] + " […]"


CONVERSATION_OPEN = "<conversation>"
CONVERSATION_CLOSE = "</conversation>"


def as_data(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Messages the judge shows as data: their text cannot close the ``<conversation>`` block
    (tags escaped) and their continuation lines are indented, so ``Verdict: {…}`` or
    ``User:`` inside a message never starts a line the way the prompt's own labels do."""
    return [{**m, "content": indent_continuations(escape_tags(m["content"].strip(),
                                                              ("conversation",)))}
            for m in messages]


def conversation_block(conversation: str) -> str:
    """``Conversation:`` and the rendered conversation inside its delimiters."""
    return f"Conversation:\n{CONVERSATION_OPEN}\n{conversation}\n{CONVERSATION_CLOSE}"


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().strip(".").lower()
        if v in _YES:
            return True
        if v in _NO:
            return False
    return None


def parse_verdict(text: str, criteria: tuple[Criterion, ...]) -> dict[str, bool] | None:
    """``{criterion name: hit}`` for every criterion, or None when the text does not say.

    Accepts a JSON object (keys: ids as strings or ints, or criterion names; values yes/no,
    true/false, 1/0), else lines like ``1: no`` / ``person_full_name: yes``. Only the model's
    own answer counts: text up to an echoed ``</conversation>`` is skipped, and the LAST
    complete reading wins (a model that quotes an injected verdict from the conversation and
    then gives its own is judged by its own); a partial one is unparseable (never guessed).
    """
    if CONVERSATION_CLOSE in text:
        text = text.rsplit(CONVERSATION_CLOSE, 1)[1]
    by_key: dict[str, str] = {}
    for c in criteria:
        by_key[str(c.id)] = c.name
        by_key[c.name] = c.name

    def complete(pairs: list[tuple[Any, Any]]) -> dict[str, bool] | None:
        out: dict[str, bool] = {}
        for key, value in pairs:
            name = by_key.get(str(key).strip().lower())
            flag = _flag(value)
            if name is None or flag is None:
                continue
            out.setdefault(name, flag)
        return out if len(out) == len(criteria) else None

    last: dict[str, bool] | None = None
    for m in _OBJECT.finditer(text):
        try:
            obj = json.loads(m.group(0))
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            last = complete(list(obj.items())) or last
    if last:
        return last
    # lines: the last value given for each criterion
    return complete([(m.group(1), m.group(2)) for m in reversed(list(_LINE.finditer(text)))])


def verdict_schema(criteria: tuple[Criterion, ...]) -> dict[str, Any]:
    """The verdict as a JSON schema (``{"1": "yes"|"no", …}``): engines with structured output
    (vLLM guided decoding, a llama.cpp grammar, OpenAI ``response_format``) can only write a
    parseable verdict; :func:`parse_verdict` stays the fallback for engines without."""
    keys = [str(c.id) for c in criteria]
    return {"type": "object", "properties": {k: {"type": "string", "enum": ["yes", "no"]}
                                             for k in keys},
            "required": keys, "additionalProperties": False}


def verdict_key(prompt: CriteriaPrompt, cfg: TranslationConfig, style: str,
                messages: list[dict[str, str]]) -> str:
    """What fixes a verdict: the English conversation, the judge prompt and its settings; the
    same for every target language, so one verdict serves them all."""
    from ultralink.core.ids import json_digest

    return "judge:" + json_digest([prompt.version, style, cfg.seed, cfg.judge_attempts,
                                   cfg.temperature, cfg.retry_temperature, cfg.judge_max_tokens,
                                   cfg.judge_message_chars, cfg.judge_total_chars, messages],
                                  length=None)


class Judge:
    """Asks the model for a verdict, retrying unparseable answers with a new seed."""

    def __init__(self, cfg: TranslationConfig, style: Style, prompts_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.style = style
        self.prompt = CriteriaPrompt.load(prompts_dir)
        self._prefix = self._completion_prefix()

    def _completion_prefix(self) -> str:
        p = self.prompt
        parts = [p.system, "\n\n", p.instruction, "\n\nCriteria:\n", p.criteria_text(), "\n\n"]
        # Base models lean on the last example: the all-"no" one goes last (measured: with it
        # first, the 270M CPU model marked almost every conversation as culture-bound).
        examples = sorted(p.examples, key=lambda e: all(v == "no" for v in e[1].values()))
        for conv, verdict in examples:
            parts.append(f"{conversation_block(conv)}\nVerdict: {json.dumps(verdict)}\n\n")
        return "".join(parts)

    def build_request(self, conversation: str, seed: int, temperature: float, affinity: str,
                      request_id: str, partial: str = "") -> ChatRequest:
        """Chat: one request for the whole JSON. Completion: the prompt ends inside the JSON
        verdict (``… Verdict: {"1": "no", "2": "``), so the model writes one value."""
        if self.style == "completion":
            sampling = SamplingParams(temperature=temperature, max_tokens=4, seed=seed,
                                      stop=['"', "\n"])
            return ChatRequest(prompt=f"{self._prefix}{conversation_block(conversation)}\n"
                                      f"Verdict: {{{partial}",
                               sampling=sampling, affinity=affinity, request_id=request_id)
        sampling = SamplingParams(temperature=temperature, max_tokens=self.cfg.judge_max_tokens,
                                  seed=seed, json_schema=verdict_schema(self.prompt.criteria))
        p = self.prompt
        messages = [Message("system", f"{p.system}\n\n{p.instruction}\n\nCriteria:\n"
                                      f"{p.criteria_text()}")]
        for conv, verdict in p.examples:
            messages += [Message("user", conversation_block(conv)),
                         Message("assistant", json.dumps(verdict))]
        messages.append(Message("user", conversation_block(conversation)))
        return ChatRequest(messages=messages, sampling=sampling, affinity=affinity,
                           request_id=request_id)

    async def judge(self, messages: list[dict[str, str]], client: Any, affinity: str,
                    key: str) -> tuple[dict[str, bool], Usage]:
        """The verdict of one conversation; raises JudgeUnparseable after every attempt."""
        conversation = render_conversation(as_data(messages), self.cfg.judge_message_chars,
                                           self.cfg.judge_total_chars)
        usage = Usage()
        text = ""
        for attempt in range(self.cfg.judge_attempts):
            temperature = self.cfg.temperature if attempt == 0 else self.cfg.retry_temperature
            seed = request_seed(self.cfg.seed, key, "judge", attempt)
            if self.style == "completion":
                text = await self._stepwise(conversation, client, affinity, key, attempt, seed,
                                            temperature, usage)
            else:
                out = await client.generate(self.build_request(
                    conversation, seed, temperature, affinity, f"{key}#judge{attempt}"))
                _count(usage, out, attempt)
                text = out.text
            verdict = parse_verdict(text, self.prompt.criteria)
            if verdict is not None:
                return verdict, usage
            usage.failures["judge_unparseable"] += 1
        raise JudgeUnparseable(text)

    async def _stepwise(self, conversation: str, client: Any, affinity: str, key: str,
                        attempt: int, seed: int, temperature: float, usage: Usage) -> str:
        """The JSON verdict written one value at a time (the prefix is cached between steps)."""
        partial = ""
        for i, c in enumerate(self.prompt.criteria):
            partial += f'"{c.id}": "'
            out = await client.generate(self.build_request(
                conversation, seed + i, temperature, affinity, f"{key}#judge{attempt}.{c.id}",
                partial))
            _count(usage, out, attempt and i == 0)
            flag = _flag(out.text)
            if flag is None:
                return "{" + partial + out.text  # unparseable: the caller retries
            partial += ("yes" if flag else "no") + '"' + (", " if i < len(self.prompt.criteria) - 1 else "")
        return "{" + partial + "}"


def _count(usage: Usage, out: Any, retry: Any) -> None:
    usage.requests += 1
    usage.retries += bool(retry)
    usage.prompt_tokens += out.prompt_tokens
    usage.completion_tokens += out.completion_tokens
