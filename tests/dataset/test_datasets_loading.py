"""The dataset layout loads with Hugging Face ``datasets`` exactly as the card says (offline)."""

from __future__ import annotations

import pytest
import yaml

from tests.dataset.test_stats import make_dataset
from ultralink.dataset.card import write_card
from ultralink.dataset.stats import compute_stats

datasets = pytest.importorskip("datasets")


def test_card_configs_load_with_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    rows = make_dataset(tmp_path)
    write_card(str(tmp_path), compute_stats(str(tmp_path)), None)
    front = (tmp_path / "README.md").read_text(encoding="utf-8").split("---")[1]
    configs = yaml.safe_load(front)["configs"]
    assert configs
    for config in configs:
        ds = datasets.load_dataset("parquet", data_files=str(tmp_path / config["data_files"]),
                                   split="train", cache_dir=str(tmp_path / "cache"))
        expected = rows[config["config_name"]]
        assert sorted(ds["id"]) == sorted(r["id"] for r in expected)
        assert set(ds.column_names) >= {"id", "language", "subset", "messages", "source", "meta"}
        first = ds[0]["messages"][0]
        assert set(first) == {"role", "content"}
