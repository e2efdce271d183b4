"""The WebSocket client (RFC 7118): connect, keep alive, recover.

A thin shell: which server to try and how long to wait come from
:mod:`websip.recovery`; this module only does the I/O.

- **Framing.** One SIP message travels in one WebSocket message (RFC 7118 5.1),
  as a text frame when it is valid UTF-8 (what servers and browsers use) and
  as a binary frame otherwise (RFC 7118 5.1: a body that is not UTF-8 needs one).
  Both kinds are accepted on receipt.
- **Subprotocol.** The client offers ``sip`` and refuses a server that does not
  select it (RFC 7118 4.1): a plain WebSocket server is not a SIP server, and
  talking SIP to it would only end in timeouts.
- **Server choice.** Highest weight first, random among equal weights; a server
  that failed is skipped until every server has failed (JsSIP's rule, in
  :class:`~websip.recovery.ServerSelector`). A failed attempt moves on to the
  next eligible server at once; only when every server has failed, and after a
  connection is lost, does the transport wait.
- **Recovery.** Waits come from :func:`~websip.recovery.recovery_delays`
  (exponential, full jitter, within ``min_interval`` .. ``max_interval``); each
  successful connection starts a fresh sequence, so the next loss waits the
  short delays again.
- **Keep-alive** (beyond JsSIP). Every ``keepalive_interval`` seconds a WebSocket
  ping goes out; when its pong is not back within ``keepalive_timeout`` the TCP
  connection is aborted at once (no closing handshake: the peer is presumed
  gone), so a dead connection is noticed within ``interval + timeout``. The
  websockets library's own keep-alive is not used because, after a missed
  pong, it waits ``close_timeout`` more for a closing handshake that a dead peer
  never completes. RFC 5626 CRLF pings are not sent: every WebSocket server must
  answer a WebSocket ping (RFC 6455 5.5.2) and the CRLF ping adds nothing over
  it on one hop. A server's CRLF CRLF ping is answered with a CRLF pong
  (RFC 5626 4.4.1), and a lone CRLF is ignored.
- **First connection.** :meth:`WebSocketTransport.wait_connected` returns once a
  connection is up, and raises :class:`ConnectionFailed` once every server has
  failed since the start (or since the last connection): that is how
  ``UA.start()`` tells "unreachable" from "still trying".
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
    ProxyError,
)
from websockets.frames import CloseCode
from websockets.protocol import State
from websockets.typing import Subprotocol

from websip.recovery import ServerSelector, WeightedServer, recovery_delays

from ._options import TransportOptions, transport_options_from_config

__all__ = [
    "ConnectionFailed",
    "ConnectionLost",
    "TransportOptions",
    "WebSocketTransport",
    "transport_options_from_config",
]

logger = logging.getLogger("websip.transport")

SIP_SUBPROTOCOL = Subprotocol("sip")
# RFC 5626 4.4.1: the keep-alive "ping" is CRLF CRLF, the "pong" a single CRLF.
CRLF_PING = "\r\n\r\n"
CRLF_PONG = "\r\n"
# How long close() lets queued messages (an un-REGISTER, BYEs) go out first.
_DRAIN_TIMEOUT = 2.0

DisconnectedCallback = Callable[[str, BaseException | None], None]


class ConnectionFailed(Exception):
    """A connection attempt failed.

    Attributes:
        hint: what a person should check, in one sentence.
        server: the WebSocket URI tried (None when several servers are summed up).
        code: always None (no WebSocket close code: there was no connection);
            present so a disconnection cause can be read the same way.
        reason: the message.
    """

    code: int | None = None

    def __init__(self, message: str, hint: str = "", *, server: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.server = server
        self.reason = message


class ConnectionLost(Exception):
    """An established connection ended without :meth:`WebSocketTransport.close`.

    Attributes:
        server: the WebSocket URI.
        code: the close code the server sent (1000 normal, 1001 going away,
            ...); 1006 when the connection ended without a closing handshake
            (network failure, :meth:`~WebSocketTransport.drop`, keep-alive
            timeout); 1005 when the server's close frame had no code.
        reason: the server's close reason, else what websip observed
            (``"keepalive timeout"``, ``"dropped"``); may be empty.
    """

    def __init__(self, server: str, code: int, reason: str) -> None:
        text = f"connection to {server} lost (code {code}"
        text += f": {reason})" if reason else ")"
        super().__init__(text)
        self.server = server
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class _Server:
    ws_uri: str
    weight: int = 0


class WebSocketTransport:
    """Keeps one WebSocket to one of several servers, and recovers it when lost.

    Callbacks are plain functions called from the event loop; an exception in
    one is logged and does not stop the transport.

    Args:
        servers: objects with ``ws_uri`` and ``weight`` (the configuration's
            :class:`~websip.config.WsServer`), or plain URIs (weight 0).
        on_data: called with each received SIP message (bytes), one call per
            WebSocket message; keep-alive CRLFs are not passed on.
        on_connecting: ``(server_uri, attempts)`` before each attempt;
            ``attempts`` counts from 1 since the start or the last connection.
        on_connected: ``(server_uri)`` once the handshake agreed on ``sip``.
        on_disconnected: ``(server_uri, cause)`` after each failed attempt
            (cause: :class:`ConnectionFailed`), when an established connection
            ends on its own (:class:`ConnectionLost`, with ``code`` and
            ``reason``), and once from :meth:`close` when connected (cause None).
        options: :class:`TransportOptions` (TLS, headers, timeouts, keep-alive).
        min_interval, max_interval: bounds of the recovery wait, seconds
            (``connection_recovery_{min,max}_interval``).
        rng: the randomness for server choice and jitter (tests seed it).
    """

    def __init__(
        self,
        servers: Sequence[WeightedServer] | Sequence[str],
        *,
        on_data: Callable[[bytes], None],
        on_connecting: Callable[[str, int], None] | None = None,
        on_connected: Callable[[str], None] | None = None,
        on_disconnected: DisconnectedCallback | None = None,
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
        # Checked here so that a bad pair fails at construction, not in the background.
        recovery_delays(min_interval, max_interval)
        self._min_interval = min_interval
        self._max_interval = max_interval
        self._on_data = on_data
        self._on_connecting = on_connecting
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.options = options or TransportOptions()
        self._ws: ClientConnection | None = None
        self._server: WeightedServer | None = None
        self._outgoing: asyncio.Queue[str | bytes] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        # Failures since the start or the last connection, by server position;
        # once it covers every server, wait_connected() raises.
        self._failures: dict[int, ConnectionFailed] = {}
        self._all_failed: ConnectionFailed | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._lost_reason: str | None = None

    # -- public API ---------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """True while a connection is open (``send()`` will take a message)."""
        return self._ws is not None and self._ws.state is State.OPEN

    @property
    def server_url(self) -> str | None:
        """The URI of the server connected to, or None."""
        return self._server.ws_uri if self._server is not None else None

    def start(self) -> None:
        """Start connecting in the background; recovers until :meth:`close`.

        Calling it while running does nothing. Needs a running event loop.
        """
        if self._runner is not None and not self._runner.done():
            return
        self._stopping = False
        self._failures.clear()
        self._all_failed = None
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until a connection is up.

        The transport keeps trying in the background whatever happens here.

        Raises:
            ConnectionFailed: every server has failed at least once since
                :meth:`start` (or since the last connection) and none is up:
                the failure of the only server, or for several servers one that
                lists each failure, with the hint of the last. Also raised when
                the transport is not running (not started, or closed meanwhile).
            TimeoutError: ``timeout`` seconds went by first.
        """
        if self.is_connected:
            return
        if self._runner is None or self._runner.done() or self._stopping:
            raise ConnectionFailed("the WebSocket transport is not running", "call start() first")
        if self._all_failed is not None:
            raise self._all_failed
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def send(self, data: bytes) -> bool:
        """Queue one SIP message for one WebSocket message.

        Returns False, sending nothing, when no connection is open; the caller
        then fails the request (JsSIP's CONNECTION_ERROR) instead of waiting
        for a timeout.
        """
        if not self.is_connected or self._outgoing is None:
            return False
        try:
            self._outgoing.put_nowait(data.decode("utf-8"))
        except UnicodeDecodeError:
            self._outgoing.put_nowait(data)
        return True

    async def close(self) -> None:
        """Close the connection cleanly (code 1000) and stop recovering.

        Messages already given to :meth:`send` go out first (for up to 2 s).
        Reports ``on_disconnected(server, None)`` when a connection was open.
        A pending :meth:`wait_connected` raises :class:`ConnectionFailed`.
        """
        self._stopping = True
        self._wake(ConnectionFailed("the WebSocket transport was closed", "", server=None))
        ws, queue = self._ws, self._outgoing
        if ws is not None and queue is not None:
            drained = asyncio.ensure_future(queue.join())
            closed = asyncio.ensure_future(ws.wait_closed())
            await asyncio.wait(
                [drained, closed], timeout=_DRAIN_TIMEOUT, return_when="FIRST_COMPLETED"
            )
            drained.cancel()
            closed.cancel()
            await asyncio.wait([drained, closed])
            # Bounded by options.close_timeout, after which websockets aborts.
            await ws.close(CloseCode.NORMAL_CLOSURE)
        runner, self._runner = self._runner, None
        if runner is not None and ws is not None:
            # The connection is closed: the runner reports it and ends by itself.
            await asyncio.wait([runner], timeout=_DRAIN_TIMEOUT)
        if runner is not None and not runner.done():
            runner.cancel()
            # asyncio.wait: our own cancellation still propagates, the runner's does not.
            await asyncio.wait([runner])

    def drop(self) -> None:
        """Abort the connection as if the network failed: no closing handshake.

        Recovery then proceeds as after a real loss (``ConnectionLost`` with
        code 1006 and reason ``"dropped"``).
        """
        if self._ws is not None:
            self._lost_reason = self._lost_reason or "dropped"
            self._ws.transport.abort()

    # -- internals: the connection loop ---------------------------------------

    async def _run(self) -> None:
        delays = recovery_delays(self._min_interval, self._max_interval, self._rng)
        attempts = 0
        while not self._stopping:
            server = self._selector.choose()
            attempts += 1
            self._call(self._on_connecting, server.ws_uri, attempts)
            try:
                ws = await self._open(server)
            except ConnectionFailed as exc:
                logger.warning("cannot connect to %s: %s", server.ws_uri, exc)
                self._selector.mark_failed(server)
                self._note_failure(server, exc)
                self._call(self._on_disconnected, server.ws_uri, exc)
                if self._selector.all_failed:
                    # Every server failed this round: back off before the next.
                    await asyncio.sleep(next(delays))
                continue
            self._selector.mark_connected(server)
            await self._serve(server, ws)
            # A successful connection resets the back-off.
            delays = recovery_delays(self._min_interval, self._max_interval, self._rng)
            attempts = 0
            if not self._stopping:
                await asyncio.sleep(next(delays))

    async def _open(self, server: WeightedServer) -> ClientConnection:
        opts = self.options
        uri = server.ws_uri
        kwargs: dict[str, Any] = {
            "subprotocols": [SIP_SUBPROTOCOL],
            "open_timeout": opts.open_timeout,
            "close_timeout": opts.close_timeout,
            # websip runs its own keep-alive (see the module docstring).
            "ping_interval": None,
            "max_size": (
                opts.max_size
                if opts.max_frame_size is None
                else (opts.max_size, opts.max_frame_size)
            ),
            "compression": None,
            # Passed explicitly: websockets would otherwise use the environment's proxy.
            "proxy": opts.proxy,
            "origin": opts.origin,
            "additional_headers": opts.headers or None,
            "user_agent_header": None if _has_user_agent(opts.headers) else opts.user_agent,
        }
        if uri[:4].lower() == "wss:":
            if opts.ssl is not None:
                kwargs["ssl"] = opts.ssl
            if opts.server_hostname is not None:
                kwargs["server_hostname"] = opts.server_hostname
        if opts.local_address is not None:
            kwargs["local_addr"] = (opts.local_address, 0)
        try:
            ws = await connect(uri, **kwargs)
        except InvalidURI as exc:
            raise ConnectionFailed(
                f"invalid WebSocket URI: {exc}", "check ws_servers", server=uri
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise ConnectionFailed(
                f"TLS certificate of {uri} not accepted: {exc.verify_message}",
                "trust its CA with node_websocket_options requestOptions.ca (or pass an "
                "ssl.SSLContext); rejectUnauthorized=False turns verification off",
                server=uri,
            ) from exc
        except ssl.SSLError as exc:
            raise ConnectionFailed(
                f"TLS failure with {uri}: {exc}",
                "does the server speak TLS on that port (wss://), or plain ws://?",
                server=uri,
            ) from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ConnectionFailed(
                f"{uri} refused the WebSocket handshake with HTTP {status}",
                _status_hint(status),
                server=uri,
            ) from exc
        except (InvalidProxy, ProxyError) as exc:
            raise ConnectionFailed(
                f"proxy failure reaching {uri}: {exc}",
                "check requestOptions.proxy",
                server=uri,
            ) from exc
        except InvalidHandshake as exc:
            raise ConnectionFailed(
                f"WebSocket handshake with {uri} failed: {exc}",
                "is this a SIP WebSocket server (subprotocol 'sip')?",
                server=uri,
            ) from exc
        except (TimeoutError, OSError) as exc:
            raise ConnectionFailed(
                f"cannot reach {uri}: {str(exc) or type(exc).__name__}",
                "is the server running and the address and port right?",
                server=uri,
            ) from exc
        except Exception as exc:  # anything else the stack raises is a failed attempt too
            raise ConnectionFailed(
                f"cannot connect to {uri}: {type(exc).__name__}: {exc}", "", server=uri
            ) from exc
        if ws.subprotocol != SIP_SUBPROTOCOL:
            # RFC 7118 4.1: without "sip" agreed this is not a SIP WebSocket server.
            await ws.close(CloseCode.PROTOCOL_ERROR, "the sip subprotocol is required")
            raise ConnectionFailed(
                f"{uri} did not accept the 'sip' WebSocket subprotocol (RFC 7118)",
                "the URL may point at a plain WebSocket server, or at the wrong path",
                server=uri,
            )
        return ws

    async def _serve(self, server: WeightedServer, ws: ClientConnection) -> None:
        """Pump one connection until it ends; report how it ended."""
        queue: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._ws, self._server, self._outgoing = ws, server, queue
        self._lost_reason = None
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self._write(ws, queue))]
        interval = self.options.keepalive_interval
        if interval:
            helpers.append(
                loop.create_task(self._keepalive(ws, interval, self.options.keepalive_timeout))
            )
        self._failures.clear()
        self._all_failed = None
        self._wake(None)
        try:
            self._call(self._on_connected, server.ws_uri)
            async for message in ws:
                self._receive(message, queue)
        except ConnectionClosed:
            pass
        finally:
            # Nothing awaited here: close() may cancel this task at any point,
            # and the bookkeeping and the callback below must still happen.
            for task in helpers:
                task.cancel()
            _discard(queue)
            self._ws, self._server, self._outgoing = None, None, None
            cause: ConnectionLost | None = None
            if not self._stopping:
                cause = self._lost_cause(server, ws)
                logger.warning("%s", cause)
            self._call(self._on_disconnected, server.ws_uri, cause)

    def _lost_cause(self, server: WeightedServer, ws: ClientConnection) -> ConnectionLost:
        if ws.state is not State.CLOSED:
            # Only reached through a bug: make sure the socket does not linger.
            ws.transport.abort()
            return ConnectionLost(server.ws_uri, CloseCode.ABNORMAL_CLOSURE, "internal error")
        closed = ws.close_exc
        # The server's close frame when it sent one; else ours when websockets
        # failed the connection (1009 message too big, 1002, 1007); else 1006.
        frame = closed.rcvd or closed.sent
        if frame is None or self._lost_reason is not None:
            return ConnectionLost(
                server.ws_uri, CloseCode.ABNORMAL_CLOSURE, self._lost_reason or ""
            )
        return ConnectionLost(server.ws_uri, int(frame.code), frame.reason)

    def _receive(self, message: str | bytes, queue: asyncio.Queue[str | bytes]) -> None:
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        if data == b"\r\n\r\n":
            # RFC 5626 4.4.1: answer a CRLF CRLF ping with a CRLF pong.
            queue.put_nowait(CRLF_PONG)
            return
        if not data.strip(b"\r\n"):
            return  # a CRLF pong or stray keep-alive bytes: not a SIP message
        try:
            self._on_data(data)
        except Exception:  # the transport must survive a bug in the handler
            logger.exception("error while handling a received message")

    async def _write(self, ws: ClientConnection, queue: asyncio.Queue[str | bytes]) -> None:
        while True:
            data = await queue.get()
            try:
                await ws.send(data)
            except ConnectionClosed:
                queue.task_done()
                _discard(queue)
                return
            queue.task_done()

    async def _keepalive(
        self, ws: ClientConnection, interval: float, timeout: float | None
    ) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                # The deadline covers sending too: a peer that reads nothing
                # eventually stops the ping from being written at all.
                async with asyncio.timeout(timeout):
                    pong = await ws.ping()
                    await pong
            except TimeoutError:
                logger.warning(
                    "no pong from %s within %ss: connection presumed dead",
                    self.server_url,
                    timeout,
                )
                self._lost_reason = "keepalive timeout"
                ws.transport.abort()
                return
            except ConnectionClosed:
                return

    # -- internals: bookkeeping -------------------------------------------------

    def _note_failure(self, server: WeightedServer, exc: ConnectionFailed) -> None:
        index = next(i for i, s in enumerate(self._selector) if s is server)
        self._failures[index] = exc
        if len(self._failures) < len(self._selector):
            return
        if len(self._failures) == 1:
            self._all_failed = exc
        else:
            listed = "; ".join(str(self._failures[i]) for i in sorted(self._failures))
            self._all_failed = ConnectionFailed(
                f"no WebSocket server could be reached: {listed}", exc.hint
            )
            self._all_failed.__cause__ = exc
        self._wake(self._all_failed)

    def _wake(self, error: ConnectionFailed | None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    def _call(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("error in a transport callback")


def _discard(queue: asyncio.Queue[str | bytes]) -> None:
    """Empty ``queue``, so that a pending ``join()`` (in close()) returns."""
    while not queue.empty():
        queue.get_nowait()
        queue.task_done()


def _has_user_agent(headers: Mapping[str, str] | Sequence[tuple[str, str]]) -> bool:
    names = headers.keys() if isinstance(headers, Mapping) else (name for name, _ in headers)
    return any(name.lower() == "user-agent" for name in names)


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "the server refused this client: check origin and headers in node_websocket_options"
    if status == 404:
        return "check the path of the ws_servers URI"
    return "is this a SIP WebSocket server (subprotocol 'sip')?"
