"""The sans-I/O facade: the one surface the asyncio shell pumps.

Theory of operation
-------------------
A :class:`Core` is one user agent's protocol engine. It takes bytes and time and
gives bytes, typed events and one deadline:

    receive_data(bytes, now)     a SIP message from the transport
    handle_timer(now)            the deadline of get_timer() has come
    connection_lost(now)         the transport is gone: fail what is in flight
    send_request / send_response / cancel / send_ack       commands of the TU
    data_to_send() -> [bytes]    what to write to the transport, in order
    next_event() -> Event|None   what happened, for the usages and the app
    get_timer() -> float|None    when to call handle_timer next

After every call the shell flushes ``data_to_send()``, drains ``next_event()``
and re-arms its single timer from ``get_timer()``.

Layering (STYLE.md habit 6): bytes -> :func:`parse_message` -> sanity checks
(:mod:`websip.sanity`) -> the transaction layer (:mod:`websip.transaction`) ->
dialogs (:mod:`websip.dialog`) -> events. Going down, requests pick up their
Via in the transaction layer and their credentials here: a 401/407 to a request
sent with ``send_request`` is answered from the UA's credentials
(:mod:`websip.auth`) and the request re-sent with the next CSeq and a new
branch, under the same transaction id; the TU sees only the outcome.

What the core answers by itself: malformed and unacceptable requests (400, 416,
420, 482, 405, 501, 505, 513: RFC 3261 8.2), in-dialog requests for unknown
dialogs (481) or with an out-of-order CSeq (500, 12.2.2), CANCEL (200, and 487
to the INVITE, 9.2), and OPTIONS outside a dialog when ``auto_options`` is set
(200 with Allow, Accept, Supported, 11.2). Responses that are malformed or match
nothing are dropped and reported as :class:`~websip.events.MessageDropped`.

What the core keeps for the TU: a 2xx to an INVITE it sends is retransmitted
(T1, 2*T1, ... T2) until the ACK arrives (13.3.1.4), reported as
:class:`~websip.events.AckTimedOut` after 64*T1; dialogs are created by the TU
(:meth:`Core.add_dialog`) and looked up here for in-dialog requests.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from . import causes
from .auth import DigestClient, DigestCredentials, DigestFlow
from .dialog import Dialog, DialogId, dialog_id_for_incoming, is_in_dialog
from .events import (
    AckReceived,
    AckTimedOut,
    Event,
    MessageDropped,
    RequestCancelled,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
)
from .exceptions import LocalProtocolError, ParseError, RemoteProtocolError, RequestError
from .sanity import MergedRequestDetector, check_ack, check_request, check_response
from .sip import CSeq, Request, Response, parse_message
from .transaction import layer as tl
from .transaction.events import NoAckReceived, SendResponse
from .transaction.retransmit import TwoHundredRetransmitter
from .transaction.timers import TimerValues

__all__ = ["DEFAULT_ALLOWED_METHODS", "DEFAULT_SUPPORTED", "Core"]

logger = logging.getLogger("websip.core")

DEFAULT_ALLOWED_METHODS = frozenset(
    {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE", "INFO", "UPDATE", "PRACK",
     "REFER", "NOTIFY", "SUBSCRIBE"}
)  # fmt: skip
# The shared stand-in for an empty table: an idle Core (thousands share one
# process) holds no dict of its own until something is stored. It is never
# written to: every store first swaps in a fresh dict (see :func:`_own`).
_NO_ENTRIES: dict[Any, Any] = {}
_NO_OUTPUT: list[bytes] = []  # the same, for the bytes waiting to be sent
_NO_EVENTS: list[Any] = []  # and for the events
_DEFAULT_TIMERS = TimerValues()

DEFAULT_SUPPORTED = frozenset({"path", "gruu", "outbound", "replaces", "timer", "100rel", "ice"})
# message/sipfrag: the NOTIFYs of a REFER's implicit subscription (RFC 3515 2.4.5).
_APPLICATION_BODIES = frozenset({"MESSAGE", "INFO", "NOTIFY"})
DEFAULT_ACCEPT = frozenset(
    {"application/sdp", "application/dtmf-relay", "text/plain", "message/sipfrag"}
)


@dataclass
class _Outgoing:
    """A request of the TU across its authentication rounds."""

    transaction_id: str
    flow: DigestFlow | None
    request: Request
    key: tl.ClientTransactionKey
    cancel_wanted: bool = False
    cancel_sent: bool = False
    provisional_seen: bool = False
    final_seen: bool = False


@dataclass
class _Incoming:
    transaction_id: str
    key: tl.ServerKey
    request: Request
    final_sent: bool = False


class Core:
    """The protocol engine of one user agent (sans-I/O).

    Args:
        via_host: the sent-by host of our Via (a random ``*.invalid``, RFC 7118 5).
        via_transport: ``"WSS"`` or ``"WS"`` (or ``"TCP"`` with hack_via_tcp).
        credentials: digest credentials for 401/407, or None.
        timers: T1/T2/T4.
        reliable: True for WebSocket (Timers A/E/G off, D/I/J/K zero).
        random: ``random(n) -> n bytes``: branches, tags, Call-IDs, cnonces.
        supported: option tags we support (Supported, and 420 for others).
        allowed_methods: methods we accept (405 with Allow for others).
        auto_options: answer out-of-dialog OPTIONS by ourselves.
        user_agent: a ``User-Agent``/``Server`` value to add, or None.

    Next: feed input with :meth:`receive_data`, then flush :meth:`data_to_send`,
    drain :meth:`next_event` and re-arm the timer from :meth:`get_timer`.
    """

    # Slots: thousands of UAs share one process (see bench/README.md).
    __slots__ = (
        "_by_client_key",
        "_by_server_key",
        "_dialogs",
        "_events",
        "_incoming",
        "_last_id",
        "_merged",
        "_out",
        "_outgoing",
        "_random",
        "_retransmitters",
        "accept",
        "allowed_methods",
        "auth",
        "auto_options",
        "layer",
        "supported",
        "timers",
        "user_agent",
    )

    def __init__(
        self,
        *,
        via_host: str,
        via_transport: str = "WSS",
        credentials: DigestCredentials | None = None,
        timers: TimerValues | None = None,
        reliable: bool = True,
        random: Callable[[int], bytes] = os.urandom,
        supported: Iterable[str] = DEFAULT_SUPPORTED,
        allowed_methods: Iterable[str] = DEFAULT_ALLOWED_METHODS,
        accept: Iterable[str] = DEFAULT_ACCEPT,
        auto_options: bool = True,
        user_agent: str | None = None,
    ) -> None:
        self.timers = timers or _DEFAULT_TIMERS  # frozen: one shared by every Core
        self._random = random
        self.layer = tl.TransactionLayer(
            timers=self.timers,
            reliable=reliable,
            random=random,
            via_host=via_host,
            via_transport=via_transport,
        )
        self.supported = frozenset(supported)
        self.allowed_methods = frozenset(allowed_methods)
        self.accept = frozenset(accept)
        self.auto_options = auto_options
        self.user_agent = user_agent
        self.auth = DigestClient(credentials, random_bytes=random) if credentials else None
        # Made at the first request received (a UA that only registers never needs one).
        self._merged: MergedRequestDetector | None = None
        self._out: list[bytes] = _NO_OUTPUT
        # A list, not a deque: it is nearly always empty, and an empty deque
        # still holds a 600-byte block (thousands of UAs share one process).
        self._events: list[Event] = _NO_EVENTS
        self._last_id = 0  # an int, not itertools.count: smaller
        self._outgoing: dict[str, _Outgoing] = _NO_ENTRIES
        self._by_client_key: dict[tl.ClientTransactionKey, _Outgoing] = _NO_ENTRIES
        self._incoming: dict[str, _Incoming] = _NO_ENTRIES
        self._by_server_key: dict[tl.ServerKey, _Incoming] = _NO_ENTRIES
        self._dialogs: dict[DialogId, Dialog] = _NO_ENTRIES
        self._retransmitters: dict[
            tuple[str, int], tuple[TwoHundredRetransmitter[Response], str, tl.ServerKey]
        ] = _NO_ENTRIES

    # -- identifiers (RFC 3261 19.3) ---------------------------------------------

    def new_tag(self) -> str:
        """A From/To tag: 64 random bits (19.3: "at least 32 bits of randomness")."""
        return self._random(8).hex()

    def new_call_id(self) -> str:
        """A Call-ID: 96 random bits, globally unique without a host part."""
        return self._random(12).hex()

    def new_branch(self) -> str:
        return self.layer.new_branch()

    @property
    def via_host(self) -> str | None:
        return self.layer.via_host

    @property
    def via_transport(self) -> str:
        return self.layer.via_transport

    @via_transport.setter
    def via_transport(self, value: str) -> None:
        self.layer.via_transport = value

    # -- the pump's surface ------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """Everything to write to the transport, in order; the list is handed over."""
        out, self._out = self._out, _NO_OUTPUT
        return [] if out is _NO_OUTPUT else out

    def next_event(self) -> Event | None:
        """The next event, or None when there is none."""
        if not self._events:
            return None
        event = self._events.pop(0)
        if not self._events:
            self._events = _NO_EVENTS
        return event

    def _event(self, event: Event) -> None:
        if self._events is _NO_EVENTS:
            self._events = []
        self._events.append(event)

    def get_timer(self) -> float | None:
        """The earliest deadline; call :meth:`handle_timer` then. None: no timer."""
        earliest = self.layer.get_timer()
        for retransmitter, _, _ in self._retransmitters.values():
            deadline = retransmitter.get_timer()
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def handle_timer(self, now: float) -> None:
        """Fire whatever is due at ``now`` (an early call does nothing)."""
        self._layer_events(self.layer.handle_timer(now), now)
        for key, (retransmitter, transaction_id, server_key) in list(self._retransmitters.items()):
            deadline = retransmitter.get_timer()
            if deadline is None or deadline > now:
                continue
            for output in retransmitter.handle_timer(now):
                if isinstance(output, SendResponse):
                    # The layer sends through the transaction while it is Accepted
                    # and straight to the transport once it is gone (13.3.1.4).
                    events = self.layer.send_response(server_key, output.response, now)
                    self._layer_events(events, now)
                elif isinstance(output, NoAckReceived):
                    del self._retransmitters[key]
                    self._event(
                        AckTimedOut(response=retransmitter.response, transaction_id=transaction_id)
                    )

    def receive_data(self, data: bytes, now: float) -> None:
        """Take one SIP message from the transport (a WebSocket message)."""
        if not data.strip(b"\r\n"):
            return  # RFC 5626 4.4.1 keep-alive CRLFs: nothing to do here
        try:
            message = parse_message(data)
        except ParseError as exc:
            logger.warning("dropped unparseable message: %s", exc)
            self._event(MessageDropped(reason=str(exc), data=bytes(data)))
            return
        if isinstance(message, Response):
            self._receive_response(message, data, now)
        else:
            self._receive_request(message, data, now)
        self._fire_linger_timers(now)

    def connection_lost(self, now: float) -> None:
        """The transport is gone: every client transaction fails with CONNECTION_ERROR."""
        self._layer_events(self.layer.transport_error(now), now)
        for retransmitter, _, _ in self._retransmitters.values():
            retransmitter.stop()
        self._retransmitters.clear()

    # -- commands ----------------------------------------------------------------

    def send_request(self, request: Request, now: float) -> str:
        """Send a request in a new client transaction; returns its id.

        The request gets a Via (the transaction layer), Max-Forwards 70 and our
        User-Agent when missing, and credentials already known for its realm.
        Responses and failures come back as events carrying the id.
        """
        if not request.has_header("Max-Forwards"):
            request.add_header("Max-Forwards", "70")
        if self.user_agent and not request.has_header("User-Agent"):
            request.add_header("User-Agent", self.user_agent)
        self._last_id += 1
        transaction_id = f"c{self._last_id}"
        flow = None
        if self.auth is not None and request.method not in ("ACK", "CANCEL"):
            # The flow keeps ``request`` as it is (no copy) and sends copies of
            # it: the TU hands its requests over and never changes them again.
            flow = DigestFlow._taking(self.auth, request)
            request = flow.request
        key, events = self.layer.send_request(request, now)
        record = _Outgoing(transaction_id=transaction_id, flow=flow, request=request, key=key)
        self._outgoing = _own(self._outgoing)
        self._outgoing[transaction_id] = record
        self._by_client_key = _own(self._by_client_key)
        self._by_client_key[key] = record
        self._layer_events(events, now)
        return transaction_id

    def cancel(self, transaction_id: str, now: float) -> None:
        """Cancel an INVITE sent with :meth:`send_request` (RFC 3261 9.1).

        The CANCEL goes once a provisional response has arrived ("SHOULD NOT
        be sent" before), and not at all if a final response came first.
        """
        record = self._outgoing.get(transaction_id)
        if record is None or record.final_seen or record.cancel_wanted:
            return
        record.cancel_wanted = True
        if record.provisional_seen:
            self._send_cancel(record, now)

    def send_response(self, transaction_id: str, response: Response, now: float) -> None:
        """Answer a request that came as :class:`~websip.events.RequestReceived`.

        A 2xx to INVITE is retransmitted until its ACK (RFC 3261 13.3.1.4).

        Raises:
            LocalProtocolError: unknown transaction, or a response the state refuses.
        """
        record = self._incoming.get(transaction_id)
        if record is None:
            raise LocalProtocolError(f"no server transaction {transaction_id!r}")
        if self.user_agent and not response.has_header("Server"):
            response.add_header("Server", self.user_agent)
        events = self.layer.send_response(record.key, response, now)
        if response.status_code >= 200:
            record.final_sent = True
        self._layer_events(events, now)
        self._fire_linger_timers(now)
        if record.request.method == "INVITE" and 200 <= response.status_code < 300:
            retransmitter: TwoHundredRetransmitter[Response] = TwoHundredRetransmitter(
                response, timers=self.timers
            )
            retransmitter.start(now)
            self._retransmitters = _own(self._retransmitters)
            self._retransmitters[(record.request.call_id, record.request.cseq.seq)] = (
                retransmitter,
                transaction_id,
                record.key,
            )

    def reply(
        self,
        transaction_id: str,
        status_code: int,
        now: float,
        reason_phrase: str | None = None,
        *,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | str = b"",
    ) -> None:
        """Answer a request outside any dialog of ours: the response is built
        from the request (RFC 3261 8.2.6), with a new To tag when it had none.

        Raises:
            LocalProtocolError: unknown transaction, or a response the state refuses.
        """
        record = self._incoming.get(transaction_id)
        if record is None:
            raise LocalProtocolError(f"no server transaction {transaction_id!r}")
        request = record.request
        to_tag = None if request.to_tag else self.new_tag()
        response = Response.for_request(
            request, status_code, reason_phrase, to_tag=to_tag, headers=headers, body=body
        )
        self.send_response(transaction_id, response, now)

    def capabilities(self) -> list[tuple[str, str]]:
        """Allow, Accept and Supported as we would answer an OPTIONS (RFC 3261 11.2)."""
        return [
            ("Allow", ", ".join(sorted(self.allowed_methods))),
            ("Accept", ", ".join(sorted(self.accept))),
            ("Supported", ", ".join(sorted(self.supported))),
        ]

    def send_ack(self, ack: Request, now: float) -> None:
        """Send the ACK of a 2xx (the dialog's, RFC 3261 13.2.2.4): no transaction."""
        self._layer_events(self.layer.send_stateless(ack), now)

    # -- dialogs -----------------------------------------------------------------

    def add_dialog(self, dialog: Dialog) -> None:
        """Make in-dialog requests for ``dialog`` reach the TU (else they get 481)."""
        self._dialogs = _own(self._dialogs)
        self._dialogs[dialog.id] = dialog

    def remove_dialog(self, dialog: Dialog | DialogId) -> None:
        self._dialogs.pop(dialog.id if isinstance(dialog, Dialog) else dialog, None)

    def get_dialog(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.get(dialog_id)

    # -- internals: input -------------------------------------------------------

    def _receive_response(self, response: Response, data: bytes, now: float) -> None:
        problem = check_response(response, via_host=self.layer.via_host, via_port=None)
        if problem is not None:
            logger.info("dropped response: %s", problem)
            self._event(MessageDropped(reason=problem, data=bytes(data)))
            return
        self._layer_events(self.layer.receive_response(response, now), now)

    def _receive_request(self, request: Request, data: bytes, now: float) -> None:
        if request.method == "ACK":
            problem = check_ack(request)
            if problem is not None:
                self._event(MessageDropped(reason=problem, data=bytes(data)))
                return
        else:
            answer = self._sanity(request, now)
            if answer is not None:
                self._answer_statelessly(request, answer, now)
                return
        self._layer_events(self.layer.receive_request(request, now), now)

    def _sanity(self, request: Request, now: float) -> Response | None:
        try:
            to_tag = None if request.to_tag else self.new_tag()
        except ParseError:
            to_tag = self.new_tag()
        return check_request(
            request,
            supported=self.supported,
            allowed_methods=self.allowed_methods,
            # MESSAGE, INFO and NOTIFY bodies are the application's to judge
            # (JsSIP hands every one over); 415 only for session descriptions.
            accepted_types=None if request.method in _APPLICATION_BODIES else self.accept,
            merged=self._merged_detector(),
            now=now,
            to_tag=to_tag,
        )

    def _merged_detector(self) -> MergedRequestDetector:
        if self._merged is None:
            self._merged = MergedRequestDetector()
        return self._merged

    def _answer_statelessly(self, request: Request, answer: Response, now: float) -> None:
        # RFC 3261 8.2: the checks' answers go straight out; a retransmission of
        # the same bad request earns the same answer again.
        logger.info(
            "answered %s with %d %s", request.method, answer.status_code, answer.reason_phrase
        )
        self._layer_events(self.layer.send_stateless(answer), now)

    def _fire_linger_timers(self, now: float) -> None:
        """Fire the transaction timers armed to fire at ``now`` itself.

        Over a reliable transport the linger timers D, I, J and K are zero
        (RFC 3261 17.1.1.2, 17.1.2.2, 17.2.1, 17.2.2): the machine arms them and
        the caller's next ``handle_timer(now)`` ends the transaction. Doing that
        here spares the shell a timer round trip per transaction. Only a
        deadline equal to ``now`` fires: anything overdue waits for
        :meth:`handle_timer`, as it always did.
        """
        if self.layer.get_timer() == now:
            self._layer_events(self.layer.handle_timer(now), now)

    # -- internals: layer events -------------------------------------------------

    def _layer_events(self, events: list[tl.LayerEvent], now: float) -> None:
        for event in events:
            if type(event) is tl.SendMessage:  # the commonest: the exact class first
                if self._out is _NO_OUTPUT:
                    self._out = [event.message.to_bytes()]
                else:
                    self._out.append(event.message.to_bytes())
            elif type(event) is tl.TransactionEnded:
                self._on_ended(event.key)
            elif isinstance(event, tl.SendMessage):
                if self._out is _NO_OUTPUT:
                    self._out = []
                self._out.append(event.message.to_bytes())
            elif isinstance(event, tl.ResponseReceived):
                self._on_response(event.response, event.key, now)
            elif isinstance(event, tl.RequestReceived):
                self._on_request(event, now)
            elif isinstance(event, tl.TransactionFailed):
                self._on_failure(event)
            elif isinstance(event, tl.TransactionEnded):
                self._on_ended(event.key)
            elif isinstance(event, tl.MessageDiscarded):
                logger.debug("discarded %r: %s", event.message, event.reason)
                self._event(MessageDropped(reason=event.reason, data=event.message.to_bytes()))

    def _on_response(self, response: Response, key: tl.ClientTransactionKey, now: float) -> None:
        record = self._by_client_key.get(key)
        if record is None:
            return  # a CANCEL's own response: nothing for the TU
        status = response.status_code
        if status < 200:
            record.provisional_seen = True
            if record.cancel_wanted and not record.final_seen:
                self._send_cancel(record, now)
        elif record.flow is not None and status in (401, 407):
            try:
                retry = record.flow.receive_response(response)
            except RequestError as exc:
                record.final_seen = True
                self._event(
                    RequestFailed(
                        request=record.request,
                        transaction_id=record.transaction_id,
                        cause=exc.cause,
                        response=response,
                    )
                )
                return
            if retry is not None:
                self._resend(record, retry, now)
                return
        if status >= 200:
            record.final_seen = True
        self._event(
            ResponseReceived(
                response=response, request=record.request, transaction_id=record.transaction_id
            )
        )

    def _resend(self, record: _Outgoing, retry: Request, now: float) -> None:
        # RFC 3261 22.2: a re-sent request has the next CSeq and a new branch.
        cseq: CSeq = retry.cseq
        retry.set_header("CSeq", f"{cseq.seq + 1} {cseq.method}")
        retry.remove_header("Via")
        self._by_client_key.pop(record.key, None)
        key, events = self.layer.send_request(retry, now)
        record.key = key
        record.request = retry
        record.provisional_seen = False
        self._by_client_key = _own(self._by_client_key)
        self._by_client_key[key] = record
        self._layer_events(events, now)

    def _send_cancel(self, record: _Outgoing, now: float) -> None:
        if record.cancel_sent:
            return
        record.cancel_sent = True
        cancel = tl.build_cancel(record.request)
        _, events = self.layer.send_request(cancel, now)
        self._layer_events(events, now)

    def _on_failure(self, event: tl.TransactionFailed) -> None:
        if not isinstance(event.key, tl.ClientTransactionKey):
            return  # a server transaction's failure (Timer H): nothing to report
        record = self._by_client_key.get(event.key)
        if record is None or record.final_seen:
            return
        record.final_seen = True
        cause = (
            causes.CONNECTION_ERROR
            if event.reason is tl.FailureReason.TRANSPORT_ERROR
            else causes.REQUEST_TIMEOUT
        )
        self._event(
            RequestFailed(request=record.request, transaction_id=record.transaction_id, cause=cause)
        )

    def _on_ended(self, key: tl.TransactionKey) -> None:
        if isinstance(key, tl.ClientTransactionKey):
            record = self._by_client_key.pop(key, None)
            if record is not None and self._outgoing.get(record.transaction_id) is record:
                del self._outgoing[record.transaction_id]
            if not self._by_client_key and not self._outgoing:
                # A dict keeps its table when emptied: an idle UA drops it.
                self._by_client_key = _NO_ENTRIES
                self._outgoing = _NO_ENTRIES
        else:
            incoming = self._by_server_key.pop(key, None)
            if incoming is not None:
                self._incoming.pop(incoming.transaction_id, None)
            if not self._by_server_key and not self._incoming:
                self._by_server_key = _NO_ENTRIES
                self._incoming = _NO_ENTRIES

    def _on_request(self, event: tl.RequestReceived, now: float) -> None:
        request = event.request
        if request.method == "ACK":
            self._on_ack(request)
            return
        assert event.key is not None
        self._last_id += 1
        transaction_id = f"s{self._last_id}"
        record = _Incoming(transaction_id=transaction_id, key=event.key, request=request)
        self._incoming = _own(self._incoming)
        self._incoming[transaction_id] = record
        self._by_server_key = _own(self._by_server_key)
        self._by_server_key[event.key] = record
        if request.method == "CANCEL":
            self._on_cancel(record, event.cancelled, now)
            return
        if is_in_dialog(request):
            dialog = self._dialogs.get(dialog_id_for_incoming(request))
            if dialog is None:
                # RFC 3261 12.2.2: "the UAS MUST respond to the request with a 481".
                self._reply(record, 481, now)
                return
            try:
                dialog.receive_request(request)
            except RemoteProtocolError as exc:  # 500 out of order, 481 terminated, ...
                self._reply(record, exc.status_code, now)
                return
        elif request.method == "OPTIONS" and self.auto_options:
            self._answer_options(record, now)
            return
        self._event(RequestReceived(request=request, transaction_id=transaction_id))

    def _on_ack(self, ack: Request) -> None:
        try:
            seq = ack.cseq.seq
        except ParseError:
            return
        entry = self._retransmitters.pop((ack.call_id, seq), None)
        if entry is not None:
            entry[0].on_ack()
        dialog = self._dialogs.get(dialog_id_for_incoming(ack)) if is_in_dialog(ack) else None
        if dialog is None and entry is None:
            self._event(MessageDropped(reason="ACK for no dialog", data=ack.to_bytes()))
            return
        self._event(AckReceived(request=ack))

    def _on_cancel(self, record: _Incoming, cancelled: tl.ServerKey | None, now: float) -> None:
        target = self._by_server_key.get(cancelled) if cancelled is not None else None
        if target is None or target.final_sent:
            # RFC 3261 9.2: no matching transaction (or already answered): 481
            # (or 200, which says nothing about the INVITE; 481 is what JsSIP does).
            self._reply(record, 481 if target is None else 200, now)
            return
        self._reply(record, 200, now)
        self._reply(target, 487, now)
        self._event(
            RequestCancelled(
                request=target.request, transaction_id=target.transaction_id, cancel=record.request
            )
        )

    def _answer_options(self, record: _Incoming, now: float) -> None:
        # RFC 3261 11.2: the same answer an INVITE would get, plus capabilities.
        self._reply(record, 200, now, self.capabilities())

    def _reply(
        self,
        record: _Incoming,
        status: int,
        now: float,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.reply(record.transaction_id, status, now, headers=headers)


_K = TypeVar("_K")
_V = TypeVar("_V")


def _own(table: dict[_K, _V]) -> dict[_K, _V]:
    """``table``, or a fresh dict in place of the shared empty stand-in."""
    return {} if table is _NO_ENTRIES else table
