"""Spans the translator must never touch: code, LaTeX, URLs, calculator marks, final answers.

They are swapped for numbered placeholders (``⟦P0⟧``) before the text goes to the model and
restored afterwards; :func:`check_restored` proves each came back exactly once. Numbers in
the remaining prose must survive translation: :func:`number_multiset` compares them in a
locale-tolerant way (digits only, so ``1,000`` / ``1 000`` and ``3.5`` / ``3,5`` agree).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

PLACEHOLDER = "⟦P{}⟧"
PLACEHOLDER_RE = re.compile(r"⟦P(\d+)⟧")

# Order matters: longer/outer constructs first so inner ones are swallowed whole. Text that
# already looks like a placeholder goes first: it becomes a span of its own (copied verbatim),
# so a record quoting "⟦P5⟧" can never collide with the placeholders made here.
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("marker", r"⟦P\d+⟧"),
    ("fenced_code", r"(?ms)^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\1[ \t]*$"),
    ("fenced_code_unclosed", r"(?s)```.*\Z"),
    # Markdown indented code (after a blank line, first line code-like, not a list item).
    ("indented_code", r"(?m)(?:(?<=\n\n)|\A)(?: {4}|\t)(?![ \t]*(?:[-*+]|\d{1,3}[.)])[ \t])"
                      r"(?=[^\n]*[=(){}\[\];<>#])[^\n]*(?:\n(?: {4}|\t)[^\n]*)*"),
    ("latex_display", r"(?s)\$\$.+?\$\$"),
    ("latex_bracket", r"(?s)\\\[.+?\\\]"),
    ("latex_paren", r"(?s)\\\(.+?\\\)"),
    ("latex_env", r"(?s)\\begin\{(\w+\*?)\}.*?\\end\{\1\}"),
    ("inline_code", r"`[^`\n]+`"),
    ("latex_inline", r"(?<![\\$\w])\$(?!\s)(?:[^$\n]|\\\$)+?(?<![\s\\])\$(?![\w$])"),
    # Bare LaTeX outside $…$ (``\frac{a}{b}``, ``\sqrt{x}``, ``\alpha``): copied verbatim too.
    ("latex_bare", r"\\(?:[a-zA-Z]+|[,;!])(?:[ \t]*(?:\{(?:[^{}\n]|\{[^{}\n]*\})*\}|\[[^\]\n]*\]))*"),
    ("url", r"\b(?:https?|ftp)://[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]"),
    ("calc_mark", r"<<[^<>\n]*>>"),
    # Arithmetic written inline ("24 * 3 = 72", "12 - 5 = 7"): math symbols are copied
    # verbatim (translation principle 3), so the model never gets to garble an equation.
    ("arithmetic", r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|⟦P\d+⟧\d*)"
                   r"(?:[ \t]*[-+*/×÷=<>^−][ \t]*"
                   r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|⟦P\d+⟧\d*))+(?![\w.,]\d)"),
    ("final_answer", r"(?m)^####\s*[^\n]*$"),
    # MetaMathQA's last line: the label is prose (translated), the value is copied verbatim.
    ("answer_value", r"(?m)(?<=The answer is: )\S[^\n]*$"),
)
_COMPILED = [(name, re.compile(rx)) for name, rx in _PATTERNS]

# Digits with decimal/grouping separators; a space (or NBSP / narrow NBSP) only groups
# thousands ("1 000"), so "12 - 5 = 7" stays three numbers.
_NUMBER_RE = re.compile(r"\d+(?:(?:[.,]|[\u00a0\u202f ](?=\d{3}(?!\d)))\d+)*")


@dataclass(slots=True)
class Protected:
    """Text with placeholders plus the spans they stand for (index = placeholder number)."""

    text: str
    spans: list[str]
    kinds: list[str]

    def restore(self, translated: str) -> str:
        return PLACEHOLDER_RE.sub(lambda m: self.spans[int(m.group(1))]
                                  if int(m.group(1)) < len(self.spans) else m.group(0), translated)


def protect(text: str, kinds: set[str] | None = None,
            extra: tuple[tuple[str, str], ...] = ()) -> Protected:
    """Replace every protected span (of ``kinds``, default all) by a placeholder.

    Patterns run outer-first, so a URL inside a code block goes with the block. A later
    pattern whose match contains earlier placeholders (``#### $5$``) absorbs them: its span
    is stored with the inner text restored, and placeholders are renumbered at the end in
    order of appearance, so ``⟦P0⟧`` … ``⟦Pn⟧`` are always all present exactly once.
    """
    spans: list[str] = []
    names: list[str] = []
    absorbed: set[int] = set()
    out = text
    # ``extra`` (name, regex) pairs run right after the literal markers (the translator's
    # prompt labels at line starts, so a message cannot fake an ``English:`` example pair)
    patterns = _COMPILED[:1] + [(n, re.compile(rx)) for n, rx in extra] + _COMPILED[1:]
    for name, rx in patterns:
        if kinds is not None and name not in kinds and name != "marker" and name not in dict(extra):
            continue

        def swap(m: re.Match[str], name: str = name) -> str:
            span = m.group(0)
            inner = [] if name == "marker" else [int(i) for i in PLACEHOLDER_RE.findall(span)]
            if inner:
                absorbed.update(inner)
                span = _expand(span, spans)
            spans.append(span)
            names.append(name)
            return PLACEHOLDER.format(len(spans) - 1)

        out = rx.sub(swap, out)
    if not absorbed and [int(i) for i in PLACEHOLDER_RE.findall(out)] == list(range(len(spans))):
        return Protected(out, spans, names)
    order = [int(i) for i in PLACEHOLDER_RE.findall(out)]
    new_index = {old: new for new, old in enumerate(order)}
    out = PLACEHOLDER_RE.sub(lambda m: PLACEHOLDER.format(new_index[int(m.group(1))]), out)
    return Protected(out, [spans[i] for i in order], [names[i] for i in order])


def _expand(text: str, spans: list[str]) -> str:
    """Restore placeholders inside a span that absorbs earlier ones.

    One pass: stored spans are already original text (a literal "⟦P5⟧" among them must stay).
    """
    return PLACEHOLDER_RE.sub(lambda m: spans[int(m.group(1))], text)


def check_restored(protected: Protected, translated: str) -> str | None:
    """``None`` when every placeholder is present exactly once and no unknown one appears."""
    found = Counter(int(m) for m in PLACEHOLDER_RE.findall(translated))
    expected = set(range(len(protected.spans)))
    missing = sorted(expected - set(found))
    if missing:
        return f"placeholders missing: {missing}"
    repeated = sorted(k for k, n in found.items() if n > 1)
    if repeated:
        return f"placeholders repeated: {repeated}"
    unknown = sorted(set(found) - expected)
    if unknown:
        return f"unknown placeholders: {unknown}"
    return None


def number_multiset(text: str) -> Counter[str]:
    """Numbers in ``text`` as digit strings (separators dropped), placeholders excluded."""
    text = PLACEHOLDER_RE.sub(" ", text)
    return Counter(re.sub(r"\D", "", m) for m in _NUMBER_RE.findall(text))


def check_numbers(source: str, translated: str) -> str | None:
    """``None`` when the translation carries the same multiset of numbers as the source."""
    a, b = number_multiset(source), number_multiset(translated)
    if a == b:
        return None
    lost = sorted((a - b).elements())
    added = sorted((b - a).elements())
    return f"numbers changed: lost {lost[:5]}, added {added[:5]}"
