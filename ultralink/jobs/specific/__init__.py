"""``ultralink specific``: segments → grounded multi-turn dialogues (paper §2.1.2).

``config`` (SpecificConfig), ``plan`` (work units, read on workers), ``job`` (the job's
stages and ``run_specific``), ``report`` (its report and summary)."""

from ultralink.jobs.specific.config import SpecificConfig
from ultralink.jobs.specific.job import SpecificJob, run_specific
from ultralink.jobs.specific.plan import plan_units, read_unit_segments, unit_id_for

__all__ = ["SpecificConfig", "SpecificJob", "plan_units", "read_unit_segments", "run_specific",
           "unit_id_for"]
