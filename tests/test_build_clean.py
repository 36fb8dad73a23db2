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
    work = tmp_path / "out_work"     # the default: beside the dataset
    dedup = json.loads((work / "dedup" / "en" / "questions" / "_report.json").read_text())
    assert (work / "decontaminate" / "_manifest.json").exists() and not (out / "_work").exists()
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


def test_a_planted_test_item_is_gone_in_every_language_and_the_clean_records_kept(
        ray_local, tmp_path):
    """A GSM8K-style test item planted in the English math source verbatim, reworded and in
    translation (zh, ru, fr, es) ends in no language; every clean record is kept in each.
    The standard sets come from evals_dir; math_test and humaneval are named as not checked."""
    from tests.build_helpers import ROOT, ids_by_subset

    gsm = json.loads((EVALS / "gsm_style_test.jsonl").read_text().splitlines()[0])
    evals = tmp_path / "evals"
    evals.mkdir()
    (evals / "gsm8k_test.jsonl").write_text((EVALS / "gsm_style_test.jsonl").read_text())
    (evals / "mgsm_zh.tsv").write_text((EVALS / "mgsm_style_zh.tsv").read_text())
    done = "\nThe answer is: 48"
    planted = [
        (gsm["question"], gsm["answer"]),
        ("Each Saturday Marisol bakes 24 cinnamon rolls, hands a third to the neighbours and "
         "sells the others at $3 apiece at the fair. What does she earn each Saturday?",
         "She sells 16 rolls: 16 * 3 = 48."),
        ("玛丽索尔每周六烤24个肉桂卷，三分之一送给邻居，剩下的在集市上每个卖3美元。她每周六赚多少钱？",
         "她卖出16个，16×3=48美元。"),
        ("Каждую субботу Марисоль печёт 24 булочки, треть отдаёт соседям, остальные продаёт "
         "по 3 доллара. Сколько она зарабатывает?", "Она продаёт 16 булочек: 16 × 3 = 48."),
        ("Chaque samedi, Marisol cuit 24 brioches, en donne un tiers à ses voisins et vend le "
         "reste 3 $ pièce. Combien gagne-t-elle ?", "Elle vend 16 brioches : 16 × 3 = 48."),
        ("Cada sábado Marisol hornea 24 rollos, regala un tercio a sus vecinos y vende el "
         "resto a 3 $ cada uno. ¿Cuánto gana?", "Vende 16 rollos: 16 × 3 = 48."),
    ]
    math = tmp_path / "math.jsonl"
    math.write_text("".join(json.dumps({"query": q, "response": a + done}, ensure_ascii=False)
                            + "\n" for q, a in planted)
                    + (ROOT / "data" / "sample" / "sft" / "metamathqa_sample.jsonl").read_text())
    cfg = BuildConfig(output=str(tmp_path / "out"), languages=["en", "zh", "fr"],
                      sources={"math": [str(math)]}, sizes={"prune": {"math": 50}},
                      decontaminate={"evals_dir": str(evals)},
                      engines={"generator": {"engine": "tests.build_helpers:BuildFake",
                                             "model": "gemma3-270m", "max_concurrency": 16}})
    result = run_build(cfg, progress=False)
    out = Path(cfg.output)
    import pyarrow.parquet as pq

    def sources(lang: str) -> set[str]:
        return {r["id"] for part in (out / lang / "math").glob("part-*.parquet")
                for r in pq.read_table(part, columns=["source"]).column("source").to_pylist()}

    assert len(sources("en")) == 12   # the bundled MetaMathQA sample, every record kept
    for lang in cfg.languages:
        dropped = result["stages"][f"agnostic/{lang}/math"]["dropped"]
        assert dropped.pop("contaminated:gsm8k_test") == 6, (lang, dropped)
        assert all(k.startswith("translation_") for k in dropped)   # the fake's own failures
        assert sources(lang) <= sources("en")
    assert sorted(ids_by_subset(out)) == ["en/math", "fr/math", "zh/math"]
    text = json.dumps([json.loads((out / "_decontamination.json").read_text())])
    assert '"not_checked": [{"name": "math_test"' in text and '"removed_at_source": 18' in text
    entry = json.loads((out / "_manifest.json").read_text())["stages"]["decontaminate"]
    assert entry["removed_by_place"]["fr/math"] == {"gsm8k_test": {"source": 6}}
    assert entry["not_checked"] == ["math_test", "humaneval"]
    card = (out / "README.md").read_text()
    assert "| `zh/math` | `gsm8k_test` | 6 | 0 |" in card and "`humaneval` (not under" in card
