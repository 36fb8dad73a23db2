"""Documents in, sentence-aligned segments out: the ``segment`` step of ``prepare``.

The packing itself is ``segmenter.Segmenter`` (one per language, built once per worker); this
step owns what the pipeline sees: stable segment ids, counters, and one poison document never
stopping the unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ultralink.core.counters import Counters
from ultralink.core.ids import digest
from ultralink.core.records import Document, Segment
from ultralink.core.stage import Step, record_error
from ultralink.text.segmenter import Segmenter, check_bounds
from ultralink.text.tokens import DEFAULT_ENCODING, get_encoding


def segment_id(language: str, doc_id: str, index: int) -> str:
    """Stable segment id: same language, document and position give the same id on every run."""
    return f"{language}_{digest(language, doc_id, index, algorithm='sha1')}"


class SegmentDocuments(Step[Document, Segment]):
    """Documents in, sentence-aligned segments out; reads doc_id/title/url/language/text."""

    name = "segment"
    drops = ("remainder",)

    def __init__(self, min_tokens: int = 1000, max_tokens: int = 2000,
                 encoding: str = DEFAULT_ENCODING) -> None:
        check_bounds(min_tokens, max_tokens)
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self.encoding = encoding
        self._segmenters: dict[str, Segmenter] = {}

    def setup(self) -> None:
        get_encoding(self.encoding)   # fail fast on a worker that cannot load it

    def _segmenter(self, language: str) -> Segmenter:
        seg = self._segmenters.get(language)
        if seg is None:
            seg = Segmenter(language, self.min_tokens, self.max_tokens, self.encoding)
            seg.setup()
            self._segmenters[language] = seg
        return seg

    def run(self, items: Iterable[Document], counters: Counters) -> Iterator[Segment]:
        for doc in items:
            try:
                with counters.timed(self.name):
                    pieces = self._segmenter(doc.language).segment(doc.text, counters,
                                                                   doc.sentences)
                    doc.sentences = None
            except Exception as exc:  # one poison record must not stop the unit
                record_error(counters, self.name, doc, exc)
                continue
            for index, piece in enumerate(pieces):
                counters.add("segments")
                counters.add("segment_tokens", piece.n_tokens)
                yield Segment(id=segment_id(doc.language, doc.doc_id, index), doc_id=doc.doc_id,
                              title=doc.title, url=doc.url, language=doc.language,
                              segment_index=index, text=piece.text, n_tokens=piece.n_tokens,
                              source_file=doc.source_file)
