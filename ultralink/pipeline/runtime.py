"""Starting or joining Ray the same way for every job."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("ultralink")


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join ``address`` (or ``RAY_ADDRESS``; ``auto`` = the local `ray start` cluster) when
    given, else start a local Ray of our own.

    The dashboard is skipped locally (it costs seconds on a laptop and nothing here needs
    it); Ray Data's progress bars: :func:`progress_bars`.
    """
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=True)
        log.info("joined Ray cluster at %s", address)
    else:
        # "local" always starts our own instance: never attach by surprise to a cluster some
        # other `ray start` left on this machine (join one with --ray-address auto / ADDR)
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=True)
        log.info("started local Ray (%s CPUs)", ray.cluster_resources().get("CPU"))


def progress_bars() -> bool:
    """Whether Ray Data draws its progress bars: on a terminal only (elsewhere, in a log file
    or ``ray job logs``, they are lines of ``Total Progress: 0/?`` every few seconds, and our
    own per-job line, ``pipeline.progress``, says more), and never with ``--quiet``."""
    import sys

    return sys.stderr.isatty() and not os.environ.get("ULTRALINK_QUIET")


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def freeze_heap() -> None:
    """Leave every object alive now out of Python's cyclic garbage collector (``gc.freeze``).

    A Ray worker holds Ray's, pyarrow's and its models' long-lived objects; without this
    every full collection the work triggers scans them all again. Called once a worker is
    set up (measured: 4 of 12 CPU-s per prepare actor went to the collector before).
    """
    import gc

    gc.freeze()
