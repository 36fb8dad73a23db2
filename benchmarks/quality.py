"""The quality gate on an independent labelled set: caught / false reject per half.

The set (``tests/data/quality_independent.jsonl``) was written by helpers who never saw the
gate's code, from the record schema and a defect taxonomy only (issue 23 item 5); each record
has ``label`` (good/bad), ``defect`` (the bad record's one main defect) and ``half``: the
development half may be tuned on, the held-out half may not. Measured, not simulated: real
fastText lid.176, real prompt files, :class:`ultralink.jobs.validate.Gate` as ``ultralink
validate`` runs it.

Printed per half: overall, per language, per record kind, per defect kind; the false
rejects with their reasons under ``-v``. Last line: JSON of both halves' headline numbers.
Targets (held-out): caught >= 0.95, false_reject <= 0.05, every defect kind >= 0.80, every
language >= 0.90 caught, dialogues and translations each >= 0.90.

    python benchmarks/quality.py [--cases FILE.jsonl] [--half dev|held_out|both] [-v]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests" / "data" / "quality_independent.jsonl"
TARGETS = {"caught": 0.95, "false_reject": 0.05, "defect": 0.80, "language": 0.90, "kind": 0.90}


def score(cases: list[dict[str, Any]], gate: Any) -> dict[str, Any]:
    """Verdicts of ``gate`` on ``cases`` and the shares the benchmark prints."""
    tally: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    misses, false_rejects = [], []
    for case in cases:
        reasons = gate.check(case)
        label = case["label"]
        hit = bool(reasons)
        for axis, key in (("all", "all"), ("language", case["language"]), ("kind", case["kind"]),
                          ("defect", case.get("defect") or "good")):
            tally[axis][key][label] += 1
            tally[axis][key][f"{label}_rejected"] += hit
        if label == "bad" and not hit:
            misses.append((case["id"], case.get("defect")))
        if label == "good" and hit:
            false_rejects.append((case["id"], reasons))
    return {"tally": tally, "misses": misses, "false_rejects": false_rejects}


def _share(c: Counter[str], label: str) -> float | None:
    return c[f"{label}_rejected"] / c[label] if c[label] else None


def report(name: str, result: dict[str, Any], verbose: bool) -> dict[str, Any]:
    t = result["tally"]
    print(f"\n== {name}")
    print(f"  {'':<24} {'bad':>5} {'caught':>7} {'good':>5} {'false rej':>9}")
    for axis in ("all", "language", "kind", "defect"):
        for key, c in sorted(t[axis].items()):
            caught, fr = _share(c, "bad"), _share(c, "good")
            print(f"  {axis + ':' + key:<24} {c['bad']:>5} "
                  f"{'' if caught is None else f'{caught:.1%}':>7} {c['good']:>5} "
                  f"{'' if fr is None else f'{fr:.1%}':>9}")
    if verbose:
        for cid, defect in result["misses"]:
            print(f"  missed {cid} ({defect})")
        for cid, reasons in result["false_rejects"]:
            print(f"  false reject {cid}: {reasons}")
    a = t["all"]["all"]
    low = lambda axis, floor: sorted(k for k, c in t[axis].items()  # noqa: E731
                                     if k != "good" and c["bad"] and _share(c, "bad") < floor)
    return {"caught": round(_share(a, "bad") or 0.0, 4),
            "false_reject": round(_share(a, "good") or 0.0, 4),
            "bad": a["bad"], "good": a["good"],
            "defects_below_target": low("defect", TARGETS["defect"]),
            "languages_below_target": low("language", TARGETS["language"]),
            "kinds_below_target": low("kind", TARGETS["kind"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(DEFAULT))
    ap.add_argument("--half", choices=("dev", "held_out", "both"), default="both")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    from ultralink.jobs.validate import Gate

    cases = [json.loads(line) for line in open(args.cases, encoding="utf-8") if line.strip()]
    gate = Gate()
    halves = ("dev", "held_out") if args.half == "both" else (args.half,)
    out = {}
    for half in halves:
        chosen = [c for c in cases if c["half"] == half]
        out[half] = report(f"{half} ({len(chosen)} records)", score(chosen, gate), args.verbose)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
