"""The driver's end of the pipeline: each row's stage result read once into a drop reason and
counts (:func:`outcome`), the kept rows built into output records (:class:`RecordBuilder`),
one shard + marker per completed unit (:class:`AgnosticCollector`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ultralink.jobs.agnostic.config import OUTPUT_SUBSET
from ultralink.core.counters import Counters
from ultralink.core.ids import digest
from ultralink.core.records import Conversation, Turn, conversation_schema
from ultralink.dataset.sink import UnitStore
from ultralink.pipeline.error_guard import ErrorLimits
from ultralink.hosting.llm_stage import spend_request_cache
from ultralink.pipeline.outcome import DROP_COLUMN
from ultralink.pipeline.units import UNIT_COLUMN, UnitCollector, WorkUnit

MAX_REJECT_SAMPLES = 50
USAGE_KEYS = ("requests", "retries", "prompt_tokens", "completion_tokens")


def output_id(language: str, subset: str, dataset: str, source_id: str) -> str:
    """``{lang}_{subset}_{hash(source id + lang)}``: stable across reruns and machines."""
    key = digest(f"{dataset}:{source_id}", language, algorithm="sha1")
    return f"{language}_{OUTPUT_SUBSET[subset]}_{key}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one row's stage result means: its drop reason ("" when kept) and its counts
    (costs, verdicts), which reach the unit's marker whether the row is kept or not."""

    reason: str
    counts: Counters


def outcome(result: Mapping[str, Any]) -> Outcome:
    """The one place a stage result (``records.translation_result_type``) becomes a drop
    and counts."""
    c = Counters()
    usage = result.get("usage") or {}
    for key in USAGE_KEYS:
        c.add("llm_" + key, int(usage.get(key) or 0))
    for reason, n in dict(usage.get("failures") or {}).items():
        c.add("attempt_failed_" + reason, int(n))
    if result.get("judge_reused"):
        c.add("judge_reused")  # verdict of an earlier language, no LLM call
    if result.get("judged"):
        c.add("judged")
        for crit in result.get("criteria") or []:
            c.add("criterion_" + crit["name"], int(bool(crit["hit"])))
    reason = result.get("reject") or ""
    if not reason and result.get("messages") is not None:
        c.add("translated")
        c.add("translated_messages", len(result["messages"]))
    return Outcome(reason, c)


class AgnosticCollector(UnitCollector):
    """A :class:`UnitCollector` that counts each row's :func:`outcome` into its unit's
    marker (so the report survives resumes) and drops the rows it rejects, keeping the
    first :data:`MAX_REJECT_SAMPLES` rejects in ``rejects`` (shared across rounds)."""

    def __init__(self, store: UnitStore, units: Iterable[WorkUnit], to_record: RecordBuilder,
                 rejects: list[dict[str, str]], limits: ErrorLimits | None = None) -> None:
        super().__init__(store, units, conversation_schema(), to_record, limits=limits,
                         on_unit_done=spend_request_cache(store))
        self.rejects = rejects

    def add(self, row: Mapping[str, Any]) -> None:
        res = row.get("result")
        if not res:   # English passes through; LLM failures come dropped by the stage
            super().add(row)
            return
        out = outcome(res)
        self.dropped[row[UNIT_COLUMN]].merge(out.counts)
        row = {**row, "_result": res}
        if out.reason:
            row[DROP_COLUMN] = out.reason
            if len(self.rejects) < MAX_REJECT_SAMPLES:
                self.rejects.append({"id": row.get("id", ""), "reason": out.reason,
                                     "detail": res.get("detail", "")})
        super().add(row)


@dataclass(frozen=True, slots=True)
class RecordBuilder:
    """A kept row → the output ``Conversation`` row (translated messages + provenance)."""

    language: str
    subset: str
    model: str
    prompt_version: str
    seed: int

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        conv = row["conversation"]
        src = conv["source"]
        res = row.get("_result")
        meta: dict[str, Any] = {}
        messages = conv["messages"]
        if res is not None:
            messages = res["messages"]
            meta = {"criteria": res.get("criteria"), "translated_from": "en",
                    "model": self.model, "prompt_version": self.prompt_version,
                    "seed": self.seed, "retries": res.get("retries"),
                    "question_tokens": res.get("question_tokens"),
                    "answer_tokens": res.get("answer_tokens"),
                    "tokens_generated": int((res.get("usage") or {}).get("completion_tokens")
                                            or 0)}
        out = Conversation(
            id=output_id(self.language, self.subset, src.get("dataset") or "",
                         src.get("id") or conv["id"]),
            language=self.language, subset=OUTPUT_SUBSET[self.subset],
            messages=[Turn(m["role"], m["content"]) for m in messages],
            source=src, meta=meta)
        return out.to_row()
