"""zhwiki's language-variant markup ``-{…}-`` resolved to mainland Simplified text.

MediaWiki's LanguageConverter renders ``-{zh-cn:软件; zh-tw:軟體;}-`` as one variant's text
and ``-{H|…}-`` as nothing; neither the wikitext parser nor wikiextractor knows the syntax,
so without this pass the braces, variant codes and every variant's words reach the corpus.
We keep what a reader of the zh-cn page sees. Malformed markup keeps its inner text (words
lost are worse than a stray code), and nested markup is resolved inside out.
"""

from __future__ import annotations

import re

# Variants a mainland reader is shown, best first; any other variant is the last resort.
MAINLAND_ORDER = ("zh-cn", "zh-hans", "zh-sg", "zh-my", "zh")

# The innermost ``-{…}-``: its body holds no further ``-{`` or ``}-``. No backslash and a
# bounded length, so ``-{`` and ``}-`` of two LaTeX formulas never pair up across prose.
_INNERMOST = re.compile(r"-\{((?:(?!-\{|\}-)[^\\]){0,2000})\}-")
# A flag prefix ``X|`` (flag letters, ``;``-separated: ``H|``, ``A|``, ``R|``, ``T|``, ``H;A|``).
_FLAGS = re.compile(r"\s*([A-Za-z-](?:\s*;\s*[A-Za-z-])*)\s*\|(.*)\Z", re.DOTALL)
# One ``code:text`` rule (``zh-cn:软件``); the unidirectional ``a=>zh-cn:b`` keeps its right side.
_RULE = re.compile(r"\s*(?:[^;:=]*=>\s*)?(zh(?:-[a-z]{2,4})?)\s*:(.*)\Z", re.DOTALL | re.IGNORECASE)
# Flags whose markup shows no text: H (hidden rule), T (title), - (remove rule).
_SILENT_FLAGS = frozenset("HT-")
# Formulas are kept as written: LaTeX's ``}-{`` is not variant markup.
_FORMULA = re.compile(r"<(math|chem|ce)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_MAX_PASSES = 4   # nesting deeper than this is not real zhwiki markup; what is left is kept


def resolve_variants(text: str) -> str:
    """``text`` with every ``-{…}-`` replaced by its mainland Simplified rendering."""
    if "-{" not in text:
        return text
    out: list[str] = []
    start = 0
    for formula in _FORMULA.finditer(text):
        out.append(_resolve_prose(text[start:formula.start()]))
        out.append(formula.group(0))
        start = formula.end()
    out.append(_resolve_prose(text[start:]))
    return "".join(out)


def _resolve_prose(text: str) -> str:
    """Resolve the markup of a stretch without formulas, innermost first."""
    if "-{" not in text:
        return text
    for _ in range(_MAX_PASSES):
        resolved = _INNERMOST.sub(lambda m: render_variant(m.group(1)), text)
        if resolved == text:
            break
        text = resolved
    return text


def render_variant(body: str) -> str:
    """What one ``-{body}-`` shows a zh-cn reader (the body without its ``-{ }-``)."""
    flags = ""
    match = _FLAGS.match(body)
    if match:
        flags, body = match.group(1).upper(), match.group(2)
    if any(f in _SILENT_FLAGS for f in flags):
        return ""
    if "R" in flags:   # raw: shown as written in every variant
        return body
    variants = parse_rules(body)
    if variants is None:   # plain -{text}-: protected from conversion, shown as is
        return body
    return pick_mainland(variants)


def parse_rules(body: str) -> dict[str, str] | None:
    """``{code: text}`` of a ``zh-cn:…; zh-tw:…`` body, or ``None`` when it is not one."""
    variants: dict[str, str] = {}
    for part in _split_rules(body):
        match = _RULE.match(part)
        if match is None:
            if variants:   # text after the last rule belongs to it ("zh-cn:a;b" is rare)
                last = next(reversed(variants))
                variants[last] += ";" + part
                continue
            return None
        variants.setdefault(match.group(1).lower(), match.group(2).strip())
    return variants or None


def _split_rules(body: str) -> list[str]:
    """The body's ``;``-separated parts, without the empty one a trailing ``;`` leaves."""
    parts = body.split(";")
    return [p for p in parts if p.strip()] if len(parts) > 1 else parts


def pick_mainland(variants: dict[str, str]) -> str:
    """The text of the first variant in :data:`MAINLAND_ORDER`, else of the first given."""
    for code in MAINLAND_ORDER:
        if code in variants:
            return variants[code]
    return next(iter(variants.values()), "")
