"""ultralink.dataset.card: the dataset card's front matter, globs and body; the layout loads as documented."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest
import yaml

from tests.dataset.test_stats import make_dataset
from ultralink.dataset.card import BIBTEX, render_card, size_category, write_card
from ultralink.dataset.stats import compute_stats, write_stats


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("card") / "ultralink"
    make_dataset(root)
    stats = write_stats(str(root))
    write_card(str(root), stats, {"specific": {"seed": 7, "llm": {"engine": "openai", "api_key": "sk-secret"}}})
    return root, stats


def front(text: str) -> dict:
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    return yaml.safe_load(head)


def test_front_matter(built):
    root, _ = built
    meta = front((root / "README.md").read_text(encoding="utf-8"))
    assert meta["language"] == ["en", "zh", "fr"]
    assert meta["task_categories"] == ["text-generation"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["license"] == "other" and meta["license_name"]
    names = [c["config_name"] for c in meta["configs"]]
    assert names == ["all", "en", "zh", "fr", "en_math", "zh_chat_specific", "zh_chat_agnostic",
                     "fr_code"]
    assert len(set(names)) == len(names)
    by_name = {c["config_name"]: c for c in meta["configs"]}
    assert by_name["all"]["default"] is True and sum("default" in c for c in meta["configs"]) == 1
    assert by_name["zh"]["data_files"] == ["zh/chat_specific/*.parquet", "zh/chat_agnostic/*.parquet"]
    pairs = [n for n in names if "_" in n]
    assert by_name["all"]["data_files"] == [by_name[n]["data_files"] for n in pairs]
    present = {(p.parts[-3], p.parts[-2]) for p in root.glob("*/*/part-*.parquet")}
    assert {tuple(n.split("_", 1)) for n in pairs} == present


def test_data_files_globs_match_exactly_the_parts(built):
    root, _ = built
    meta = front((root / "README.md").read_text(encoding="utf-8"))
    for c in meta["configs"]:
        if "_" not in c["config_name"]:
            continue   # all / per language: lists of these globs (test_front_matter)
        matched = sorted(glob.glob(str(root / c["data_files"])))
        lang, subset = c["config_name"].split("_", 1)
        expected = sorted(str(p) for p in (root / lang / subset).glob("part-*.parquet"))
        assert matched == expected and matched


def test_body(built):
    root, _ = built
    text = (root / "README.md").read_text(encoding="utf-8")
    for needle in ("## Statistics", "| Zh | 2 | 1 | 0 | 0 | 3 |", "| UltraLink (this build) | 7 | 8 |",
                   "](figures/token_lengths.png)", "load_dataset(\"parquet\"", "storage_options",
                   "S3FileSystem", "pd.read_parquet", "load_dataset(\"path/to/ultralink\", "
                   "split=\"train\")", "load_dataset(\"path/to/ultralink\", \"en\",",
                   "Configs: `all` (every language and subset; the default), one per language",
                   "duckdb.sql(", "ray.data.read_parquet(", "CC BY-SA 4.0", "check each source's licence",
                   "ShareGPT", "MetaMathQA", "Magicoder", "## Schema", "arXiv:2402.04588",
                   "Wang, Haoyu and Wang, Shuo and Yan, Yukun", "Sun, Maosong", "seed: 7"):
        assert needle in text, needle
    assert "sk-secret" not in text and "<redacted>" in text
    assert BIBTEX in text
    assert (root / "figures" / "token_lengths.png").exists()


def test_card_without_config_and_on_s3_paths(built):
    _, stats = built
    text = render_card("s3://bucket/prefix/ultralink", stats)
    assert "## Build configuration" not in text
    assert "s3://bucket/prefix/ultralink/en/math/*.parquet" in text
    assert front(text)["configs"][4]["data_files"] == "en/math/*.parquet"


def test_size_category():
    assert size_category(999) == "n<1K"
    assert size_category(1_032_000) == "1M<n<10M"
    assert size_category(147_000) == "100K<n<1M"


def test_write_card_to_s3(tmp_path: Path, s3_env: str):
    import boto3

    root = tmp_path / "ds"
    make_dataset(root)
    stats = compute_stats(str(root))
    write_card(f"s3://{s3_env}/ds", stats, None)
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    body = client.get_object(Bucket=s3_env, Key="ds/README.md")["Body"].read().decode()
    assert front(body)["configs"][5]["config_name"] == "zh_chat_specific"


def test_layout_loads_like_the_card_says(built):
    """The card's pyarrow/pandas recipes on the real layout (bookkeeping and card files around)."""
    root, stats = built
    zh = ds.dataset(str(root / "zh" / "chat_specific"), format="parquet").to_table()
    assert sorted(zh.column("id").to_pylist()) == ["zh_chat_specific_aaa", "zh_chat_specific_bbb"]
    df = pd.read_parquet(root / "fr" / "code")
    assert sorted(df["id"]) == ["fr_code_a", "fr_code_b", "fr_code_c"]
    assert list(df["messages"].iloc[0][0].keys()) == ["role", "content"]
    everything = ds.dataset(str(root), format="parquet", exclude_invalid_files=True)
    assert everything.count_rows() == stats["table1"]["UltraLink"]["total"]
    only_zh = everything.to_table(filter=ds.field("language") == "zh")
    assert only_zh.num_rows == 3
    # the data_files glob, as datasets.load_dataset("parquet", data_files=...) would expand it
    meta = front((root / "README.md").read_text(encoding="utf-8"))
    counts = stats["table1"]["languages"]
    for c in meta["configs"]:
        globs = c["data_files"] if isinstance(c["data_files"], list) else [c["data_files"]]
        files = sorted(f for g in globs for f in glob.glob(str(root / g)))
        n = ds.dataset(files, format="parquet").count_rows()
        name = c["config_name"]
        if name == "all":
            assert n == stats["table1"]["UltraLink"]["total"]
        elif "_" not in name:
            assert n == counts[name]["total"]
        else:
            lang, subset = name.split("_", 1)
            assert n == counts[lang][subset]
