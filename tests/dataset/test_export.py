"""ultralink.dataset.export: JSONL in the UltraLink release, ShareGPT and OpenAI formats."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.dataset.test_stats import conv, make_dataset, words, write_part
from ultralink.dataset.export import export, format_summary, iter_sorted, to_ultralink
from ultralink.core.fs import resolve
from ultralink.dataset.files import dataset_parts

ROLE_FROM = {"human": "user", "gpt": "assistant", "system": "system"}


def parquet_records(root: Path, lang: str, subset: str) -> list[tuple[str, list[dict]]]:
    rows = []
    for p in sorted((root / lang / subset).glob("part-*.parquet")):
        t = pq.read_table(p, columns=["id", "messages"])
        rows += list(zip(t.column("id").to_pylist(), t.column("messages").to_pylist()))
    return sorted(rows)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    make_dataset(root)
    return root


def test_ultralink_format_round_trip(dataset: Path, tmp_path: Path):
    dest = tmp_path / "release"
    summary = export(str(dataset), str(dest), "ultralink")
    assert summary["counts"] == {"en_math": 1, "zh_chat_specific": 2, "zh_chat_agnostic": 1, "fr_code": 3}
    assert summary["dropped_system"] == {"zh_chat_agnostic": 1}
    assert sorted(p.name for p in dest.glob("*.jsonl")) == [
        "en_math.jsonl", "fr_code.jsonl", "zh_chat_agnostic.jsonl", "zh_chat_specific.jsonl"]
    for key in summary["counts"]:
        lang, subset = key.split("_", 1)
        got = read_jsonl(dest / f"{key}.jsonl")
        idmap = read_jsonl(dest / "_idmap" / f"{key}.jsonl")
        want = parquet_records(dataset, lang, subset)
        assert [r["id"] for r in got] == [f"{key}_{i}" for i in range(len(want))]
        assert [m["id"] for m in idmap] == [r["id"] for r in got]
        assert [m["record_id"] for m in idmap] == [rid for rid, _ in want]          # sorted by our id
        for rec, (_, msgs) in zip(got, want):
            assert rec["data"] == [m["content"] for m in msgs if m["role"] != "system"]
            assert set(rec) == {"id", "data"}
    spec = read_jsonl(dest / "zh_chat_specific.jsonl")
    assert spec[0]["data"][0].startswith("<document>") and spec[0]["data"][0].endswith(words(4))
    assert len(spec[1]["data"]) == 4
    assert json.loads((dest / "_export.json").read_text())["total"] == 7


@pytest.mark.parametrize("fmt", ["sharegpt", "openai"])
def test_chat_formats_round_trip(dataset: Path, tmp_path: Path, fmt: str):
    dest = tmp_path / fmt
    summary = export(str(dataset), str(dest), fmt)
    assert summary["total"] == 7 and not (dest / "_idmap").exists()
    for key in summary["counts"]:
        lang, subset = key.split("_", 1)
        got = read_jsonl(dest / f"{key}.jsonl")
        want = parquet_records(dataset, lang, subset)
        assert [r["id"] for r in got] == [rid for rid, _ in want]
        for rec, (_, msgs) in zip(got, want):
            if fmt == "sharegpt":
                back = [{"role": ROLE_FROM[t["from"]], "content": t["value"]} for t in rec["conversations"]]
            else:
                back = rec["messages"]
            assert back == msgs
    agn = read_jsonl(dest / "zh_chat_agnostic.jsonl")[0]
    if fmt == "sharegpt":
        assert [t["from"] for t in agn["conversations"]] == ["system", "human", "gpt"]
    else:
        assert [m["role"] for m in agn["messages"]] == ["system", "user", "assistant"]


def test_ids_are_deterministic_and_independent_of_part_layout(dataset: Path, tmp_path: Path):
    export(str(dataset), str(tmp_path / "a"), "ultralink")
    export(str(dataset), str(tmp_path / "b"), "ultralink")
    for name in ("fr_code.jsonl", "_idmap/fr_code.jsonl", "zh_chat_specific.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # the same records re-sharded differently export identically
    other = tmp_path / "other"
    rows = [conv(f"fr_code_{c}", "fr", "code", [(words(1), words(2))]) for c in "cab"]
    write_part(other, "fr", "code", "part-00000.parquet", rows[::-1])
    export(str(other), str(tmp_path / "c"), "ultralink")
    assert (tmp_path / "c" / "fr_code.jsonl").read_bytes() == (tmp_path / "a" / "fr_code.jsonl").read_bytes()


@pytest.mark.parametrize("fan_in", [64, 2])
def test_merge_is_sorted_across_many_parts(tmp_path: Path, monkeypatch, fan_in: int):
    import ultralink.dataset.export as export_mod

    monkeypatch.setattr(export_mod, "FAN_IN", fan_in)         # 2: merge passes over 7 runs
    monkeypatch.setattr(export_mod, "RUN_BATCH_BYTES", 64)    # many small batches
    root = tmp_path / "out"
    ids = [f"zh_math_{i:04d}" for i in range(300)]
    import random

    random.Random(0).shuffle(ids)
    for p in range(7):
        write_part(root, "zh", "math", f"part-{p:05d}.parquet",
                   [conv(i, "zh", "math", [("q " + i, "a " + i)]) for i in ids[p::7]])
    parts = dataset_parts(resolve(str(root)))[("zh", "math")]
    got = list(iter_sorted(parts))
    assert [rid for rid, _ in got] == sorted(ids)
    assert all(m[0]["content"] == "q " + rid for rid, m in got)


def test_filters_duplicates_and_malformed(dataset: Path, tmp_path: Path):
    # a rerun leftover: the same record in a second part; and a dialogue that does not alternate
    write_part(dataset, "en", "math", "part-00009.parquet", [
        conv("en_math_1", "en", "math", [(words(10), words(20))]),
        {**conv("en_math_2", "en", "math", [("q", "a")]),
         "messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}]},
    ])
    summary = export(str(dataset), str(tmp_path / "d"), "ultralink", languages=["en"], subsets=["math"])
    assert summary["counts"] == {"en_math": 1}
    assert summary["duplicate_ids"] == {"en_math": 1}
    assert summary["skipped_malformed"] == {"en_math": 1}
    assert "duplicate_ids=1" in format_summary(summary)
    assert sorted(p.name for p in (tmp_path / "d").glob("*.jsonl")) == ["en_math.jsonl"]
    openai = export(str(dataset), str(tmp_path / "e"), "openai", languages=["en"])
    assert openai["counts"] == {"en_math": 2}          # chat formats keep any role sequence


def test_to_ultralink_edge_cases():
    u, a = {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}
    assert to_ultralink([u, a], "x_0") == ({"id": "x_0", "data": ["q", "a"]}, False)
    assert to_ultralink([{"role": "system", "content": "s"}, u, a], "x_0")[1] is True
    assert to_ultralink([], "x_0") == (None, False)
    assert to_ultralink([u], "x_0") == (None, False)
    assert to_ultralink([a, u], "x_0") == (None, False)


def test_unknown_format(dataset: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="unknown format"):
        export(str(dataset), str(tmp_path / "x"), "alpaca")


def test_no_temporaries_left(dataset: Path, tmp_path: Path):
    dest = tmp_path / "clean"
    export(str(dataset), str(dest), "sharegpt")
    assert not [p for p in dest.rglob("*") if p.name.startswith(".tmp-")]


def test_export_to_s3(dataset: Path, s3_env: str):
    import boto3

    uri = f"s3://{s3_env}/exports/ultralink"
    summary = export(str(dataset), uri, "ultralink", subsets=["chat_specific", "code"])
    assert summary["counts"] == {"zh_chat_specific": 2, "fr_code": 3}
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_env)["Contents"])
    assert keys == ["exports/ultralink/_export.json", "exports/ultralink/_idmap/fr_code.jsonl",
                    "exports/ultralink/_idmap/zh_chat_specific.jsonl", "exports/ultralink/fr_code.jsonl",
                    "exports/ultralink/zh_chat_specific.jsonl"]
    body = client.get_object(Bucket=s3_env, Key="exports/ultralink/fr_code.jsonl")["Body"].read().decode()
    assert [json.loads(x)["id"] for x in body.splitlines()] == ["fr_code_0", "fr_code_1", "fr_code_2"]


def test_export_reads_from_s3(dataset: Path, s3_env: str, tmp_path: Path):
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for p in dataset.rglob("*"):
        if p.is_file():
            client.upload_file(str(p), s3_env, "ds/" + p.relative_to(dataset).as_posix())
    summary = export(f"s3://{s3_env}/ds", str(tmp_path / "local"), "openai")
    assert summary["total"] == 7
    assert read_jsonl(tmp_path / "local" / "fr_code.jsonl")[0]["id"] == "fr_code_a"


def test_cli(dataset: Path, tmp_path: Path, capsys):
    from ultralink.cli import main

    dest = tmp_path / "cli"
    assert main(["export", str(dataset), "--format", "sharegpt", "--dest", str(dest),
                 "--languages", "zh", "--subsets", "chat_specific"]) == 0
    out = capsys.readouterr().out
    assert "exported 2 records as sharegpt" in out and "zh_chat_specific.jsonl" in out
    assert [p.name for p in dest.glob("*.jsonl")] == ["zh_chat_specific.jsonl"]
    assert main(["export", str(dataset), "--format", "openai", "--dest", str(dest),
                 "--languages", "xx"]) == 1
    with pytest.raises(SystemExit):
        main(["export", str(dataset), "--format", "alpaca", "--dest", str(dest)])
