"""Token budget: overflow fails fast with a clear, non-retryable reason."""

from __future__ import annotations

import pytest

from ultralink.llm.budget import check_budget
from ultralink.llm.types import RequestError


def test_fits_exactly() -> None:
    check_budget(3584, 512, 4096)


def test_overflow_names_the_numbers() -> None:
    with pytest.raises(RequestError) as info:
        check_budget(3900, 512, 4096)
    assert info.value.reason == "context_overflow"
    assert info.value.retryable is False
    assert str(info.value) == "prompt 3900 + max_tokens 512 > context 4096"


def test_max_tokens_must_be_positive() -> None:
    with pytest.raises(RequestError) as info:
        check_budget(10, 0, 4096)
    assert (info.value.reason, info.value.retryable) == ("bad_request", False)


def test_unknown_context_checks_only_max_tokens() -> None:
    check_budget(10**6, 512, 0)

