"""The evaluation-set index of decontamination: each set's text fields read once on the
driver into a sorted array of n-gram hashes (13 words, or 13 characters for CJK/Thai text,
:mod:`ultralink.text.ngrams`), each pointing at the row it came from; ids such as
``task_id`` are skipped. A text shorter than n tokens is indexed only when it has more than
n/2 tokens (a bare answer such as ``48`` is no evidence). Beside the exact net, two fuzzy
ones (:mod:`.signatures`): a math problem's numbers and answer, and shingle containment.
A record is matched by its messages (:meth:`EvalIndex.match_messages`)."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ultralink.core.fs import Location, read_bytes
from ultralink.jobs.decontaminate.config import CHAR_N, MIN_CONTAINMENT, MIN_NUMBERS, WORD_N
from ultralink.jobs.decontaminate.sets import EvalSet, set_name
from ultralink.jobs.decontaminate.signatures import (
    ExampleIndex,
    NumberIndex,
    ShingleIndex,
    final_answer,
    numbers,
    stated_numbers,
)
from ultralink.text.ngrams import is_cjk, tokens, window_hashes

log = logging.getLogger("ultralink.jobs.decontaminate")

SNIPPET = 400
_ID_KEYS = {"id", "task_id", "idx", "entry_point", "index", "qid", "uid"}
_QUESTION_KEYS = ("question", "problem", "prompt", "input", "query", "instruction")
_ANSWER_KEYS = ("answer", "answer_number", "solution", "target", "output",
                "canonical_solution")


@dataclass(frozen=True, slots=True)
class EvalRow:
    """One evaluation row: its text fields, and (when it has them) its question and its
    final numeric answer (the numbers signature)."""

    texts: list[str]
    question: str = ""
    answer: str | None = None


def eval_rows(loc: Location) -> Iterator[EvalRow]:
    """Each row of one evaluation file (JSONL, TSV, Parquet)."""
    name = loc.path.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with loc.fs.open_input_file(loc.path) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    yield _row(row)
        return
    raw = read_bytes(loc)
    if name.endswith(".gz"):
        import gzip

        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    if ".tsv" in name:
        for cells in csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
            cells = [c for c in cells if c.strip()]
            if cells:   # MGSM: question, then the numeric answer
                yield EvalRow(cells, cells[0], final_answer(cells[-1]) if len(cells) > 1
                              else None)
        return
    if ".jsonl" in name or ".json" in name:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{loc.uri}:{n}: not a JSON line ({exc})") from None
            yield _row(row) if isinstance(row, dict) else EvalRow([str(row)])
        return
    raise ValueError(f"{loc.uri}: unknown evaluation-set format (expected .jsonl, .tsv or "
                     ".parquet)")


def _row(row: dict[str, Any]) -> EvalRow:
    texts = _fields(row)
    lower = {k.lower(): v if isinstance(v, str) else str(v) for k, v in row.items()
             if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
    question = next((lower[k] for k in _QUESTION_KEYS if k in lower), texts[0] if texts else "")
    answer = next((final_answer(lower[k]) for k in _ANSWER_KEYS if k in lower), None)
    return EvalRow(texts, question, answer)


def _fields(row: dict[str, Any]) -> list[str]:
    out = []
    for key, value in row.items():
        if key.lower() in _ID_KEYS:
            continue
        if isinstance(value, str) and value.strip():
            out.append(value)
        elif isinstance(value, list):  # e.g. MMLU choices
            out.extend(v for v in value if isinstance(v, str) and v.strip())
    return out


@dataclass
class EvalIndex:
    """Sorted n-gram hashes of the evaluation sets, each pointing at the row it came from,
    with the numbers and shingle nets over the same rows."""

    word_n: int
    char_n: int
    names: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    row_set: list[int] = field(default_factory=list)
    row_text: list[str] = field(default_factory=list)
    rows_per_set: list[int] = field(default_factory=list)
    numbers: NumberIndex = field(default_factory=NumberIndex)
    shingles: ShingleIndex = field(default_factory=ShingleIndex)
    examples: ExampleIndex = field(default_factory=ExampleIndex)
    row_numbers: list[frozenset[str]] = field(default_factory=list)   # each question's numbers
    row_answer: list[str | None] = field(default_factory=list)        # and its answer

    def __bool__(self) -> bool:
        return bool(self.row_text)

    def grams(self, text: str) -> tuple[list[str], np.ndarray, int]:
        toks = tokens(text)
        n = self.char_n if is_cjk(toks) else self.word_n
        return toks, window_hashes(toks, n), n

    def match(self, text: str) -> dict[str, Any] | None:
        """The first evaluation row ``text`` shares an n-gram with (or, failing that, the
        row most of whose shingles it holds), or None."""
        stated = set(stated_numbers(text))
        return self.exact(text, stated) or self._fuzzy(text, stated)

    def match_messages(self, messages: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
        """The evaluation row a record (``(role, content)`` pairs) copies: an exact n-gram
        in any message, then the numbers signature, a code task's example literals, then
        shingle containment; or None."""
        if not self:
            return None
        stated = {n for _role, text in messages for n in stated_numbers(text)}
        for _role, text in messages:
            if found := self.exact(text, stated):
                return found
        r = self.numbers.match(messages)
        if r is not None:
            return self._found(r, "numbers", "")
        r = self.examples.match(messages)
        if r is not None:
            return self._found(r, "examples", "")
        for _role, text in messages:
            if found := self._fuzzy(text, stated):
                return found
        return None

    def agrees(self, r: int, stated: set[str]) -> bool:
        """Whether a record stating ``stated`` numbers can be row ``r``: a math problem
        (a row with a numeric answer) with half of its question's numbers or more replaced
        by others is another problem on the same template, not a copy, however much
        wording it shares."""
        q = self.row_numbers[r] if r < len(self.row_numbers) else frozenset()
        if not q or 2 * len(q & stated) > len(q):
            return True
        # numbers missing are not numbers changed: a copy may leave a sentence out
        others = stated - q - {self.row_answer[r]}
        return len(others) < len(q - stated)

    def exact(self, text: str, stated: set[str] | None = None) -> dict[str, Any] | None:
        """The first row ``text`` shares an n-gram with (one whose numbers ``stated``
        agree with, when given), or None."""
        if not len(self.hashes):
            return None
        toks, h, n = self.grams(text)
        if not len(h):
            return None
        pos = np.searchsorted(self.hashes, h)
        pos[pos >= len(self.hashes)] = 0
        hit = np.nonzero(self.hashes[pos] == h)[0]
        seen: set[int] = set()
        for k in map(int, hit):
            r = int(self.row[pos[k]])
            if r in seen:
                continue
            seen.add(r)
            if stated is None or self.agrees(r, stated):
                sep = "" if is_cjk(toks) else " "
                return self._found(r, "ngram", sep.join(toks[k:k + n]))
        return None

    def _fuzzy(self, text: str, stated: set[str]) -> dict[str, Any] | None:
        for r, share in self.shingles.matches(text):
            if self.agrees(r, stated):
                return self._found(r, "shingles", f"{share:.0%} of its shingles")
        return None

    def _found(self, r: int, how: str, overlap: str) -> dict[str, Any]:
        s = self.row_set[r]
        return {"set": self.names[s], "eval_row": r - sum(self.rows_per_set[:s]),
                "matched": self.row_text[r], "overlap": overlap, "how": how}


def build_index(sets: Sequence[str | EvalSet], word_n: int = WORD_N, char_n: int = CHAR_N, *,
                min_numbers: int = MIN_NUMBERS, min_containment: float = MIN_CONTAINMENT
                ) -> EvalIndex:
    """Read every evaluation set (a URI, named by its file, or an :class:`EvalSet`) into one
    :class:`EvalIndex` (driver side)."""
    from ultralink.core.fs import expand_inputs

    idx = EvalIndex(word_n, char_n, numbers=NumberIndex(min_numbers),
                    shingles=ShingleIndex(min_containment))
    chunks: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for entry in sets:
        uris = entry.uris if isinstance(entry, EvalSet) else [entry]
        files, problems = expand_inputs(uris)
        if problems:
            raise ValueError(f"evaluation set {problems[0]}")
        uri = ", ".join(uris)
        name = entry.name if isinstance(entry, EvalSet) else set_name(
            uri if len(files) != 1 else files[0].uri)
        if name in idx.names:
            raise ValueError(f"two evaluation sets are named {name!r} ({uri}); rename one")
        s = len(idx.names)
        idx.names.append(name)
        idx.uris.append(uri)
        n_rows = 0
        for loc in files:
            for ev in eval_rows(loc):
                r = len(idx.row_text)
                idx.row_set.append(s)
                idx.row_text.append(" | ".join(ev.texts)[:SNIPPET])
                idx.numbers.add(r, ev.question, ev.answer)
                # a math problem's numbers (rows with a numeric answer), for ``agrees``
                idx.row_numbers.append(frozenset(numbers(ev.question)) if ev.answer else
                                       frozenset())
                idx.row_answer.append(ev.answer)
                idx.examples.add(r, ev.question)
                n_rows += 1
                for t in ev.texts:
                    idx.shingles.add(r, t)
                    toks, h, n = idx.grams(t)
                    if len(toks) < n and len(toks) <= n // 2:
                        continue  # a bare answer ("48") or label is no evidence of anything
                    chunks.append(h)
                    owners.append(np.full(len(h), r, np.uint32))
        idx.rows_per_set.append(n_rows)
        log.info("evaluation set %s: %d rows from %s", name, n_rows, uri)
    idx.shingles.freeze()
    idx.examples.freeze()
    if chunks:
        h = np.concatenate(chunks)
        o = np.concatenate(owners)
        order = np.argsort(h, kind="stable")
        h, o = h[order], o[order]
        first = np.r_[True, h[1:] != h[:-1]]
        idx.hashes, idx.row = h[first], o[first]
    return idx
