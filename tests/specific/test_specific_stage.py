"""DialogueStage on an in-process host pool: records in the conversation schema, stats on
every row (dropped ones too), ids stable across runs."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from ultralink.llm.registry import EngineConfig
from ultralink.hosting.pool import HostPool
from ultralink.pipeline.outcome import DROP_COLUMN, outcome_of
from ultralink.core.records import conversation_schema
from ultralink.specific.prompts import load_prompts
from ultralink.specific.dialogue import DialogueConfig
from ultralink.specific.stage import (
    CONVERSATION_COLUMN,
    DialogueStage,
    dialogue_id,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specific_fakes import QUESTIONS, DialogueFake


def segments(lang: str, n: int) -> pa.Table:
    return pa.Table.from_pylist([
        {"id": f"{lang}_seg{i:03d}", "doc_id": str(100 + i), "title": f"Title {i}",
         "url": f"https://example.org/{i}", "language": lang, "segment_index": i,
         "text": f"Document {i} about canals, rivers and old towns.", "n_tokens": 12,
         "source_file": "x.xml", "unit_id": "u0"} for i in range(n)])


def run_stage(lang: str, table: pa.Table, **script) -> tuple[pa.Table, DialogueFake]:
    engines: list[DialogueFake] = []

    def factory(config):
        engines.append(DialogueFake(config, language=lang, **script))
        return engines[-1]

    pool = HostPool.local(EngineConfig(engine="llamacpp", model="fake-model"),
                          engine_factory=factory)
    stage = DialogueStage(pool, language=lang, config=DialogueConfig(stop_first=0.3), seed=11,
                          prompt_format="chat", model="fake-model", keep_dropped=True)
    out = asyncio.run(stage(table))
    pool.shutdown()
    return out, engines[0]


@pytest.mark.parametrize("lang", ["zh", "fr"])
def test_records_follow_the_conversation_schema(lang):
    out, fake = run_stage(lang, segments(lang, 6))
    assert out.num_rows == 6 and out.column(DROP_COLUMN).to_pylist() == [""] * 6
    assert out.schema.field(CONVERSATION_COLUMN).type == pa.struct(list(conversation_schema()))
    convs = out.column(CONVERSATION_COLUMN).to_pylist()
    rows = out.to_pylist()
    for row, conv in zip(rows, convs):
        assert conv["id"] == dialogue_id(row["id"], lang) and conv["id"].startswith(
            f"{lang}_chat_specific_")
        roles = [m["role"] for m in conv["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) and roles
        first = conv["messages"][0]["content"]
        assert first.startswith("<document>\n" + row["text"]) and first.endswith(QUESTIONS[lang][0])
        meta = conv["meta"]
        n = len(roles) // 2
        assert meta["question_kinds"][0] == "initial" and len(meta["question_kinds"]) == n
        assert set(meta["question_kinds"][1:]) <= {"in_depth", "expansive"}
        assert len(meta["question_tokens"]) == len(meta["answer_tokens"]) == len(meta["retries"]) == n
        # question tokens count the question only, not the document in the first message
        assert meta["question_tokens"][0] < 60
        assert meta["model"] == "fake-model" and meta["prompt_version"] == f"{lang}:{load_prompts(lang).version}"
        assert meta["seed"] == 11 and meta["tokens_generated"] > 0
        src = conv["source"]
        assert (src["id"], src["title"], src["url"], src["doc_id"], src["segment_index"]) == (
            row["id"], row["title"], row["url"], row["doc_id"], row["segment_index"])
        counts = outcome_of(row).counts   # the row's typed outcome counts
        stats = counts.counts
        assert stats["dialogues_in"] == stats["dialogues_out"] == 1
        assert counts.group("turns") == {str(n): 1}
    # every request of one dialogue carries its dialogue id as affinity
    assert {r.affinity for r in fake.requests} == {c["id"] for c in convs}


def test_dropped_rows_keep_their_stats():
    table = segments("en", 3)
    out, _ = run_stage("en", table, bad={"0:question:*": "leak"})
    assert out.column(DROP_COLUMN).to_pylist() == ["rejected_question"] * 3
    assert out.column(CONVERSATION_COLUMN).to_pylist() == [None] * 3
    for row in out.to_pylist():
        counts = outcome_of(row).counts
        assert counts.counts["dialogues_in"] == 1 and "dialogues_out" not in counts.counts
        # the passage is shown in the first message (the default): "the provided text" is meta
        assert counts.group("rejected")["question_meta"] == 3


def test_wrong_language_segments_are_dropped_not_generated():
    table = segments("en", 2)
    out, fake = run_stage("fr", table)
    assert out.column(DROP_COLUMN).to_pylist() == ["wrong_segment_language"] * 2
    assert fake.calls == 0


def test_same_input_same_output():
    a, _ = run_stage("ru", segments("ru", 4))
    b, _ = run_stage("ru", segments("ru", 4))
    assert a.column(CONVERSATION_COLUMN).to_pylist() == b.column(CONVERSATION_COLUMN).to_pylist()
