"""The chain's per-stage summary: every drop under the stage that made it, from the steps'
own declarations, even when a reader and a step use the same reason."""

from __future__ import annotations

from ultralink.core.counters import Counters
from ultralink.pipeline.chain import run_chain, stage_summary
from ultralink.core.stage import Filter, Step


class Odd(Filter[int]):
    name = "odd"
    drops = ("even", "parse_error")

    def keep(self, item: int) -> bool | str:
        if item == 7:
            raise ValueError("seven")      # dropped as error:ValueError
        return True if item % 2 else ("parse_error" if item == 4 else "even")


class Small(Filter[int]):
    name = "small"
    drops = ("big",)

    def keep(self, item: int) -> bool | str:
        return item < 9 or "big"


def test_drops_are_attributed_to_the_stage_that_made_them():
    counters = Counters()
    counters.drop("parse_error", 2)          # the reader's, before the chain
    out = list(run_chain([Odd(), Small()], range(12), counters))
    assert out == [1, 3, 5]
    rows = {r["stage"]: r for r in stage_summary([Odd, Small], counters)}
    assert rows["read"]["dropped"] == {"parse_error": 2}
    assert rows["odd"]["dropped"] == {"even": 5, "parse_error": 1, "error:ValueError": 1}
    assert rows["small"]["dropped"] == {"big": 2}
    assert (rows["odd"]["in"], rows["odd"]["out"], rows["small"]["out"]) == (12, 5, 3)
    # the totals are unchanged: one count per dropped record
    assert counters.dropped() == {"parse_error": 3, "even": 5, "error:ValueError": 1, "big": 2}


def test_every_prepare_step_declares_its_drops():
    from ultralink.jobs.prepare.stage import step_classes

    for cls in step_classes():
        assert issubclass(cls, Step) and cls.name != "step"
    declared = {cls.name: set(cls.drops) for cls in step_classes()}
    assert declared["clean"] >= {"namespace", "redirect", "disambiguation", "empty"}
    assert declared["doc_length"] == {"too_short", "too_long"}
    assert declared["language"] == {"language"} and declared["segment"] == {"remainder"}


def test_an_undeclared_reason_is_named(caplog):
    class Sloppy(Small):
        name = "sloppy"
        drops = ()

    counters = Counters()
    list(run_chain([Sloppy()], [1, 20], counters))
    rows = {r["stage"]: r for r in stage_summary([Sloppy], counters)}
    assert rows["sloppy"]["dropped"] == {"big": 1}
    assert "stage sloppy dropped with undeclared reason(s) ['big']" in caplog.text
