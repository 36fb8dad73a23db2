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
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from difflib import SequenceMatcher

import opencc

from ultralink.text.zh_variants import resolve_variants

_DOC = re.compile(r'<doc id="(\d+)" url="[^"]*" title="([^"]*)">\n(.*?)</doc>', re.DOTALL)
# Correct mainland words that a Taiwan → mainland phrase table might rewrite.
MAINLAND = ("档案馆保存了历史档案。这部影片在电影院上映。类比是一种推理方法。他购买了一件物件。"
            "网络、软件、信息、打印机、程序、内存、质量、视频、默认、服务器。"
            "他把资料列表打印出来，位元和字节都是单位。我们支持这个决定。")
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


if __name__ == "__main__":
    main()
