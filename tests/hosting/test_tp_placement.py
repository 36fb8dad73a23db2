"""GPUs per host = tensor_parallel_size: hosts land on distinct GPUs, TP groups as one bundle.

A separate Ray (8 logical GPUs) in a subprocess: the session's ``ray_local`` has no GPUs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ultralink.llm.registry import EngineConfig

ROOT = Path(__file__).resolve().parents[2]


def test_hosts_get_their_own_gpus_tp1_and_tp2():
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "tests.hosting.tp_placement_scenario"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    tp1, tp2 = out["tp1"], out["tp2"]
    assert [len(ids) for ids in tp1] == [1] * 8
    assert sorted(i for ids in tp1 for i in ids) == [str(g) for g in range(8)]
    assert [len(ids) for ids in tp2] == [2] * 4
    assert sorted(i for ids in tp2 for i in ids) == [str(g) for g in range(8)]
    assert out["pgs_left"] == 0  # shutdown removes the TP placement groups


def test_vllm_hosts_hold_their_tensor_parallel_gpus():
    assert EngineConfig(engine="vllm", model="m").gpus_per_host == 1
    assert EngineConfig(engine="vllm", model="m", tensor_parallel_size=4).gpus_per_host == 4
    assert EngineConfig(engine="llamacpp").gpus_per_host == 0
    with pytest.raises(ValueError, match="num_gpus 1 != tensor_parallel_size 2"):
        EngineConfig(engine="vllm", model="m", num_gpus=1, tensor_parallel_size=2)
    with pytest.raises(ValueError, match="is for engine 'vllm'"):
        EngineConfig(engine="llamacpp", tensor_parallel_size=2)
    with pytest.raises(ValueError, match="set them as EngineConfig fields"):
        EngineConfig(engine="vllm", model="m", engine_kwargs={"max_num_seqs": 8})
