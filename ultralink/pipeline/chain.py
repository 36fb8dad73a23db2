"""Run a linear chain of steps lazily, counting every stage's records in/out and its time."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ultralink.counters import Counters
from ultralink.stage import Step


def run_chain(steps: Sequence[Step[Any, Any]], items: Iterable[Any], counters: Counters,
              source: str = "read") -> Iterator[Any]:
    """Chain ``steps`` over ``items``; records ``in_<step>``/``out_<step>`` and inclusive times.

    Steps are generators, so time is measured around each ``next()`` of a step's output:
    the inclusive time of a step includes its upstream; :func:`stage_summary` subtracts.
    """
    it: Iterator[Any] = _measure(source, iter(items), counters)
    for step in steps:
        it = _measure(step.name, step.run(_count(f"in_{step.name}", it, counters), counters), counters)
    return it


def _count(key: str, items: Iterator[Any], counters: Counters) -> Iterator[Any]:
    for item in items:
        counters.add(key)
        yield item


def _measure(name: str, items: Iterator[Any], counters: Counters) -> Iterator[Any]:
    key = f"incl_{name}"
    while True:
        start = time.perf_counter()
        try:
            item = next(items)
        except StopIteration:
            counters.timings[key] = counters.timings.get(key, 0.0) + time.perf_counter() - start
            return
        counters.timings[key] = counters.timings.get(key, 0.0) + time.perf_counter() - start
        counters.add(f"out_{name}")
        yield item


def stage_summary(names: Sequence[str], counters: Counters, source: str = "read") -> list[dict[str, Any]]:
    """Per-stage rows (in, out, dropped by reason, exclusive seconds, records/s) for the report."""
    rows = []
    upstream = 0.0
    dropped = counters.dropped()
    for name in [source, *names]:
        incl = counters.timings.get(f"incl_{name}", 0.0)
        secs = max(incl - upstream, 0.0)
        upstream = incl
        if name == source:   # a source read in a stage of its own reports its time by name
            secs += counters.timings.get(source, 0.0)
        n_in = counters.counts.get(f"in_{name}", counters.counts.get(f"out_{name}", 0))
        n_out = counters.counts.get(f"out_{name}", 0)
        rows.append({
            "stage": name,
            "in": n_in,
            "out": n_out,
            "dropped": {r: n for r, n in dropped.items() if r in _STAGE_REASONS.get(name, ())},
            "seconds": round(secs, 3),
            "records_per_s": round(n_in / secs, 1) if secs > 0 else None,
        })
    return rows


# Which drop reasons belong to which stage, so the summary can attribute them.
_STAGE_REASONS: dict[str, tuple[str, ...]] = {
    "read": ("parse_error",),
    "clean": ("namespace", "redirect", "disambiguation", "empty", "parse_error"),
    "language": ("language",),
    "doc_length": ("too_short", "too_long"),
    "segment": ("remainder",),
}


def format_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain fixed-width table for end-of-job summaries."""
    cells = [[str(c) for c in columns]]
    for row in rows:
        cells.append([_fmt(row.get(c)) for c in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
