"""The prepare job's report: its stage rows (:class:`~ultralink.pipeline.report.JobReport`),
the JSON report (``_report.json``) and the summary printed at the end."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ultralink.core.counters import Counters
from ultralink.jobs.prepare.config import JOB, PrepareConfig
from ultralink.jobs.prepare.stage import step_classes
from ultralink.pipeline.chain import format_table, stage_rows
from ultralink.pipeline.report import JobReport

MAX_PROBLEMS_IN_REPORT = 1000


def stage_report(total: Counters, this_run: Counters) -> JobReport:
    """One row per prepare step (read → clean → … → segment), pages in, segments out."""
    c = total.counts
    return JobReport.of(JOB, total, stage_rows(step_classes(), total),
                        records_in=c.get("pages_read", 0), records_out=c.get("rows_written", 0),
                        tokens=c.get("segment_tokens", 0), tokens_kind="segment")


@dataclass
class RunFacts:
    """What a prepare run knows besides its counters: inputs, output, files and units."""

    language: str
    inputs: list[str]
    output: str
    config: PrepareConfig
    files_found: int
    files_ok: int
    units_total: int
    units_run: int
    started: float
    problems: list[str] = field(default_factory=list)


def build_report(facts: RunFacts, typed: JobReport, total: Counters,
                 this_run: Counters) -> dict[str, Any]:
    """The ``_report.json`` dict (its keys are what tests and ``ultralink build`` read)."""
    c = total.counts
    run_wall = this_run.timings.get("unit_wall", 0.0) + this_run.timings.get("read", 0.0)
    problems = facts.problems
    return {
        "job": JOB,
        "language": facts.language,
        "inputs": facts.inputs,
        "output": facts.output,
        "config": facts.config.model_dump(),
        "files": {"found": facts.files_found, "read": facts.files_ok,
                  "failed": facts.files_found - facts.files_ok},
        "units": {"total": facts.units_total, "skipped_done": facts.units_total - facts.units_run,
                  "run": facts.units_run},
        # how much zh text needed converting: -{…}- resolved (clean), changed by OpenCC (t2s),
        # then by the Taiwan → mainland term table
        "documents": {"seen": c.get("pages_read", 0), "kept": c.get("out_doc_length", 0),
                      "variant_markup": c.get("variant_markup", 0),
                      "opencc_changed": c.get("opencc_changed", 0),
                      "terms_changed": c.get("terms_changed", 0)},
        "dropped": typed.dropped,
        "segments_written": typed.records_out,
        "tokens": typed.tokens,
        "long_sentence_splits": c.get("long_sentence_splits", 0),
        "stages": [row.to_dict() for row in typed.stages],
        "this_run": {"documents_seen": this_run.counts.get("pages_read", 0),
                     "segments": this_run.counts.get("rows_written", 0),
                     "worker_seconds": round(run_wall, 3)},
        "counts": dict(sorted(c.items())),
        "problems": problems[:MAX_PROBLEMS_IN_REPORT],
        "problems_total": len(problems),
        "wall_time_s": round(time.time() - facts.started, 3),
    }


def summary_text(report: dict[str, Any]) -> str:
    """The lines printed at the end of a run: the stage table, then the totals."""
    lines = [f"\nprepare {report['language']} → {report['output']}",
             format_table(report["stages"], ["stage", "in", "out", "dropped", "seconds",
                                             "records_per_s"]),
             f"documents seen {report['documents']['seen']:,}, kept "
             f"{report['documents']['kept']:,}; segments {report['segments_written']:,}; "
             f"tokens {report['tokens']:,}; units {report['units']['run']} run, "
             f"{report['units']['skipped_done']} skipped; wall {report['wall_time_s']:.1f}s"]
    docs = report["documents"]
    if docs["variant_markup"] or docs["opencc_changed"] or docs["terms_changed"]:
        lines.append(f"documents with variant markup resolved {docs['variant_markup']:,}, "
                     f"changed by OpenCC {docs['opencc_changed']:,}, "
                     f"by the term table {docs['terms_changed']:,}")
    if report["problems_total"]:
        lines.append(f"{report['problems_total']} input problems (see _report.json):")
        lines.extend("  " + p for p in report["problems"][:10])
    return "\n".join(lines)
