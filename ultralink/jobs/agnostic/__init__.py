"""``ultralink agnostic``: English SFT data → criteria-filtered, pruned, validated translations.

Flow (paper §2.2–2.3)::

    scan (Ray task per file: read → normalize → heuristic pre-drop, ids only)     scan.py
      → prune on the driver (seeded hash rank over the ids, before any LLM call)   plan.py
      → plan units (file × block of records) → skip finished units (UnitStore markers)
      → ONE Ray Data pipeline over every pending row: read (re-reads the file and keeps
        the selected records) → AgnosticStage (judge for chat, then translator) with
        keep_dropped=True → driver UnitCollector (one Parquet shard + marker per unit;
        records by RecordBuilder, the first rejects by RejectSamples)             collect.py
      → refill rounds (pruned subsets): while fewer records than the size came out, draw the
        next-ranked records of the language's pool (as many as the yield so far says are
        needed), as units per rank range, through the same pipeline; the surplus past the
        size is cut from the last round                                            trim.py
      → the report from the units' markers                                         report.py

Every round's plan follows from the ranking and the markers of the rounds before it, so a
rerun redoes no finished unit and a run killed between or inside rounds resumes to the
output an uninterrupted run writes. Engine hosts are created once (``HostPool.create``) and
shut down at the end; one host serves the judge and the translator. English passes through
whole with no LLM. Memory is bounded: the driver holds ids (and the language's draw order),
never texts; rows stream through Ray Data and a unit's rows are buffered only until the unit
completes. :class:`~ultralink.jobs.agnostic.job.AgnosticRun` holds one run's state (job.py).
"""

from ultralink.jobs.agnostic.collect import MAX_REJECT_SAMPLES, RejectSamples, output_id
from ultralink.jobs.agnostic.job import AgnosticRun, run_agnostic
from ultralink.jobs.agnostic.plan import file_key
from ultralink.jobs.agnostic.report import summary_text
from ultralink.jobs.agnostic.scan import MAX_PROBLEMS, read_rows, read_tables, scan_file

__all__ = ["MAX_PROBLEMS", "MAX_REJECT_SAMPLES", "AgnosticRun", "RejectSamples", "file_key",
           "output_id", "read_rows", "read_tables", "run_agnostic", "scan_file",
           "summary_text"]
