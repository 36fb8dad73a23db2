"""The two fuzzy nets of decontamination, beside the exact n-grams of :mod:`.index`.

- **Numbers** (math): a problem's numbers survive translation and rewording (the translator
  protects them), so an evaluation problem's question numbers plus its final answer are a
  signature in every language. A record matches when one of its user turns holds every
  question number (as a multiset, with few others beside them) and an assistant turn holds the
  answer. Numbers are compared as their digits only ("1,000", "1 000" and "1.000" are one
  number; "3.5" and "3,5" too), so the locale's separators do not matter.
- **Examples** (code): a task's worked examples (``>>> f("beautiful")`` / ``3``) keep their
  literals when the function is renamed, the docstring reworded or translated: a record
  holding most of one task's string, list and number literals (two at least), or four of
  them, copies it.
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

from ultralink.quality.signals import outside_code
from ultralink.text.ngrams import is_cjk, tokens, window_hashes

# digits with the grouping/decimal separators of any locale (a space only before 3 digits)
_NUMBER = re.compile(r"\d+(?:[.,]\d+|[ \u00a0\u202f]\d{3}(?!\d))*")
_ANSWER_MARK = re.compile(r"####\s*(.+)$|\\boxed\{([^{}]*)\}|answer is:?\s*\$?(-?[\d.,]+)",
                          re.IGNORECASE | re.MULTILINE)
WORD_SHINGLE = 3
CHAR_SHINGLE = 4
MIN_SHINGLES = 8          # shorter texts are left to the exact net
COMMON_SHINGLE = 64       # a shingle in more evaluation rows than this is stock phrasing


# Small numbers a rewording spells out where the evaluation set wrote digits (read on the
# record's side only: an evaluation row's spelled numbers are not in its signature, so its
# translations, which spell them their own way, still match). "one"/"un"/"uno" are left out:
# they are mostly not numbers.
_WORDS = {w: str(n) for n, words in {
    2: "two deux dos", 3: "three trois tres", 4: "four quatre cuatro",
    5: "five cinq cinco", 6: "six seis", 7: "seven sept siete", 8: "eight huit ocho",
    9: "nine neuf nueve", 10: "ten dix diez", 11: "eleven onze once", 12: "twelve douze doce "
    "dozen douzaine docena", 20: "twenty vingt veinte", 30: "thirty trente treinta",
    40: "forty quarante cuarenta", 50: "fifty cinquante cincuenta", 100: "hundred cent cien"}.items()
    for w in words.split()}
_WORD = re.compile(r"\b(" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")\b",
                   re.IGNORECASE)


def numbers(text: str) -> list[str]:
    """The numbers of ``text`` as digit strings without separators or leading zeros."""
    out = []
    for m in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", m.group()).lstrip("0") or "0"
        out.append(digits)
    return out


def stated_numbers(text: str) -> Counter[str]:
    """The numbers a record states, read generously: its digits, the small numbers it spells
    out, and each decimal also without trailing zeros ("13.80" is also 13.8, "9.00" also 9)."""
    found = Counter(numbers(text))
    for m in _NUMBER.finditer(text):
        tail = re.search(r"[.,](\d+)$", m.group())
        if tail and tail.group(1).endswith("0"):
            whole = re.sub(r"\D", "", m.group()[:tail.start()]).lstrip("0") or "0"
            short = (whole + tail.group(1).rstrip("0")).lstrip("0") or "0"
            found[short] += 1
    for m in _WORD.finditer(text):
        found[_WORDS[m.group(1).lower()]] += 1
    return found


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
        final: set[str] = set()   # each assistant turn's last two numbers: its conclusion
        for role, text in messages:
            if role == "assistant":
                prose = outside_code(text)   # code's numbers are not a problem's answer
                answered.update(stated_numbers(prose))
                final.update(numbers(prose)[-2:])
        if not answered:
            return None
        for role, text in messages:
            if role == "assistant":
                continue
            have, size = stated_numbers(text), len(numbers(text))
            for n in have:
                for k in self.by_number.get(n, ()):
                    q = self.questions[k]
                    # two question numbers are common, and an answer that is one of them
                    # is stated on the way anyway: then it must be the conclusion
                    weak = len(q) < 3 or self.answers[k] in q
                    said = final if weak else answered
                    if (self.answers[k] in said and not q - have
                            and size <= 2 * sum(q.values()) + 2):
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

    def matches(self, text: str) -> list[tuple[int, float]]:
        """The evaluation rows at least ``min_containment`` contained in ``text``, with
        their shares, most contained first."""
        if not len(self.hashes):
            return []
        q = shingles(text)
        if not len(q):
            return []
        lo = np.searchsorted(self.hashes, q, "left")
        hi = np.searchsorted(self.hashes, q, "right")
        hit = np.nonzero(hi > lo)[0]
        if not len(hit):
            return []
        owners = np.concatenate([self.owner[lo[i]:hi[i]] for i in hit])
        texts, shared = np.unique(owners, return_counts=True)
        share = shared / np.array([self.sizes[int(t)] for t in texts])
        keep = np.nonzero(share >= self.min_containment)[0]
        keep = keep[np.argsort(-share[keep], kind="stable")]
        return [(self.text_row[int(texts[i])], float(share[i])) for i in keep]


# string literals (their content) and one-level list/tuple literals (without spaces)
_STRING = re.compile(r"'([^'\n]{2,80})'|\"([^\"\n]{2,80})\"")
_SEQUENCE = re.compile(r"[\[(]([^\[\]()\n]{1,80},[^\[\]()\n]{0,80})[\])]")
COMMON_LITERAL = 3        # a literal in more evaluation tasks than this says nothing


_ELEMENT = re.compile(r"-?\d+(?:\.\d+)?|'[^']*'|\"[^\"]*\"|True|False|None")


_NUMERIC = re.compile(r"(?<![\w.,])-?(?:\d+\.\d+|\d{2,})(?![\w.]|,\d)")


def literals(text: str) -> set[str]:
    """The string, sequence and number literals of ``text``, normalised (``[1, 3]`` is
    ``[1,3]``): a sequence only of literal values (not ``(l: list, t: int)``), a number
    with two digits or a decimal point (``3.5``, ``46``; not ``3``, nor a price's
    "1,20")."""
    found = {a or b for a, b in _STRING.findall(text)} | set(_NUMERIC.findall(text))
    for m in _SEQUENCE.findall(text):
        parts = [p.strip() for p in m.split(",")]
        if all(_ELEMENT.fullmatch(p) for p in parts if p):
            found.add("[" + ",".join(parts) + "]")
    return found


@dataclass
class ExampleIndex:
    """Code tasks by the literals of their examples (the prompt's docstring)."""

    rows: list[int] = field(default_factory=list)
    items: list[frozenset[str]] = field(default_factory=list)
    by_item: dict[str, list[int]] = field(default_factory=dict)

    def add(self, row: int, prompt: str) -> None:
        """Index one task whose prompt is code with examples (two literals at least)."""
        if "def " not in prompt and ">>>" not in prompt:
            return
        found = frozenset(literals(prompt))
        if len(found) < 2:
            return
        k = len(self.rows)
        self.rows.append(row)
        self.items.append(found)
        for item in found:
            self.by_item.setdefault(item, []).append(k)

    def freeze(self) -> None:
        """Forget literals shared by many tasks (``"abc"``, ``[1,2,3]``)."""
        common = {i for i, ks in self.by_item.items() if len(ks) > COMMON_LITERAL}
        self.items = [frozenset(s - common) for s in self.items]
        self.by_item = {i: ks for i, ks in self.by_item.items() if i not in common}

    def match(self, messages: Sequence[tuple[str, str]]) -> int | None:
        """The task most of whose example literals (two at least), or four of them, a record
        holds, or None."""
        if not self.rows:
            return None
        have = literals("\n".join(text for _role, text in messages))
        hits: Counter[int] = Counter(k for item in have for k in self.by_item.get(item, ()))
        for k, n in hits.most_common():
            if n >= 4 or (n >= 2 and 2 * n >= len(self.items[k])):
                return self.rows[k]
        return None
