"""cluster.yaml passes Ray's own cluster-launcher validation."""

from pathlib import Path

import yaml


def test_cluster_yaml_is_valid_for_ray():
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = yaml.safe_load((Path(__file__).resolve().parent.parent / "cluster.yaml").read_text())
    validate_config(prepare_config(cfg))
    types = cfg["available_node_types"]
    assert "gpu_worker" in types and cfg["head_node_type"] == "head"
    assert any('[vllm]' in cmd for cmd in cfg["setup_commands"])
