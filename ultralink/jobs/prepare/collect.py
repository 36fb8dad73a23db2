"""The prepare job's driver end: part summaries in (any order), a unit's marker out once all
its parts are back, so a rerun after a crash skips finished units and never duplicates."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ultralink.core.counters import Counters
from ultralink.dataset.sink import UnitStore
from ultralink.jobs.prepare.read import MAX_PROBLEMS_PER_UNIT, counters_of
from ultralink.pipeline.error_guard import ErrorGuard
from ultralink.pipeline.progress import ProgressLine
from ultralink.sources.wikipedia import InputUnit


class UnitParts:
    """Driver side: part summaries in (any order), a unit's marker out once all are back.

    Holds only counts per unit in flight, never texts; every part's counts also go to the
    run's totals and its error guard (a part that drops too many pages stops the job).
    """

    def __init__(self, store: UnitStore, units: dict[str, InputUnit], guard: ErrorGuard,
                 progress: ProgressLine | None = None) -> None:
        self.store = store
        self.progress = progress
        self.units = units
        self.guard = guard
        self.this_run = Counters()
        self.seen: dict[str, set[int]] = {}
        self.total: dict[str, int] = {}
        self.counters: dict[str, Counters] = {}
        self.problems: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}
        self.failed: list[str] = []

    def add(self, row: dict[str, Any]) -> None:
        uid = row["unit_id"]
        counters = counters_of(row)
        self.this_run.merge(counters)
        self.guard.add_counts(counters.counts.get("out_read", 0), counters.dropped(),
                              f"part {row['part']} of unit {uid} ({self.units[uid].uri})")
        self.seen.setdefault(uid, set()).add(row["part"])
        self.counters.setdefault(uid, Counters()).merge(counters)
        self.problems.setdefault(uid, []).extend(row["problems"])
        self.rows[uid] = self.rows.get(uid, 0) + row["rows"]
        if row["failed"]:
            self.failed.append(row["failed"])
        if row["last"]:
            self.total[uid] = row["part"] + 1
        if len(self.seen[uid]) == self.total.get(uid, -1):
            self._finish(uid, failed=bool(row["failed"]))

    def _finish(self, uid: str, failed: bool) -> None:
        unit, counters, parts = self.units[uid], self.counters.pop(uid), self.total.pop(uid)
        problems, rows = self.problems.pop(uid), self.rows.pop(uid)
        del self.seen[uid]
        if failed:   # left unmarked: the next run reads it again
            return
        self.store.finish_unit(uid, {"uri": unit.uri, "unit": asdict(unit), "rows": rows,
                                     "parts": parts, "counters": counters.to_dict(),
                                     "problems": problems[:MAX_PROBLEMS_PER_UNIT]})
        if self.progress is not None:
            self.progress.row(rows)
            self.progress.unit_done(counters)

    def incomplete(self) -> list[str]:
        """Units some of whose parts never came back."""
        return sorted(self.seen)
