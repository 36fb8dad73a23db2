"""Sentence splitting: lossless, abbreviation-aware, and fast paths equal to their definitions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ultralink.text.sentences import ends_sentence, split_sentences
from ultralink.text.tokens import get_encoding
from tests.text.segment_corpus import LANGS, MAX_SENTENCE_TOKENS, SENTENCES, documents, squash


def test_corpus_sentences_are_short_and_end_sentences():
    enc = get_encoding()
    for lang, pool in SENTENCES.items():
        for s in pool:
            assert len(enc.encode_ordinary(s)) <= MAX_SENTENCE_TOKENS, s
            assert ends_sentence(s, lang), s


@pytest.mark.parametrize("lang", LANGS)
def test_each_corpus_sentence_stays_whole(lang):
    """No cut after "Sr.", "т.е.", "M.", "c.-à-d.", "p. ej." or inside 3.5."""
    for s in SENTENCES[lang]:
        assert split_sentences(s, lang) == [s]


@pytest.mark.parametrize("lang", LANGS)
@given(data=st.data())
@settings(max_examples=20, deadline=None)
def test_split_sentences_is_lossless_and_finds_every_sentence(lang, data):
    text, sentences = data.draw(documents(lang, max_sentences=25))
    pieces = split_sentences(text, lang)
    assert "".join(pieces) == text
    assert [squash(p) for p in pieces] == [squash(s) for s in sentences]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "  Hello there. ", "a\n\n\n\nb. c", "No end"])
def test_split_sentences_edge_cases_are_lossless(text):
    assert "".join(split_sentences(text, "en")) == text


def test_paragraph_break_always_ends_a_sentence():
    pieces = split_sentences("A heading\n\nThe text starts here. It goes on", "en")
    assert pieces == ["A heading\n\n", "The text starts here. ", "It goes on"]


def test_chinese_splits_after_full_and_half_width_ends():
    text = "第一句。第二句！第三句？第四句!第五句?价格是3.5元。"
    assert split_sentences(text, "zh") == ["第一句。", "第二句！", "第三句？", "第四句!", "第五句?",
                                           "价格是3.5元。"]


def test_capitalised_abbreviation_at_sentence_start():
    assert split_sentences("Approx. 5 people came. Then rain.", "en") == [
        "Approx. 5 people came. ", "Then rain."]


@pytest.mark.parametrize("piece,lang,expected", [
    ("It ended.", "en", True), ('He said "Go."  ', "en", True), ("No end", "en", False),
    ("他说：“很好。”", "zh", True), ("很好（注）", "zh", False), ("« Oui. »", "fr", True),
    ("Он сказал: «Да!»", "ru", True), ("", "en", False),
])
def test_ends_sentence(piece, lang, expected):
    assert ends_sentence(piece, lang) is expected


# -- fast paths agree with their plain definitions ---------------------------------------------

@pytest.mark.parametrize("text", ["a \u00a0\n \n\n b\n\nc \n\t\n", " \n\n", "\n\n x", "x  \n\n",
                                  "a\r\n\r\nb", "one\ntwo\n \nthree", "no break"])
def test_paragraph_breaks_match_the_regex(text):
    from ultralink.text.sentences import _PARAGRAPH_BREAK, _paragraph_breaks
    assert _paragraph_breaks(text) == [m.span() for m in _PARAGRAPH_BREAK.finditer(text)]


@given(st.text(alphabet=" \t\u00a0\n.»”)x", max_size=30))
@settings(max_examples=200, deadline=None)
def test_ends_sentence_matches_its_regex_definition(piece):
    from ultralink.text.sentences import _TRAILING_CLOSERS
    stripped = _TRAILING_CLOSERS.sub("", piece)
    assert ends_sentence(piece, "en") is (bool(stripped) and stripped[-1] in ".!?")


@pytest.mark.parametrize("lang", ["en", "ru", "fr", "es"])
def test_abbreviation_pattern_matches_its_plain_definition(lang):
    """The grouped, "\\b"-anchored pattern finds exactly what the plain alternation finds."""
    from ultralink.core.languages import get_language
    from ultralink.text.sentences import _abbreviation_pattern
    abbrevs = set(get_language(lang).abbreviations)
    abbrevs |= {a[0].upper() + a[1:] for a in abbrevs if a[:1].islower()}
    alts = [r"\s+".join(re.escape(p) for p in a.split())
            for a in sorted(abbrevs, key=len, reverse=True)]
    plain = re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")[^\S\n]*")
    fast = _abbreviation_pattern(lang)
    texts = [" ".join(SENTENCES[lang]), "\n".join(abbrevs), "x".join(abbrevs), "".join(abbrevs),
             "  ".join(sorted(abbrevs)), "т.\u00a0е. и т.\n е.", "1Dr. 2Mr. _St. ДоН. э."]
    for t in texts:
        assert [m.span() for m in fast.finditer(t)] == [m.span() for m in plain.finditer(t)]
