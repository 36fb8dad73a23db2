"""Every failure one line (issue 29 item 5): the root cause a Ray worker raised, named once,
with what was kept and how to resume; the traceback only with ``-v``."""

from __future__ import annotations

import errno
import logging

import pytest
import ray.data  # noqa: F401 - Ray's log handlers bind to the session's stderr, not one test's

from ultralink.cli.common import run_job


def _ray_data_job(error: BaseException):
    """A job whose Ray Data worker raises ``error`` (wrapped by Ray as it really is)."""
    def job():
        def fail(batch):
            raise error

        ray.data.range(4, override_num_blocks=2).map_batches(fail).materialize()
    return job


def test_disk_full_in_a_worker_is_one_line(ray_local, capsys):
    err = OSError(errno.ENOSPC, "No space left on device", "/data/out/en/part-0.parquet")
    assert run_job("build", _ray_data_job(err)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and " ERROR " not in err   # Ray's progress lines may stay
    lines = [line for line in err.splitlines() if line.startswith("ultralink")]
    assert lines == ["ultralink build: no space left on device (/data/out/en/part-0.parquet); "
                     "the units already finished are kept: rerun the same command to resume "
                     "(-v: the traceback)"]


def test_out_of_memory_and_access_denied_name_the_cause(ray_local, capsys):
    assert run_job("agnostic", _ray_data_job(MemoryError())) == 1
    assert "ultralink agnostic: out of memory in a worker" in capsys.readouterr().err
    from botocore.exceptions import ClientError

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
                         "PutObject")
    assert run_job("specific", _ray_data_job(denied)) == 1
    out = [x for x in capsys.readouterr().err.splitlines() if x.startswith("ultralink")]
    assert len(out) == 1 and out[0].startswith("ultralink specific: S3 access denied")


def test_a_worker_value_error_is_its_own_message_not_rays_traceback(ray_local, capsys):
    assert run_job("prepare", _ray_data_job(ValueError("shard 3: bad column"))) == 2
    err = capsys.readouterr().err
    assert [x for x in err.splitlines() if x.startswith("ultralink")] == [
        "ultralink prepare: shard 3: bad column"]
    assert "Traceback" not in err


def test_the_traceback_comes_with_verbose(ray_local, capsys):
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        err = OSError(errno.ENOSPC, "No space left on device")
        assert run_job("build", _ray_data_job(err)) == 1
    finally:
        root.setLevel(level)
    text = capsys.readouterr().err
    assert "ultralink build: no space left on device" in text
    assert "Traceback" in text


def test_ctrl_c_is_one_line_and_130(capsys):
    def job():
        raise KeyboardInterrupt
    assert run_job("build", job) == 130
    assert capsys.readouterr().err == ("ultralink build: interrupted; the units already "
                                       "finished are kept: rerun the same command to resume\n")


def test_a_bug_keeps_its_traceback(capsys):
    def job():
        raise KeyError("not ours to explain")
    with pytest.raises(KeyError):
        run_job("build", job)
