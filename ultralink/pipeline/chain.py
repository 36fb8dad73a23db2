"""Run a linear chain of steps lazily, counting every stage's records in/out and its time."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ultralink.core.counters import Counters
from ultralink.core.stage import Step
from ultralink.pipeline.error_guard import is_error
from ultralink.pipeline.report import StageRow

log = logging.getLogger("ultralink.chain")


def run_chain(steps: Sequence[Step[Any, Any]], items: Iterable[Any], counters: Counters,
              source: str = "read") -> Iterator[Any]:
    """Chain ``steps`` over ``items``; records ``in_<step>``/``out_<step>`` and inclusive times.

    Steps are generators, so time is measured around each ``next()`` of a step's output:
    the inclusive time of a step includes its upstream; :func:`stage_summary` subtracts.
    """
    it: Iterator[Any] = _measure(source, iter(items), counters)
    for step in steps:
        scoped = counters.scoped(step.name)   # its drops are attributed to it in the summary
        it = _measure(step.name, step.run(_count(f"in_{step.name}", it, counters), scoped),  # type: ignore[arg-type]
                      counters)
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


def stage_summary(steps: Sequence[Any], counters: Counters,
                  source: str = "read") -> list[dict[str, Any]]:
    """:func:`stage_rows` as the report's dicts."""
    return [row.to_dict() for row in stage_rows(steps, counters, source)]


def stage_rows(steps: Sequence[Any], counters: Counters, source: str = "read") -> list[StageRow]:
    """Per-stage rows (in, out, dropped by reason, exclusive seconds) for the report.

    ``steps``: the chain's steps or their classes (each declares ``name``). Each step's drops
    are the ones :func:`run_chain` attributed to it (``Counters.scoped``); the source's are
    every drop no step made (the reader's)."""
    rows = []
    upstream = 0.0
    dropped = counters.dropped()
    by_step = {step.name: counters.dropped_by(step.name) for step in steps}
    for attributed in by_step.values():
        for reason, n in attributed.items():
            dropped[reason] -= n
    for step in steps:
        undeclared = [r for r in by_step[step.name]
                      if r not in getattr(step, "drops", ()) and not is_error(r)]
        if undeclared:  # the declaration is the stage's contract: say when code outgrew it
            log.warning("stage %s dropped with undeclared reason(s) %s", step.name, undeclared)
    by_step = {source: {r: n for r, n in dropped.items() if n}, **by_step}
    for name in [source, *(step.name for step in steps)]:
        incl = counters.timings.get(f"incl_{name}", 0.0)
        secs = max(incl - upstream, 0.0)
        upstream = incl
        if name == source:   # a source read in a stage of its own reports its time by name
            secs += counters.timings.get(source, 0.0)
        n_out = counters.counts.get(f"out_{name}", 0)
        n_in = counters.counts.get(f"in_{name}", n_out)
        rows.append(StageRow(name, n_in, n_out, by_step[name], secs))
    return rows


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
