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
- **I/O.** Each connection is an :class:`asyncio.Protocol`. The opening
  handshake goes through the ``websockets`` package's sans-I/O
  :class:`~websockets.client.ClientProtocol` (redirects, proxies, TLS, headers);
  once it succeeds, websip's :class:`~websip.aio._framing.ClientFraming` (a few
  slots) reads and writes the frames. Writes go straight to the socket,
  received messages straight to ``on_data``, and keep-alive is a loop timer. An
  idle connection thus holds no task, queue, parser generator or handshake
  headers, which is what lets one process keep 10,000 UAs (see
  ``bench/README.md``). A task exists only while a connection is being opened.
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
import urllib.parse
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from websockets.asyncio.client import connect_http_proxy, connect_socks_proxy
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import (
    InvalidHandshake,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
    ProxyError,
    SecurityError,
)
from websockets.frames import CloseCode, Opcode
from websockets.protocol import SEND_EOF, Protocol, State
from websockets.proxy import get_proxy, parse_proxy
from websockets.typing import Origin, Subprotocol
from websockets.uri import WebSocketURI, parse_uri

from websip.recovery import ServerSelector, WeightedServer, recovery_delays

from ._framing import ClientFraming, Message
from ._options import TransportOptions, transport_options_from_config

__all__ = [
    "ConnectionFailed",
    "ConnectionLost",
    "TransportOptions",
    "WebSocketTransport",
    "transport_options_from_config",
]

logger = logging.getLogger("websip.transport")
# One logger for every connection (websockets would look it up per connection).
_WS_LOGGER = logging.getLogger("websockets.client")

SIP_SUBPROTOCOL = Subprotocol("sip")
_SUBPROTOCOLS = [SIP_SUBPROTOCOL]
# RFC 5626 4.4.1: the keep-alive "ping" is CRLF CRLF, the "pong" a single CRLF.
CRLF_PING = b"\r\n\r\n"
CRLF_PONG = b"\r\n"
# HTTP redirects followed while opening, as the websockets client does.
_MAX_REDIRECTS = 10
_REDIRECT_STATUSES = frozenset({300, 301, 302, 303, 307, 308})
# Randomness for server choice and jitter when none is given: one for all transports.
_SHARED_RANDOM = random.SystemRandom()
_CONNECTION_ID = uuid.uuid4()
# Shared empty stand-ins, replaced (never mutated) on the first write: an idle
# connection keeps no list or dict of its own for what it rarely holds.
_NO_MESSAGES: list[Message] = []
_NO_FAILURES: dict[int, ConnectionFailed] = {}

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


class _HandshakeOnly(Protocol):
    """Ends :meth:`ClientProtocol.parse` right after the handshake (see below)."""

    def parse(self) -> Generator[None]:
        return
        yield  # a generator that ends at once


class _ClientProtocol(ClientProtocol, _HandshakeOnly):
    """websockets' client protocol for the opening handshake only.

    ``ClientProtocol.parse`` parses the handshake response, then would run the
    frame parser from within the same generator, whose frame keeps the response
    and its headers alive for the life of the connection. Here its
    ``super().parse()`` resolves to :class:`_HandshakeOnly`, so that generator
    ends after the handshake; the bytes that follow stay in ``self.reader`` for
    the :class:`~websip.aio._framing.ClientFraming` that replaces this object.
    """

    def __init__(self, uri: WebSocketURI, **kwargs: Any) -> None:
        super().__init__(uri, **kwargs)
        # websockets gives each connection a UUID for its own log lines; they
        # all go to one logger here, and 10,000 UUIDs are 2 MB.
        self.id = _CONNECTION_ID

    def parse(self) -> Generator[None]:
        yield from ClientProtocol.parse(self)
        while True:
            yield  # anything after the response is left in self.reader


class _Connection(asyncio.Protocol):
    """One WebSocket connection: asyncio's socket callbacks around sans-I/O parts.

    Everything happens in the callbacks. Until the server's handshake response,
    bytes go through websockets' :class:`~websockets.client.ClientProtocol`;
    from then on through a :class:`~websip.aio._framing.ClientFraming`, whose
    messages go to the transport (``on_data``) and whose output goes straight
    back to the socket. While the handshake runs, :attr:`opened` tells the
    opening coroutine how it ended; after it, nothing is awaited.
    """

    __slots__ = (
        "_close_timer",
        "_ping_timer",
        "_pong_timer",
        "_waiting_for_pong",
        "accepted",
        "closed",
        "early",
        "gone",
        "lost_reason",
        "opened",
        "owner",
        "protocol",
        "subprotocol",
        "transport",
        "ws",
    )

    def __init__(self, owner: WebSocketTransport, protocol: ClientProtocol) -> None:
        self.owner = owner
        # The opening handshake; None once it succeeded (``ws`` takes over).
        self.protocol: ClientProtocol | None = protocol
        self.ws: ClientFraming | None = None
        self.subprotocol: str | None = None
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        # Set when the handshake ends (a response, or the connection lost first).
        self.opened: asyncio.Future[None] | None = loop.create_future()
        # Messages that came with the handshake response, delivered on accept().
        self.early: list[Message] = _NO_MESSAGES  # replaced, never appended to
        self.accepted = False
        # connection_lost() came (possibly before accept()).
        self.gone = False
        # Made on demand by whoever waits for the end (close(), a refused handshake).
        self.closed: asyncio.Future[None] | None = None
        self.lost_reason: str | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._waiting_for_pong = False

    @property
    def state(self) -> State:
        """CONNECTING during the handshake, then OPEN, CLOSING, CLOSED."""
        ws = self.ws
        if ws is not None:
            return ws.state
        protocol = self.protocol
        return protocol.state if protocol is not None else State.CLOSED

    # -- asyncio.Protocol ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        if ws is None:
            self._handshake_data(data)
            return
        messages = ws.receive_data(data)
        self.flush()  # a pong or a close frame, if any
        if not messages:
            return
        if self.accepted:
            self._messages(messages)
        else:
            self.early = [*self.early, *messages]

    def _handshake_data(self, data: bytes) -> None:
        protocol = self.protocol
        if protocol is None:
            return
        protocol.receive_data(data)
        self.flush()
        events = protocol.events_received()
        if not events:
            return
        opened = self.opened
        if protocol.handshake_exc is not None:
            if opened is not None and not opened.done():
                opened.set_exception(protocol.handshake_exc)
            return
        # The first event of a client is the handshake response: the
        # connection is open, and from here on ClientFraming's.
        rest = bytes(protocol.reader.buffer)
        self.subprotocol = protocol.subprotocol
        options = self.owner.options
        self.ws = ClientFraming(max_size=options.max_size, max_frame_size=options.max_frame_size)
        self.protocol = None
        if opened is not None and not opened.done():
            opened.set_result(None)
        if rest:
            self.data_received(rest)

    def eof_received(self) -> bool | None:
        if self.ws is not None:
            self.ws.receive_eof()
        elif self.protocol is not None:
            self.protocol.receive_eof()
        return None  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        protocol = self.protocol
        ws = self.ws
        if ws is not None:
            ws.receive_eof()  # idempotent; the state becomes CLOSED
            ws.data_to_send()  # nowhere to write any more
        elif protocol is not None:
            protocol.receive_eof()
            protocol.data_to_send()
        for timer in (self._ping_timer, self._pong_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._pong_timer = self._close_timer = None
        opened = self.opened
        if opened is not None and not opened.done():
            handshake_exc = protocol.handshake_exc if protocol is not None else None
            error = handshake_exc or exc or ConnectionError("connection closed")
            opened.set_exception(error)
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)
        self.gone = True
        if self.accepted:
            self.owner._lost(self)

    # -- used by the transport ----------------------------------------------

    def accept(self, keepalive_interval: float | None) -> None:
        """The owner took the connection: start keep-alive, deliver early messages."""
        self.accepted = True
        self.opened = None
        if keepalive_interval and not self.gone:
            self._ping_timer = asyncio.get_running_loop().call_later(keepalive_interval, self._ping)
        early, self.early = self.early, _NO_MESSAGES
        if early:
            self._messages(early)
        if self.gone:
            # Lost between the handshake and now: report it like any loss.
            self.owner._lost(self)

    def send(self, data: bytes) -> None:
        """One SIP message, one WebSocket message (RFC 7118 5.1); only while open."""
        ws = self.ws
        transport = self.transport
        if ws is None or transport is None:
            return
        if data.isascii():
            text = True
        else:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                text = False
            else:
                text = True
        transport.write(ws.frame_message(data, text))

    def begin_close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake (bounded by ``close_timeout``)."""
        ws = self.ws
        if ws is not None and ws.state is State.OPEN:
            ws.send_close(code, reason)
            self.flush()

    def wait_closed(self) -> asyncio.Future[None]:
        if self.closed is None:
            self.closed = asyncio.get_running_loop().create_future()
            if self.transport is None or self.state is State.CLOSED:
                self.closed.set_result(None)
        return self.closed

    def abort(self, reason: str | None) -> None:
        """Drop the TCP connection now: no closing handshake (the peer is presumed gone)."""
        self.lost_reason = self.lost_reason or reason
        if self.transport is not None:
            self.transport.abort()

    def flush(self) -> None:
        transport = self.transport
        source: ClientFraming | ClientProtocol | None = self.ws or self.protocol
        if source is None:
            return
        for data in source.data_to_send():
            if transport is None:
                continue
            if data is SEND_EOF or not data:
                if transport.can_write_eof() and not transport.is_closing():
                    transport.write_eof()
            else:
                transport.write(data)
        if self._close_timer is None and transport is not None and source.close_expected():
            # RFC 6455 7.1.1: the server closes TCP first; a client that waits
            # for that must still not wait forever.
            timeout = self.owner.options.close_timeout
            if timeout is not None:
                self._close_timer = asyncio.get_running_loop().call_later(timeout, transport.abort)

    # -- internals ------------------------------------------------------------

    def _messages(self, messages: list[Message]) -> None:
        for opcode, payload in messages:
            if opcode is Opcode.PONG:
                self._pong()
            else:
                self._deliver(payload, opcode is Opcode.TEXT)
            if self.state is not State.OPEN:
                return

    def _deliver(self, data: bytes, text: bool) -> None:
        if text and not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                # RFC 6455 8.1: invalid UTF-8 in a text message fails the connection.
                if self.ws is not None:
                    self.ws.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                self.flush()
                return
        self.owner._receive(self, data)

    def _ping(self) -> None:
        self._ping_timer = None
        ws = self.ws
        if ws is None or ws.state is not State.OPEN:
            return
        ws.send_ping(b"")
        self.flush()
        self._waiting_for_pong = True
        timeout = self.owner.options.keepalive_timeout
        if timeout is not None:
            self._pong_timer = asyncio.get_running_loop().call_later(timeout, self._no_pong)

    def _pong(self) -> None:
        if not self._waiting_for_pong:
            return  # unsolicited (RFC 6455 5.5.3): no answer expected
        self._waiting_for_pong = False
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None
        interval = self.owner.options.keepalive_interval
        if interval:
            self._ping_timer = asyncio.get_running_loop().call_later(interval, self._ping)

    def _no_pong(self) -> None:
        self._pong_timer = None
        logger.warning(
            "no pong from %s within %ss: connection presumed dead",
            self.owner.server_url,
            self.owner.options.keepalive_timeout,
        )
        self.abort("keepalive timeout")


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

    # Thousands of UAs in one process each hold one of these: no __dict__.
    __slots__ = (
        "_all_failed",
        "_attempts",
        "_conn",
        "_delays",
        "_failures",
        "_max_interval",
        "_min_interval",
        "_on_connected",
        "_on_connecting",
        "_on_data",
        "_on_disconnected",
        "_opening",
        "_retry",
        "_rng",
        "_running",
        "_selector",
        "_server",
        "_servers",
        "_waiters",
        "options",
    )

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
        self._servers: tuple[WeightedServer, ...] = tuple(
            _Server(s) if isinstance(s, str) else s for s in servers
        )
        self._rng = rng or _SHARED_RANDOM
        # Made for each round of attempts, dropped once connected (it then
        # remembers nothing: every server is eligible again).
        self._selector: ServerSelector[WeightedServer] | None = ServerSelector(
            self._servers, self._rng
        )
        # Checked here so that a bad pair fails at construction, not in the background.
        recovery_delays(min_interval, max_interval)
        self._min_interval = min_interval
        self._max_interval = max_interval
        self._on_data = on_data
        self._on_connecting = on_connecting
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.options = options or TransportOptions()
        self._conn: _Connection | None = None
        self._server: WeightedServer | None = None
        self._running = False
        # The attempt being opened (the only task), or the timer of the next one.
        self._opening: asyncio.Task[None] | None = None
        self._retry: asyncio.Handle | None = None
        self._attempts = 0
        # The back-off; made at the first wait, dropped on each connection.
        self._delays: Any = None
        # Failures since the start or the last connection, by server position;
        # once it covers every server, wait_connected() raises.
        self._failures: dict[int, ConnectionFailed] = _NO_FAILURES  # replaced on the first
        self._all_failed: ConnectionFailed | None = None
        self._waiters: list[asyncio.Future[None]] | None = None

    # -- public API ---------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """True while a connection is open (``send()`` will take a message)."""
        conn = self._conn
        return conn is not None and conn.state is State.OPEN

    @property
    def server_url(self) -> str | None:
        """The URI of the server connected to, or None."""
        return self._server.ws_uri if self._server is not None else None

    def start(self) -> None:
        """Start connecting in the background; recovers until :meth:`close`.

        Calling it while running does nothing. Needs a running event loop.
        """
        if self._running:
            return
        asyncio.get_running_loop()  # fail here, not in a callback
        self._running = True
        self._failures = _NO_FAILURES
        self._all_failed = None
        self._attempts = 0
        self._delays = None
        self._schedule(0)

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
        if not self._running:
            raise ConnectionFailed("the WebSocket transport is not running", "call start() first")
        if self._all_failed is not None:
            raise self._all_failed
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)

    def send(self, data: bytes) -> bool:
        """Write one SIP message as one WebSocket message.

        Returns False, sending nothing, when no connection is open; the caller
        then fails the request (JsSIP's CONNECTION_ERROR) instead of waiting
        for a timeout.
        """
        conn = self._conn
        if conn is None or conn.state is not State.OPEN:
            return False
        conn.send(data)
        return True

    async def close(self) -> None:
        """Close the connection cleanly (code 1000) and stop recovering.

        Messages already given to :meth:`send` go out first: they are ahead
        of the close frame. The closing handshake is bounded by
        ``options.close_timeout``, after which the connection is aborted.
        Reports ``on_disconnected(server, None)`` when a connection was open.
        A pending :meth:`wait_connected` raises :class:`ConnectionFailed`.
        """
        self._running = False
        self._wake(ConnectionFailed("the WebSocket transport was closed", "", server=None))
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        opening, self._opening = self._opening, None
        if opening is not None and not opening.done():
            opening.cancel()
            # asyncio.wait: our own cancellation still propagates, the attempt's does not.
            await asyncio.wait([opening])
        conn = self._conn
        if conn is not None:
            closed = conn.wait_closed()
            # flush() arms the close timer, which aborts a server that never answers.
            conn.begin_close(CloseCode.NORMAL_CLOSURE)
            await asyncio.shield(closed)

    def drop(self) -> None:
        """Abort the connection as if the network failed: no closing handshake.

        Recovery then proceeds as after a real loss (``ConnectionLost`` with
        code 1006 and reason ``"dropped"``).
        """
        if self._conn is not None:
            self._conn.abort("dropped")

    # -- internals: attempts -------------------------------------------------

    def _schedule(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if delay <= 0:
            self._retry = loop.call_soon(self._attempt)
        else:
            self._retry = loop.call_later(delay, self._attempt)

    def _next_delay(self) -> float:
        if self._delays is None:
            self._delays = recovery_delays(self._min_interval, self._max_interval, self._rng)
        delay: float = next(self._delays)
        return delay

    def _attempt(self) -> None:
        self._retry = None
        if not self._running:
            return
        if self._selector is None:
            self._selector = ServerSelector(self._servers, self._rng)
        server = self._selector.choose()
        self._attempts += 1
        self._call(self._on_connecting, server.ws_uri, self._attempts)
        if not self._running:
            return  # closed by the callback
        self._opening = asyncio.get_running_loop().create_task(self._try(server))

    async def _try(self, server: WeightedServer) -> None:
        try:
            conn = await self._open(server)
        except ConnectionFailed as exc:
            self._opening = None
            logger.warning("cannot connect to %s: %s", server.ws_uri, exc)
            if self._selector is None:
                self._selector = ServerSelector(self._servers, self._rng)
            self._selector.mark_failed(server)
            self._note_failure(server, exc)
            self._call(self._on_disconnected, server.ws_uri, exc)
            if self._running and self._retry is None and self._opening is None:
                # The next server at once; when every server failed, back off first.
                all_failed = self._selector is not None and self._selector.all_failed
                self._schedule(self._next_delay() if all_failed else 0)
            return
        self._opening = None
        if not self._running:
            conn.abort(None)
            return
        self._selector = None  # mark_connected(): every server eligible again
        # A successful connection resets the back-off.
        self._delays = None
        self._attempts = 0
        self._conn, self._server = conn, server
        self._failures = _NO_FAILURES
        self._all_failed = None
        self._wake(None)
        self._call(self._on_connected, server.ws_uri)
        if self._conn is conn:
            conn.accept(self.options.keepalive_interval)

    def _lost(self, conn: _Connection) -> None:
        """An accepted connection ended (called from its ``connection_lost``)."""
        if self._conn is not conn:
            return
        server = self._server
        assert server is not None
        self._conn, self._server = None, None
        cause: ConnectionLost | None = None
        if self._running:
            cause = self._lost_cause(server, conn)
            logger.warning("%s", cause)
        self._call(self._on_disconnected, server.ws_uri, cause)
        if self._running and self._retry is None and self._opening is None:
            self._schedule(self._next_delay())

    async def _open(self, server: WeightedServer) -> _Connection:
        uri = server.ws_uri
        try:
            async with asyncio.timeout(self.options.open_timeout):
                return await self._handshake(uri)
        except ConnectionFailed:
            raise
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
        except TimeoutError as exc:
            raise ConnectionFailed(
                f"cannot reach {uri}: {str(exc) or 'timed out during opening handshake'}",
                "is the server running and the address and port right?",
                server=uri,
            ) from exc
        except OSError as exc:
            raise ConnectionFailed(
                f"cannot reach {uri}: {str(exc) or type(exc).__name__}",
                "is the server running and the address and port right?",
                server=uri,
            ) from exc
        except Exception as exc:  # anything else the stack raises is a failed attempt too
            raise ConnectionFailed(
                f"cannot connect to {uri}: {type(exc).__name__}: {exc}", "", server=uri
            ) from exc

    async def _handshake(self, uri: str) -> _Connection:
        """TCP (TLS, proxy), then the HTTP upgrade; follows redirects like websockets."""
        opts = self.options
        ws_uri = _parse_uri(uri)
        headers: Headers | None = Headers(opts.headers) if opts.headers else None
        for _ in range(_MAX_REDIRECTS):
            conn = _Connection(
                self,
                _ClientProtocol(
                    ws_uri,
                    origin=Origin(opts.origin) if opts.origin is not None else None,
                    subprotocols=_SUBPROTOCOLS,
                    max_size=(
                        opts.max_size
                        if opts.max_frame_size is None
                        else (opts.max_size, opts.max_frame_size)
                    ),
                    logger=_WS_LOGGER,
                ),
            )
            try:
                await self._connect_tcp(conn, ws_uri)
                assert conn.transport is not None and conn.opened is not None
                assert conn.protocol is not None  # still in the handshake
                request = conn.protocol.connect()
                if headers is not None:
                    request.headers.update(headers)
                if opts.user_agent is not None and not _has_user_agent(opts.headers):
                    request.headers.setdefault("User-Agent", opts.user_agent)
                conn.protocol.send_request(request)
                del request  # not kept: an idle connection holds no headers
                conn.flush()
                await conn.opened
            except InvalidStatus as exc:
                conn.abort(None)
                target = _redirect(exc, ws_uri)
                if target is None:
                    raise
                if ws_uri.secure and not target.secure:
                    raise SecurityError("cannot follow a redirect from wss:// to ws://") from exc
                if headers is not None and (target.host, target.port) != (
                    ws_uri.host,
                    ws_uri.port,
                ):
                    # Credentials stay with their origin (as websockets does).
                    headers = Headers(
                        (name, value)
                        for name, value in headers.raw_items()
                        if name.lower() not in ("authorization", "cookie", "proxy-authorization")
                    )
                ws_uri = target
                continue
            except BaseException:
                conn.abort(None)
                raise
            if conn.subprotocol != SIP_SUBPROTOCOL:
                # RFC 7118 4.1: without "sip" agreed this is not a SIP WebSocket server.
                closed = conn.wait_closed()
                conn.begin_close(CloseCode.PROTOCOL_ERROR, "the sip subprotocol is required")
                await closed
                raise ConnectionFailed(
                    f"{uri} did not accept the 'sip' WebSocket subprotocol (RFC 7118)",
                    "the URL may point at a plain WebSocket server, or at the wrong path",
                    server=uri,
                )
            return conn
        raise SecurityError(f"more than {_MAX_REDIRECTS} redirects")

    async def _connect_tcp(self, conn: _Connection, ws_uri: WebSocketURI) -> None:
        opts = self.options
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = {}
        if ws_uri.secure:
            kwargs["ssl"] = opts.ssl if opts.ssl is not None else True
            kwargs["server_hostname"] = opts.server_hostname or ws_uri.host
        local_addr = (opts.local_address, 0) if opts.local_address is not None else None
        # Explicit only: True means "from the environment", None never looks there.
        proxy = get_proxy(ws_uri) if opts.proxy is True else opts.proxy
        if proxy is None:
            await loop.create_connection(
                lambda: conn, ws_uri.host, ws_uri.port, local_addr=local_addr, **kwargs
            )
            return
        parsed = parse_proxy(proxy)
        if parsed.scheme[:5] == "socks":
            sock = await connect_socks_proxy(parsed, ws_uri, local_addr=local_addr)
            await loop.create_connection(lambda: conn, sock=sock, **kwargs)
            return
        proxy_kwargs: dict[str, Any] = {"local_addr": local_addr}
        if parsed.scheme == "https":
            proxy_kwargs["ssl"] = True
        transport = await connect_http_proxy(parsed, ws_uri, **proxy_kwargs)
        transport.set_protocol(conn)
        if kwargs:
            context = kwargs["ssl"]
            if context is True:
                context = ssl.create_default_context()
            tls = await loop.start_tls(
                transport, conn, context, server_hostname=kwargs["server_hostname"]
            )
            assert tls is not None
            transport = tls
        conn.connection_made(transport)

    # -- internals: a connection's life ----------------------------------------

    def _lost_cause(self, server: WeightedServer, conn: _Connection) -> ConnectionLost:
        ws = conn.ws
        # The server's close frame when it sent one; else ours when the
        # connection was failed (1009 message too big, 1002, 1007); else 1006.
        frame = (ws.close_rcvd or ws.close_sent) if ws is not None else None
        if frame is None or conn.lost_reason is not None:
            return ConnectionLost(server.ws_uri, CloseCode.ABNORMAL_CLOSURE, conn.lost_reason or "")
        return ConnectionLost(server.ws_uri, int(frame.code), frame.reason)

    def _receive(self, conn: _Connection, data: bytes) -> None:
        if data == CRLF_PING:
            # RFC 5626 4.4.1: answer a CRLF CRLF ping with a CRLF pong.
            conn.send(CRLF_PONG)
            return
        if not data.strip(b"\r\n"):
            return  # a CRLF pong or stray keep-alive bytes: not a SIP message
        try:
            self._on_data(data)
        except Exception:  # the transport must survive a bug in the handler
            logger.exception("error while handling a received message")

    # -- internals: bookkeeping -------------------------------------------------

    def _note_failure(self, server: WeightedServer, exc: ConnectionFailed) -> None:
        index = next(i for i, s in enumerate(self._servers) if s is server)
        self._failures = {**self._failures, index: exc}
        if len(self._failures) < len(self._servers):
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
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
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


@lru_cache(maxsize=256)
def _parse_uri(uri: str) -> WebSocketURI:
    """Parsed once per server for all UAs: the protocol only reads it."""
    return parse_uri(uri)


def _redirect(exc: InvalidStatus, ws_uri: WebSocketURI) -> WebSocketURI | None:
    """Where a 3xx answer to the handshake points, or None when it is no redirect."""
    response = exc.response
    location = response.headers.get("Location")
    if response.status_code not in _REDIRECT_STATUSES or location is None:
        return None
    scheme = "wss" if ws_uri.secure else "ws"
    base = f"{scheme}://{ws_uri.host}:{ws_uri.port}{ws_uri.resource_name}"
    return parse_uri(urllib.parse.urljoin(base, location))


def _has_user_agent(headers: Mapping[str, str] | Sequence[tuple[str, str]]) -> bool:
    names = headers.keys() if isinstance(headers, Mapping) else (name for name, _ in headers)
    return any(name.lower() == "user-agent" for name in names)


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "the server refused this client: check origin and headers in node_websocket_options"
    if status == 404:
        return "check the path of the ws_servers URI"
    return "is this a SIP WebSocket server (subprotocol 'sip')?"
