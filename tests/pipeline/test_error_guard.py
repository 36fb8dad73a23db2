"""The error guard: a few poison rows are drops; a share of errors stops the job, one line."""

from __future__ import annotations

import pyarrow as pa
import pytest

from ultralink.core.config import ErrorLimits
from ultralink.core.fs import resolve
from ultralink.pipeline.error_guard import ErrorGuard, TooManyErrors
from ultralink.hosting.llm_stage import DROP_COLUMN
from ultralink.pipeline.units import UnitCollector, WorkUnit
from ultralink.dataset.sink import UnitStore


def test_few_errors_pass_a_share_stops():
    guard = ErrorGuard(ErrorLimits(max_error_share=0.05, min_errors=3))
    for i in range(100):
        guard.add("error:IndexError" if i in (10, 50) else "", f"record r{i}")
    guard.add("error:IndexError", "record r100")  # 3 of 101: under 5 %
    with pytest.raises(TooManyErrors) as err:
        for i in range(10):
            guard.add("error:KeyError", f"record k{i}")
    msg = str(err.value)
    assert "\n" not in msg and "max_error_share 0.05" in msg and "error:KeyError" in msg
    assert "first in record r10" in msg


def test_below_min_errors_never_stops():
    guard = ErrorGuard(ErrorLimits(min_errors=10))
    for _ in range(9):
        guard.add("error:ValueError")
    assert guard.rows == 9  # 100 % errors, but a small sample: counted drops, no stop


def test_unit_collector_stops_the_job(tmp_path):
    store = UnitStore(resolve(str(tmp_path)), "t", {})
    schema = pa.schema([("id", pa.string())])
    units = [WorkUnit("u0", 30)]
    collector = UnitCollector(store, units, schema, lambda r: {"id": r["id"]},
                              limits=ErrorLimits(max_error_share=0.1, min_errors=5))
    for i in range(20):
        collector.add({"unit_id": "u0", "id": f"ok{i}", DROP_COLUMN: ""})
    with pytest.raises(TooManyErrors, match=r"5 of 25 rows \(20.0%\)"):
        for i in range(5):
            collector.add({"unit_id": "u0", "id": f"bad{i}", DROP_COLUMN: "error:IndexError"})
