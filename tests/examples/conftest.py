"""Example tests: each runs against the embedded server (`websip serve`, as the
issue asks) and against the real Kamailio (see tests/kamailio/README.md)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kamailio.fixtures import kamailio as real_kamailio  # noqa: F401
from kamailio.fixtures import (  # noqa: F401  (fixtures and hook, found by name)
    kamailio_factory,
    kamailio_session,
    pytest_runtest_makereport,
)
from websip.server import Server

USERS = {"alice": "alicepw", "bob": "bobpw", "carol": "carolpw", "dave": "davepw"}


class Embedded:
    """The embedded server, on its own event loop in a thread (the examples are
    run as processes, some with a blocking subprocess.run), behind the same few
    names the tests use."""

    def __init__(self) -> None:
        self.domain = "websip.test"
        self.ws_url = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the embedded server did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        async with Server(users=USERS) as server:
            self.ws_url = server.url
            self._ready.set()
            await self._stop

    def close(self) -> None:
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))
        self._thread.join(10)

    def aor(self, user: str) -> str:
        return f"sip:{user}@{self.domain}"

    def password(self, user: str) -> str:
        return USERS[user]


@pytest.fixture(params=["embedded", "kamailio"])
def kamailio(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The server an example talks to: ``websip serve``'s Server, or Kamailio."""
    if request.param == "kamailio":
        yield request.getfixturevalue("real_kamailio")
        return
    embedded = Embedded()
    try:
        yield embedded
    finally:
        embedded.close()
