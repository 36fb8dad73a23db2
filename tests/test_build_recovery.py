"""``ultralink build`` recovery: a SIGKILLed driver resumes without duplicates or lost work,
and the sample build runs against a real S3 endpoint (moto server on 127.0.0.1).

Crash tests run the CLI in its own session (its own local Ray), kill the whole process group
at a point read from the output (a unit marker / a stage manifest), and rerun to completion.
The fake engine logs every engine call (``calls_dir``, one file per process), so the calls
of the killed run and of the rerun are told apart and compared with an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.build_helpers import ROOT, SUBSETS, ids_by_subset, kill_session, read_calls, sample_values
from ultralink.build import load_config, run_build
from ultralink.core.records import conversation_schema

FAKE = "tests.build_helpers:SlowBuildFake"
LANGS = ["en", "fr"]
RUN_TIMEOUT = 240


def job_yaml(tmp: Path, calls: Path, output: Path, **over) -> Path:
    """The sample job (en + fr) with the fake engine and one record per unit (many units per
    stage, so a kill can land between them)."""
    values = sample_values(LANGS)
    values.update(output=str(output), languages=LANGS)
    values["engines"] = {"generator": {"engine": FAKE, "model": "gemma3-270m",
                                       "max_concurrency": 64,
                                       "engine_kwargs": {"calls_dir": str(calls),
                                                         "latency_s": 0.1}}}
    values["specific"]["unit_size"] = 1
    values["agnostic"]["unit_records"] = 1
    values.update(over)
    calls.mkdir(parents=True, exist_ok=True)
    path = tmp / "job.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def markers(out: Path) -> dict[str, dict]:
    """``{"<stage dir>/<unit id>": marker}`` for every finished unit under ``out``."""
    found = {}
    for m in out.glob("**/_units/*.json"):
        found[f"{m.parent.parent.relative_to(out)}/{m.stem}"] = json.loads(m.read_text())
    return found


def stage_manifest_done(stage_dir: Path) -> bool:
    try:
        return json.loads((stage_dir / "_manifest.json").read_text()).get("status") == "done"
    except (OSError, ValueError):
        return False


def build_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # its own local Ray, never a cluster another test (or `ray start`) left around
    env["RAY_ADDRESS"] = "local"
    return env


def start_build(cfg: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ultralink", "build", "--config", str(cfg)],
                            cwd=ROOT, env=build_env(), start_new_session=True,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_for(proc: subprocess.Popen, ready, log: Path, timeout: float = RUN_TIMEOUT) -> None:
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"build exited ({proc.returncode}) before the kill point:\n"
                        + log.read_text()[-3000:])
        if time.time() > deadline:
            kill_session(proc)
            pytest.fail("kill point not reached:\n" + log.read_text()[-3000:])
        time.sleep(0.02)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, ray_local):
    """One uninterrupted build (in-process on the shared local Ray): ids, markers, calls."""
    tmp = tmp_path_factory.mktemp("baseline")
    cfg = load_config(str(job_yaml(tmp, tmp / "calls", tmp / "out")))
    run_build(cfg, progress=False)
    out = tmp / "out"
    return {"ids": ids_by_subset(out), "units": set(markers(out)),
            "calls": Counter(read_calls(tmp / "calls"))}


def _first_unit(stage: str):
    return lambda out: any((out / stage / "_units").glob("*.json"))


def _stage_done(stage: str):
    return lambda out: stage_manifest_done(out / stage)


KILL_POINTS = {
    "first-specific-unit": _first_unit("fr/chat_specific"),
    "specific-stage-done": _stage_done("fr/chat_specific"),
    "first-math-unit": _first_unit("fr/math"),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_driver_resumes(baseline, tmp_path, point):
    calls = tmp_path / "calls"
    out = tmp_path / "out"
    cfg = job_yaml(tmp_path, calls, out)
    log = tmp_path / "build.log"

    proc = start_build(cfg, log)
    wait_for(proc, lambda: KILL_POINTS[point](out), log)
    kill_session(proc)

    # what the killed run finished, and which engine calls it made
    done_units = markers(out)
    done_stages = {str(d.relative_to(out)) for d in out.glob("**/") if d != out
                   and stage_manifest_done(d)}
    # a unit's shard is written before its marker: a shard without a marker is an unfinished
    # unit (killed between the two writes) and is rightly redone; shards with markers are not
    shards = {}
    for unit, marker in done_units.items():
        rel = f"{unit.rsplit('/', 1)[0]}/part-{marker['unit_id']}.parquet"
        if (out / rel).exists():
            shards[rel] = ((out / rel).stat().st_mtime_ns, (out / rel).read_bytes())
    tmp_left = set(out.glob("**/*.tmp-*")) | set(out.glob("**/.tmp-*"))
    assert done_units, "the kill point implies at least one finished unit"
    assert any(u.startswith("fr/") for u in done_units)
    killed_dir = tmp_path / "calls-killed"
    calls.rename(killed_dir)
    calls.mkdir()
    killed = Counter(read_calls(killed_dir))

    # the rerun starts its own local Ray and finishes
    rerun = subprocess.run([sys.executable, "-m", "ultralink", "build", "--config", str(cfg)],
                           cwd=ROOT, env=build_env(), start_new_session=True,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "done"

    # same records as an uninterrupted run: nothing duplicated, nothing missing
    assert ids_by_subset(out) == baseline["ids"]
    assert set(markers(out)) == baseline["units"]
    # a kill inside a local write_atomic may orphan its temporary sibling (never read: not
    # part-*.parquet, not *.json); the rerun leaves none of its own
    assert set(out.glob("**/*.tmp-*")) | set(out.glob("**/.tmp-*")) <= tmp_left

    # units finished before the kill were not redone: markers and shards untouched ...
    after = markers(out)
    for unit, marker in done_units.items():
        assert after[unit] == marker, f"{unit} was rewritten"
    for rel, (mtime, data) in shards.items():
        p = out / rel
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data, f"{rel} was rewritten"

    # ... and the engine work adds up: the rerun made only calls of an uninterrupted run,
    # fewer of them, and with the killed run's calls covers every call that run made
    full = baseline["calls"]
    again = Counter(read_calls(calls))
    assert not (again - full), f"calls no uninterrupted run makes: {again - full}"
    assert sum(again.values()) < sum(full.values())
    assert not (full - (killed + again)), f"calls never made: {full - (killed + again)}"
    # dialogue request ids start with the record id: finished specific units got no call
    for unit, marker in done_units.items():
        if "/chat_specific" not in unit or not marker["rows"]:
            continue
        shard = out / unit.rsplit("/", 1)[0] / f"part-{marker['unit_id']}.parquet"
        for rid in pq.read_table(shard).column("id").to_pylist():
            assert not [c for c in again if c.startswith(rid + ":")], f"{rid} regenerated"
            mine = Counter({c: n for c, n in full.items() if c.startswith(rid + ":")})
            assert mine and not (mine - killed)  # the killed run had made all of them
    # a stage whose own manifest said done spent nothing in the rerun
    for name, stage in manifest["stages"].items():
        if stage["output"].startswith(str(out)):
            rel = os.path.relpath(stage["output"], out)
            if rel in done_stages:
                assert stage["skipped"] or stage["this_run"]["tokens"] == 0, name
    if point == "specific-stage-done":
        assert "fr/chat_specific" in done_stages
        assert not [c for c in again if c.startswith(("fr_chat_specific_", "en_chat_specific_"))]


# -- S3 -------------------------------------------------------------------------------------

def test_sample_build_on_s3(ray_local, s3_env, moto_server, tmp_path):
    """Inputs read from and the dataset written to a real S3 endpoint (moto server); the
    workers of the shared local Ray were started before the AWS variables were set, so they
    must get the endpoint and keys from the driver (``Location.s3``), not their environment."""
    import boto3
    import pyarrow.fs as pafs

    bucket = s3_env
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    values = yaml.safe_load((ROOT / "jobs" / "sample.yaml").read_text())
    src = values["sources"]

    def up(path: str) -> str:
        s3.upload_file(str(ROOT / path), bucket, "in/" + path)
        return f"s3://{bucket}/in/{path}"

    src["wikipedia"] = {lang: [up(p) for p in src["wikipedia"][lang]] for lang in LANGS}
    for key in ("chat", "math", "code"):
        src[key] = [up(p) for p in src[key]]
    values.update(output=f"s3://{bucket}/out", languages=LANGS)
    values["engines"] = {"generator": {"engine": "tests.build_helpers:BuildFake",
                                       "model": "gemma3-270m", "max_concurrency": 64,
                                       "engine_kwargs": {"calls_dir": str(tmp_path)}}}
    cfg = load_config(None, **values)
    run_build(cfg, progress=False)

    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="out/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert not [k for k in keys if ".tmp" in k], "temporary objects left behind"
    for name in ("_manifest.json", "stats.json", "README.md"):
        assert f"out/{name}" in keys
    # the work files beside the dataset (s3://bucket/out_work), none inside it
    assert not [k for k in keys if k.startswith("out/_work/")]
    work = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="out_work/") for o in page.get("Contents", [])]
    assert "out_work/segments/en/_manifest.json" in work and "out_work/_manifest.json" in work
    parts = {}
    for lang in LANGS:
        for subset in SUBSETS:
            prefix = f"out/{lang}/{subset}/"
            parts[f"{lang}/{subset}"] = [k for k in keys if k.startswith(prefix + "part-")
                                         and k.endswith(".parquet")]
            assert parts[f"{lang}/{subset}"], f"no parts under {prefix}: {keys}"
            assert prefix + "_manifest.json" in keys
    manifest = json.loads(s3.get_object(Bucket=bucket, Key="out/_manifest.json")["Body"].read())
    assert manifest["status"] == "done"
    assert all(s["status"] == "done" for s in manifest["stages"].values())

    fs = pafs.S3FileSystem(endpoint_override=moto_server, scheme="http", region="us-east-1",
                           access_key="testing", secret_key="testing")
    key = parts["fr/math"][0]
    table = pq.read_table(f"{bucket}/{key}", filesystem=fs)
    assert table.schema.equals(conversation_schema())
    assert table.num_rows >= 1 and all(i.startswith("fr_math_") for i in
                                       table.column("id").to_pylist())
    assert manifest["counts"]["agnostic/fr/math"] == sum(
        pq.read_table(f"{bucket}/{k}", filesystem=fs).num_rows for k in parts["fr/math"])
