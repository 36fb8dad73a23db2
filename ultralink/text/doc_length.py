"""Keep documents of min..max tokens (paper §2.1.1: 1K–10K, cl100k_base).

The filter counts a document by its sentence units (``sentence_units``) and hands them to the
segmenter on the document, so the count it keeps by is the one the segmenter starts from.
"""

from __future__ import annotations

from typing import Any

import tiktoken

from ultralink.core.records import Document
from ultralink.core.stage import Filter
from ultralink.text.sentence_units import sentence_units
from ultralink.text.tokens import DEFAULT_ENCODING, get_encoding


class DocLengthFilter(Filter[Document]):
    """Keep documents of min..max tokens (paper: 1K–10K, cl100k_base); sets ``doc.n_tokens``.

    A document is split and counted only until its count passes ``max_tokens``: a dropped
    ``too_long`` document's ``n_tokens`` is that partial count (> max), not its length.
    """

    name = "doc_length"
    drops = ("too_short", "too_long")

    def __init__(self, min_tokens: int = 1000, max_tokens: int = 10000,
                 encoding: str = DEFAULT_ENCODING) -> None:
        if min_tokens < 0 or max_tokens < min_tokens:
            raise ValueError(f"need 0 <= min_tokens <= max_tokens, got {min_tokens}, {max_tokens}")
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self.encoding = encoding
        self._enc: tiktoken.Encoding | None = None

    def setup(self) -> None:
        if self._enc is None:
            self._enc = get_encoding(self.encoding)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_enc": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def keep(self, item: Document) -> bool | str:
        if self._enc is None:
            self.setup()
        # a document past max_tokens is dropped: its count stops there (n_tokens > max)
        units = sentence_units(item.text, item.language, self._enc,  # type: ignore[arg-type]
                               stop_above=self.max_tokens)
        item.n_tokens = sum(u.n for u in units)
        item.sentences = units   # reused by the segmenter: every sentence is tokenized once
        if item.n_tokens < self.min_tokens:
            return "too_short"
        if item.n_tokens > self.max_tokens:
            return "too_long"
        return True
