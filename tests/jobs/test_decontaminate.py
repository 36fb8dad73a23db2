"""Decontamination against evaluation sets in their real formats: GSM8K-style JSONL, MGSM-style
headerless TSV (Chinese, character n-grams), HumanEval-style JSONL and Parquet.

The fixtures in tests/data/evals are our own problems in those formats (no benchmark text is
copied into the repository); the real GSM8K/HumanEval samples in ../shared/samples are used
when present.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.dedup_helpers import conv, ids, write_conversations
from ultralink.cli import main
from ultralink.jobs.decontaminate import (
    DecontaminateConfig,
    DecontaminateJob,
    build_index,
    run_decontaminate,
    set_name,
)

EVALS = Path(__file__).resolve().parents[1] / "data" / "evals"
GSM = [json.loads(line) for line in (EVALS / "gsm_style_test.jsonl").read_text().splitlines()]
HE = [json.loads(line) for line in (EVALS / "humaneval_style.jsonl").read_text().splitlines()]
AGAINST = [str(EVALS / "gsm_style_test.jsonl"), str(EVALS / "mgsm_style_zh.tsv"),
           str(EVALS / "humaneval_style.jsonl")]


def planted_dataset(root: Path) -> dict[str, str]:
    """A dataset in our layout; returns {id: expected reason or ''} for every record."""
    q0 = GSM[0]["question"]
    reworded = ("Here is a word problem for you. " + q0.split(". ", 1)[1].replace(
        "How much money does she make each Saturday?", "What are her weekly earnings?"))
    expect = {
        "en_math_verbatim": "contaminated:gsm_style_test",
        "en_math_reworded": "contaminated:gsm_style_test",   # a 13-word stretch survives
        "en_math_answer": "contaminated:gsm_style_test",     # the solution text, not the question
        "en_math_paraphrase": "",                            # no 13-gram in common: kept
        "en_math_clean": "",
        "zh_math_translated": "contaminated:mgsm_style_zh",  # character n-grams
        "zh_math_clean": "",
        "en_code_prompt": "contaminated:humaneval_style",
        "en_code_clean": "",
    }
    write_conversations(root / "en" / "math" / "part-a.parquet", [
        conv("en_math_verbatim", "en", "math", q0, "48"),
        conv("en_math_reworded", "en", "math", reworded, "48"),
        conv("en_math_answer", "en", "math", "Solve the rolls problem.", GSM[0]["answer"]),
        conv("en_math_paraphrase", "en", "math", "Every weekend a baker makes two dozen rolls, "
             "donates one in three and sells the others for three dollars apiece. Income?", "48"),
    ])
    write_conversations(root / "en" / "math" / "part-b.parquet", [
        conv("en_math_clean", "en", "math", "A farmer has 17 sheep and buys 5 more. How many "
             "sheep does the farmer have now? Show your reasoning step by step please.", "22"),
    ])
    write_conversations(root / "zh" / "math" / "part-a.parquet", [
        conv("zh_math_translated", "zh", "math", "玛丽索每个星期六烤24个肉桂卷，她把其中三分之一"
             "送给邻居，其余的在乡村集市上以每个3美元的价格出售。请问她每个星期六能赚多少钱？", "48"),
        conv("zh_math_clean", "zh", "math", "一个农民有17只羊，又买了5只。现在这个农民一共有多少只羊？",
             "22"),
    ])
    write_conversations(root / "en" / "code" / "part-a.parquet", [
        conv("en_code_prompt", "en", "code", "Complete this function:\n\n" + HE[0]["prompt"],
             HE[0]["canonical_solution"]),
        conv("en_code_clean", "en", "code", "Write a function that reverses a string in "
             "Python and explain how slicing with a negative step works.", "return s[::-1]"),
    ])
    return expect


def test_index_reads_every_format(tmp_path):
    pq.write_table(pa.Table.from_pylist(HE), tmp_path / "he.parquet")
    idx = build_index([*AGAINST, str(tmp_path / "he.parquet")])
    assert idx.names == ["gsm_style_test", "mgsm_style_zh", "humaneval_style", "he"]
    assert idx.rows_per_set == [3, 2, 2, 2]
    assert idx.match(HE[1]["prompt"])["set"] == "humaneval_style"  # first set wins
    assert idx.match("nothing in common with any set at all here, just some words") is None
    assert set_name("s3://b/evals/gsm8k_test.jsonl.gz") == "gsm8k_test"
    with pytest.raises(ValueError, match="unknown evaluation-set format"):
        (tmp_path / "x.csv").write_text("a,b\n")
        build_index([str(tmp_path / "x.csv")])


def test_cli_removes_planted_rows_and_writes_same_layout(ray_local, tmp_path, capsys):
    src, dst = tmp_path / "ds", tmp_path / "clean"
    expect = planted_dataset(src)
    (src / "en" / "math" / "_manifest.json").write_text("{}")
    args = ["decontaminate", "--dataset", str(src), "--output", str(dst)]
    assert main([*args, *(x for a in AGAINST for x in ("--against", a))]) == 0
    assert "5 of 9 records removed" in capsys.readouterr().out
    assert ids(dst) == sorted(i for i, why in expect.items() if not why)
    assert ids(src) == sorted(expect)                      # the input is left alone
    assert (dst / "en" / "math" / "part-b.parquet").exists()
    assert (dst / "en" / "math" / "_manifest.json").exists()  # bookkeeping copied
    report = json.loads((dst / "_decontamination.json").read_text())
    got = {r["id"]: "contaminated:" + r["set"] for r in report["removed_records"]}
    assert got == {i: why for i, why in expect.items() if why}
    assert report["removed_by_set"] == {"gsm_style_test": 3, "mgsm_style_zh": 1,
                                        "humaneval_style": 1}
    zh = next(r for r in report["removed_records"] if r["id"] == "zh_math_translated")
    assert "肉桂卷" in zh["matched"] and zh["overlap"] in zh["matched"]  # 13 tokens: "24" is one
    dropped = {"contaminated:gsm_style_test": 3, "contaminated:humaneval_style": 1,
               "contaminated:mgsm_style_zh": 1}
    assert report["stages"] == [{"stage": "decontaminate", "in": 9, "out": 4,
                                 "dropped": dropped, "seconds": None, "records_per_s": None}]
    assert report["summary"]["dropped"] == dropped
    # an output that already holds shards is refused without --overwrite
    assert main([*args, "--against", AGAINST[0]]) == 2
    # the typed config stands for the keyword parameters
    again = run_decontaminate(str(src), None, str(tmp_path / "again"),
                              config=DecontaminateConfig(against=AGAINST))
    assert again["removed_by_set"] == report["removed_by_set"]
    assert ids(tmp_path / "again") == ids(dst)


def test_shared_gsm8k_and_humaneval_samples(ray_local, tmp_path, shared_samples):
    """The real formats: rows of the shared GSM8K test and HumanEval samples planted."""
    gsm = [json.loads(x) for x in (shared_samples / "gsm8k_test.jsonl").read_text().splitlines()[:40]]
    he = [json.loads(x) for x in (shared_samples / "humaneval_en.jsonl").read_text().splitlines()[:20]]
    src = tmp_path / "ds"
    write_conversations(src / "en" / "math" / "part-a.parquet", [
        conv("m_verbatim", "en", "math", gsm[7]["question"], gsm[7]["answer"]),
        conv("m_reworded", "en", "math", "Quick one: " + gsm[12]["question"].rstrip("?") + ", roughly?", "x"),
        conv("m_clean", "en", "math", "What is seven times eight? Think about it carefully.", "56"),
    ])
    write_conversations(src / "en" / "code" / "part-a.parquet", [
        conv("c_prompt", "en", "code", "Finish the code below.\n" + he[3]["prompt"], "pass"),
        conv("c_clean", "en", "code", "Write hello world in Rust with a short explanation.", "fn main"),
    ])
    report = run_decontaminate(str(src), [str(shared_samples / "gsm8k_test.jsonl"),
                                          str(shared_samples / "humaneval_en.jsonl")],
                               str(tmp_path / "out"))
    assert {r["id"] for r in report["removed_records"]} == {"m_verbatim", "m_reworded", "c_prompt"}
    assert ids(tmp_path / "out") == ["c_clean", "m_clean"]


def test_s3_dataset_and_output(ray_local, tmp_path, s3_env):
    import boto3

    src = tmp_path / "ds"
    planted_dataset(src)
    s3 = boto3.client("s3")
    for f in src.rglob("*.parquet"):
        s3.upload_file(str(f), s3_env, "ds/" + str(f.relative_to(src)))
    report = run_decontaminate(f"s3://{s3_env}/ds", AGAINST, f"s3://{s3_env}/clean")
    assert report["removed"] == 5 and report["checked"] == 9
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_env, Prefix="clean/")["Contents"]}
    assert {"clean/_decontamination.json", "clean/en/math/part-b.parquet",
            "clean/zh/math/part-a.parquet"} <= keys


def test_config_is_strict_and_is_the_identity():
    cfg = DecontaminateConfig(against=AGAINST[:1], word_n=8)
    assert DecontaminateJob(cfg).identity() == {"against": AGAINST[:1], "word_n": 8,
                                                 "char_n": 13, "min_numbers": 3,
                                                 "min_containment": 0.5, "evals_dir": None,
                                                 "standard": ["gsm8k_test", "math_test",
                                                              "mgsm", "humaneval"],
                                                 "at_source": True}
    with pytest.raises(ValueError, match="ngram"):
        DecontaminateConfig(against=AGAINST, ngram=8)
    with pytest.raises(ValueError):
        DecontaminateConfig(word_n=0)


def test_numbers_signature_catches_translations_and_the_shingles_rewordings():
    """A math problem's numbers and answer survive translation; most of its word 3-grams
    survive a light rewording; a problem on the same story with other numbers is kept."""
    idx = build_index(AGAINST)
    q0 = GSM[0]["question"]
    answer = GSM[0]["answer"].rsplit("####", 1)[-1].strip()
    nums = [n for n in q0.replace("$", " ").split() if n.strip(".,?").isdigit()]
    ru = ("Мариса каждую субботу печёт " + " и ".join(nums)
          + " булочек и продаёт их на рынке. Сколько она зарабатывает?")
    found = idx.match_messages([("user", ru), ("assistant", f"Ответ: {answer}")])
    assert found and found["how"] == "numbers" and found["set"] == "gsm_style_test"
    assert idx.match_messages([("user", ru), ("assistant", "Ответ: 7")]) is None
    other = [("user", ru.replace(nums[0], str(int(nums[0]) + 11))),
             ("assistant", f"Ответ: {answer}")]
    assert idx.match_messages(other) is None
    words = q0.split()
    light = " ".join(w if i % 9 else w.upper() + " indeed" for i, w in enumerate(words))
    hit = idx.match(light)
    assert hit and hit["set"] == "gsm_style_test"


def test_a_renamed_task_keeps_its_examples_and_a_new_template_its_own_numbers(tmp_path):
    """Code: a renamed, reworded task is caught by its examples' literals; a different task
    sharing one literal is not. Math: the same wording with its numbers replaced is another
    problem (kept) while a copy that leaves a sentence out still goes; spelled-out numbers
    and "13.80" for 13.8 are read as the numbers they are."""
    from ultralink.jobs.decontaminate.signatures import literals, stated_numbers

    evals = tmp_path / "evals.jsonl"
    evals.write_text("".join(json.dumps(r) + "\n" for r in [
        {"task_id": "T/0", "entry_point": "count_runs", "canonical_solution": "    ...\n",
         "prompt": 'def count_runs(text: str) -> int:\n    """Count runs of equal letters.\n'
                   '    >>> count_runs("aabbbc")\n    3\n    >>> count_runs("zz")\n    1\n'
                   '    >>> count_runs([4, 4, 5])\n    2\n    """\n'},
        {"question": "A baker sells 36 loaves on Monday and 45 loaves on Tuesday at $2.50 "
                     "each. How much money does the baker make over the two days?",
         "answer": "36+45=81 loaves, 81*2.5=202.5\n#### 202.5"},
    ]))
    idx = build_index([str(evals)])
    assert literals('f(l: list, t: int) == [1, 2]; g("ab")') == {"[1,2]", "ab"}
    renamed = [("user", "Write runs_of(s) counting maximal blocks of one repeated letter: "
                        "runs_of('aabbbc') gives 3 and runs_of('zz') gives 1."),
               ("assistant", "def runs_of(s):\n    return len([k for k in groupby(s)])")]
    assert idx.match_messages(renamed)["how"] == "examples"
    other = [("user", "Reverse the string 'aabbbc' in Python."), ("assistant", "s[::-1]")]
    assert idx.match_messages(other) is None
    assert stated_numbers("twelve apples cost 13.80") == {"12": 1, "1380": 1, "138": 1}
    template = ("A baker sells 12 loaves on Monday and 20 loaves on Tuesday at $2.50 each. How "
                "much money does the baker make over the two days?")
    assert idx.match_messages([("user", template), ("assistant", "#### 80")]) is None
    cut = "How much money does the baker make over the two days, selling at $2.50 each?"
    assert idx.match_messages([("user", "Monday 36, Tuesday 45. " + cut),
                               ("assistant", "#### 202.50")])


def test_a_removal_is_passed_on_to_every_record_of_the_same_english_source(ray_local, tmp_path):
    """The English original is caught; its translation, which shares no n-gram and states
    no answer, goes with it (same ``source.id``); a chat_specific dialogue is never matched
    by source."""
    q0 = GSM[0]["question"]

    def rec(rid: str, lang: str, subset: str, user: str, src: str) -> dict:
        row = conv(rid, lang, subset, user, "ok")
        row["source"] = {**row["source"], "dataset": "metamathqa", "id": src}
        return row

    root = tmp_path / "ds"
    write_conversations(root / "en" / "math" / "part-a.parquet",
                        [rec("en1", "en", "math", q0, "mm-7"),
                         rec("en2", "en", "math", "What is two plus two?", "mm-8")])
    write_conversations(root / "fr" / "math" / "part-a.parquet",
                        [rec("fr1", "fr", "math", "Un problème de brioches.", "mm-7"),
                         rec("fr2", "fr", "math", "Combien font deux plus deux ?", "mm-8")])
    write_conversations(root / "fr" / "chat_specific" / "part-a.parquet",
                        [rec("fr3", "fr", "chat_specific", "Une question.", "mm-7")])
    report = run_decontaminate(str(root), AGAINST[:1], str(tmp_path / "clean"))
    assert sorted(ids(tmp_path / "clean")) == ["en2", "fr2", "fr3"]
    how = {r["id"]: r["how"] for r in report["removed_records"]}
    assert how == {"en1": "ngram", "fr1": "same_source"}
    assert report["removed_by_place"] == {"en/math": {"gsm_style_test": {"ngram": 1}},
                                          "fr/math": {"gsm_style_test": {"same_source": 1}}}


def test_standard_sets_are_found_by_name_and_the_missing_ones_named(tmp_path, caplog):
    from ultralink.jobs.decontaminate.sets import known_test_file

    evals = tmp_path / "evals"
    (evals / "humaneval").mkdir(parents=True)
    (evals / "gsm8k_test.jsonl").write_text((EVALS / "gsm_style_test.jsonl").read_text())
    (evals / "mgsm_zh.tsv").write_text((EVALS / "mgsm_style_zh.tsv").read_text())
    (evals / "mgsm_ru.tsv").write_text("Вопрос про 3 яблока и 4 груши?\t7\n")
    (evals / "humaneval" / "humaneval_en.jsonl").write_text(
        (EVALS / "humaneval_style.jsonl").read_text())
    (evals / "notes.txt").write_text("not a set")
    found = DecontaminateConfig(evals_dir=str(evals)).resolve()
    by_name = {s.name: [Path(u).name for u in s.uris] for s in found.sets}
    assert by_name == {"gsm8k_test": ["gsm8k_test.jsonl"], "mgsm": ["mgsm_ru.tsv", "mgsm_zh.tsv"],
                       "humaneval": ["humaneval_en.jsonl"]}
    assert found.missing == {"math_test": f"not under {evals}"}
    assert "not checked against math_test" in caplog.text
    index = build_index(found.sets)
    assert index.names == ["gsm8k_test", "mgsm", "humaneval"]
    assert index.match_messages([("user", GSM[0]["question"])])["set"] == "gsm8k_test"
    # unset or absent: every standard set named, nothing checked; explicit sets stay strict
    assert set(DecontaminateConfig().resolve().missing.values()) == {"no evals_dir set"}
    gone = DecontaminateConfig(evals_dir=str(tmp_path / "nope")).resolve(warn=False)
    assert not gone.sets and len(gone.missing) == 4
    with pytest.raises(ValueError, match="evaluation set"):
        build_index(DecontaminateConfig(against=[str(tmp_path / "x.jsonl")]).resolve().sets)
    # training inputs named like a test split
    assert known_test_file("s3://b/gsm8k/test.jsonl") == "gsm8k test"
    assert known_test_file("/d/HumanEval.jsonl.gz") == "humaneval"
    assert known_test_file("/d/mgsm_zh.tsv") == "mgsm"
    assert known_test_file("/d/math/test-00000.parquet") == "MATH test"
    for fine in ("/d/MetaMathQA-395K.json", "/tests/data/sft/math_train.jsonl",
                 "/d/gsm8k/train.jsonl", "/d/latest/math.jsonl", "/d/contest_math.jsonl"):
        assert known_test_file(fine) is None, fine


def test_build_decontaminates_by_default_and_says_what_was_not_checked(ray_local, tmp_path):
    """No evals_dir: the standard sets are named in one warning and on the card as not
    checked; an explicit set must exist (one line before anything runs)."""
    from ultralink.build import BuildConfig, run_build
    from ultralink.core.errors import UsageError

    src = tmp_path / "math.jsonl"
    src.write_text(json.dumps({"question": "What is 12 plus 30, and why?", "answer": "#### 42"})
                   + "\n")
    cfg = BuildConfig(output=str(tmp_path / "out"), languages=["en"], sources={"math": [str(src)]})
    run_build(cfg, progress=False)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "were **not** checked for copies of evaluation items" in card
    assert "`gsm8k_test` (no evals_dir set)" in card and "`humaneval`" in card
    bad = cfg.model_copy(update={"decontaminate": DecontaminateConfig(
        against=[str(tmp_path / "missing.jsonl")])})
    with pytest.raises(UsageError, match="decontaminate.against: .*missing.jsonl"):
        run_build(bad, progress=False)


def test_cli_looks_up_the_standard_sets(ray_local, tmp_path, capsys):
    src, evals = tmp_path / "ds", tmp_path / "evals"
    planted_dataset(src)
    evals.mkdir()
    (evals / "gsm8k_test.jsonl").write_text((EVALS / "gsm_style_test.jsonl").read_text())
    (evals / "mgsm_zh.tsv").write_text((EVALS / "mgsm_style_zh.tsv").read_text())
    args = ["decontaminate", "--dataset", str(src), "--output", str(tmp_path / "out")]
    assert main([*args, "--evals-dir", str(evals)]) == 0
    report = json.loads((tmp_path / "out" / "_decontamination.json").read_text())
    assert report["removed_by_set"] == {"gsm8k_test": 3, "mgsm": 1}
    assert [m["name"] for m in report["not_checked"]] == ["math_test", "humaneval"]
    capsys.readouterr()
    assert main(args + ["--overwrite"]) == 2   # no set named at all: one line
    assert "--against FILE or --evals-dir DIR" in capsys.readouterr().err


def test_missing_standard_sets_are_fetched_when_asked(tmp_path):
    """fetch_missing: a standard set not in evals_dir comes from the Hub (here a scripted
    loader standing in for ``datasets.load_dataset``: no network in tests) and is written
    there as JSONL; a failed fetch is a reason in the card, not an error. MGSM's numeric
    ``answer_number`` is its answer."""
    from ultralink.jobs.decontaminate import sets

    calls = []

    def load(repo, config, split):
        calls.append((repo, config, split))
        if repo == "juletxara/mgsm":
            return [{"question": f"{config}: 12 Äpfel und 30 Birnen, 7 gegessen?",
                     "answer": None, "answer_number": 35, "equation_solution": None}]
        raise ConnectionError("no route to the Hub")

    evals = tmp_path / "evals"
    evals.mkdir()
    (evals / "gsm8k_test.jsonl").write_text((EVALS / "gsm_style_test.jsonl").read_text())
    failed = sets.fetch_missing(["mgsm", "humaneval", "nonesuch"], str(evals), load=load)
    assert set(failed) == {"humaneval", "nonesuch"} and "ConnectionError" in failed["humaneval"]
    assert (evals / "mgsm_zh.jsonl").exists() and len(calls) == 12
    found = DecontaminateConfig(evals_dir=str(evals)).resolve(warn=False)
    assert [s.name for s in found.sets] == ["gsm8k_test", "mgsm"]
    idx = build_index(found.sets)
    hit = idx.match_messages([("user", "12 apples and 30 pears, 7 eaten: how many left?"),
                              ("assistant", "12 + 30 - 7 = 35")])
    assert hit and hit["set"] == "mgsm" and hit["how"] == "numbers"
