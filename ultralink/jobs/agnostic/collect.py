"""The driver's end of the agnostic pipeline, for a plain ``UnitCollector``: the kept rows
built into output records (:class:`RecordBuilder`) and the first rejects kept for the report
(:class:`RejectSamples`, its ``on_drop`` hook). What a row counted and why it was dropped
come typed from the stage (``agnostic.stage``); nothing here re-reads a stage result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ultralink.agnostic.stage import TRANSLATION_COLUMN
from ultralink.core.ids import digest
from ultralink.core.records import Conversation, Turn
from ultralink.jobs.agnostic.config import OUTPUT_SUBSET
from ultralink.pipeline.outcome import Outcome

MAX_REJECT_SAMPLES = 50


def output_id(language: str, subset: str, dataset: str, source_id: str) -> str:
    """``{lang}_{subset}_{hash(source id + lang)}``: stable across reruns and machines."""
    key = digest(f"{dataset}:{source_id}", language, algorithm="sha1")
    return f"{language}_{OUTPUT_SUBSET[subset]}_{key}"


@dataclass(slots=True)
class RejectSamples:
    """A ``UnitCollector`` ``on_drop`` hook: the first :data:`MAX_REJECT_SAMPLES` dropped
    rows as ``{"id", "reason", "detail"}`` for the report (``samples`` may be shared by
    every round's collector)."""

    samples: list[dict[str, str]] = field(default_factory=list)
    limit: int = MAX_REJECT_SAMPLES

    def __call__(self, row: Mapping[str, Any], outcome: Outcome) -> None:
        if len(self.samples) < self.limit:
            self.samples.append({"id": row.get("id", ""), "reason": outcome.reason,
                                 "detail": outcome.detail})


@dataclass(frozen=True, slots=True)
class RecordBuilder:
    """A kept row → the output ``Conversation`` row (translated messages + provenance);
    English rows (no ``translation``) pass through whole."""

    language: str
    subset: str
    model: str
    prompt_version: str
    seed: int

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        conv = row["conversation"]
        src = conv["source"]
        tr = row.get(TRANSLATION_COLUMN)
        meta: dict[str, Any] = {}
        messages = conv["messages"]
        if tr is not None:
            messages = tr["messages"]
            meta = {"criteria": tr.get("criteria"), "translated_from": "en",
                    "model": self.model, "prompt_version": self.prompt_version,
                    "seed": self.seed, "retries": tr.get("retries"),
                    "question_tokens": tr.get("question_tokens"),
                    "answer_tokens": tr.get("answer_tokens"),
                    "tokens_generated": int(tr.get("tokens_generated") or 0)}
        out = Conversation(
            id=output_id(self.language, self.subset, src.get("dataset") or "",
                         src.get("id") or conv["id"]),
            language=self.language, subset=OUTPUT_SUBSET[self.subset],
            messages=[Turn(m["role"], m["content"]) for m in messages],
            source=src, meta=meta)
        return out.to_row()
