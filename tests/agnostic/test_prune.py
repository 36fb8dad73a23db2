"""Pruning: sizes, determinism, shared vs disjoint subsets, English untouched."""

from __future__ import annotations

import pytest

from ultralink.agnostic.prune import ranked, select

IDS = [f"rec-{i}" for i in range(1000)]
LANGS = ["en", "zh", "ru", "fr", "es"]


def test_sizes_and_english_passthrough():
    assert len(select(IDS, 100, 7, "zh", LANGS)) == 100
    assert select(IDS, 100, 7, "en", LANGS) == set(IDS)
    assert len(select(IDS, 5000, 7, "zh", LANGS)) == 1000


def test_deterministic_and_seeded():
    assert select(IDS, 100, 7, "zh", LANGS) == select(list(reversed(IDS)), 100, 7, "zh", LANGS)
    assert select(IDS, 100, 7, "zh", LANGS) != select(IDS, 100, 8, "zh", LANGS)


def test_shared_mode_gives_every_language_the_same_subset():
    subsets = [select(IDS, 100, 1, lang, LANGS, "shared") for lang in LANGS[1:]]
    assert all(s == subsets[0] for s in subsets)


def test_disjoint_mode_gives_disjoint_subsets():
    subsets = [select(IDS, 200, 1, lang, LANGS, "disjoint") for lang in LANGS[1:]]
    assert all(len(s) == 200 for s in subsets)
    assert len(set().union(*subsets)) == 800
    short = [select(IDS, 400, 1, lang, LANGS, "disjoint") for lang in LANGS[1:]]
    assert all(len(s) == 250 for s in short) and len(set().union(*short)) == 1000


def test_draw_order_extends_the_selection():
    """Refills take the records past the selection in draw order: a prefix of a longer draw is
    the shorter one, and a disjoint language refills only from its own slice."""
    groups = {i: int(i.split("-")[1]) % 40 for i in IDS}
    for mode, grouped in (("shared", None), ("shared", groups), ("disjoint", None),
                          ("disjoint", groups)):
        longer = {lang: ranked(IDS, 150, 5, lang, LANGS, mode, grouped) for lang in LANGS[1:]}
        for lang in LANGS[1:]:
            assert longer[lang][:60] == ranked(IDS, 60, 5, lang, LANGS, mode, grouped)
            assert set(longer[lang][:60]) == select(IDS, 60, 5, lang, LANGS, mode, grouped)
        if mode == "disjoint":
            assert len(set().union(*map(set, longer.values()))) == 600


def test_bad_arguments():
    with pytest.raises(ValueError):
        select(IDS, -1, 1, "zh", LANGS)
    with pytest.raises(ValueError):
        select(IDS, 10, 1, "de", LANGS, "disjoint")


def test_groups_prefer_distinct_original_questions():
    # 50 problems with 20 rephrasings each (MetaMathQA-style): 50 picks cover all 50 problems
    ids = [f"q{p}-r{r}" for p in range(50) for r in range(20)]
    groups = {i: i.split("-")[0] for i in ids}
    picked = select(ids, 50, 3, "zh", LANGS, groups=groups)
    assert len(picked) == 50 and len({groups[i] for i in picked}) == 50
    assert len({groups[i] for i in select(ids, 50, 3, "zh", LANGS)}) < 50  # plain rank repeats
    more = select(ids, 120, 3, "zh", LANGS, groups=groups)
    per_group = [sum(1 for i in more if groups[i] == g) for g in set(groups.values())]
    assert sorted(set(per_group)) == [2, 3]   # round by round: no problem thrice before all twice
    disjoint = [select(ids, 50, 3, lang, LANGS, "disjoint", groups) for lang in LANGS[1:]]
    assert all(len({groups[i] for i in s}) == 50 for s in disjoint)
    assert len(set().union(*disjoint)) == 200


def test_scan_reads_original_question_groups(tmp_path):
    """MetaMathQA's original_question reaches pruning as a stable group key per record."""
    import json

    from ultralink.jobs.agnostic.config import AgnosticConfig
    from ultralink.jobs.agnostic import scan_file
    from ultralink.core.fs import resolve

    rows = [{"query": f"Rephrasing {i} of problem {i % 2}?", "response": "The answer is 1",
             "type": "GSM_Rephrased", "original_question": f"Problem {i % 2}?"} for i in range(4)]
    path = tmp_path / "mm.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scan = scan_file(resolve(str(path)), "zh", "math", AgnosticConfig())
    keys = [k for _, k, _ in scan["records"]]
    groups = scan["groups"]
    assert len(keys) == 4 and set(groups) == set(keys)
    assert groups[keys[0]] == groups[keys[2]] != groups[keys[1]] == groups[keys[3]]
    assert select(keys, 2, 0, "zh", LANGS, groups=groups) in ({keys[0], keys[1]}, {keys[0], keys[3]},
                                                             {keys[2], keys[1]}, {keys[2], keys[3]})
