"""What the transaction machines emit: actions for the layer, events for the TU.

Theory of operation
-------------------

A transaction machine never sends anything and never calls anybody. Every input
method returns a list of *outputs*, in the order they must be carried out. Each
output is a frozen dataclass deriving from :class:`TransactionOutput`:

* **Actions** (imperative names) tell the transaction layer what to do with a
  message: :class:`SendRequest`, :class:`SendAck`, :class:`SendResponse`, and
  hand a message to the transaction user: :class:`PassRequestToTU`,
  :class:`PassResponseToTU`.
* **Events** (past-tense names) report what happened: :class:`TransactionTimedOut`,
  :class:`TransportErrorOccurred`, :class:`TransactionTerminated`,
  :class:`InputDiscarded`, :class:`NoAckReceived`.

Messages are opaque to the machines: they carry whatever handle the caller gave
them (parsed ``Request``/``Response`` objects in the layer, plain strings in the
tests), hence the type parameters.

Output hierarchy::

    TransactionOutput
    ├── SendRequest[RequestT]         pass the request to the transport
    ├── SendAck[ResponseT]            build the ACK for this non-2xx, send it
    ├── SendResponse[ResponseT]       pass the response to the transport
    ├── PassRequestToTU[RequestT]     give the request (or an ACK) to the TU
    ├── PassResponseToTU[ResponseT]   give the response to the TU
    ├── TransactionTimedOut           Timer B/F (treat as 408) or H fired
    ├── TransportErrorOccurred        the transport failed (treat as 503)
    ├── TransactionTerminated         the machine reached "Terminated"
    ├── InputDiscarded                a remote input the table does not allow
    └── NoAckReceived                 2xx retransmitted 64*T1 without an ACK
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from websip.transaction.timers import TimerName

__all__ = [
    "ClientOutput",
    "InputDiscarded",
    "NoAckReceived",
    "PassRequestToTU",
    "PassResponseToTU",
    "RequestT",
    "ResponseT",
    "SendAck",
    "SendRequest",
    "SendResponse",
    "ServerOutput",
    "TransactionOutput",
    "TransactionTerminated",
    "TransactionTimedOut",
    "TransportErrorOccurred",
]

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionOutput:
    """Base class of everything a transaction machine emits."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SendRequest(TransactionOutput, Generic[RequestT]):
    """Pass the request to the transport layer (RFC 3261 17.1.1.2, 17.1.2.2)."""

    request: RequestT
    """The request the transaction was created with."""
    retransmission: bool
    """False for the first transmission, True when Timer A or E fired."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SendAck(TransactionOutput, Generic[ResponseT]):
    """Build the ACK for a non-2xx final response and send it (RFC 3261 17.1.1.3).

    The INVITE client transaction decides *when* an ACK goes out; the layer,
    which knows the message syntax, builds it from the original request and
    ``response``. The ACK of a 2xx is never sent by a transaction: it belongs to
    the TU (RFC 3261 13.2.2.4, RFC 6026 7.2).
    """

    response: ResponseT
    """The 300-699 final response being acknowledged (the first one received)."""
    retransmission: bool
    """True when a retransmitted final response triggered the ACK again."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SendResponse(TransactionOutput, Generic[ResponseT]):
    """Pass the response to the transport layer (RFC 3261 17.2.1, 17.2.2)."""

    response: ResponseT
    """The response to send."""
    retransmission: bool
    """True when the transaction re-sends a response it sent before (a request
    retransmission arrived, or Timer G fired, or the 2xx retransmitter fired)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PassRequestToTU(TransactionOutput, Generic[RequestT]):
    """Give a request to the transaction user.

    Emitted once when a server transaction is created (RFC 3261 17.2.1, 17.2.2),
    and for each ACK an INVITE server transaction receives in "Accepted"
    (RFC 6026 7.1: the ACK of a 2xx belongs to the TU).
    """

    request: RequestT
    """The request (or ACK) received."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PassResponseToTU(TransactionOutput, Generic[ResponseT]):
    """Give a response to the transaction user (RFC 3261 17.1.1.2, 17.1.2.2)."""

    response: ResponseT
    """The response received."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionTimedOut(TransactionOutput):
    """A transaction timer gave up.

    Timer B (INVITE) or F (non-INVITE) on a client transaction: no final response
    arrived; the TU treats it as a 408 (Request Timeout) (RFC 3261 8.1.3.1).
    Timer H on an INVITE server transaction: no ACK arrived for a non-2xx final
    response (RFC 3261 17.2.1, "a transaction failure has occurred").
    """

    timer: TimerName
    """The timer that fired: B, F or H."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TransportErrorOccurred(TransactionOutput):
    """The transport failed to deliver a message of this transaction.

    The TU treats it on a client transaction as a 503 (Service Unavailable)
    (RFC 3261 8.1.3.1); JsSIP reports it as ``CONNECTION_ERROR``.
    """


@dataclass(frozen=True, kw_only=True, slots=True)
class TransactionTerminated(TransactionOutput):
    """The machine entered "Terminated"; the layer must destroy it now.

    RFC 3261 17.1.1.2, 17.1.2.2, 17.2.1, 17.2.2: "MUST be destroyed the instant
    it enters the Terminated state". Always the last output of its list.
    """


@dataclass(frozen=True, kw_only=True, slots=True)
class InputDiscarded(TransactionOutput):
    """A message from the network arrived that the current state does not take.

    Examples: a 1xx after the final response, an ACK before any final response,
    anything for a terminated transaction. RFC 3261 drops such messages; the
    machine reports them instead of dropping them silently, so the layer can log.
    """

    state: str
    """Name of the state the machine was in (e.g. ``"COMPLETED"``)."""
    trigger: str
    """Name of the input that was refused (e.g. ``"RECV_1XX"``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class NoAckReceived(TransactionOutput):
    """The UAS retransmitted a 2xx for 64*T1 and no ACK came (RFC 3261 13.3.1.4).

    "the dialog is confirmed, but the session SHOULD be terminated. This is
    accomplished with a BYE".
    """


ClientOutput: TypeAlias = (
    SendRequest[RequestT]
    | SendAck[ResponseT]
    | PassResponseToTU[ResponseT]
    | TransactionTimedOut
    | TransportErrorOccurred
    | TransactionTerminated
    | InputDiscarded
)
"""Everything a client transaction (ICT, NICT) can emit."""

ServerOutput: TypeAlias = (
    PassRequestToTU[RequestT]
    | SendResponse[ResponseT]
    | TransactionTimedOut
    | TransportErrorOccurred
    | TransactionTerminated
    | InputDiscarded
)
"""Everything a server transaction (IST, NIST) can emit."""
