"""The UAS 2xx retransmission until ACK (RFC 3261 13.3.1.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from websip.exceptions import LocalProtocolError
from websip.transaction.events import InputDiscarded, NoAckReceived, SendResponse
from websip.transaction.retransmit import (
    REMOTE_INPUTS,
    TRANSITIONS,
    Input,
    State,
    TwoHundredRetransmitter,
)
from websip.transaction.timers import TimerValues

RETRANSMIT = [SendResponse(response="200", retransmission=True)]


def started(now: float = 0.0, timers: TimerValues | None = None) -> TwoHundredRetransmitter[str]:
    retransmitter = TwoHundredRetransmitter("200", timers=timers)
    assert retransmitter.start(now) == []
    return retransmitter


class TestRetransmissionSchedule:
    """RFC 3261 13.3.1.4: "starts at T1 seconds and doubles [...] until it reaches T2"."""

    def test_idle_until_started(self) -> None:
        retransmitter = TwoHundredRetransmitter("200")
        assert retransmitter.state is State.IDLE
        assert retransmitter.get_timer() is None
        assert retransmitter.handle_timer(100.0) == []
        assert retransmitter.response == "200"
        assert retransmitter.timers == TimerValues()

    def test_schedule_then_give_up_at_64_t1(self) -> None:
        retransmitter = started(now=10.0)
        fired_at = []
        while (deadline := retransmitter.get_timer()) is not None and deadline < 42.0:
            assert retransmitter.handle_timer(deadline) == RETRANSMIT
            fired_at.append(deadline - 10.0)
        assert fired_at == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        # "If the server retransmits the 2xx response for 64*T1 seconds without
        # receiving an ACK, [...] the session SHOULD be terminated."
        assert retransmitter.get_timer() == 42.0
        assert retransmitter.handle_timer(42.0) == [NoAckReceived()]
        assert retransmitter.state is State.GAVE_UP
        assert retransmitter.get_timer() is None
        assert retransmitter.handle_timer(1000.0) == []

    def test_custom_timers(self) -> None:
        retransmitter = started(timers=TimerValues(t1=1.0, t2=2.0))
        assert retransmitter.get_timer() == 1.0
        retransmitter.handle_timer(1.0)
        assert retransmitter.get_timer() == 3.0
        retransmitter.handle_timer(3.0)
        assert retransmitter.get_timer() == 5.0

    def test_early_call_is_harmless(self) -> None:
        retransmitter = started()
        assert retransmitter.handle_timer(0.49) == []

    def test_late_caller_gives_up_without_retransmitting(self) -> None:
        retransmitter = started()
        assert retransmitter.handle_timer(500.0) == [NoAckReceived()]

    def test_late_caller_retransmits_once(self) -> None:
        retransmitter = started()
        assert retransmitter.handle_timer(5.0) == RETRANSMIT
        assert retransmitter.get_timer() == 6.0


class TestReliableTransports:
    """RFC 3261 13.3.1.4: retransmitted "even if the transport at the UAS is reliable"."""

    def test_no_reliable_switch(self) -> None:
        with pytest.raises(TypeError):
            TwoHundredRetransmitter("200", reliable=True)  # type: ignore[call-arg]


class TestAck:
    """RFC 3261 13.3.1.4: "Response retransmissions cease when an ACK [...] is received"."""

    def test_ack_stops(self) -> None:
        retransmitter = started()
        retransmitter.handle_timer(0.5)
        assert retransmitter.on_ack() == []
        assert retransmitter.state is State.ACKNOWLEDGED
        assert retransmitter.get_timer() is None
        assert retransmitter.handle_timer(100.0) == []

    def test_ack_retransmissions_are_absorbed(self) -> None:
        retransmitter = started()
        retransmitter.on_ack()
        assert retransmitter.on_ack() == []

    def test_ack_before_start_is_discarded(self) -> None:
        retransmitter = TwoHundredRetransmitter("200")
        assert retransmitter.on_ack() == [InputDiscarded(state="IDLE", trigger="RECV_ACK")]

    def test_ack_after_giving_up_is_discarded(self) -> None:
        retransmitter = started()
        retransmitter.handle_timer(32.0)
        assert retransmitter.on_ack() == [InputDiscarded(state="GAVE_UP", trigger="RECV_ACK")]


class TestStop:
    """The TU may stop the retransmission (shutdown, lost connection)."""

    @pytest.mark.parametrize("how", ["idle", "running", "acked", "gave_up", "stopped"])
    def test_stop_anywhere(self, how: str) -> None:
        retransmitter = TwoHundredRetransmitter("200")
        if how != "idle":
            retransmitter.start(0.0)
        if how == "acked":
            retransmitter.on_ack()
        elif how == "gave_up":
            retransmitter.handle_timer(32.0)
        elif how == "stopped":
            retransmitter.stop()
        before = retransmitter.state
        assert retransmitter.stop() == []
        assert retransmitter.get_timer() is None
        if before in (State.ACKNOWLEDGED, State.GAVE_UP):
            assert retransmitter.state is before
        else:
            assert retransmitter.state is State.STOPPED

    def test_ack_after_stop_is_discarded(self) -> None:
        retransmitter = started()
        retransmitter.stop()
        assert retransmitter.on_ack() == [InputDiscarded(state="STOPPED", trigger="RECV_ACK")]

    def test_start_twice_is_a_local_error(self) -> None:
        retransmitter = started()
        with pytest.raises(LocalProtocolError, match="RETRANSMITTING"):
            retransmitter.start(1.0)


class TestTransitionTable:
    """Every (state, input) pair: only the documented outcome."""

    @given(state=st.sampled_from(State), trigger=st.sampled_from(Input))
    def test_every_pair(self, state: State, trigger: Input) -> None:
        retransmitter = TwoHundredRetransmitter("200")
        if state is not State.IDLE:
            retransmitter.start(0.0)
        if state is State.ACKNOWLEDGED:
            retransmitter.on_ack()
        elif state is State.GAVE_UP:
            retransmitter.handle_timer(32.0)
        elif state is State.STOPPED:
            retransmitter.stop()
        assert retransmitter.state is state
        expected = TRANSITIONS.get((state, trigger))
        try:
            if trigger is Input.START:
                outputs = retransmitter.start(1.0)
            elif trigger is Input.RECV_ACK:
                outputs = retransmitter.on_ack()
            elif trigger is Input.STOP:
                outputs = retransmitter.stop()
            else:
                deadline = retransmitter.get_timer()
                if deadline is None:
                    assert expected is None
                    return
                when = deadline if trigger is Input.TIMER_RETRANSMIT else 32.0
                outputs = retransmitter.handle_timer(when)
        except LocalProtocolError:
            assert expected is None
            assert trigger not in REMOTE_INPUTS
            return
        if expected is None:
            assert outputs == [InputDiscarded(state=state.name, trigger=trigger.name)]
        else:
            assert retransmitter.state is expected[0]
