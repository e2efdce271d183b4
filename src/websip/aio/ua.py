"""The UA: websip's public entry point, a thin asyncio pump around the core.

Theory of operation
-------------------
The protocol lives in sans-I/O objects: :class:`~websip.core.Core` (transactions,
dialogs, digest), :class:`~websip.registration.Registration` (REGISTER) and, for
calls, the INVITE usage behind :class:`~websip.RTCSession`. The UA only moves
things between them and the world:

* bytes from the :class:`~websip.aio.transport.WebSocketTransport` go into
  ``core.receive_data(data, now)``;
* after every input, :meth:`UA._pump` writes ``core.data_to_send()`` to the
  transport, routes each ``core.next_event()`` to the usage that owns its
  transaction or dialog, turns usage events into public events and awaitable
  results, and re-arms the one timer from the earliest ``get_timer()``;
* ``now`` is the event loop's monotonic clock.

Failures are never silent: a request sent while the connection is down fails at
once with ``CONNECTION_ERROR``; a connection lost with requests in flight fails
them all (``Core.connection_lost``); every awaitable ends, at the latest, at
Timer F (64*T1) of its transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random as _random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from websip import causes
from websip.auth import DigestCredentials
from websip.config import Configuration, WsServer, load_configuration
from websip.core import Core
from websip.events import (
    AckReceived,
    AckTimedOut,
    Event,
    MessageDropped,
    RequestCancelled,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
)
from websip.exceptions import LocalProtocolError, RequestError, TransportError
from websip.messaging import OutOfDialogRequest, check_extra_headers
from websip.registration import (
    Registered,
    Registration,
    RegistrationExpiring,
    RegistrationFailed,
    Unregistered,
)
from websip.sip import URI, NameAddr, Request, Response, normalize_target

from .emitter import EventEmitter, Handler
from .events import (
    UA_EVENTS,
    ConnectedEvent,
    ConnectingEvent,
    DisconnectedEvent,
    NewMessageEvent,
    NewOptionsEvent,
    NewRTCSessionEvent,
    RegisteredEvent,
    RegistrationExpiringEvent,
    RegistrationFailedEvent,
    SipEvent,
    UnregisteredEvent,
)
from .transport import ConnectionFailed, TransportOptions, WebSocketTransport

if TYPE_CHECKING:
    from websip.aio.session import RTCSession

__all__ = ["UA", "IncomingRequest", "OutgoingMessage"]

logger = logging.getLogger("websip.ua")
trace_logger = logging.getLogger("websip.trace")

TraceCallback = Callable[[Literal["sent", "received"], bytes], None]

# How long stop() waits for the un-REGISTER before closing anyway.
_STOP_UNREGISTER_TIMEOUT = 2.0
# One OS-backed random source for every UA given none: a SystemRandom still
# carries a Mersenne Twister state (2.5 KB) it never uses.
_SYSTEM_RANDOM = _random.SystemRandom()
# Shared stand-ins for "none yet": thousands of idle UAs share a process, and an
# empty dict or list of each one's own costs 56-64 bytes. Never written to: a
# store replaces them (``[*old, new]``, ``{}`` on first use).
_NOTHING_PENDING: dict[str, Any] = {}
_NO_ONE: list[Any] = []


class IncomingRequest:
    """An incoming MESSAGE or OPTIONS the application may answer.

    Handlers of ``new_message`` / ``new_options`` call :meth:`accept` or
    :meth:`reject`; when none does (plain handlers at once, async ones once they
    finish), the UA answers 200 itself, as JsSIP does.
    """

    def __init__(self, ua: UA, request: Request, transaction_id: str) -> None:
        self._ua = ua
        self.request = request
        self._transaction_id = transaction_id
        self.replied = False

    @property
    def body(self) -> bytes:
        return self.request.body

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.request.body.decode("utf-8", "replace")

    @property
    def content_type(self) -> str | None:
        return self.request.content_type

    @property
    def remote_identity(self) -> NameAddr:
        value: NameAddr = self.request.parse_header("From")
        return value

    @property
    def local_identity(self) -> NameAddr:
        value: NameAddr = self.request.parse_header("To")
        return value

    def accept(
        self,
        status_code: int = 200,
        *,
        extra_headers: Sequence[str] | None = None,
        body: bytes | str = b"",
        content_type: str | None = None,
    ) -> None:
        """Answer with a 2xx."""
        if not 200 <= status_code < 300:
            raise ValueError(f"accept() takes a 2xx status code, not {status_code}")
        self._reply(status_code, None, extra_headers, body, content_type)

    def reject(
        self,
        status_code: int = 480,
        reason_phrase: str | None = None,
        *,
        extra_headers: Sequence[str] | None = None,
    ) -> None:
        """Answer with a 3xx-6xx final response."""
        if not 300 <= status_code < 700:
            raise ValueError(f"reject() takes a status code in 300-699, not {status_code}")
        self._reply(status_code, reason_phrase, extra_headers, b"", None)

    def _reply(
        self,
        status_code: int,
        reason_phrase: str | None,
        extra_headers: Sequence[str] | None,
        body: bytes | str,
        content_type: str | None,
    ) -> None:
        if self.replied:
            raise LocalProtocolError("this request has already been answered")
        headers = check_extra_headers(extra_headers)
        if body and content_type:
            headers.append(("Content-Type", content_type))
        self.replied = True
        self._ua._reply(self._transaction_id, status_code, reason_phrase, headers, body)


class OutgoingMessage:
    """What ``new_message`` carries for a MESSAGE the application sent."""

    def __init__(self, request: Request) -> None:
        self.request = request

    @property
    def body(self) -> bytes:
        return self.request.body

    @property
    def content_type(self) -> str | None:
        return self.request.content_type

    @property
    def remote_identity(self) -> NameAddr:
        value: NameAddr = self.request.parse_header("To")
        return value


class UA:
    """A SIP user agent over WebSocket.

    Args:
        configuration: the parameters of ``spec/ua-configuration.txt`` (JsSIP's
            names), as a mapping; keyword arguments add to (and override) it.
        media_factory: makes the media handler of a call when ``call()`` or
            ``answer()`` is given none (default: aiortc on 127.0.0.1... see
            :mod:`websip.media`).
        rng: a random source for tags, branches, Call-IDs and generated
            configuration values (tests pin the wire bytes with a seeded one).
        transport_options: overrides the WebSocket client options derived from
            the configuration.
        session_expires, min_se: the RFC 4028 session interval we ask for and the
            smallest we accept (90 s each, JsSIP's value and the RFC's floor;
            smaller values break RFC 4028 5 and exist for tests).
        on_trace: called with ``("sent"|"received", bytes)`` for every SIP message
            (what ``websip --trace`` prints). Messages are also logged at DEBUG on
            the ``websip.trace`` logger.

    Raises:
        websip.ConfigurationError: a parameter is missing or bad.
    """

    def __init__(
        self,
        configuration: Mapping[str, Any] | None = None,
        /,
        *,
        media_factory: Callable[[], Any] | None = None,
        rng: _random.Random | None = None,
        transport_options: TransportOptions | None = None,
        on_trace: TraceCallback | None = None,
        session_expires: int = 90,
        min_se: int = 90,
        **params: Any,
    ) -> None:
        self._config = load_configuration(configuration, rng=rng, **params)
        config = self._config
        self._rng = rng if rng is not None else _SYSTEM_RANDOM
        random_bytes: Callable[[int], bytes] = (
            os.urandom if rng is None else (lambda n: self._rng.randbytes(n))
        )
        credentials = None
        if config.password is not None or config.ha1 is not None:
            credentials = DigestCredentials(
                config.authorization_user,
                config.password,
                ha1=config.ha1,
                realm=config.realm,
            )
        self._core = Core(
            via_host=config.via_host,
            via_transport=config.ws_servers[0].via_transport,
            credentials=credentials,
            random=random_bytes,
            auto_options=False,
            user_agent=config.user_agent,
        )
        self.media_factory = media_factory
        self._session_expires = session_expires
        self._min_se = min_se
        self._transport_options = transport_options
        self._on_trace = on_trace
        self._events = EventEmitter(UA_EVENTS)
        contact_user = "".join(
            self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8)
        )
        # Parsed, not built: its parameters stay text until something reads them.
        self._contact_uri = URI.parse(f"sip:{contact_user}@{config.via_host};transport=ws")
        identity = config._shared_identity()  # both copy it before any change
        self._requests = OutOfDialogRequest(identity=identity)
        self._registration = Registration(
            self._core,
            registrar=config.registrar_server,
            aor=identity,
            contact_uri=self._contact_uri,
            expires=config.register_expires,
            instance_urn=config.instance_urn,
        )
        self._transport: WebSocketTransport | None = None
        self._server: WsServer | None = None
        self._pending: dict[str, asyncio.Future[Response]] = _NOTHING_PENDING
        self._register_waiters: list[asyncio.Future[Response]] = _NO_ONE
        self._unregister_waiters: list[asyncio.Future[Response | None]] = _NO_ONE
        self._want_registered = False
        self._running = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self._pumping = False
        self._again = False
        self._sessions: list[RTCSession] = _NO_ONE

    # -- public: configuration and state ----------------------------------------

    @property
    def configuration(self) -> Configuration:
        """The checked configuration (read-only)."""
        return self._config

    @property
    def contact(self) -> NameAddr:
        """The Contact of requests that need one (the GRUU once the registrar gave one)."""
        return self._registration.contact_for_requests()

    def is_connected(self) -> bool:
        return self._transport is not None and self._transport.is_connected

    def is_registered(self) -> bool:
        return self._registration.is_registered

    def normalize_target(self, target: URI | str) -> URI | None:
        """``target`` as a SIP URI in our domain (JsSIP's ``normalizeTarget``), or None."""
        return normalize_target(target, self._config.uri.host)

    # -- public: events ---------------------------------------------------------

    def on(self, name: str, handler: Handler) -> Handler:
        """Call ``handler(payload)`` (plain or async) on every ``name`` event."""
        return self._events.on(name, handler)

    def once(self, name: str, handler: Handler) -> Handler:
        return self._events.once(name, handler)

    def off(self, name: str, handler: Handler | None = None) -> None:
        self._events.off(name, handler)

    async def wait_for(self, name: str, timeout: float | None = None) -> Any:
        """The payload of the next ``name`` event (``TimeoutError`` after ``timeout``)."""
        return await self._events.wait_for(name, timeout)

    # -- public: life cycle -----------------------------------------------------

    async def start(self, *, timeout: float | None = None) -> None:
        """Connect, and register when ``register`` is true.

        Returns once connected (and registered). The connection is kept and
        recovered until :meth:`stop`.

        Raises:
            websip.TransportError: no server could be reached (each was tried
                once); ``hint`` says what to check.
            websip.RequestError: the registration failed (``cause``, ``response``).
            asyncio.TimeoutError: ``timeout`` seconds went by first.
        In every case the UA is stopped again before the exception propagates.
        """
        if self._running:
            return
        self._running = True
        waiter: asyncio.Future[Response] | None = None
        if self._config.register:
            self._want_registered = True
            waiter = asyncio.get_running_loop().create_future()
            self._register_waiters = [*self._register_waiters, waiter]
        self._transport = self._make_transport()
        self._transport.start()
        try:
            await asyncio.wait_for(self._startup(waiter), timeout)
        except BaseException:
            if waiter is not None and not waiter.done():
                waiter.cancel()
            await self.stop()
            raise

    async def _startup(self, waiter: asyncio.Future[Response] | None) -> None:
        assert self._transport is not None
        try:
            await self._transport.wait_connected()
        except ConnectionFailed as exc:
            raise TransportError(str(exc), exc.hint) from exc
        if waiter is not None:
            await waiter

    async def stop(self) -> None:
        """Unregister, end every session and close the connection."""
        if not self._running:
            return
        self._running = False
        self.terminate_sessions()
        self._want_registered = False
        if self.is_registered() and self.is_connected():
            with contextlib.suppress(RequestError, asyncio.TimeoutError):
                await asyncio.wait_for(self.unregister(), _STOP_UNREGISTER_TIMEOUT)
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
        self._fail_everything(causes.CONNECTION_ERROR)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_deadline = None

    async def __aenter__(self) -> UA:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def terminate_sessions(self) -> None:
        """End every call (CANCEL, BYE or a rejection, as each one's state needs)."""
        for session in list(self._sessions):
            with contextlib.suppress(Exception):
                session.terminate()

    # -- public: registration ---------------------------------------------------

    async def register(self) -> Response:
        """Register (or refresh) now; returns the registrar's 2xx.

        Raises:
            websip.RequestError: the registration failed (``cause``, ``response``).
        """
        self._require_connection()
        self._want_registered = True
        waiter: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._register_waiters = [*self._register_waiters, waiter]
        self._registration.register(self._now())
        self._pump()
        return await waiter

    async def unregister(self, all: bool = False) -> Response | None:
        """Remove our binding (``all``: every binding of the AOR, ``Contact: *``).

        Raises:
            websip.RequestError: the registrar refused or did not answer.
        """
        self._require_connection()
        self._want_registered = False
        waiter: asyncio.Future[Response | None] = asyncio.get_running_loop().create_future()
        self._unregister_waiters = [*self._unregister_waiters, waiter]
        self._registration.unregister(self._now(), all=all)
        self._pump()
        return await waiter

    # -- public: MESSAGE and OPTIONS --------------------------------------------

    async def send_message(
        self,
        target: URI | str,
        body: str | bytes,
        content_type: str = "text/plain",
        extra_headers: Sequence[str] | None = None,
    ) -> Response:
        """Send a MESSAGE (RFC 3428); returns the 2xx.

        Raises:
            TypeError, ValueError: a bad target or extra header (at the call).
            websip.RequestError: a non-2xx answer, a timeout or no connection.
        """
        uri = self._target(target)
        headers = check_extra_headers(extra_headers)
        if not isinstance(body, str | bytes):
            raise TypeError(f"body must be str or bytes, not {type(body).__name__}")
        if any(c in content_type for c in "\r\n"):
            raise ValueError(f"CR or LF in content_type {content_type!r}")
        request = self._new_request("MESSAGE", uri, body, content_type, headers)
        self._events.emit(
            "new_message",
            NewMessageEvent(originator="local", message=OutgoingMessage(request), request=request),
        )
        return await self._send(request)

    async def send_options(
        self,
        target: URI | str,
        body: str | bytes = b"",
        content_type: str | None = None,
        extra_headers: Sequence[str] | None = None,
    ) -> Response:
        """Send an OPTIONS (RFC 3261 11); returns the 2xx.

        Raises:
            TypeError, ValueError: a bad target or extra header (at the call).
            websip.RequestError: a non-2xx answer, a timeout or no connection.
        """
        uri = self._target(target)
        headers = check_extra_headers(extra_headers)
        if not any(name.lower() == "accept" for name, _ in headers):
            headers.append(("Accept", "application/sdp"))
        request = self._new_request("OPTIONS", uri, body, content_type, headers)
        return await self._send(request)

    # -- internals: requests ----------------------------------------------------

    def _target(self, target: URI | str) -> URI:
        if not isinstance(target, URI | str):
            raise TypeError(f"target must be a URI or a string, not {type(target).__name__}")
        uri = self.normalize_target(target)
        if uri is None:
            raise ValueError(f"invalid target {target!r}")
        return uri

    def _route(self) -> tuple[str, ...]:
        if self._config.use_preloaded_route and self._server is not None:
            return (self._server.route,)
        return ()

    def _new_request(
        self,
        method: str,
        target: URI,
        body: str | bytes,
        content_type: str | None,
        headers: list[tuple[str, str]],
        *,
        contact: bool = False,
    ) -> Request:
        self._requests.route = self._route()
        return self._requests.build(
            method,
            target,
            from_tag=self._core.new_tag(),
            call_id=self._core.new_call_id(),
            contact=self.contact if contact else None,
            body=body,
            content_type=content_type if body else None,
            extra_headers=headers,
        )

    def _require_connection(self) -> None:
        if not self.is_connected():
            raise RequestError(causes.CONNECTION_ERROR, message="not connected")

    async def _send(self, request: Request) -> Response:
        self._require_connection()
        transaction_id = self._core.send_request(request, self._now())
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        if self._pending is _NOTHING_PENDING:
            self._pending = {}
        self._pending[transaction_id] = future
        self._pump()
        return await future

    def _reply(
        self,
        transaction_id: str,
        status_code: int,
        reason_phrase: str | None,
        headers: list[tuple[str, str]],
        body: bytes | str = b"",
    ) -> None:
        try:
            self._core.reply(
                transaction_id,
                status_code,
                self._now(),
                reason_phrase,
                headers=headers,
                body=body,
            )
        except LocalProtocolError as exc:
            logger.info("could not answer %s: %s", transaction_id, exc)
        self._pump()

    # -- internals: the pump ----------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _pump(self) -> None:
        """Flush output, dispatch events, re-arm the timer; re-entrant calls fold in."""
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._flush()
                while (event := self._core.next_event()) is not None:
                    self._dispatch(event)
                    self._flush()
            if self._sessions:
                self._sessions = [s for s in self._sessions if not s._finished()] or _NO_ONE
            self._rearm()
        finally:
            self._pumping = False

    def _flush(self) -> None:
        data = self._core.data_to_send()
        if not data:
            return
        transport = self._transport
        lost = False
        for message in data:
            self._trace("sent", message)
            if transport is None or not transport.send(message):
                lost = True
        if lost:
            # Nothing can carry these: fail them now rather than at Timer F.
            self._core.connection_lost(self._now())
            self._again = True

    def _trace(self, direction: Literal["sent", "received"], data: bytes) -> None:
        if trace_logger.isEnabledFor(logging.DEBUG):
            trace_logger.debug("%s:\n%s", direction, data.decode("utf-8", "replace"))
        if self._on_trace is not None:
            try:
                self._on_trace(direction, data)
            except Exception:
                logger.exception("trace callback raised")

    def _deadline(self) -> float | None:
        deadline = self._core.get_timer()
        other = self._registration.get_timer()
        if other is not None and (deadline is None or other < deadline):
            deadline = other
        for session in self._sessions:
            other = session._get_timer()
            if other is not None and (deadline is None or other < deadline):
                deadline = other
        return deadline

    def _rearm(self) -> None:
        """Arm the loop timer for the earliest deadline, lazily.

        An armed timer that fires no later than the deadline is kept: firing
        early is harmless (every ``handle_timer`` ignores what is not due) and
        ``_on_timer`` re-arms. Each request's Timer F would otherwise cost a
        new loop timer and a cancelled one left in the loop's heap.
        """
        if not self._running:
            return
        deadline = self._deadline()
        if deadline is None:
            return
        armed = self._timer_deadline
        if armed is not None and armed <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_deadline = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        now = self._now()
        self._core.handle_timer(now)
        for event in self._registration.handle_timer(now):
            self._registration_event(event)
        for session in list(self._sessions):
            session._handle_timer(now)
        self._pump()

    # -- internals: transport callbacks -----------------------------------------

    def _make_transport(self) -> WebSocketTransport:
        config = self._config
        options = self._transport_options
        if options is None:
            from .transport import transport_options_from_config

            options = transport_options_from_config(config)
        return WebSocketTransport(
            list(config.ws_servers),
            on_data=self._on_data,
            on_connecting=self._on_connecting,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            options=options,
            min_interval=config.connection_recovery_min_interval,
            max_interval=config.connection_recovery_max_interval,
            rng=self._rng if isinstance(self._rng, _random.Random) else None,
        )

    def _server_for(self, url: str) -> WsServer | None:
        return next((s for s in self._config.ws_servers if s.ws_uri == url), None)

    def _on_data(self, data: bytes) -> None:
        self._trace("received", data)
        self._core.receive_data(data, self._now())
        self._pump()

    def _on_connecting(self, url: str, attempts: int) -> None:
        self._events.emit("connecting", ConnectingEvent(server=url, attempts=attempts))

    def _on_connected(self, url: str) -> None:
        server = self._server_for(url)
        self._server = server
        if server is not None:
            self._core.via_transport = self._config.via_transport(server)
        self._registration.route = self._route()
        self._events.emit("connected", ConnectedEvent(server=url))
        if self._want_registered:
            # JsSIP re-registers after every (re)connection.
            self._registration.register(self._now())
        self._pump()

    def _on_disconnected(self, url: str, error: BaseException | None) -> None:
        now = self._now()
        was_connected = self._server is not None and self._server.ws_uri == url
        self._server = None
        if was_connected:
            self._core.connection_lost(now)
            for event in self._registration.connection_lost():
                self._registration_event(event)
            for session in list(self._sessions):
                session._connection_lost()
        code = getattr(error, "code", None)
        self._events.emit(
            "disconnected",
            DisconnectedEvent(
                server=url,
                error=error is not None,
                cause=causes.CONNECTION_ERROR if error is not None else None,
                code=code if isinstance(code, int) else None,
                reason=getattr(error, "reason", str(error)) if error is not None else "closed",
            ),
        )
        self._pump()

    # -- internals: events ------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        transaction_id = getattr(event, "transaction_id", None)
        if isinstance(event, ResponseReceived | RequestFailed):
            assert transaction_id is not None
            if self._registration.owns(transaction_id):
                for reg_event in self._registration.handle_event(event, self._now()):
                    self._registration_event(reg_event)
                return
            future = self._pending.get(transaction_id)
            if future is not None:
                self._settle(transaction_id, future, event)
                return
        if self._sessions:
            for session in list(self._sessions):
                if session._owns_event(event):
                    session._handle_event(event)
                    return
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, RequestCancelled | AckReceived | AckTimedOut):
            logger.debug("no session for %r", event)
        elif isinstance(event, MessageDropped):
            logger.info("dropped a message: %s", event.reason)

    def _settle(
        self,
        transaction_id: str,
        future: asyncio.Future[Response],
        event: ResponseReceived | RequestFailed,
    ) -> None:
        if isinstance(event, ResponseReceived):
            status = event.response.status_code
            if status < 200:
                return
            del self._pending[transaction_id]
            if future.done():
                return
            if status < 300:
                future.set_result(event.response)
            else:
                future.set_exception(RequestError(causes.cause_for_status(status), event.response))
        else:
            del self._pending[transaction_id]
            if not future.done():
                future.set_exception(RequestError(event.cause, event.response))

    def _registration_event(self, event: object) -> None:
        if isinstance(event, Registered):
            self._register_waiters = self._resolve(self._register_waiters, event.response)
            if not event.refreshed:  # JsSIP: "registered" on the transition only
                self._events.emit("registered", RegisteredEvent(response=event.response))
        elif isinstance(event, Unregistered):
            if event.cause is None:
                self._unregister_waiters = self._resolve(self._unregister_waiters, event.response)
            else:
                error = RequestError(event.cause, event.response)
                self._unregister_waiters = self._reject(self._unregister_waiters, error)
            self._events.emit(
                "unregistered", UnregisteredEvent(response=event.response, cause=event.cause)
            )
        elif isinstance(event, RegistrationFailed):
            error = RequestError(event.cause, event.response)
            self._register_waiters = self._reject(self._register_waiters, error)
            self._unregister_waiters = self._reject(self._unregister_waiters, error)
            self._events.emit(
                "registration_failed",
                RegistrationFailedEvent(cause=event.cause, response=event.response),
            )
        elif isinstance(event, RegistrationExpiring):
            if self._events.listeners("registration_expiring"):
                self._events.emit("registration_expiring", RegistrationExpiringEvent())
            elif self._want_registered and self.is_connected():
                self._registration.register(self._now())

    @staticmethod
    def _resolve(waiters: list[Any], value: Any) -> list[Any]:
        """Settle every waiter; what replaces the list (the shared empty one)."""
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(value)
        return _NO_ONE

    @staticmethod
    def _reject(waiters: list[Any], error: BaseException) -> list[Any]:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)
        return _NO_ONE

    def _fail_everything(self, cause: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RequestError(cause))
        self._pending = _NOTHING_PENDING
        error = RequestError(cause)
        self._register_waiters = self._reject(self._register_waiters, error)
        self._unregister_waiters = self._reject(self._unregister_waiters, error)

    # -- internals: incoming requests -------------------------------------------

    def _on_request(self, event: RequestReceived) -> None:
        request = event.request
        method = request.method
        if method == "MESSAGE":
            incoming = IncomingRequest(self, request, event.transaction_id)
            payload = NewMessageEvent(originator="remote", message=incoming, request=request)
            self._deliver("new_message", payload, incoming)
        elif method == "OPTIONS":
            incoming = IncomingRequest(self, request, event.transaction_id)
            payload_o = NewOptionsEvent(originator="remote", options=incoming, request=request)
            self._deliver("new_options", payload_o, incoming, self._core.capabilities())
        elif method == "NOTIFY" and not request.to_tag:
            self._reply(event.transaction_id, 200, None, [])
            name = request.get_header("Event") or ""
            self._events.emit(
                "sip_event", SipEvent(event=name.split(";")[0].strip(), request=request)
            )
        elif method == "INVITE" and not request.to_tag:
            self._on_invite(event)
        else:
            # RFC 3261 8.2.1: nothing here handles it out of a dialog.
            headers = [("Allow", ", ".join(sorted(self._core.allowed_methods)))]
            self._reply(event.transaction_id, 405, None, headers)

    def _deliver(
        self,
        name: str,
        payload: object,
        incoming: IncomingRequest,
        default_headers: list[tuple[str, str]] | None = None,
    ) -> None:
        def default_answer() -> None:
            if not incoming.replied:
                incoming.replied = True
                self._reply(incoming._transaction_id, 200, None, default_headers or [])

        self._events.emit_then(name, payload, default_answer)

    def _on_invite(self, event: RequestReceived) -> None:
        from websip.aio.session import RTCSession, SessionEventData
        from websip.invite import InviteSession

        config = self._config
        now = self._now()
        usage = InviteSession.incoming(
            self._core,
            event,
            contact=self.contact,
            now=now,
            session_timers=config.session_timers,
            session_expires=self._session_expires,
            min_se=self._min_se,
            refresh_method=config.session_timers_refresh_method,
            no_answer_timeout=config.no_answer_timeout,
        )
        if usage.is_ended:  # refused by the usage's checks (415, 422, 400...)
            usage.take_events()
            return
        replaced: RTCSession | None = None
        if usage.replaces is not None:
            # RFC 3891 3: the INVITE must match one of our dialogs.
            status = 481
            for candidate in self._sessions:
                if candidate.usage is not None:
                    verdict = candidate.usage.check_replaces(usage.replaces)
                    if verdict is None:
                        replaced, status = candidate, 0
                        break
                    if verdict != 481:
                        status = verdict
            if replaced is None:
                usage.reject(now, status)
                usage.take_events()
                return
        session = RTCSession(self, "incoming")
        session.usage = usage
        session.local_identity = usage.local_identity
        session.remote_identity = usage.remote_identity
        self._sessions = [*self._sessions, session]
        session._process(usage.take_events())
        self._events.emit(
            "new_rtc_session",
            NewRTCSessionEvent(originator="remote", session=session, request=event.request),
        )
        if replaced is not None:
            tasks = replaced._emit(
                "replaces", SessionEventData(originator="remote", request=event.request)
            )
            if not tasks and not replaced._events.listeners("replaces"):
                # JsSIP: with no listener, the new call takes over at once.
                if not session.is_ended() and not session._answering:
                    session.answer()
                if not replaced.is_ended():
                    replaced.terminate()
        if not session.is_ended() and usage.state.name == "WAITING_FOR_ANSWER":
            # JsSIP sends 180 Ringing by itself once the application has seen the call.
            with contextlib.suppress(LocalProtocolError):
                session._usage_call(lambda t: usage.ringing(t))

    # -- calls -------------------------------------------------------------------

    def _make_media(self) -> Any:
        if self.media_factory is not None:
            return self.media_factory()
        from websip.media import AiortcMediaHandler

        return AiortcMediaHandler()

    def call(
        self,
        target: URI | str,
        *,
        media: Any = None,
        extra_headers: Sequence[str] | None = None,
        anonymous: bool = False,
        session_timers: bool | None = None,
    ) -> RTCSession:
        """Call ``target``; returns the RTCSession at once (the INVITE goes out
        once the media handler has made its offer).

        Args:
            media: a :class:`websip.media.MediaHandler` (default: ``media_factory``
                of the UA, else WebRTC audio through aiortc, sending silence).
            extra_headers: ``"Name: value"`` lines for the INVITE.
            anonymous: hide our identity (RFC 3323 ``Privacy: id``).
            session_timers: override the ``session_timers`` parameter.

        Raises:
            TypeError, ValueError: a bad target or extra header.
        """
        from websip.aio.session import RTCSession

        uri = self._target(target)
        headers = check_extra_headers(extra_headers)
        session = RTCSession(self, "outgoing", media if media is not None else self._make_media())
        session.local_identity = self._config.identity
        session.remote_identity = NameAddr(uri.copy())
        self._sessions = [*self._sessions, session]
        session._spawn(self._start_call(session, uri, headers, anonymous, session_timers))
        return session

    async def _start_call(
        self,
        session: RTCSession,
        target: URI,
        headers: list[tuple[str, str]],
        anonymous: bool,
        session_timers: bool | None,
    ) -> None:
        from websip.aio.session import SessionEventData
        from websip.invite import InviteSession
        from websip.media import MediaError

        try:
            offer = await session.media.create_offer()
        except MediaError as exc:
            logger.warning("cannot make an offer: %s", exc)
            session._finish(
                "failed", SessionEventData(originator="local", cause=causes.WEBRTC_ERROR)
            )
            return
        if session.is_ended():
            return  # terminated while the offer was being made
        if not self.is_connected():
            session._finish(
                "failed", SessionEventData(originator="system", cause=causes.CONNECTION_ERROR)
            )
            return
        session._local_sdp(offer)
        config = self._config
        usage = InviteSession.outgoing(
            self._core,
            local_identity=config.identity,
            target=target,
            contact=self._registration.contact_for_requests(anonymous=anonymous),
            sdp=offer,
            now=self._now(),
            route=self._route(),
            extra_headers=headers,
            session_timers=config.session_timers if session_timers is None else session_timers,
            session_expires=self._session_expires,
            min_se=self._min_se,
            refresh_method=config.session_timers_refresh_method,
            anonymous=anonymous,
        )
        session.usage = usage
        assert usage.request is not None
        self._events.emit(
            "new_rtc_session",
            NewRTCSessionEvent(originator="local", session=session, request=usage.request),
        )
        session._process(usage.take_events())
        self._pump()
