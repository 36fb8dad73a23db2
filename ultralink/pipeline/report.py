"""What a job reports, typed: one row per stage (records in/out, drops by the reason the
stage declared) and the typed counter groups, built from the units' counters the same way
for every job. Its :attr:`JobReport.summary` is the :class:`JobSummary` that ``ultralink
build`` reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ultralink.core.counters import Counters


@dataclass(slots=True)
class JobSummary:
    """What every job's report says the same way (``report["summary"]``)."""

    records_in: int
    records_out: int
    dropped: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    tokens_kind: str = "none"   # segment | generated | none
    run_tokens: int = 0         # tokens produced by this run (0 when everything was resumed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"in": d.pop("records_in"), "out": d.pop("records_out"), **d}


@dataclass(frozen=True, slots=True)
class StageRow:
    """One stage of a job: how many records went in and out, and why the others were
    dropped (by the reasons the stage declares, plus ``error:<Type>``)."""

    name: str
    records_in: int
    records_out: int
    dropped_by_reason: Mapping[str, int] = field(default_factory=dict)
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report's row (keys ``stage``, ``in``, ``out``, ``dropped``, …)."""
        secs = self.seconds
        return {"stage": self.name, "in": self.records_in, "out": self.records_out,
                "dropped": dict(sorted(self.dropped_by_reason.items())),
                "seconds": None if secs is None else round(secs, 3),
                "records_per_s": round(self.records_in / secs, 1) if secs else None}


@dataclass(slots=True)
class JobReport:
    """A job's stage rows, its typed counter groups and its token count."""

    job: str
    records_in: int
    records_out: int
    stages: list[StageRow] = field(default_factory=list)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)
    tokens: int = 0
    tokens_kind: str = "none"
    run_tokens: int = 0

    @classmethod
    def of(cls, job: str, total: Counters, stages: Iterable[StageRow],
           groups: Iterable[str] = (), **summary: Any) -> JobReport:
        """From a job's totals: its stage rows and the named counter groups (sorted)."""
        return cls(job, stages=list(stages),
                   groups={g: dict(sorted(total.group(g).items())) for g in groups}, **summary)

    @property
    def dropped(self) -> dict[str, int]:
        """Every stage's drops, by reason."""
        out: Counter[str] = Counter()
        for row in self.stages:
            out.update(row.dropped_by_reason)
        return dict(sorted((k, v) for k, v in out.items() if v))

    @property
    def summary(self) -> JobSummary:
        return JobSummary(self.records_in, self.records_out, self.dropped, self.tokens,
                          self.tokens_kind, self.run_tokens)
