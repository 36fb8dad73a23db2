"""Sentences as char spans with exact token counts: what both the length filter and the
segmenter walk.

A document is split into sentences and each sentence encoded once; the document-length filter
computes these units and the segmenter reuses them (``Document.sentences``), so no text is
tokenized twice. Each unit also carries how good a cut right after it is (its rank).
"""

from __future__ import annotations

from dataclasses import dataclass

import tiktoken

from ultralink.core.languages import get_language
from ultralink.text.sentences import _ends_with, iter_sentence_ends

# How good a cut right after a unit is; higher wins inside the [min, max] window. CUT_LINE is
# a single line break or any other splitter boundary without a sentence end.
CUT_MID_SENTENCE, CUT_LINE, CUT_PARAGRAPH, CUT_SENTENCE, CUT_PARAGRAPH_SENTENCE = range(5)


@dataclass(slots=True)
class SentenceUnit:
    """A sentence (or part of a cut one) as the walk sees it: a char span and its token estimate."""

    start: int
    end: int
    n: int
    rank: int
    tokens: list[int] | None = None    # set once a long sentence has been encoded for cutting
    offsets: list[int] | None = None   # absolute char offset of each of ``tokens``
    first: int = 0                     # this unit's first index into tokens/offsets


def sentence_units(text: str, language: str, tokenizer: tiktoken.Encoding,
                   stop_above: int | None = None) -> list[SentenceUnit]:
    """Sentences as char spans with exact token counts, each tokenized once.

    Each keeps the whitespace before it (newlines stay behind), so the counts add up to the
    document's own count: the document-length filter computes these once and the segmenter
    reuses them. With ``stop_above``, splitting stops once the counts add up to more than
    it (a document too long to keep is not split to its end): the units are then a prefix.
    """
    if not text.strip():
        return []
    lang = get_language(language)
    finals = lang.sentence_ends
    encode = tokenizer.encode_ordinary
    size = len(text)
    total = 0
    limit = -1 if stop_above is None else stop_above
    units: list[SentenceUnit] = []
    start = pos = 0
    for end in iter_sentence_ends(text, lang):
        piece = text[pos:end]
        body = piece.rstrip()
        b = len(body)
        if end == size:   # the last end is always len(text)
            cut = end
            paragraph = True
        else:
            nl = piece.rfind("\n", b)
            cut = pos + (nl + 1 if nl >= 0 else b)
            paragraph = piece.count("\n", b) >= 2
        if paragraph:
            rank = CUT_PARAGRAPH_SENTENCE if _ends_with(body, finals) else CUT_PARAGRAPH
        else:
            rank = CUT_SENTENCE if _ends_with(body, finals) else CUT_LINE
        if cut > start:
            n = len(encode(text[start:cut]))
            units.append(SentenceUnit(start, cut, n, rank))
            start = cut
            total += n
            if total > limit >= 0:
                break
        pos = end
    return units
