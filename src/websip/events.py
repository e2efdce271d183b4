"""Typed events of the sans-I/O core (what ``Core.next_event()`` returns).

Frozen, keyword-only dataclasses with past-tense names (STYLE.md habit 8). They
carry parsed messages and plain values, never I/O handles.

::

    Event
    ├── RequestReceived        a new request for the application (answer it)
    ├── AckReceived            the ACK of a 2xx we sent (RFC 6026: the TU's)
    ├── RequestCancelled       a CANCEL matched an INVITE we had not answered
    ├── ResponseReceived       a provisional or final response to our request
    ├── RequestFailed          our request ended without a response (timeout,
    │                          connection error, authentication loop)
    ├── AckTimedOut            a 2xx we sent got no ACK within 64*T1
    └── MessageDropped         input that was dropped (logged, never raised)
"""

from __future__ import annotations

from dataclasses import dataclass

from .sip import Request, Response

__all__ = [
    "AckReceived",
    "AckTimedOut",
    "Event",
    "MessageDropped",
    "RequestCancelled",
    "RequestFailed",
    "RequestReceived",
    "ResponseReceived",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Base class of the core's events."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestReceived(Event):
    """A request that passed the sanity checks and is not a retransmission.

    Answer it with ``Core.send_response(transaction_id, response, now)``
    (ACK has nothing to answer).
    """

    request: Request
    """The request, parsed."""
    transaction_id: str
    """The server transaction to answer through."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AckReceived(Event):
    """An ACK for a 2xx response (RFC 3261 13.3.1.4; it ends 2xx retransmission)."""

    request: Request


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestCancelled(Event):
    """A CANCEL arrived for an INVITE still unanswered; the core has answered the
    CANCEL with 200 and the INVITE with 487 (RFC 3261 9.2)."""

    request: Request
    """The INVITE that was cancelled."""
    transaction_id: str
    cancel: Request
    """The CANCEL itself (its Reason header may say why, RFC 3326)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseReceived(Event):
    """A response to a request sent with ``Core.send_request``."""

    response: Response
    request: Request
    """The request this answers (after authentication, the last one sent)."""
    transaction_id: str
    """The id ``send_request`` returned (stable across authentication retries)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestFailed(Event):
    """A request sent with ``Core.send_request`` ended without a final response,
    or with a challenge we could not answer."""

    request: Request
    transaction_id: str
    cause: str
    """One of :mod:`websip.causes` (REQUEST_TIMEOUT, CONNECTION_ERROR,
    AUTHENTICATION_ERROR)."""
    response: Response | None = None
    """The response behind the failure, when there is one (a 401 that looped)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AckTimedOut(Event):
    """A 2xx to INVITE was retransmitted for 64*T1 without an ACK (13.3.1.4):
    the session should be ended with BYE."""

    response: Response
    transaction_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageDropped(Event):
    """Input the core dropped: unparseable, a stray response, a bad response."""

    reason: str
    data: bytes
