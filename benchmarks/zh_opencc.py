"""Which OpenCC config zh uses: ``t2s`` (characters only) vs ``tw2sp`` (+ Taiwan vocabulary).

Runs over a wikiextractor ``<doc>`` file (taken by path, never shipped), after the variant
markup pass prepare applies, and prints: documents and characters where the two configs
differ, the most frequent differing phrases, what each does to text already written in
mainland Simplified (docs t2s leaves unchanged) and to Hong Kong phrases, and whether
``t2s`` then ``tw2sp`` (what translated output that is already Simplified gets) equals
``tw2sp`` alone.

    python benchmarks/zh_opencc.py ../shared/samples/zhwiki-enix223-wiki_00

Measured on that sample (64 docs, 364,128 characters, OpenCC 1.4.2): t2s and tw2sp differ
in 55 docs, 2,952 characters (0.81%). tw2sp's wins are Taiwan IT words (作业系统 → 操作系统,
软体 → 软件, 资讯 → 信息, 使用者 → 用户, 记忆体 → 内存, 著 → 着 in 随著). Its harm: 程序(设计) →
进程(设计), 建立 → 创建 (是建立在 → 创建在), 核心理论 → 内核理论, 互动 → 交互 (象征互动论),
上海开埠 → 开端口, 理查德 → 理乍得, 显著 → 显着, 文件 → 文档, and on the probe 影片 → 视频,
物件 → 对象; of the 8 docs already in mainland Simplified (t2s changes nothing) it rewrites 2
(14 spans, all wrong). On the Hong Kong probe it only adds 资讯科技 → 信息技术 (hk2s = t2s there).
Its phrase table is keyed on Traditional forms, so ``t2s`` then ``tw2sp`` differs from
``tw2sp`` alone in 47 docs and Simplified model output (软体) is never fixed. Decision: zh
stays on t2s; the words authors marked per variant come from ``-{…}-`` (``zh_variants``).

Then the term table prepare and every output path apply after t2s
(``ultralink/text/data/zh_tw_terms.tsv``, ``chinese.standardize``): documents and places
each term changes on the sample, and its harm check, which must stay empty: any change it makes
to the docs already in mainland Simplified, to the mainland probes below, to the mainland text
of ``prompts/zh.yaml`` and to the bundled ``data/sample/zhwiki-sample.xml`` (run from the
repository root).

Measured (43 terms, 40 guards): after t2s it changes 28 of the 64 docs, 409 places: 作业系统
96 (5 docs), 软体 73 (11), 硬体 35 (6), 记忆体 29 (2), 网路 27 (13), 原始码 18 (7), 应用程式 14,
伺服器 12, 驱动程式 10, 程式设计 9, 磁碟 9, 电脑科学 7, 定址范围 7, 网际网路 6, 讯号 5, and 19
more. Harm: 0 changes on the 8 mainland docs, the 30-sentence probe, prompts/zh.yaml and the
bundled sample. Dropped for harm: 资料库 (the bundled sample's 节气文化资料库, a mainland
collection of documents), 档案系统 (全国档案系统), 数据机 (大数据机房), 位元 (即位元年). 52 bare
程式 stay (方程式, 戏曲的程式 and Taiwan 写的程式 alike), as does 透过程式语言 (the 过程式 guard).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from difflib import SequenceMatcher

import opencc

from ultralink.text.chinese import term_table
from ultralink.text.zh_variants import resolve_variants

_DOC = re.compile(r'<doc id="(\d+)" url="[^"]*" title="([^"]*)">\n(.*?)</doc>', re.DOTALL)
# Correct mainland words that a Taiwan → mainland phrase table might rewrite.
MAINLAND = ("档案馆保存了历史档案。这部影片在电影院上映。类比是一种推理方法。他购买了一件物件。"
            "网络、软件、信息、打印机、程序、内存、质量、视频、默认、服务器。"
            "他把资料列表打印出来，位元和字节都是单位。我们支持这个决定。")
# Mainland sentences where a Taiwan term (or a word across a boundary) could be misread:
# each must come out of the term table unchanged.
MAINLAND_HARM_PROBE = (
    "麦克斯韦方程式描述了电磁场的变化。", "京剧表演讲究程式化的动作。", "戏曲的程式是长期积累的结果。",
    "这款互联网路由器的价格下降了。", "这座城市的铁路网路线繁多。", "电网路段检修期间请绕行。",
    "他上网路过一家书店时买了书。", "章鱼是一种软体动物。", "她身体柔软体现了多年的练习。",
    "这种材料质地坚硬体现出优良的性能。", "集体记忆体现了民族的认同。", "这次旅行的记忆体验非常美好。",
    "新皇帝即位元年就颁布了新法。", "结果保留两位小数位数即可。", "软体家具市场增长迅速。",
    "科学家研制出新型软体机器人。", "我们用电脑上网查资料，使用者可以访问资讯。",
    "程序设计是计算机科学的基础。", "公司总部定址于北京。", "石英晶片用于制造振荡器。",
    "类比推理是一种常见的方法。", "老师要求学生把作业系统地复习一遍。", "推进作业系统化管理。",
    "过程式设计与面向对象设计各有所长。", "请在通讯录里填写通讯号码。", "全国档案系统先进集体受到表彰。",
    "大数据机房的能耗很高。", "他记忆体系完整，体会深刻。", "物联网路由协议正在制定。",
    "更多介绍可参考节气文化资料库。",
)
HONG_KONG = ("我用軟件上網，踩單車運動，打士碌架，數碼媒體，的士司機，巴士站，電單車，"
             "手提電話，互聯網，資訊科技，質素，屋苑，雪櫃，冷氣機。")


def differing_spans(a: str, b: str, context: int = 2) -> list[tuple[str, str]]:
    """The (a, b) replacements that turn ``a`` into ``b``, line by line (lines are short),
    each widened by ``context`` characters so a phrase reads as the words it changed."""
    spans: list[tuple[str, str]] = []
    for la, lb in zip(a.split("\n"), b.split("\n")):
        if la == lb:
            continue
        ops = SequenceMatcher(None, la, lb, autojunk=False).get_opcodes()
        spans.extend((la[max(0, i1 - context):i2 + context], lb[max(0, j1 - context):j2 + context])
                     for tag, i1, i2, j1, j2 in ops if tag != "equal")
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sample")
    args = parser.parse_args()
    raw = open(args.sample, encoding="utf-8").read()
    docs = [(i, t, resolve_variants(x)) for i, t, x in _DOC.findall(raw)]
    t2s, tw2sp = opencc.OpenCC("t2s").convert, opencc.OpenCC("tw2sp").convert
    phrases: Counter[tuple[str, str]] = Counter()
    docs_differ = chars = total = 0
    mainland_docs: list[str] = []
    for _, _, text in docs:
        a, b = t2s(text), tw2sp(text)
        total += len(text)
        if a == text:
            mainland_docs.append(text)
        if a != b:
            docs_differ += 1
            chars += sum(max(len(x), len(y)) for x, y in differing_spans(a, b, context=0))
            phrases.update(differing_spans(a, b))
    print(f"{len(docs)} docs, {total:,} chars; t2s vs tw2sp differ in {docs_differ} docs, "
          f"{chars:,} chars ({chars / total:.3%}), {sum(phrases.values())} spans "
          f"({len(phrases)} distinct)")
    for (x, y), n in phrases.most_common(40):
        print(f"  {n:4d}  t2s {x!r} -> tw2sp {y!r}")
    print(f"\nalready mainland (t2s changes nothing): {len(mainland_docs)} docs")
    harm = Counter(span for text in mainland_docs for span in differing_spans(text, tw2sp(text)))
    harmed = sum(tw2sp(text) != text for text in mainland_docs)
    print(f"  tw2sp changes {harmed} of them, {sum(harm.values())} spans")
    for (x, y), n in harm.most_common():
        print(f"  {n:4d}  tw2sp changes mainland text: {x!r} -> {y!r}")
    for name, text in (("mainland probe", MAINLAND), ("Hong Kong probe", HONG_KONG)):
        print(f"\n{name}:\n  t2s   {t2s(text)}\n  tw2sp {tw2sp(text)}\n  hk2s  "
              f"{opencc.OpenCC('hk2s').convert(text)}")
    chained = sum(tw2sp(t2s(x)) != tw2sp(x) for _, _, x in docs)
    print(f"\nt2s then tw2sp differs from tw2sp alone in {chained} docs; on simplified input: "
          f"tw2sp('软体与网路') = {tw2sp('软体与网路')!r}")
    report_terms([t2s(x) for _, _, x in docs], mainland_docs)


def term_changes(table, text: str) -> list[tuple[str, str, str]]:
    """(term, replacement, context) for each place the table changes ``text``."""
    return [(m.group(), table.pairs[m.group()], text[max(0, m.start() - 3):m.end() + 3])
            for m in table.pattern.finditer(text) if table.pairs[m.group()] != m.group()]


def report_terms(simplified: list[str], mainland_docs: list[str]) -> None:
    """What the zh term table does after t2s: its changes on the sample, then its harm."""
    table = term_table("zh_tw_terms.tsv")
    places: Counter[tuple[str, str]] = Counter()
    docs_per_term: Counter[tuple[str, str]] = Counter()
    for text in simplified:
        found = [(a, b) for a, b, _ in term_changes(table, text)]
        places.update(found)
        docs_per_term.update(set(found))
    changed = sum(table.apply(x) != x for x in simplified)
    replacing = [t for t, r in table.pairs.items() if t != r]
    print(f"\nterm table ({len(replacing)} terms, {len(table.pairs) - len(replacing)} guards) "
          f"after t2s changes {changed} of {len(simplified)} docs, {sum(places.values())} places")
    for (a, b), n in places.most_common():
        print(f"  {n:4d} places {docs_per_term[a, b]:3d} docs  {a} -> {b}")
    print("  never matched: " + " ".join(t for t in replacing
                                          if not any(k[0] == t for k in places)))
    left = Counter(m.group() for x in simplified for m in re.finditer("程式|网路|软体|记忆体",
                                                                     table.apply(x)))
    print(f"  left after the table (guards, bare 程式): {dict(left)}")
    prompts = open("prompts/zh.yaml", encoding="utf-8").read()
    bundled = opencc.OpenCC("t2s").convert(open("data/sample/zhwiki-sample.xml",
                                                encoding="utf-8").read())
    probes = (("already-mainland docs", mainland_docs),
              ("mainland harm probe", MAINLAND_HARM_PROBE),
              ("mainland probe", [MAINLAND]), ("prompts/zh.yaml", [prompts]),
              ("data/sample/zhwiki-sample.xml after t2s", [bundled]))
    for name, texts in probes:
        harm = [c for x in texts for c in term_changes(table, x)]
        print(f"harm on {name} ({len(texts)} texts): {len(harm)} changes"
              + "".join(f"\n  {a} -> {b} in {ctx!r}" for a, b, ctx in harm))


if __name__ == "__main__":
    main()
