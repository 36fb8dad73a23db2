"""Peak memory of the agnostic plan for large ShareGPT lists, and what ``--limit`` saves.

Runs what the job runs (issue 29 item 4): ``jobs.agnostic.scan.scan_file`` in one process
(the scanning worker) and ``plan.select`` + ``plan.block_units`` on its pickled result in
another (the driver, which receives that result from Ray), each measured by its own peak RSS
(``ru_maxrss``), with the shipped ``AgnosticConfig`` defaults (prefilter on, as for a
non-English chat run). Then the same scan with ``limit=1000`` against the full scan, timed
in the same run. The input is a generated ShareGPT JSON list (~330 B per record, the issue's
density: 1 GB ≈ 3.2M records); measured, not simulated.

    python benchmarks/sft_scan_memory.py [--sizes-mb 100 300 1000] [--keep DIR]

Last line: JSON per size: records, scan_rss_mb, plan_rss_mb, pickled_mb, scan_s, limit_s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WORKER = r"""
import json, pickle, resource, sys, time
from ultralink.core.fs import resolve
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.jobs.agnostic.scan import scan_file
path, out, limit = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = AgnosticConfig(limit=int(limit)) if limit != "none" else AgnosticConfig()
t = time.perf_counter()
scan = scan_file(resolve(path), "zh", "chat", cfg)
elapsed = time.perf_counter() - t
with open(out, "wb") as f:
    pickle.dump(scan, f, protocol=5)
print(json.dumps({"records": len(scan["records"]), "s": elapsed,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_DRIVER = r"""
import json, pickle, resource, sys
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.jobs.agnostic.plan import block_units, file_key, select
scan = pickle.load(open(sys.argv[1], "rb"))
cfg = AgnosticConfig()
sel = select([scan], cfg, "zh", None)
units, rows_of = block_units([scan], sel.cut, sel.selected, {scan["uri"]: file_key(scan["uri"])},
                             cfg.unit_records)
print(json.dumps({"units": len(units),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_sharegpt(path: Path, megabytes: int) -> int:
    """A ShareGPT JSON list of about ``megabytes`` MB; returns its record count."""
    target = megabytes * 1_000_000
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        size = 1
        while size < target:
            rec = {"id": f"sg{n:08d}", "conversations": [
                {"from": "human", "value": f"How do I keep basil alive on a windowsill? ({n})"},
                {"from": "gpt", "value": "Give it four hours of sun, water when the top "
                 "centimetre of soil is dry, and pinch the tips so it grows bushy. " * 2}]}
            line = ("," if n else "") + json.dumps(rec)
            f.write(line)
            size += len(line)
            n += 1
        f.write("]")
    return n


def _run(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-mb", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--keep", default=None, help="directory for the generated inputs")
    args = ap.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="ultralink-scan-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for mb in args.sizes_mb:
        src = work / f"sharegpt_{mb}mb.json"
        n = write_sharegpt(src, mb) if not src.exists() else None
        pickled = work / f"scan_{mb}.pkl"
        full = _run(_WORKER, str(src), str(pickled), "none")
        plan = _run(_DRIVER, str(pickled))
        limited = _run(_WORKER, str(src), str(work / "limited.pkl"), "1000")
        results[mb] = {"records": full["records"] if n is None else n,
                       "scan_rss_mb": round(full["rss_mb"]), "plan_rss_mb": round(plan["rss_mb"]),
                       "pickled_mb": round(pickled.stat().st_size / 1e6, 1),
                       "scan_s": round(full["s"], 1), "limit_s": round(limited["s"], 2)}
        print(f"{mb:>5} MB: {results[mb]}", flush=True)
        if not args.keep:
            src.unlink()
        pickled.unlink()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
