"""Traditional → Simplified conversion with the real OpenCC t2s dictionaries."""

from __future__ import annotations

import pickle
import re

import pytest

from ultralink.core.counters import Counters
from ultralink.core.records import Document
from ultralink.text.chinese import (TermTable, ToSimplified, converter, standardize, term_table,
                                    to_simplified)

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
    """The raw zhwiki extract mixes scripts; after t2s the common traditional forms are gone,
    and after the term table the Taiwan words t2s keeps (作业系统, 软体)."""
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
    assert "作业系统" not in joined and "软体" not in joined and joined.count("操作系统") >= 96
    # t2s keeps the length; only the term table (网际网路 → 互联网) changes it
    assert sum(len(to_simplified(x)) for _, _, x in docs) == sum(len(x) for _, _, x in docs)
    assert [d.text for d in out] == [ZH_TERMS.apply(to_simplified(x)) for _, _, x in docs]


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
    assert counters.counts["terms_changed"] == 28      # benchmarks/zh_opencc.py: 413 places
    assert not any("-{" in d.text or "}-" in d.text for d in out)
    joined = "\n".join(d.text for d in out)
    assert "航天" in joined and "航太" not in joined and "zh-tw" not in joined


# -- the Taiwan → mainland term table (ultralink/text/data/zh_tw_terms.tsv) ------------------

ZH_TERMS = term_table("zh_tw_terms.tsv")


@pytest.mark.parametrize("term", sorted(t for t, r in ZH_TERMS.pairs.items() if t != r))
def test_each_term_becomes_its_mainland_form(term):
    assert ZH_TERMS.apply(term) == ZH_TERMS.pairs[term] != term
    assert ZH_TERMS.apply(f"这是{term}。") == f"这是{ZH_TERMS.pairs[term]}。"


# Mainland text a careless table would rewrite (benchmarks/zh_opencc.py has the full probe).
MAINLAND = ["麦克斯韦方程式描述了电磁场的变化。", "京剧表演讲究程式化的动作。", "戏曲的程式是长期积累的结果。",
            "这款互联网路由器的价格下降了。", "物联网路由协议正在制定。", "这座城市的铁路网路线繁多。",
            "章鱼是一种软体动物。", "她身体柔软体现了多年的练习。", "集体记忆体现了民族的认同。",
            "新皇帝即位元年就颁布了新法。", "结果保留两位小数位数即可。", "我们用电脑上网查资料，使用者可以访问资讯。",
            "老师要求学生把作业系统地复习一遍。", "过程式设计与面向对象设计各有所长。", "请填写通讯号码。",
            "全国档案系统先进集体受到表彰。", "大数据机房的能耗很高。", "程序设计是计算机科学的基础。",
            "更多介绍可参考节气文化资料库。"]


@pytest.mark.parametrize("text", MAINLAND)
def test_mainland_text_is_unchanged(text):
    assert standardize(text, "zh") == text


def test_longest_match_first_and_guards():
    assert ZH_TERMS.apply("网际网路与乙太网路") == "互联网与以太网"          # not 网际网络
    assert ZH_TERMS.apply("唯读记忆体和记忆体") == "只读存储器和内存"
    assert ZH_TERMS.apply("软体动物不是软体") == "软体动物不是软件"          # guard, then the term
    assert ZH_TERMS.apply("作业系统性能与作业系统性") == "操作系统性能与作业系统性"
    table = TermTable.parse("ab\tX\na\tY\nabc\n# comment\n\nbc\tZ")
    assert table.apply("ab a abc bc") == "X Y abc Z"
    assert TermTable({}).apply("ab") == "ab"


def test_table_format_errors_name_the_line():
    with pytest.raises(ValueError, match="t.tsv:2: 'a' is listed twice"):
        TermTable.parse("a\tb\na\tc", "t.tsv")
    with pytest.raises(ValueError, match="t.tsv:1: want"):
        TermTable.parse("a\tb\tc", "t.tsv")


def test_standardize_fixes_traditional_and_simplified_taiwan_words():
    """After t2s, so Simplified model output with Taiwan words (软体) is fixed too; other
    languages are untouched."""
    assert standardize("軟體與網路", "zh") == "软件与网络"
    assert standardize("软体与网路", "zh") == "软件与网络"
    assert standardize("", "zh") == ""
    assert standardize("軟體 software", "fr") == "軟體 software"


def test_step_counts_documents_the_term_table_changed():
    docs = [_doc("作业系统", "长江是亚洲第一长河。", "zh"), _doc("软件", "軟體", "zh"),
            _doc("數學", "數學", "zh"), _doc("软体", "软体", "ru")]
    counters = Counters()
    out = list(ToSimplified("zh").run(docs, counters))
    assert counters.counts["terms_changed"] == 2 and counters.counts["opencc_changed"] == 2
    assert [d.title for d in out] == ["操作系统", "软件", "数学", "软体"]
    assert out[1].text == "软件" and out[3].text == "软体"
