"""The English source checks (not English, refusals and AI self-talk) on a labelled set written
by someone who had not seen them.

    python benchmarks/source_checks.py [--set tests/data/source_checks_independent]
                                       [--half dev|report|all]

``planted.jsonl``: chat records with ``messages``, ``label`` keep|not_english|refusal,
``variant``, ``half``. Each record goes through :class:`SourceChecks` (the agnostic scan's
check, with the shipped ``prompts/en.yaml`` patterns and lid.176). Reported per half: for each
drop reason its precision and recall, the share of good records dropped (false drops, per
variant), and the records got wrong. Last line: JSON. Measured on the CPU.

The alternative a user would write without these checks is a per-file language check (the
reader's: a file is English when half of 50 sampled records are): it drops no record of an
English file, so its recall of bad records inside one is 0 by construction, and is not run.

Measured 2026-12-07 on the shipped set (245 records, written blind): tuned on the dev half
(quoted text and code left out of the language check, a non-Latin script decides alone,
"I can't help but" no refusal, "I don't have personal opinions" one), then the report half
once: false drops of good records 0.018; not_english precision 0.967, recall 0.967; refusal
precision 1.0, recall 0.69 (identity statements 1/4, partial refusals 1/4, no-feelings 1/3).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ultralink.jobs.agnostic.source_checks import SourceChecks  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "data" / "source_checks_independent"
REASONS = ("not_english", "refusal")


def score(records: list[dict[str, Any]], checks: SourceChecks) -> dict[str, Any]:
    cells: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[str] = []
    tp: dict[str, int] = defaultdict(int)
    said: dict[str, int] = defaultdict(int)
    truth: dict[str, int] = defaultdict(int)
    for r in records:
        turns = [SimpleNamespace(role=m["role"], content=m["content"]) for m in r["messages"]]
        got = checks.reason(turns) or "keep"
        want = r["label"]
        cell = cells[f"{want}:{r['variant']}"]
        cell[0] += got == want
        cell[1] += 1
        said[got] += 1
        truth[want] += 1
        tp[got] += got == want
        if got != want:
            wrong.append(f"{r['id']} {want}:{r['variant']} -> {got}")
    per = {k: {"precision": round(tp[k] / said[k], 3) if said[k] else None,
               "recall": round(tp[k] / truth[k], 3) if truth[k] else None}
           for k in REASONS}
    kept_wrongly = truth["keep"] - tp["keep"]
    return {"records": len(records), "per_reason": per,
            "false_drop": round(kept_wrongly / truth["keep"], 3) if truth["keep"] else None,
            "by_variant": {k: f"{v[0]}/{v[1]}" for k, v in sorted(cells.items())},
            "wrong": wrong}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--half", choices=("dev", "report", "all"), default="report")
    args = ap.parse_args()
    records = [json.loads(line) for line in (args.set / "planted.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    records = [r for r in records if args.half == "all" or r.get("half") == args.half]
    result = {"set": str(args.set), "half": args.half, **score(records, SourceChecks.load(None))}
    print(f"{result['records']} records ({args.half}); false drops of good records "
          f"{result['false_drop']}")
    for k, v in result["per_reason"].items():
        print(f"  {k:12s} precision {v['precision']}  recall {v['recall']}")
    for k, v in result["by_variant"].items():
        print(f"    {k:45s} {v}")
    for line in result["wrong"]:
        print("  wrong:", line)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
