"""Tidy rendered text: visible characters only, one space, blank lines between paragraphs.

Dropping markup leaves residue (empty brackets, stray quotes and tags, empty sections, table
rows the parser could not match); the segmenter needs paragraphs separated by exactly one
blank line. Each pass is a whole-text regex or one linear scan guarded by a cheap ``in``
test, because the cleaned text of a whole dump goes through here.
"""

from __future__ import annotations

import re

from ultralink.text.wikitext_rules import DEFINITION, HEADING

# Behaviour switches (__NOTOC__, __БЕЗ_ОГЛАВЛЕНИЯ__, __无目录__) are upper-case or uncased;
# lower-case dunders (__init__ in code samples) stay.
_MAGIC_WORD = re.compile(r"__[^\W_]\w*?__")
_STRAY_QUOTES = re.compile(r"'{2,}")
# HTML tags the parser left as text because they were never closed (a <div> opened by one
# template and closed by another); only known tag names, so "x<y and z>w" survives.
_STRAY_TAG = re.compile(
    r"</?(?:div|span|small|big|center|font|p|br|hr|sup|sub|s|u|b|i|tt|code|abbr|cite|blockquote|"
    r"table|tr|td|th|caption|ul|ol|li|dl|dt|dd|ref|references|onlyinclude|includeonly|noinclude|"
    r"section|gallery|templatestyles|nowiki|poem|mapframe)\b[^<>]*>", re.IGNORECASE)
# Whitespace other than " " and "\n" (every character str.isspace() accepts, all below
# U+3001). Spelled out rather than [^\S\n]: a class that needs a Unicode lookup per
# character is ~10× slower to scan, and the cleaned text is scanned several times.
_OTHER_SPACE = re.compile("[{}]".format(re.escape(
    "".join(chr(c) for c in range(0x3001) if chr(c).isspace() and c not in (10, 32)))))
_SPACE_RUN = re.compile(r"  +")
_HEADING_LINE = re.compile(r"\x01(?<![^\n]\x01)[^\n]*")  # a "\x01" line (see HEADING)
_BLANK_LINES = re.compile(r"\n\n\n+")
# "Paris ({{IPA|..}}) is" → "Paris () is": only after a space, so code like "f()" survives.
# The "_ASCII" variants are the same patterns for text without "（": starting with a literal,
# they let the scan skip ahead (several times faster than a two-character class).
_EMPTY_BRACKETS = re.compile(r"\((?<=\s\()\s*[,;:]?\s*\)|（\s*[，；、]?\s*）")
_EMPTY_BRACKETS_ASCII = re.compile(r"\((?<=\s\()\s*[,;:]?\s*\)")
_OPEN_BRACKET_PUNCT = re.compile(r"\(\s*[,;]\s+|（\s*[，；、]\s*")
_OPEN_BRACKET_PUNCT_ASCII = re.compile(r"\(\s*[,;]\s+")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.，。、)])")
_SPACE_BEFORE_PUNCT_1 = re.compile(r" (?=[,.，。、)])")
_SPACE_AFTER_BRACKET = re.compile(r"\( +")
# Stress marks in Russian/Ukrainian lead sentences (Литва́) split words into odd tokens.
_CYRILLIC_STRESS = re.compile(r"[\u0300\u0301](?<=[\u0400-\u04ff][\u0300\u0301])")
_CYRILLIC_ACUTE = re.compile(r"\u0301(?<=[\u0400-\u04ff]\u0301)")  # the usual stress mark alone
_DEFINITION_MARK = re.compile(r" *\x03")  # a DEFINITION marker and the spaces before it


def _drop_upper(match: re.Match[str]) -> str:
    word = match.group()
    return "" if word == word.upper() else word


def collapse_spaces(text: str) -> str:
    """Every run of whitespace other than newlines → one space."""
    text = _OTHER_SPACE.sub(" ", text)
    return _SPACE_RUN.sub(" ", text) if "  " in text else text


def normalize_whitespace(text: str) -> str:
    """Collapse spaces, keep single newlines inside a block and "\\n\\n" between paragraphs.

    Lines are stripped, blank lines separate paragraphs, and a heading line (see
    ``HEADING``) is always a paragraph of its own. Whole-text passes, not a loop over lines.
    """
    text = collapse_spaces(text).replace(" \n", "\n").replace("\n ", "\n").strip(" ")
    if HEADING in text:
        text = _HEADING_LINE.sub("\n\n\\g<0>\n\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n")


def visible(value: str) -> str:
    """Text as the page shows it (magic words, stray quotes and tags gone)."""
    if "__" in value:
        value = _MAGIC_WORD.sub(_drop_upper, value)
    if "''" in value:
        value = _STRAY_QUOTES.sub("", value)
    if "<" in value:
        value = _STRAY_TAG.sub("", value)
    return value


def _drop_empty_sections(paragraphs: list[str]) -> list[str]:
    """Drop heading markers whose section has no text (all of it was tables or templates).

    One backward pass: ``has_text[l]`` says whether text follows before the next heading of
    level <= l, which is exactly what a level-l heading needs to be kept.
    """
    has_text = [False] * 8
    kept: list[str] = []
    for para in reversed(paragraphs):
        if para.startswith(HEADING) and DEFINITION not in para:
            level = min(int(para[1]), 7) if para[1:2].isdigit() else 2
            if has_text[level]:
                kept.append(para[2:].strip())
            for deeper in range(level, 8):
                has_text[deeper] = False
        else:
            kept.append(para[2:].lstrip() if para.startswith(HEADING) else para)
            has_text = [True] * 8
    kept.reverse()
    return [p for p in kept if p]


def _drop_table_residue(text: str) -> str:
    """Drop the raw lines of a table the parser could not match (left as text, e.g. rows
    produced by templates): from a line opening with ``{|`` to the one opening with ``|}``."""
    lines = text.split("\n")
    kept: list[str] = []
    depth = 0
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("{|"):
            depth += 1
        elif depth and stripped.startswith("|}"):
            depth -= 1
        elif not depth:
            kept.append(line)
    return "\n".join(kept) if depth == 0 else "\n".join(
        line for line in lines if not line.lstrip().startswith(("{|", "|", "!")))


def tidy_text(text: str) -> str:
    """Remove what dropped markup leaves behind (empty brackets, empty sections), normalize."""
    if "（" in text:
        text = _EMPTY_BRACKETS.sub("", text)
        text = _OPEN_BRACKET_PUNCT.sub(_first_char, text)
    elif "(" in text:
        text = _EMPTY_BRACKETS_ASCII.sub("", text)
        text = _OPEN_BRACKET_PUNCT_ASCII.sub("(", text)
    if "\u0300" in text:
        text = _CYRILLIC_STRESS.sub("", text)
    elif "\u0301" in text:
        text = _CYRILLIC_ACUTE.sub("", text)
    if "{|" in text:
        text = _drop_table_residue(text)
    text = normalize_whitespace(text)
    if HEADING in text:
        text = "\n\n".join(_drop_empty_sections(text.split("\n\n"))).replace(HEADING, "")
    if DEFINITION in text:
        text = _DEFINITION_MARK.sub("", text)
    text = _SPACE_AFTER_BRACKET.sub("(", text)
    # With single spaces (the usual case) a pattern with a literal first character does
    # the same as _SPACE_BEFORE_PUNCT, several times faster.
    return (_SPACE_BEFORE_PUNCT if "  " in text else _SPACE_BEFORE_PUNCT_1).sub("", text)


def _first_char(match: re.Match[str]) -> str:
    return match.group()[0]
