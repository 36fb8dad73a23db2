"""``ultralink prepare``: Wikipedia inputs → clean, language-checked, sentence-safe segments.

``config`` (``PrepareConfig``), ``read`` (units in, parts of pages out), ``stage`` (the
prepare chain over a part, one shard per part), ``job`` (the driver: plan, run, mark units, report)."""

from ultralink.core.fs import NoInput
from ultralink.jobs.prepare.config import PrepareConfig
from ultralink.jobs.prepare.job import UnitParts, run_prepare

__all__ = ["NoInput", "PrepareConfig", "UnitParts", "run_prepare"]
