"""AgnosticStage: a rejected row is a typed ``Drop`` (reason, counts in groups, detail), a kept
one a ``Kept`` translation; through the stage and a plain UnitCollector, the drop's detail
reaches the report's reject samples and the kept row its output record."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from tests.fakes import ScriptedEngine, fake_config
from tests.jobs.test_agnostic_job import FrenchishEngine
from ultralink.agnostic.criteria_filter import CriteriaPrompt
from ultralink.agnostic.stage import TRANSLATION_COLUMN, AgnosticStage
from ultralink.core.fs import resolve
from ultralink.core.records import conversation_schema
from ultralink.dataset.sink import UnitStore
from ultralink.hosting.pool import HostPool
from ultralink.jobs.agnostic.collect import RecordBuilder, RejectSamples
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.llm.types import Completion
from ultralink.pipeline.outcome import Drop, Kept, outcome_of
from ultralink.pipeline.units import UnitCollector, WorkUnit

CONV = {"messages": [{"role": "user", "content": "Where is the best bakery on Rue Cler?"},
                     {"role": "assistant", "content": "Try the one at number 12."}]}
HIT = '{"1": "no", "2": "yes", "3": "no", "4": "no", "5": "no", "6": "no"}'


class Client:
    """A StageClient's surface: ``generate`` by a function, an in-memory memo."""

    def __init__(self, generate) -> None:
        self.generate = generate
        self.memo: dict[str, object] = {}

    async def recall(self, key):
        return self.memo.get(key)

    async def remember(self, key, value):
        self.memo[key] = value


async def verdict(request):
    return Completion(text=HIT, finish_reason="stop", prompt_tokens=50, completion_tokens=20)


def process(stage: AgnosticStage, client: Client, row: dict):
    async def go():
        await stage.setup()
        return await stage.process_row(row, client)
    return asyncio.run(go())


def stage(subset: str, style: str = "chat", pool=None, granularity: str = "message"):
    return AgnosticStage(pool, language="fr", subset=subset, config=AgnosticConfig(),
                         style=style, granularity=granularity)


def test_a_criteria_hit_is_a_drop_with_its_verdict_and_costs_in_groups():
    with pytest.raises(Drop) as caught:
        process(stage("chat"), Client(verdict), {"id": "c1", "conversation": CONV})
    drop = caught.value
    names = [c.name for c in CriteriaPrompt.load().criteria]
    assert drop.reason == "criteria" and drop.detail == ""
    assert drop.counts.counts == {"judged": 1}
    assert drop.counts.group("criterion") == {n: int(i == 1) for i, n in enumerate(names)}
    assert drop.counts.group("llm") == {"requests": 1, "retries": 0, "prompt_tokens": 50,
                                        "completion_tokens": 20}


def test_a_kept_row_carries_its_translation_and_counts():
    engine = FrenchishEngine()
    out = process(stage("math", "completion", granularity="line"), Client(engine.generate),
                  {"id": "m1", "conversation": CONV})
    assert isinstance(out, Kept)
    tr = out.columns[TRANSLATION_COLUMN]
    assert [m["role"] for m in tr["messages"]] == ["user", "assistant"]
    assert tr["criteria"] is None and len(tr["retries"]) == 2
    assert len(tr["question_tokens"]) == len(tr["answer_tokens"]) == 1
    llm = out.counts.group("llm")
    assert llm["requests"] == engine.calls and tr["tokens_generated"] == llm["completion_tokens"]
    assert out.counts.counts == {"translated": 1, "translated_messages": 2}


class Unreadable(ScriptedEngine):
    """Answers every request with prose no verdict can be read from."""

    @staticmethod
    def answer(request):
        return "I would rather not say."


def test_the_drop_detail_reaches_the_reject_samples_and_kept_rows_their_record(tmp_path):
    """Through the stage (``keep_dropped``) and a plain UnitCollector: the judge's last
    output is the drop's detail; the unit's marker counts the drop and the row's groups."""
    pool = HostPool.local(fake_config("tests.agnostic.test_stage:Unreadable"), 1)
    conv = {"id": "c1", "language": "en", "subset": "chat", **CONV,
            "source": {"dataset": "sharegpt", "id": "c1"}}
    batch = pa.Table.from_pylist([{"unit_id": "u0", "id": "c1", "conversation": conv}])
    out = asyncio.run(stage("chat", pool=pool)(batch)).to_pylist()
    assert outcome_of(out[0]).reason == "judge_unparseable"
    assert outcome_of(out[0]).detail == "I would rather not say."

    store = UnitStore(resolve(str(tmp_path)), "agnostic", {})
    samples = RejectSamples()
    collector = UnitCollector(store, [WorkUnit("u0", 2)], conversation_schema(),
                              RecordBuilder("fr", "chat", "m", "fr.yaml@1", 0),
                              on_drop=samples)
    collector.add(out[0])
    kept = {"unit_id": "u0", "id": "c2", "conversation": {**conv, "id": "c2"},
            TRANSLATION_COLUMN: {"messages": CONV["messages"], "criteria": None,
                                 "retries": [0, 0], "question_tokens": [9],
                                 "answer_tokens": [7], "tokens_generated": 12}}
    collector.add(kept)
    assert samples.samples == [{"id": "c1", "reason": "judge_unparseable",
                                "detail": "I would rather not say."}]
    marker = store.done()["u0"]
    assert marker["rows"] == 1
    assert marker["counters"]["counts"]["dropped_judge_unparseable"] == 1
    assert marker["counters"]["groups"]["llm"]["requests"] == 0   # no verdict: no costs kept
