"""The segment step: segments with stable ids and counters, picklable for Ray workers."""

from __future__ import annotations

import pickle

from ultralink.core.counters import Counters
from ultralink.text.segment import SegmentDocuments, segment_id
from tests.text.segment_corpus import SENTENCES, make_doc


def test_segment_documents_step():
    text = ("The river floods every spring. " * 40).strip()
    step = SegmentDocuments(min_tokens=50, max_tokens=100)
    step = pickle.loads(pickle.dumps(step))
    step.setup()
    counters = Counters()
    segs = list(step.run([make_doc(text), make_doc(SENTENCES["zh"][0] * 30, "zh", "7")], counters))
    assert [s.segment_index for s in segs if s.doc_id == "42"] == list(range(3))
    assert all(s.id == segment_id(s.language, s.doc_id, s.segment_index) for s in segs)
    assert len({s.id for s in segs}) == len(segs)
    assert counters.counts["segments"] == len(segs)
    assert counters.counts["segment_tokens"] == sum(s.n_tokens for s in segs)
    assert segs[0].source_file == "f.xml" and segs[0].title == "T"
    again = list(SegmentDocuments(50, 100).run([make_doc(text)], Counters()))
    assert [s.id for s in again] == [s.id for s in segs if s.doc_id == "42"]


def test_segment_id_is_stable_and_distinct():
    assert segment_id("en", "42", 0) == segment_id("en", "42", 0)
    assert len({segment_id("en", "42", 0), segment_id("en", "42", 1), segment_id("fr", "42", 0),
                segment_id("en", "420", 0)}) == 4
