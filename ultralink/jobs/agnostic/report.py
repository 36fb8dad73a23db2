"""The job's report (``_report.json``) from the run's facts, and its summary for the terminal.

Every count of the whole output comes from the units' markers (``totals``), so a resumed run
reports what an uninterrupted one would; ``this_run`` is what this process did. The stage's
counts are read as the typed groups it writes (``llm``, ``attempt_failed``, ``criterion``;
``agnostic.stage``), never by parsing key prefixes: markers of runs before those groups
(``criterion_<name>`` …) count nothing in them, so rerun such an output with ``--overwrite``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ultralink.core.counters import Counters
from ultralink.jobs.agnostic.config import OUTPUT_SUBSET, AgnosticConfig
from ultralink.jobs.agnostic.plan import Selection
from ultralink.jobs.agnostic.scan import MAX_PROBLEMS
from ultralink.jobs.decontaminate.sets import ResolvedSets


@dataclass(slots=True)
class RunFacts:
    """What one agnostic run knew at its end: the report is a view of these."""

    language: str
    subset: str
    inputs: list[str]
    output: str                     # the output's URI
    config: AgnosticConfig
    engine: dict[str, Any] | None   # engine, model, prompt_style, granularity; None: English
    files_found: int
    files_read: int
    read: Counters                  # the readers' counts over every file
    selection: Selection
    refill_rounds: int              # refill rounds run (round 0 not counted)
    refilled: int                   # records drawn from the pool by them
    units_total: int
    units_run: int
    total: Counters                 # summed over every finished unit's marker
    this_run: Counters              # what this run's collectors counted
    llm_wall: float                 # seconds this run streamed rows
    started: float
    llm: dict[str, Any] = field(default_factory=dict)
    rejects: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    eval_sets: ResolvedSets | None = None   # what the sources were checked against


def _sorted(group: dict[str, int]) -> dict[str, int]:
    return dict(sorted(group.items()))


def _target(f: RunFacts) -> dict[str, Any] | None:
    """Did the language end at its size (records dropped after pruning are replaced from the
    pool round by round), and if not by how much."""
    size = f.selection.size
    if size is None:
        return None
    c = f.total.counts
    written = int(c.get("rows_written", 0))
    surplus = int(c.get("dropped_over_target", 0))
    return {"records": size, "met": written >= size, "short_by": max(0, size - written),
            "selected": len(f.selection.selected), "refilled": f.refilled,
            "refill_rounds": f.refill_rounds, "translated_ok": written + surplus,
            "failed": int(c.get("rows_in", 0)) - written - surplus,
            "surplus_dropped": surplus, "pool_left": f.selection.pool_size - f.refilled}


def _input_part(f: RunFacts) -> dict[str, Any]:
    """Files, reading, pre-drops and pruning: everything before the LLM."""
    rc, sel = f.read.counts, f.selection
    return {
        "files": {"found": f.files_found, "read": f.files_read,
                  "failed": f.files_found - f.files_read},
        "read": int(rc.get("read", 0)),
        "by_schema": _sorted(f.read.group("schema")),
        "usable": sum(f.read.group("schema").values()),
        "limited_to": sel.taken,
        "prefiltered": sel.pre.dropped(),
        "decontamination": _decontamination(f),
        "candidates": sel.candidates,
        "pruning": {"size": sel.size, "mode": f.config.prune_mode, "seed": f.config.seed,
                    "selected": len(sel.selected), "pruned": sel.candidates - len(sel.selected)},
        "target": _target(f),
        "units": {"total": f.units_total, "skipped_done": f.units_total - f.units_run,
                  "run": f.units_run},
    }


def _decontamination(f: RunFacts) -> dict[str, Any]:
    """Which evaluation sets the English sources were checked against before the LLM, what
    each removed, and which standard sets were not available."""
    found = f.eval_sets
    checked = [s.name for s in found.sets] if found and f.config.decontaminate.at_source else []
    pre = f.selection.pre.dropped()
    return {"checked_against": checked,
            "removed": {n: int(pre.get(f"contaminated:{n}", 0)) for n in checked},
            "not_checked": found.not_checked() if found else []}


def _output_part(f: RunFacts) -> dict[str, Any]:
    """Verdicts, translations, drops and costs over the whole output, and this run's share."""
    c, run = f.total.counts, f.this_run.counts
    dropped: dict[str, int] = {}
    for source in (f.read.dropped(), f.selection.pre.dropped(), f.total.dropped()):
        for k, v in source.items():
            dropped[k] = dropped.get(k, 0) + v
    llm = f.total.group("llm")
    tokens_run = int(f.this_run.group("llm").get("completion_tokens", 0))
    wall = f.llm_wall
    return {
        "rows_in": int(c.get("rows_in", 0)),
        "judged": int(c.get("judged", 0)),
        "judge_reused": int(c.get("judge_reused", 0)),
        "criteria_hits": _sorted(f.total.group("criterion")),
        "translated": int(c.get("translated", 0)),
        "translated_messages": int(c.get("translated_messages", 0)),
        "written": int(c.get("rows_written", 0)),
        "dropped": dict(sorted(dropped.items())),
        "attempt_failures": _sorted(f.total.group("attempt_failed")),
        "tokens": {"prompt": int(llm.get("prompt_tokens", 0)),
                   "completion": int(llm.get("completion_tokens", 0)),
                   "requests": int(llm.get("requests", 0)),
                   "retries": int(llm.get("retries", 0))},
        "this_run": {"rows": int(run.get("rows_in", 0)),
                     "written": int(run.get("rows_written", 0)),
                     "completion_tokens": tokens_run, "wall_s": round(wall, 3),
                     "tokens_per_s": round(tokens_run / wall, 2) if wall > 0 else 0.0},
    }


def build_report(f: RunFacts) -> dict[str, Any]:
    """The report's JSON (keys as tests and ``ultralink build`` read them)."""
    return {
        "job": "agnostic",
        "language": f.language,
        "subset": f.subset,
        "output_subset": OUTPUT_SUBSET[f.subset],
        "inputs": f.inputs,
        "output": f.output,
        "config": f.config.model_dump(),
        "engine": f.engine,
        **_input_part(f),
        **_output_part(f),
        "llm": f.llm,
        "reject_samples": f.rejects,
        "problems": f.problems[:MAX_PROBLEMS],
        "problems_total": len(f.problems),
        "wall_time_s": round(time.time() - f.started, 3),
    }


def _stage_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per step (read … written): in, out and the drops it made."""
    dropped = report["dropped"]
    llm_drops = {k: v for k, v in dropped.items()
                 if k.startswith(("llm_", "translation_", "judge_")) or k == "criteria"}
    judge_drops = {k: v for k, v in llm_drops.items() if k in ("criteria", "judge_unparseable")}
    tr_drops = {k: v for k, v in llm_drops.items() if k not in judge_drops}
    surplus = {k: v for k, v in dropped.items() if k == "over_target"}
    reader_drops = {k: v for k, v in dropped.items()
                    if k not in llm_drops and k not in report["prefiltered"] and k not in surplus}
    pruned = report["pruning"]["pruned"]
    return [
        {"stage": "read", "in": report["read"], "out": report["usable"], "dropped": reader_drops},
        {"stage": "limit", "in": report["usable"], "out": report["limited_to"],
         "dropped": {}},
        {"stage": "prefilter", "in": report["limited_to"], "out": report["candidates"],
         "dropped": report["prefiltered"]},
        {"stage": "prune", "in": report["candidates"], "out": report["pruning"]["selected"],
         "dropped": {"pruned": pruned} if pruned else {}},
        {"stage": "judge", "in": report["judged"] + judge_drops.get("judge_unparseable", 0),
         "out": report["judged"] - judge_drops.get("criteria", 0), "dropped": judge_drops},
        {"stage": "translate", "in": report["translated"] + sum(tr_drops.values()),
         "out": report["translated"], "dropped": tr_drops},
        {"stage": "written", "in": report["rows_in"], "out": report["written"],
         "dropped": surplus},
    ]


def _target_line(target: dict[str, Any]) -> str:
    line = (f"target {target['records']:,}: selected {target['selected']:,}, translated ok "
            f"{target['translated_ok']:,}, failed {target['failed']:,}, refill rounds "
            f"{target['refill_rounds']} (+{target['refilled']:,} from the pool"
            + (f", {target['surplus_dropped']:,} past the target dropped"
               if target["surplus_dropped"] else "") + "); ")
    if target["met"]:
        return line + "met"
    why = "pool exhausted" if not target["pool_left"] else \
        f"refill_rounds reached, {target['pool_left']:,} left in the pool"
    return line + f"NOT met: short by {target['short_by']:,} ({why})"


def summary_text(report: dict[str, Any]) -> str:
    """The report as the terminal shows it: the step table, the target, costs, problems."""
    from ultralink.pipeline.chain import format_table

    lines = [f"\nagnostic {report['language']}/{report['subset']} → {report['output']}",
             format_table(_stage_rows(report), ["stage", "in", "out", "dropped"])]
    if report.get("target"):
        lines.append(_target_line(report["target"]))
    if report["criteria_hits"]:
        lines.append("criteria hits: " + ", ".join(f"{k}={v}" for k, v in
                                                   report["criteria_hits"].items()))
    d = report["decontamination"]
    if d["checked_against"] or d["not_checked"]:
        lines.append("decontaminated against: " + (", ".join(d["checked_against"]) or "nothing")
                     + ("; not checked against: " + ", ".join(m["name"] for m in d["not_checked"])
                        if d["not_checked"] else ""))
    t, r = report["tokens"], report["this_run"]
    lines.append(f"tokens: prompt {t['prompt']:,}, completion {t['completion']:,}, requests "
                 f"{t['requests']:,} ({t['retries']:,} retries); this run {r['tokens_per_s']} "
                 f"tok/s; units {report['units']['run']} run, {report['units']['skipped_done']} "
                 f"skipped; wall {report['wall_time_s']:.1f}s")
    if report["problems_total"]:
        lines.append(f"{report['problems_total']} input problems (see _report.json):")
        lines.extend("  " + p for p in report["problems"][:10])
    return "\n".join(lines)
