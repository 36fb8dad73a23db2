"""Which schema a whole file is, from its first records: one clear fit, in English, or refused.

A file is never guessed: the detected schema must fit most sampled records, no rival may fit
a good share of them (a mix is refused), and the user text must be English (a translated
HumanEval is not an English source). A refusal names the keys found and the schemas known.
"""

from __future__ import annotations

import re

from ultralink.sources.sft_schemas import SCHEMAS, Schema, SchemaError, fit_schema

# Of the sniffed records: the detected schema must fit at least this share, and no other
# schema may fit a quarter as many (else the file is a mix: refused, never guessed).
MIN_FIT_SHARE = 0.5
MAX_RIVAL_RATIO = 0.25
# The English check: records whose user text has this many letters are sampled; the file is
# refused when fewer than half of them are identified as English.
LANG_MIN_LETTERS = 24
LANG_MIN_SHARE = 0.5
_LETTERS = re.compile(r"[^\W\d_]")


def _not_english(schema: Schema, head: list[tuple[int, dict]]) -> str | None:
    """``None`` when the sampled user texts are English (or too short to tell)."""
    samples = [schema.prose(rec)[:600] for _, rec in head]
    samples = [t for t in samples if len(_LETTERS.findall(t)) >= LANG_MIN_LETTERS]
    if not samples:
        return None
    try:
        from ultralink.text.langid import LanguageIdentifier

        ident = _identifier(LanguageIdentifier)
        labels = [(ident.predict(t, k=1) or [("?", 0.0)])[0][0] for t in samples]
    except (ImportError, FileNotFoundError, OSError, ValueError):
        return None  # no fastText here: the check is skipped, never guessed
    english = sum(1 for lab in labels if lab == "en")
    if english >= LANG_MIN_SHARE * len(labels):
        return None
    top = max(set(labels), key=labels.count)
    return (f"records are not English ({top} in {labels.count(top)} of {len(labels)} sampled "
            f"{schema.name} prompts); the readers take English sources only")


_IDENTIFIERS: dict[str, object] = {}


def _identifier(cls: type) -> object:
    ident = _IDENTIFIERS.get("default")
    if ident is None:
        ident = cls()
        ident.setup()
        _IDENTIFIERS["default"] = ident
    return ident


def choose_schema(uri: str, head: list[tuple[int, dict]]) -> Schema:
    """The schema of the file whose first records are ``head``; :class:`SchemaError` if none."""
    keys: set[str] = set()
    votes: dict[str, int] = {}
    misses: dict[str, str] = {}
    for _, rec in head:
        keys |= set(rec)
        fit, why = fit_schema(rec)
        if fit:
            votes[fit.name] = votes.get(fit.name, 0) + 1
        for name, reason in why.items():
            misses.setdefault(name, reason)
    if not votes:
        near = "; ".join(f"not {n}: {r}" for n, r in misses.items())
        raise SchemaError(uri, keys, "records match no known schema" + (
            f" ({near})" if near else ""))
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    best, n_best = ranked[0]
    if n_best < MIN_FIT_SHARE * len(head) or (
            len(ranked) > 1 and ranked[1][1] >= MAX_RIVAL_RATIO * n_best):
        mix = ", ".join(f"{n} {v}" for n, v in ranked)
        raise SchemaError(uri, keys, f"ambiguous: of {len(head)} sampled records {mix} fit "
                                         "a known schema; split the file by schema")
    schema = next(s for s in SCHEMAS if s.name == best)
    foreign = _not_english(schema, head)
    if foreign:
        raise SchemaError(uri, keys, foreign)
    return schema
