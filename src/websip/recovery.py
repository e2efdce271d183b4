"""Which WebSocket server to try next, and how long to wait first.

Pure logic for the transport in :mod:`websip.aio.transport` (kept out of the
asyncio shell so it is tested without sockets or clocks):

- :class:`ServerSelector`: the highest weight first, random among equals, a
  failed server skipped until every server has failed (JsSIP's rule), then all
  are eligible again.
- :func:`recovery_delays`: the reconnection back-off, a generator in the
  websockets style: exponential with full jitter, never below
  ``connection_recovery_min_interval`` nor above ``..._max_interval``. A fresh
  generator is taken after every successful connection, which resets it.
"""

from __future__ import annotations

import random as _random
from collections.abc import Iterator, Sequence
from typing import Protocol, TypeVar

__all__ = ["ServerSelector", "WeightedServer", "recovery_delays"]


class WeightedServer(Protocol):
    @property
    def ws_uri(self) -> str: ...

    @property
    def weight(self) -> int: ...


S = TypeVar("S", bound=WeightedServer)


class ServerSelector(Sequence[S]):
    """Chooses servers by weight, remembering which ones failed."""

    def __init__(self, servers: Sequence[S], rng: _random.Random | None = None) -> None:
        if not servers:
            raise ValueError("at least one server is needed")
        self._servers = list(servers)
        self._failed: set[int] = set()
        self._rng = rng or _random.Random()

    def __len__(self) -> int:
        return len(self._servers)

    def __getitem__(self, index: int) -> S:  # type: ignore[override]
        return self._servers[index]

    def choose(self) -> S:
        """The server to try now: best weight among those that have not failed."""
        candidates = [i for i in range(len(self._servers)) if i not in self._failed]
        if not candidates:
            # Every server failed: start over with all of them (JsSIP does the same).
            self._failed.clear()
            candidates = list(range(len(self._servers)))
        best = max(self._servers[i].weight for i in candidates)
        top = [i for i in candidates if self._servers[i].weight == best]
        return self._servers[self._rng.choice(top)]

    def mark_failed(self, server: S) -> None:
        self._failed.add(self._index(server))

    def mark_connected(self, server: S) -> None:
        """A connection succeeded: every server is eligible again next time."""
        self._failed.clear()

    @property
    def all_failed(self) -> bool:
        return len(self._failed) >= len(self._servers)

    def _index(self, server: S) -> int:
        for i, candidate in enumerate(self._servers):
            if candidate is server:
                return i
        raise ValueError(f"unknown server {server.ws_uri!r}")


def recovery_delays(
    min_interval: float, max_interval: float, rng: _random.Random | None = None
) -> Iterator[float]:
    """Delays before each reconnection attempt (seconds).

    Attempt ``n`` (from 1) waits a random value in ``[min, min * 2**n]`` (full
    jitter spreads reconnecting clients after a server restart), capped at
    ``max_interval``. Like JsSIP, the first wait is at least ``min_interval``.
    """
    if min_interval <= 0 or max_interval < min_interval:
        raise ValueError("need 0 < min_interval <= max_interval")
    rng = rng or _random.Random()
    attempt = 0
    while True:
        attempt += 1
        ceiling = min(max_interval, min_interval * (2 ** min(attempt, 30)))
        yield min(max_interval, rng.uniform(min_interval, ceiling))
