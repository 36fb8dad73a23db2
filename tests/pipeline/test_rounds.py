"""``grow_to_target``: the one round loop both LLM jobs grow their draw with."""

from __future__ import annotations

import pytest

from ultralink.pipeline.units import draw_more, grow_to_target


def rounds_of(target, available, first, max_rounds, yield_of, stop_at=None):
    """Run the loop with a job whose every candidate ``i`` makes a record when
    ``yield_of(i)``; returns the result and the ranges run."""
    ranges = []

    def run(r, lo, hi):
        ranges.append((r, lo, hi))
        if stop_at == r:
            return None
        return sum(1 for i in range(hi) if yield_of(i))

    return grow_to_target(target, available, first, max_rounds, run), ranges


def test_rounds_draw_contiguous_ranges_sized_by_the_yield_until_the_target():
    grown, ranges = rounds_of(10, 100, 10, 8, lambda i: i % 3 != 0)  # two thirds succeed
    assert [r for r, _, _ in ranges] == list(range(len(ranges)))
    assert all(prev[2] == nxt[1] for prev, nxt in zip(ranges, ranges[1:]))  # no gap, no overlap
    assert ranges[0] == (0, 0, 10)
    made = sum(1 for i in range(10) if i % 3)
    assert ranges[1][2] == 10 + draw_more(10, made, 10)
    assert grown.met and grown.got >= 10 and grown.drawn == ranges[-1][2]
    assert grown.rounds == len(ranges)


@pytest.mark.parametrize("available, max_rounds, why", [(12, 8, "candidates"), (100, 2, "rounds")])
def test_rounds_stop_when_candidates_or_rounds_run_out(available, max_rounds, why):
    grown, ranges = rounds_of(10, available, 10, max_rounds, lambda i: i % 4 == 0)
    assert not grown.met
    if why == "candidates":
        assert grown.drawn == 12 and ranges[-1][2] == 12
    else:
        assert grown.rounds == 2 and len(ranges) == 2


def test_a_round_left_incomplete_stops_the_loop_and_keeps_the_last_count():
    grown, ranges = rounds_of(10, 100, 10, 8, lambda i: i % 2 == 0, stop_at=1)
    assert len(ranges) == 2 and grown.rounds == 2 and grown.got == 5 and not grown.met


def test_one_round_when_the_first_draw_meets_the_target_or_is_everything():
    assert rounds_of(5, 100, 5, 8, lambda i: True)[0].rounds == 1
    assert rounds_of(5, 3, 5, 8, lambda i: True)[0].drawn == 3
