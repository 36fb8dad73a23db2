"""LLMStage: rows run concurrently, drops are counted, columns checked, through real Ray Data."""

from __future__ import annotations

import asyncio
import uuid

import pyarrow as pa
import pytest

from tests.fakes import TURNS, ThreeTurns, expected_answer, fake_config
from ultralink.llm.metrics import job_report
from ultralink.hosting.options import HostOptions, RetryPolicy
from ultralink.hosting.pool import HostPool
from ultralink.core.counters import Counters
from ultralink.pipeline.outcome import DROP_COLUMN, Drop, Kept, outcome_of

FAST = RetryPolicy(max_attempts=2, backoff_s=0.01, max_backoff_s=0.02)
def rows(n: int, bad_every: int = 0) -> list[dict]:
    return [{"id": f"r{i}", "question": ("BAD " if bad_every and i % bad_every == 0 else "")
             + f"question {i}", "n": i} for i in range(n)]


def test_all_rows_of_a_batch_run_concurrently():
    pool = HostPool.local(fake_config(latency_s=0.05), 1)
    stage = ThreeTurns(pool)
    batch = {k: [r[k] for r in rows(200)] for k in ("id", "question", "n")}
    out = asyncio.run(stage(batch))
    assert out.num_rows == 200
    engine = asyncio.run(pool.stats_async())["hosts"]["local-host-0"]["engine"]
    assert engine["calls"] == 200 * TURNS
    assert engine["max_in_flight"] >= 150  # every row's dialogue is in flight at once
    assert out.column("answer").to_pylist()[7] == expected_answer("question 7", "r7")


def test_failed_rows_are_dropped_with_reason_and_the_batch_survives():
    pool = HostPool.local(fake_config(fail_if="BAD"), 1, retry=FAST)
    stage = ThreeTurns(pool, keep_dropped=True)
    data = rows(30, bad_every=5)
    data[1]["question"] = "SKIP me"
    data[2]["question"] = "NONE here"
    out = asyncio.run(stage(pa.Table.from_pylist(data))).to_pylist()
    reasons = {r["id"]: r[DROP_COLUMN] for r in out}
    assert len(out) == 30
    assert reasons["r0"] == reasons["r5"] == "llm_scripted_row"
    assert reasons["r1"] == "skipped" and reasons["r2"] == "rejected"
    assert reasons["r3"] == "" and out[3]["answer"] == expected_answer("question 3", "r3")
    stats = asyncio.run(pool.stats_async())["stages"]["three_turns"]["counts"]
    assert stats["total"] == 30 and stats["kept"] == 22
    assert stats["dropped_llm_scripted_row"] == 6 and stats["dropped_skipped"] == 1
    assert stats["failed_scripted_row"] == 6 and stats["retries"] == 6 * (FAST.max_attempts - 1)

    plain = ThreeTurns(pool)  # default: dropped rows leave the output
    assert asyncio.run(plain(pa.Table.from_pylist(data))).num_rows == 22


def test_any_exception_drops_only_its_row_as_error_type(caplog):
    """A poison record (a bug in a stage's own code) drops that row as ``error:<Type>``,
    logged once with the record id and its file; the batch and the job go on."""
    class Crashy(ThreeTurns):
        async def process_row(self, row, client):
            if row["question"].startswith("CRASH"):
                return {}["missing"] if row["n"] % 2 else [][1]
            return await super().process_row(row, client)

    pool = HostPool.local(fake_config(), 1)
    data = [{**r, "source_file": None} for r in rows(10)]
    for i in (3, 4):
        data[i]["question"] = "CRASH " + data[i]["question"]
        data[i]["source_file"] = "s3://b/poison.jsonl"
    with caplog.at_level("ERROR", logger="ultralink.llm"):
        out = asyncio.run(Crashy(pool, keep_dropped=True)(pa.Table.from_pylist(data))).to_pylist()
    reasons = {r["id"]: r[DROP_COLUMN] for r in out}
    assert reasons["r3"] == "error:KeyError" and reasons["r4"] == "error:IndexError"
    assert sum(1 for r in reasons.values() if r) == 2 and len(out) == 10
    lines = [r.getMessage() for r in caplog.records if "r3" in r.getMessage()]
    assert len(lines) == 1 and "s3://b/poison.jsonl" in lines[0] and "KeyError" in lines[0]
    stats = asyncio.run(pool.stats_async())["stages"]["three_turns"]["counts"]
    assert stats["dropped_error:KeyError"] == 1 and stats["kept"] == 8


def test_every_row_carries_its_outcome_counts_kept_or_dropped():
    """``Kept(columns, counts)`` and ``Drop(reason, counts)`` put their counts on the row,
    with the stage's ``every_row`` counts (LLM failures included)."""
    class Counting(ThreeTurns):
        every_row = {"seen": 1}

        async def process_row(self, row, client):
            if row["question"].startswith("SKIP"):
                raise Drop("skipped", Counters({"tried": 2}))
            out = await super().process_row(row, client)
            return Kept(out, Counters({"answered": 1}))

    pool = HostPool.local(fake_config(fail_if="BAD"), 1, retry=FAST)
    data = [{"id": "k", "question": "q", "n": 0}, {"id": "s", "question": "SKIP", "n": 1},
            {"id": "f", "question": "BAD", "n": 2}]
    out = asyncio.run(Counting(pool, keep_dropped=True)(pa.Table.from_pylist(data))).to_pylist()
    fates = {r["id"]: outcome_of(r) for r in out}
    assert fates["k"].kept and fates["k"].counts.counts == {"seen": 1, "answered": 1}
    assert fates["s"].reason == "skipped" and fates["s"].counts.counts == {"seen": 1, "tried": 2}
    assert fates["f"].reason == "llm_scripted_row" and fates["f"].counts.counts == {"seen": 1}


def test_missing_columns_error_names_missing_and_present():
    stage = ThreeTurns(HostPool.local(fake_config(), 1))
    with pytest.raises(ValueError, match=r"missing input column\(s\) \['question'\].*'id', 'n'"):
        asyncio.run(stage({"id": ["a"], "n": [1]}))


def test_undeclared_written_column_is_an_error():
    class Sloppy(ThreeTurns):
        async def process_row(self, row, client):
            return {"answer": "x", "turns": 1, "extra": 2}

    with pytest.raises(ValueError, match="undeclared \\['extra'\\]"):
        asyncio.run(Sloppy(HostPool.local(fake_config(), 1))({"id": ["a"], "question": ["q"]}))


@pytest.fixture
def pool_on_ray(ray_local):
    pools = []

    def make(**script):
        pool = HostPool.create(fake_config(**script), 2, "s" + uuid.uuid4().hex[:8],
                               options=HostOptions(num_cpus=0), retry=FAST)
        pools.append(pool)
        return pool

    yield make
    for p in pools:
        p.shutdown()


def test_stage_in_a_ray_data_pipeline(pool_on_ray):
    import ray

    pool = pool_on_ray(fail_if="BAD", latency_s=0.01)
    data = rows(120, bad_every=4)
    for r in data[40:60]:  # one whole batch fails: an empty output block
        r["question"] = "BAD " + r["question"]
    ds = ray.data.from_items(data).map_batches(
        ThreeTurns, fn_constructor_kwargs={"pool": pool}, concurrency=1, batch_size=20)
    out = sorted(ds.take_all(), key=lambda r: r["n"])
    kept = [r for r in data if not r["question"].startswith("BAD")]
    assert [r["id"] for r in out] == [r["id"] for r in kept]
    assert all(r["answer"] == expected_answer(r["question"], r["id"]) for r in out)
    report = job_report(pool.stats())
    stage = report["stages"]["three_turns"]
    assert stage["rows_total"] == 120 and stage["rows_kept"] == len(kept)
    assert stage["dropped"] == {"llm_scripted_row": 120 - len(kept)}
    assert stage["requests"] == len(kept) * TURNS + (120 - len(kept)) * FAST.max_attempts


def test_ray_data_column_check_via_apply(pool_on_ray):
    import ray

    pool = pool_on_ray()
    ds = ThreeTurns.stage(pool, concurrency=1, batch_size=8, max_concurrent_batches=2,
                          num_cpus=0.5).apply(ray.data.from_items([{"id": "a", "text": "q"}]))
    with pytest.raises(Exception, match=r"missing input column\(s\) \['question'\]") as err:
        ds.take_all()
    assert "'id', 'text'" in str(err.value)
