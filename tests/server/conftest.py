"""Fixtures of the embedded server tests: a started Server and CoreClient factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from websip.server import Server, ServerEvent

from .helpers import CoreClient

USERS = {"alice": "alicepw", "bob": "bobpw", "carol": "carolpw"}

ClientFactory = Callable[..., Awaitable[CoreClient]]


@pytest.fixture
async def server_events() -> list[ServerEvent]:
    return []


@pytest.fixture
async def server(server_events: list[ServerEvent]) -> AsyncIterator[Server]:
    async with Server(users=USERS, on_event=server_events.append) as srv:
        yield srv


@pytest.fixture
async def clients(server: Server) -> AsyncIterator[ClientFactory]:
    """clients(user, password=USERS[user]) -> a connected CoreClient (not registered)."""
    made: list[CoreClient] = []

    async def make(user: str, password: str | None = None, url: str | None = None) -> CoreClient:
        client = CoreClient(url or server.url, user, password or USERS.get(user))
        await client.connect()
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()
