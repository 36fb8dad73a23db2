"""Decontamination measured on planted copies written by someone who had not seen the checker.

    python benchmarks/decontamination.py [--set tests/data/contamination_independent]
                                         [--half dev|report|all]
    python benchmarks/decontamination.py --planted /path/planted.jsonl \\
        --evals ../shared/samples/gsm8k_test.jsonl --evals ../shared/samples/humaneval_en.jsonl

A set folder holds ``evals/`` (the evaluation sets) and ``planted.jsonl`` (records with
``messages``, ``label`` contaminated|clean, ``variant``, ``half`` dev|report). Every record is
matched with :meth:`EvalIndex.match_messages`, the function the agnostic scan (English
sources, before translation) and the output pass (every language, after) both call.

Two checkers, same records, same run:
- ``exact13``: the usual decontamination a user would write (GPT-3 / Llama 2 style): a
  shared 13-word n-gram (13 characters for CJK) with any evaluation text, nothing else;
- ``ours``: that, then the numbers signature, then shingle containment (the shipped
  defaults of ``DecontaminateConfig``).

Per half and checker: recall on contaminated records (per variant), false removals on clean
ones (per variant), precision. Last line: JSON. All figures are measured (CPU, no model).

How the figures were kept honest (2026-12-07): the shipped set (264 records, its README) and
a second blind set planted from the real GSM8K test / HumanEval (203 records, not shipped:
it holds test items) were tuned on, dev halves first; after one look at their report halves
those were tuned on too. The held-out figure is a third blind set (176 records, real GSM8K
items of lines 600+ and HumanEval tasks 80+, written after the rules were fixed, measured
once): exact13 recall 0.329, false removal 0.099, precision 0.757; ours recall 0.847
(translated 29/32, paraphrase 8/8, renamed code 1/8), false removal 0.055 (same template
with other numbers 3/18, look-alike code 2/26), precision 0.935.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ultralink.jobs.decontaminate import DecontaminateConfig, EvalIndex, build_index  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "data" / "contamination_independent"


def load(planted: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in planted.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def exact_only(index: EvalIndex, messages: list[tuple[str, str]]) -> dict[str, Any] | None:
    """The baseline: a shared n-gram in any message."""
    for _role, text in messages:
        if found := index.exact(text):
            return found
    return None


def score(records: list[dict[str, Any]], index: EvalIndex, half: str) -> dict[str, Any]:
    checkers = {"exact13": lambda m: exact_only(index, m), "ours": index.match_messages}
    out: dict[str, Any] = {}
    chosen = [r for r in records if half == "all" or r.get("half") == half]
    for name, check in checkers.items():
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        tp = fp = pos = neg = 0
        nets: dict[str, int] = defaultdict(int)
        for r in chosen:
            found = check([(m["role"], m["content"]) for m in r["messages"]])
            bad = r["label"] == "contaminated"
            cell = hits[f"{r['label']}:{r['variant']}"]
            cell[0] += bool(found)
            cell[1] += 1
            pos += bad
            neg += not bad
            tp += bool(found) and bad
            fp += bool(found) and not bad
            if found:
                nets[found["how"]] += 1
        out[name] = {"recall": round(tp / pos, 3) if pos else None,
                     "false_removal": round(fp / neg, 3) if neg else None,
                     "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                     "contaminated": pos, "clean": neg, "caught_by": dict(nets),
                     "by_variant": {k: f"{v[0]}/{v[1]}" for k, v in sorted(hits.items())}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", type=Path, default=DEFAULT_SET, help="folder with evals/ and "
                    "planted.jsonl")
    ap.add_argument("--planted", type=Path, help="planted.jsonl elsewhere (with --evals)")
    ap.add_argument("--evals", action="append", default=[], help="evaluation set files")
    ap.add_argument("--half", choices=("dev", "report", "all"), default="report")
    args = ap.parse_args()
    planted = args.planted or args.set / "planted.jsonl"
    evals = args.evals or sorted(str(p) for p in (args.set / "evals").iterdir())
    cfg = DecontaminateConfig()
    index = build_index(evals, cfg.word_n, cfg.char_n, min_numbers=cfg.min_numbers,
                        min_containment=cfg.min_containment)
    result = {"planted": str(planted), "evals": [Path(e).name for e in evals],
              "half": args.half, **score(load(planted), index, args.half)}
    for name in ("exact13", "ours"):
        r = result[name]
        print(f"{name:8s} recall {r['recall']}  false removal {r['false_removal']}  precision "
              f"{r['precision']}  ({r['contaminated']} contaminated, {r['clean']} clean; "
              f"caught by {r['caught_by']})")
        for variant, cell in r["by_variant"].items():
            print(f"    {variant:45s} {cell}")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
