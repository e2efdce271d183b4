"""Named events with plain or async handlers (the JsSIP ``ua.on(...)`` idiom).

A handler that returns an awaitable is run as a task; its exceptions are logged,
never raised into the protocol pump: one bad handler must not stop the UA from
answering the network.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["EventEmitter", "Handler"]

logger = logging.getLogger("websip.events")

Handler = Callable[[Any], Any]

_RUNNING_TASKS: set[asyncio.Task[Any]] = set()


class EventEmitter:
    """``on``/``off``/``once`` by event name; ``emit`` returns the async handlers' tasks."""

    # Slots: thousands of UAs share one process (see bench/README.md).
    __slots__ = (
        "_handlers",
        "_names",
        "_tasks",
    )

    def __init__(self, names: frozenset[str] | None = None) -> None:
        self._names = names
        self._handlers: dict[str, list[tuple[Handler, bool]]] = {}
        # Shared by every emitter: it only keeps handler tasks referenced until they end.
        self._tasks: set[asyncio.Task[Any]] = _RUNNING_TASKS

    def _check(self, name: str) -> None:
        if self._names is not None and name not in self._names:
            known = ", ".join(sorted(self._names))
            raise ValueError(f"unknown event {name!r}; known events: {known}")

    def on(self, name: str, handler: Handler) -> Handler:
        """Call ``handler(payload)`` on every ``name`` event; returns the handler
        (so ``on`` works as a decorator factory's body)."""
        self._check(name)
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {handler!r}")
        self._handlers.setdefault(name, []).append((handler, False))
        return handler

    def once(self, name: str, handler: Handler) -> Handler:
        """Like :meth:`on`, for the next ``name`` event only."""
        self._check(name)
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {handler!r}")
        self._handlers.setdefault(name, []).append((handler, True))
        return handler

    def off(self, name: str, handler: Handler | None = None) -> None:
        """Remove ``handler`` (every handler of ``name`` when None)."""
        self._check(name)
        if handler is None:
            self._handlers.pop(name, None)
            return
        entries = self._handlers.get(name, [])
        self._handlers[name] = [(h, once) for h, once in entries if h != handler]

    def listeners(self, name: str) -> int:
        """How many handlers ``name`` has."""
        return len(self._handlers.get(name, ()))

    def emit(self, name: str, payload: Any) -> list[asyncio.Task[Any]]:
        entries = self._handlers.get(name)
        if not entries:
            return []
        for _, once in entries:
            if once:
                self._handlers[name] = [(h, once) for h, once in entries if not once]
                break
        tasks: list[asyncio.Task[Any]] = []
        for handler, _ in list(entries):
            try:
                result = handler(payload)
            except Exception:
                logger.exception("%r handler %r raised", name, handler)
                continue
            # (None, what plain handlers return, is not awaitable: no ABC check.)
            if result is not None and inspect.isawaitable(result):
                task = asyncio.ensure_future(_guard(name, handler, result))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                tasks.append(task)
        return tasks

    def emit_then(self, name: str, payload: Any, then: Callable[[], object]) -> None:
        """Emit, then call ``then()`` once every handler is done: at once when all
        are plain functions, else when the async ones have ended. For requests a
        handler may answer, and that get a default answer when none did."""
        tasks = self.emit(name, payload)
        if not tasks:
            then()
            return

        async def after_handlers() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            then()

        task = asyncio.ensure_future(after_handlers())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_for(self, name: str, timeout: float | None = None) -> Any:
        """The payload of the next ``name`` event (asyncio.TimeoutError after ``timeout``)."""
        self._check(name)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def deliver(payload: Any) -> None:
            if not future.done():
                future.set_result(payload)

        self.once(name, deliver)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.off(name, deliver)


async def _guard(name: str, handler: Handler, awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("%r handler %r raised", name, handler)
        return None
