"""The ``specific`` job's report: its stage row and dialogue counter groups
(:class:`~ultralink.pipeline.report.JobReport`), the JSON report and its summary text."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ultralink.core.counters import Counters
from ultralink.core.fs import Location
from ultralink.jobs.specific.config import JOB, SpecificConfig
from ultralink.pipeline.chain import format_table
from ultralink.pipeline.report import JobReport, StageRow
from ultralink.pipeline.units import WorkUnit
from ultralink.specific.dialogue import turn_distribution
from ultralink.specific.stage import DialogueStage

GROUPS = ("turns", "kind", "end", "rejected", "planned_turns")


def stage_report(total: Counters, this_run: Counters) -> JobReport:
    """The dialogue stage's row (segments in, dialogues out, drops by end reason) and the
    dialogue counter groups."""
    c = total.counts
    row = StageRow(DialogueStage.name, c.get("rows_in", 0), c.get("dialogues_out", 0),
                   total.dropped())
    return JobReport.of(JOB, total, [row], GROUPS, records_in=row.records_in,
                        records_out=row.records_out, tokens=c.get("tokens_generated", 0),
                        tokens_kind="generated",
                        run_tokens=this_run.counts.get("tokens_generated", 0))


def build_report(language: str, inputs: list[str], out: Location, cfg: SpecificConfig,
                 version: str, model: str, units: list[WorkUnit], pending: list[WorkUnit],
                 total: Counters, this_run: Counters, llm_stats: Mapping[str, Any],
                 problems: list[str], started: float) -> dict[str, Any]:
    from ultralink.llm.metrics import job_report

    c = total.counts
    n_q = c.get("questions", 0)
    typed = stage_report(total, this_run)
    turns = {int(k): v for k, v in typed.groups["turns"].items()}
    rejections = typed.groups["rejected"]
    dropped = typed.dropped
    llm = job_report(llm_stats) if llm_stats else {}
    busy = llm.get("total", {}).get("host_busy_s_max", 0.0) if llm else 0.0
    run_tokens = this_run.counts.get("tokens_generated", 0)
    dist = turn_distribution(cfg.dialogue)
    return {
        "job": JOB,
        "language": language,
        "inputs": inputs,
        "output": out.uri,
        "model": model,
        "engine": cfg.llm.engine,
        "prompt_version": version,
        "config": cfg.model_dump(),
        "units": {"total": len(units), "skipped_done": len(units) - len(pending),
                  "run": len(pending)},
        "dialogues": {"in": c.get("rows_in", 0), "out": c.get("dialogues_out", 0),
                      "dropped": dropped},
        "turns_histogram": {str(k): turns[k] for k in sorted(turns)},
        "turns_expected": {str(k): round(v, 4) for k, v in dist.items()},
        "avg_turns": round(n_q / c["dialogues_out"], 3) if c.get("dialogues_out") else 0.0,
        "avg_question_tokens": round(c.get("question_tokens", 0) / n_q, 2) if n_q else 0.0,
        "avg_answer_tokens": round(c.get("answer_tokens", 0) / n_q, 2) if n_q else 0.0,
        "question_kinds": typed.groups["kind"],
        "end_reasons": typed.groups["end"],
        "rejections": dict(sorted(rejections.items())),
        "rejections_total": sum(rejections.values()),
        "requests": c.get("requests", 0),
        "history_cuts": c.get("history_cuts", 0),
        "tokens_generated": c.get("tokens_generated", 0),
        "this_run": {
            "dialogues_out": this_run.counts.get("dialogues_out", 0),
            "tokens_generated": run_tokens,
            "engine_seconds": round(busy, 3),
            "tokens_per_s": round(run_tokens / busy, 1) if busy else 0.0,
            "gpu_seconds": llm.get("total", {}).get("gpu_seconds", 0.0) if llm else 0.0,
        },
        "llm": llm,
        "problems": problems,
        "wall_time_s": round(time.time() - started, 3),
    }


def summary_text(report: Mapping[str, Any]) -> str:
    d = report["dialogues"]
    rows = [{"turns": k, "dialogues": v, "expected_share": report["turns_expected"].get(k, 0.0)}
            for k, v in report["turns_histogram"].items()]
    rej = [{"reason": k, "count": v} for k, v in report["rejections"].items()]
    r = report["this_run"]
    lines = [f"\nspecific {report['language']} ({report['model']}, prompts "
             f"v{report['prompt_version']}) → {report['output']}",
             f"dialogues in {d['in']:,}, out {d['out']:,}; dropped "
             + (", ".join(f"{k}={v}" for k, v in d["dropped"].items()) or "none"),
             format_table(rows, ["turns", "dialogues", "expected_share"]) if rows else "(no turns)",
             f"avg turns {report['avg_turns']}; avg question tokens "
             f"{report['avg_question_tokens']}; avg answer tokens {report['avg_answer_tokens']}",
             format_table(rej, ["reason", "count"]) if rej else "no rejections",
             f"tokens generated {report['tokens_generated']:,} (this run {r['tokens_generated']:,}"
             f" in {r['engine_seconds']}s engine time, {r['tokens_per_s']} tok/s); units "
             f"{report['units']['run']} run, {report['units']['skipped_done']} skipped; "
             f"wall {report['wall_time_s']:.1f}s"]
    if report["llm"]:
        from ultralink.llm.metrics import format_summary

        lines.append(format_summary(report["llm"]))
    return "\n".join(lines)
