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
import difflib
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ultralink.agnostic.config import AgnosticConfig
from ultralink.agnostic.protect import (
    PLACEHOLDER_RE,
    Protected,
    check_numbers,
    check_restored,
    number_multiset,
    protect,
)
from ultralink.core.bundled import prompts_dir
from ultralink.core.languages import get_language
from ultralink.llm.types import ChatRequest, Message, SamplingParams
from ultralink.quality import checks

PROMPTS_DIR = prompts_dir()

Granularity = Literal["line", "paragraph", "message"]
Style = Literal["completion", "chat"]

# Characters of translation per character of English prose (rough medians); the check
# allows ``ratio_slack`` times less or more. Unknown languages: 1.15.
EXPECTED_RATIO = {"zh": 0.33, "ja": 0.45, "ko": 0.5, "ru": 1.1, "fr": 1.2, "es": 1.15,
                  "de": 1.2, "en": 1.0}

# A list marker / heading / quote prefix kept verbatim in line mode ("1. ", "- ", "## ", "> ").
_LINE_PREFIX = re.compile(r"^(\s*(?:(?:[-*+]|\d{1,3}[.)]|#{1,6}|>)\s+)*)")
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]{2,}")
SOURCE_OPEN, SOURCE_CLOSE = "<source>", "</source>"
_BLOCK_TAGS = re.compile(r"^\s*</?(?:source|translation|target)>\s*|\s*</?(?:source|translation|"
                         r"target)>\s*$")
_QUESTION_END = re.compile(r"[?？]\W*$")
_FENCE = re.compile(r"^\s*(?:```|~~~)", re.MULTILINE)


def source_block(body: str) -> str:
    """The text to translate as the chat models see it: delimited, never a bare turn."""
    return f"{SOURCE_OPEN}\n{body}\n{SOURCE_CLOSE}"


def unwrap_source(content: str) -> str:
    """The inverse of :func:`source_block` (for tests and fakes reading requests)."""
    if content.startswith(SOURCE_OPEN + "\n") and content.endswith("\n" + SOURCE_CLOSE):
        return content[len(SOURCE_OPEN) + 1:-len(SOURCE_CLOSE) - 1]
    return content


class TranslationFailed(Exception):
    """A piece or message failed validation after every attempt; ``reason`` is a slug."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class TranslationPrompt:
    """The ``translation`` section of ``prompts/<lang>.yaml``."""

    language: str
    label: str            # the language's English name, for completion prompts
    version: str
    system: str
    instruction: str
    principles: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]
    preamble_patterns: tuple[str, ...] = ()

    @classmethod
    def load(cls, language: str, prompts_dir: str | Path | None = None) -> TranslationPrompt:
        path = Path(prompts_dir or PROMPTS_DIR) / f"{language}.yaml"
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        t = data["translation"]
        return cls(language=language, label=get_language(language).name,
                   version=str(data["version"]), system=t["system"].strip(),
                   instruction=t["instruction"].strip(),
                   principles=tuple(p.strip() for p in t["principles"]),
                   examples=tuple((e["source"], e["target"]) for e in t["examples"]),
                   preamble_patterns=tuple(t.get("preamble_patterns") or ()))

    def preamble(self) -> str:
        lines = [self.system, self.instruction]
        lines += [f"{i}. {p}" for i, p in enumerate(self.principles, 1)]
        return "\n".join(lines)

    def line_examples(self) -> list[tuple[str, str]]:
        """The examples as aligned line pairs (line mode), placeholder-only lines left out."""
        pairs: list[tuple[str, str]] = []
        for src, tgt in self.examples:
            s = [x.strip() for x in src.splitlines() if x.strip()]
            t = [x.strip() for x in tgt.splitlines() if x.strip()]
            if len(s) != len(t):
                pairs.append((" ".join(s), " ".join(t)))
                continue
            pairs += [(a, b) for a, b in zip(s, t) if _LETTER.search(PLACEHOLDER_RE.sub("", a))]
        return pairs


# -- pieces -------------------------------------------------------------------------------

@dataclass(slots=True)
class Piece:
    """A slice of a protected message: ``prefix + body + suffix``; ``body`` is translated
    when ``translate``, else copied."""

    prefix: str
    body: str
    suffix: str
    translate: bool


def _has_prose(text: str) -> bool:
    return bool(_LETTER.search(PLACEHOLDER_RE.sub("", text)))


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
        if not _has_prose(part):
            pieces.append(Piece(part, "", "", False))
            continue
        lead = len(part) - len(part.lstrip())
        trail = len(part.rstrip())
        prefix, body, suffix = part[:lead], part[lead:trail], part[trail:]
        if granularity == "line":
            m = _LINE_PREFIX.match(body)
            if m and m.group(1) and _has_prose(body[m.end():]):
                prefix, body = prefix + body[:m.end()], body[m.end():]
        pieces.append(Piece(prefix, body, suffix, True))
    return pieces


def join_pieces(pieces: list[Piece], bodies: list[str]) -> str:
    return "".join(p.prefix + b + p.suffix for p, b in zip(pieces, bodies))


def prose(text: str) -> str:
    """Text without placeholders, whitespace collapsed: what language/length checks see."""
    return " ".join(PLACEHOLDER_RE.sub(" ", text).split())


# -- validation ---------------------------------------------------------------------------

class LanguageCheck:
    """fastText lid.176 score of the target language (the bundled model, loaded once)."""

    def __init__(self, model_path: str | None = None) -> None:
        from ultralink.text.langid import LanguageIdentifier

        self.identifier = LanguageIdentifier(model_path)

    def setup(self) -> None:
        self.identifier.setup()

    def score(self, text: str, language: str) -> float:
        return self.identifier.score(text, language)


@dataclass(slots=True)
class Validator:
    """Every check a translation must pass; returns a failure slug + detail, or None.

    Reasons: ``truncated``, ``empty``, ``placeholders``, ``preamble`` (a "Voici la
    traduction :" lead-in or a translator's note the source does not have), ``answered`` (an
    English question answered instead of translated, or code written for an instruction),
    ``duplicated`` (the output said twice), ``numbers`` (digits lost or added; a number the
    target writes as words, "三个苹果" for "3 apples", is accepted), ``length_ratio``,
    ``untranslated`` (the whole text or a line of prose copied in English), ``language``,
    ``mixed_script`` (Han inside Russian, Cyrillic inside Chinese, …).
    """

    language: str
    cfg: AgnosticConfig
    langid: Any  # LanguageCheck-like: score(text, language) -> float
    patterns: tuple[re.Pattern[str], ...] = ()         # target preambles/notes (+ English)
    source_patterns: tuple[re.Pattern[str], ...] = ()  # the same in English: in the source

    @classmethod
    def for_language(cls, language: str, cfg: AgnosticConfig, langid: Any,
                     prompts_dir: str | Path | None = None) -> Validator:
        own = TranslationPrompt.load(language, prompts_dir).preamble_patterns
        english = TranslationPrompt.load("en", prompts_dir).preamble_patterns \
            if language != "en" else ()
        return cls(language, cfg, langid, checks.compile_patterns((*own, *english)),
                   checks.compile_patterns(english or own))

    def check(self, source: str, output: str, finish: str = "stop",
              langid_min_chars: int | None = None) -> tuple[str, str] | None:
        if finish == "length":
            return "truncated", "hit max_tokens"
        if not output.strip():
            return "empty", ""
        want = Counter(PLACEHOLDER_RE.findall(source))
        got = Counter(PLACEHOLDER_RE.findall(output))
        if want != got:
            return "placeholders", f"expected {sorted(want.elements())}, got {sorted(got.elements())}"
        meta = checks.first_match(self.patterns, output)
        if meta and not checks.first_match(self.source_patterns, source):
            return "preamble", meta[:60]
        src, out = prose(source), prose(output)
        if _QUESTION_END.search(src) and not re.search(r"[?？]", out):
            return "answered", "the question came back without a question mark"
        if _FENCE.search(output) and not _FENCE.search(source):
            return "answered", "code written for an instruction"
        doubled = self._duplicated(src, out)
        if doubled:
            return "duplicated", doubled
        numbers = self._numbers(source, output)
        if numbers:
            return "numbers", numbers
        if len(_WORD.findall(src)) >= 2 and out.casefold() == src.casefold():
            return "untranslated", out[:60]
        line = self._untranslated_line(source, output)
        if line:
            return "untranslated", line[:60]
        if len(src) >= self.cfg.ratio_min_chars:
            expected = EXPECTED_RATIO.get(self.language, 1.15)
            ratio = len(out) / max(1, len(src))
            slack = self.cfg.ratio_slack
            if not expected / slack <= ratio <= expected * slack:
                return "length_ratio", f"{ratio:.2f} (expected ~{expected})"
        stray = checks.stray_script(output, self.language)
        if stray and not checks.stray_script(source, self.language):
            return "mixed_script", stray[:20]
        min_chars = self.cfg.langid_min_chars if langid_min_chars is None else langid_min_chars
        if len(src) >= min_chars and self.language != "en":
            score = self.langid.score(out, self.language)
            if score < self.cfg.langid_threshold:
                return "language", f"{self.language} score {score:.2f}"
        return None

    def _numbers(self, source: str, output: str) -> str | None:
        """Digits must survive; a number written as words on the other side counts."""
        if check_numbers(source, output) is None:
            return None
        a, b = number_multiset(source), number_multiset(output)
        lost = [n for n in (a - b).elements()
                if not (n.isdigit() and checks.spelled(int(n), self.language, output))]
        added = [n for n in (b - a).elements()
                 if not (n.isdigit() and checks.spelled(int(n), "en", source))]
        if not lost and not added:
            return None
        return f"numbers changed: lost {sorted(lost)[:5]}, added {sorted(added)[:5]}"

    @staticmethod
    def _duplicated(src: str, out: str) -> str | None:
        """The output said twice: halves nearly equal, or a sentence repeated that the source
        does not repeat."""
        if len(out) >= 40:
            half = len(out) // 2
            for cut in (out.rfind(" ", 0, half + 1), half):
                a, b = out[:cut].strip(), out[cut:].strip()
                if a and b and min(len(a), len(b)) / max(len(a), len(b)) > 0.8 and \
                        difflib.SequenceMatcher(None, a.casefold(), b.casefold()).ratio() > 0.85:
                    return "output repeats itself"
        sentence = checks.repeated_sentence(out)
        if sentence and not checks.repeated_sentence(src):
            return f"sentence repeated: {sentence[:50]}"
        return None

    def _untranslated_line(self, source: str, output: str) -> str | None:
        """A line of English prose (3+ words) copied as is into the translation."""
        if self.language == "en":
            return None
        src_lines = {" ".join(line.split()).casefold() for line in source.splitlines()}
        for line in output.splitlines():
            text = " ".join(PLACEHOLDER_RE.sub(" ", line).split())
            if len(_WORD.findall(text)) >= 3 and len(text) >= 12 and \
                    " ".join(line.split()).casefold() in src_lines:
                return text
        return None

    def check_message(self, protected: Protected, translated: str) -> tuple[str, str] | None:
        missing = check_restored(protected, translated)
        if missing:
            return "placeholders", missing
        return self.check(protected.text, translated,
                          langid_min_chars=self.cfg.langid_message_min_chars)


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

    def __init__(self, language: str, cfg: AgnosticConfig, style: Style, granularity: Granularity,
                 prompts_dir: str | Path | None = None, langid: Any = None) -> None:
        self.language = language
        self.cfg = cfg
        self.style = style
        self.granularity = granularity
        self.prompt = TranslationPrompt.load(language, prompts_dir)
        self.langid = langid or LanguageCheck(cfg.fasttext_model)
        self.validator = Validator.for_language(language, cfg, self.langid, prompts_dir)
        self.opencc = get_language(language).opencc
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
        if self.opencc:
            from ultralink.text.chinese import converter

            converter(self.opencc)

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
        if self.opencc:
            from ultralink.text.chinese import converter

            out = converter(self.opencc).convert(out)
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
