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
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    root = tmp_path / "ds"
    rows = make_dataset(root)
    write_card(str(root), compute_stats(str(root)), None)
    front = (root / "README.md").read_text(encoding="utf-8").split("---")[1]
    configs = yaml.safe_load(front)["configs"]
    assert configs
    cache = str(tmp_path / "cache")
    for config in configs:
        name = config["config_name"]
        if "_" in name:     # one language × subset: its glob, as the card's first recipe
            ds = datasets.load_dataset("parquet", data_files=str(root / config["data_files"]),
                                       split="train", cache_dir=cache)
            expected = rows[name]
        else:               # all / one language: by name, from the card's front matter
            ds = datasets.load_dataset(str(root), name, split="train", cache_dir=cache)
            expected = [r for key, rs in rows.items() for r in rs
                        if name == "all" or key.startswith(name + "_")]
        assert sorted(ds["id"]) == sorted(r["id"] for r in expected), name
        assert set(ds.column_names) >= {"id", "language", "subset", "messages", "source", "meta"}
        first = ds[0]["messages"][0]
        assert set(first) == {"role", "content"}
    # no config named: the default, `all`
    everything = datasets.load_dataset(str(root), split="train", cache_dir=cache)
    assert len(everything) == sum(len(rs) for rs in rows.values())
