"""The skeleton every unit-based job shares, and the one summary every job reports.

A job (prepare, specific, agnostic) supplies its config, its plan (deterministic
:class:`~ultralink.pipeline.units.WorkUnit`s), its declared stage list
(:class:`~ultralink.pipeline.dataflow.RayStage`) and its record builder (the collector);
:class:`UnitJob` owns the rest, the same way for all of them: input expansion and checks,
the output store (lease, config identity, inputs' identities), skipping finished units and
removing stale ones, the Ray Data pipeline from work items through the stages, collecting
rows into per-unit shards, totals over every marker (so a
resumed run reports the whole output), the report and the manifest. :class:`JobSummary` is
the part of every report that ``ultralink build`` reads: records in/out, drops by reason,
tokens — one type instead of one string-keyed shape per job.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ultralink.core.counters import Counters
from ultralink.core.fs import Location, expand_inputs, resolve
from ultralink.pipeline.dataflow import RayStage, stream
from ultralink.dataset.sink import UnitStore
from ultralink.pipeline.report import JobReport, JobSummary

__all__ = ["Collector", "Job", "JobReport", "JobSummary", "UnitJob"]

log = logging.getLogger("ultralink.runner")


class Collector(Protocol):
    """The driver's end of a job's pipeline (``pipeline.units.UnitCollector`` and kin)."""

    def add(self, row: Mapping[str, Any]) -> None: ...

    def incomplete(self) -> list[str]: ...


Cfg = TypeVar("Cfg", covariant=True)


class Job(Protocol[Cfg]):
    """A unit-based job as the runner sees it: its config, its plan (deterministic units),
    its declared stage list, the record each kept row becomes, and its typed report
    (``jobs.specific.SpecificJob``; prepare and agnostic follow the same shape)."""

    name: str

    @property
    def config(self) -> Cfg: ...

    def plan(self, job: UnitJob) -> Any: ...

    def stages(self, job: UnitJob, pool: Any) -> list[RayStage]: ...

    def record(self, row: dict[str, Any]) -> dict[str, Any]: ...

    def report(self, totals: Counters, this_run: Counters) -> JobReport: ...


@dataclass
class UnitJob:
    """One run of a unit-based job over one output."""

    name: str
    out: Location
    store: UnitStore
    files: list[Location]
    problems: list[str]
    started: float = field(default_factory=time.time)

    @classmethod
    def open(cls, name: str, inputs: list[str], output: str, job_config: Mapping[str, Any],
             overwrite: bool, suffix: str | None = None) -> UnitJob:
        """Check the inputs (before anything is written), then open the output store.

        ``suffix``: keep only input files whose name ends with it (e.g. ``.parquet``)."""
        files, problems = expand_inputs(inputs)
        if suffix is not None:
            files = [f for f in files if posixpath.basename(f.path).endswith(suffix)]
            if not files:
                raise ValueError(f"no {suffix} files under {', '.join(inputs)}")
        if len({loc.is_s3 for loc in files}) > 1:
            raise ValueError("mixing local and s3:// inputs in one job is not supported; "
                             "run them separately")
        out = resolve(output)
        store = UnitStore(out, name, dict(job_config))
        store.open(overwrite)
        store.record_inputs(files)
        return cls(name, out, store, files, problems)

    def pending(self, units: Iterable[Any],
                versions: Mapping[str, str] | None = None) -> list[Any]:
        """The planned units (anything with a ``unit_id``: ``WorkUnit``, ``InputUnit``) not
        finished yet; finished units outside the plan (changed or
        removed inputs, a partial chunk since completed) are removed first."""
        units = list(units)
        stale = self.store.drop_stale({u.unit_id for u in units}, versions)
        if stale:
            log.info("%s: removed %d finished unit(s) outside this plan: %s", self.name,
                     len(stale), stale[:5])
        done = self.store.done()
        return [u for u in units if u.unit_id not in done]

    def run(self, items: Sequence[Mapping[str, Any]], stages: Sequence[RayStage],
            collector: Collector, on_row: Callable[[], None] | None = None,
            **limits: int | None) -> list[str]:
        """Run the job's declared ``stages`` over its work ``items`` (one Ray Data pipeline,
        :func:`~ultralink.pipeline.dataflow.stream`; ``limits``: its ``block_bytes`` /
        ``in_flight_bytes``) and feed every row out to ``collector``, which writes each unit
        the moment its last row is back; returns the units that never completed."""
        rows = stream(items, stages, **limits)
        try:
            for row in rows:
                collector.add(row)
                if on_row is not None:
                    on_row()
        finally:
            rows.close()
        return collector.incomplete()

    def totals(self) -> Counters:
        """Counters summed over every finished unit's marker: the whole output, resumed
        units included."""
        total = Counters()
        for marker in self.store.done().values():
            total.merge(marker["counters"])
        return total

    def finish(self, report: dict[str, Any], summary: JobSummary | JobReport,
               status: str = "done", **manifest: Any) -> dict[str, Any]:
        """Write the report (with its summary and wall time) and the manifest."""
        if isinstance(summary, JobReport):
            summary = summary.summary
        report["summary"] = summary.to_dict()
        report.setdefault("wall_time_s", round(time.time() - self.started, 3))
        self.store.write_report(report)
        self.store.write_manifest(status=status, units_done=len(self.store.done()), **manifest)
        return report
