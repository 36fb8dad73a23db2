"""The per-job progress line: units and records done of their totals, the rate, tokens per
second and an ETA from the measured rate, logged at most every interval and at the end."""

from __future__ import annotations

import logging

from ultralink.core.counters import Counters
from ultralink.pipeline.progress import ProgressLine


def test_progress_line_rates_eta_and_pacing(caplog):
    now = [0.0]
    line = ProgressLine("specific zh", units=4, rows=400, interval_s=30, clock=lambda: now[0])
    tokens = Counters()
    tokens.add("tokens_generated", 5000)
    with caplog.at_level(logging.INFO, logger="ultralink.progress"):
        for _ in range(100):
            line.row()
        now[0] = 50.0
        line.unit_done(tokens)                      # 50 s since the start: logged
        assert caplog.messages[-1] == ("specific zh: 1/4 units, 100/400 records (2.0/s), "
                                       "100 tok/s, ETA 2m")
        for _ in range(100):
            line.row()
        now[0] = 60.0
        line.unit_done(Counters())                  # 10 s after the last line: quiet
        assert len(caplog.messages) == 1
        llm = Counters()
        llm.add_in("llm", "completion_tokens", 1000)
        for _ in range(200):
            line.row()
        now[0] = 100.0
        line.unit_done(llm)
        line.unit_done(Counters())                  # the last unit: always said
    assert caplog.messages[-1] == ("specific zh: 4/4 units, 400/400 records (4.0/s), "
                                   "60 tok/s, done in 2m")


def test_quiet_and_log_level_flags(tmp_path, capsys):
    from ultralink.cli import build_parser

    args = build_parser().parse_args(["-q", "stats", str(tmp_path)])
    assert args.quiet and args.log_level is None
    args = build_parser().parse_args(["--log-level", "WARNING", "stats", "x"])
    assert args.log_level == "WARNING"


def test_without_a_record_total_the_eta_comes_from_the_units(caplog):
    now = [0.0]
    line = ProgressLine("prepare zh", units=4, rows=0, interval_s=0, clock=lambda: now[0],
                        noun="segments")
    with caplog.at_level(logging.INFO, logger="ultralink.progress"):
        line.row(250)
        now[0] = 30.0
        line.unit_done(Counters())
    assert caplog.messages[-1] == "prepare zh: 1/4 units, 250 segments (8.3/s), ETA 2m"
