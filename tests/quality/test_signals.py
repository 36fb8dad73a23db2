"""Structural checks (``ultralink.quality.signals``) and the independent labelled set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ultralink.agnostic.protect import protect
from ultralink.jobs.validate import _find_span
from ultralink.quality import checks, signals

INDEPENDENT = Path(__file__).resolve().parents[1] / "data" / "quality_independent.jsonl"


@pytest.mark.parametrize("text", [
    "It ends here.<|im_end|>\n<|im_start|>assistant", "答案如下。</s>[/INST]",
    "Fine.<end_of_turn>\n<start_of_turn>user", "Done <｜end▁of▁sentence｜>",
    "x<|eot_id|><|start_header_id|>assistant<|end_header_id|>"])
def test_control_tokens_of_every_family(text):
    assert signals.special_token(text)


def test_tokens_shown_as_code_are_fine():
    assert signals.special_token("The tokenizer marks the end with `</s>`; see ```\n<s>x</s>\n```") is None
    assert signals.special_token("Use <body> and <strong> tags.") is None


@pytest.mark.parametrize("text, cut", [
    ("The rate of decay is why the rate of", True),
    ("1. Apples.\n2. Pears.\n3. Italian ravioli, which", True),
    ("```python\nprint(1)\n", True),
    ("The fraction (three quarters", True),
    ("Remaining: 420 - 147 =", True),
    ("主要是因为丝绸在", True),
    ("It was finished in 1825.", False),
    ("So 9 + 16 = 25", False),
    ("Ingredients:\n- flour\n- water\n- salt", False),
    ("```python\nprint(1)\n```", False),
    ("#### 72", False),
    ("«Bonjour», dit-il.", False),
    ("它建于1825年。", False),
])
def test_truncation_is_read_from_the_text(text, cut):
    assert bool(signals.truncated(text)) is cut


def test_placeholders_but_not_the_spanish_word_todo():
    assert signals.placeholder("[INSERT ANSWER HERE]")
    assert signals.placeholder("TODO: write the second step")
    assert signals.placeholder("Lorem ipsum dolor sit amet.")
    assert signals.placeholder("Todo el mundo lo sabe y todo cambió.") is None
    assert signals.placeholder("Call `TODO()` in the code block") is None


def test_copying_and_answers_stated_by_their_question():
    passage = ("The canal was completed in 1825 and linked the Hudson River to Lake Erie, cutting "
               "freight costs between Buffalo and New York City by about ninety five percent")
    assert signals.copied_run(passage, passage, 20) >= 20
    assert signals.copied_run("It opened in 1825 and made shipping far cheaper.", passage, 20) == 0
    q = "Since the canal cut freight costs by ninety five percent, did trade shift to New York?"
    assert signals.answer_in_question(q, "Yes: freight costs fell by ninety five percent, so "
                                         "trade shifted to New York.") > 0.35
    assert signals.answer_in_question("Why did trade shift?", "Cheaper freight pulled grain "
                                      "east along the waterway towards the Atlantic ports.") < 0.1


def test_sentences_are_counted_outside_code():
    assert signals.sentence_count("One. Two! Three?") == 3
    assert signals.sentence_count("Pi is 3.14 here. ```\na = 1. b = 2.\n```") == 1
    assert signals.sentence_count("第一句。第二句！") == 2


def test_a_translator_may_write_numbers_the_target_way():
    """protect keeps grouped numbers whole; the gate finds them in either convention."""
    p = protect("Total = 1,250.75 + 980.25 = 2,231.00.")
    assert p.spans == ["1,250.75 + 980.25 = 2,231.00"]
    assert _find_span("Всего = 1 250,75 + 980,25 = 2 231,00.", p.spans[0], "arithmetic")
    assert _find_span("2 × 1,50 = 3", "2 × 1.50 = 3", "arithmetic")
    assert _find_span("2 × 15,0 = 3", "2 × 1.50 = 3", "arithmetic") is None
    assert _find_span("`sorted(x)`", "`sorted(x)`", "inline_code")
    assert _find_span("`trié(x)`", "`sorted(x)`", "inline_code") is None


def test_chinese_full_of_code_is_still_chinese():
    text = "`WHERE` 子句只保留2023年的订单，`SUM(o.total)` 累加每位客户的消费额，然后取前五名。"
    assert checks.written_in_own_script(text, "zh")
    assert not checks.written_in_own_script("Only English words here.", "zh")
    assert not checks.written_in_own_script("Только русский.", "ru")  # script shared: no


def test_independent_set_floor():
    """A floor, not a goal: the gate on the independent set must not fall below what it
    measured when the checks landed (held-out: 75 % caught, 8 % false reject; README)."""
    import sys

    sys.path.insert(0, str(INDEPENDENT.parents[2] / "benchmarks"))
    from quality import score
    from ultralink.jobs.validate import Gate

    cases = [json.loads(line) for line in INDEPENDENT.read_text(encoding="utf-8").splitlines()]
    assert len(cases) >= 400 and {c["half"] for c in cases} == {"dev", "held_out"}
    gate = Gate()
    for half, caught_floor, reject_ceiling in (("dev", 0.78, 0.03), ("held_out", 0.74, 0.09)):
        result = score([c for c in cases if c["half"] == half], gate)
        a = result["tally"]["all"]["all"]
        assert a["bad_rejected"] / a["bad"] >= caught_floor, half
        assert a["good_rejected"] / a["good"] <= reject_ceiling, half
