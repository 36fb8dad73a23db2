"""Precision and recall of the quality gate on the labelled set (``tests/data/``).

Runs every case through :class:`ultralink.jobs.validate.Gate` (the validators the stages use)
and prints, per expected reason, how many bad cases were caught with that reason (recall) and
how many of the gate's rejections for that reason were right (precision), then the misses and
false rejections. Measured, not simulated: real fastText lid.176, real prompt files.

Last line: ``{"caught": share of bad cases rejected, "false_reject": share of good cases
rejected, …}``. Goals: caught ≥ 0.95, false_reject ≤ 0.05.

    python benchmarks/validators.py [--cases tests/data/quality_labelled.jsonl] [-v]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "tests" / "data" / "quality_labelled.jsonl"


def hidden_document_gate() -> Any:
    """The gate for this set's setting: its cases were written for dialogues whose passage is
    not shown (``document_in_first_message: false``), where "according to the text" is a
    leak; with the passage shown (the default), such a reference is fair
    (``benchmarks/quality.py`` measures that setting)."""
    from ultralink.jobs.validate import Gate
    from ultralink.specific.dialogue import DialogueConfig

    return Gate(DialogueConfig(document_in_first_message=False))


def evaluate(cases: list[dict[str, Any]], gate: Any = None) -> dict[str, Any]:
    """Run the gate over ``cases``; the numbers the benchmark and the test report."""
    from ultralink.jobs.validate import Gate

    gate = gate or hidden_document_gate()
    per_reason: dict[str, Counter[str]] = {}
    missed, false_rejects, wrong_reason = [], [], []
    bad = good = caught = rejected_good = 0
    for case in cases:
        reasons = gate.check(case)
        if case["label"] == "bad":
            bad += 1
            expected = case["reason"]
            c = per_reason.setdefault(expected, Counter())
            c["cases"] += 1
            if reasons:
                caught += 1
                if expected in reasons:
                    c["caught_as_expected"] += 1
                else:
                    wrong_reason.append((case["id"], reasons))
            else:
                missed.append(case["id"])
        else:
            good += 1
            if reasons:
                rejected_good += 1
                false_rejects.append((case["id"], reasons))
        for r in reasons:
            c = per_reason.setdefault(r, Counter())
            c["predicted"] += 1
            if case["label"] == "bad" and r == case.get("reason"):
                c["true_positive"] += 1
    table = {}
    for reason, c in sorted(per_reason.items()):
        table[reason] = {
            "cases": c["cases"],
            "recall": c["caught_as_expected"] / c["cases"] if c["cases"] else None,
            "precision": c["true_positive"] / c["predicted"] if c["predicted"] else None,
            "predicted": c["predicted"]}
    return {"bad": bad, "good": good, "caught": caught / max(1, bad),
            "false_reject": rejected_good / max(1, good), "per_reason": table,
            "missed": missed, "false_rejects": false_rejects, "wrong_reason": wrong_reason}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(DEFAULT))
    ap.add_argument("-v", "--verbose", action="store_true", help="list misses and false rejects")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    cases = [json.loads(line) for line in open(args.cases, encoding="utf-8") if line.strip()]
    res = evaluate(cases)
    print(f"{len(cases)} cases: {res['bad']} bad, {res['good']} good")
    print(f"{'reason':<26} {'cases':>5} {'recall':>7} {'predicted':>9} {'precision':>9}")
    for reason, row in res["per_reason"].items():
        recall = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        precision = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        print(f"{reason:<26} {row['cases']:>5} {recall:>7} {row['predicted']:>9} {precision:>9}")
    if args.verbose or res["missed"] or res["false_rejects"]:
        for cid in res["missed"]:
            print(f"missed: {cid}")
        for cid, reasons in res["false_rejects"]:
            print(f"false reject: {cid} {reasons}")
    if args.verbose:
        for cid, reasons in res["wrong_reason"]:
            print(f"caught with another reason: {cid} {reasons}")
    print(json.dumps({"caught": round(res["caught"], 4),
                      "false_reject": round(res["false_reject"], 4),
                      "bad": res["bad"], "good": res["good"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
