"""The non-INVITE client transaction (RFC 3261 17.1.2).

Theory of operation
-------------------

The TU creates the transaction with :meth:`ClientNonInviteTransaction.start`,
which enters "Trying" and returns the first
:class:`~websip.transaction.events.SendRequest`. From then on the machine moves
only when one of its inputs arrives:

* a response from the network, through
  :meth:`~ClientNonInviteTransaction.receive_response` (``RECV_1XX``,
  ``RECV_200_699``: unlike INVITE, a non-INVITE transaction has "no special
  handling for the 2xx response", RFC 3261 17.1.2.1);
* a timer, through :meth:`~ClientNonInviteTransaction.handle_timer`
  (``TIMER_E``, ``TIMER_F``, ``TIMER_K``);
* a transport failure, through :meth:`~ClientNonInviteTransaction.transport_error`.

Each input is looked up in :data:`TRANSITIONS`, ``(state, input) -> (next
state, actions)``; the symbolic actions become the typed outputs of
:mod:`websip.transaction.events`, returned as a list in order. Entering
"Terminated" appends :class:`~websip.transaction.events.TransactionTerminated`.

What is not in the table: a response the state does not take (a 1xx after the
final response) yields :class:`~websip.transaction.events.InputDiscarded`; a
local input the state does not take raises
:class:`~websip.exceptions.LocalProtocolError`.

Over UDP the request is retransmitted by Timer E at T1, 2*T1, ... capped at T2,
and, after a provisional response, every T2: the server retransmits its last
response only when a request retransmission arrives, so the retransmissions
"need to continue even after a provisional response" (RFC 3261 17.1.2.1). Over
a reliable transport (WebSocket) Timer E never runs and Timer K is zero.

Deviation from Figure 6, explained at its entry: a transport error in
"Completed" is absorbed (nothing is in flight there; Timer K ends it).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Generic, TypeAlias

from websip.exceptions import LocalProtocolError
from websip.transaction._timerset import TimerSet
from websip.transaction.events import (
    ClientOutput,
    InputDiscarded,
    PassResponseToTU,
    RequestT,
    ResponseT,
    SendRequest,
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
    "ClientNonInviteTransaction",
    "Input",
    "State",
]


class State(enum.Enum):
    """The states of Figure 6 (RFC 3261 17.1.2.2)."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """What can move the machine."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    RECV_1XX = "1xx"  # provisional response received
    RECV_200_699 = "200-699"  # final response received
    TIMER_E = "Timer E"  # retransmit the request (unreliable transports)
    TIMER_F = "Timer F"  # give up waiting for a final response
    TIMER_K = "Timer K"  # stop absorbing final response retransmissions
    TRANSPORT_ERROR = "Transport Err."  # the transport could not send


# Inputs that come from the network: refused ones are reported, never raised.
REMOTE_INPUTS: Final = frozenset({Input.RECV_1XX, Input.RECV_200_699})


class Action(enum.Enum):
    """Symbolic actions of the table, turned into outputs by the machine."""

    RETRANSMIT_REQUEST = "send request"  # SendRequest(retransmission=True)
    BACKOFF_TIMER_E = "reset E to MIN(2*E, T2)"  # RFC 3261 17.1.2.2, Trying
    RESET_TIMER_E_T2 = "reset E to T2"  # RFC 3261 17.1.2.2, Proceeding
    PASS_RESPONSE = "resp. to TU"  # PassResponseToTU
    START_TIMER_K = "start K"  # absorb final response retransmissions
    INFORM_TU_TIMEOUT = "inform TU (timeout)"  # TransactionTimedOut(timer=F)
    INFORM_TU_TRANSPORT_ERROR = "inform TU (transport)"  # TransportErrorOccurred


Transition: TypeAlias = tuple[State, tuple[Action, ...]]

# RFC 3261 17.1.2.2, Figure 6, non-INVITE client transaction:
#
#                                    |Request from TU
#                                    |send request
#                Timer E             V
#                send request  +-----------+
#                    +---------|           |-------------------+
#                    |         |  Trying   |  Timer F          |
#                    +-------->|           |  or Transport Err.|
#                              +-----------+  inform TU        |
#                 200-699         |  |                         |
#                 resp. to TU     |  |1xx                      |
#                 +---------------+  |resp. to TU              |
#                 |                  |                         |
#                 |   Timer E        V       Timer F           |
#                 |   send req +-----------+ or Transport Err. |
#                 |  +---------|           | inform TU         |
#                 |  |         |Proceeding |------------------>|
#                 |  +-------->|           |-----+             |
#                 |            +-----------+     |1xx          |
#                 |              |      ^        |resp to TU   |
#                 | 200-699      |      +--------+             |
#                 | resp. to TU  |                             |
#                 |              |                             |
#                 |              V                             |
#                 |            +-----------+                   |
#                 |            |           |                   |
#                 |            | Completed |                   |
#                 |            |           |                   |
#                 |            +-----------+                   |
#                 |              ^   |                         |
#                 |              |   | Timer K                 |
#                 +--------------+   | -                       |
#                                    |                         |
#                                    V                         |
#              NOTE:           +-----------+                   |
#                              |           |                   |
#          transitions         | Terminated|<------------------+
#          labeled with        |           |
#          the event           +-----------+
#          over the action
#          to take
_TR, _P, _CO, _T = State.TRYING, State.PROCEEDING, State.COMPLETED, State.TERMINATED
TRANSITIONS: Final[Mapping[tuple[State, Input], Transition]] = MappingProxyType(
    {
        # -- Trying (RFC 3261 17.1.2.2) ---------------------------------------
        # "If timer E fires while still in this state, the timer is reset, but
        # this time with a value of MIN(2*T1, T2) [...] MIN(4*T1, T2)".
        (_TR, Input.TIMER_E): (_TR, (Action.RETRANSMIT_REQUEST, Action.BACKOFF_TIMER_E)),
        # "If Timer F fires while the client transaction is still in the Trying
        # state, the client transaction SHOULD inform the TU about the timeout,
        # and then it SHOULD enter the Terminated state."
        (_TR, Input.TIMER_F): (_T, (Action.INFORM_TU_TIMEOUT,)),
        # "If a provisional response is received while in the Trying state, the
        # response MUST be passed to the TU, and then the client transaction
        # SHOULD move to the Proceeding state." Timers E and F keep running.
        (_TR, Input.RECV_1XX): (_P, (Action.PASS_RESPONSE,)),
        # "If a final response (status codes 200-699) is received while in the
        # Trying state, the response MUST be passed to the TU, and the client
        # transaction MUST transition to the Completed state." Entering it
        # starts Timer K ("T4 seconds for unreliable transports, and zero
        # seconds for reliable transports").
        (_TR, Input.RECV_200_699): (_CO, (Action.PASS_RESPONSE, Action.START_TIMER_K)),
        # Figure 6: "Timer F or Transport Err. / inform TU"; RFC 3261 17.1.4.
        (_TR, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Proceeding -------------------------------------------------------
        # "If Timer E fires while in the Proceeding state, the request MUST be
        # passed to the transport layer for retransmission, and Timer E MUST be
        # reset with a value of T2 seconds."
        (_P, Input.TIMER_E): (_P, (Action.RETRANSMIT_REQUEST, Action.RESET_TIMER_E_T2)),
        # "If timer F fires while in the Proceeding state, the TU MUST be
        # informed of a timeout, and the client transaction MUST transition to
        # the terminated state."
        (_P, Input.TIMER_F): (_T, (Action.INFORM_TU_TIMEOUT,)),
        # Figure 6: further 1xx loop in Proceeding, "resp to TU".
        (_P, Input.RECV_1XX): (_P, (Action.PASS_RESPONSE,)),
        (_P, Input.RECV_200_699): (_CO, (Action.PASS_RESPONSE, Action.START_TIMER_K)),
        (_P, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Completed --------------------------------------------------------
        # "The Completed state exists to buffer any additional response
        # retransmissions that may be received": absorbed, not passed to the TU.
        (_CO, Input.RECV_200_699): (_CO, ()),
        # "If Timer K fires while in this state, the client transaction MUST
        # transition to the Terminated state."
        (_CO, Input.TIMER_K): (_T, ()),
        # Deviation: not in Figure 6. Nothing is in flight in Completed and the
        # TU has its final response; a connection loss is absorbed.
        (_CO, Input.TRANSPORT_ERROR): (_CO, ()),
    }
)

# The timers each state runs; every transition cancels the others. Timers E and
# F run on from Trying into Proceeding (RFC 3261 17.1.2.2).
STATE_TIMERS: Final[Mapping[State, frozenset[TimerName]]] = MappingProxyType(
    {
        State.TRYING: frozenset({TimerName.E, TimerName.F}),
        State.PROCEEDING: frozenset({TimerName.E, TimerName.F}),
        State.COMPLETED: frozenset({TimerName.K}),
        State.TERMINATED: frozenset(),
    }
)

_TIMER_INPUTS: Final[Mapping[TimerName, Input]] = MappingProxyType(
    {TimerName.E: Input.TIMER_E, TimerName.F: Input.TIMER_F, TimerName.K: Input.TIMER_K}
)


def classify_response(status_code: int) -> Input | None:
    """The input a response with ``status_code`` is, or None if out of 100-699."""
    if 100 <= status_code <= 199:
        return Input.RECV_1XX
    if 200 <= status_code <= 699:
        return Input.RECV_200_699
    return None


class ClientNonInviteTransaction(Generic[RequestT, ResponseT]):
    """One non-INVITE client transaction (any method but INVITE and ACK).

    Create it with :meth:`start`. Then feed it responses, timer expiries and
    transport errors; carry out the outputs each call returns, in order; re-arm
    your timer from :meth:`get_timer` after every call.

    Attributes:
        request: the request handle given at creation (opaque to the machine).
        reliable: whether the transport is reliable (WebSocket, TCP, TLS).
        timers: the timer values in use.
    """

    __slots__ = ("_state", "_timers", "reliable", "request", "timers")

    def __init__(
        self,
        request: RequestT,
        *,
        timers: TimerValues,
        reliable: bool,
        now: float,
    ) -> None:
        """Enter "Trying" at ``now`` without emitting anything; prefer :meth:`start`."""
        self.request: RequestT = request
        self.timers = timers
        self.reliable = reliable
        self._state = State.TRYING
        self._timers = TimerSet()
        # RFC 3261 17.1.2.2: "the client transaction SHOULD set timer F to fire
        # in 64*T1 seconds [...] If an unreliable transport is in use, the client
        # transaction MUST set timer E to fire in T1 seconds."
        self._timers.start(TimerName.E, now, timers.timer_e(reliable=reliable))
        self._timers.start(TimerName.F, now, timers.timer_f())

    @classmethod
    def start(
        cls,
        request: RequestT,
        *,
        timers: TimerValues | None = None,
        reliable: bool = True,
        now: float,
    ) -> tuple[
        ClientNonInviteTransaction[RequestT, ResponseT], list[ClientOutput[RequestT, ResponseT]]
    ]:
        """Create the transaction for ``request`` ("Request from TU / send request").

        Args:
            request: the request (not INVITE, not ACK), as any handle.
            timers: T1/T2/T4 values; RFC 3261 defaults when None.
            reliable: True for WebSocket/TCP/TLS (no Timer E, K = 0), False for UDP.
            now: the current monotonic time, in seconds.

        Returns:
            The transaction, in "Trying", and its first outputs: one
            :class:`~websip.transaction.events.SendRequest`. Next, send it and
            arm a timer for :meth:`get_timer`.
        """
        txn: ClientNonInviteTransaction[RequestT, ResponseT] = cls(
            request, timers=timers or TimerValues(), reliable=reliable, now=now
        )
        # RFC 3261 17.1.2.2: "The request MUST be passed to the transport layer
        # for transmission."
        return txn, [SendRequest(request=request, retransmission=False)]

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

    def receive_response(
        self, response: ResponseT, status_code: int, now: float
    ) -> list[ClientOutput[RequestT, ResponseT]]:
        """Feed a response the layer matched to this transaction (RFC 3261 17.1.3).

        Args:
            response: the response handle, passed on to the TU as is.
            status_code: its status code, which selects the input.
            now: the current monotonic time, in seconds.

        Returns:
            The outputs, in order. A response the state does not take (or a
            status code outside 100-699) gives one ``InputDiscarded``.
        """
        trigger = classify_response(status_code)
        if trigger is None:
            return [InputDiscarded(state=self._state.name, trigger=f"status {status_code}")]
        return self._process(trigger, now, response)

    def handle_timer(self, now: float) -> list[ClientOutput[RequestT, ResponseT]]:
        """Fire every timer due at ``now``, in deadline order (early calls are harmless)."""
        outputs: list[ClientOutput[RequestT, ResponseT]] = []
        while (name := self._timers.pop_due(now)) is not None:
            outputs += self._process(_TIMER_INPUTS[name], now, None)
        return outputs

    def transport_error(self, now: float) -> list[ClientOutput[RequestT, ResponseT]]:
        """Report that the transport failed to send for this transaction (17.1.4).

        Raises:
            LocalProtocolError: the transaction is already terminated.
        """
        return self._process(Input.TRANSPORT_ERROR, now, None)

    def _process(
        self, trigger: Input, now: float, response: ResponseT | None
    ) -> list[ClientOutput[RequestT, ResponseT]]:
        transition = TRANSITIONS.get((self._state, trigger))
        if transition is None:
            if trigger in REMOTE_INPUTS:
                return [InputDiscarded(state=self._state.name, trigger=trigger.name)]
            raise LocalProtocolError(
                f"non-INVITE client transaction in state {self._state.name} "
                f"cannot take {trigger.name}"
            )
        next_state, actions = transition
        self._state = next_state
        self._timers.keep_only(STATE_TIMERS[next_state])
        outputs: list[ClientOutput[RequestT, ResponseT]] = []
        for action in actions:
            outputs += self._execute(action, now, response)
        if next_state is State.TERMINATED:
            outputs.append(TransactionTerminated())
        return outputs

    def _execute(
        self, action: Action, now: float, response: ResponseT | None
    ) -> list[ClientOutput[RequestT, ResponseT]]:
        match action:
            case Action.RETRANSMIT_REQUEST:
                return [SendRequest(request=self.request, retransmission=True)]
            case Action.BACKOFF_TIMER_E:
                self._timers.back_off(TimerName.E, now, self.timers)
                return []
            case Action.RESET_TIMER_E_T2:
                self._timers.start(TimerName.E, now, self.timers.t2)
                return []
            case Action.PASS_RESPONSE:
                assert response is not None  # only responses trigger this action
                return [PassResponseToTU(response=response)]
            case Action.START_TIMER_K:
                self._timers.start(TimerName.K, now, self.timers.timer_k(reliable=self.reliable))
                return []
            case Action.INFORM_TU_TIMEOUT:
                return [TransactionTimedOut(timer=TimerName.F)]
            case Action.INFORM_TU_TRANSPORT_ERROR:  # pragma: no branch - enum exhausted
                return [TransportErrorOccurred()]
