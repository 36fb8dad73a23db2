"""``ultralink prepare``: Wikipedia inputs → clean, language-checked, sentence-safe segments.

``config`` (``PrepareConfig``), ``read`` (units in, parts of pages out), ``stage`` (the
prepare chain over a part, one shard per part), ``collect``
(parts back → unit markers), ``report``, ``job`` (``PrepareJob``, the runner's view, and
``run_prepare``)."""

from ultralink.core.fs import NoInput
from ultralink.jobs.prepare.collect import UnitParts
from ultralink.jobs.prepare.config import PrepareConfig
from ultralink.jobs.prepare.job import PrepareJob, run_prepare

__all__ = ["NoInput", "PrepareConfig", "PrepareJob", "UnitParts", "run_prepare"]
