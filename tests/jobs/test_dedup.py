"""Near-duplicate removal: exact by normalised hash, MinHash LSH for near copies, smallest id
kept, clusters reported; segments and questions across subsets; Chinese by characters."""

from __future__ import annotations

import json
import random

from tests.dedup_helpers import conv, ids, write_conversations, write_segments
from ultralink.core.fs import resolve
from ultralink.dataset.shard_filter import parts
from ultralink.jobs.dedup import DedupConfig, DedupJob, dedup_shards, find_clusters

rng = random.Random(5)
WORDS = [f"w{i}" for i in range(3000)]


def doc(n: int = 120) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_segments_exact_near_and_distinct(ray_local, tmp_path):
    a, b, c = doc(), doc(), doc()
    near = a.split()
    near[40] = "changed"
    write_segments(tmp_path / "seg" / "part-1.parquet", [
        ("d3-0", a), ("d1-0", "  " + a.upper().replace(" ", ",  ") + "!"),  # exact after normalising
        ("d5-0", b)])
    write_segments(tmp_path / "seg" / "part-2.parquet", [
        ("d2-0", " ".join(near)), ("d4-0", c),
        ("d6-0", " ".join(a.split()[:50] + c.split()[:70]))])  # shares 40%: distinct
    shards = parts(resolve(str(tmp_path / "seg")))
    report = dedup_shards(shards, "segments", DedupConfig(), resolve(str(tmp_path / "work")), "en")
    assert report["clusters"] == [{"kept": "d1-0", "dropped": ["d2-0", "d3-0"], "kind": "near"}]
    assert report["exact_dropped"] == 1 and report["near_dropped"] == 1
    assert ids(tmp_path / "seg") == ["d1-0", "d4-0", "d5-0", "d6-0"]
    on_disk = json.loads((tmp_path / "work" / "_report.json").read_text())
    assert on_disk["summary"]["dropped"] == {"exact_duplicate": 1, "near_duplicate": 1}
    assert [(r["stage"], r["in"], r["out"], r["dropped"]) for r in on_disk["stages"]] == [
        ("exact", 6, 5, {"exact_duplicate": 1}), ("near", 5, 4, {"near_duplicate": 1})]
    assert json.loads((tmp_path / "work" / "_manifest.json").read_text())["status"] == "done"
    again = dedup_shards(parts(resolve(str(tmp_path / "seg"))), "segments", DedupConfig(),
                         resolve(str(tmp_path / "work")), "en")
    assert again["clusters"] == [] and ids(tmp_path / "seg") == ["d1-0", "d4-0", "d5-0", "d6-0"]


def test_questions_across_subsets_and_chinese(ray_local, tmp_path):
    q = "请解释一下光合作用在热带雨林生态系统中的作用，以及它如何影响全球的碳循环和气候变化的长期趋势。"
    q2 = q.replace("长期趋势", "长远趋势")
    other = "请比较古代丝绸之路与现代国际贸易路线在文化交流方面的异同，并说明其对沿线城市发展的影响。"
    root = tmp_path / "out"
    write_conversations(root / "zh" / "chat_specific" / "part-a.parquet", [
        conv("zh_cs_2", "zh", "chat_specific", "<document>一段背景</document>\n" + q, "答"),
        conv("zh_cs_3", "zh", "chat_specific", other, "答")])
    write_conversations(root / "zh" / "chat_agnostic" / "part-a.parquet", [
        conv("zh_ca_1", "zh", "chat_agnostic", q2, "另一个回答")])
    found = find_clusters(parts(resolve(str(root))), "questions", DedupConfig(threshold=0.6))
    assert [(c["kept"], c["dropped"]) for c in found["clusters"]] == [("zh_ca_1", ["zh_cs_2"])]
    assert found["drop"] == {"zh_cs_2": "near_duplicate"}


def test_job_identity_and_typed_report():
    job = DedupJob("questions", DedupConfig(threshold=0.8), "zh")
    assert job.name == "dedup"
    assert job.identity() == {"kind": "questions", **DedupConfig(threshold=0.8).model_dump()}
    report = job.report({"records": 10, "exact_dropped": 2, "near_dropped": 3})
    assert [(r.name, r.records_in, r.records_out) for r in report.stages] == [
        ("exact", 10, 8), ("near", 8, 5)]
    assert report.summary.to_dict() == {"in": 10, "out": 5, "dropped": {
        "exact_duplicate": 2, "near_duplicate": 3}, "tokens": 0, "tokens_kind": "none",
        "run_tokens": 0}
    nothing = job.report({"records": 4, "exact_dropped": 0, "near_dropped": 0})
    assert nothing.dropped == {} and nothing.records_out == 4
