"""``ultralink build`` survives losing a worker node: on a 3-node ``ray.cluster_utils.Cluster``
(head without CPUs + 2 workers) the sample build (en + fr, slow fake engine) loses the worker
running the engine host mid-build (``remove_node(allow_graceful=False)``) and still finishes
with exactly the ids of an uninterrupted run on the same cluster shape.

Each scenario runs in its own process (``tests/node_loss_scenario.py``): this pytest process
already holds a local Ray (``ray_local``), and the cluster is shut down by that process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300


def scenario(out: Path, kill: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("RAY_ADDRESS", None)
    cmd = [sys.executable, "-m", "tests.node_loss_scenario", str(out)] + (["--kill"] if kill else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, start_new_session=True)
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"scenario printed no summary (rc={proc.returncode}):\n"
                    + proc.stdout[-3000:] + proc.stderr[-3000:])
    assert proc.returncode == 0 and result["ok"], (result.get("error") or "") + proc.stderr[-3000:]
    return result


def test_worker_node_loss_mid_build(tmp_path):
    base = scenario(tmp_path / "baseline", kill=False)
    lost = scenario(tmp_path / "node-loss", kill=True)

    # the kill happened mid-build, on the engine host's node
    assert lost["killed"] and lost["killed_host_node"]
    assert len(lost["units_before_kill"]) < len(base["units"])
    # the build finished, with the same records: nothing duplicated, nothing missing
    assert lost["manifest_status"] == base["manifest_status"] == "done"
    assert base["ids"] and all(base["ids"].values())
    for key, ids in lost["ids"].items():
        assert len(ids) == len(set(ids)), f"duplicate ids in {key}"
    assert lost["ids"] == base["ids"]
    assert lost["units"] == base["units"]
