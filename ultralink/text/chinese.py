"""Traditional → Simplified Chinese with OpenCC, as the paper does for zh text and output."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from ultralink.core.counters import Counters
from ultralink.core.languages import get_language
from ultralink.core.records import Document
from ultralink.core.stage import Step, record_error


@lru_cache(maxsize=None)
def converter(config: str = "t2s") -> Any:
    """One OpenCC converter per config per process (building one reads its dictionaries)."""
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """Convert Traditional characters and phrases to Simplified; Simplified text is unchanged."""
    return converter("t2s").convert(text) if text else text


def convert_document(doc: Document, convert: Callable[[str], str]) -> bool:
    """Convert ``doc``'s title and text in place; ``True`` when either changed."""
    title, text = convert(doc.title), convert(doc.text)
    changed = title != doc.title or text != doc.text
    doc.title, doc.text = title, text
    return changed


class ToSimplified(Step[Document, Document]):
    """Applies each document's registry OpenCC config (``t2s`` for zh) to title and text.

    Reads and writes ``Document.title`` / ``text``; documents of languages without an OpenCC
    config pass through untouched. Never drops; counts ``opencc_changed``, the documents the
    conversion changed (how much of the corpus was not Simplified already).
    """

    name = "t2s"

    def __init__(self, language: str | None = None) -> None:
        if language is not None:
            get_language(language)
        self.language = language

    def setup(self) -> None:
        if self.language is not None:
            config = get_language(self.language).opencc
            if config:
                converter(config)

    def run(self, items: Iterable[Document], counters: Counters) -> Iterator[Document]:
        configs: dict[str, str | None] = {}
        for doc in items:
            try:
                with counters.timed(self.name):
                    if doc.language not in configs:
                        configs[doc.language] = get_language(doc.language).opencc
                    config = configs[doc.language]
                    if config and convert_document(doc, converter(config).convert):
                        counters.add("opencc_changed")
            except Exception as exc:  # one poison record must not stop the unit
                record_error(counters, self.name, doc, exc)
                continue
            yield doc
