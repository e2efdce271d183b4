"""Fixtures for the Kamailio smoke tests (see fixtures.py)."""

from .fixtures import (  # noqa: F401  (fixtures and hook, found by name)
    kamailio,
    kamailio_factory,
    kamailio_session,
    pytest_runtest_makereport,
)
