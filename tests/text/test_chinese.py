"""Traditional → Simplified conversion with the real OpenCC t2s dictionaries."""

from __future__ import annotations

import pickle
import re

from ultralink.core.counters import Counters
from ultralink.core.records import Document
from ultralink.text.chinese import ToSimplified, converter, to_simplified

MIXED = ("數學是利用符號語言研究數量、结构、变化以及空間等概念的一門學科，從某種角度看屬於形式科學的一種。"
         "臺灣的資訊產業發達，軟體與硬體廠商眾多。")


def test_to_simplified_converts_characters_and_keeps_simplified():
    assert to_simplified(MIXED) == ("数学是利用符号语言研究数量、结构、变化以及空间等概念的一门学科，"
                                    "从某种角度看属于形式科学的一种。台湾的资讯产业发达，软体与硬体厂商众多。")
    simplified = "长江是亚洲第一长河。"
    assert to_simplified(simplified) == simplified
    assert to_simplified("") == ""
    assert converter("t2s") is converter("t2s")


def _doc(title: str, text: str, language: str) -> Document:
    return Document(doc_id="1", title=title, url="", language=language, text=text, source_file="f")


def test_step_converts_zh_only():
    step = pickle.loads(pickle.dumps(ToSimplified("zh")))
    step.setup()
    docs = [_doc("數學", MIXED, "zh"), _doc("Lietuva", "Литва́ — государство.", "ru"),
            _doc("Ça", "Déjà vu, 數學.", "fr")]
    counters = Counters()
    out = list(step.run(docs, counters))
    assert len(out) == 3 and counters.dropped() == {}
    assert out[0].title == "数学" and out[0].text.startswith("数学是利用符号语言")
    assert out[1].text == "Литва́ — государство." and out[2].text == "Déjà vu, 數學."


def test_real_zhwiki_extract(shared_samples):
    """The raw zhwiki extract mixes scripts; after t2s the common traditional forms are gone."""
    raw = (shared_samples / "zhwiki-enix223-wiki_00").read_text(encoding="utf-8")
    docs = re.findall(r'<doc id="(\d+)" url="[^"]*" title="([^"]*)">\n(.*?)</doc>', raw, re.S)
    assert len(docs) == 64
    items = [Document(doc_id=i, title=t, url="", language="zh", text=x, source_file="wiki_00")
             for i, t, x in docs]
    out = list(ToSimplified("zh").run(items, Counters()))
    maths = next(d for d in out if d.doc_id == "13")
    assert maths.text.startswith("数学\n\n数学是利用符号语言研究数量、结构、变化以及空间等概念的一门学科")
    joined = "".join(d.text for d in out)
    for traditional in "數學與為體這個們說國會時來後":
        assert traditional not in joined, traditional
    assert sum(len(d.text) for d in out) == sum(len(x) for _, _, x in docs)
