"""pytest fixtures around KamailioServer.

In a conftest.py (with ``tests`` on sys.path, see README.md)::

    from kamailio.fixtures import (  # noqa: F401  (fixtures and hook, used by name)
        kamailio,
        kamailio_factory,
        kamailio_session,
        pytest_runtest_makereport,
    )

Fixtures:

``kamailio``          the shared server of the test session (started once, lazily);
                      restarted first if an earlier test left it stopped.  Do not
                      stop/kill/restart it in a test: use kamailio_factory for that.
``kamailio_session``  the same server without the "is it running" check.
``kamailio_factory``  ``kamailio_factory(**options) -> KamailioServer``: a private,
                      started server per call (options as for KamailioServer, e.g.
                      auth_requests=False); all of them are stopped after the test.

If Kamailio is missing the fixtures FAIL (never skip): with CI set the message
says so; locally it says to run ./scripts/test, which installs it.

When a test that used a server fails, the Kamailio log written during the test is
attached to the report (section "kamailio log"), thanks to the
pytest_runtest_makereport hook exported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from .server import KamailioNotInstalledError, KamailioServer, require_kamailio

__all__ = [
    "kamailio",
    "kamailio_factory",
    "kamailio_session",
    "pytest_runtest_makereport",
    "require_kamailio_or_fail",
]

_LOGS = pytest.StashKey[list[tuple[KamailioServer, int]]]()
_LOG_SECTION_CHARS = 20000


def require_kamailio_or_fail() -> None:
    """pytest.fail (not skip) with an actionable message if Kamailio is unusable."""
    try:
        require_kamailio()
    except KamailioNotInstalledError as exc:
        problem = str(exc)
    else:
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"CI is set and Kamailio is not usable ({problem}). "
            "Kamailio tests are never skipped in CI: the CI image must install "
            "kamailio kamailio-websocket-modules kamailio-tls-modules.",
            pytrace=False,
        )
    pytest.fail(f"{problem}\n(Run ./scripts/test: it installs Kamailio.)", pytrace=False)


def _watch_log(request: pytest.FixtureRequest, server: KamailioServer) -> None:
    request.node.stash.setdefault(_LOGS, []).append((server, server.log_size()))


# One shared server even if several conftest files import the fixture (each
# import makes its own session FixtureDef): reference counted.
_shared: dict[str, Any] = {"server": None, "users": 0}


@pytest.fixture(scope="session")
def kamailio_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KamailioServer]:
    require_kamailio_or_fail()
    if _shared["server"] is None:
        server = KamailioServer(tmp_path_factory.mktemp("kamailio"))
        server.start()
        _shared["server"] = server
    _shared["users"] += 1
    try:
        yield _shared["server"]
    finally:
        _shared["users"] -= 1
        if _shared["users"] == 0:
            _shared["server"].stop()
            _shared["server"] = None


@pytest.fixture
def kamailio(kamailio_session: KamailioServer, request: pytest.FixtureRequest) -> KamailioServer:
    if not kamailio_session.running:
        kamailio_session.start()
    _watch_log(request, kamailio_session)
    return kamailio_session


@pytest.fixture
def kamailio_factory(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., KamailioServer]]:
    require_kamailio_or_fail()
    servers: list[KamailioServer] = []

    def make(**options: Any) -> KamailioServer:
        server = KamailioServer(tmp_path_factory.mktemp("kamailio"), **options)
        servers.append(server)
        server.start()
        _watch_log(request, server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for server, offset in item.stash.get(_LOGS, []):
            text = server.log_since(offset)
            if len(text) > _LOG_SECTION_CHARS:
                text = "...\n" + text[-_LOG_SECTION_CHARS:]
            report.sections.append((f"kamailio log ({server.log_path})", text))
    return report
