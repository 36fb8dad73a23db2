"""The build's cleaning stages: per-language question dedup, then decontamination, recorded in
the root manifest, stated on the card, skipped on a rerun. English math only (passes through,
no engine), so no model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.dedup_helpers import ids
from ultralink.build import BuildConfig, run_build

EVALS = Path(__file__).parent / "data" / "evals"


def test_build_dedups_questions_and_decontaminates(ray_local, tmp_path):
    gsm = json.loads((EVALS / "gsm_style_test.jsonl").read_text().splitlines()[0])
    rows = [{"idx": "m1", "question": gsm["question"], "answer": "#### 48"},          # contaminated
            {"idx": "m2", "question": "A shop sells 12 pens a day for 9 days and then 4 pens a "
             "day for the rest of the month. How many pens in 30 days?", "answer": "#### 192"},
            {"idx": "m3", "question": "a shop sells 12 pens a day for 9 days, and then 4 pens "
             "a day for the rest of the month: how many pens in 30 days", "answer": "#### 192"},
            {"idx": "m4", "question": "What is the sum of the first ten odd numbers? Explain "
             "the pattern that you notice.", "answer": "#### 100"}]
    src = tmp_path / "math.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = BuildConfig(output=str(tmp_path / "out"), languages=["en"],
                      sources={"math": [str(src)]}, dedup={},
                      decontaminate=[str(EVALS / "gsm_style_test.jsonl")])
    out = Path(cfg.output)
    result = run_build(cfg, progress=False)
    stages = result["stages"]
    assert list(stages) == ["agnostic/en/math", "dedup/en/questions", "decontaminate"]
    # the planted item goes at the source, before any LLM call; the output pass finds none
    assert stages["agnostic/en/math"]["dropped"] == {"contaminated:gsm_style_test": 1}
    assert stages["dedup/en/questions"]["dropped"] == {"exact_duplicate": 1}
    assert stages["decontaminate"]["dropped"] == {}
    left = ids(out)
    assert len(left) == 2 and stages["decontaminate"]["out"] == 2
    report = json.loads((out / "_decontamination.json").read_text())
    assert report["removed"] == 0 and report["removed_at_source"] == 1
    assert report["removed_by_place"] == {"en/math": {"gsm_style_test": {"source": 1}}}
    assert len(report["not_checked"]) == 4   # the standard sets: no evals_dir
    dedup = json.loads((out / "_work" / "dedup" / "en" / "questions" / "_report.json").read_text())
    assert dedup["clusters"][0]["kind"] == "exact"
    card = (out / "README.md").read_text()
    assert "## Decontamination" in card and "`gsm_style_test`" in card and "0 of 2 records" in card
    assert "| `en/math` | `gsm_style_test` | 1 | 0 |" in card and "**not** checked against" in card
    assert json.loads((out / "stats.json").read_text())["table1"]["UltraLink"]["total"] == 2
    again = run_build(cfg, progress=False)
    assert all(s["skipped"] for s in again["stages"].values()) and ids(out) == left

    # the CLI on a built dataset: same layout elsewhere, stats and card refreshed there
    from ultralink.cli import main

    clean = tmp_path / "clean"
    assert main(["decontaminate", "--dataset", str(out), "--output", str(clean), "--against",
                 str(EVALS / "humaneval_style.jsonl")]) == 0
    assert ids(clean) == left and (clean / "en" / "math" / "_manifest.json").exists()
    assert "`humaneval_style`" in (clean / "README.md").read_text()
    assert json.loads((clean / "stats.json").read_text())["table1"]["UltraLink"]["total"] == 2
