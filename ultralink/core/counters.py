"""One counting helper for every stage, so every drop and every second reaches the report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class Counters:
    """Named integer counts plus accumulated timings; mergeable across workers.

    Conventions (STYLE.md rule 5): ``total``, ``kept``, ``dropped_<reason>``,
    ``errors_<type>``; timings are seconds under ``time_<name>``.
    """

    __slots__ = ("counts", "timings")

    def __init__(self, counts: Mapping[str, int] | None = None,
                 timings: Mapping[str, float] | None = None) -> None:
        self.counts: Counter[str] = Counter(counts or {})
        self.timings: dict[str, float] = dict(timings or {})

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

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
        if isinstance(other, Counters):
            counts, timings = other.counts, other.timings
        else:
            counts, timings = other.get("counts", {}), other.get("timings", {})
        self.counts.update(counts)
        for k, v in timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        return self

    def scoped(self, stage: str) -> StageCounters:
        """A view whose drops also count under ``stage``, so a summary attributes every
        drop to the stage that made it (two stages may use the same reason)."""
        return StageCounters(self, stage)

    def dropped_by(self, stage: str) -> dict[str, int]:
        """The drops :meth:`scoped` attributed to ``stage``."""
        prefix = f"{STAGE_DROP}{stage}:"
        return {k[len(prefix):]: v for k, v in self.counts.items() if k.startswith(prefix)}

    def dropped(self) -> dict[str, int]:
        return {k[len("dropped_"):]: v for k, v in self.counts.items() if k.startswith("dropped_")}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())),
                "timings": {k: round(v, 6) for k, v in sorted(self.timings.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Counters:
        return cls(data.get("counts", {}), data.get("timings", {}))


STAGE_DROP = "stage_dropped:"


class StageCounters:
    """:class:`Counters` as one stage sees them: everything goes to the shared counters, and
    each drop is also recorded as ``stage_dropped:<stage>:<reason>``."""

    __slots__ = ("parent", "stage")

    def __init__(self, parent: Counters, stage: str) -> None:
        self.parent = parent
        self.stage = stage

    def drop(self, reason: str, n: int = 1) -> None:
        self.parent.drop(reason, n)
        self.parent.add(f"{STAGE_DROP}{self.stage}:{reason}", n)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.parent, name)
