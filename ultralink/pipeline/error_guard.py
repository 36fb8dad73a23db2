"""Stop a job whose rows fail with errors too often, but never for one poison record.

A row whose processing raises is dropped with reason ``error:<Type>`` (the LLM stage base and
the CPU steps do this, logging the record id and its file once). That keeps a week-long job
alive through a few odd records; but when a share of the rows fail, something is broken (a
bad prompt file, an engine that returns garbage, a bug), and burning GPU hours on it helps
nobody. :class:`ErrorGuard` counts rows and errors as the driver sees them and raises
:class:`TooManyErrors` (one clear line) once the errors pass ``max_share`` of the rows, after
at least ``min_errors`` errors, so a small sample never stops on its first failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from ultralink.core.config import ErrorLimits

__all__ = ["ErrorGuard", "ErrorLimits", "TooManyErrors", "error_counts", "is_error"]

ERROR_PREFIX = "error:"


class TooManyErrors(RuntimeError):
    """The share of rows that failed with errors passed the configured limit."""


def is_error(reason: str | None) -> bool:
    return bool(reason) and str(reason).startswith(ERROR_PREFIX)


def error_counts(dropped: Mapping[str, int]) -> dict[str, int]:
    """``{"error:IndexError": n}`` from a drop-reason mapping."""
    return {k: v for k, v in dropped.items() if is_error(k) and v}


class ErrorGuard:
    """Counts rows and errored rows; :meth:`check` raises when the share is too high."""

    def __init__(self, limits: ErrorLimits | None = None, what: str = "rows") -> None:
        self.limits = limits or ErrorLimits()
        self.what = what
        self.rows = 0
        self.errors: Counter[str] = Counter()
        self.first: str = ""

    def add(self, reason: str | None, where: str = "") -> None:
        """One row seen; ``reason`` its drop reason (``None``/"" when kept)."""
        self.rows += 1
        if is_error(reason):
            self.errors[str(reason)] += 1
            if not self.first and where:
                self.first = where
            self.check()

    def add_counts(self, rows: int, dropped: Mapping[str, int], where: str = "") -> None:
        """A batch of rows at once (a CPU unit's counters)."""
        self.rows += rows
        errors = error_counts(dropped)
        if errors:
            self.errors.update(errors)
            if not self.first and where:
                self.first = where
            self.check()

    def check(self) -> None:
        n = sum(self.errors.values())
        limits = self.limits
        if n < limits.min_errors or self.rows == 0 or n / self.rows <= limits.max_error_share:
            return
        kinds = ", ".join(f"{k}={v}" for k, v in self.errors.most_common(5))
        first = f"; first in {self.first}" if self.first else ""
        raise TooManyErrors(
            f"stopped: {n} of {self.rows} {self.what} ({n / self.rows:.1%}) failed with errors "
            f"({kinds}), above max_error_share {limits.max_error_share}{first}; the log names "
            "each record and its file")
