"""The WebSocket client (RFC 7118): connect, keep alive, recover.

A thin shell: which server to try and how long to wait come from
:mod:`websip.recovery`; this module only does the I/O. One SIP message travels in
one WebSocket message, as a text frame when it is valid UTF-8 (RFC 7118 5.1
allows both; text is what servers and browsers use) and binary otherwise.

Keep-alive (beyond JsSIP): WebSocket pings every ``keepalive_interval`` seconds
with a ``keepalive_timeout`` pong deadline, so a dead connection is noticed
within ``interval + timeout`` instead of at the next REGISTER. A server's RFC 5626
double-CRLF ping is answered with a single CRLF pong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol

from websip.recovery import ServerSelector, WeightedServer, recovery_delays

__all__ = ["ConnectionFailed", "TransportOptions", "WebSocketTransport"]

logger = logging.getLogger("websip.transport")

SIP_SUBPROTOCOL = Subprotocol("sip")
# RFC 5626 4.4.1: the keep-alive "ping" is CRLF CRLF, the "pong" a single CRLF.
CRLF_PING = "\r\n\r\n"
CRLF_PONG = "\r\n"


class ConnectionFailed(Exception):
    """A connection attempt failed; ``hint`` says what a person should check."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class TransportOptions:
    """What the WebSocket client is given (from ``node_websocket_options``)."""

    origin: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ssl: ssl.SSLContext | None = None
    proxy: str | None = None
    open_timeout: float = 10.0
    max_size: int | None = 1024 * 1024
    keepalive_interval: float | None = 30.0
    keepalive_timeout: float | None = 10.0
    user_agent: str | None = None


@dataclass
class _Server:
    ws_uri: str
    weight: int = 0


class WebSocketTransport:
    """Keeps one WebSocket to one of several servers, and recovers it when lost.

    Args:
        servers: objects with ``ws_uri`` and ``weight`` (the configuration's).
        on_data: called with each received SIP message (bytes).
        on_connecting / on_connected / on_disconnected: state callbacks, given the
            server URL (and, for ``on_disconnected``, the error or None).
        min_interval, max_interval: connection_recovery_{min,max}_interval.
    """

    def __init__(
        self,
        servers: Sequence[WeightedServer] | Sequence[str],
        *,
        on_data: Callable[[bytes], None],
        on_connecting: Callable[[str, int], None] | None = None,
        on_connected: Callable[[str], None] | None = None,
        on_disconnected: Callable[[str, BaseException | None], None] | None = None,
        options: TransportOptions | None = None,
        min_interval: float = 2.0,
        max_interval: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        normalized: list[WeightedServer] = [
            _Server(s) if isinstance(s, str) else s for s in servers
        ]
        self._rng = rng or random.Random()
        self._selector: ServerSelector[WeightedServer] = ServerSelector(normalized, self._rng)
        self._on_data = on_data
        self._on_connecting = on_connecting
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.options = options or TransportOptions()
        self._min_interval = min_interval
        self._max_interval = max_interval
        self._ws: ClientConnection | None = None
        self._server: WeightedServer | None = None
        self._outgoing: asyncio.Queue[str | bytes] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._connected_event = asyncio.Event()

    # -- public API ---------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._ws is not None

    @property
    def server_url(self) -> str | None:
        return self._server.ws_uri if self._server is not None else None

    def start(self) -> None:
        """Start connecting (in the background); recovers until ``close()``."""
        if self._runner is None or self._runner.done():
            self._stopping = False
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected_event.wait(), timeout)

    def send(self, data: bytes) -> bool:
        """Queue one SIP message; False when there is no connection right now."""
        if self._ws is None or self._outgoing is None:
            return False
        try:
            self._outgoing.put_nowait(data.decode("utf-8"))
        except UnicodeDecodeError:
            self._outgoing.put_nowait(data)
        return True

    async def close(self) -> None:
        """Close the connection and stop recovering."""
        self._stopping = True
        ws = self._ws
        if ws is not None:
            # Let queued messages (an un-REGISTER, BYEs) go out before closing.
            if self._outgoing is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._drain(), 2.0)
            await ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    def drop(self) -> None:
        """Abort the current connection as if the network failed (tests, keep-alive)."""
        if self._ws is not None:
            self._ws.transport.abort()

    # -- internals --------------------------------------------------------------

    async def _drain(self) -> None:
        assert self._outgoing is not None
        while not self._outgoing.empty():
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        delays = recovery_delays(self._min_interval, self._max_interval, self._rng)
        attempt = 0
        while not self._stopping:
            server = self._selector.choose()
            attempt += 1
            if self._on_connecting:
                self._on_connecting(server.ws_uri, attempt)
            try:
                ws = await self._open(server)
            except ConnectionFailed as exc:
                logger.warning("cannot connect to %s: %s", server.ws_uri, exc)
                self._selector.mark_failed(server)
                if self._on_disconnected:
                    self._on_disconnected(server.ws_uri, exc)
                if self._selector.all_failed or len(self._selector) == 1:
                    await asyncio.sleep(next(delays))
                continue
            attempt = 0
            delays = recovery_delays(self._min_interval, self._max_interval, self._rng)
            self._selector.mark_connected(server)
            error = await self._serve(server, ws)
            if self._stopping:
                break
            logger.warning("connection to %s lost: %s", server.ws_uri, error or "closed")
            await asyncio.sleep(next(delays))

    async def _open(self, server: WeightedServer) -> ClientConnection:
        opts = self.options
        secure = server.ws_uri.lower().startswith("wss:")
        kwargs: dict[str, Any] = {
            "subprotocols": [SIP_SUBPROTOCOL],
            "open_timeout": opts.open_timeout,
            "ping_interval": opts.keepalive_interval,
            "ping_timeout": opts.keepalive_timeout,
            "max_size": opts.max_size,
            "compression": None,
            "proxy": opts.proxy,
        }
        if opts.origin:
            kwargs["origin"] = opts.origin
        if opts.headers:
            kwargs["additional_headers"] = dict(opts.headers)
        if opts.user_agent:
            kwargs["user_agent_header"] = opts.user_agent
        if secure and opts.ssl is not None:
            kwargs["ssl"] = opts.ssl
        try:
            ws = await connect(server.ws_uri, **kwargs)
        except InvalidURI as exc:
            raise ConnectionFailed(f"invalid WebSocket URI: {exc}", "check ws_servers") from exc
        except ssl.SSLCertVerificationError as exc:
            raise ConnectionFailed(
                f"TLS certificate not trusted: {exc.verify_message}",
                "pass a TLS context that trusts the server's certificate",
            ) from exc
        except ssl.SSLError as exc:
            raise ConnectionFailed(f"TLS failure: {exc}", "check the wss:// server") from exc
        except InvalidHandshake as exc:
            raise ConnectionFailed(
                f"WebSocket handshake refused: {exc}",
                "is this a SIP WebSocket server (subprotocol 'sip')?",
            ) from exc
        except (TimeoutError, OSError) as exc:
            raise ConnectionFailed(
                f"cannot reach {server.ws_uri}: {exc or type(exc).__name__}",
                "is the server running and the address right?",
            ) from exc
        if ws.subprotocol != SIP_SUBPROTOCOL:
            # RFC 7118 4.1: the server must agree on "sip"; anything else is not SIP.
            await ws.close()
            raise ConnectionFailed(
                "server did not accept the 'sip' WebSocket subprotocol",
                "the URL may point at a plain WebSocket server",
            )
        return ws

    async def _serve(self, server: WeightedServer, ws: ClientConnection) -> BaseException | None:
        self._ws = ws
        self._server = server
        self._outgoing = asyncio.Queue()
        writer = asyncio.get_running_loop().create_task(self._write(ws, self._outgoing))
        self._connected_event.set()
        if self._on_connected:
            self._on_connected(server.ws_uri)
        error: BaseException | None = None
        try:
            async for message in ws:
                if message == CRLF_PING or message == CRLF_PING.encode():
                    await ws.send(CRLF_PONG)
                    continue
                if message in (CRLF_PONG, CRLF_PONG.encode()):
                    continue
                data = message.encode("utf-8") if isinstance(message, str) else message
                try:
                    self._on_data(data)
                except Exception:  # the UA must survive any bad input
                    logger.exception("error while handling a received message")
        except ConnectionClosed as exc:
            error = exc
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._ws = None
            self._outgoing = None
            self._connected_event.clear()
        if error is None and ws.close_code not in (None, 1000):
            error = ConnectionError(f"closed with code {ws.close_code}")
        if self._on_disconnected:
            self._on_disconnected(server.ws_uri, error)
        return error

    async def _write(self, ws: ClientConnection, queue: asyncio.Queue[str | bytes]) -> None:
        while True:
            data = await queue.get()
            try:
                await ws.send(data)
            except ConnectionClosed:
                return
            finally:
                queue.task_done()
