"""One criteria verdict per English conversation, reused by every target language; the judge
asks for structured output (a JSON schema) and still parses free text as the fallback."""

from __future__ import annotations

import asyncio

import pytest

from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.agnostic.criteria_filter import CriteriaPrompt, Judge, verdict_schema
from ultralink.agnostic.stage import AgnosticStage
from ultralink.llm.types import Completion
from ultralink.pipeline.outcome import Drop

CONV = {"messages": [{"role": "user", "content": "Where is the best bakery on Rue Cler?"},
                     {"role": "assistant", "content": "Try the one at number 12."}]}
HIT = '{"1": "no", "2": "yes", "3": "no", "4": "no", "5": "no", "6": "no"}'


class MemoClient:
    """generate (a fixed verdict) + the pool's recall/remember, shared across stages."""

    def __init__(self) -> None:
        self.memo: dict[str, object] = {}
        self.requests = []

    async def generate(self, request):
        self.requests.append(request)
        return Completion(text=HIT, finish_reason="stop", prompt_tokens=50, completion_tokens=20)

    async def recall(self, key):
        return self.memo.get(key)

    async def remember(self, key, value):
        self.memo[key] = value


def run(stage: AgnosticStage, client: MemoClient) -> Drop:
    """The row's drop (every verdict here hits a criterion)."""
    async def go():
        await stage.setup()
        with pytest.raises(Drop) as caught:
            await stage.process_row({"id": "c1", "conversation": CONV}, client)
        return caught.value
    return asyncio.run(go())


def test_second_language_reuses_the_verdict():
    client = MemoClient()
    results = []
    for lang in ("zh", "ru", "fr"):
        stage = AgnosticStage(None, language=lang, subset="chat",
                              config=AgnosticConfig(), style="chat",
                              granularity="message")
        results.append(run(stage, client))
    assert len(client.requests) == 1  # judged once, for zh
    assert [r.reason for r in results] == ["criteria"] * 3
    assert [r.counts.counts.get("judge_reused", 0) for r in results] == [0, 1, 1]
    assert results[1].counts.group("criterion") == results[0].counts.group("criterion")
    assert [r.counts.group("llm")["requests"] for r in results] == [1, 0, 0]


def test_chat_judge_requests_a_json_schema():
    criteria = CriteriaPrompt.load().criteria
    schema = verdict_schema(criteria)
    assert schema["required"] == [str(c.id) for c in criteria]
    req = Judge(AgnosticConfig(), "chat").build_request("User: hi", 1, 0.0, "a", "r")
    assert req.sampling.json_schema == schema
    # completion style writes the JSON value by value already: no schema there
    req = Judge(AgnosticConfig(), "completion").build_request("User: hi", 1, 0.0, "a", "r")
    assert req.sampling.json_schema is None


def test_the_verdict_outlives_the_stage_actor(tmp_path):
    """Each language in a fresh actor (or a rerun after a crash): the verdict is read back
    from the memo beside the output, not asked again."""
    from ultralink.core.fs import resolve
    from ultralink.hosting.llm_stage import StageClient
    from ultralink.llm.memo import ResultMemo
    from ultralink.llm.metrics import LLMMetrics

    class Pool(MemoClient):  # a pool's generate takes the stage's metrics too
        async def generate(self, request, metrics=None):
            return await super().generate(request)

    pool = Pool()
    root = resolve(str(tmp_path / "_memo"))
    results = []
    for lang in ("zh", "ru"):
        memo = ResultMemo(root)
        client = StageClient(pool, LLMMetrics(), memo=memo)
        stage = AgnosticStage(None, language=lang, subset="chat", config=AgnosticConfig(),
                              style="chat", granularity="message")
        results.append(run(stage, client))
        asyncio.run(memo.flush())  # what the end of a batch does
    assert len(pool.requests) == 1
    assert [r.counts.counts.get("judge_reused", 0) for r in results] == [0, 1]
    assert results[1].counts.group("criterion") == results[0].counts.group("criterion")
