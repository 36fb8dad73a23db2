"""Which evaluation sets a run is checked against: the ones named explicitly (``against``:
each must exist) and the standard ones (``standard``), looked up by name under ``evals_dir``
(a missing one is said in one line and named in the card as *not* checked); and the input
files that are such test splits themselves, refused as training sources."""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ultralink.core.fs import Location

log = logging.getLogger("ultralink.jobs.decontaminate")

# The sets UltraLink's models are evaluated on (the paper's section 4), with where a user gets
# them: put each under ``evals_dir`` as ``<name>.jsonl`` (or .jsonl.gz, .json, .parquet,
# .tsv), a folder ``<name>/``, or files ``<name>_*`` (``mgsm_zh.tsv``, ``humaneval_ru.jsonl``).
STANDARD_SETS: dict[str, str] = {
    "gsm8k_test": "GSM8K test split (Hugging Face openai/gsm8k, config main, split test)",
    "math_test": "MATH test split (Hendrycks et al.; Hugging Face EleutherAI/hendrycks_math)",
    "mgsm": "MGSM in every language (Hugging Face juletxara/mgsm: mgsm_<lang>.tsv)",
    "humaneval": "HumanEval and its translations (openai_humaneval; UltraLink's "
                 "humaneval/humaneval_<lang>.jsonl)",
}
# Where ``fetch_missing`` gets each standard set on a machine with internet: Hugging Face
# datasets as (repository, config, split, file written under evals_dir).
_MATH_SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                  "number_theory", "prealgebra", "precalculus")
HUB_SOURCES: dict[str, tuple[tuple[str, str | None, str, str], ...]] = {
    "gsm8k_test": (("openai/gsm8k", "main", "test", "gsm8k_test.jsonl"),),
    "math_test": tuple(("EleutherAI/hendrycks_math", s, "test", f"math_test/{s}.jsonl")
                       for s in _MATH_SUBJECTS),
    "mgsm": tuple(("juletxara/mgsm", lang, "test", f"mgsm_{lang}.jsonl")
                  for lang in ("en", "zh", "ru", "fr", "es", "de", "ja", "th", "sw", "bn", "te")),
    "humaneval": (("openai/openai_humaneval", None, "test", "humaneval.jsonl"),),
}
EVAL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet", ".tsv")

# Training inputs that are evaluation sets by their name: the file's name or its folder's.
_TEST = r"(?<![a-z0-9])test(?![a-z])"
KNOWN_TEST_FILES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("humaneval", re.compile(r"human[-_ ]?eval")),
    ("mgsm", re.compile(r"(?<![a-z])mgsm")),
    ("gsm8k test", re.compile(rf"gsm8k.*{_TEST}|{_TEST}.*gsm8k")),
    ("MATH test", re.compile(rf"(?<![a-z])math(?![a-z]).*{_TEST}")),
    ("MBPP test", re.compile(rf"mbpp.*{_TEST}|{_TEST}.*mbpp")),
)
# A file this share of whose (at least MIN_SCANNED) records are evaluation items is a test split.
MIN_SCANNED = 10
TEST_SPLIT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class EvalSet:
    """One evaluation set: its name (``contaminated:<name>``) and its files or URIs."""

    name: str
    uris: list[str]


@dataclass(slots=True)
class ResolvedSets:
    """The sets found, and per standard set not found the reason (for the card)."""

    sets: list[EvalSet] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def uris(self) -> list[str]:
        return [u for s in self.sets for u in s.uris]

    def not_checked(self) -> list[dict[str, str]]:
        return [{"name": n, "why": why, "what": STANDARD_SETS.get(n, "")}
                for n, why in self.missing.items()]


def set_name(uri: str) -> str:
    """``s3://b/evals/gsm8k_test.jsonl.gz`` → ``gsm8k_test``."""
    return posixpath.basename(uri.rstrip("/")).split(".")[0]


def resolve_sets(against: Sequence[str], standard: Sequence[str], evals_dir: str | None,
                 *, warn: bool = True, fetch: bool = False) -> ResolvedSets:
    """The explicit sets as given, then each standard set found under ``evals_dir`` (one
    listing of it; with ``fetch``, those not there are first fetched from the Hub into it);
    those not found are an entry each in ``missing`` and one warning line."""
    from ultralink.core.fs import expand

    if fetch and evals_dir:
        first = resolve_sets(against, standard, evals_dir, warn=False)
        absent = [n for n, why in first.missing.items() if why.startswith(("not under",
                                                                            evals_dir))]
        failed = fetch_missing(absent, evals_dir)
        found = resolve_sets(against, standard, evals_dir, warn=warn)
        found.missing.update({n: why for n, why in failed.items() if n in found.missing})
        return found

    out = ResolvedSets([EvalSet(set_name(u), [u]) for u in against])
    named = [n for n in standard if n not in {s.name for s in out.sets}]
    files: list[Location] = []
    if named and evals_dir:
        files, gone = expand([evals_dir])
        if gone:
            out.missing = {n: f"{evals_dir} not found" for n in named}
    elif named:
        out.missing = {n: "no evals_dir set" for n in named}
    if not out.missing:
        root = evals_dir.rstrip("/") + "/" if evals_dir else ""
        for name in named:
            found = _standard_files(name, files, root)
            if found:
                out.sets.append(EvalSet(name, found))
            else:
                out.missing[name] = f"not under {evals_dir}"
    if warn and out.missing:
        whys = sorted(set(out.missing.values()))
        log.warning("decontamination: not checked against %s (%s); the card says so",
                    ", ".join(out.missing), "; ".join(whys))
    return out


def fetch_missing(names: Sequence[str], evals_dir: str, load: Any = None) -> dict[str, str]:
    """Download each named standard set from the Hugging Face Hub into ``evals_dir`` (as
    JSONL, so later runs find it there); returns ``{name: why}`` for those that could not be
    fetched (no internet, no ``datasets`` package, unknown name). ``load``:
    ``datasets.load_dataset`` by default."""
    from ultralink.core.fs import resolve, write_atomic

    failed: dict[str, str] = {}
    for name in names:
        if name not in HUB_SOURCES:
            failed[name] = "no known source to fetch it from"
            continue
        try:
            if load is None:
                from datasets import load_dataset as load
            for repo, config, split, file in HUB_SOURCES[name]:
                rows = load(repo, config, split=split)
                body = "".join(json.dumps(dict(r), ensure_ascii=False) + "\n" for r in rows)
                write_atomic(resolve(evals_dir.rstrip("/") + "/" + file), body.encode())
            log.info("decontamination: fetched %s into %s", name, evals_dir)
        except Exception as exc:   # offline, gated, renamed: said once, the build goes on
            failed[name] = f"fetch failed: {type(exc).__name__}: {str(exc)[:120]}"
    return failed


def _standard_files(name: str, files: Iterable[Location], root: str) -> list[str]:
    """``<name>.<ext>``, ``<name>/…`` or ``<name>_*.<ext>`` under the listed folder."""
    local_root = root if root.startswith("s3://") else _abs(root)
    hits = []
    for loc in files:
        rel = loc.uri[len(local_root):] if loc.uri.startswith(local_root) else loc.uri
        base = rel.split("/", 1)[0]
        if not rel.lower().endswith(EVAL_SUFFIXES):
            continue
        stem = set_name(base)
        if base == name or stem == name or stem.startswith(name + "_"):
            hits.append(loc.uri)
    return sorted(hits)


def _abs(path: str) -> str:
    import os

    return os.path.abspath(os.path.expanduser(path)).rstrip("/") + "/" if path else ""


def known_test_file(uri: str) -> str | None:
    """The evaluation set an input file is by its name (file or folder), or None."""
    parts = uri.lower().rstrip("/").split("/")
    name = "/".join(parts[-2:])
    return next((what for what, pattern in KNOWN_TEST_FILES if pattern.search(name)), None)


def test_split_share(scanned: int, contaminated: int) -> bool:
    """Whether a file with ``contaminated`` of ``scanned`` records in an evaluation set is
    a test split itself (too many of its records, not one stray copy)."""
    return scanned >= MIN_SCANNED and contaminated >= TEST_SPLIT_SHARE * scanned
