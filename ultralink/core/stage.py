"""The small base every preparation step shares (after datatrove's PipelineStep).

A step has a ``name``, loads heavy things in ``setup()`` (once per worker, never in the
constructor, so it stays cheap and picklable), and maps an iterator of records to an
iterator of records, counting what it drops in the shared :class:`Counters`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from ultralink.core.counters import Counters

log = logging.getLogger("ultralink.steps")

In = TypeVar("In")
Out = TypeVar("Out")


def error_reason(step: str, item: Any, exc: BaseException) -> str:
    """The drop reason ``error:<Type>`` of a record (an object or a row mapping) whose
    processing raised, logged once with the record's id and file so the poison record can be
    found (the job's error guard decides whether the share of such records stops the job)."""
    def get(name: str) -> Any:
        return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)

    record = get("id") or get("doc_id") or get("page_id") or "?"
    where = get("source_file") or get("file") or get("unit_id") or "?"
    log.error("step %s: record %s (%s) dropped: %s: %s", step, record, where,
              type(exc).__name__, exc)
    return f"error:{type(exc).__name__}"


def record_error(counters: Counters, step: str, item: Any, exc: BaseException) -> None:
    """Drop one record whose processing raised, as :func:`error_reason` names it."""
    counters.drop(error_reason(step, item, exc))


class Step(Generic[In, Out]):
    name: str = "step"
    # The reasons this step may drop a record with (besides ``error:<Type>``): what the job's
    # summary shows under this stage, declared next to the code that drops.
    drops: ClassVar[tuple[str, ...]] = ()

    def setup(self) -> None:
        """Load models/tokenizers; called once per worker before the first ``run``."""

    def run(self, items: Iterable[In], counters: Counters) -> Iterator[Out]:
        raise NotImplementedError


class Filter(Step[In, In]):
    """A step that keeps or drops each record with a reason (datatrove's BaseFilter)."""

    def keep(self, item: In) -> bool | str:
        """``True`` to keep; ``False`` or a reason slug to drop."""
        raise NotImplementedError

    def run(self, items: Iterable[In], counters: Counters) -> Iterator[In]:
        for item in items:
            try:
                with counters.timed(self.name):
                    verdict = self.keep(item)
            except Exception as exc:  # one poison record must not stop the unit
                record_error(counters, self.name, item, exc)
                continue
            if verdict is True:
                yield item
            else:
                counters.drop(verdict if isinstance(verdict, str) else self.name)
