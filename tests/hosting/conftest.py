"""Fixtures of the hosting tests."""

from __future__ import annotations

import pytest

from tests.hosting.pools import ray_pools


@pytest.fixture
def ray_pool(ray_local):
    """Factory for Ray-hosted pools (unique names), shut down after the test."""
    yield from ray_pools()
