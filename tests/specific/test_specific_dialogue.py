"""The dialogue state machine: stop rule, coin, determinism, retries, give-up, token budget."""

from __future__ import annotations

import asyncio
import math
import sys
from collections import Counter
from pathlib import Path

import pytest

from ultralink.specific.dialogue import (
    Dialogue,
    DialogueConfig,
    plan_dialogue,
    sampling_seed,
    turn_distribution,
)
from ultralink.specific.prompts import PromptBuilder, load_prompts
from ultralink.specific.validate import MessageValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specific_fakes import ANSWERS, QUESTIONS, DialogueFake

N = 20_000
DOC = "A short document about rivers, canals and the towns that grew beside them."


# ----------------------------------------------------------------------------- the plan


def test_closed_form_of_the_stop_rule():
    dist = turn_distribution(DialogueConfig())
    # As the reference (ProbabilityIterator(0.1)): one follow-up always, then stop with
    # p = 0.1, 0.2, 0.4, 0.8, 1.6 after follow-ups 1..5 (this test used to encode the old rule
    # that checked before the first follow-up: 10 % single-turn dialogues, mean 3.14 pairs).
    expected = {2: 0.1, 3: 0.9 * 0.2, 4: 0.9 * 0.8 * 0.4, 5: 0.9 * 0.8 * 0.6 * 0.8,
                6: 0.9 * 0.8 * 0.6 * 0.2}
    assert dist.keys() == expected.keys()
    for n, p in expected.items():
        assert dist[n] == pytest.approx(p)
    assert sum(dist.values()) == pytest.approx(1.0)
    assert sum(n * p for n, p in dist.items()) == pytest.approx(4.1384)
    assert turn_distribution(DialogueConfig(max_turns=1)) == {1: 1.0}


@pytest.mark.parametrize("cfg", [DialogueConfig(), DialogueConfig(stop_first=0.3, stop_growth=1.5),
                                 DialogueConfig(stop_first=0.05, max_turns=3)])
def test_turn_counts_match_the_closed_form(cfg):
    """Chi-square goodness of fit over 20K seeded segments (p > 0.001 by a wide margin)."""
    counts = Counter(plan_dialogue(7, f"seg{i}", cfg).turns for i in range(N))
    dist = turn_distribution(cfg)
    assert set(counts) <= set(dist)
    chi2 = sum((counts.get(n, 0) - N * p) ** 2 / (N * p) for n, p in dist.items())
    dof = len(dist) - 1
    # 99.9th percentile of chi-square: dof 1..5 -> 10.8, 13.8, 16.3, 18.5, 20.5
    assert chi2 < {1: 10.8, 2: 13.8, 3: 16.3, 4: 18.5, 5: 20.5}[dof], (chi2, counts, dist)
    mean = sum(n * c for n, c in counts.items()) / N
    assert mean == pytest.approx(sum(n * p for n, p in dist.items()), abs=0.03)


def test_the_coin_is_fair_and_configurable():
    kinds = Counter(k for i in range(N) for k in plan_dialogue(1, f"s{i}", DialogueConfig()).kinds[1:])
    n = kinds["in_depth"] + kinds["expansive"]
    assert set(kinds) == {"in_depth", "expansive"}
    assert abs(kinds["in_depth"] / n - 0.5) < 4 * math.sqrt(0.25 / n)
    always = DialogueConfig(in_depth_probability=1.0)
    assert {k for i in range(200) for k in plan_dialogue(1, f"s{i}", always).kinds[1:]} == {"in_depth"}
    assert all(plan_dialogue(3, f"s{i}", DialogueConfig()).kinds[0] == "initial" for i in range(50))


def test_plans_are_deterministic_per_seed_and_segment():
    cfg = DialogueConfig()
    a = [plan_dialogue(42, f"seg{i}", cfg) for i in range(300)]
    assert a == [plan_dialogue(42, f"seg{i}", cfg) for i in range(300)]
    assert a != [plan_dialogue(43, f"seg{i}", cfg) for i in range(300)]
    assert sampling_seed(1, "s", 0, "question", 0) != sampling_seed(1, "s", 0, "question", 1)
    assert sampling_seed(1, "s", 0, "question", 0) == sampling_seed(1, "s", 0, "question", 0)


# ------------------------------------------------------------------------ running dialogues


def make(lang: str = "en", fmt: str = "chat", **cfg_kw):
    cfg = DialogueConfig(**cfg_kw)
    p = load_prompts(lang)
    builder = PromptBuilder(p, fmt, num_examples=cfg.num_examples)
    validator = MessageValidator(p, echo_sources=builder.echo_sources())
    return Dialogue(builder, validator, cfg, seed=5, count_tokens=lambda t: len(t.split()))


def run(dialogue: Dialogue, fake: DialogueFake, segment: str = "seg-1", doc: str = DOC):
    return asyncio.run(dialogue.run(segment, doc, fake.generate, "dlg-" + segment))


def first_segment_with_turns(dialogue: Dialogue, n: int) -> str:
    return next(f"seg{i}" for i in range(1000)
                if plan_dialogue(dialogue.seed, f"seg{i}", dialogue.cfg).turns == n)


@pytest.mark.parametrize("lang", ["en", "zh", "ru", "fr", "es"])
@pytest.mark.parametrize("fmt", ["chat", "completion"])
def test_a_clean_dialogue_follows_its_plan(lang, fmt):
    d = make(lang, fmt)
    seg = first_segment_with_turns(d, 3)
    fake = DialogueFake(language=lang)
    res = run(d, fake, seg)
    plan = plan_dialogue(5, seg, d.cfg)
    assert res.ok and res.kinds == list(plan.kinds) and len(res.turns) == 3
    assert [t.question for t in res.turns] == QUESTIONS[lang][:3]
    assert [t.answer for t in res.turns] == ANSWERS[lang][:3]
    assert res.retries == [0, 0, 0] and not res.rejections and res.end_reason == "plan"
    assert fake.calls == 6 and {r.affinity for r in fake.requests} == {"dlg-" + seg}
    assert res.question_tokens == [len(q.split()) for q in QUESTIONS[lang][:3]]


def test_same_seed_same_dialogue():
    d = make()
    a = run(d, DialogueFake(bad={"1:question:0": "leak"}), "seg-x")
    b = run(d, DialogueFake(bad={"1:question:0": "leak"}), "seg-x")
    assert a == b


def test_retry_uses_a_new_seed_and_is_counted():
    d = make(max_turns=2, stop_first=0.0)
    fake = DialogueFake(bad={"0:question:0": "nomark", "0:answer:0": "foreign",
                             "0:answer:1": "length", "1:question:0": "label"})
    res = run(d, fake)
    assert len(res.turns) == 2
    assert res.retries == [3, 0]  # 1 question + 2 answer retries; the label is stripped
    assert res.rejections == Counter({"question_not_a_question": 1, "answer_wrong_language": 1,
                                      "answer_truncated": 1})
    seeds = [r.sampling.seed for r in fake.requests if r.request_id.endswith(("0:answer:0",
                                                                                "0:answer:1"))]
    assert len(set(seeds)) == 2


@pytest.mark.parametrize("kind, reason", [("empty", "empty"), ("short", "too_short"),
                                          ("leak", "leakage"), ("echo", "echo"),
                                          ("nomark", "not_a_question")])
def test_no_valid_first_question_drops_the_segment(kind, reason):
    d = make(max_attempts=3)
    fake = DialogueFake(bad={"0:question:*": kind})
    res = run(d, fake)
    assert not res.ok and res.end_reason == "rejected_question"
    assert res.rejections == Counter({f"question_{reason}": 3}) and fake.calls == 3


def test_give_up_mid_dialogue_keeps_the_passed_pairs():
    d = make(max_turns=4, stop_first=0.0, max_attempts=2)
    res = run(d, DialogueFake(bad={"2:answer:*": "leak"}))
    assert res.ok and len(res.turns) == 2 and res.end_reason == "rejected_answer"
    assert res.rejections == Counter({"answer_leakage": 2})


def test_engine_errors_end_the_dialogue_without_raising():
    d = make(stop_first=0.0, max_turns=3)
    res = run(d, DialogueFake(bad={"1:question:0": "error"}))
    assert res.ok and len(res.turns) == 1 and res.end_reason == "llm_scripted"


def test_history_is_cut_to_its_token_budget():
    d = make(stop_first=0.0, max_turns=5, max_history_tokens=80)
    fake = DialogueFake()
    res = run(d, fake)
    assert len(res.turns) == 5 and res.history_cuts > 0
    last = fake.requests[-1].messages[-1].content
    assert ANSWERS["en"][3] in last and ANSWERS["en"][0] not in last  # oldest pairs went first


def test_context_overflow_cuts_history_then_ends_never_crashes():
    d = make(stop_first=0.0, max_turns=5)
    msgs = d.builder.prompt_text(DOC, [], "initial_question")
    base = sum(len(m.content.split()) for m in msgs) + d.cfg.answer_max_tokens
    fake = DialogueFake(max_model_len=base + 120)  # the document and ~2 pairs of history
    res = run(d, fake)
    assert res.ok and len(res.turns) == 5 and res.history_cuts > 0
    tiny = DialogueFake(max_model_len=50)  # not even the document fits
    res = run(d, tiny)
    assert not res.ok and res.end_reason == "context"
    assert res.rejections == Counter({"llm_context_overflow": 1})
