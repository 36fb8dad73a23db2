"""One counting helper for every stage, so every drop and every second reaches the report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class Counters:
    """Named integer counts, typed groups of counts, and accumulated timings; mergeable
    across workers.

    Conventions (STYLE.md rule 5): ``total``, ``kept``, ``dropped_<reason>``,
    ``errors_<type>``; timings are seconds under ``time_<name>``. Counts keyed by a value
    (a dialogue's end reason, its number of turns, a rejection reason) go in a *group*:
    ``add_in("end", reason)``, read back whole with ``group("end")``, never by parsing a key
    prefix. Drops a stage made are kept per stage too (:meth:`scoped`). Serialised nested
    (:meth:`to_dict`), so no key is ambiguous.
    """

    __slots__ = ("counts", "groups", "stages", "timings")

    def __init__(self, counts: Mapping[str, int] | None = None,
                 timings: Mapping[str, float] | None = None,
                 groups: Mapping[str, Mapping[str, int]] | None = None,
                 stages: Mapping[str, Mapping[str, int]] | None = None) -> None:
        self.counts: Counter[str] = Counter(counts or {})
        self.timings: dict[str, float] = dict(timings or {})
        self.groups: dict[str, Counter[str]] = {g: Counter(v) for g, v in (groups or {}).items()}
        self.stages: dict[str, Counter[str]] = {g: Counter(v) for g, v in (stages or {}).items()}

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def add_in(self, group: str, key: str | int, n: int = 1) -> None:
        """Count ``n`` under ``key`` of ``group`` (keys are strings; ints are written as such)."""
        self.groups.setdefault(group, Counter())[str(key)] += n

    def group(self, name: str) -> dict[str, int]:
        """The counts of ``group`` (empty when nothing was counted in it)."""
        return dict(self.groups.get(name, {}))

    def drop(self, reason: str, n: int = 1) -> None:
        self.counts["dropped_" + reason] += n

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def merge(self, other: Counters | Mapping[str, Any]) -> Counters:
        if not isinstance(other, Counters):
            other = Counters.from_dict(other)
        self.counts.update(other.counts)
        for k, v in other.timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        for mine, theirs in ((self.groups, other.groups), (self.stages, other.stages)):
            for name, counts in theirs.items():
                mine.setdefault(name, Counter()).update(counts)
        return self

    def scoped(self, stage: str) -> StageCounters:
        """A view whose drops also count under ``stage``, so a summary attributes every
        drop to the stage that made it (two stages may use the same reason)."""
        return StageCounters(self, stage)

    def dropped_by(self, stage: str) -> dict[str, int]:
        """The drops :meth:`scoped` attributed to ``stage``."""
        return dict(self.stages.get(stage, {}))

    def dropped(self) -> dict[str, int]:
        return {k[len("dropped_"):]: v for k, v in self.counts.items() if k.startswith("dropped_")}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())),
                "groups": _nested(self.groups), "stages": _nested(self.stages),
                "timings": {k: round(v, 6) for k, v in sorted(self.timings.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Counters:
        return cls(data.get("counts", {}), data.get("timings", {}), data.get("groups", {}),
                   data.get("stages", {}))


def _nested(groups: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {g: dict(sorted(v.items())) for g, v in sorted(groups.items()) if v}


class StageCounters:
    """:class:`Counters` as one stage sees them: everything goes to the shared counters, and
    each drop is also recorded under the stage (``Counters.dropped_by``)."""

    __slots__ = ("parent", "stage")

    def __init__(self, parent: Counters, stage: str) -> None:
        self.parent = parent
        self.stage = stage

    def drop(self, reason: str, n: int = 1) -> None:
        self.parent.drop(reason, n)
        self.parent.stages.setdefault(self.stage, Counter())[reason] += n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parent, name)
