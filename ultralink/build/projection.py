"""What a finished build says: the GPU-hour projection to the paper's Table 1 targets and
the summary text."""

from __future__ import annotations

from typing import Any

from ultralink.jobs.agnostic.config import OUTPUT_SUBSET
from ultralink.build.config import TABLE1, BuildConfig


def _kind(stage: dict[str, Any]) -> str | None:
    if stage["job"] == "specific":
        return "chat_specific"
    if stage["job"] == "agnostic":
        return OUTPUT_SUBSET[stage["stage"].rsplit("/", 1)[1]]
    return None


def projection(stages: dict[str, dict[str, Any]], cfg: BuildConfig) -> dict[str, Any]:
    """Engine/GPU-hours the Table 1 targets would take at this run's measured rates.

    The rate per kept record is measured per subset over every stage that ran an engine this
    run (skipped stages carry no timing); English agnostic data is a pass-through (0).
    """
    rate: dict[str, list[float]] = {}
    for s in stages.values():
        kind = _kind(s)
        if kind is None or s.get("skipped") or not s["this_run"]["engine_s"]:
            continue
        produced = max(1, s["out"])
        r = rate.setdefault(kind, [0.0, 0.0, 0.0])
        r[0] += s["this_run"]["engine_s"]
        r[1] += s["this_run"]["gpu_s"]
        r[2] += produced
    gpus = cfg.engines.generator.gpus_per_host
    rows = []
    total_engine_h = total_gpu_h = 0.0
    for lang in cfg.languages:
        targets = TABLE1["en" if lang == "en" else "other"]
        for kind, target in targets.items():
            if lang == "en" and kind != "chat_specific":
                engine_h = gpu_h = 0.0  # English agnostic data passes through
            elif kind in rate:
                e, g, n = rate[kind]
                engine_h = target * e / n / 3600
                gpu_h = target * g / n / 3600
            else:
                engine_h = gpu_h = float("nan")
            rows.append({"language": lang, "subset": kind, "target": target,
                         "engine_hours": round(engine_h, 2), "gpu_hours": round(gpu_h, 2)})
            if engine_h == engine_h:  # not nan
                total_engine_h += engine_h
                total_gpu_h += gpu_h
    measured = {k: {"engine_s_per_record": round(v[0] / v[2], 3),
                    "gpu_s_per_record": round(v[1] / v[2], 3)} for k, v in rate.items()}
    return {"rows": rows, "measured": measured, "engine_hours": round(total_engine_h, 2),
            "gpu_hours": round(total_gpu_h, 2), "gpus_per_host": gpus,
            "unmeasured": sorted({r["subset"] for r in rows if r["engine_hours"] != r["engine_hours"]})}


def summary_text(result: dict[str, Any], cfg: BuildConfig) -> str:
    from ultralink.dataset.stats import format_tables
    from ultralink.pipeline.chain import format_table

    rows = []
    for s in result["stages"].values():
        t = s["this_run"]
        rows.append({
            "stage": s["stage"], "status": "skipped" if s.get("skipped") else s["status"],
            "in": s["in"], "out": s["out"],
            "dropped": ", ".join(f"{k}={v}" for k, v in sorted(s["dropped"].items())) or "-",
            "tokens": s["tokens"],
            "tok/s": round(t["tokens"] / t["engine_s"], 1) if t["engine_s"] else 0.0,
            "engine_s": t["engine_s"], "gpu_h": round(t["gpu_s"] / 3600, 4),
            "wall_s": t["wall_s"]})
    proj = projection(result["stages"], cfg)
    prow = [{"subset": k, **v} for k, v in proj["measured"].items()]
    lines = ["\nultralink build → " + cfg.output,
             format_table(rows, ["stage", "status", "in", "out", "dropped", "tokens", "tok/s",
                                 "engine_s", "gpu_h", "wall_s"]),
             f"engine-seconds this run {sum(r['engine_s'] for r in rows):.1f}, GPU-hours "
             f"{sum(s['this_run']['gpu_s'] for s in result['stages'].values()) / 3600:.4f}; "
             f"wall {result['wall_s']:.1f}s"]
    if prow:
        lines.append("measured engine cost per kept record:")
        lines.append(format_table(prow, ["subset", "engine_s_per_record", "gpu_s_per_record"]))
    lines.append(f"projection to the Table 1 targets ({', '.join(cfg.languages)}): "
                 f"{proj['engine_hours']:,} engine-hours, {proj['gpu_hours']:,} GPU-hours at "
                 f"these rates (GPU-hours: GPU time the hosts held, idle included; CPU engines "
                 f"hold 0 GPUs)" + (f"; not measured this run: {', '.join(proj['unmeasured'])}"
                             if proj["unmeasured"] else ""))
    lines.append(format_tables(result["stats"]))
    return "\n".join(lines)

