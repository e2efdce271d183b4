"""The asyncio shell of the embedded server: WebSocket I/O around :class:`Proxy`.

All protocol decisions live in :mod:`websip.server.proxy` (and the registrar and
digest verifier behind it); this module accepts WebSocket connections that speak
the ``sip`` subprotocol (RFC 7118), feeds their messages to the proxy, writes
what it says to the connections it names, ticks its clock once a second and
hands its events to an observer.

A handshake that does not offer ``sip`` is refused with HTTP 400, as the
Kamailio test server does, so a misconfigured client fails at once and loudly
instead of talking SIP to a peer that never agreed to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from types import TracebackType

from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse
from websockets.typing import Subprotocol

from .proxy import Proxy, ServerEvent
from .registrar import DEFAULT_EXPIRES, MAX_EXPIRES, MIN_EXPIRES, Binding

__all__ = ["Server"]

logger = logging.getLogger("websip.server")

SIP = Subprotocol("sip")
_WILDCARDS = {"", "0.0.0.0", "::"}


class Server:
    """A development registrar and proxy over WebSocket, in this process.

    Args:
        host: address to listen on (loopback by default).
        port: TCP port; 0 picks a free one (read :attr:`port` after start).
        users: user name -> password, checked with digest authentication on
            REGISTER (401). None: no authentication, anyone may register.
        domain: digest realm and host of the GRUUs (any domain is served).
        gruu: give GRUUs (RFC 5627) to contacts with ``+sip.instance``.
        auth_requests: also challenge out-of-dialog INVITE, MESSAGE, OPTIONS...
            with 407 (default False: only REGISTER is authenticated, so a
            registered UA can call without a second round trip).
        min_expires, default_expires, max_expires: registration intervals
            (423 below ``min_expires``).
        algorithms: digest algorithms offered, preferred first.
        on_event: called with every :data:`~websip.server.proxy.ServerEvent`
            (registrations, unregistrations, routed and answered requests).
        max_message_size: larger WebSocket messages close the connection.

    Use ``async with Server(...) as server:`` or :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        users: Mapping[str, str] | None = None,
        *,
        domain: str = "websip.test",
        gruu: bool = True,
        auth_requests: bool = False,
        min_expires: int = MIN_EXPIRES,
        default_expires: int = DEFAULT_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        on_event: Callable[[ServerEvent], None] | None = None,
        max_message_size: int = 256 * 1024,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.users = dict(users) if users is not None else None
        self.domain = domain
        self.on_event = on_event
        self._options = {
            "gruu": gruu,
            "auth_requests": auth_requests,
            "min_expires": min_expires,
            "default_expires": default_expires,
            "max_expires": max_expires,
            "algorithms": tuple(algorithms),
        }
        self._max_message_size = max_message_size
        self._ws_server: WsServer | None = None
        self._proxy: Proxy | None = None
        self._sockets: dict[str, ServerConnection] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)

    # -- life cycle ---------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        if self._proxy is None:
            raise RuntimeError("the server is not started")
        return self._proxy.port

    @property
    def url(self) -> str:
        """``ws://HOST:PORT`` for a UA's ``ws_servers``."""
        host = self._advertised_host()
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}"

    @property
    def proxy(self) -> Proxy:
        """The sans-I/O core (its registrar holds the bindings)."""
        if self._proxy is None:
            raise RuntimeError("the server is not started")
        return self._proxy

    def bindings(self, user: str | None = None) -> list[Binding]:
        """The live bindings (of ``user``, or of everyone)."""
        now = asyncio.get_running_loop().time()
        registrar = self.proxy.registrar
        return registrar.lookup(user, now) if user is not None else registrar.bindings(now)

    def _advertised_host(self) -> str:
        return "127.0.0.1" if self.host in _WILDCARDS else self.host

    async def start(self) -> None:
        """Listen. Raises OSError when the address is taken or not ours."""
        if self._ws_server is not None:
            return
        self._ws_server = await serve(
            self._handle,
            self.host or None,
            self._requested_port,
            subprotocols=[SIP],
            process_request=self._check_handshake,
            max_size=self._max_message_size,
            compression=None,
            server_header="websip-serve",
            logger=logging.getLogger("websip.server.ws"),
        )
        port = int(next(iter(self._ws_server.sockets)).getsockname()[1])
        # Nothing awaits between here and the proxy's creation, so no handler
        # can run before it exists.
        self._proxy = Proxy(
            host=self._advertised_host(),
            port=port,
            domain=self.domain,
            users=self.users,
            **self._options,  # type: ignore[arg-type]
        )
        self._ticker = asyncio.create_task(self._tick(), name="websip-serve-timer")
        logger.info("listening on %s", self.url)

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Run until cancelled (``websip serve``)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # -- I/O --------------------------------------------------------------------------

    def _check_handshake(
        self, connection: ServerConnection, request: HttpRequest
    ) -> HttpResponse | None:
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return connection.respond(
                HTTPStatus.UPGRADE_REQUIRED,
                "websip serve: a SIP over WebSocket server (RFC 7118); "
                "connect with a WebSocket offering the 'sip' subprotocol\n",
            )
        offered = ",".join(request.headers.get_all("Sec-WebSocket-Protocol"))
        if "sip" not in {token.strip().lower() for token in offered.split(",")}:
            # RFC 7118 4: the "sip" subprotocol is mandatory.
            logger.info("refused a WebSocket without the sip subprotocol")
            return connection.respond(HTTPStatus.BAD_REQUEST, "sip subprotocol required\n")
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        proxy = self._proxy
        assert proxy is not None
        address = websocket.remote_address
        ip, port = str(address[0]), int(address[1])
        connection = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        if connection in self._sockets:  # cannot happen with TCP, but stay unique
            connection += f"#{next(self._ids)}"
        self._sockets[connection] = websocket
        proxy.connection_opened(connection, (ip, port))
        logger.debug("connection from %s", connection)
        loop = asyncio.get_running_loop()
        try:
            async for message in websocket:
                data = message.encode("utf-8") if isinstance(message, str) else message
                proxy.receive_data(connection, data, loop.time())
                await self._pump()
        except ConnectionClosed:
            pass
        finally:
            del self._sockets[connection]
            proxy.connection_closed(connection, loop.time())
            logger.debug("connection %s closed", connection)
            await self._pump()

    async def _pump(self) -> None:
        """Write what the proxy has to send and report what happened."""
        proxy = self._proxy
        if proxy is None:
            return
        while (event := proxy.next_event()) is not None:
            self._report(event)
        for item in proxy.data_to_send():
            websocket = self._sockets.get(item.connection)
            if websocket is None:
                continue
            try:
                text = item.data.decode("utf-8")
            except UnicodeDecodeError:
                payload: str | bytes = item.data
            else:
                payload = text  # RFC 7118 5.1: text frames for UTF-8 messages
            try:
                await websocket.send(payload)
            except ConnectionClosed:
                logger.debug("could not write to %s: closed", item.connection)

    def _report(self, event: ServerEvent) -> None:
        logger.info("%s", event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("on_event callback failed")

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            if self._proxy is not None:
                self._proxy.handle_timer(loop.time())
                await self._pump()
