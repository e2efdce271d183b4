"""The UAS retransmission of a 2xx to INVITE until its ACK (RFC 3261 13.3.1.4).

Theory of operation
-------------------

The INVITE server transaction sends a 2xx once and never retransmits it: "the
2xx response and its ACK receive special treatment [...] retransmissions of the
2xx response are handled by the UA core, not the transaction layer" (RFC 3261
17). RFC 3261 13.3.1.4 gives the core's rule:

    "The 2xx response is passed to the transport with an interval that starts
    at T1 seconds and doubles for each retransmission until it reaches T2
    seconds [...] Response retransmissions cease when an ACK request for the
    response is received. This is independent of whatever transport protocols
    are used to send the response."

    "Since 2xx is retransmitted end-to-end, there may be hops between UAS and
    UAC that are UDP. To ensure reliable delivery across these hops, the
    response is retransmitted periodically even if the transport at the UAS is
    reliable."

    "If the server retransmits the 2xx response for 64*T1 seconds without
    receiving an ACK, the dialog is confirmed, but the session SHOULD be
    terminated. This is accomplished with a BYE".

So, unlike Timers A, E and G, this retransmission runs over WebSocket too:
:class:`TwoHundredRetransmitter` has no ``reliable`` switch, on purpose. (JsSIP
does the same in ``RTCSession``.)

The INVITE usage owns one retransmitter per 2xx it sends: :meth:`start` right
after the first 2xx went out, :meth:`on_ack` when the dialog receives the ACK
(its CSeq number matching the INVITE's), :meth:`handle_timer` when
:meth:`get_timer` is due. Each retransmission should go through the INVITE
server transaction while it is "Accepted" (RFC 6026 7.1), and straight to the
transport once it has terminated; the layer's ``send_response`` does exactly
that.

The machine has one state enum and one table, like the transactions:

    ====== ================= =============== =============================
    state  input             next state      actions
    ====== ================= =============== =============================
    IDLE   START             RETRANSMITTING  arm (T1, give up at 64*T1)
    RETR.  TIMER_RETRANSMIT  RETRANSMITTING  send 2xx, interval 2x (<= T2)
    RETR.  TIMER_GIVE_UP     GAVE_UP         NoAckReceived
    RETR.  RECV_ACK          ACKNOWLEDGED    -
    ACK.   RECV_ACK          ACKNOWLEDGED    - (ACK retransmission)
    any    STOP              STOPPED         - (TU ends it: shutdown, ...)
    ====== ================= =============== =============================

An ACK the table refuses (before :meth:`start`, after giving up or stopping)
yields :class:`~websip.transaction.events.InputDiscarded`; a local input it
refuses (starting twice) raises :class:`~websip.exceptions.LocalProtocolError`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Generic, TypeAlias

from websip.exceptions import LocalProtocolError
from websip.transaction.events import (
    InputDiscarded,
    NoAckReceived,
    ResponseT,
    SendResponse,
)
from websip.transaction.timers import TimerValues

__all__ = [
    "REMOTE_INPUTS",
    "TRANSITIONS",
    "Action",
    "Input",
    "RetransmitterOutput",
    "State",
    "TwoHundredRetransmitter",
]


class State(enum.Enum):
    """Where the 2xx retransmission stands."""

    IDLE = "Idle"  # created, the 2xx not sent yet
    RETRANSMITTING = "Retransmitting"  # waiting for the ACK
    ACKNOWLEDGED = "Acknowledged"  # the ACK arrived
    GAVE_UP = "Gave up"  # 64*T1 without ACK: the TU should send BYE
    STOPPED = "Stopped"  # the TU stopped it


class Input(enum.Enum):
    """What can move the machine."""

    START = "start"  # the 2xx was sent the first time
    RECV_ACK = "ACK"  # the ACK of this 2xx arrived
    TIMER_RETRANSMIT = "retransmit timer"  # T1, 2*T1, ... capped at T2
    TIMER_GIVE_UP = "give-up timer"  # 64*T1 after the start
    STOP = "stop"  # the TU does not want retransmissions any more


REMOTE_INPUTS: Final = frozenset({Input.RECV_ACK})


class Action(enum.Enum):
    """Symbolic actions of the table."""

    ARM = "arm"  # first retransmission at T1, give up at 64*T1
    RETRANSMIT = "send 2xx"  # SendResponse(retransmission=True), then back off
    REPORT_NO_ACK = "report no ACK"  # NoAckReceived


Transition: TypeAlias = tuple[State, tuple[Action, ...]]

_I, _R, _A, _G, _S = (
    State.IDLE,
    State.RETRANSMITTING,
    State.ACKNOWLEDGED,
    State.GAVE_UP,
    State.STOPPED,
)
TRANSITIONS: Final[Mapping[tuple[State, Input], Transition]] = MappingProxyType(
    {
        (_I, Input.START): (_R, (Action.ARM,)),
        # "an interval that starts at T1 seconds and doubles for each
        # retransmission until it reaches T2 seconds"
        (_R, Input.TIMER_RETRANSMIT): (_R, (Action.RETRANSMIT,)),
        # "If the server retransmits the 2xx response for 64*T1 seconds without
        # receiving an ACK, the dialog is confirmed, but the session SHOULD be
        # terminated."
        (_R, Input.TIMER_GIVE_UP): (_G, (Action.REPORT_NO_ACK,)),
        # "Response retransmissions cease when an ACK request for the response
        # is received."
        (_R, Input.RECV_ACK): (_A, ()),
        # The UAC re-sends its ACK for each 2xx retransmission it receives
        # (RFC 3261 13.2.2.4): absorbed.
        (_A, Input.RECV_ACK): (_A, ()),
        # The TU may stop at any time (UA shutdown, connection lost); stopping
        # twice, or after the end, is harmless.
        (_I, Input.STOP): (_S, ()),
        (_R, Input.STOP): (_S, ()),
        (_A, Input.STOP): (_A, ()),
        (_G, Input.STOP): (_G, ()),
        (_S, Input.STOP): (_S, ()),
    }
)

RetransmitterOutput: TypeAlias = SendResponse[ResponseT] | NoAckReceived | InputDiscarded
"""Everything a :class:`TwoHundredRetransmitter` can emit."""


class TwoHundredRetransmitter(Generic[ResponseT]):
    """Retransmits one 2xx to INVITE until its ACK, for at most 64*T1.

    Attributes:
        response: the 2xx handle (opaque); every retransmission sends it again.
        timers: the timer values in use (T1, T2).
    """

    __slots__ = ("_give_up_at", "_interval", "_next_at", "_state", "response", "timers")

    def __init__(self, response: ResponseT, *, timers: TimerValues | None = None) -> None:
        """Prepare the retransmission of ``response``; nothing runs before :meth:`start`."""
        self.response: ResponseT = response
        self.timers = timers or TimerValues()
        self._state = State.IDLE
        self._interval = 0.0
        self._next_at: float | None = None
        self._give_up_at: float | None = None

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    def start(self, now: float) -> list[RetransmitterOutput[ResponseT]]:
        """Arm the retransmission; call right after the 2xx was sent the first time.

        Returns:
            An empty list (the first transmission is the caller's). Next, arm a
            timer for :meth:`get_timer`.

        Raises:
            LocalProtocolError: already started or stopped.
        """
        return self._process(Input.START, now)

    def on_ack(self) -> list[RetransmitterOutput[ResponseT]]:
        """The ACK of the 2xx arrived: stop retransmitting.

        Returns:
            An empty list, or one ``InputDiscarded`` when the ACK comes before
            :meth:`start`, after giving up, or after :meth:`stop`.
        """
        return self._process(Input.RECV_ACK, None)

    def stop(self) -> list[RetransmitterOutput[ResponseT]]:
        """Stop retransmitting without an ACK (the TU is shutting down)."""
        return self._process(Input.STOP, None)

    def get_timer(self) -> float | None:
        """The next deadline (retransmission or give-up), or None when idle or done."""
        if self._state is not State.RETRANSMITTING:
            return None
        assert self._next_at is not None and self._give_up_at is not None
        return min(self._next_at, self._give_up_at)

    def handle_timer(self, now: float) -> list[RetransmitterOutput[ResponseT]]:
        """Retransmit or give up if a deadline has passed; early calls are harmless.

        Returns:
            ``SendResponse(retransmission=True)`` when the retransmission timer
            was due, ``NoAckReceived`` when 64*T1 have passed (which wins a tie:
            no retransmission at the instant of giving up), else nothing.
        """
        outputs: list[RetransmitterOutput[ResponseT]] = []
        while self._state is State.RETRANSMITTING:
            assert self._next_at is not None and self._give_up_at is not None
            if self._give_up_at <= now:
                outputs += self._process(Input.TIMER_GIVE_UP, now)
            elif self._next_at <= now:
                outputs += self._process(Input.TIMER_RETRANSMIT, now)
            else:
                break
        return outputs

    def _process(self, trigger: Input, now: float | None) -> list[RetransmitterOutput[ResponseT]]:
        transition = TRANSITIONS.get((self._state, trigger))
        if transition is None:
            if trigger in REMOTE_INPUTS:
                return [InputDiscarded(state=self._state.name, trigger=trigger.name)]
            raise LocalProtocolError(
                f"2xx retransmitter in state {self._state.name} cannot take {trigger.name}"
            )
        next_state, actions = transition
        self._state = next_state
        outputs: list[RetransmitterOutput[ResponseT]] = []
        for action in actions:
            assert now is not None  # every action is triggered by a timed input
            match action:
                case Action.ARM:
                    self._interval = self.timers.retransmit_2xx_interval(None)
                    self._next_at = now + self._interval
                    self._give_up_at = now + self.timers.give_up_2xx()
                case Action.RETRANSMIT:
                    outputs.append(SendResponse(response=self.response, retransmission=True))
                    # Counted from now, the moment the 2xx went out again.
                    self._interval = self.timers.retransmit_2xx_interval(self._interval)
                    self._next_at = now + self._interval
                case Action.REPORT_NO_ACK:  # pragma: no branch - enum exhausted
                    outputs.append(NoAckReceived())
        return outputs
