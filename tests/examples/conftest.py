"""Example tests: the real Kamailio fixtures (see tests/kamailio/README.md)."""

from __future__ import annotations

from kamailio.fixtures import (  # noqa: F401  (fixtures and hook, found by name)
    kamailio,
    kamailio_factory,
    kamailio_session,
    pytest_runtest_makereport,
)
