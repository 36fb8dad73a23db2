"""Language-neutral text checks for what strong instruct models get wrong.

Each check is a small pure function the dialogue validator (:mod:`ultralink.specific.validate`)
and the translation validator (:mod:`ultralink.agnostic.translation_checks`) both call, so a stage and
``ultralink validate`` reject the same text for the same named reason. Word lists and patterns
live in ``prompts/<lang>.yaml``; nothing here names a language except the script table.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

# Scripts that must not appear inside prose of a language (stray words of another script are
# the typical failure of Qwen-family models: Chinese words inside a Russian answer).
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
CYRILLIC = re.compile(r"[\u0400-\u04ff]+")
KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]+")
FOREIGN_SCRIPTS: dict[str, tuple[re.Pattern[str], ...]] = {
    "en": (HAN, CYRILLIC, KANA_HANGUL),
    "ru": (HAN, KANA_HANGUL),
    "fr": (HAN, CYRILLIC, KANA_HANGUL),
    "es": (HAN, CYRILLIC, KANA_HANGUL),
    "de": (HAN, CYRILLIC, KANA_HANGUL),
    "zh": (CYRILLIC, KANA_HANGUL),
}
# Where another script is legitimate: code, formulas, URLs, and a name or term given in its
# own script inside brackets or quotes ("понятие «дао» (道)").
_EXEMPT = re.compile(
    r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|\\\(.*?\\\)|\\\[.*?\\\]|https?://\S+"
    r"|\([^()\n]{0,40}\)|（[^（）\n]{0,40}）|«[^«»\n]{0,40}»|“[^“”\n]{0,40}”|\"[^\"\n]{0,40}\""
    r"|「[^「」\n]{0,40}」|《[^《》\n]{0,40}》|‘[^‘’\n]{0,40}’",
    re.DOTALL)
_LATIN_RUN = re.compile(r"(?:\b[A-Za-z][A-Za-z'’-]*[ ,;:]+){5,}[A-Za-z][A-Za-z'’-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_LETTERS = re.compile(r"[^\W\d_]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_LIST_ITEM = re.compile(r"(?m)^\s*(?:\d{1,2}[.)]|[-*•])\s+\S")


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """Case-insensitive, multi-line regexes from a prompt file list."""
    return tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in patterns)


def first_match(patterns: Iterable[re.Pattern[str]], text: str) -> str | None:
    """The text of the first pattern hit (for the verdict's detail), or ``None``."""
    for rx in patterns:
        m = rx.search(text)
        if m:
            return m.group(0)
    return None


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def is_unspaced(text: str) -> bool:
    return len(_CJK.findall(text)) > len(text) / 4


def sentences(text: str) -> list[str]:
    """Sentences and lines of ``text`` (a rough split that is enough for repetition checks)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def repeated_sentence(text: str, min_chars: int = 25) -> str | None:
    """A sentence of at least ``min_chars`` that occurs more than once (degenerate looping)."""
    counts = Counter(normalize(s) for s in sentences(prose_only(text))
                     if len(s) >= (min_chars // 3 if is_unspaced(s) else min_chars)
                     and not s.startswith("|") and len(_LETTERS.findall(s)) >= len(s) / 2)
    for sentence, n in counts.most_common(1):
        if n > 1:
            return sentence
    return None


def shingle_list(text: str, n_words: int = 4, n_chars: int = 6) -> list[str]:
    norm = normalize(text)
    if is_unspaced(norm):
        chars = "".join(ch for ch in norm if not ch.isspace())
        return [chars[i:i + n_chars] for i in range(max(0, len(chars) - n_chars + 1))]
    words = _WORD.findall(norm)
    return [" ".join(words[i:i + n_words]) for i in range(max(0, len(words) - n_words + 1))]


def repetition(text: str, min_shingles: int = 40, max_repeat_share: float = 0.3) -> str | None:
    """``None`` unless the message loops: a long sentence said twice, or a large share of its
    word 4-grams (character 6-grams for Chinese) occurring more than once."""
    sentence = repeated_sentence(text)
    if sentence:
        return f"sentence repeated: {sentence[:60]}"
    grams = shingle_list(text)
    if len(grams) < min_shingles:
        return None
    counts = Counter(grams)
    repeated = sum(n for n in counts.values() if n > 2)
    share = repeated / len(grams)
    return f"{share:.0%} of the text repeats" if share > max_repeat_share else None


def similarity(a: str, b: str) -> float:
    """Near-duplicate score of two short texts: the larger of the character-level ratio and
    the word-bigram Jaccard (one catches reworded endings, the other reordered clauses)."""
    na, nb = normalize(a), normalize(b)
    ratio = difflib.SequenceMatcher(None, na, nb, autojunk=False).ratio()
    sa, sb = set(shingle_list(na, 2, 3)), set(shingle_list(nb, 2, 3))
    jaccard = len(sa & sb) / len(sa | sb) if sa and sb else 0.0
    return max(ratio, jaccard)


def near_duplicate(text: str, others: Iterable[str], threshold: float = 0.72) -> str | None:
    """The earlier text ``text`` nearly repeats, or ``None``."""
    for other in others:
        if other and similarity(text, other) >= threshold:
            return other
    return None


def question_count(text: str, marks: tuple[str, ...]) -> int:
    """Question marks that end a question (``?!`` and ``??`` count once), plus list items in
    a text that asks anything: a numbered list of questions is several questions."""
    body = _EXEMPT.sub(" ", text)
    ends = re.findall("(?:" + "|".join(re.escape(m) for m in marks) + ")+", body)
    return max(len(ends), len(_LIST_ITEM.findall(body)) if ends else 0)


def prose_only(text: str) -> str:
    """``text`` without code, formulas, URLs and short bracketed/quoted names."""
    return _EXEMPT.sub(" ", text)


def written_in_own_script(text: str, language: str, share: float = 0.6) -> bool:
    """Most letters of ``text``'s prose are of ``language``'s own script (its
    ``Language.own_script``; no kana or hangul); ``False`` for languages that share theirs."""
    from ultralink.core.languages import LANGUAGES

    lang = LANGUAGES.get(language)
    body = prose_only(text)
    if lang is None or lang.own_script is None or KANA_HANGUL.search(body):
        return False
    letters = len(_LETTERS.findall(body))
    own = sum(len(m) for m in re.findall(lang.own_script + "+", body))
    return letters > 0 and own / letters >= share


def stray_script(text: str, language: str, max_run: int = 0) -> str | None:
    """Characters of a script foreign to ``language`` outside code, formulas, and
    bracketed or quoted names; returns the first stray run."""
    body = prose_only(text)
    for rx in FOREIGN_SCRIPTS.get(language, ()):
        for m in rx.finditer(body):
            if len(m.group(0)) > max_run:
                return m.group(0)
    return None


def english_run(text: str, language: str) -> str | None:
    """Six or more Latin-script words in a row inside zh/ru prose: a sentence left in English
    (names and acronyms are one or two words; code and quotes are set aside first)."""
    if language not in ("zh", "ru"):
        return None
    m = _LATIN_RUN.search(prose_only(text))
    return m.group(0) if m else None


@lru_cache(maxsize=8)
def _num2words_lang(language: str) -> str | None:
    try:
        from num2words import CONVERTER_CLASSES
    except ImportError:  # optional at run time: numbers must then match as digits
        return None
    return language if language in CONVERTER_CLASSES else None


def number_words(n: int, language: str) -> list[str]:
    """How ``n`` may be written as words in ``language`` (cn2an for Chinese, num2words
    elsewhere); Russian forms are matched by stem because numerals decline."""
    if n > 10_000:
        return []
    if language == "zh":
        try:
            import cn2an
        except ImportError:
            return []
        out = [cn2an.an2cn(n, "low")]
        if n == 2:
            out.append("两")
        if 10 <= n < 20:
            out.append(out[0].removeprefix("一"))
        return out
    lang = _num2words_lang(language)
    if lang is None:
        return []
    from num2words import num2words

    words = [num2words(n, lang=lang)]
    if language in ("fr", "es") and n == 1:
        words.append({"fr": "une", "es": "una"}[language])
    if language == "es" and words[0].endswith("uno"):
        words += [words[0][:-1], words[0][:-3] + "ún", words[0][:-1] + "a"]  # veintiún, -una
    if language == "ru":
        w = words[0]
        words = [w[:-1] if len(w) > 3 and " " not in w else w]
        if n in (1, 2):
            words += {1: ["одн"], 2: ["дв"]}[n]
        if n == 3:
            words.append("трёх")
        if n == 4:
            words.append("четырёх")
    return words


def spelled(n: int, language: str, text: str) -> bool:
    """``n`` appears in ``text`` written as words of ``language``."""
    low = normalize(text)
    for w in number_words(n, language):
        if not w:
            continue
        if is_unspaced(w):
            if w in low:
                return True
        elif re.search(r"(?<!\w)" + re.escape(w.lower()), low):
            return True
    return False
