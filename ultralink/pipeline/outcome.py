"""What became of a row: kept or dropped (and why), and what processing it counted.

Every row that leaves a unit-based stage carries its outcome as columns: ``drop_reason``
("" for a kept row) and ``row_counts`` (its typed counters, on kept and dropped rows alike).
The driver's collector (:mod:`ultralink.pipeline.units`) adds a row's counts to its unit's
marker whatever its fate, so a dropped dialogue's rejections reach the report with no side
channel. A stage drops a row by raising :class:`Drop` (with the counts it had made so far,
and a short ``detail`` a report may sample, in ``drop_detail``) and keeps one by returning
its columns, or a :class:`Kept` when it counted something too.
This module knows nothing of LLMs: the CPU jobs and the LLM stages share it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ultralink.core.counters import Counters
from ultralink.core.records import counts_type

UNIT_COLUMN = "unit_id"       # a row's work unit: where its collector writes it
DROP_COLUMN = "drop_reason"   # why the row was dropped; "" when it was kept
COUNTS_COLUMN = "row_counts"  # the row's own counters (map<string, int64>)
GROUPS_COLUMN = "row_groups"  # its grouped counters (map<string, map<string, int64>>)
DETAIL_COLUMN = "drop_detail"  # what the stage said about a drop (e.g. a model's output); ""


class Drop(Exception):
    """Raised from a stage's row function to drop the row as ``dropped_<reason>``; ``counts``
    (what processing the row counted before it was dropped) still reach the unit's marker;
    ``detail`` (short) says what the reason alone does not, for a job's reject samples."""

    def __init__(self, reason: str, counts: Counters | None = None, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.counts = counts or Counters()
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Kept:
    """A kept row's written columns plus what processing it counted."""

    columns: Mapping[str, Any]
    counts: Counters = field(default_factory=Counters)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A row's fate as the driver reads it back."""

    reason: str
    counts: Counters
    detail: str = ""

    @property
    def kept(self) -> bool:
        return not self.reason


def outcome_of(row: Mapping[str, Any]) -> Outcome:
    """The outcome columns of ``row`` (absent columns: kept, nothing counted)."""
    return Outcome(str(row.get(DROP_COLUMN) or ""), counts_of(row),
                   str(row.get(DETAIL_COLUMN) or ""))


def counts_of(row: Mapping[str, Any]) -> Counters:
    """A row's ``row_counts`` and ``row_groups`` (an Arrow map arrives as pairs, a Python
    row as a dict)."""
    return Counters(dict(row.get(COUNTS_COLUMN) or {}),
                    groups=nested_of(row.get(GROUPS_COLUMN)))


def counts_columns(counts: Counters) -> dict[str, Any]:
    """``counts`` as the values of the ``row_counts`` and ``row_groups`` columns."""
    return {COUNTS_COLUMN: sorted(counts.counts.items()),
            GROUPS_COLUMN: nested_column(counts.groups)}


def groups_type() -> pa.DataType:
    """Grouped counts (``Counters.groups`` / ``.stages``) as one typed Arrow column."""
    return pa.map_(pa.string(), counts_type())


def nested_column(groups: Mapping[str, Mapping[str, int]]) -> list[tuple[str, Any]]:
    """Grouped counts as a value of a :func:`groups_type` column."""
    return [(g, sorted(v.items())) for g, v in sorted(groups.items()) if v]


def nested_of(value: Any) -> dict[str, dict[str, int]]:
    """The inverse of :func:`nested_column` (pairs from Arrow, or already a mapping)."""
    items = value.items() if isinstance(value, Mapping) else (value or [])
    return {g: dict(v.items() if isinstance(v, Mapping) else v) for g, v in items}


def outcome_types() -> dict[str, Callable[[], pa.DataType]]:
    """The outcome columns' Arrow types (built from the rows, never inferred)."""
    return {DROP_COLUMN: pa.string, DETAIL_COLUMN: pa.string, COUNTS_COLUMN: counts_type,
            GROUPS_COLUMN: groups_type}
