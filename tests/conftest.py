from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))



@pytest.fixture(scope="session")
def metro_small():
    """The shipped default instance, loaded once per test session (treat as read-only)."""
    from engine.instance import load_instance
    from tests.helpers import REPO

    return load_instance(REPO / "instances" / "metro-small")
