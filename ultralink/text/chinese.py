"""Traditional → Simplified Chinese with OpenCC, as the paper does for zh text and output,
then Taiwan → mainland terms (软体 → 软件) from a table the user can edit."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from importlib.resources import files
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


class TermTable:
    """Replaces each term with its mainland form in one left-to-right pass: the entry that starts
    first wins, then the longest (``网际网路`` before ``网路``); an entry mapped to itself is a
    guard that keeps its text as written (``软体动物``, ``过程式`` in 过程式设计).

    Args:
        pairs: term → replacement, both in Simplified characters.
    """

    def __init__(self, pairs: dict[str, str]) -> None:
        self.pairs = dict(pairs)
        terms = sorted(self.pairs, key=lambda t: (-len(t), t))
        self.pattern = re.compile("|".join(map(re.escape, terms))) if terms else None

    @classmethod
    def parse(cls, text: str, source: str = "<table>") -> TermTable:
        """Read ``term<TAB>replacement`` lines (a term alone is a guard; ``#`` comments)."""
        pairs: dict[str, str] = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) > 2 or not fields[0] or (len(fields) == 2 and not fields[1]):
                raise ValueError(f"{source}:{n}: want 'term<TAB>replacement' or a term alone, "
                                 f"got {line!r}")
            if fields[0] in pairs:
                raise ValueError(f"{source}:{n}: {fields[0]!r} is listed twice")
            pairs[fields[0]] = fields[-1]
        return cls(pairs)

    def apply(self, text: str) -> str:
        if self.pattern is None or not text:
            return text
        return self.pattern.sub(lambda m: self.pairs[m.group()], text)


@lru_cache(maxsize=None)
def term_table(name: str) -> TermTable:
    """A table shipped in ``ultralink/text/data/`` (``Language.terms``), read once per process."""
    resource = files("ultralink.text") / "data" / name
    return TermTable.parse(resource.read_text(encoding="utf-8"), source=name)


def standardize(text: str, language: str) -> str:
    """The one conversion every path applies to ``language`` text and model output: its OpenCC
    config, then its term table; text of other languages is returned as is."""
    lang = get_language(language)
    if lang.opencc:
        convert = converter(lang.opencc).convert     # built even for "" (a stage's setup)
        text = convert(text) if text else text
    if lang.terms:
        text = term_table(lang.terms).apply(text)
    return text


def convert_document(doc: Document, convert: Callable[[str], str]) -> bool:
    """Convert ``doc``'s title and text in place; ``True`` when either changed."""
    title, text = convert(doc.title), convert(doc.text)
    changed = title != doc.title or text != doc.text
    doc.title, doc.text = title, text
    return changed


class ToSimplified(Step[Document, Document]):
    """Applies each document's registry OpenCC config (``t2s`` for zh), then its term table
    (``zh_tw_terms.tsv``), to title and text: what :func:`standardize` does to model output.

    Reads and writes ``Document.title`` / ``text``; documents of languages without either pass
    through untouched. Never drops; counts ``opencc_changed``, the documents the conversion
    changed (how much of the corpus was not Simplified already), and ``terms_changed``, those
    the term table then changed (how much was written with Taiwan words).
    """

    name = "t2s"

    def __init__(self, language: str | None = None) -> None:
        if language is not None:
            get_language(language)
        self.language = language

    def setup(self) -> None:
        if self.language is not None:
            lang = get_language(self.language)
            if lang.opencc:
                converter(lang.opencc)
            if lang.terms:
                term_table(lang.terms)

    def run(self, items: Iterable[Document], counters: Counters) -> Iterator[Document]:
        for doc in items:
            try:
                with counters.timed(self.name):
                    lang = get_language(doc.language)
                    if lang.opencc and convert_document(doc, converter(lang.opencc).convert):
                        counters.add("opencc_changed")
                    if lang.terms and convert_document(doc, term_table(lang.terms).apply):
                        counters.add("terms_changed")
            except Exception as exc:  # one poison record must not stop the unit
                record_error(counters, self.name, doc, exc)
                continue
            yield doc
