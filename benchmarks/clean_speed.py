"""Cleaning speed: token-stream renderer vs the node-tree reference, CPU ms per article.

    python benchmarks/clean_speed.py [--repeat 7]

Articles: the ns-0 pages of data/sample/*wiki-sample.xml that the clean step would render
(no redirects or disambiguation pages), and the real ruwiki page in shared/samples when
present. Timing is ``time.process_time`` (CPU time, robust to other work on shared cores),
best of ``--repeat`` runs of 3 calls. The reference path (``tests/text/reference_renderer.reference_text``:
full mwparserfromhell parse + tree renderer, the token renderer's test oracle) shares
``text.tidy`` with the fast path, so its numbers are slightly better than the cleaner before the
token renderer was introduced.
"""

from __future__ import annotations

import argparse
import bz2
import re
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.text.reference_renderer import reference_text  # noqa: E402
from ultralink.text import clean  # noqa: E402
from ultralink.text.wikitext_render import wikitext_to_text  # noqa: E402


def _articles(raw: str) -> list[tuple[str, str]]:
    if "</mediawiki>" not in raw:
        raw += "</mediawiki>"
    root = ET.fromstring(raw)
    ns = {"m": re.match(r"\{(.*)\}", root.tag).group(1)}
    return [(el.findtext("m:title", namespaces=ns), el.findtext("m:revision/m:text", default="", namespaces=ns))
            for el in root.iterfind("m:page", ns) if el.findtext("m:ns", namespaces=ns) == "0"]


def _cpu_ms(fn, text: str, language: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(3):
            fn(text, language)
        best = min(best, (time.process_time() - start) / 3)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    pages = []
    for path in sorted((ROOT / "data" / "sample").glob("*wiki-sample.xml")):
        pages += [(path.name[:2], "sample", title, text) for title, text in _articles(path.read_text("utf-8"))]
    dump = ROOT.parent / "shared" / "samples" / "ruwiki-corus-latest-pages-articles.xml.bz2"
    if dump.exists():
        pages += [("ru", "dump", title, text) for title, text in _articles(bz2.decompress(dump.read_bytes()).decode())]
    pages = [p for p in pages
             if not clean.is_redirect_text(p[3], p[0]) and not clean.is_disambiguation(p[3], p[0])]

    rows = []
    print(f"{'lang':4} {'article':32} {'chars':>7} {'tree ms':>8} {'tokens ms':>9} {'speed-up':>8}")
    for language, source, title, text in pages:
        assert wikitext_to_text(text, language) == reference_text(text, language), title
        before = _cpu_ms(reference_text, text, language, args.repeat)
        after = _cpu_ms(wikitext_to_text, text, language, args.repeat)
        rows.append((source, before, after))
        print(f"{language:4} {title[:32]:32} {len(text):7d} {before:8.3f} {after:9.3f} {before / after:7.2f}×")
    for source in ("sample", "dump"):
        picked = [r for r in rows if r[0] == source]
        if picked:
            before = statistics.median(r[1] for r in picked)
            after = statistics.median(r[2] for r in picked)
            print(f"median over {len(picked)} {source} article(s): {before:.3f} ms → {after:.3f} ms "
                  f"({before / after:.2f}×)")


if __name__ == "__main__":
    main()
