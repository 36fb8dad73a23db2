"""Every check a translation must pass (placeholders, numbers, language, truncation, length,
preambles, answers instead of translations), apart from the translator that retries on them:
the ``validate`` job runs the same checks over finished records."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ultralink.agnostic.config import TranslationConfig
from ultralink.agnostic.protect import (
    PLACEHOLDER_RE,
    Protected,
    check_numbers,
    check_restored,
    number_multiset,
)
from ultralink.agnostic.translation_prompt import TranslationPrompt
from ultralink.core.languages import get_language
from ultralink.quality import checks, signals

# Characters of translation per character of English prose (rough medians); the check
# allows ``ratio_slack`` times less or more. Unknown languages: 1.15.
EXPECTED_RATIO = {"zh": 0.33, "ja": 0.45, "ko": 0.5, "ru": 1.1, "fr": 1.2, "es": 1.15,
                  "de": 1.2, "en": 1.0}

_WORD = re.compile(r"[^\W\d_]{2,}")
_QUESTION_END = re.compile(r"[?？]\W*$")
_FENCE = re.compile(r"^\s*(?:```|~~~)", re.MULTILINE)


def prose(text: str) -> str:
    """Text without placeholders, whitespace collapsed: what language/length checks see."""
    return " ".join(PLACEHOLDER_RE.sub(" ", text).split())


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
    ``mixed_script`` (Han inside Russian, Cyrillic inside Chinese, …); ``special_tokens``,
    ``placeholder``, ``refusal`` and ``truncated`` (:mod:`ultralink.quality.signals`) when
    the source shows no such thing.
    """

    language: str
    cfg: TranslationConfig
    langid: Any  # LanguageCheck-like: score(text, language) -> float
    patterns: tuple[re.Pattern[str], ...] = ()         # target preambles/notes (+ English)
    source_patterns: tuple[re.Pattern[str], ...] = ()  # the same in English: in the source
    refusals: tuple[re.Pattern[str], ...] = ()         # target refusals/boilerplate (+ English)
    source_refusals: tuple[re.Pattern[str], ...] = ()  # English ones, looked for in the source

    @classmethod
    def for_language(cls, language: str, cfg: TranslationConfig, langid: Any,
                     prompts_dir: str | Path | None = None) -> Validator:
        mine = TranslationPrompt.load(language, prompts_dir)
        en = TranslationPrompt.load("en", prompts_dir)
        own, english = mine.preamble_patterns, en.preamble_patterns if language != "en" else ()
        return cls(language, cfg, langid, checks.compile_patterns((*own, *english)),
                   checks.compile_patterns(english or own),
                   checks.compile_patterns((*mine.refusal_patterns, *en.refusal_patterns)),
                   checks.compile_patterns(en.refusal_patterns))

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
        # what the source does not have must not appear: it came from the model
        introduced = (
            ("preamble", lambda t: checks.first_match(self.patterns, t),
             lambda t: checks.first_match(self.source_patterns, t)),
            ("special_tokens", signals.special_token, signals.special_token),
            ("placeholder", signals.placeholder, signals.placeholder),
            ("refusal", lambda t: checks.first_match(self.refusals, t),
             lambda t: checks.first_match(self.source_refusals, t)))
        for reason, in_output, in_source in introduced:
            hit = in_output(output)
            if hit and not in_source(source):
                return reason, hit[:60]
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
        drift = self._sentences(source, output)
        if drift:
            return "sentences", drift
        cut = signals.truncated(output)
        if cut and not signals.truncated(source):
            return "truncated", cut
        stray = checks.stray_script(output, self.language)
        if stray and not checks.stray_script(source, self.language):
            return "mixed_script", stray[:20]
        min_chars = self.cfg.langid_min_chars if langid_min_chars is None else langid_min_chars
        if len(src) >= min_chars and self.language != "en":
            score = self.langid.score(out, self.language)
            if score < self.cfg.langid_threshold and \
                    not checks.written_in_own_script(out, self.language):
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

    def _sentences(self, source: str, output: str) -> str | None:
        """A sentence dropped or added: a translation keeps the source's sentences (Chinese
        may merge them, so there only two or more added count)."""
        a, b = (signals.sentence_count(PLACEHOLDER_RE.sub("", t)) for t in (source, output))
        if a == b or not a:
            return None
        if get_language(self.language).merges_sentences and b - a < 2:
            return None
        return f"{a} sentences in the source, {b} in the translation"

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
