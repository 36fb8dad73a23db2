"""The evaluation-set index of decontamination: each set's text fields read once on the
driver into a sorted array of n-gram hashes (13 words, or 13 characters for CJK/Thai text,
:mod:`ultralink.text.ngrams`), each pointing at the row it came from; ids such as
``task_id`` are skipped. A text shorter than n tokens is indexed only when it has more than
n/2 tokens (a bare answer such as ``48`` is no evidence)."""

from __future__ import annotations

import csv
import io
import json
import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ultralink.core.fs import Location, read_bytes
from ultralink.jobs.decontaminate.config import CHAR_N, WORD_N
from ultralink.text.ngrams import is_cjk, tokens, window_hashes

log = logging.getLogger("ultralink.jobs.decontaminate")

SNIPPET = 400
_ID_KEYS = {"id", "task_id", "idx", "entry_point", "index", "qid", "uid"}


def set_name(uri: str) -> str:
    """``s3://b/evals/gsm8k_test.jsonl.gz`` → ``gsm8k_test``."""
    return posixpath.basename(uri.rstrip("/")).split(".")[0]


def eval_rows(loc: Location) -> Iterator[list[str]]:
    """The text fields of each row of one evaluation file (JSONL, TSV, Parquet)."""
    name = loc.path.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with loc.fs.open_input_file(loc.path) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    yield _fields(row)
        return
    raw = read_bytes(loc)
    if name.endswith(".gz"):
        import gzip

        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    if ".tsv" in name:
        for cells in csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
            yield [c for c in cells if c.strip()]
        return
    if ".jsonl" in name or ".json" in name:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{loc.uri}:{n}: not a JSON line ({exc})") from None
            yield _fields(row) if isinstance(row, dict) else [str(row)]
        return
    raise ValueError(f"{loc.uri}: unknown evaluation-set format (expected .jsonl, .tsv or "
                     ".parquet)")


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
    """Sorted n-gram hashes of the evaluation sets, each pointing at the row it came from."""

    word_n: int
    char_n: int
    names: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    row_set: list[int] = field(default_factory=list)
    row_text: list[str] = field(default_factory=list)
    rows_per_set: list[int] = field(default_factory=list)

    def grams(self, text: str) -> tuple[list[str], np.ndarray, int]:
        toks = tokens(text)
        n = self.char_n if is_cjk(toks) else self.word_n
        return toks, window_hashes(toks, n), n

    def match(self, text: str) -> dict[str, Any] | None:
        """The first evaluation row ``text`` shares an n-gram with, or None."""
        if not len(self.hashes):
            return None
        toks, h, n = self.grams(text)
        if not len(h):
            return None
        pos = np.searchsorted(self.hashes, h)
        pos[pos >= len(self.hashes)] = 0
        hit = np.nonzero(self.hashes[pos] == h)[0]
        if not len(hit):
            return None
        k = int(hit[0])
        r = int(self.row[pos[k]])
        sep = "" if is_cjk(toks) else " "
        return {"set": self.names[self.row_set[r]], "eval_row": r - self._first_row(r),
                "matched": self.row_text[r], "overlap": sep.join(toks[k:k + n])}

    def _first_row(self, r: int) -> int:
        s = self.row_set[r]
        return sum(self.rows_per_set[:s])


def build_index(uris: list[str], word_n: int = WORD_N, char_n: int = CHAR_N) -> EvalIndex:
    """Read every evaluation set into one :class:`EvalIndex` (driver side)."""
    from ultralink.core.fs import expand_inputs

    idx = EvalIndex(word_n, char_n)
    chunks: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for uri in uris:
        files, problems = expand_inputs([uri])
        if problems:
            raise ValueError(f"evaluation set {problems[0]}")
        name = set_name(uri if len(files) != 1 else files[0].uri)
        if name in idx.names:
            raise ValueError(f"two evaluation sets are named {name!r} ({uri}); rename one")
        s = len(idx.names)
        idx.names.append(name)
        idx.uris.append(uri)
        n_rows = 0
        for loc in files:
            for texts in eval_rows(loc):
                r = len(idx.row_text)
                idx.row_set.append(s)
                idx.row_text.append(" | ".join(texts)[:SNIPPET])
                n_rows += 1
                for t in texts:
                    toks, h, n = idx.grams(t)
                    if len(toks) < n and len(toks) <= n // 2:
                        continue  # a bare answer ("48") or label is no evidence of anything
                    chunks.append(h)
                    owners.append(np.full(len(h), r, np.uint32))
        idx.rows_per_set.append(n_rows)
        log.info("evaluation set %s: %d rows from %s", name, n_rows, uri)
    if chunks:
        h = np.concatenate(chunks)
        o = np.concatenate(owners)
        order = np.argsort(h, kind="stable")
        h, o = h[order], o[order]
        first = np.r_[True, h[1:] != h[:-1]]
        idx.hashes, idx.row = h[first], o[first]
    return idx
