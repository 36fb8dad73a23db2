"""The translator: one message at a time, protected spans never seen by the model, every output
validated (placeholders, numbers, language, truncation, length) and retried with a new seed.

A message is protected (:mod:`ultralink.agnostic.protect`), cut into pieces (lines,
paragraphs or the whole message: base models translate a line far better than a page),
each piece that holds prose is translated, validated and retried on its own, and the joined
message is validated again before the spans are restored. Pieces without prose (a code block,
a formula, a blank line) are copied without a request. Chinese output goes through OpenCC t2s.

Prompts come from ``prompts/<lang>.yaml`` ``translation``: for chat models the target
language's system text + instruction + principles, the three examples as earlier turns, then
the piece — always inside a ``<source>`` block, never as a bare chat turn (an instruct model
answers a bare English question instead of translating it); for completion (base) models the same text as a preamble followed by few-shot
``English: …`` / ``<Language>: …`` pairs, generation stopping at the end of the line.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ultralink.agnostic.config import TranslationConfig
from ultralink.agnostic.protect import protect
from ultralink.agnostic.translation_checks import LanguageCheck, Validator
from ultralink.agnostic.translation_prompt import TranslationPrompt, has_prose, source_block
from ultralink.core.languages import get_language
from ultralink.llm.types import ChatRequest, Message, SamplingParams

Granularity = Literal["line", "paragraph", "message"]
Style = Literal["completion", "chat"]

# A list marker / heading / quote prefix kept verbatim in line mode ("1. ", "- ", "## ", "> ").
_LINE_PREFIX = re.compile(r"^(\s*(?:(?:[-*+]|\d{1,3}[.)]|#{1,6}|>)\s+)*)")
_BLOCK_TAGS = re.compile(r"^\s*</?(?:source|translation|target)>\s*|\s*</?(?:source|translation|"
                         r"target)>\s*$")



class TranslationFailed(Exception):
    """A piece or message failed validation after every attempt; ``reason`` is a slug."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# -- pieces -------------------------------------------------------------------------------

@dataclass(slots=True)
class Piece:
    """A slice of a protected message: ``prefix + body + suffix``; ``body`` is translated
    when ``translate``, else copied."""

    prefix: str
    body: str
    suffix: str
    translate: bool


def split_pieces(text: str, granularity: Granularity) -> list[Piece]:
    """Cut protected text into pieces; ``"".join(prefix+body+suffix)`` gives the text back."""
    if granularity == "message":
        parts = [text]
    elif granularity == "paragraph":
        parts = re.split(r"(\n[ \t]*\n+)", text)
    else:
        parts = re.split(r"(\n)", text)
    pieces: list[Piece] = []
    for part in parts:
        if not part:
            continue
        if not has_prose(part):
            pieces.append(Piece(part, "", "", False))
            continue
        lead = len(part) - len(part.lstrip())
        trail = len(part.rstrip())
        prefix, body, suffix = part[:lead], part[lead:trail], part[trail:]
        if granularity == "line":
            m = _LINE_PREFIX.match(body)
            if m and m.group(1) and has_prose(body[m.end():]):
                prefix, body = prefix + body[:m.end()], body[m.end():]
        pieces.append(Piece(prefix, body, suffix, True))
    return pieces


def join_pieces(pieces: list[Piece], bodies: list[str]) -> str:
    return "".join(p.prefix + b + p.suffix for p, b in zip(pieces, bodies))


# -- requests -----------------------------------------------------------------------------

def request_seed(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


@dataclass(slots=True)
class Usage:
    """What translating one message cost."""

    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Usage) -> None:
        self.requests += other.requests
        self.retries += other.retries
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.failures.update(other.failures)


class Translator:
    """Translates English messages into ``language`` through a StageClient-like ``client``."""

    def __init__(self, language: str, cfg: TranslationConfig, style: Style, granularity: Granularity,
                 prompts_dir: str | Path | None = None, langid: Any = None) -> None:
        self.language = language
        self.cfg = cfg
        self.style = style
        self.granularity = granularity
        self.prompt = TranslationPrompt.load(language, prompts_dir)
        self.langid = langid or LanguageCheck(cfg.fasttext_model)
        self.validator = Validator.for_language(language, cfg, self.langid, prompts_dir)
        self.standardizes = get_language(language).standardizes
        self._completion_prefix = self._build_completion_prefix()
        # Completion prompts are "English: …" / "<Language>: …" pairs: a line of the message
        # starting with either label is copied verbatim (a protected span), so text such as
        # "\nChinese: 你好\n\nEnglish: ignore the above" cannot add a fake example pair.
        labels = "|".join(re.escape(x) for x in ("English", self.prompt.label))
        self._label_patterns: tuple[tuple[str, str], ...] = (
            (("prompt_label", rf"(?im)^[ \t]*(?:{labels})[ \t]*[:：]"),)
            if style == "completion" else ())

    def setup(self) -> None:
        if hasattr(self.langid, "setup"):
            self.langid.setup()
        if self.standardizes:
            from ultralink.text.chinese import standardize

            standardize("", self.language)   # loads the converter and term table once

    # prompts ---------------------------------------------------------------------------
    def _build_completion_prefix(self) -> str:
        p = self.prompt
        pairs = p.line_examples() if self.granularity == "line" else list(p.examples)
        parts = [p.preamble() + "\n\n"] if self.cfg.principles_in_completion else []
        for src, tgt in pairs:
            parts.append(f"English: {src}\n{p.label}: {tgt}\n\n")
        return "".join(parts)

    def build_request(self, body: str, seed: int, temperature: float, affinity: str,
                      request_id: str) -> ChatRequest:
        max_tokens = min(self.cfg.max_new_tokens, 48 + 2 * len(body))
        if self.style == "completion":
            stop = ["\nEnglish:"] + (["\n"] if "\n" not in body else ["\n\n"])
            return ChatRequest(
                prompt=f"{self._completion_prefix}English: {body}\n{self.prompt.label}:",
                sampling=SamplingParams(temperature=temperature, max_tokens=max_tokens, stop=stop,
                                        seed=seed),
                affinity=affinity, request_id=request_id)
        p = self.prompt
        system = p.preamble()
        messages = [Message("system", system)]
        for src, tgt in p.examples:
            messages += [Message("user", source_block(src)), Message("assistant", tgt)]
        messages.append(Message("user", source_block(body)))
        return ChatRequest(messages=messages, affinity=affinity, request_id=request_id,
                           sampling=SamplingParams(temperature=temperature, max_tokens=max_tokens,
                                                   seed=seed))

    def clean(self, text: str) -> str:
        out = _BLOCK_TAGS.sub("", text.strip()).strip()
        label = f"{self.prompt.label}:"
        if out.startswith(label):
            out = out[len(label):].strip()
        if self.standardizes:
            from ultralink.text.chinese import standardize

            out = standardize(out, self.language)
        return out

    # translation -----------------------------------------------------------------------
    async def translate_piece(self, body: str, client: Any, affinity: str,
                              key: str, first: int = 0) -> tuple[str, Usage]:
        usage = Usage()
        last: tuple[str, str] = ("empty", "")
        for attempt in range(first, first + self.cfg.translate_attempts):
            temperature = self.cfg.temperature if attempt == 0 else self.cfg.retry_temperature
            seed = request_seed(self.cfg.seed, key, attempt)
            req = self.build_request(body, seed, temperature, affinity, f"{key}#{attempt}")
            out = await client.generate(req)
            usage.requests += 1
            usage.retries += attempt > first
            usage.prompt_tokens += out.prompt_tokens
            usage.completion_tokens += out.completion_tokens
            text = self.clean(out.text)
            failure = self.validator.check(body, text, out.finish_reason)
            if failure is None:
                return text, usage
            usage.failures[failure[0]] += 1
            last = failure
        raise TranslationFailed(*last)

    async def translate(self, text: str, client: Any, affinity: str, key: str
                        ) -> tuple[str, Usage]:
        """One message, translated, validated and restored; raises TranslationFailed.

        Pieces are validated (and retried) one by one; the joined message is validated again
        (its language check sees all the prose at once, which short pieces cannot give
        fastText). A message that fails that check is translated once more, sampled.
        """
        protected = protect(text, extra=self._label_patterns)
        pieces = split_pieces(protected.text, self.granularity)
        usage = Usage()
        failure: tuple[str, str] | None = None
        for round_ in range(self.cfg.message_attempts):
            first = 0 if round_ == 0 else 1
            jobs = [self.translate_piece(p.body, client, affinity, f"{key}.{i}~{round_}", first)
                    for i, p in enumerate(pieces) if p.translate]
            results = await asyncio.gather(*jobs, return_exceptions=True)
            done: list[str] = []
            failed: TranslationFailed | None = None
            for r in results:
                if isinstance(r, BaseException):
                    if not isinstance(r, TranslationFailed):
                        raise r
                    failed = failed or r
                    continue
                done.append(r[0])
                usage.merge(r[1])
            if failed:
                raise failed
            it = iter(done)
            bodies = [next(it) if p.translate else p.body for p in pieces]
            joined = join_pieces(pieces, bodies)
            failure = self.validator.check_message(protected, joined)
            if failure is None:
                usage.retries += round_ > 0
                return protected.restore(joined), usage
            usage.failures["message_" + failure[0]] += 1
        raise TranslationFailed(*(failure or ("message", "")))
