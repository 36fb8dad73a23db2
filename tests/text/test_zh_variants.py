"""zhwiki's ``-{…}-`` variant markup: every form, malformed and nested markup, no markup."""

from __future__ import annotations

import pytest

from ultralink.text.zh_variants import pick_mainland, resolve_variants


@pytest.mark.parametrize("markup, shown", [
    ("-{zh-hans:计算机; zh-hant:電腦;}-", "计算机"),
    ("-{zh-cn:软件; zh-tw:軟體; zh-hk:軟件;}-", "软件"),
    ("-{zh-tw:資訊;zh-hans:信息}-", "信息"),                          # order in the markup is irrelevant
    ("-{zh-cn: 增长; zh-tw: 成長}-", "增长"),                          # spaces around the text
    ("-{zh-hans:社会媒体; zh-cn:社交媒体; zh-tw:社群媒體;}-", "社交媒体"),  # zh-cn before zh-hans
    ("-{zh-tw:腳踏車; zh-sg:脚车; zh-my:脚踏车}-", "脚车"),             # zh-sg before zh-my
    ("-{zh-hk:單車;zh-tw:腳踏車;}-", "單車"),                          # no mainland variant: the first
    ("-{ZH-Hans:计算机;zh-Hant:電腦}-", "计算机"),                      # codes are case-insensitive
    ("-{zh-cn:时间: 3点; zh-tw:時間}-", "时间: 3点"),                  # a colon inside the text
    ("-{只}-", "只"),                                                # plain: kept as is
    ("-{朱由崧}-", "朱由崧"),
    ("-{}-", ""),
    ("-{zh-hant:; zh-hans:;}-", ""),
    ("-{H|zh-hant:心裡學;zh-hans:心里学;}-", ""),                       # rule definitions show nothing
    ("-{H|zh-cn:软件; zh-tw:軟體}-", ""),
    ("-{A|zh-cn:软件; zh-tw:軟體}-", "软件"),                          # rule + its zh-cn text
    ("-{A|zh-tw:軟體; zh-hans:软件}-", "软件"),
    ("-{T|zh-hans:材料科学; zh-hant:材料科學; zh-sg:物质科学}-", ""),      # title rule
    ("-{R|zh-cn:软件; zh-tw:軟體}-", "zh-cn:软件; zh-tw:軟體"),           # raw: as written
    ("-{H;A|zh-cn:软件; zh-tw:軟體}-", ""),
    ("-{電腦=>zh-cn:计算机; 電腦=>zh-sg:电脑}-", "计算机"),               # unidirectional rules
])
def test_each_form_shows_what_a_mainland_reader_sees(markup, shown):
    assert resolve_variants(markup) == shown
    assert resolve_variants(f"前{markup}后") == f"前{shown}后"


def test_text_without_markup_is_returned_unchanged():
    for text in ("", "长江是亚洲第一长河。", "a - { b } - c", "x-{y", "}-z", "-{\n", "{{lang|en|x}}-"):
        assert resolve_variants(text) == text


@pytest.mark.parametrize("markup, shown", [
    ("-{zh-cn:软件; zh-tw:軟體", "-{zh-cn:软件; zh-tw:軟體"),           # unclosed: nothing is lost
    ("软件}-之后", "软件}-之后"),                                       # stray closer
    ("-{zh-cn 软件}-", "zh-cn 软件"),                                  # no colon: inner text kept
    ("-{zh-cn:软件; 電腦}-", "软件; 電腦"),                             # a part without a code
    ("-{zh-cn:软件;;; zh-tw:軟體;;}-", "软件"),                          # empty parts
    ("-{foo; bar}-", "foo; bar"),                                    # not rules at all
])
def test_malformed_markup_keeps_its_inner_text(markup, shown):
    assert resolve_variants(markup) == shown


def test_nested_markup_is_resolved_inside_out():
    assert resolve_variants("-{zh-cn:外-{内}-层; zh-tw:外層}-") == "外内层"
    assert resolve_variants("-{zh-cn:-{zh-cn:软件;zh-tw:軟體}-; zh-tw:軟體}-") == "软件"
    deep = "-{a-{b-{c-{d-{e-{f}-}-}-}-}-}-"
    assert "f" in resolve_variants(deep) and "e" in resolve_variants(deep)   # no crash, nothing lost


def test_formulas_are_left_alone():
    text = "<math>\\frac{a}-{b}</math> 中文 -{zh-cn:软件; zh-tw:軟體}- <math>x}-1</math>"
    assert resolve_variants(text) == "<math>\\frac{a}-{b}</math> 中文 软件 <math>x}-1</math>"
    # rendered formulas: a backslash between "-{" and "}-" means they do not pair up
    assert resolve_variants("$\\alpha-{2}$ 与 $\\beta}-1$") == "$\\alpha-{2}$ 与 $\\beta}-1$"


def test_mainland_preference_order():
    variants = {"zh-tw": "tw", "zh": "zh", "zh-my": "my", "zh-sg": "sg", "zh-hans": "hans",
                "zh-cn": "cn"}
    order = []
    while variants:
        shown = pick_mainland(variants)
        order.append(shown)
        variants = {k: v for k, v in variants.items() if v != shown}
    assert order == ["cn", "hans", "sg", "my", "zh", "tw"]
    assert pick_mainland({}) == ""
