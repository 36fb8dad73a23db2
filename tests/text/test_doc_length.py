"""The document-length filter: keeps min..max tokens, counts only until past max."""

from __future__ import annotations

from ultralink.core.counters import Counters
from ultralink.text.doc_length import DocLengthFilter
from ultralink.text.sentence_units import sentence_units
from ultralink.text.tokens import get_encoding
from tests.text.segment_corpus import SENTENCES, make_doc


def test_doc_length_filter():
    f = DocLengthFilter(min_tokens=10, max_tokens=20)
    f.setup()
    docs = [make_doc("Short."), make_doc(("The river floods every spring. " * 3).strip()),
            make_doc(("word " * 50).strip())]
    counters = Counters()
    kept = list(f.run(docs, counters))
    assert kept == [docs[1]] and docs[1].n_tokens == 18
    assert counters.dropped() == {"too_short": 1, "too_long": 1}
    assert docs[0].n_tokens == 2 and docs[2].n_tokens == 50


def test_doc_length_stops_counting_once_past_max():
    enc = get_encoding()
    text = " ".join(SENTENCES["en"] * 4)
    full = sentence_units(text, "en", enc)
    total = sum(u.n for u in full)
    head = sentence_units(text, "en", enc, stop_above=40)
    assert 40 < sum(u.n for u in head) < total
    assert [(u.start, u.end, u.n) for u in head] == [(u.start, u.end, u.n) for u in full[:len(head)]]
    assert sentence_units(text, "en", enc, stop_above=total) == full   # never past it
    f = DocLengthFilter(min_tokens=10, max_tokens=40)
    f.setup()
    doc = make_doc(text)
    counters = Counters()
    assert list(f.run([doc], counters)) == [] and counters.dropped() == {"too_long": 1}
    assert 40 < doc.n_tokens < total
