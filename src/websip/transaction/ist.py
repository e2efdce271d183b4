"""The INVITE server transaction (RFC 3261 17.2.1, as updated by RFC 6026 7.1 and 8.5-8.7).

Theory of operation
-------------------

The layer creates the transaction with :meth:`ServerInviteTransaction.start`
when an INVITE arrives that matches no transaction (RFC 3261 17.2.3). It enters
"Proceeding", passes the INVITE to the TU and, when the layer hands it a
``trying`` response, sends that 100 (Trying) at once. From then on the machine
moves only when one of its inputs arrives:

* a retransmitted INVITE or an ACK matched to it by the layer, through
  :meth:`~ServerInviteTransaction.receive_request` (``RECV_REQUEST``) and
  :meth:`~ServerInviteTransaction.receive_ack` (``RECV_ACK``);
* a response from the TU, through :meth:`~ServerInviteTransaction.send_response`
  (``SEND_1XX``, ``SEND_2XX``, ``SEND_300_699``);
* a timer, through :meth:`~ServerInviteTransaction.handle_timer` (``TIMER_G``,
  ``TIMER_H``, ``TIMER_I``, ``TIMER_L``);
* a transport failure, through :meth:`~ServerInviteTransaction.transport_error`.

Each input is looked up in :data:`TRANSITIONS`, ``(state, input) -> (next
state, actions)``; the symbolic actions become the typed outputs of
:mod:`websip.transaction.events`, returned as a list in order. Entering
"Terminated" appends :class:`~websip.transaction.events.TransactionTerminated`.

What is not in the table: a message from the network the state does not take
(an ACK before any final response, an INVITE retransmission after the ACK)
yields :class:`~websip.transaction.events.InputDiscarded`; a local input the
state does not take (the TU sending a 1xx after the final response, a second
non-2xx, ...) raises :class:`~websip.exceptions.LocalProtocolError`, and nothing
is sent.

RFC 6026 in one paragraph: RFC 3261 ended the server transaction as soon as the
TU sent a 2xx, so a retransmitted INVITE arriving afterwards looked like a new
request. RFC 6026 adds "Accepted": after the 2xx the transaction lingers for
Timer L = 64*T1, absorbs INVITE retransmissions, passes every 2xx the TU sends
(the TU retransmits it, RFC 3261 13.3.1.4; see
:class:`~websip.transaction.retransmit.TwoHundredRetransmitter`) to the
transport, and passes any ACK that matches it up to the TU: the ACK of a 2xx
belongs to the dialog, not to the transaction.

Transport errors follow RFC 6026 Figure 7: in "Proceeding", "Completed" and
"Accepted" the TU is informed and the state does not change (RFC 3261 17.2.4 lets
the transport try a backup first; the TU decides what to do). "Confirmed" has
nothing in flight and absorbs them.
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
    TransactionTimedOut,
    TransportErrorOccurred,
)
from websip.transaction.timers import TimerName, TimerValues

__all__ = [
    "REMOTE_INPUTS",
    "STATE_TIMERS",
    "TRANSITIONS",
    "Action",
    "Input",
    "ServerInviteTransaction",
    "State",
]


class State(enum.Enum):
    """The states of Figure 7 (RFC 3261 17.2.1), plus "Accepted" (RFC 6026 7.1)."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """What can move the machine."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    RECV_REQUEST = "INVITE"  # the INVITE again (a retransmission)
    RECV_ACK = "ACK"  # an ACK matching this transaction
    SEND_1XX = "1xx from TU"  # provisional response from the TU
    SEND_2XX = "2xx from TU"  # success response from the TU
    SEND_300_699 = "300-699 from TU"  # redirection or failure response from the TU
    TIMER_G = "Timer G"  # retransmit the final response (unreliable transports)
    TIMER_H = "Timer H"  # give up waiting for the ACK
    TIMER_I = "Timer I"  # stop absorbing ACK retransmissions
    TIMER_L = "Timer L"  # stop absorbing INVITE retransmissions (RFC 6026)
    TRANSPORT_ERROR = "Transport Err."  # the transport could not send


# Inputs that come from the network: refused ones are reported, never raised.
REMOTE_INPUTS: Final = frozenset({Input.RECV_REQUEST, Input.RECV_ACK})


class Action(enum.Enum):
    """Symbolic actions of the table, turned into outputs by the machine."""

    SEND_RESPONSE = "send response"  # SendResponse; remembered for retransmission
    RETRANSMIT_RESPONSE = "re-send response"  # the most recent response, if any
    BACKOFF_TIMER_G = "reset G to MIN(2*G, T2)"  # RFC 3261 17.2.1
    START_TIMERS_G_H = "start G, H"  # entering Completed
    START_TIMER_I = "start I"  # entering Confirmed
    START_TIMER_L = "start L"  # entering Accepted (RFC 6026)
    PASS_ACK = "ACK to TU"  # PassRequestToTU(ACK), RFC 6026 Accepted
    INFORM_TU_TIMEOUT = "inform TU (Timer H)"  # TransactionTimedOut(timer=H)
    INFORM_TU_TRANSPORT_ERROR = "inform TU (transport)"  # TransportErrorOccurred


Transition: TypeAlias = tuple[State, tuple[Action, ...]]

# RFC 6026 7.1, Figure 7 (replaces RFC 3261 Figure 7), INVITE server transaction:
#
#                                     |INVITE
#                                     |pass INV to TU
#                  INVITE             V send 100 if TU won't in 200 ms
#                  send response+------------+
#                      +--------|            |--------+ 101-199 from TU
#                      |        |            |        | send response
#                      +------->|            |<-------+
#                               | Proceeding |
#                               |            |--------+ Transport Err.
#                               |            |        | Inform TU
#                               |            |<-------+
#                               +------------+
#                  300-699 from TU |    |2xx from TU
#                  send response   |    |send response
#                   +--------------+    +------------+
#                   |                                |
#  INVITE           V          Timer G fires         |
#  send response +-----------+ send response         |
#       +--------|           |--------+              |
#       |        |           |        |              |
#       +------->| Completed |<-------+      INVITE  |  Transport Err.
#                |           |               -       |  Inform TU
#       +--------|           |----+          +-----+ |  +---+
#       |        +-----------+    | ACK      |     | v  |   v
#       |          ^   |          | -        |  +------------+
#       |          |   |          |          |  |            |---+ ACK
#       +----------+   |          |          +->|  Accepted  |   | to TU
#       Transport Err. |          |             |            |<--+
#       Inform TU      |          V             +------------+
#                      |      +-----------+        |  ^     |
#                      |      |           |        |  |     |
#                      |      | Confirmed |        |  +-----+
#                      |      |           |        |  2xx from TU
#        Timer H fires |      +-----------+        |  send response
#        -             |          |                |
#                      |          | Timer I fires  |
#                      |          | -              | Timer L fires
#                      |          V                | -
#                      |        +------------+     |
#                      |        |            |<----+
#                      +------->| Terminated |
#                               |            |
#                               +------------+
_P, _CO, _CF, _A, _T = (
    State.PROCEEDING,
    State.COMPLETED,
    State.CONFIRMED,
    State.ACCEPTED,
    State.TERMINATED,
)
TRANSITIONS: Final[Mapping[tuple[State, Input], Transition]] = MappingProxyType(
    {
        # -- Proceeding (RFC 3261 17.2.1) -------------------------------------
        # "If a request retransmission is received while in the Proceeding
        # state, the most recent provisional response that was received from the
        # TU MUST be passed to the transport layer for retransmission."
        (_P, Input.RECV_REQUEST): (_P, (Action.RETRANSMIT_RESPONSE,)),
        # "The TU passes any number of provisional responses to the server
        # transaction. So long as the server transaction is in the Proceeding
        # state, each of these MUST be passed to the transport layer".
        (_P, Input.SEND_1XX): (_P, (Action.SEND_RESPONSE,)),
        # RFC 6026 7.1: the 2xx is passed to the transport and the transaction
        # enters Accepted, setting Timer L to 64*T1.
        (_P, Input.SEND_2XX): (_A, (Action.SEND_RESPONSE, Action.START_TIMER_L)),
        # "if the TU passes a response with status code from 300 to 699 [...] the
        # response MUST be passed to the transport layer for transmission, and
        # the state machine MUST enter the Completed state. For unreliable
        # transports, timer G is set to fire in T1 seconds [...] When the
        # Completed state is entered, timer H MUST be set to fire in 64*T1
        # seconds for all transports."
        (_P, Input.SEND_300_699): (_CO, (Action.SEND_RESPONSE, Action.START_TIMERS_G_H)),
        # RFC 6026 Figure 7: "Transport Err. / Inform TU" loops on Proceeding.
        (_P, Input.TRANSPORT_ERROR): (_P, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Completed --------------------------------------------------------
        # "while in the Completed state, if a request retransmission is
        # received, the server SHOULD pass the response to the transport for
        # retransmission."
        (_CO, Input.RECV_REQUEST): (_CO, (Action.RETRANSMIT_RESPONSE,)),
        # "If timer G fires, the response is passed to the transport layer once
        # more for retransmission, and timer G is set to fire in MIN(2*T1, T2)
        # seconds."
        (_CO, Input.TIMER_G): (_CO, (Action.RETRANSMIT_RESPONSE, Action.BACKOFF_TIMER_G)),
        # "If an ACK is received while the server transaction is in the
        # Completed state, the server transaction MUST transition to the
        # Confirmed state. As Timer G is ignored in this state, any
        # retransmissions of the response will cease." Timer I starts.
        (_CO, Input.RECV_ACK): (_CF, (Action.START_TIMER_I,)),
        # "If timer H fires while in the Completed state, it implies that the
        # ACK was never received. In this case, the server transaction MUST
        # transition to the Terminated state, and MUST indicate to the TU that
        # a transaction failure has occurred." (RFC 6026 Figure 7 draws "-";
        # the RFC 3261 text it did not replace still requires informing the TU.)
        (_CO, Input.TIMER_H): (_T, (Action.INFORM_TU_TIMEOUT,)),
        # RFC 6026 Figure 7: "Transport Err. / Inform TU" loops on Completed.
        (_CO, Input.TRANSPORT_ERROR): (_CO, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Confirmed --------------------------------------------------------
        # "The purpose of the Confirmed state is to absorb any additional ACK
        # messages that arrive, triggered from retransmissions of the final
        # response."
        (_CF, Input.RECV_ACK): (_CF, ()),
        # "Once timer I fires, the server MUST transition to the Terminated state."
        (_CF, Input.TIMER_I): (_T, ()),
        # Not in the figure: nothing is in flight in Confirmed; absorbed.
        (_CF, Input.TRANSPORT_ERROR): (_CF, ()),
        # -- Accepted (RFC 6026 7.1, 8.7) --------------------------------------
        # "any retransmissions of the INVITE received will be absorbed by the
        # server transaction. They will not be passed up to the TU."
        (_A, Input.RECV_REQUEST): (_A, ()),
        # Figure 7: "ACK / to TU": the ACK of a 2xx belongs to the TU.
        (_A, Input.RECV_ACK): (_A, (Action.PASS_ACK,)),
        # "If the TU passes a 2xx response to the server transaction while in
        # the Accepted state, the server transaction MUST pass the response to
        # the transport layer for transmission" (the TU's 2xx retransmissions).
        (_A, Input.SEND_2XX): (_A, (Action.SEND_RESPONSE,)),
        # "When Timer L fires and the state machine is in the Accepted state,
        # the machine MUST transition to the Terminated state."
        (_A, Input.TIMER_L): (_T, ()),
        # Figure 7: "Transport Err. / Inform TU" loops on Accepted.
        (_A, Input.TRANSPORT_ERROR): (_A, (Action.INFORM_TU_TRANSPORT_ERROR,)),
    }
)

# The timers each state runs; every transition cancels the others.
STATE_TIMERS: Final[Mapping[State, frozenset[TimerName]]] = MappingProxyType(
    {
        State.PROCEEDING: frozenset(),
        State.COMPLETED: frozenset({TimerName.G, TimerName.H}),
        State.CONFIRMED: frozenset({TimerName.I}),
        State.ACCEPTED: frozenset({TimerName.L}),
        State.TERMINATED: frozenset(),
    }
)

_TIMER_INPUTS: Final[Mapping[TimerName, Input]] = MappingProxyType(
    {
        TimerName.G: Input.TIMER_G,
        TimerName.H: Input.TIMER_H,
        TimerName.I: Input.TIMER_I,
        TimerName.L: Input.TIMER_L,
    }
)


def classify_response(status_code: int) -> Input:
    """The input sending a response with ``status_code`` is.

    Raises:
        LocalProtocolError: the status code is outside 100-699.
    """
    if 100 <= status_code <= 199:
        return Input.SEND_1XX
    if 200 <= status_code <= 299:
        return Input.SEND_2XX
    if 300 <= status_code <= 699:
        return Input.SEND_300_699
    raise LocalProtocolError(f"cannot send a response with status code {status_code}")


class ServerInviteTransaction(Generic[RequestT, ResponseT]):
    """One INVITE server transaction.

    Create it with :meth:`start`. Then feed it INVITE retransmissions, ACKs,
    the TU's responses, timer expiries and transport errors; carry out the
    outputs each call returns, in order; re-arm your timer from
    :meth:`get_timer` after every call.

    Attributes:
        request: the INVITE handle given at creation (opaque to the machine).
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
        """Enter "Proceeding" without emitting anything; prefer :meth:`start`."""
        self.request: RequestT = request
        self.timers = timers
        self.reliable = reliable
        self._state = State.PROCEEDING
        # The most recent response passed to the transport: what a request
        # retransmission or Timer G re-sends.
        self._last_response: ResponseT | None = None
        self._timers = TimerSet()

    @classmethod
    def start(
        cls,
        request: RequestT,
        *,
        timers: TimerValues | None = None,
        reliable: bool = True,
        now: float,
        trying: ResponseT | None = None,
    ) -> tuple[
        ServerInviteTransaction[RequestT, ResponseT], list[ServerOutput[RequestT, ResponseT]]
    ]:
        """Create the transaction for a new INVITE ("INVITE / pass INV to TU").

        Args:
            request: the INVITE, as any handle.
            timers: T1/T2/T4 values; RFC 3261 defaults when None.
            reliable: True for WebSocket/TCP/TLS (no Timer G, I = 0), False for UDP.
            now: the current monotonic time, in seconds.
            trying: a 100 (Trying) to send at once, or None when the TU will
                answer within 200 ms (RFC 3261 17.2.1: the transaction "MUST
                generate a 100 (Trying) response unless it knows that the TU
                will generate a provisional or final response within 200 ms").

        Returns:
            The transaction, in "Proceeding", and its first outputs: the
            ``SendResponse`` of ``trying`` if given, then ``PassRequestToTU``.
            Next, carry them out and answer with :meth:`send_response`.
        """
        txn: ServerInviteTransaction[RequestT, ResponseT] = cls(
            request, timers=timers or TimerValues(), reliable=reliable
        )
        outputs: list[ServerOutput[RequestT, ResponseT]] = []
        if trying is not None:
            # Sent first: the 100 exists "to quench request retransmissions
            # rapidly" (RFC 3261 17.2.1).
            outputs += txn.send_response(trying, 100, now)
        # "The request MUST be passed to the TU."
        outputs.append(PassRequestToTU(request=request))
        return txn, outputs

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
        """Feed a retransmission of the INVITE (matched by RFC 3261 17.2.3)."""
        return self._process(Input.RECV_REQUEST, now, None, None)

    def receive_ack(self, ack: RequestT, now: float) -> list[ServerOutput[RequestT, ResponseT]]:
        """Feed an ACK matched to this transaction (RFC 3261 17.2.3).

        Args:
            ack: the ACK handle; passed to the TU in "Accepted" (RFC 6026 7.1).
            now: the current monotonic time, in seconds.
        """
        return self._process(Input.RECV_ACK, now, None, ack)

    def send_response(
        self, response: ResponseT, status_code: int, now: float
    ) -> list[ServerOutput[RequestT, ResponseT]]:
        """Send a response of the TU through the transaction.

        Args:
            response: the response handle, passed to the transport as is.
            status_code: its status code, which selects the input.
            now: the current monotonic time, in seconds.

        Returns:
            The outputs, in order: a ``SendResponse``, and a state change.

        Raises:
            LocalProtocolError: the state does not take this response (e.g. a
                1xx after the final response), or the status code is not 100-699.
        """
        return self._process(classify_response(status_code), now, response, None)

    def handle_timer(self, now: float) -> list[ServerOutput[RequestT, ResponseT]]:
        """Fire every timer due at ``now``, in deadline order (early calls are harmless)."""
        outputs: list[ServerOutput[RequestT, ResponseT]] = []
        while (name := self._timers.pop_due(now)) is not None:
            outputs += self._process(_TIMER_INPUTS[name], now, None, None)
        return outputs

    def transport_error(self, now: float) -> list[ServerOutput[RequestT, ResponseT]]:
        """Report that the transport failed to send a response (RFC 3261 17.2.4).

        Raises:
            LocalProtocolError: the transaction is already terminated.
        """
        return self._process(Input.TRANSPORT_ERROR, now, None, None)

    def _process(
        self,
        trigger: Input,
        now: float,
        response: ResponseT | None,
        ack: RequestT | None,
    ) -> list[ServerOutput[RequestT, ResponseT]]:
        transition = TRANSITIONS.get((self._state, trigger))
        if transition is None:
            if trigger in REMOTE_INPUTS:
                return [InputDiscarded(state=self._state.name, trigger=trigger.name)]
            raise LocalProtocolError(
                f"INVITE server transaction in state {self._state.name} cannot take {trigger.name}"
            )
        next_state, actions = transition
        self._state = next_state
        self._timers.keep_only(STATE_TIMERS[next_state])
        outputs: list[ServerOutput[RequestT, ResponseT]] = []
        for action in actions:
            outputs += self._execute(action, now, response, ack)
        if next_state is State.TERMINATED:
            outputs.append(TransactionTerminated())
        return outputs

    def _execute(
        self,
        action: Action,
        now: float,
        response: ResponseT | None,
        ack: RequestT | None,
    ) -> list[ServerOutput[RequestT, ResponseT]]:
        match action:
            case Action.SEND_RESPONSE:
                assert response is not None  # only SEND_* inputs trigger this action
                self._last_response = response
                return [SendResponse(response=response, retransmission=False)]
            case Action.RETRANSMIT_RESPONSE:
                if self._last_response is None:
                    # An INVITE retransmission before the TU sent anything: there
                    # is no "most recent provisional response" to re-send.
                    return []
                return [SendResponse(response=self._last_response, retransmission=True)]
            case Action.BACKOFF_TIMER_G:
                self._timers.back_off(TimerName.G, now, self.timers)
                return []
            case Action.START_TIMERS_G_H:
                self._timers.start(TimerName.G, now, self.timers.timer_g(reliable=self.reliable))
                self._timers.start(TimerName.H, now, self.timers.timer_h())
                return []
            case Action.START_TIMER_I:
                self._timers.start(TimerName.I, now, self.timers.timer_i(reliable=self.reliable))
                return []
            case Action.START_TIMER_L:
                self._timers.start(TimerName.L, now, self.timers.timer_l())
                return []
            case Action.PASS_ACK:
                assert ack is not None  # only RECV_ACK triggers this action
                return [PassRequestToTU(request=ack)]
            case Action.INFORM_TU_TIMEOUT:
                return [TransactionTimedOut(timer=TimerName.H)]
            case Action.INFORM_TU_TRANSPORT_ERROR:  # pragma: no branch - enum exhausted
                return [TransportErrorOccurred()]
