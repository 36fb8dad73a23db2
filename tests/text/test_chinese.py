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


def test_step_counts_the_documents_it_changed():
    docs = [_doc("數學", MIXED, "zh"), _doc("长江", "长江是亚洲第一长河。", "zh"),
            _doc("臺灣", "长江是亚洲第一长河。", "zh"), _doc("Lietuva", "數學", "ru")]
    counters = Counters()
    out = list(ToSimplified("zh").run(docs, counters))
    assert len(out) == 4 and counters.counts["opencc_changed"] == 2   # a title alone counts too
    assert out[2].title == "台湾" and out[3].text == "數學"


def test_zh_keeps_t2s_because_tw2sp_rewrites_mainland_words():
    """benchmarks/zh_opencc.py: on the zhwiki sample tw2sp fixes Taiwan vocabulary (軟體 → 软件)
    but also rewrites correct mainland text (程序设计 → 进程设计, 建立 → 创建), and on text
    that is already Simplified it changes nothing t2s would not; so zh stays on t2s, and the
    authors' own mainland words come from the variant markup (zh_variants)."""
    from ultralink.core.languages import get_language

    assert get_language("zh").opencc == "t2s"
    assert to_simplified("軟體") == "软体"                      # characters only
    tw2sp = converter("tw2sp").convert                           # shipped with opencc
    assert tw2sp("軟體") == "软件"
    assert tw2sp("计算机程序设计") != "计算机程序设计"             # the harm that decided it
    assert tw2sp("软体") == "软体"                               # no help on Simplified output


def test_real_zhwiki_extract_through_clean_and_t2s(shared_samples):
    """The zh part of prepare's chain on the sample: its 50 variant markups (18 documents) are
    resolved and counted, and t2s changed 56 of the 64 documents."""
    from ultralink.core.records import Page
    from ultralink.text.clean import CleanWikitext

    raw = (shared_samples / "zhwiki-enix223-wiki_00").read_text(encoding="utf-8")
    docs = re.findall(r'<doc id="(\d+)" url="[^"]*" title="([^"]*)">\n(.*?)</doc>', raw, re.S)
    pages = [Page(page_id=i, title=t, text=x, source_file="wiki_00", markup="plain")
             for i, t, x in docs]
    counters = Counters()
    out = list(ToSimplified("zh").run(CleanWikitext("zh").run(pages, counters), counters))
    assert len(out) == 64 and counters.dropped() == {}
    assert counters.counts["variant_markup"] == 18 and counters.counts["opencc_changed"] == 56
    assert not any("-{" in d.text or "}-" in d.text for d in out)
    joined = "\n".join(d.text for d in out)
    assert "航天" in joined and "航太" not in joined and "zh-tw" not in joined
