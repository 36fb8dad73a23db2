"""The small base every preparation step shares (after datatrove's PipelineStep).

A step has a ``name``, loads heavy things in ``setup()`` (once per worker, never in the
constructor, so it stays cheap and picklable), and maps an iterator of records to an
iterator of records, counting what it drops in the shared :class:`Counters`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from ultralink.counters import Counters

In = TypeVar("In")
Out = TypeVar("Out")


class Step(Generic[In, Out]):
    name: str = "step"

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
            with counters.timed(self.name):
                verdict = self.keep(item)
            if verdict is True:
                yield item
            else:
                counters.drop(verdict if isinstance(verdict, str) else self.name)
