"""Protected spans round-trip through a (simulated) translation in every target language."""

from __future__ import annotations

import pytest

from ultralink.agnostic.protect import (
    PLACEHOLDER_RE,
    check_numbers,
    check_restored,
    protect,
)

CODE_ANSWER = '''Here is a function that sums a list:

```python
def total(xs: list[int]) -> int:
    # add them up; see https://docs.python.org/3/library/functions.html#sum
    return sum(xs)
```

Call `total([1, 2, 3])` to get 6. Docs: https://example.org/sum?x=1.'''

MATH_ANSWER = ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
               "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72")

LATEX = r"The roots of $x^2 - 5x + 6 = 0$ are $$x = \frac{5 \pm \sqrt{1}}{2},$$ i.e. \(x=2\) and \[x = 3.\]"

# What a faithful translation of the prose around the placeholders looks like per language.
TRANSLATIONS = {
    "zh": {"code": "这是一个对列表求和的函数：\n\n⟦P0⟧\n\n调用 ⟦P1⟧ 得到 6。文档：⟦P2⟧",
           "latex": "⟦P1⟧ 的根是 ⟦P0⟧，即 ⟦P3⟧ 和 ⟦P2⟧",
           "math": "娜塔莉亚五月卖出 ⟦P0⟧ 个夹子。\n娜塔莉亚四月和五月共卖出 ⟦P1⟧ 个夹子。\n⟦P2⟧"},
    "ru": {"code": "Вот функция, которая суммирует список:\n\n⟦P0⟧\n\nВызовите ⟦P1⟧, чтобы получить 6. Документация: ⟦P2⟧",
           "latex": "Корни ⟦P1⟧ равны ⟦P0⟧, т. е. ⟦P3⟧ и ⟦P2⟧",
           "math": "В мае Наталья продала ⟦P0⟧ заколки.\nВсего за апрель и май она продала ⟦P1⟧ заколки.\n⟦P2⟧"},
    "fr": {"code": "Voici une fonction qui additionne une liste :\n\n⟦P0⟧\n\nAppelez ⟦P1⟧ pour obtenir 6. Documentation : ⟦P2⟧",
           "latex": "Les racines de ⟦P1⟧ sont ⟦P0⟧, c.-à-d. ⟦P3⟧ et ⟦P2⟧",
           "math": "Natalia a vendu ⟦P0⟧ pinces en mai.\nElle a vendu ⟦P1⟧ pinces en avril et mai.\n⟦P2⟧"},
    "es": {"code": "Aquí hay una función que suma una lista:\n\n⟦P0⟧\n\nLlama a ⟦P1⟧ para obtener 6. Documentación: ⟦P2⟧",
           "latex": "Las raíces de ⟦P1⟧ son ⟦P0⟧, es decir, ⟦P3⟧ y ⟦P2⟧",
           "math": "Natalia vendió ⟦P0⟧ pinzas en mayo.\nEn abril y mayo vendió ⟦P1⟧ pinzas.\n⟦P2⟧"},
}


def test_code_spans_are_protected():
    p = protect(CODE_ANSWER)
    assert p.kinds == ["fenced_code", "inline_code", "url"]
    assert "def total" not in p.text and "https://" not in p.text
    assert "https://docs.python.org" in p.spans[0]  # the URL inside code stays inside the code span
    assert p.spans[2] == "https://example.org/sum?x=1"  # sentence punctuation is not part of a URL
    assert p.restore(p.text) == CODE_ANSWER


def test_latex_spans_are_protected():
    p = protect(LATEX)
    assert sorted(p.kinds) == ["latex_bracket", "latex_display", "latex_inline", "latex_paren"]
    assert "\\frac" not in p.text and "$" not in p.text
    assert p.restore(p.text) == LATEX


def test_math_calc_marks_and_final_answer_are_protected():
    p = protect(MATH_ANSWER)
    # the calc mark travels with its equation: the whole "a/b = <<a/b=c>>c" is one span
    assert p.spans == ["48/2 = <<48/2=24>>24", "48+24 = <<48+24=72>>72", "#### 72"]
    assert p.kinds == ["arithmetic", "arithmetic", "final_answer"]


@pytest.mark.parametrize("lang", sorted(TRANSLATIONS))
@pytest.mark.parametrize("kind,source", [("code", CODE_ANSWER), ("latex", LATEX), ("math", MATH_ANSWER)])
def test_round_trip_in_every_language(lang, kind, source):
    p = protect(source)
    translated = TRANSLATIONS[lang][kind]
    assert check_restored(p, translated) is None
    restored = p.restore(translated)
    for span in p.spans:
        assert restored.count(span) == source.count(span)
    assert not PLACEHOLDER_RE.search(restored)
    assert check_numbers(p.text, translated) is None


def test_missing_repeated_and_unknown_placeholders_are_caught():
    p = protect(CODE_ANSWER)
    assert "missing: [2]" in check_restored(p, "⟦P0⟧ ⟦P1⟧")
    assert "repeated: [1]" in check_restored(p, "⟦P0⟧ ⟦P1⟧ ⟦P1⟧ ⟦P2⟧")
    assert "unknown placeholders: [7]" in check_restored(p, "⟦P0⟧ ⟦P1⟧ ⟦P2⟧ ⟦P7⟧")


def test_numbers_are_locale_tolerant_but_must_survive():
    assert check_numbers("It costs 1,000.50 dollars and 3.5 kg", "Cela coûte 1 000,50 dollars et 3,5 kg") is None
    assert check_numbers("48 clips and 24 more", "48 个夹子，还有二十四个") is not None
    assert "lost ['24']" in check_numbers("48 and 24", "48 и 42 и 24".replace(" и 24", ""))


def test_answer_value_and_absorbed_placeholders_are_renumbered():
    text = "So $x = 5$.\n#### $5$ with `code`\nThe answer is: 5"
    p = protect(text)
    assert p.spans == ["$x = 5$", "#### $5$ with `code`", "5"]
    assert p.kinds == ["latex_inline", "final_answer", "answer_value"]
    assert p.text == "So ⟦P0⟧.\n⟦P1⟧\nThe answer is: ⟦P2⟧"
    assert p.restore(p.text) == text and check_restored(p, p.text) is None


def test_spaces_group_thousands_only():
    assert check_numbers("12 - 5 = 7", "12 − 5 = 7") is None
    assert check_numbers("about 1 000 people", "about 1000 people") is None
    assert check_numbers("2 3 5", "235") is not None


@pytest.mark.parametrize("text", [
    "Let ⟦P5⟧ + 3 = 8 where x is $x$.",          # a literal marker inside arithmetic
    "The value ⟦P5⟧ is $x$ and `⟦P0⟧` is code",    # a literal marker, and one inside code
    "#### ⟦P2⟧ and $5$",                           # absorbed by a later pattern
])
def test_text_that_already_holds_placeholders_never_collides(text):
    """A record quoting the marker itself (issue 12: IndexError killed the agnostic job)."""
    p = protect(text)
    assert check_restored(p, p.text) is None
    assert p.restore(p.text) == text
    assert [int(i) for i in PLACEHOLDER_RE.findall(p.text)] == list(range(len(p.spans)))
