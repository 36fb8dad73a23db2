"""``ray job submit`` of the sample build to a real local head (``ray start --head``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("ray.dashboard.modules.job.sdk", reason="needs ray[default] (job API)")


@pytest.fixture
def ray_head():
    """A head node of its own (ports, temp dir, process group, auth token), stopped without
    `ray stop` (which would stop every Ray on the machine). Yields (dashboard URL, env)."""
    import secrets

    port, dash = free_port(), free_port()
    # Every port of its own: the dashboard agent's default (52365) may be held by another Ray
    # on this machine (the test session's), and then the head has no job agent.
    own_ports = [f"--{name}={free_port()}" for name in (
        "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
        "metrics-export-port", "node-manager-port", "object-manager-port",
        "ray-client-server-port")]
    temp_dir = tempfile.mkdtemp(prefix="/tmp/ulh")
    # Ray's dashboard asks for a token: give head and client the same one.
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
         f"--port={port}", "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1",
         f"--dashboard-port={dash}", "--num-cpus=2", "--include-dashboard=true",
         f"--temp-dir={temp_dir}", "--disable-usage-stats", *own_ports],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{dash}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/version", timeout=2):
                break
        except urllib.error.HTTPError:  # it answers (401 without the token): it is up
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("ray start --head exited early")
            time.sleep(1)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the local head's dashboard did not come up")
    yield url, env
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_submit_sample_build_to_local_head(ray_head, tmp_path):
    config = yaml.safe_load((ROOT / "jobs" / "sample.yaml").read_text())
    config["languages"] = ["en", "fr"]
    config["sources"]["wikipedia"] = {k: v for k, v in config["sources"]["wikipedia"].items()
                                      if k in ("en", "fr")}
    config["engines"] = {"generator": {"engine": "tests.build_helpers:BuildFake",
                                       "model": "gemma3-270m", "max_concurrency": 64}}
    cfg = tmp_path / "job.yaml"
    cfg.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    url, head_env = ray_head
    env = {**head_env, "RAY_ADDRESS": url}
    deadline = time.time() + 180
    while True:  # the dashboard answers before its job agent is up: wait for it
        result = subprocess.run(
            [sys.executable, "-m", "ray.scripts.scripts", "job", "submit", "--working-dir",
             str(ROOT), "--", "python", "-m", "ultralink", "build", "--config", str(cfg),
             "--output", str(out)],
            env=env, capture_output=True, text=True, timeout=600)
        if "No available agent" not in result.stdout + result.stderr or time.time() > deadline:
            break
        time.sleep(3)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "succeeded" in (result.stdout + result.stderr).lower()
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "done"
    for lang in ("en", "fr"):
        for subset in ("chat_specific", "math", "code"):
            assert list((out / lang / subset).glob("part-*.parquet")), (lang, subset)
