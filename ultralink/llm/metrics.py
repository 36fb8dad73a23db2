"""LLM counters per stage and per host, so tokens, retries and GPU-seconds reach the job report.

Counts live in the shared :class:`~ultralink.core.counters.Counters` (STYLE rule 5) under these
keys:

- ``requests`` (attempts sent), ``completions`` (attempts answered), ``retries``,
  ``errors_<reason>`` (every failed attempt), ``failed_<reason>`` (requests given up);
- ``tokens_prompt``, ``tokens_completion``, ``tokens_cached``;
- timings ``busy`` (wall seconds with at least one request in flight) and ``latency``
  (summed request latencies).

A host also reports ``held`` (seconds from its start, model load included, to its stop) and
``num_gpus`` (GPUs per host = the tensor-parallel group), so GPU-seconds = ``num_gpus × held``:
the GPU time a job pays for, idle or not. ``busy`` GPU-seconds (≥ 1 request in flight) are
reported beside it; their ratio is how well the job kept its GPUs fed. Restarted hosts' earlier
incarnations are summed by the pool's supervisor. Stage rows (the same counters plus
``total``/``kept``/``dropped_<reason>``) get an estimated GPU-second share: the hosts'
GPU-seconds split by each stage's share of completion tokens.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ultralink.core.counters import Counters
from ultralink.llm.types import Completion


@dataclass
class LLMMetrics:
    """Counters of one stage actor or one host, plus the GPUs behind it and a busy clock."""

    counters: Counters = field(default_factory=Counters)
    num_gpus: float = 0.0
    max_in_flight: int = 0
    _in_flight: int = 0
    _busy_since: float | None = None

    # -- busy clock: wall time with >= 1 request (or row) in flight ------------------------
    def begin(self) -> None:
        if self._in_flight == 0:
            self._busy_since = time.perf_counter()
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def end(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0 and self._busy_since is not None:
            self._add_busy(time.perf_counter() - self._busy_since)
            self._busy_since = None

    def _add_busy(self, seconds: float) -> None:
        self.counters.timings["busy"] = self.counters.timings.get("busy", 0.0) + seconds

    @property
    def in_flight(self) -> int:
        return self._in_flight

    # -- events ---------------------------------------------------------------------------
    def sent(self) -> None:
        self.counters.add("requests")

    def completed(self, completion: Completion, latency_s: float | None = None) -> None:
        c = self.counters
        c.add("completions")
        c.add("tokens_prompt", completion.prompt_tokens)
        c.add("tokens_completion", completion.completion_tokens)
        c.add("tokens_cached", completion.cached_prompt_tokens)
        lat = completion.latency_s if latency_s is None else latency_s
        c.timings["latency"] = c.timings.get("latency", 0.0) + lat

    def error(self, reason: str) -> None:
        """One failed attempt (it may still be retried)."""
        self.counters.add("errors_" + reason)

    def retry(self) -> None:
        self.counters.add("retries")

    def failed(self, reason: str) -> None:
        """A request given up after its retries."""
        self.counters.add("failed_" + reason)

    # -- snapshots ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """A mergeable dict; the busy clock of requests still in flight is counted up to now."""
        data = self.counters.to_dict()
        if self._busy_since is not None:
            now = time.perf_counter()
            data["timings"]["busy"] = round(data["timings"].get("busy", 0.0)
                                            + now - self._busy_since, 6)
        data["num_gpus"] = self.num_gpus
        data["max_in_flight"] = self.max_in_flight
        return data

    def take(self) -> dict[str, Any]:
        """Snapshot and reset (for pushing deltas); an open busy interval restarts now."""
        data = self.snapshot()
        self.counters = Counters()
        self.max_in_flight = self._in_flight
        if self._busy_since is not None:
            self._busy_since = time.perf_counter()
        return data


def merge_snapshots(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> dict[str, Any]:
    """Sum two :meth:`LLMMetrics.snapshot` dicts (deltas from one stage's actors)."""
    total = Counters.from_dict(a or {}).merge(b)
    out = total.to_dict()
    a = a or {}
    out["num_gpus"] = max(float(a.get("num_gpus", 0.0)), float(b.get("num_gpus", 0.0)))
    out["max_in_flight"] = max(int(a.get("max_in_flight", 0)), int(b.get("max_in_flight", 0)))
    return out


def _row(name: str, snap: Mapping[str, Any]) -> dict[str, Any]:
    counts = snap.get("counts", {})
    timings = snap.get("timings", {})
    busy = float(timings.get("busy", 0.0))
    completion = int(counts.get("tokens_completion", 0))
    prompt = int(counts.get("tokens_prompt", 0))
    done = int(counts.get("completions", 0))
    row: dict[str, Any] = {
        "name": name,
        "requests": int(counts.get("requests", 0)),
        "completions": done,
        "retries": int(counts.get("retries", 0)),
        "errors": {k[len("errors_"):]: v for k, v in counts.items() if k.startswith("errors_")},
        "failed": {k[len("failed_"):]: v for k, v in counts.items() if k.startswith("failed_")},
        "tokens_prompt": prompt,
        "tokens_completion": completion,
        "tokens_cached": int(counts.get("tokens_cached", 0)),
        "busy_s": round(busy, 3),
        "tokens_per_s": round(completion / busy, 1) if busy > 0 else 0.0,
        "mean_latency_s": round(float(timings.get("latency", 0.0)) / done, 3) if done else 0.0,
        "max_in_flight": int(snap.get("max_in_flight", 0)),
    }
    if "total" in counts or "kept" in counts:
        row["rows_total"] = int(counts.get("total", 0))
        row["rows_kept"] = int(counts.get("kept", 0))
        row["dropped"] = {k[len("dropped_"):]: v for k, v in counts.items()
                          if k.startswith("dropped_")}
    return row


def job_report(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The ``llm`` section of the job report from :meth:`HostPool.stats` output.

    ``stats`` is ``{"stages": {name: snapshot}, "hosts": {name: snapshot}}``.
    """
    hosts = {}
    gpu_seconds = gpu_busy = 0.0
    for name, snap in sorted(stats.get("hosts", {}).items()):
        row = _row(name, snap)
        row["num_gpus"] = float(snap.get("num_gpus", 0.0))
        row["held_s"] = round(float(snap.get("timings", {}).get("held", row["busy_s"])), 3)
        row["gpu_seconds"] = round(row["num_gpus"] * row["held_s"], 3)
        row["gpu_busy_seconds"] = round(row["num_gpus"] * row["busy_s"], 3)
        for key in ("restarts", "model", "incarnations"):
            if key in snap:
                row[key] = snap[key]
        gpu_seconds += row["gpu_seconds"]
        gpu_busy += row["gpu_busy_seconds"]
        hosts[name] = row
    stages = {name: _row(name, snap) for name, snap in sorted(stats.get("stages", {}).items())}
    stage_tokens = sum(r["tokens_completion"] for r in stages.values())
    for row in stages.values():
        share = row["tokens_completion"] / stage_tokens if stage_tokens else 0.0
        row["gpu_seconds_share"] = round(gpu_seconds * share, 3)
    total_completion = sum(r["tokens_completion"] for r in hosts.values())
    total_busy = max((r["busy_s"] for r in hosts.values()), default=0.0)
    return {
        "stages": stages,
        "hosts": hosts,
        "total": {
            "requests": sum(r["requests"] for r in stages.values()),
            "retries": sum(r["retries"] for r in stages.values()),
            "failed": sum(sum(r["failed"].values()) for r in stages.values()),
            "tokens_prompt": sum(r["tokens_prompt"] for r in stages.values()),
            "tokens_completion": stage_tokens,
            "tokens_cached": sum(r["tokens_cached"] for r in stages.values()),
            "gpu_seconds": round(gpu_seconds, 3),
            "gpu_busy_seconds": round(gpu_busy, 3),
            "tokens_per_gpu_second": (round(total_completion / gpu_seconds, 1)
                                      if gpu_seconds else 0.0),
            "host_busy_s_max": total_busy,
        },
    }


_STAGE_COLS = ("name", "rows_total", "rows_kept", "requests", "retries", "failed",
               "tokens_prompt", "tokens_completion", "tokens_cached", "tokens_per_s",
               "gpu_seconds_share")
_HOST_COLS = ("name", "requests", "errors", "tokens_completion", "tokens_cached", "busy_s",
              "held_s", "tokens_per_s", "num_gpus", "gpu_seconds", "gpu_busy_seconds",
              "max_in_flight", "restarts")


def format_summary(stats_or_report: Mapping[str, Any]) -> str:
    """The end-of-job LLM table: one line per stage, one per host, then totals and drops."""
    report = (stats_or_report if "total" in stats_or_report else job_report(stats_or_report))
    lines = ["LLM stages"]
    lines += _table([_flat(r) for r in report["stages"].values()], _STAGE_COLS)
    lines += ["", "LLM hosts"]
    lines += _table([_flat(r) for r in report["hosts"].values()], _HOST_COLS)
    t = report["total"]
    lines += ["", "total: " + ", ".join(f"{k}={v}" for k, v in t.items())]
    for name, row in report["stages"].items():
        reasons = {**{f"failed_{k}": v for k, v in row["failed"].items()},
                   **{f"dropped_{k}": v for k, v in row.get("dropped", {}).items()}}
        if reasons:
            lines.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())))
    return "\n".join(lines)


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("failed", "errors", "dropped"):
        if isinstance(out.get(key), Mapping):
            out[key] = sum(out[key].values())
    return out


def _table(rows: list[dict[str, Any]], cols: tuple[str, ...]) -> list[str]:
    if not rows:
        return ["  (none)"]
    cells = [[str(c) for c in cols]] + [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return ["  " + "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in
                            enumerate(zip(row, widths))) for row in cells]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
