"""No network at run time: the CPU stages load every model and encoding without a single
outbound connection attempt (a socket guard records and refuses non-loopback connects)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import ultralink.text.tokens as tokens
from ultralink.jobs.prepare.config import PrepareConfig
from ultralink.core.counters import Counters
from ultralink.core.fs import expand
from ultralink.pipeline.chain import run_chain
from ultralink.jobs.prepare.stage import build_steps
from ultralink.sources.wikipedia import plan_units, read_unit

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "frwiki-sample.xml"


def _loopback(host: str) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def guard_network(monkeypatch) -> list:
    """Refuse (and record) every DNS lookup or connect that would leave this machine."""
    attempts: list = []
    real_connect, real_gai = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if isinstance(address, tuple) and not _loopback(str(address[0])):
            attempts.append(address)
            raise OSError("outbound connection refused by the test's socket guard")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host if isinstance(host, str) else str(host or "")):
            attempts.append(host)
            raise socket.gaierror("DNS refused by the test's socket guard")
        return real_gai(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


def test_prepare_stages_make_no_outbound_connection(tmp_path, monkeypatch):
    attempts = guard_network(monkeypatch)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty-tiktoken-cache"))
    monkeypatch.setattr(tokens, "_cache", {})          # load as a fresh worker would
    steps = build_steps("fr", PrepareConfig())
    for step in steps:
        step.setup()
    (loc,), _ = expand([str(SAMPLE)])
    counters = Counters()
    segments = list(run_chain(steps, read_unit(plan_units(loc, 1 << 30)[0], loc.fs, loc.path,
                                               counters, lambda line: None), counters))
    assert segments and all(1000 <= s.n_tokens <= 2000 for s in segments)
    assert attempts == []
