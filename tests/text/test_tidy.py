"""The tidy passes (whole-text regexes) against their plain, line-by-line definitions."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ultralink.text import tidy


def _normalize_by_lines(text: str) -> str:
    """The definition normalize_whitespace implements with whole-text passes."""
    paragraphs, block = [], []
    for line in text.split("\n"):
        line = re.sub(r"[^\S\n]+", " ", line).strip()
        if line.startswith("\x01"):
            if block:
                paragraphs.append("\n".join(block))
                block = []
            paragraphs.append(line)
        elif line:
            block.append(line)
        elif block:
            paragraphs.append("\n".join(block))
            block = []
    if block:
        paragraphs.append("\n".join(block))
    return "\n\n".join(paragraphs)


_TIDY_ALPHABET = [" ", "  ", "\n", "\n\n", "\t", "\r\n", "\xa0", "\u2028", "\x85", "\u3000", "\x1c", "\x01",
                  "\x012", "a", "Ж", "b c", "(", ")", "（", "）", ",", ";", ":", ".", "，", "；", "、", "。",
                  "\u0301", "\u0300"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_TIDY_ALPHABET), max_size=40).map("".join))
def test_fast_whitespace_and_punctuation_passes_match_their_definitions(text):
    assert tidy.normalize_whitespace(text) == _normalize_by_lines(text)
    assert tidy.collapse_spaces(text) == re.sub(r"[^\S\n]+", " ", text)
    empty = re.compile(r"(?<=\s)\(\s*[,;:]?\s*\)|（\s*[，；、]?\s*）")
    open_punct = re.compile(r"(\()\s*[,;]\s+|(（)\s*[，；、]\s*")
    stress = re.compile(r"(?<=[\u0400-\u04ff])[\u0300\u0301]")
    expected = empty.sub("", text) if "(" in text or "（" in text else text
    expected = open_punct.sub(lambda m: m.group(1) or m.group(2), expected)
    expected = _normalize_by_lines(stress.sub("", expected))
    if "\x01" not in expected:  # heading lines go on to _drop_empty_sections
        expected = re.sub(r"\( +", "(", expected)
        expected = re.sub(r" +([,.，。、)])", r"\1", expected)
        assert tidy.tidy_text(text) == expected
