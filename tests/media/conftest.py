"""Fixtures of the media tests (helpers live in helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from websip.media import AiortcMediaHandler, PcmSink, ToneSource

from .helpers import CHUNK_MS, LOOPBACK, SINK_RATE, Party, negotiate, wait_for


@pytest.fixture
async def make_pair() -> AsyncIterator[Callable[..., object]]:
    """Build two connected parties; every handler is closed at teardown."""
    handlers: list[AiortcMediaHandler] = []

    async def make(
        caller_hz: float = 440.0,
        callee_hz: float = 880.0,
        *,
        connect: bool = True,
        **kwargs: object,
    ) -> tuple[Party, Party]:
        parties = []
        for hz in (caller_hz, callee_hz):
            sink = PcmSink(sample_rate=SINK_RATE, frame_ms=CHUNK_MS)
            dtmf: list[tuple[str, int]] = []

            def record(tone: str, ms: int, dtmf: list[tuple[str, int]] = dtmf) -> None:
                dtmf.append((tone, ms))

            handler = AiortcMediaHandler(
                ToneSource(hz),
                [sink],
                ice_addresses=LOOPBACK,
                on_dtmf=record,
                **kwargs,  # type: ignore[arg-type]
            )
            handlers.append(handler)
            parties.append(Party(handler, sink, dtmf))
        caller, callee = parties
        if connect:
            await negotiate(caller.handler, callee.handler)
            await caller.handler.wait_connected(5)
            await callee.handler.wait_connected(5)
            # Media flows once the first decoded frames reach both sinks.
            await wait_for(
                lambda: caller.sink.chunks_received > 5 and callee.sink.chunks_received > 5
            )
        return caller, callee

    yield make
    for handler in handlers:
        await handler.close()
