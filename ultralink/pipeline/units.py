"""Per-unit output for streaming LLM jobs: many units in flight, each written when complete.

An LLM job feeds the rows of all pending units into one Ray Data pipeline (so the engines
never wait on a unit boundary). Every row carries its ``unit_id``; the stage keeps dropped
rows with a ``drop_reason`` (``LLMStage(keep_dropped=True)``), so the driver sees the fate of
every input row, and every row carries its counts (:mod:`ultralink.pipeline.outcome`).
:class:`UnitCollector` buffers rows per unit, adds each row's counts to its unit's, and, as
soon as a unit has all of its rows back, writes its shard and marker atomically
(``ultralink.dataset.sink``). A crash loses only the units in flight; a rerun skips the
finished ones.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ultralink.core.counters import Counters
from ultralink.dataset.sink import UnitStore, write_parquet_atomic
from ultralink.pipeline.error_guard import ErrorGuard, ErrorLimits
from ultralink.pipeline.outcome import DROP_COLUMN, UNIT_COLUMN, Outcome, outcome_of
from ultralink.pipeline.progress import ProgressLine

__all__ = ["DROP_COLUMN", "UNIT_COLUMN", "Rounds", "UnitCollector", "WorkUnit", "draw_more",
           "grow_to_target"]

log = logging.getLogger("ultralink.units")


@dataclass(frozen=True, slots=True)
class WorkUnit:
    """A deterministic slice of a job's input: its id, how many rows, where they came from."""

    unit_id: str
    n_rows: int
    info: Mapping[str, Any] = field(default_factory=dict)


def draw_more(target: int, got: int, used: int) -> int:
    """How many more inputs to draw for ``target`` outputs when ``used`` inputs gave ``got``:
    sized by the yield so far (a half before any output) with 2 % over, so one more round is
    the rule and a run of rounds stays deterministic (it depends on counts, not timing)."""
    per_input = got / used if got and used else 0.5
    return math.ceil(1.02 * (target - got) / max(per_input, 0.05))


@dataclass(frozen=True, slots=True)
class Rounds:
    """How a job grew its draw over ordered candidates until a target was met."""

    target: int
    drawn: int    # candidates drawn in all (a prefix of the order)
    got: int      # records made from them
    rounds: int   # rounds run, the first included

    @property
    def met(self) -> bool:
        return self.got >= self.target


def grow_to_target(target: int, available: int, first: int, max_rounds: int,
                   run_round: Callable[[int, int, int], int | None]) -> Rounds:
    """Rounds over a growing prefix of ``available`` ordered candidates until ``target``
    records are made: round 0 draws the first ``first``; each next round draws more, sized
    by the yield so far (:func:`draw_more`), until the target is met, the candidates run out
    or ``max_rounds`` rounds have run. Both LLM jobs grow this way (specific: segments in id
    order; agnostic: the pool after pruning).

    ``run_round(round, lo, hi)`` runs candidates ``[lo, hi)`` and returns the records made
    so far over ``[0, hi)``, or ``None`` to stop (a round left incomplete). Each round's
    range depends only on the counts before it, so a rerun replans the same rounds."""
    lo, hi, got = 0, min(available, first), 0
    for r in range(max_rounds):
        made = run_round(r, lo, hi)
        if made is None:
            return Rounds(target, hi, got, r + 1)
        got = made
        if got >= target or hi >= available or r + 1 >= max_rounds:
            return Rounds(target, hi, got, r + 1)
        lo, hi = hi, min(available, hi + draw_more(target, got, hi))
    return Rounds(target, hi, got, max_rounds)


class UnitCollector:
    """Driver-side sink: rows in (any order), one shard + marker out per completed unit.

    ``dropped[unit]`` holds the unit's counters so far (rows' outcome counts and drops; a
    subclass may add its own); ``on_unit_done(unit_id)`` runs once a unit's shard and marker
    are written (an LLM job spends the unit's request cache:
    ``llm_stage.spend_request_cache``); ``on_drop(row, outcome)`` sees every dropped row
    (e.g. to keep a report's first reject samples); ``progress`` logs the run's progress
    line as units finish."""

    def __init__(self, store: UnitStore, units: Iterable[WorkUnit], schema: pa.Schema,
                 to_record: Callable[[dict[str, Any]], dict[str, Any]],
                 sort_key: str = "id", limits: ErrorLimits | None = None,
                 on_unit_done: Callable[[str], None] | None = None,
                 on_drop: Callable[[Mapping[str, Any], Outcome], None] | None = None,
                 progress: ProgressLine | None = None) -> None:
        self.store = store
        self.progress = progress
        self.units = {u.unit_id: u for u in units}
        self.schema = schema
        self.to_record = to_record
        self.sort_key = sort_key
        self.kept: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.seen: dict[str, int] = defaultdict(int)
        self.dropped: dict[str, Counters] = defaultdict(Counters)
        self.finished: set[str] = set()
        self.counters = Counters()
        self.guard = ErrorGuard(limits)
        self.on_unit_done = on_unit_done
        self.on_drop = on_drop

    def add(self, row: Mapping[str, Any]) -> None:
        unit_id = row[UNIT_COLUMN]
        if unit_id not in self.units:
            raise KeyError(f"row for unknown unit {unit_id!r}")
        self.seen[unit_id] += 1
        if self.progress is not None:
            self.progress.row()
        outcome = outcome_of(row)
        reason = outcome.reason
        self.guard.add(reason, f"record {row.get('id', '?')} (unit {unit_id})")
        self.dropped[unit_id].merge(outcome.counts)
        if reason:
            self.dropped[unit_id].drop(reason)
            if self.on_drop is not None:
                self.on_drop(row, outcome)
        else:
            self.kept[unit_id].append(self.to_record(dict(row)))
        if self.seen[unit_id] == self.units[unit_id].n_rows:
            self._write(unit_id)

    def _write(self, unit_id: str) -> None:
        rows = sorted(self.kept.pop(unit_id, []), key=lambda r: r[self.sort_key])
        if rows:
            write_parquet_atomic(self.store.shard(unit_id),
                                 [pa.Table.from_pylist(rows, schema=self.schema)], self.schema)
        dropped = self.dropped.pop(unit_id, Counters())
        dropped.add("rows_in", self.units[unit_id].n_rows)
        dropped.add("rows_written", len(rows))
        self.store.finish_unit(unit_id, {"rows": len(rows), "counters": dropped.to_dict(),
                                         "info": dict(self.units[unit_id].info)})
        if self.on_unit_done is not None:
            self.on_unit_done(unit_id)
        self.counters.merge(dropped)
        self.finished.add(unit_id)
        if self.progress is not None:
            self.progress.unit_done(dropped)

    def finish_empty(self) -> None:
        """Units with no input rows are complete from the start."""
        for unit_id, unit in self.units.items():
            if unit.n_rows == 0 and unit_id not in self.finished:
                self._write(unit_id)

    def incomplete(self) -> list[str]:
        return sorted(set(self.units) - self.finished)
