"""The two fuzzy nets of decontamination, beside the exact n-grams of :mod:`.index`.

- **Numbers** (math): a problem's numbers survive translation and rewording (the translator
  protects them), so an evaluation problem's question numbers plus its final answer are a
  signature in every language. A record matches when one of its user turns holds every
  question number (as a multiset, with few others beside them) and an assistant turn holds the
  answer. Numbers are compared as their digits only ("1,000", "1 000" and "1.000" are one
  number; "3.5" and "3,5" too), so the locale's separators do not matter.
- **Shingles** (any text): the share of an evaluation text's word 3-grams (character 4-grams
  for CJK/Thai) found in one message. Exact containment over an index of the sets, not
  MinHash: the sets are small (GSM8K test is 1.3K rows), so an approximation buys nothing.
  It survives a few changed words, where one changed word in every 13 breaks the exact net.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ultralink.text.ngrams import is_cjk, tokens, window_hashes

# digits with the grouping/decimal separators of any locale (a space only before 3 digits)
_NUMBER = re.compile(r"\d+(?:[.,]\d+|[ \u00a0\u202f]\d{3}(?!\d))*")
_ANSWER_MARK = re.compile(r"####\s*(.+)$|\\boxed\{([^{}]*)\}|answer is:?\s*\$?(-?[\d.,]+)",
                          re.IGNORECASE | re.MULTILINE)
WORD_SHINGLE = 3
CHAR_SHINGLE = 4
MIN_SHINGLES = 8          # shorter texts are left to the exact net
COMMON_SHINGLE = 64       # a shingle in more evaluation rows than this is stock phrasing


def numbers(text: str) -> list[str]:
    """The numbers of ``text`` as digit strings without separators or leading zeros."""
    out = []
    for m in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", m.group()).lstrip("0") or "0"
        out.append(digits)
    return out


def final_answer(text: str) -> str | None:
    """The final numeric answer a solution states (GSM8K's ``#### 18``, MATH's
    ``\\boxed{18}``, MetaMath's "The answer is: 18", or a bare number), or None."""
    found = [next(g for g in m.groups() if g is not None) for m in _ANSWER_MARK.finditer(text)]
    candidate = found[-1] if found else text.strip()
    nums = numbers(candidate)
    if len(nums) != 1 or len(candidate) > 24:
        return None
    return nums[0]


@dataclass
class NumberIndex:
    """Evaluation problems by their numbers: question multiset + final answer."""

    min_numbers: int = 3
    rows: list[int] = field(default_factory=list)
    questions: list[Counter[str]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    by_number: dict[str, list[int]] = field(default_factory=dict)

    def add(self, row: int, question: str, answer: str | None) -> None:
        """Index one problem when its signature is strong enough to be evidence."""
        if answer is None:
            return
        q = Counter(numbers(question))
        if len(set(q) | {answer}) < self.min_numbers or sum(map(len, q)) + len(answer) < 4:
            return
        k = len(self.rows)
        self.rows.append(row)
        self.questions.append(q)
        self.answers.append(answer)
        anchor = max(q, key=lambda n: (len(n), n))   # the rarest-looking number
        self.by_number.setdefault(anchor, []).append(k)

    def match(self, messages: Sequence[tuple[str, str]]) -> int | None:
        """The evaluation row whose problem a user turn states and an assistant turn
        answers, or None."""
        if not self.rows:
            return None
        answered: set[str] = set()
        for role, text in messages:
            if role == "assistant":
                answered.update(numbers(text))
        if not answered:
            return None
        for role, text in messages:
            if role == "assistant":
                continue
            have = Counter(numbers(text))
            for n in have:
                for k in self.by_number.get(n, ()):
                    q = self.questions[k]
                    if (self.answers[k] in answered and not q - have
                            and sum(have.values()) <= 2 * sum(q.values()) + 2):
                        return self.rows[k]
        return None


def shingles(text: str) -> np.ndarray:
    """Unique shingle hashes of ``text`` (word 3-grams; character 4-grams for CJK/Thai)."""
    toks = tokens(text)
    n = CHAR_SHINGLE if is_cjk(toks) else WORD_SHINGLE
    if len(toks) < n:
        return np.zeros(0, np.uint64)
    return np.unique(window_hashes(toks, n))


@dataclass
class ShingleIndex:
    """(shingle, text) pairs sorted by shingle, each evaluation text (a row's question, its
    solution, …) on its own; a row matches a message holding at least ``min_containment`` of
    one of its texts' shingles."""

    min_containment: float = 0.5
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    text_row: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    _chunks: list[tuple[np.ndarray, int]] = field(default_factory=list)

    def add(self, row: int, text: str) -> None:
        h = shingles(text)
        if len(h) >= MIN_SHINGLES:
            self._chunks.append((h, len(self.text_row)))
            self.text_row.append(row)
            self.sizes.append(len(h))

    def freeze(self) -> None:
        """Sort the pairs; drop shingles shared by too many rows (stock phrasing)."""
        if not self._chunks:
            return
        h = np.concatenate([c for c, _ in self._chunks])
        o = np.concatenate([np.full(len(c), r, np.uint32) for c, r in self._chunks])
        order = np.lexsort((o, h))
        h, o = h[order], o[order]
        keep = np.r_[True, (h[1:] != h[:-1]) | (o[1:] != o[:-1])]
        h, o = h[keep], o[keep]
        starts = np.r_[0, np.nonzero(h[1:] != h[:-1])[0] + 1]
        counts = np.diff(np.r_[starts, len(h)])
        common = np.repeat(counts > COMMON_SHINGLE, counts)
        self.hashes, self.owner = h[~common], o[~common]
        self._chunks = []

    def match(self, text: str) -> tuple[int, float] | None:
        """The evaluation row most contained in ``text`` (with its share), or None."""
        if not len(self.hashes):
            return None
        q = shingles(text)
        if not len(q):
            return None
        lo = np.searchsorted(self.hashes, q, "left")
        hi = np.searchsorted(self.hashes, q, "right")
        hit = np.nonzero(hi > lo)[0]
        if not len(hit):
            return None
        owners = np.concatenate([self.owner[lo[i]:hi[i]] for i in hit])
        texts, shared = np.unique(owners, return_counts=True)
        share = shared / np.array([self.sizes[int(t)] for t in texts])
        best = int(np.argmax(share))
        if share[best] < self.min_containment:
            return None
        return self.text_row[int(texts[best])], float(share[best])
