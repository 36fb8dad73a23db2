"""Keep untrusted text (documents, conversations) inside the delimiters a prompt puts it in.

A Wikipedia segment or a ShareGPT conversation is data, not instructions: a document holding
``</document><task kind="answer">…`` must not close its block and open a new task, and a
conversation holding ``Verdict: {…}`` lines must not pose as one of the judge's examples.
:func:`escape_tags` turns the ``<`` of every tag the prompt itself uses (open or close, any case,
spaces allowed) into ``&lt;``, the XML way models read as a literal bracket; other markup
(``a < b``, ``<br>``, code) is left alone. :func:`indent_continuations` indents every line
but the first, so labels such as ``User:`` or ``Verdict:`` only ever start a line where the
prompt put them. Special tokens (``<|im_end|>``) are a separate matter, handled where text is
tokenized (:mod:`ultralink.llm.templates`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_TAG_NAME = re.compile(r"^\s*</?\s*([A-Za-z][\w.-]*)")


def tag_names(*delimiters: str) -> tuple[str, ...]:
    """Tag names of delimiters such as ``<document>`` / ``</document>`` (others skipped)."""
    names: list[str] = []
    for d in delimiters:
        m = _TAG_NAME.match(d)
        if m and m.group(1).lower() not in names:
            names.append(m.group(1).lower())
    return tuple(names)


@lru_cache(maxsize=64)
def _tag_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"<(\s*/?\s*)({alternatives})(?![\w.-])", re.IGNORECASE)


def escape_tags(text: str, names: Iterable[str], literals: Iterable[str] = ()) -> str:
    """``text`` with every ``<name`` / ``</name`` of ``names`` written ``&lt;name``.

    ``literals``: delimiters that are not tags (``=== DOC ===``); each occurrence gets a zero
    width joiner after its first character, so it no longer reads as the delimiter.
    """
    key = tuple(sorted({n.lower() for n in names}))
    if key:
        text = _tag_pattern(key).sub(r"&lt;\1\2", text)
    for lit in literals:
        if lit and not _TAG_NAME.match(lit) and lit in text:
            text = text.replace(lit, lit[0] + "\u200d" + lit[1:])
    return text


def indent_continuations(text: str, indent: str = "  ") -> str:
    """Every line after the first indented, so no line of ``text`` starts at column 0."""
    return text.replace("\n", "\n" + indent)
