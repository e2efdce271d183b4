"""The transaction layer: owns the machines, matches messages to them, builds ACKs.

Theory of operation
-------------------

The :class:`TransactionLayer` sits between the transport (bytes <-> parsed
messages, done by the core) and the transaction user (dialogs and usages). It
owns one machine per live transaction and does the work RFC 3261 gives the
transaction layer outside the four state machines:

* **Matching responses** to client transactions (RFC 3261 17.1.3): the branch of
  the top Via plus the CSeq method, so a CANCEL, which shares its INVITE's
  branch, is its own transaction. A response that matches nothing is discarded
  (RFC 6026 8.9 changed RFC 3261 18.1.2: stray responses no longer reach the core).
* **Matching requests** to server transactions (RFC 3261 17.2.3): branch,
  sent-by and method of the top Via when the branch carries the magic cookie
  ``z9hG4bK``; an ACK matches the INVITE transaction; a CANCEL gets its own
  non-INVITE transaction, and the transaction it cancels is found by the same
  rule with any method but CANCEL and ACK (RFC 3261 9.2). Without the cookie,
  the RFC 2543 rules apply: Request-URI, To tag, From tag, Call-ID, CSeq and top
  Via, with the ACK's To tag compared to the tag of the response sent.
* **Building the ACK** of a 300-699 response (RFC 3261 17.1.1.3, :func:`build_ack`)
  when the INVITE client transaction asks for it, and the CANCEL of a request
  (RFC 3261 9.1, :func:`build_cancel`) for the TU.
* **The Via** of requests the TU sends (RFC 3261 8.1.1.7, 18.1.1): the dialog
  and usages build requests without one; the layer adds
  ``SIP/2.0/<via_transport> <via_host>;branch=...``, the branch being
  ``z9hG4bK`` plus 96 bits from the injected random source ("unique across
  space and time"). A request that already has a top Via keeps it (a CANCEL
  copies its INVITE's, RFC 3261 9.1) and only gets a branch if it lacks one.
* **Time**: :meth:`TransactionLayer.get_timer` is the earliest deadline over
  every machine; :meth:`TransactionLayer.handle_timer` fires the due ones.
* **Transport loss**: :meth:`TransactionLayer.transport_error` feeds a transport
  error to every live transaction at once, so nothing in flight hangs.

Every method returns a list of :class:`LayerEvent`, in the order they happened:
:class:`SendMessage` for the transport, :class:`RequestReceived`,
:class:`ResponseReceived` and :class:`TransactionFailed` for the TU,
:class:`TransactionEnded` when a machine was destroyed, and
:class:`MessageDiscarded` for anything dropped (for logging). Nothing is sent or
delivered behind the caller's back, and a message from the network never
raises: it is matched, handed over, or discarded with a reason.

The layer knows no time and does no I/O: it takes ``now`` on every call and is
driven by the core's single timer.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeVar

from websip.exceptions import LocalProtocolError, ParseError
from websip.sip.headers import Via
from websip.sip.message import Request, Response
from websip.transaction.events import (
    ClientOutput,
    InputDiscarded,
    PassRequestToTU,
    PassResponseToTU,
    SendAck,
    SendRequest,
    SendResponse,
    ServerOutput,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from websip.transaction.ict import ClientInviteTransaction
from websip.transaction.ist import ServerInviteTransaction
from websip.transaction.nict import ClientNonInviteTransaction
from websip.transaction.nist import ServerNonInviteTransaction
from websip.transaction.timers import TimerName, TimerValues

__all__ = [
    "BRANCH_COOKIE",
    "ClientTransactionKey",
    "FailureReason",
    "LayerEvent",
    "LegacyServerTransactionKey",
    "MessageDiscarded",
    "RandomSource",
    "RequestReceived",
    "ResponseReceived",
    "SendMessage",
    "ServerKey",
    "ServerTransactionKey",
    "TransactionEnded",
    "TransactionFailed",
    "TransactionKey",
    "TransactionLayer",
    "build_ack",
    "build_cancel",
]

# RFC 3261 8.1.1.7: "The branch ID inserted by an element compliant with this
# specification MUST always begin with the characters "z9hG4bK"."
BRANCH_COOKIE: Final = "z9hG4bK"

# 96 random bits after the cookie: far beyond the 64 the collision risk of a busy
# server needs, and short enough to keep Via lines readable.
BRANCH_RANDOM_BYTES: Final = 12

RandomSource: TypeAlias = Callable[[int], bytes]
"""``random(n)`` returns ``n`` random bytes: ``os.urandom``, ``secrets.token_bytes``,
or ``random.Random(seed).randbytes`` in tests."""


# -- keys ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientTransactionKey:
    """What identifies a client transaction (RFC 3261 17.1.3)."""

    branch: str
    """The branch of the top Via of the request, lower-cased."""
    method: str
    """The request method (the CSeq method of its responses)."""

    @classmethod
    def for_message(cls, message: Request | Response) -> ClientTransactionKey:
        """The key of the request, or of the transaction a response belongs to.

        Raises:
            websip.ParseError: no top Via, no branch, or a bad CSeq.
        """
        via = message.via
        if via is None:
            raise ParseError("no Via", header="Via")
        if via.branch is None:
            raise ParseError("no branch in the top Via", header="Via")
        method = message.method if isinstance(message, Request) else message.cseq.method
        return cls(branch=via.branch.lower(), method=method)


@dataclass(frozen=True, slots=True)
class ServerTransactionKey:
    """What identifies a server transaction of an RFC 3261 client (RFC 3261 17.2.3)."""

    branch: str
    """The branch of the top Via, lower-cased (it starts with the magic cookie)."""
    sent_by: tuple[str, int | None]
    """The sent-by of the top Via: host (lower-cased) and port (None if absent)."""
    method: str
    """The method of the request that created the transaction (INVITE for its ACK)."""


@dataclass(frozen=True, slots=True)
class LegacyServerTransactionKey:
    """A server transaction of an RFC 2543 client (no magic cookie, RFC 3261 17.2.3).

    Such requests are matched field by field, so the key is only a handle.
    """

    serial: int
    """A number unique within the layer."""
    method: str
    """The method of the request that created the transaction."""


ServerKey: TypeAlias = ServerTransactionKey | LegacyServerTransactionKey
TransactionKey: TypeAlias = ClientTransactionKey | ServerKey


# -- events ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class LayerEvent:
    """Base class of what the transaction layer emits."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SendMessage(LayerEvent):
    """Pass this message to the transport, now, in this order."""

    message: Request | Response
    """The request, ACK, CANCEL or response to send."""
    retransmission: bool = False
    """True when it is a retransmission of something sent before."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestReceived(LayerEvent):
    """A request for the TU: a new request, or an ACK that is not the transaction's.

    A new request has a ``key``: answer it with ``send_response(key, ...)``. An
    ACK has a ``key`` when it matched an INVITE transaction in "Accepted"
    (RFC 6026 7.1), and None when it matched nothing (the usual ACK of a 2xx,
    which has a branch of its own, RFC 3261 13.2.2.4): it belongs to a dialog.
    """

    request: Request
    """The request."""
    key: ServerKey | None
    """The server transaction it created or matched; None for an unmatched ACK."""
    cancelled: ServerKey | None = None
    """For a CANCEL: the transaction it cancels (RFC 3261 9.2), or None if none
    matched (answer the CANCEL with 481 then)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseReceived(LayerEvent):
    """A response for the TU (RFC 3261 17.1.1.2, 17.1.2.2; RFC 6026 7.2)."""

    response: Response
    """The response."""
    key: ClientTransactionKey
    """The client transaction it belongs to."""


class FailureReason(enum.Enum):
    """Why a transaction failed (RFC 3261 8.1.3.1)."""

    TIMEOUT = "timeout"  # Timer B, F (treat as 408) or H (no ACK)
    TRANSPORT_ERROR = "transport error"  # treat as 503; JsSIP's CONNECTION_ERROR


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionFailed(LayerEvent):
    """A transaction failed; for a client transaction, no final response will come."""

    key: TransactionKey
    """The transaction."""
    reason: FailureReason
    """Timeout or transport error."""
    timer: TimerName | None = None
    """The timer that fired (B, F or H) for a timeout."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionEnded(LayerEvent):
    """The transaction reached "Terminated" and is gone; its key is free again."""

    key: TransactionKey
    """The transaction."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageDiscarded(LayerEvent):
    """A message from the network was dropped (log it; do not answer it)."""

    message: Request | Response
    """The message."""
    reason: str
    """Why, for the log."""


# -- message builders -----------------------------------------------------------


def build_ack(request: Request, response: Response) -> Request:
    """The ACK of a 300-699 final response to an INVITE (RFC 3261 17.1.1.3).

    Request-URI, Call-ID, From and the CSeq number come from the INVITE (the
    "original request"); To from the response, so it has the remote tag; the
    single Via is the INVITE's top Via (same branch: the ACK belongs to the
    INVITE transaction); Route is copied "to ensure that the ACK can be routed
    properly through any downstream stateless proxies". No body.

    The ACK of a 2xx is different (a new branch, the dialog's route set): the
    dialog builds that one (RFC 3261 13.2.2.4).
    """
    headers: list[tuple[str, str]] = [("Via", request.get_headers("Via")[0])]
    headers += [("Route", route) for route in request.get_headers("Route")]
    headers.append(("Max-Forwards", request.get_header("Max-Forwards") or "70"))
    headers.append(("From", request.get_header("From") or ""))
    headers.append(("To", response.get_header("To") or ""))
    headers.append(("Call-ID", request.call_id))
    headers.append(("CSeq", f"{request.cseq.seq} ACK"))
    return Request("ACK", request.ruri.copy(), headers)


def build_cancel(request: Request) -> Request:
    """The CANCEL of a pending request (RFC 3261 9.1).

    "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
    fields in the CANCEL request MUST be identical to those in the request being
    cancelled, including tags. A CANCEL constructed by a client MUST have only a
    single Via header field value matching the top Via value in the request being
    cancelled." Route is copied too. Send it with
    :meth:`TransactionLayer.send_request`: same branch, method CANCEL, so it is a
    transaction of its own (RFC 3261 17.1.3).
    """
    headers: list[tuple[str, str]] = [("Via", request.get_headers("Via")[0])]
    headers += [("Route", route) for route in request.get_headers("Route")]
    headers.append(("Max-Forwards", request.get_header("Max-Forwards") or "70"))
    headers.append(("From", request.get_header("From") or ""))
    headers.append(("To", request.get_header("To") or ""))
    headers.append(("Call-ID", request.call_id))
    headers.append(("CSeq", f"{request.cseq.seq} CANCEL"))
    return Request("CANCEL", request.ruri.copy(), headers)


# -- the layer -------------------------------------------------------------------

_ClientMachine: TypeAlias = (
    ClientInviteTransaction[Request, Response] | ClientNonInviteTransaction[Request, Response]
)
_ServerMachine: TypeAlias = (
    ServerInviteTransaction[Request, Response] | ServerNonInviteTransaction[Request, Response]
)

# The machines' constructors, bound once: subscripting a generic class and
# reading an attribute through the alias are typing calls (Python code), on
# every transaction otherwise.
_START_ICT: Final = ClientInviteTransaction[Request, Response].start
_START_NICT: Final = ClientNonInviteTransaction[Request, Response].start
_START_IST: Final = ServerInviteTransaction[Request, Response].start
_START_NIST: Final = ServerNonInviteTransaction[Request, Response].start


@dataclass(slots=True)
class _ServerEntry:
    machine: _ServerMachine
    request: Request
    # The To tag of the last response sent: RFC 2543 ACK matching compares it.
    to_tag: str | None = None


def _has_cookie(branch: str | None) -> bool:
    # RFC 3261 17.2.3: "If it is present and begins with the magic cookie". Field
    # values compare case-insensitively unless stated otherwise (RFC 3261 7.3.1).
    return branch is not None and branch.lower().startswith(BRANCH_COOKIE.lower())


class TransactionLayer:
    """Every live transaction of one user agent, and the rules that bind them.

    Args:
        timers: T1/T2/T4; RFC 3261 defaults when None.
        reliable: True for WebSocket/TCP/TLS, False for UDP (Timers A, E, G and
            the linger timers D, I, J, K depend on it).
        random: ``random(n) -> n bytes``, the source of branch values.
        send_trying: whether a new INVITE server transaction sends 100 (Trying)
            at once (RFC 3261 17.2.1 requires it unless the TU answers in 200 ms).
        via_host: the sent-by host of the Via the layer adds to requests that
            have none (``Configuration.via_host``: a random ``*.invalid`` name,
            RFC 7118 5). None: requests must come with a Via.
        via_transport: the Via transport, ``"WSS"`` or ``"WS"`` (RFC 7118 5.1);
            an attribute, to be updated on each new connection
            (``Configuration.via_transport(server)``).

    Raises:
        LocalProtocolError: ``via_host`` or ``via_transport`` cannot be written
            in a Via.

    Next: feed parsed messages to :meth:`receive_message`, requests of the TU to
    :meth:`send_request`, responses of the TU to :meth:`send_response`; carry
    out the returned events in order; re-arm the one timer from
    :meth:`get_timer` after every call and call :meth:`handle_timer` when due.
    """

    # Slots: thousands of UAs share one process (see bench/README.md).
    __slots__ = (
        "_by_branch",
        "_clients",
        "_last_serial",
        "_random",
        "_servers",
        "reliable",
        "send_trying",
        "timers",
        "via_host",
        "via_transport",
    )

    def __init__(
        self,
        *,
        timers: TimerValues | None = None,
        reliable: bool = True,
        random: RandomSource = os.urandom,
        send_trying: bool = True,
        via_host: str | None = None,
        via_transport: str = "WSS",
    ) -> None:
        self.timers = timers or TimerValues()
        self.reliable = reliable
        self.send_trying = send_trying
        self.via_host = via_host
        self.via_transport = via_transport
        self._random = random
        if via_host is not None:
            self._make_via()  # fail now, not at the first request
        # Thousands of idle layers share a process: none holds a table of its own
        # until a transaction starts (the shared empty one is never written to).
        self._clients: dict[ClientTransactionKey, _ClientMachine] = _NO_ENTRIES
        self._servers: dict[ServerKey, _ServerEntry] = _NO_ENTRIES
        # (branch, sent-by) -> the RFC 3261 server keys sharing them, for CANCEL.
        self._by_branch: dict[tuple[str, tuple[str, int | None]], list[ServerTransactionKey]] = (
            _NO_ENTRIES
        )
        self._last_serial = 0

    # -- identifiers ----------------------------------------------------------

    def new_branch(self) -> str:
        """A fresh branch: ``z9hG4bK`` and 96 random bits in hex (RFC 3261 8.1.1.7)."""
        return BRANCH_COOKIE + self._random(BRANCH_RANDOM_BYTES).hex()

    def _make_via(self) -> Via:
        assert self.via_host is not None
        text = f"SIP/2.0/{self.via_transport} {self.via_host};branch={self.new_branch()}"
        try:
            return Via.parse(text)
        except ParseError as exc:
            raise LocalProtocolError(f"cannot write a Via from {text!r}: {exc}") from None

    def _via_prefix(self) -> str:
        """``SIP/2.0/<transport> <host>`` as our Via writes it, checked.

        Nothing is kept (thousands of layers share a process): the text is
        parsed each time, and written back only when the parser changed it
        (a lower-cased host, brackets around IPv6...).
        """
        transport, host = self.via_transport, self.via_host
        assert host is not None
        text = f"SIP/2.0/{transport} {host}"
        try:
            via = Via.parse(text)
        except ParseError as exc:
            raise LocalProtocolError(f"cannot write a Via from {text!r}: {exc}") from None
        if via.host == host and via.port is None and via.transport == transport:
            return text
        return str(via)

    def _stamp_via(self, request: Request) -> str | None:
        """Give ``request`` a top Via with a branch (RFC 3261 8.1.1.7).

        Returns the branch when the Via is a new one of ours (the common case:
        the caller then knows the branch without parsing the Via again).
        """
        vias = request.get_headers("Via")
        if not vias:
            if self.via_host is None:
                raise LocalProtocolError("a request needs a Via (or the layer a via_host)")
            branch = self.new_branch()
            request.add_header("Via", f"{self._via_prefix()};branch={branch}", first=True)
            return branch
        try:
            top = Via.parse(vias[0])
        except ParseError as exc:
            raise LocalProtocolError(f"the request's top Via is malformed: {exc}") from None
        if top.branch is None:
            top.set_param("branch", self.new_branch())
            request.pop_header("Via")
            request.add_header("Via", str(top), first=True)
        return None

    # -- introspection --------------------------------------------------------

    def client_transaction(self, key: ClientTransactionKey) -> _ClientMachine | None:
        """The machine of a live client transaction (for inspection), or None."""
        return self._clients.get(key)

    def server_transaction(self, key: ServerKey) -> _ServerMachine | None:
        """The machine of a live server transaction (for inspection), or None."""
        entry = self._servers.get(key)
        return entry.machine if entry is not None else None

    def __len__(self) -> int:
        """The number of live transactions."""
        return len(self._clients) + len(self._servers)

    # -- client side ----------------------------------------------------------

    def send_request(
        self, request: Request, now: float
    ) -> tuple[ClientTransactionKey, list[LayerEvent]]:
        """Start a client transaction for a request of the TU.

        A request without a Via gets one (``via_transport``, ``via_host``, a new
        branch); a top Via without a branch gets a branch; a CANCEL keeps the
        Via of the request it cancels (:func:`build_cancel`). The request is
        changed in place.

        Returns:
            The transaction's key (responses and failures carry it) and the
            events: the first :class:`SendMessage`.

        Raises:
            LocalProtocolError: the request is an ACK (RFC 3261 17.1: "There is
                no client transaction for ACK"; use :meth:`send_stateless`), has
                no Via while the layer has no ``via_host``, or its key is
                already in use.
        """
        if request.method == "ACK":
            raise LocalProtocolError("an ACK has no client transaction; use send_stateless()")
        branch = self._stamp_via(request)
        if branch is not None:
            # What for_message would read back from the Via just written.
            key = ClientTransactionKey(branch=branch.lower(), method=request.method)
        else:
            key = ClientTransactionKey.for_message(request)
        if key in self._clients:
            raise LocalProtocolError(f"a client transaction {key} is already running")
        machine: _ClientMachine
        outputs: list[ClientOutput[Request, Response]]
        if request.method == "INVITE":
            machine, outputs = _START_ICT(
                request, timers=self.timers, reliable=self.reliable, now=now
            )
        else:
            machine, outputs = _START_NICT(
                request, timers=self.timers, reliable=self.reliable, now=now
            )
        self._clients = _own(self._clients)
        self._clients[key] = machine
        return key, self._client_events(key, machine, outputs, None)

    def send_stateless(self, message: Request | Response) -> list[LayerEvent]:
        """Pass a message straight to the transport, outside any transaction.

        For the ACK of a 2xx (RFC 3261 13.2.2.4: the UAC core sends it "directly
        to the transport layer"; it is a transaction of its own, so a request
        without a Via gets one with a new branch) and for stateless responses
        (RFC 3261 8.2.7).

        Raises:
            LocalProtocolError: a request without Via while the layer has no
                ``via_host``.
        """
        if isinstance(message, Request):
            self._stamp_via(message)
        return [SendMessage(message=message)]

    def receive_response(self, response: Response, now: float) -> list[LayerEvent]:
        """Match a response to its client transaction (RFC 3261 17.1.3) and feed it.

        Returns:
            The events; a :class:`MessageDiscarded` when nothing matches (RFC 6026
            8.9: "any element other than a stateless proxy MUST silently discard
            the response").
        """
        try:
            key = ClientTransactionKey.for_message(response)
        except ParseError as exc:
            return [MessageDiscarded(message=response, reason=f"unmatchable response: {exc}")]
        machine = self._clients.get(key)
        if machine is None:
            return [MessageDiscarded(message=response, reason="no matching client transaction")]
        outputs = machine.receive_response(response, response.status_code, now)
        return self._client_events(key, machine, outputs, response)

    # -- server side ----------------------------------------------------------

    def receive_request(self, request: Request, now: float) -> list[LayerEvent]:
        """Match a request to a server transaction (RFC 3261 17.2.3), or start one.

        Returns:
            The events: :class:`RequestReceived` for a new request (after the
            100 Trying of an INVITE), retransmitted responses for a
            retransmission, the ACK for the TU when it is not the
            transaction's, or :class:`MessageDiscarded`.
        """
        try:
            via = request.via
            cseq = request.cseq
        except ParseError as exc:
            return [MessageDiscarded(message=request, reason=f"unmatchable request: {exc}")]
        if via is None:
            return [MessageDiscarded(message=request, reason="unmatchable request: no Via")]
        if cseq.method != request.method:
            # RFC 3261 8.1.1.5: "The method MUST match that of the request";
            # sanity checks answer such a request 400 before it gets here.
            return [MessageDiscarded(message=request, reason="CSeq method differs from method")]
        if _has_cookie(via.branch):
            return self._receive_rfc3261(request, via, now)
        return self._receive_rfc2543(request, now)

    def send_response(self, key: ServerKey, response: Response, now: float) -> list[LayerEvent]:
        """Send a response of the TU through its server transaction.

        When the transaction is gone and the response is a 2xx to INVITE, it is
        passed straight to the transport: the TU keeps retransmitting it until
        the ACK (RFC 3261 13.3.1.4), possibly beyond Timer L.

        Raises:
            LocalProtocolError: no such transaction (for anything but a 2xx to
                INVITE), or the transaction refuses the response (a second final
                response, a 1xx after the final, ...).
        """
        entry = self._servers.get(key)
        if entry is None:
            if key.method == "INVITE" and 200 <= response.status_code <= 299:
                return [SendMessage(message=response, retransmission=True)]
            raise LocalProtocolError(f"no server transaction {key}")
        # Read before the machine moves, so a bad To raises with nothing changed.
        to_tag = response.to_tag if isinstance(key, LegacyServerTransactionKey) else None
        outputs = entry.machine.send_response(response, response.status_code, now)
        entry.to_tag = to_tag
        return self._server_events(key, entry, outputs, None)

    # -- both sides -----------------------------------------------------------

    def receive_message(self, message: Request | Response, now: float) -> list[LayerEvent]:
        """Feed a parsed message from the transport (a request or a response)."""
        if isinstance(message, Response):
            return self.receive_response(message, now)
        return self.receive_request(message, now)

    def transport_error(self, now: float) -> list[LayerEvent]:
        """The transport failed (the WebSocket closed): tell every live transaction.

        Client transactions waiting for a response fail with
        :class:`TransactionFailed` (``TRANSPORT_ERROR``) and end; server
        transactions follow their tables (RFC 3261 17.1.4, 17.2.4, RFC 6026 7.1).
        """
        events: list[LayerEvent] = []
        for key, machine in list(self._clients.items()):
            events += self._client_events(key, machine, machine.transport_error(now), None)
        for server_key, entry in list(self._servers.items()):
            outputs = entry.machine.transport_error(now)
            events += self._server_events(server_key, entry, outputs, None)
        return events

    def get_timer(self) -> float | None:
        """The earliest deadline over every transaction, or None."""
        # Runs after every input of the shell: a plain loop, no lists.
        earliest: float | None = None
        for machine in self._clients.values():
            deadline = machine.get_timer()
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        for entry in self._servers.values():
            deadline = entry.machine.get_timer()
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
        return earliest

    def handle_timer(self, now: float) -> list[LayerEvent]:
        """Fire every timer due at ``now`` (early calls are harmless)."""
        events: list[LayerEvent] = []
        for key, machine in list(self._clients.items()):
            deadline = machine.get_timer()
            if deadline is not None and deadline <= now:
                events += self._client_events(key, machine, machine.handle_timer(now), None)
        for server_key, entry in list(self._servers.items()):
            deadline = entry.machine.get_timer()
            if deadline is not None and deadline <= now:
                outputs = entry.machine.handle_timer(now)
                events += self._server_events(server_key, entry, outputs, None)
        return events

    # -- internals: RFC 3261 matching ----------------------------------------

    def _receive_rfc3261(self, request: Request, via: Via, now: float) -> list[LayerEvent]:
        assert via.branch is not None
        branch = via.branch.lower()
        # RFC 3261 17.2.3 rule 3: "the method of the request matches the one that
        # created the transaction, except for ACK, where the method of the
        # request that created the transaction is INVITE."
        method = "INVITE" if request.method == "ACK" else request.method
        key = ServerTransactionKey(branch=branch, sent_by=via.sent_by, method=method)
        entry = self._servers.get(key)
        if request.method == "ACK":
            if entry is None or not isinstance(entry.machine, ServerInviteTransaction):
                # The ACK of a 2xx has a branch of its own (RFC 3261 13.2.2.4):
                # no transaction, the dialog takes it.
                return [RequestReceived(request=request, key=None)]
            outputs = entry.machine.receive_ack(request, now)
            return self._server_events(key, entry, outputs, request)
        if entry is not None:
            return self._server_events(key, entry, entry.machine.receive_request(now), request)
        cancelled: ServerKey | None = None
        if request.method == "CANCEL":
            # RFC 3261 9.2: "assuming that the request method is anything but
            # CANCEL or ACK and applying the transaction matching procedures".
            cancelled = next(
                (k for k in self._by_branch.get((branch, via.sent_by), ()) if k.method != "CANCEL"),
                None,
            )
        self._by_branch = _own(self._by_branch)
        self._by_branch.setdefault((branch, via.sent_by), []).append(key)
        return self._start_server(key, request, now, cancelled)

    # -- internals: RFC 2543 matching ----------------------------------------

    def _receive_rfc2543(self, request: Request, now: float) -> list[LayerEvent]:
        if request.method == "ACK":
            match = self._find_legacy(request, ack=True)
            if match is None:
                return [RequestReceived(request=request, key=None)]
            key, entry = match
            assert isinstance(entry.machine, ServerInviteTransaction)
            outputs = entry.machine.receive_ack(request, now)
            return self._server_events(key, entry, outputs, request)
        match = self._find_legacy(request, ack=False)
        if match is not None:
            key, entry = match
            return self._server_events(key, entry, entry.machine.receive_request(now), request)
        cancelled: ServerKey | None = None
        if request.method == "CANCEL":
            found = self._find_legacy(request, ack=False, cancel=True)
            cancelled = found[0] if found is not None else None
        self._last_serial += 1
        legacy = LegacyServerTransactionKey(serial=self._last_serial, method=request.method)
        return self._start_server(legacy, request, now, cancelled)

    def _find_legacy(
        self, request: Request, *, ack: bool, cancel: bool = False
    ) -> tuple[LegacyServerTransactionKey, _ServerEntry] | None:
        """RFC 3261 17.2.3, the RFC 2543 rules, applied to every legacy transaction."""
        try:
            ruri = request.ruri
            top_via = request.via
            from_tag = request.from_tag
            to_tag = request.to_tag
            cseq = request.cseq
        except ParseError:
            return None
        for key, entry in self._servers.items():
            if not isinstance(key, LegacyServerTransactionKey):
                continue
            original = entry.request
            # Compared "based on the matching rules defined for each of those
            # header fields": URI equality (19.1.4), Via equality, exact tags.
            if (
                original.call_id != request.call_id
                or original.cseq.seq != cseq.seq
                or original.from_tag != from_tag
                or original.via != top_via
                or original.ruri != ruri
            ):
                continue
            if ack:
                # "the To tag of the ACK matches the To tag of the response sent
                # by the server transaction", and the transaction is an INVITE's.
                if key.method == "INVITE" and entry.to_tag == to_tag:
                    return key, entry
            elif cancel:
                # RFC 3261 9.2: any method but CANCEL and ACK.
                if key.method != "CANCEL" and original.to_tag == to_tag:
                    return key, entry
            elif key.method == request.method and original.to_tag == to_tag:
                return key, entry
        return None

    # -- internals: machines and their outputs --------------------------------

    def _start_server(
        self, key: ServerKey, request: Request, now: float, cancelled: ServerKey | None
    ) -> list[LayerEvent]:
        machine: _ServerMachine
        outputs: list[ServerOutput[Request, Response]]
        if request.method == "INVITE":
            trying = Response.for_request(request, 100) if self.send_trying else None
            machine, outputs = _START_IST(
                request, timers=self.timers, reliable=self.reliable, now=now, trying=trying
            )
        else:
            machine, outputs = _START_NIST(request, timers=self.timers, reliable=self.reliable)
        entry = _ServerEntry(machine=machine, request=request)
        self._servers = _own(self._servers)
        self._servers[key] = entry
        return self._server_events(key, entry, outputs, request, cancelled)

    def _client_events(
        self,
        key: ClientTransactionKey,
        machine: _ClientMachine,
        outputs: list[ClientOutput[Request, Response]],
        received: Response | None,
    ) -> list[LayerEvent]:
        events: list[LayerEvent] = []
        for output in outputs:
            match output:
                case SendRequest(request=request, retransmission=again):
                    events.append(SendMessage(message=request, retransmission=again))
                # (The cases are disjoint classes: the commonest come first.)
                case PassResponseToTU(response=response):
                    events.append(ResponseReceived(response=response, key=key))
                case TransactionTerminated():
                    del self._clients[key]
                    if not self._clients:
                        # An emptied dict keeps its table; an idle layer holds none.
                        self._clients = _NO_ENTRIES
                    events.append(TransactionEnded(key=key))
                case SendAck(response=response, retransmission=again):
                    ack = build_ack(machine.request, response)
                    events.append(SendMessage(message=ack, retransmission=again))
                case TransactionTimedOut(timer=timer):
                    events.append(
                        TransactionFailed(key=key, reason=FailureReason.TIMEOUT, timer=timer)
                    )
                case TransportErrorOccurred():
                    events.append(TransactionFailed(key=key, reason=FailureReason.TRANSPORT_ERROR))
                case InputDiscarded(state=state, trigger=trigger):  # pragma: no branch
                    assert received is not None  # only responses are refused
                    events.append(
                        MessageDiscarded(message=received, reason=f"{trigger} in {state}")
                    )
        return events

    def _server_events(
        self,
        key: ServerKey,
        entry: _ServerEntry,
        outputs: list[ServerOutput[Request, Response]],
        received: Request | None,
        cancelled: ServerKey | None = None,
    ) -> list[LayerEvent]:
        events: list[LayerEvent] = []
        for output in outputs:
            match output:
                case SendResponse(response=response, retransmission=again):
                    events.append(SendMessage(message=response, retransmission=again))
                case PassRequestToTU(request=request):
                    events.append(RequestReceived(request=request, key=key, cancelled=cancelled))
                case TransactionTerminated():
                    self._forget_server(key)
                    events.append(TransactionEnded(key=key))
                case TransactionTimedOut(timer=timer):
                    events.append(
                        TransactionFailed(key=key, reason=FailureReason.TIMEOUT, timer=timer)
                    )
                case TransportErrorOccurred():
                    events.append(TransactionFailed(key=key, reason=FailureReason.TRANSPORT_ERROR))
                case InputDiscarded(state=state, trigger=trigger):  # pragma: no branch
                    assert received is not None  # only requests are refused
                    events.append(
                        MessageDiscarded(message=received, reason=f"{trigger} in {state}")
                    )
        return events

    def _forget_server(self, key: ServerKey) -> None:
        del self._servers[key]
        if not self._servers:
            self._servers = _NO_ENTRIES
        if isinstance(key, ServerTransactionKey):
            siblings = self._by_branch[(key.branch, key.sent_by)]
            siblings.remove(key)
            if not siblings:
                del self._by_branch[(key.branch, key.sent_by)]
                if not self._by_branch:
                    self._by_branch = _NO_ENTRIES


_NO_ENTRIES: dict[Any, Any] = {}
_K = TypeVar("_K")
_V = TypeVar("_V")


def _own(table: dict[_K, _V]) -> dict[_K, _V]:
    """``table``, or a fresh dict in place of the shared empty stand-in."""
    return {} if table is _NO_ENTRIES else table
