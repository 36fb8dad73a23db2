"""Every message check in all five languages, with the real fastText lid.176."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ultralink.specific.prompts import PromptBuilder, load_prompts
from ultralink.specific.validate import MessageValidator, shingles

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specific_fakes import ANSWERS, LEAK, QUESTIONS

CODES = ["en", "es", "fr", "ru", "zh"]
LABELED = {  # what models prepend, and what must come out
    "en": ['Question: "{q}"', "**Question:** {q}", "Follow-up question: {q}"],
    "zh": ["问题：{q}", "问题: 「{q}」", "追问：“{q}”"],
    "ru": ["Вопрос: {q}", "«{q}»", "Уточняющий вопрос: {q}"],
    "fr": ["Question : {q}", "Question\u00a0: « {q} »", "Question de relance : {q}"],
    "es": ["Pregunta: {q}", "Pregunta de seguimiento: \"{q}\"", "Usuario: {q}"],
}


@pytest.fixture(scope="module")
def validators():
    out = {}
    for code in CODES:
        p = load_prompts(code)
        v = MessageValidator(p, echo_sources=PromptBuilder(p, "completion").echo_sources())
        v.setup()
        out[code] = v
    return out


@pytest.mark.parametrize("code", CODES)
def test_good_messages_pass(validators, code):
    v = validators[code]
    for q in QUESTIONS[code]:
        assert v.check(q, "question").reason is None, q
    for a in ANSWERS[code]:
        assert v.check(a, "answer").reason is None, a


@pytest.mark.parametrize("code", CODES)
def test_role_labels_and_quotes_are_stripped(validators, code):
    v = validators[code]
    q = QUESTIONS[code][0]
    for pattern in LABELED[code]:
        verdict = v.check(pattern.format(q=q), "question")
        assert verdict.ok and verdict.text == q, (pattern, verdict)
    a = ANSWERS[code][0]
    answer_label = {"en": "Answer: ", "zh": "回答：", "ru": "Ответ: ", "fr": "Réponse : ",
                    "es": "Respuesta: "}[code]
    verdict = v.check(answer_label + a, "answer")
    assert verdict.ok and verdict.text == a


@pytest.mark.parametrize("code", CODES)
def test_rejections(validators, code):
    v = validators[code]
    q, a = QUESTIONS[code][1], ANSWERS[code][1]
    other = "fr" if code == "en" else "en"
    cases = {
        "empty": ("  \n ", "question"),
        "too_short": (q[:6], "question"),
        "not_a_question": (q.rstrip("?？") + ("。" if code == "zh" else "."), "question"),
        "leakage": (f"{LEAK[code].capitalize()}, {a}", "answer"),
        "wrong_language": (ANSWERS[other][2], "answer"),
        "echo": ("<document>" + a, "answer"),
    }
    for reason, (text, role) in cases.items():
        assert v.check(text, role).reason == reason, (reason, text)
    assert v.check(a[:30], "answer").reason == "too_short"
    assert v.check(a, "answer", finish_reason="length").reason == "truncated"
    assert v.check(QUESTIONS[other][0], "question").reason == "wrong_language"


@pytest.mark.parametrize("code", CODES)
def test_echo_of_principles_examples_and_history(validators, code):
    v = validators[code]
    p = load_prompts(code)
    principle = p.parts["answer"].principles[1]
    assert v.check(principle, "answer").reason == "echo"
    example_answer = p.examples[0].turns[0].answer
    assert v.check(example_answer, "answer").reason == "echo"
    example_q = p.examples[1].turns[0].question
    assert v.check(example_q, "question").reason == "echo"
    # repeating an earlier message of the dialogue is an echo; restating a few words is not
    q0, q1 = QUESTIONS[code][0], QUESTIONS[code][1]
    assert v.check(q0, "question", previous=[q0, ANSWERS[code][0]]).reason == "echo"
    assert v.check(q1, "question", previous=[q0, ANSWERS[code][0]]).reason is None
    label = p.assistant_label
    assert v.check(f"{ANSWERS[code][2]}\n{label}: more", "answer").reason == "echo"


def test_chinese_output_is_converted_to_simplified(validators):
    v = validators["zh"]
    verdict = v.check("為什麼古代的農民要根據節氣來安排播種和收穫的時間？", "question")
    assert verdict.ok and verdict.text == "为什么古代的农民要根据节气来安排播种和收获的时间？"
    verdict = v.check("为什么电脑需要作业系统和软体才能运行程序？", "question")
    assert verdict.text == "为什么电脑需要操作系统和软件才能运行程序？"


def test_spanish_question_needs_only_the_closing_mark(validators):
    v = validators["es"]
    assert v.check("Por qué los peregrinos recorrían caminos tan largos y peligrosos?",
                   "question").ok
    assert v.check("¿Por qué los peregrinos recorrían caminos tan largos y peligrosos",
                   "question").reason == "not_a_question"


def test_threshold_is_configurable():
    p = load_prompts("fr")
    strict = MessageValidator(p, langid_threshold=1.01 - 1e-9)
    assert strict.check(QUESTIONS["fr"][0], "question").reason == "wrong_language"


def test_shingles_use_characters_for_chinese():
    assert all(len(s) == 12 for s in shingles("为什么古代的农民要根据节气来安排播种"))
    assert all(len(s.split()) == 8 for s in shingles(" ".join(f"w{i}" for i in range(20))))
