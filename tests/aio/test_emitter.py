"""The UA's event emitter: plain and async handlers, once, off, wait_for."""

from __future__ import annotations

import asyncio
import logging

import pytest

from websip.aio.emitter import EventEmitter


async def test_plain_and_async_handlers_get_the_payload() -> None:
    emitter = EventEmitter(frozenset({"x"}))
    seen: list[object] = []

    async def later(payload: object) -> None:
        await asyncio.sleep(0)
        seen.append(("async", payload))

    emitter.on("x", seen.append)
    emitter.on("x", later)
    tasks = emitter.emit("x", 1)
    assert seen == [1]
    await asyncio.gather(*tasks)
    assert seen == [1, ("async", 1)]
    assert emitter.listeners("x") == 2


async def test_once_off_and_unknown_names() -> None:
    emitter = EventEmitter(frozenset({"x", "y"}))
    seen: list[object] = []
    emitter.once("x", seen.append)
    emitter.emit("x", 1)
    emitter.emit("x", 2)
    assert seen == [1]
    emitter.on("y", seen.append)
    emitter.off("y", seen.append)
    emitter.emit("y", 3)
    emitter.on("y", seen.append)
    emitter.off("y")
    emitter.emit("y", 4)
    assert seen == [1]
    with pytest.raises(ValueError, match="unknown event 'z'"):
        emitter.on("z", seen.append)
    with pytest.raises(TypeError):
        emitter.on("x", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        emitter.once("x", None)  # type: ignore[arg-type]


async def test_a_failing_handler_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emitter = EventEmitter()
    seen: list[object] = []

    def bad(payload: object) -> None:
        raise RuntimeError("boom")

    async def bad_async(payload: object) -> None:
        raise RuntimeError("async boom")

    emitter.on("x", bad)
    emitter.on("x", bad_async)
    emitter.on("x", seen.append)
    with caplog.at_level(logging.ERROR, logger="websip.events"):
        tasks = emitter.emit("x", "p")
        results = await asyncio.gather(*tasks)
    assert seen == ["p"]
    assert results == [None]
    assert "boom" in caplog.text and "async boom" in caplog.text


async def test_wait_for_returns_the_next_payload_or_times_out() -> None:
    emitter = EventEmitter()
    asyncio.get_running_loop().call_soon(emitter.emit, "x", "hello")
    assert await emitter.wait_for("x", timeout=1) == "hello"
    assert emitter.listeners("x") == 0
    with pytest.raises(asyncio.TimeoutError):
        await emitter.wait_for("x", timeout=0.01)
    assert emitter.listeners("x") == 0


async def test_emit_then_runs_after_plain_handlers_at_once_and_after_async_ones() -> None:
    emitter = EventEmitter()
    order: list[str] = []
    emitter.on("x", lambda payload: order.append("plain"))
    emitter.emit_then("x", 1, lambda: order.append("then"))
    assert order == ["plain", "then"]

    release = asyncio.Event()

    async def slow(payload: object) -> None:
        await release.wait()
        order.append("async")

    emitter.on("y", slow)
    emitter.emit_then("y", 2, lambda: order.append("then-y"))
    await asyncio.sleep(0)
    assert order == ["plain", "then"]  # waiting for the async handler
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["plain", "then", "async", "then-y"]
