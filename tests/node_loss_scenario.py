"""Run the sample build (en + fr, slow fake engine) on a 3-node ``ray.cluster_utils.Cluster``
(head + 2 workers), optionally killing one worker node mid-build; prints a JSON summary.

Run as a subprocess (the pytest process already holds its own local Ray)::

    python -m tests.node_loss_scenario OUT_DIR [--kill]

The last stdout line is ``{"ok": bool, "killed": bool, "ids": {...}, "units": [...],
"error": str|null}``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.build_helpers import ids_by_subset  # noqa: E402
from tests.test_build_recovery import job_yaml, markers  # noqa: E402

OBJECT_STORE = 80 * 1024 * 1024


def main(tmp: Path, kill: bool) -> dict:
    import ray
    from ray.cluster_utils import Cluster

    from ultralink.build import load_config, run_build

    os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ.pop("RAY_ADDRESS", None)
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "out"
    cfg = load_config(str(job_yaml(tmp, tmp / "calls", out)))

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": OBJECT_STORE, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=2, object_store_memory=OBJECT_STORE)
               for _ in range(2)]
    cluster.wait_for_nodes()
    summary = {"ok": False, "killed": False, "error": None}
    try:
        ray.init(address=cluster.address, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        stop = threading.Event()

        def host_nodes() -> set[str]:
            """Node ids of the live engine hosts (from the GCS actor table)."""
            table = ray._private.state.actors()
            return {a["Address"]["NodeID"] for a in table.values()
                    if a.get("ActorClassName") == "EngineHost" and a.get("State") == "ALIVE"}

        def watcher() -> None:
            # once the first fr/chat_specific unit is finished (fr translation stages still to
            # come), kill the worker running the engine host: its in-flight requests, the host
            # and the Ray Data actors there are lost mid-build
            while not stop.is_set():
                if out.exists() and any((out / "fr" / "chat_specific" / "_units").glob("*.json")):
                    nodes = host_nodes()
                    victim = next((w for w in workers if w.node_id in nodes), workers[1])
                    summary["killed_host_node"] = victim.node_id in nodes
                    summary["units_before_kill"] = sorted(markers(out))
                    cluster.remove_node(victim, allow_graceful=False)
                    summary["killed"] = True
                    return
                time.sleep(0.05)

        t = threading.Thread(target=watcher, daemon=True)
        if kill:
            t.start()
        t0 = time.time()
        try:
            run_build(cfg, ray_address=cluster.address, progress=False)
            summary["ok"] = True
        except Exception:  # noqa: BLE001 - reported to the test
            summary["error"] = traceback.format_exc()[-4000:]
        finally:
            stop.set()
        summary["wall_s"] = round(time.time() - t0, 1)
        summary["ids"] = ids_by_subset(out) if out.exists() else {}
        summary["units"] = sorted(markers(out)) if out.exists() else []
        try:
            summary["manifest_status"] = json.loads((out / "_manifest.json").read_text())["status"]
        except (OSError, ValueError, KeyError):
            summary["manifest_status"] = None
    finally:
        try:
            ray.shutdown()
        finally:
            cluster.shutdown()
    return summary


if __name__ == "__main__":
    result = main(Path(sys.argv[1]), "--kill" in sys.argv[2:])
    print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
