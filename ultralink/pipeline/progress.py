"""One progress line per job, logged as its units finish: done/total units and records, the
rate so far, tokens per second and an ETA from the measured rate. It reads the same in a
terminal, a log file and ``ray job logs`` (Ray Data's own bars are only drawn on a terminal:
``pipeline.runtime``), at most every ``interval_s`` seconds and once at the end."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ultralink.core.counters import Counters

log = logging.getLogger("ultralink.progress")



def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{round(seconds / 60)}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


@dataclass
class ProgressLine:
    """The progress of one run of ``units`` units holding ``rows`` records."""

    label: str
    units: int
    rows: int                     # 0: not known ahead (prepare: segments come out of pages)
    interval_s: float = 30.0
    noun: str = "records"
    clock: Callable[[], float] = time.monotonic
    units_done: int = 0
    rows_done: int = 0
    tokens: int = 0
    started: float = field(default=-1.0)
    _last: float = field(default=-1.0)

    def __post_init__(self) -> None:
        self.started = self._last = self.clock()

    def row(self, n: int = 1) -> None:
        self.rows_done += n

    def unit_done(self, counters: Counters) -> None:
        """A unit's shard is written; its counters hold the tokens it generated (the
        dialogue stage's ``tokens_generated``, the LLM stage's ``llm`` group)."""
        self.units_done += 1
        self.tokens += int(counters.counts.get("tokens_generated", 0)) + int(
            counters.group("llm").get("completion_tokens", 0))
        last = self.units_done >= self.units
        if last or self.clock() - self._last >= self.interval_s:
            self._last = self.clock()
            log.info("%s", self.line())

    def line(self) -> str:
        """``agnostic zh/math: 3/10 units, 1,500/5,000 records (12.5/s), 40 tok/s, ETA 4m``."""
        wall = max(self.clock() - self.started, 1e-9)
        rate = self.rows_done / wall
        of = f"/{self.rows:,}" if self.rows else ""
        text = (f"{self.label}: {self.units_done}/{self.units} units, "
                f"{self.rows_done:,}{of} {self.noun} ({rate:.1f}/s)")
        if self.tokens:
            text += f", {self.tokens / wall:,.0f} tok/s"
        if self.units_done >= self.units or (self.rows and self.rows_done >= self.rows):
            return text + f", done in {_duration(wall)}"
        # from the records' rate when their total is known, else from the units'
        done, left = ((self.rows_done, self.rows - self.rows_done) if self.rows
                      else (self.units_done, self.units - self.units_done))
        return text + (f", ETA {_duration(left * wall / done)}" if done else ", ETA unknown")
