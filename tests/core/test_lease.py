"""One writer per output: a second run is refused in one line; a superseded worker cannot commit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ultralink.cli import main
from ultralink.core.fs import resolve, s3_client
from ultralink.core.lease import LEASE, Lease, LeaseLost, OutputBusy, _put_s3, _Precondition, check_token
from ultralink.dataset.sink import UnitStore

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "enwiki-sample.xml"


def test_second_run_on_a_local_output_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    first = UnitStore(resolve(str(out)), "prepare", {"a": 1})
    first.open(overwrite=False)
    try:
        other = UnitStore(resolve(str(out)), "prepare", {"a": 2})   # another config, same output
        with pytest.raises(OutputBusy, match="being written by another run"):
            other.open(overwrite=False)
        # the CLI: exit 2, one line, before Ray starts or anything is written
        manifest = (out / "_manifest.json").read_bytes()
        assert main(["prepare", "--language", "en", "--input", str(SAMPLE), "--output", str(out),
                     "--overwrite"]) == 2
        err = capsys.readouterr().err.strip()
        assert "being written by another run" in err and len(err.splitlines()) == 1
        assert (out / "_manifest.json").read_bytes() == manifest
    finally:
        first.close()
    # a run that ended says so in the file (the lock alone is invisible to a reader)
    assert json.loads((out / "_lease.json").read_text())["released"] is True
    again = UnitStore(resolve(str(out)), "prepare", {"a": 1})
    again.open(overwrite=False)
    assert again.token == first.token + 1
    again.close()


def test_a_killed_runs_worker_cannot_commit(tmp_path):
    """The driver dies holding the lease; the rerun takes it at once with a newer token, and a
    worker still holding the old token is refused before it writes a marker."""
    out = tmp_path / "out"
    code = ("import sys, time; from ultralink.core.fs import resolve; from ultralink.core.lease import Lease;"
            f"lease = Lease.acquire(resolve({str(out)!r})); print(lease.token, flush=True);"
            "time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    old_token = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    rerun = UnitStore(resolve(str(out)), "prepare", {})
    rerun.open(overwrite=False)
    try:
        assert rerun.token == old_token + 1
        stale = UnitStore(resolve(str(out)), "prepare", {})
        stale.token = old_token                  # what a worker of the killed run holds
        with pytest.raises(LeaseLost):
            stale.finish_unit("u1", {"rows": 1})
        assert not (out / "_units" / "u1.json").exists()
        rerun.finish_unit("u2", {"rows": 1})     # the current run commits, token recorded
        marker = json.loads((out / "_units" / "u2.json").read_text())
        assert marker["lease_token"] == rerun.token
    finally:
        rerun.close()


def test_s3_lease_conditional_put_heartbeat_and_takeover(s3_env, monkeypatch):
    monkeypatch.setenv("ULTRALINK_LEASE_TTL_S", "1")
    out = resolve(f"s3://{s3_env}/ds")
    a = Lease.acquire(out)
    try:
        with pytest.raises(OutputBusy, match="being written by another run") as busy:
            Lease.acquire(out)
        # a dead run looks alive until its lease expires: the refusal says when, and what then
        assert "expires 1s after its last heartbeat" in str(busy.value)
        assert "rerun to take over" in str(busy.value)
        check_token(out, a.token)
        # the holder dies: no more heartbeats; after the TTL (server clock) a rerun takes over
        a._stop.set()
        a._thread.join()
        time.sleep(2.2)
        b = Lease.acquire(out)
        assert b.token == a.token + 1
        with pytest.raises(LeaseLost):
            check_token(out, a.token)
        with pytest.raises(_Precondition):      # the old holder's next heartbeat is refused
            _put_s3(s3_client(out.s3), s3_env, f"ds/{LEASE}", {"token": a.token},
                    {"IfMatch": a._etag})
        b.release()
        c = Lease.acquire(out)                  # released: taken at once, token keeps growing
        assert c.token == b.token + 1
        c.release()
    finally:
        a._thread = None
        a.release()


def test_simultaneous_starts_admit_exactly_one(tmp_path):
    """Starts racing through a barrier: one takes the output, every other one is refused."""
    import threading

    for round_ in range(3):
        out = resolve(str(tmp_path / f"out{round_}"))
        barrier = threading.Barrier(4)
        won: list[UnitStore] = []
        refused: list[Exception] = []

        def start(config: int, out=out, barrier=barrier, won=won, refused=refused) -> None:
            store = UnitStore(out, "prepare", {"config": config})
            barrier.wait()
            try:
                store.open(overwrite=False)
                won.append(store)
            except (OutputBusy, Exception) as exc:  # noqa: BLE001 - sorted below
                refused.append(exc)

        threads = [threading.Thread(target=start, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and len(refused) == 3
        assert all(isinstance(e, OutputBusy) for e in refused), refused
        won[0].close()
