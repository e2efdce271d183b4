"""The non-INVITE server transaction (RFC 3261 17.2.2).

Theory of operation
-------------------

The layer creates the transaction with :meth:`ServerNonInviteTransaction.start`
when a request other than INVITE and ACK arrives that matches no transaction
(RFC 3261 17.2.3); CANCEL gets one too, the matching INVITE transaction is the
layer's business (RFC 3261 9.2). It enters "Trying" and passes the request to
the TU. From then on the machine moves only when one of its inputs arrives:

* a retransmission of the request, through
  :meth:`~ServerNonInviteTransaction.receive_request` (``RECV_REQUEST``);
* a response from the TU, through :meth:`~ServerNonInviteTransaction.send_response`
  (``SEND_1XX``, ``SEND_200_699``);
* Timer J, through :meth:`~ServerNonInviteTransaction.handle_timer`;
* a transport failure, through :meth:`~ServerNonInviteTransaction.transport_error`.

Each input is looked up in :data:`TRANSITIONS`, ``(state, input) -> (next
state, actions)``; the symbolic actions become the typed outputs of
:mod:`websip.transaction.events`, returned as a list in order. Entering
"Terminated" appends :class:`~websip.transaction.events.TransactionTerminated`.

What is not in the table: the network cannot put this machine in a state where
a retransmission is refused, except "Terminated" (reported with
:class:`~websip.transaction.events.InputDiscarded`); a local input the state does
not take raises :class:`~websip.exceptions.LocalProtocolError` and sends nothing.
That includes a second final response: RFC 3261 17.2.2 says "Any other final
responses passed by the TU to the server transaction MUST be discarded while in
the Completed state"; it is discarded, and the TU learns of its mistake.

The server never retransmits on a timer: it re-sends its last response only
when the request is retransmitted. Over a reliable transport Timer J is zero,
so the transaction ends as soon as the final response is sent.

Deviation from Figure 8, explained at its entry: a transport error in "Trying"
ends the transaction like one in "Proceeding" (over a connection-oriented
transport the response could never be delivered).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Generic, TypeAlias

from websip.exceptions import LocalProtocolError
from websip.transaction._timerset import TimerSet
from websip.transaction.events import (
    InputDiscarded,
    PassRequestToTU,
    RequestT,
    ResponseT,
    SendResponse,
    ServerOutput,
    TransactionTerminated,
    TransportErrorOccurred,
)
from websip.transaction.timers import TimerName, TimerValues

__all__ = [
    "REMOTE_INPUTS",
    "STATE_TIMERS",
    "TRANSITIONS",
    "Action",
    "Input",
    "ServerNonInviteTransaction",
    "State",
]


class State(enum.Enum):
    """The states of Figure 8 (RFC 3261 17.2.2)."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """What can move the machine."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    RECV_REQUEST = "Request"  # the request again (a retransmission)
    SEND_1XX = "1xx from TU"  # provisional response from the TU
    SEND_200_699 = "200-699 from TU"  # final response from the TU
    TIMER_J = "Timer J"  # stop absorbing request retransmissions
    TRANSPORT_ERROR = "Trnsprt Err"  # the transport could not send


# Inputs that come from the network: refused ones are reported, never raised.
REMOTE_INPUTS: Final = frozenset({Input.RECV_REQUEST})


class Action(enum.Enum):
    """Symbolic actions of the table, turned into outputs by the machine."""

    SEND_RESPONSE = "send response"  # SendResponse; remembered for retransmission
    RETRANSMIT_RESPONSE = "re-send response"  # the most recent response
    START_TIMER_J = "start J"  # entering Completed
    INFORM_TU_TRANSPORT_ERROR = "Inform TU"  # TransportErrorOccurred


Transition: TypeAlias = tuple[State, tuple[Action, ...]]

# RFC 3261 17.2.2, Figure 8, non-INVITE server transaction:
#
#                                   |Request received
#                                   |pass to TU
#                                   V
#                             +-----------+
#                             |           |
#                             | Trying    |-------------+
#                             |           |             |
#                             +-----------+             |200-699 from TU
#                                   |                   |send response
#                                   |1xx from TU        |
#                                   |send response      |
#                                   |                   |
#                Request            V      1xx from TU  |
#                send response+-----------+send response|
#                    +--------|           |--------+    |
#                    |        | Proceeding|        |    |
#                    +------->|           |<-------+    |
#             +<--------------|           |             |
#             |Trnsprt Err    +-----------+             |
#             |Inform TU            |                   |
#             |                     |                   |
#             |                     |200-699 from TU    |
#             |                     |send response      |
#             |  Request            V                   |
#             |  send response+-----------+             |
#             |      +--------|           |             |
#             |      |        | Completed |<------------+
#             |      +------->|           |
#             +<--------------|           |
#             |Trnsprt Err    +-----------+
#             |Inform TU            |
#             |                     |Timer J fires
#             |                     |-
#             |                     |
#             |                     V
#             |               +-----------+
#             |               |           |
#             +-------------->| Terminated|
#                             |           |
#                             +-----------+
_TR, _P, _CO, _T = State.TRYING, State.PROCEEDING, State.COMPLETED, State.TERMINATED
TRANSITIONS: Final[Mapping[tuple[State, Input], Transition]] = MappingProxyType(
    {
        # -- Trying (RFC 3261 17.2.2) -----------------------------------------
        # "Once in the Trying state, any further request retransmissions are
        # discarded."
        (_TR, Input.RECV_REQUEST): (_TR, ()),
        # "While in the Trying state, if the TU passes a provisional response to
        # the server transaction, the server transaction MUST enter the
        # Proceeding state. The response MUST be passed to the transport layer".
        (_TR, Input.SEND_1XX): (_P, (Action.SEND_RESPONSE,)),
        # Figure 8: "200-699 from TU / send response" straight to Completed,
        # which sets "Timer J to fire in 64*T1 seconds for unreliable
        # transports, and zero seconds for reliable transports".
        (_TR, Input.SEND_200_699): (_CO, (Action.SEND_RESPONSE, Action.START_TIMER_J)),
        # Deviation: Figure 8 has no transport error out of Trying (nothing has
        # been sent yet). A connection-oriented transport that lost the
        # connection can never deliver the response (RFC 3261 18.2.2, RFC 7118),
        # so the TU is told now rather than when it answers.
        (_TR, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Proceeding -------------------------------------------------------
        # "If a retransmission of the request is received while in the
        # Proceeding state, the most recently sent provisional response MUST be
        # passed to the transport layer for retransmission."
        (_P, Input.RECV_REQUEST): (_P, (Action.RETRANSMIT_RESPONSE,)),
        # "Any further provisional responses that are received from the TU while
        # in the Proceeding state MUST be passed to the transport layer".
        (_P, Input.SEND_1XX): (_P, (Action.SEND_RESPONSE,)),
        # "If the TU passes a final response (status codes 200-699) to the server
        # while in the Proceeding state, the transaction MUST enter the Completed
        # state, and the response MUST be passed to the transport layer".
        (_P, Input.SEND_200_699): (_CO, (Action.SEND_RESPONSE, Action.START_TIMER_J)),
        # Figure 8: "Trnsprt Err / Inform TU" to Terminated; RFC 3261 17.2.4.
        (_P, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Completed --------------------------------------------------------
        # "While in the Completed state, the server transaction MUST pass the
        # final response to the transport layer for retransmission whenever a
        # retransmission of the request is received."
        (_CO, Input.RECV_REQUEST): (_CO, (Action.RETRANSMIT_RESPONSE,)),
        # "The server transaction remains in this state until Timer J fires, at
        # which point it MUST transition to the Terminated state."
        (_CO, Input.TIMER_J): (_T, ()),
        (_CO, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
    }
)

# The timers each state runs; every transition cancels the others.
STATE_TIMERS: Final[Mapping[State, frozenset[TimerName]]] = MappingProxyType(
    {
        State.TRYING: frozenset(),
        State.PROCEEDING: frozenset(),
        State.COMPLETED: frozenset({TimerName.J}),
        State.TERMINATED: frozenset(),
    }
)


def classify_response(status_code: int) -> Input:
    """The input sending a response with ``status_code`` is.

    Raises:
        LocalProtocolError: the status code is outside 100-699.
    """
    if 100 <= status_code <= 199:
        return Input.SEND_1XX
    if 200 <= status_code <= 699:
        return Input.SEND_200_699
    raise LocalProtocolError(f"cannot send a response with status code {status_code}")


class ServerNonInviteTransaction(Generic[RequestT, ResponseT]):
    """One non-INVITE server transaction (any method but INVITE and ACK).

    Create it with :meth:`start`. Then feed it retransmissions of the request,
    the TU's responses, timer expiries and transport errors; carry out the
    outputs each call returns, in order; re-arm your timer from
    :meth:`get_timer` after every call.

    Attributes:
        request: the request handle given at creation (opaque to the machine).
        reliable: whether the transport is reliable (WebSocket, TCP, TLS).
        timers: the timer values in use.
    """

    __slots__ = ("_last_response", "_state", "_timers", "reliable", "request", "timers")

    def __init__(
        self,
        request: RequestT,
        *,
        timers: TimerValues,
        reliable: bool,
    ) -> None:
        """Enter "Trying" without emitting anything; prefer :meth:`start`."""
        self.request: RequestT = request
        self.timers = timers
        self.reliable = reliable
        self._state = State.TRYING
        # The most recent response passed to the transport: what a request
        # retransmission re-sends.
        self._last_response: ResponseT | None = None
        self._timers = TimerSet()

    @classmethod
    def start(
        cls,
        request: RequestT,
        *,
        timers: TimerValues | None = None,
        reliable: bool = True,
    ) -> tuple[
        ServerNonInviteTransaction[RequestT, ResponseT], list[ServerOutput[RequestT, ResponseT]]
    ]:
        """Create the transaction for a new request ("Request received / pass to TU").

        Args:
            request: the request (not INVITE, not ACK), as any handle.
            timers: T1/T2/T4 values; RFC 3261 defaults when None.
            reliable: True for WebSocket/TCP/TLS (J = 0), False for UDP.

        Returns:
            The transaction, in "Trying", and its first output:
            ``PassRequestToTU``. Next, answer with :meth:`send_response`
            ("TUs SHOULD respond immediately to non-INVITE requests", 17.1).
        """
        txn: ServerNonInviteTransaction[RequestT, ResponseT] = cls(
            request, timers=timers or TimerValues(), reliable=reliable
        )
        return txn, [PassRequestToTU(request=request)]

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def deadlines(self) -> Mapping[TimerName, float]:
        """The armed timers and when they fire (read-only)."""
        return self._timers.deadlines

    def get_timer(self) -> float | None:
        """The earliest deadline; call :meth:`handle_timer` then. None: no timer."""
        return self._timers.earliest()

    def receive_request(self, now: float) -> list[ServerOutput[RequestT, ResponseT]]:
        """Feed a retransmission of the request (matched by RFC 3261 17.2.3)."""
        return self._process(Input.RECV_REQUEST, now, None)

    def send_response(
        self, response: ResponseT, status_code: int, now: float
    ) -> list[ServerOutput[RequestT, ResponseT]]:
        """Send a response of the TU through the transaction.

        Args:
            response: the response handle, passed to the transport as is.
            status_code: its status code, which selects the input.
            now: the current monotonic time, in seconds.

        Raises:
            LocalProtocolError: a response after the final one, or a status
                code outside 100-699.
        """
        return self._process(classify_response(status_code), now, response)

    def handle_timer(self, now: float) -> list[ServerOutput[RequestT, ResponseT]]:
        """Fire Timer J if due at ``now`` (early calls are harmless)."""
        outputs: list[ServerOutput[RequestT, ResponseT]] = []
        while self._timers.pop_due(now) is not None:
            # Timer J is the only timer of this machine.
            outputs += self._process(Input.TIMER_J, now, None)
        return outputs

    def transport_error(self, now: float) -> list[ServerOutput[RequestT, ResponseT]]:
        """Report that the transport failed to send a response (RFC 3261 17.2.4).

        Raises:
            LocalProtocolError: the transaction is already terminated.
        """
        return self._process(Input.TRANSPORT_ERROR, now, None)

    def _process(
        self, trigger: Input, now: float, response: ResponseT | None
    ) -> list[ServerOutput[RequestT, ResponseT]]:
        transition = TRANSITIONS.get((self._state, trigger))
        if transition is None:
            if trigger in REMOTE_INPUTS:
                return [InputDiscarded(state=self._state.name, trigger=trigger.name)]
            raise LocalProtocolError(
                f"non-INVITE server transaction in state {self._state.name} "
                f"cannot take {trigger.name}"
            )
        next_state, actions = transition
        self._state = next_state
        self._timers.keep_only(STATE_TIMERS[next_state])
        outputs: list[ServerOutput[RequestT, ResponseT]] = []
        for action in actions:
            outputs += self._execute(action, now, response)
        if next_state is State.TERMINATED:
            outputs.append(TransactionTerminated())
        return outputs

    def _execute(
        self, action: Action, now: float, response: ResponseT | None
    ) -> list[ServerOutput[RequestT, ResponseT]]:
        match action:
            case Action.SEND_RESPONSE:
                assert response is not None  # only SEND_* inputs trigger this action
                self._last_response = response
                return [SendResponse(response=response, retransmission=False)]
            case Action.RETRANSMIT_RESPONSE:
                # Reached only from Proceeding and Completed, where a response
                # has been sent.
                assert self._last_response is not None
                return [SendResponse(response=self._last_response, retransmission=True)]
            case Action.START_TIMER_J:
                self._timers.start(TimerName.J, now, self.timers.timer_j(reliable=self.reliable))
                return []
            case Action.INFORM_TU_TRANSPORT_ERROR:  # pragma: no branch - enum exhausted
                return [TransportErrorOccurred()]
