"""Segmentation as properties over realistic documents: bounded, sentence-aligned, linear."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ultralink.text.segmenter as segmenter_mod
from ultralink.core.counters import Counters
from ultralink.text.segmenter import Segmenter
from ultralink.text.sentence_units import SentenceUnit
from ultralink.text.tokens import get_encoding
from tests.text.segment_corpus import (LANGS, MAX_SENTENCE_TOKENS, PROPS, SENTENCES, SEP,
                                       CountingEncoding, check_segments, documents, squash)


# -- segmentation properties -----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
@given(data=st.data())
@PROPS
def test_segments_are_bounded_sentence_aligned_and_lossless(lang, data):
    lo = data.draw(st.integers(40, 120), label="min")
    hi = lo + data.draw(st.integers(MAX_SENTENCE_TOKENS, 150), label="width")
    text, sentences = data.draw(documents(lang))
    counters = Counters()
    seg = Segmenter(lang, lo, hi)
    pieces = seg.segment(text, counters)
    check_segments(text, sentences, pieces, counters, lo, hi, lang)
    assert counters.counts["long_sentence_splits"] == 0
    assert seg.segment(text, Counters()) == pieces                      # deterministic
    assert pickle.loads(pickle.dumps(seg)).segment(text, Counters()) == pieces


@pytest.mark.parametrize("lang", LANGS)
def test_real_bounds_on_a_long_document(lang):
    """The paper's 1K–2K on a ~10K-token document."""
    pool = SENTENCES[lang]
    sentences = [pool[(i * 7) % len(pool)] for i in range(600)]
    parts = []
    for i, s in enumerate(sentences):
        parts.append(s + ("\n\n" if i % 6 == 5 else SEP.get(lang, " ")))
    text = "".join(parts).strip()
    counters = Counters()
    pieces = Segmenter(lang).segment(text, counters)
    assert len(pieces) >= 4
    check_segments(text, sentences, pieces, counters, 1000, 2000, lang)


def test_prefers_the_last_paragraph_break_in_the_window():
    s = "The river floods every spring and the farmers move their herds uphill. "  # ~14 tokens
    paras = [s * 3, s * 3, s * 3, s * 3]
    text = "\n\n".join(p.strip() for p in paras)
    pieces = Segmenter("en", 40, 120).segment(text, Counters())
    assert pieces[0].text.endswith("uphill.") and "\n\n" in pieces[0].text
    first = pieces[0].text + "\n\n"
    assert text.startswith(first), "first segment ends at a paragraph break"


# -- long sentences, remainders, short documents --------------------------------------------

@pytest.mark.parametrize("lang,clause", [("en", ", "), ("fr", ", "), ("ru", ", "), ("es", "; "),
                                         ("zh", "，")])
def test_long_sentence_is_cut_at_clause_breaks(lang, clause):
    word = "长江流域的城市" if lang == "zh" else "the river valley towns"
    long_sentence = clause.join([word] * 120) + ("。" if lang == "zh" else ".")
    counters = Counters()
    pieces = Segmenter(lang, 50, 100).segment(long_sentence, counters)
    assert counters.counts["long_sentence_splits"] >= 3
    assert all(50 <= p.n_tokens <= 100 for p in pieces[:-1]) and pieces[-1].n_tokens <= 100
    assert all(p.text.rstrip().endswith(clause.strip()) for p in pieces[:-1])
    kept = "".join(squash(p.text) for p in pieces)
    assert squash(long_sentence).startswith(kept)


def test_long_sentence_without_breaks_is_cut_at_tokens():
    text = "x" * 5000   # no spaces, no clause breaks
    counters = Counters()
    pieces = Segmenter("en", 50, 100).segment(text, counters)
    assert counters.counts["long_sentence_splits"] >= 5
    assert all(50 <= p.n_tokens <= 100 for p in pieces)
    assert "".join(p.text for p in pieces) == text[: sum(len(p.text) for p in pieces)]


def test_sentence_that_would_overshoot_the_window_is_cut():
    short = "The river floods every spring. "                       # 6 tokens
    long = ", ".join(["and the farmers move their herds"] * 12) + ". "   # ~80 tokens
    text = (short * 6 + long) * 3
    counters = Counters()
    pieces = Segmenter("en", 60, 90).segment(text, counters)
    assert counters.counts["long_sentence_splits"] >= 1
    assert all(60 <= p.n_tokens <= 90 for p in pieces)


def test_short_remainder_is_merged_when_it_fits():
    s = "The river floods every spring. "        # 6 tokens each
    text = (s * 18).strip()                      # 108 tokens: one segment of 50..100 + 8
    counters = Counters()
    pieces = Segmenter("en", 50, 120).segment(text, counters)
    assert len(pieces) == 1 and pieces[0].text == text
    assert counters.counts["dropped_remainder"] == 0


def test_short_remainder_is_dropped_and_counted_when_it_does_not_fit():
    s = "The river floods every spring. "        # 6 tokens each
    text = (s * 19).strip()                      # 114 tokens > max, < 2 * min
    counters = Counters()
    pieces = Segmenter("en", 60, 100).segment(text, counters)
    assert len(pieces) == 1 and 60 <= pieces[0].n_tokens <= 100
    assert text.startswith(pieces[0].text)
    assert counters.counts["dropped_remainder"] == 1
    dropped = counters.counts["remainder_tokens_dropped"]
    assert 0 < dropped < 60 and pieces[0].n_tokens + dropped >= 112


def test_tail_is_kept_long_enough_when_possible():
    s = "The river floods every spring. "
    text = (s * 30).strip()                      # 180 tokens, 50..150: two segments, no drop
    counters = Counters()
    pieces = Segmenter("en", 50, 150).segment(text, counters)
    assert len(pieces) == 2 and all(50 <= p.n_tokens <= 150 for p in pieces)
    assert counters.counts["dropped_remainder"] == 0


@pytest.mark.parametrize("text", ["", "   \n\n ", "Too short. Really."])
def test_document_shorter_than_min_gives_no_segment(text):
    counters = Counters()
    assert Segmenter("en", 50, 100).segment(text, counters) == []
    assert counters.counts["dropped_remainder"] == (1 if text.strip() else 0)


# -- the exact count of a run of sentences without re-encoding it ----------------------------

PIECES = st.sampled_from(list("ab Z.,'\"\n\t。我们1é\u00a0") + ["  ", "\n\n", "the", " word", ". "])


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_run_count_equals_encoding_the_run(data):
    """Whatever the units, the count of a run (sum of units where pre-tokenizer pieces must
    split, else a re-encode) is the count of encoding the stripped run."""
    text = "".join(data.draw(st.lists(PIECES, min_size=3, max_size=40), label="text"))
    seg = Segmenter("en", 1, 10)
    encode = seg._tokenizer.encode_ordinary
    positions = range(1, len(text))
    safe = [p for p in positions if segmenter_mod._piece_boundary(text, p)]
    any_cuts = data.draw(st.lists(st.sampled_from(positions), max_size=12, unique=True), label="any")
    safe_cuts = data.draw(st.lists(st.sampled_from(safe), min_size=min(2, len(safe)), max_size=12,
                                   unique=True), label="safe") if safe else []
    for cuts in (any_cuts, safe_cuts):   # mostly re-encoded; summed
        bounds = [0, *sorted(cuts), len(text)]
        units = [SentenceUnit(a, b, len(encode(text[a:b])), 0) for a, b in zip(bounds, bounds[1:])]
        assert seg._count(text, units) == seg._exact(text, 0, len(text))


# -- linearity, without timing -----------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_encoding_work_is_linear(lang, monkeypatch):
    """Each sentence is encoded once and each segment once (or only its first and last
    sentence, where its count is the sum of its sentences'): never a growing prefix."""
    pool = SENTENCES[lang]
    results = []
    for n in (200, 400, 800):
        sentences = [pool[(i * 5) % len(pool)] for i in range(n)]
        text = "\n\n".join(SEP.get(lang, " ").join(sentences[i:i + 4]) for i in range(0, n, 4))
        counting = CountingEncoding(get_encoding())
        monkeypatch.setattr(segmenter_mod, "get_encoding", lambda name, c=counting: c)
        pieces = Segmenter(lang, 100, 200).segment(text, Counters())
        assert n <= counting.texts <= n + 2 * len(pieces) + 2
        assert counting.chars <= 2 * len(text) + 400    # + the one merged remainder at most
        results.append(counting.chars / len(text))
    assert max(results) - min(results) < 0.2            # chars encoded per char: constant


@pytest.mark.parametrize("lo,hi", [(0, 10), (20, 10)])
def test_bad_bounds_are_rejected(lo, hi):
    with pytest.raises(ValueError, match="min_tokens"):
        Segmenter("en", lo, hi)
