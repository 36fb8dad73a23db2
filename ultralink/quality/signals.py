"""Checks from structure, not memorised phrases: leaked control tokens, cut-off text,
placeholders, copying from a passage, answers a question already states, sentence counts.

A model family's control tokens share a few shapes (``<|…|>``, ``<…_of_turn>``, ``[INST]``,
``</s>``), so one pattern per shape catches models we never listed. A reply cut at
``max_tokens`` leaves a mark in any language: no sentence-final sign, an open fence, bracket,
quote or formula, a list item or equation left open. Code, inline code and formulas are set
aside first: a tutorial may legitimately show ``</s>`` or an unfinished ``x = (``.

Nothing here names a language; refusal phrasings, which do, live in ``prompts/<lang>.yaml``
(``quality.refusal_patterns``, read by the prompt loaders).
"""

from __future__ import annotations

import re
from functools import lru_cache

from ultralink.quality.checks import is_unspaced, sentences

# -- control tokens ---------------------------------------------------------------------------
SPECIAL_TOKEN = re.compile(
    r"<\|[A-Za-z0-9_:.\- ]{1,40}\|>"                       # ChatML, Llama 3, Phi: <|im_end|>
    r"|<｜[^｜<>\n]{1,40}｜>"                                 # DeepSeek: <｜end▁of▁sentence｜>
    r"|</?(?:start|end)_of_(?:turn|text)>"                  # Gemma
    r"|\[/?INST\]|<</?SYS>>"                                # Llama 2, Mistral
    r"|</?s>(?!\w)|<(?:bos|eos|pad|unk|sep|cls|mask|eot)>"  # sentencepiece / BERT family
    r"|\[(?:CLS|SEP|PAD|MASK|UNK)\]"
    r"|<\|?(?:im_start|im_end|endoftext|eot_id|begin_of_text|end_of_text|start_header_id|"
    r"end_header_id|assistant|user|system)\|?>"
    r"|^(?:<\|)?(?:user|assistant|model)(?:\|>)?\n",        # a role header left on its own line
    re.MULTILINE)

_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL)


def outside_code(text: str) -> str:
    """``text`` without fenced or inline code (a tutorial may show tokens or tags)."""
    return _CODE.sub(" ", text)


def prose_of(text: str) -> str:
    """``text`` without code and LaTeX: its prose (what sentences and languages are read on)."""
    return _MATH.sub(" ", outside_code(text))


def special_token(text: str) -> str | None:
    """The first control token of any common chat template outside code, or ``None``."""
    m = SPECIAL_TOKEN.search(outside_code(text))
    return m.group(0).strip() if m else None


# -- truncation -------------------------------------------------------------------------------
# Signs a complete sentence, list item or block may end with, in the supported scripts.
_FINAL = set(".!?。！？…;；)]}）】」』》〉\"'”’»›`*_~|>⟧") | {"\u061f", "\u0964", "\u3002"}
_OPEN_CLOSE = (("(", ")"), ("[", "]"), ("{", "}"), ("（", "）"), ("«", "»"), ("“", "”"),
               ("「", "」"), ("『", "』"), ("《", "》"), ("【", "】"))
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)、]|[-*•+])\s+")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_DANGLING = re.compile(r"(?:[=+\-−×÷/≤≥≈,，、:：(\[{]|^\s*\d{1,3}[.)])\s*$")
_ANSWER_LINE = re.compile(r"^\s*(?:####|\\boxed)")


def truncated(text: str) -> str | None:
    """Why ``text`` looks cut off (a fence, bracket, quote or formula left open; a last line
    that ends mid-sentence or mid-equation), or ``None``."""
    body = text.rstrip()
    if not body:
        return None
    if body.count("```") % 2:
        return "unclosed code fence"
    prose = prose_of(body)
    if prose.count("$") % 2:
        return "unclosed formula"
    for opener, closer in _OPEN_CLOSE:
        if prose.count(opener) > prose.count(closer):
            return f"unclosed {opener}"
    if body.endswith("```"):
        return None
    last = body.splitlines()[-1]
    if _TABLE_ROW.match(last) or _HEADING.match(last) or _ANSWER_LINE.match(last):
        return None
    if _DANGLING.search(last):
        return f"ends with {last.strip()[-12:]!r}"
    end = last.rstrip()[-1]
    if end in _FINAL:
        return None
    if end.isdigit() and not _LIST_ITEM.match(last):
        return None  # "… = 150", a year, a figure: complete
    if _LIST_ITEM.match(last):
        items = [ln.rstrip() for ln in body.splitlines()[:-1] if _LIST_ITEM.match(ln)]
        if items and not any(ln[-1:] in _FINAL for ln in items):
            return None  # a list of bare items
    return f"ends mid-sentence: {last.strip()[-24:]!r}"


# -- placeholders -----------------------------------------------------------------------------
PLACEHOLDER_TEXT = re.compile(
    r"\[(?:insert|your|add|placeholder|todo|tbd|answer|question|response|name|text)\b[^\]\n]{0,40}\]"
    r"|<(?:insert|answer|response|question|placeholder)[^>\n]{0,30}>"
    r"|\{\{[^{}\n]{1,40}\}\}|\blorem ipsum\b|(?<![\w-])(?:TODO|TBD|FIXME|XXX)(?![\w-])",
    re.IGNORECASE)
_CASE_SENSITIVE = ("TODO", "TBD", "FIXME", "XXX")  # "todo" is a Spanish word


def placeholder(text: str) -> str | None:
    """Template text left in place of content (``[INSERT ANSWER HERE]``, ``TODO``, lorem
    ipsum, a bare ``...``), outside code; or ``None``."""
    stripped = text.strip()
    if stripped in ("...", "…", "<answer>", "N/A"):
        return stripped
    for m in PLACEHOLDER_TEXT.finditer(outside_code(text)):
        word = m.group(0)
        if word.upper() in _CASE_SENSITIVE and word not in _CASE_SENSITIVE:
            continue
        return word
    return None


# -- grounding --------------------------------------------------------------------------------
_WORDS = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    """Words, or single characters for unspaced scripts (Chinese)."""
    if is_unspaced(text):
        return [c for c in text if c.isalnum()]
    return [w.casefold() for w in _WORDS.findall(text)]


@lru_cache(maxsize=64)
def _grams(passage: str, n: int) -> frozenset[tuple[str, ...]]:
    """The passage's ``n``-grams, once per passage (every answer of a dialogue asks)."""
    p = _tokens(passage)
    return frozenset(tuple(p[i:i + n]) for i in range(len(p) - n + 1))


def copied_run(answer: str, passage: str, n: int) -> int:
    """The longest run of ``answer``'s tokens found word for word in ``passage``, if it is at
    least ``n`` tokens (0 otherwise): an answer that pastes the passage teaches copying."""
    a = _tokens(answer)
    grams = _grams(passage, n)
    if len(a) < n or not grams:
        return 0
    best = run = 0
    i = 0
    while i <= len(a) - n:
        if tuple(a[i:i + n]) in grams:
            run = n
            while i + run < len(a) and tuple(a[i + run - n + 1:i + run + 1]) in grams:
                run += 1
            best = max(best, run)
            i += run - n + 1
        else:
            i += 1
    return best


def _content(text: str) -> set[str]:
    """Content-word stems (words over three letters, cut to five) or, for Chinese, character
    bigrams: a crude but language-blind unit of "what is said"."""
    if is_unspaced(text):
        chars = [c for c in text if c.isalnum()]
        return {a + b for a, b in zip(chars, chars[1:])}
    return {w.casefold()[:5] for w in _WORDS.findall(text) if len(w) > 3}


def answer_in_question(question: str, answer: str, min_terms: int = 5) -> float:
    """Share of ``answer``'s content found already in ``question``: a question that states
    its own answer teaches nothing."""
    said = _content(answer)
    if len(said) < min_terms:
        return 0.0
    return len(said & _content(question)) / len(said)


_LETTER = re.compile(r"[^\W\d_]")
def sentence_count(text: str) -> int:
    """Sentences and lines with two letters or more (code and formulas set aside; a bare
    list number or figure is no sentence)."""
    body = prose_of(text)
    return sum(1 for s in sentences(body) if len(_LETTER.findall(s)) >= 2)
