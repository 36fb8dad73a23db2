"""The quality gate: the labelled set meets its goals, ``ultralink validate`` reads JSONL and
built datasets, and the shared checks accept what is legitimate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.agnostic.criteria_filter import render_conversation
from ultralink.agnostic.protect import protect
from ultralink.agnostic.translate import Translator
from ultralink.agnostic.translation_checks import Validator
from ultralink.agnostic.translation_prompt import SOURCE_CLOSE, SOURCE_OPEN, unwrap_source
from ultralink.cli import main
from ultralink.quality import checks
from ultralink.jobs.validate import Gate, validate
from ultralink.core.records import Conversation, Turn, conversation_schema
from ultralink.specific.dialogue import DialogueConfig
from ultralink.specific.validate import REASONS

CASES = Path(__file__).resolve().parents[1] / "data" / "quality_labelled.jsonl"
TRANSLATION_REASONS = ("truncated", "empty", "placeholders", "preamble", "answered",
                       "duplicated", "numbers", "length_ratio", "untranslated", "language",
                       "mixed_script")


@pytest.fixture(scope="module")
def gate():
    """The set's setting: dialogues whose passage is not shown (references to it leak)."""
    return Gate(DialogueConfig(document_in_first_message=False))


@pytest.fixture(scope="module")
def cases():
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line]


def test_labelled_set_shape(cases):
    assert len(cases) >= 200
    assert {c["language"] for c in cases} == {"en", "zh", "ru", "fr", "es"}
    assert {c["kind"] for c in cases} == {"dialogue", "translation"}
    assert len({c["id"] for c in cases}) == len(cases)
    for c in cases:
        assert c["label"] in ("good", "bad")
        if c["label"] == "bad":
            allowed = REASONS if c["kind"] == "dialogue" else TRANSLATION_REASONS
            assert c["reason"] in allowed, c["id"]
    hard = [c for c in cases if "hardgood" in c["id"]]
    assert len(hard) >= 30, "legitimate uses of the words the checks look for"


def test_labelled_set_meets_the_goals(gate, cases):
    """A quality assertion (not a timing one): ≥ 95 % of bad cases caught, ≤ 5 % of good
    ones rejected, and at least 80 % of bad cases named with their expected reason."""
    bad = [c for c in cases if c["label"] == "bad"]
    good = [c for c in cases if c["label"] == "good"]
    verdicts = {c["id"]: gate.check(c) for c in cases}
    missed = [c["id"] for c in bad if not verdicts[c["id"]]]
    rejected = {c["id"]: verdicts[c["id"]] for c in good if verdicts[c["id"]]}
    assert len(missed) <= 0.05 * len(bad), missed
    assert len(rejected) <= 0.05 * len(good), rejected
    named = sum(c["reason"] in verdicts[c["id"]] for c in bad)
    assert named >= 0.8 * len(bad)


# ------------------------------------------------------------------------------------ CLI


def _dialogue(i: int, messages: list[str], lang: str = "en") -> dict:
    return {"id": f"d{i}", "kind": "dialogue", "language": lang, "document": "doc",
            "messages": [{"role": "user" if j % 2 == 0 else "assistant", "content": t}
                         for j, t in enumerate(messages)]}


def test_validate_jsonl_one_verdict_per_line_in_order(tmp_path, cases, capsys):
    picked = [c for c in cases if c["id"] in ("en_dialogue_good_0", "fr_dialogue_bad_0_leakage",
                                              "zh_translation_good_1",
                                              "es_translation_bad_0_preamble")]
    lines = [json.dumps({k: v for k, v in c.items() if k not in ("label", "reason")},
                        ensure_ascii=False) for c in picked]
    lines.insert(2, "{not json")
    lines.append(json.dumps({"id": "x", "kind": "poem", "language": "en", "messages": []}))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "verdicts.jsonl"
    # the set's setting: the passage is not in the first message, so a reference to it leaks
    assert main(["validate", "--input", str(src), "--output", str(out), "--document-hidden"]) == 0
    verdicts = [json.loads(line) for line in out.read_text().splitlines()]
    assert [set(v) for v in verdicts] == [{"id", "ok", "reasons"}] * 6
    assert [v["id"] for v in verdicts] == [picked[0]["id"], picked[1]["id"], None,
                                           picked[2]["id"], picked[3]["id"], None]
    assert [v["ok"] for v in verdicts] == [True, False, False, True, False, False]
    assert verdicts[1]["reasons"] == ["leakage"] and verdicts[4]["reasons"] == ["preamble"]
    captured = capsys.readouterr()
    assert f"{src}:3: not JSON" in captured.err and "kind 'poem'" in captured.err
    assert "validated 6 records: 2 ok, 4 rejected" in captured.out
    assert "malformed" in captured.out and "leakage" in captured.out


def test_validate_a_built_dataset_folder(tmp_path, cases):
    """chat_specific: the document comes from the first question; translations are paired with
    their English original by source id."""
    good = next(c for c in cases if c["id"] == "fr_dialogue_good_0")
    bad = next(c for c in cases if c["id"] == "fr_dialogue_bad_7_repetition")
    tr_good = next(c for c in cases if c["id"] == "fr_translation_good_1")
    tr_bad = next(c for c in cases if c["id"] == "fr_translation_bad_8_numbers")

    def write(lang: str, subset: str, rows: list[Conversation]) -> None:
        folder = tmp_path / "ds" / lang / subset
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([r.to_row() for r in rows], schema=conversation_schema())
        pq.write_table(table, folder / "part-0.parquet")

    def conv(cid: str, lang: str, subset: str, msgs: list[dict], src_id: str) -> Conversation:
        return Conversation(cid, lang, subset, [Turn(m["role"], m["content"]) for m in msgs],
                            source={"dataset": "metamathqa", "id": src_id})

    first = good["messages"][0]
    with_doc = [{"role": "user", "content": f"<document>\n{good['document']}\n</document>\n"
                                            f"{first['content']}"}] + good["messages"][1:]
    write("fr", "chat_specific", [conv("fr_a", "fr", "chat_specific", with_doc, "s1"),
                                  conv("fr_b", "fr", "chat_specific", bad["messages"], "s2")])
    write("en", "math", [conv("en_m1", "en", "math", tr_good["source"], "m1"),
                         conv("en_m2", "en", "math", tr_bad["source"], "m2")])
    write("fr", "math", [conv("fr_m1", "fr", "math", tr_good["messages"], "m1"),
                         conv("fr_m2", "fr", "math", tr_bad["messages"], "m2"),
                         conv("fr_m3", "fr", "math", tr_good["messages"], "missing")])
    out = tmp_path / "v.jsonl"
    summary = validate([str(tmp_path / "ds")], str(out))
    got = {v["id"]: v for v in map(json.loads, out.read_text().splitlines()) if v["id"]}
    assert got["fr_a"]["ok"] and got["fr_b"]["reasons"] == ["repetition"]
    assert got["fr_m1"]["ok"] and got["fr_m2"]["reasons"] == ["numbers"]
    assert summary.reasons["malformed"] == 1  # fr_m3 has no English original
    assert summary.total == 5


# --------------------------------------------------------------------------- shared checks


@pytest.mark.parametrize("lang,text", [
    ("en", "Engineers kept notes in a simple text editor, and the text of the Magna Carta was "
           "copied by hand for centuries before anyone printed it; in this context the word "
           "charter meant a grant of rights by the king to his barons."),
    ("fr", "Dans le texte de la Déclaration de 1789, l'article 6 affirme que la loi est "
           "l'expression de la volonté générale, ce qui a inspiré de nombreuses constitutions."),
    ("ru", "Статья 71 Конституции относит транспорт к ведению федерации, а в тексте Конституции "
           "1993 года этот принцип сформулирован довольно подробно и ясно."),
    ("es", "El artículo 46 de la Constitución obliga a conservar el patrimonio, y en el texto "
           "del Códice Calixtino ya se describen las etapas del viaje."),
    ("zh", "日本文化受到唐朝的深刻影响，中文中的许多词语也传入了日本，建筑材料中的青砖同样如此。"),
])
def test_legitimate_uses_are_not_leakage(gate, lang, text):
    v = gate.message_validator(lang)
    assert v.check(text, "answer").reason is None


@pytest.mark.parametrize("lang,source,target", [
    ("zh", "Tom has 3 apples and 2 pears.", "汤姆有三个苹果和两个梨。"),
    ("ru", "There are 3 cats and 4 dogs in the yard.", "Во дворе три кошки и четыре собаки."),
    ("fr", "She bought 1 book and 12 pens.", "Elle a acheté un livre et douze stylos."),
    ("es", "He walked 21 kilometres in 5 hours.", "Caminó veintiún kilómetros en cinco horas."),
])
def test_numbers_written_as_words_are_accepted(lang, source, target):
    v = Validator.for_language(lang, AgnosticConfig(), None)
    assert v._numbers(source, target) is None


def test_numbers_changed_are_still_caught():
    v = Validator.for_language("zh", AgnosticConfig(), None)
    assert v._numbers("Tom has 3 apples.", "汤姆有四个苹果。") is not None
    assert v._numbers("Tom has 3 apples.", "汤姆有 4 个苹果。") is not None


def test_indented_code_and_bare_latex_are_protected():
    p = protect("Simplify \\frac{6}{8} please.\n\n    for i in range(3):\n        print(i)\n\n"
                "Why?\n\n    - not code, a list item")
    assert p.kinds.count("indented_code") == 1 and "latex_bare" in p.kinds
    assert "    - not code" in p.text


def test_checks_units():
    assert checks.repetition("A fine sentence that is long enough. " * 3)
    assert checks.repetition("A fine sentence that is long enough. And another one.") is None
    assert checks.question_count("Why? And how?", ("?",)) == 2
    assert checks.question_count("Why is `a?b` here?", ("?",)) == 1
    assert checks.stray_script("понятие «道» и (道) в скобках", "ru") is None
    assert checks.stray_script("это очень 重要 аспект", "ru") == "重要"
    assert checks.english_run("这是 GDP 和 NASA 的例子。", "zh") is None
    assert checks.english_run("这是 a sentence left in plain English here 的例子。", "zh")
    assert checks.near_duplicate("Why did the canal change trade so much?",
                                 ["Why did the canal change the trade so much?"])
    assert not checks.near_duplicate("Why did the canal change trade?",
                                     ["How did railways affect small towns later on?"])


# ------------------------------------------------------------------------------- prompts


def test_translator_sends_the_text_in_a_delimited_block():
    t = Translator("fr", AgnosticConfig(), "chat", "message", langid=object())
    req = t.build_request("What is 2 + 2?", 1, 0.0, "a", "r")
    last = req.messages[-1].content
    assert last.startswith(SOURCE_OPEN) and last.endswith(SOURCE_CLOSE)
    assert unwrap_source(last) == "What is 2 + 2?"
    users = [m.content for m in req.messages[1:] if m.role == "user"]
    assert all(u.startswith(SOURCE_OPEN) for u in users), "few-shot turns too"
    assert t.clean("<translation>Quelle est la somme ?</translation>") == "Quelle est la somme ?"


def test_judge_sees_the_whole_admitted_conversation():
    cfg = AgnosticConfig()
    messages = [{"role": "user", "content": "q " * 3000}, {"role": "assistant",
                                                            "content": "a " * 3000 + "TAIL"}]
    text = render_conversation(messages, cfg.judge_message_chars, cfg.judge_total_chars)
    assert text.endswith("TAIL") and "[…]" not in text
    assert render_conversation(messages, 100, 150).endswith("[…]")  # still configurable


@pytest.mark.parametrize("lang", ["en", "zh", "ru", "fr", "es"])
def test_few_shot_examples_obey_the_rules_they_teach(gate, lang):
    """The examples shown to base models pass every content check of the gate (echo set
    aside: they are the echo sources), so the model is never taught what we reject."""
    from ultralink.specific.prompts import load_prompts

    v = gate.message_validator(lang)
    for ex in load_prompts(lang).examples:
        previous: list[str] = []
        for t in ex.turns:
            for text, role in ((t.question, "question"), (t.answer, "answer")):
                reason = v.content_reason(text, role, previous)  # type: ignore[arg-type]
                assert reason in (None, "echo"), (lang, reason, text[:60])
                previous.append(text)


def test_task_block_names_its_principles():
    from ultralink.specific.prompts import PromptBuilder, load_prompts

    for lang in ("en", "zh", "ru", "fr", "es"):
        b = PromptBuilder(load_prompts(lang), "chat")
        for part in ("initial_question", "in_depth_question", "expansive_question", "answer"):
            task = b.prompt_text("doc", [], part, pending_question="q?")[1].content
            task = task[task.index("<task"):]
            assert f'<principles kind="{part}">' in task, (lang, part)
            others = Counter(k for k in ("initial_question", "in_depth_question",
                                         "expansive_question") if k != part)
            assert not any(f'<principles kind="{k}">' in task for k in others)


def test_translation_output_is_checked_as_the_translator_cleans_it():
    """t2s and the Taiwan → mainland terms, as Translator.clean(), before the prose checks."""
    class Recorder:
        language = "zh"

        def check(self, source, text, **kwargs):
            self.text = text

    v = Recorder()
    Gate().check_message_translation(v, "Install the software.", "安裝軟體。")  # type: ignore[arg-type]
    assert v.text == "安装软件。"
