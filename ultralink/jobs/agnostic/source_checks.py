"""Per-record checks of the English SFT sources, in the scan, before the judge or the translator
spends a token: a conversation that is not English (ShareGPT holds many) or whose assistant
refuses or speaks as "an AI language model" is dropped with its reason counted, in every
language alike (each language's scan sees the same English record). Empty and tool-role
turns are the reader's (``sources.sft_normalise``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ultralink.quality.signals import outside_code, prose_of

# code, LaTeX (quality.signals.prose_of) and quoted text ("translate 'Wenn ich Zeit hätte'")
# say nothing about the language the user writes in
_QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”|«[^»\n]*»|„[^“\n]*“|(?<!\w)'[^'\n]*'(?!\w)")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
MIN_LETTERS = 15          # fewer letters of prose than this: too little to tell the language
MIN_SCRIPT = 4            # letters enough to tell a non-Latin script (감사합니다)
MIN_CONFIDENCE = 0.6      # lid.176 probability of a non-English label needed to drop
SAMPLE_CHARS = 2000       # the users' prose read for the language (the start is enough)


@dataclass
class SourceChecks:
    """The checks of one scan: the English prompt file's refusal patterns and a language
    identifier (loaded on first use, in the worker)."""

    refusal_patterns: tuple[str, ...]
    language: Any = None                 # text.langid.LanguageIdentifier
    _refusals: tuple[re.Pattern[str], ...] = field(default=(), repr=False)

    @classmethod
    def load(cls, prompts_dir: str | None) -> SourceChecks:
        from ultralink.agnostic.translation_prompt import TranslationPrompt
        from ultralink.text.langid import LanguageIdentifier

        return cls(TranslationPrompt.load("en", prompts_dir).refusal_patterns,
                   LanguageIdentifier())

    def reason(self, messages: Sequence[Any]) -> str:
        """The drop reason (``refusal``, ``not_english``) for one conversation, or ""."""
        if not self._refusals and self.refusal_patterns:
            from ultralink.quality.checks import compile_patterns

            self._refusals = compile_patterns(self.refusal_patterns)
        for t in messages:
            if t.role == "assistant" and any(rx.search(outside_code(t.content))
                                             for rx in self._refusals):
                return "refusal"
        prose = _QUOTED.sub(" ", prose_of("\n".join(t.content for t in messages
                                                     if t.role == "user")))[:SAMPLE_CHARS]
        letters = _LETTER.findall(prose)
        latin = sum(1 for c in letters if _LATIN.match(c))
        if len(letters) - latin >= max(MIN_SCRIPT, latin):   # mostly another script
            return "not_english"
        if self.language is None or len(letters) < MIN_LETTERS:
            return ""
        top = self.language.predict(prose)
        if top and top[0][0] != "en" and top[0][1] >= MIN_CONFIDENCE:
            return "not_english"
        return ""
