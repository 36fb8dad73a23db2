"""Run by test_tp_placement.py in its own process: a local Ray with 8 logical GPUs, then
8 hosts × TP1 and 4 hosts × TP2; prints each host's GPU ids as JSON (last line)."""

from __future__ import annotations

import json
import sys

import ray

from tests.fakes import fake_config
from ultralink.hosting.options import HostOptions
from ultralink.hosting.pool import HostPool


def placed(tp: int, hosts: int) -> list[list[str]]:
    cfg = fake_config().model_copy(update={"tensor_parallel_size": tp, "num_gpus": float(tp)})
    pool = HostPool.create(cfg, hosts, f"tp{tp}", options=HostOptions(num_cpus=0,
                                                                       stats_poll_s=0))
    try:
        infos = ray.get([ray.get_actor(f"tp{tp}-host-{i}", namespace=pool.namespace)
                         .ready.remote() for i in range(hosts)])  # hosts by their names
        return [sorted(i["gpu_ids"]) for i in sorted(infos, key=lambda i: i["index"])]
    finally:
        pool.shutdown()


if __name__ == "__main__":
    ray.init(address="local", num_cpus=2, num_gpus=8, include_dashboard=False,
             log_to_driver=False)
    try:
        out = {"tp1": placed(1, 8), "tp2": placed(2, 4),
               "pgs_left": sum(1 for p in ray.util.placement_group_table().values()
                               if p["state"] == "CREATED")}
    finally:
        ray.shutdown()
    print(json.dumps(out))
    sys.stdout.flush()
