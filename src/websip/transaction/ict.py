"""The INVITE client transaction (RFC 3261 17.1.1, as updated by RFC 6026 7.2 and 8.4).

Theory of operation
-------------------

The TU creates the transaction with :meth:`ClientInviteTransaction.start`, which
enters "Calling" and returns the first :class:`~websip.transaction.events.SendRequest`.
From then on the machine moves only when one of its inputs arrives:

* a response from the network, through :meth:`~ClientInviteTransaction.receive_response`
  (``RECV_1XX``, ``RECV_2XX``, ``RECV_300_699``);
* a timer, through :meth:`~ClientInviteTransaction.handle_timer` (``TIMER_A``,
  ``TIMER_B``, ``TIMER_D``, ``TIMER_M``), once ``now`` has reached
  :meth:`~ClientInviteTransaction.get_timer`;
* a transport failure, through :meth:`~ClientInviteTransaction.transport_error`.

Each input is looked up in :data:`TRANSITIONS`, the one table of this machine:
``(state, input) -> (next state, actions)``. The actions are symbolic
(:class:`Action`); the machine turns them into the typed outputs of
:mod:`websip.transaction.events`, which every method returns as a list in the
order they must be carried out. On entering "Terminated" the list ends with
:class:`~websip.transaction.events.TransactionTerminated` and the layer drops
the machine.

What is *not* in the table is an error, never a silent no-op:

* a remote input (a response) the state does not take, e.g. a 1xx in
  "Completed", yields one :class:`~websip.transaction.events.InputDiscarded`
  and changes nothing: the network may send anything, and RFC 3261 drops it;
* a local input (a timer, a transport error) the state does not take raises
  :class:`~websip.exceptions.LocalProtocolError`: it is a bug in the caller.

RFC 6026 in one paragraph: RFC 3261 ended the transaction on the first 2xx, so
retransmitted or forked 2xx found no transaction and went to the core
unchecked. RFC 6026 adds the "Accepted" state: every 2xx is passed to the TU
(which ACKs it, RFC 3261 13.2.2.4, and can tell a retransmission from a new
fork by the To tag), the transaction never ACKs a 2xx itself, and it lingers
for Timer M = 64*T1 so the layer keeps matching those 2xx. The ACK of a
300-699 response still belongs to the transaction: the machine emits
:class:`~websip.transaction.events.SendAck` and the layer builds it
(RFC 3261 17.1.1.3).

Deviations from Figure 5, each explained at its table entry: a transport error
in "Proceeding" ends the transaction (RFC 3261 17.1.4 applies to any send, and
over a connection-oriented transport a lost connection means the final response
can never arrive); a transport error in "Accepted" is absorbed (the transaction
has nothing in flight there).
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
    SendAck,
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
    "ClientInviteTransaction",
    "Input",
    "State",
]


class State(enum.Enum):
    """The states of Figure 5 (RFC 3261 17.1.1.2), plus "Accepted" (RFC 6026 7.2)."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """What can move the machine."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    RECV_1XX = "1xx"  # provisional response received
    RECV_2XX = "2xx"  # success response received
    RECV_300_699 = "300-699"  # redirection or failure response received
    TIMER_A = "Timer A"  # retransmit the INVITE (unreliable transports)
    TIMER_B = "Timer B"  # give up waiting for any response
    TIMER_D = "Timer D"  # stop absorbing final response retransmissions
    TIMER_M = "Timer M"  # stop absorbing 2xx retransmissions (RFC 6026)
    TRANSPORT_ERROR = "Transport Err."  # the transport could not send


# Inputs that come from the network. The table may refuse them without it being
# our bug: they are reported (InputDiscarded), never raised.
REMOTE_INPUTS: Final = frozenset({Input.RECV_1XX, Input.RECV_2XX, Input.RECV_300_699})


class Action(enum.Enum):
    """Symbolic actions of the table, turned into outputs by the machine."""

    RETRANSMIT_REQUEST = "INVITE sent"  # SendRequest(retransmission=True)
    BACKOFF_TIMER_A = "Reset A"  # restart Timer A with twice its interval
    PASS_RESPONSE = "resp. to TU"  # PassResponseToTU
    SEND_ACK = "ACK sent"  # SendAck for the final response just received
    RETRANSMIT_ACK = "ACK re-sent"  # SendAck(retransmission=True), same response
    START_TIMER_D = "start D"  # absorb final response retransmissions
    START_TIMER_M = "start M"  # absorb 2xx retransmissions (RFC 6026)
    INFORM_TU_TIMEOUT = "inform TU (timeout)"  # TransactionTimedOut(timer=B)
    INFORM_TU_TRANSPORT_ERROR = "inform TU (transport)"  # TransportErrorOccurred


Transition: TypeAlias = tuple[State, tuple[Action, ...]]

# RFC 6026 8.4, Figure 5 (replaces RFC 3261 Figure 5; redrawn), INVITE client transaction:
#
#                                |INVITE from TU
#              Timer A fires     |INVITE sent      Timer B fires
#              Reset A,          V                 or Transport Err.
#              INVITE sent +-----------+           inform TU
#                +---------|           |--------------------------+
#                |         |  Calling  |                          |
#                +-------->|           |-----------+              |
#   300-699                +-----------+ 2xx       |              |
#   ACK sent                  |  |       2xx to TU |              |
#   resp. to TU               |  |1xx              |              |
#   +-------------------------+  |1xx to TU        |              |
#   |                            |                 |              |
#   |                1xx         V                 |              |
#   |                1xx to TU   +-----------+     |              |
#   |                +---------|           |     |              |
#   |                |         |Proceeding |     |              |
#   |                +-------->|           |     |              |
#   |                          +-----------+ 2xx |              |
#   |         300-699             |    |    2xx to TU           |
#   |         ACK sent,  +--------+    +---------------+        |
#   |         resp. to TU|                             |        |
#   |                    |                             |        |
#   |                    V                             V        |
#   |              +-----------+                   +----------+ |
#   +------------->|           |                   |          | |
#                  | Completed |                   | Accepted | |
#                  |           |                   |          | |
#                  +-----------+                   +----------+ |
#                    ^   |    |                     |       ^   |
#                    |   |    |                     |       |   |
#                    +---+    |                     +-------+   |
#                  300-699    |                      2xx to TU  |
#                  ACK sent   |                                 |
#                             |  Timer D fires                  |
#                             |  -                Timer M fires |
#                             |                   -             |
#                             V                                 |
#                       +------------+                          |
#                       |            |                          |
#                       | Terminated |<-------------------------+
#                       |            |
#                       +------------+
#
# "Completed" also leaves for "Terminated" on a transport error (inform TU),
# as in RFC 3261 Figure 5.
_C, _P, _CO, _A, _T = (
    State.CALLING,
    State.PROCEEDING,
    State.COMPLETED,
    State.ACCEPTED,
    State.TERMINATED,
)
TRANSITIONS: Final[Mapping[tuple[State, Input], Transition]] = MappingProxyType(
    {
        # -- Calling (RFC 3261 17.1.1.2) --------------------------------------
        # "When timer A fires, the client transaction MUST retransmit the request
        # [...] and MUST reset the timer with a value of 2*T1."
        (_C, Input.TIMER_A): (_C, (Action.RETRANSMIT_REQUEST, Action.BACKOFF_TIMER_A)),
        # "If the client transaction is still in the Calling state when timer B
        # fires, [it] SHOULD inform the TU that a timeout has occurred. The
        # client transaction MUST NOT generate an ACK."
        (_C, Input.TIMER_B): (_T, (Action.INFORM_TU_TIMEOUT,)),
        # "If the client transaction receives a provisional response while in
        # the Calling state, it transitions to the Proceeding state [...] the
        # provisional response MUST be passed to the TU." Leaving Calling stops
        # Timers A and B.
        (_C, Input.RECV_1XX): (_P, (Action.PASS_RESPONSE,)),
        # RFC 6026 7.2: a 2xx moves to Accepted and is passed to the TU, which
        # generates the ACK; Timer M starts.
        (_C, Input.RECV_2XX): (_A, (Action.PASS_RESPONSE, Action.START_TIMER_M)),
        # "reception of a response with status code from 300-699 MUST cause the
        # client transaction to transition to Completed [...] pass the received
        # response up to the TU, and [...] MUST generate an ACK request, even if
        # the transport is reliable"; then start Timer D.
        (_C, Input.RECV_300_699): (
            _CO,
            (Action.PASS_RESPONSE, Action.SEND_ACK, Action.START_TIMER_D),
        ),
        # Figure 5: "Timer B fires or Transport Err. / inform TU" (RFC 3261 17.1.4).
        (_C, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Proceeding -------------------------------------------------------
        # "Any further provisional responses MUST be passed up to the TU while in
        # the Proceeding state." No timer runs here: an INVITE may ring for
        # minutes; the TU bounds that wait itself (RFC 3261 13.2.1: Expires,
        # or a CANCEL).
        (_P, Input.RECV_1XX): (_P, (Action.PASS_RESPONSE,)),
        (_P, Input.RECV_2XX): (_A, (Action.PASS_RESPONSE, Action.START_TIMER_M)),
        (_P, Input.RECV_300_699): (
            _CO,
            (Action.PASS_RESPONSE, Action.SEND_ACK, Action.START_TIMER_D),
        ),
        # Deviation: Figure 5 has no transport error out of Proceeding. RFC 3261
        # 17.1.4 covers every failed send, and on a connection-oriented transport
        # (WebSocket, RFC 7118) a lost connection means the final response can
        # never come back: without this entry the call would hang forever.
        (_P, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Completed --------------------------------------------------------
        # "Any retransmissions of the final response that are received while in
        # the Completed state MUST cause the ACK to be re-passed to the transport
        # layer for retransmission, but the newly received response MUST NOT be
        # passed up to the TU."
        (_CO, Input.RECV_300_699): (_CO, (Action.RETRANSMIT_ACK,)),
        # "If timer D fires while the client transaction is in the Completed
        # state, the client transaction MUST move to the terminated state."
        (_CO, Input.TIMER_D): (_T, ()),
        # Figure 5: "Transport Err. / Inform TU" out of Completed (the ACK could
        # not be sent).
        (_CO, Input.TRANSPORT_ERROR): (_T, (Action.INFORM_TU_TRANSPORT_ERROR,)),
        # -- Accepted (RFC 6026 7.2, 8.4) --------------------------------------
        # "A 2xx response received while in the Accepted state MUST be passed to
        # the TU and the machine remains in the Accepted state. The client
        # transaction MUST NOT generate an ACK to any 2xx response on its own."
        (_A, Input.RECV_2XX): (_A, (Action.PASS_RESPONSE,)),
        # "If timer M fires while the client transaction is in the Accepted
        # state, the client transaction MUST move to the Terminated state."
        (_A, Input.TIMER_M): (_T, ()),
        # Deviation: not in the figure. Nothing of this transaction is in flight
        # in Accepted (the 2xx ACK is the TU's), so a connection loss changes
        # nothing here: absorbed, and Timer M still ends the transaction.
        (_A, Input.TRANSPORT_ERROR): (_A, ()),
    }
)

# The timers each state runs; every transition cancels the others.
STATE_TIMERS: Final[Mapping[State, frozenset[TimerName]]] = MappingProxyType(
    {
        State.CALLING: frozenset({TimerName.A, TimerName.B}),
        State.PROCEEDING: frozenset(),
        State.COMPLETED: frozenset({TimerName.D}),
        State.ACCEPTED: frozenset({TimerName.M}),
        State.TERMINATED: frozenset(),
    }
)

_TIMER_INPUTS: Final[Mapping[TimerName, Input]] = MappingProxyType(
    {
        TimerName.A: Input.TIMER_A,
        TimerName.B: Input.TIMER_B,
        TimerName.D: Input.TIMER_D,
        TimerName.M: Input.TIMER_M,
    }
)


def classify_response(status_code: int) -> Input | None:
    """The input a response with ``status_code`` is, or None if out of 100-699."""
    if 100 <= status_code <= 199:
        return Input.RECV_1XX
    if 200 <= status_code <= 299:
        return Input.RECV_2XX
    if 300 <= status_code <= 699:
        return Input.RECV_300_699
    return None


class ClientInviteTransaction(Generic[RequestT, ResponseT]):
    """One INVITE client transaction: state, timers and the request it sends.

    Create it with :meth:`start`. Then feed it responses, timer expiries and
    transport errors; carry out the outputs each call returns, in order; re-arm
    your timer from :meth:`get_timer` after every call.

    Attributes:
        request: the INVITE handle given at creation (opaque to the machine).
        reliable: whether the transport is reliable (WebSocket, TCP, TLS).
        timers: the timer values in use.
    """

    __slots__ = ("_final_response", "_state", "_timers", "reliable", "request", "timers")

    def __init__(
        self,
        request: RequestT,
        *,
        timers: TimerValues,
        reliable: bool,
        now: float,
    ) -> None:
        """Enter "Calling" at ``now`` without emitting anything; prefer :meth:`start`."""
        self.request: RequestT = request
        self.timers = timers
        self.reliable = reliable
        self._state = State.CALLING
        self._final_response: ResponseT | None = None
        self._timers = TimerSet()
        # RFC 3261 17.1.1.2: "If an unreliable transport is being used, the
        # client transaction MUST start timer A with a value of T1 [...] For any
        # transport, the client transaction MUST start timer B with a value of
        # 64*T1 seconds".
        self._timers.start(TimerName.A, now, timers.timer_a(reliable=reliable))
        self._timers.start(TimerName.B, now, timers.timer_b())

    @classmethod
    def start(
        cls,
        request: RequestT,
        *,
        timers: TimerValues | None = None,
        reliable: bool = True,
        now: float,
    ) -> tuple[
        ClientInviteTransaction[RequestT, ResponseT], list[ClientOutput[RequestT, ResponseT]]
    ]:
        """Create the transaction for ``request`` ("INVITE from TU / INVITE sent").

        Args:
            request: the INVITE, as any handle the caller likes.
            timers: T1/T2/T4 values; RFC 3261 defaults when None.
            reliable: True for WebSocket/TCP/TLS (no Timer A), False for UDP.
            now: the current monotonic time, in seconds.

        Returns:
            The transaction, in "Calling", and its first outputs: one
            :class:`~websip.transaction.events.SendRequest`. Next, send it and
            arm a timer for :meth:`get_timer`.
        """
        txn: ClientInviteTransaction[RequestT, ResponseT] = cls(
            request, timers=timers or TimerValues(), reliable=reliable, now=now
        )
        # RFC 3261 17.1.1.2: "The client transaction MUST pass the request to
        # the transport layer for transmission".
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
        """Fire every timer due at ``now``, in deadline order.

        Calling it early is harmless: nothing is due, nothing happens.
        """
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
                f"INVITE client transaction in state {self._state.name} cannot take {trigger.name}"
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
            case Action.BACKOFF_TIMER_A:
                self._timers.back_off(TimerName.A, now, self.timers)
                return []
            case Action.PASS_RESPONSE:
                assert response is not None  # only responses trigger this action
                return [PassResponseToTU(response=response)]
            case Action.SEND_ACK:
                # Keep the response the ACK answers: retransmissions re-send
                # the same ACK (RFC 3261 17.1.1.2).
                assert response is not None
                self._final_response = response
                return [SendAck(response=response, retransmission=False)]
            case Action.RETRANSMIT_ACK:
                assert self._final_response is not None  # set on entering Completed
                return [SendAck(response=self._final_response, retransmission=True)]
            case Action.START_TIMER_D:
                self._timers.start(TimerName.D, now, self.timers.timer_d(reliable=self.reliable))
                return []
            case Action.START_TIMER_M:
                self._timers.start(TimerName.M, now, self.timers.timer_m())
                return []
            case Action.INFORM_TU_TIMEOUT:
                return [TransactionTimedOut(timer=TimerName.B)]
            case Action.INFORM_TU_TRANSPORT_ERROR:  # pragma: no branch - enum exhausted
                return [TransportErrorOccurred()]
