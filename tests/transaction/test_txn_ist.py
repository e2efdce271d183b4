"""The INVITE server transaction, driven with a fake clock (RFC 3261 17.2.1, RFC 6026 7.1)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from websip.exceptions import LocalProtocolError
from websip.transaction.events import (
    InputDiscarded,
    PassRequestToTU,
    SendResponse,
    TransactionOutput,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from websip.transaction.ist import (
    REMOTE_INPUTS,
    STATE_TIMERS,
    TRANSITIONS,
    Input,
    ServerInviteTransaction,
    State,
)
from websip.transaction.timers import TimerName, TimerValues

T = TimerValues()
IST = ServerInviteTransaction[str, str]


def start(*, reliable: bool = True, now: float = 0.0, trying: bool = False) -> IST:
    txn, outputs = IST.start(
        "INVITE", timers=T, reliable=reliable, now=now, trying="100" if trying else None
    )
    assert outputs[-1] == PassRequestToTU(request="INVITE")
    return txn


def sent(response: str, *, again: bool = False) -> list[TransactionOutput]:
    return [SendResponse(response=response, retransmission=again)]


def terminated(outputs: Sequence[object]) -> bool:
    return bool(outputs) and outputs[-1] == TransactionTerminated()


class TestProceeding:
    """RFC 3261 17.2.1: "Proceeding" passes the INVITE up and sends provisionals."""

    def test_start_without_trying(self) -> None:
        txn, outputs = IST.start("INVITE", now=0.0)
        assert outputs == [PassRequestToTU(request="INVITE")]
        assert txn.state is State.PROCEEDING
        assert txn.get_timer() is None
        assert txn.request == "INVITE"

    def test_start_with_trying(self) -> None:
        # "MUST generate a 100 (Trying) response unless it knows that the TU
        # will generate a provisional or final response within 200 ms".
        txn, outputs = IST.start("INVITE", now=0.0, trying="100")
        assert outputs == [*sent("100"), PassRequestToTU(request="INVITE")]
        assert txn.state is State.PROCEEDING

    def test_provisionals_are_sent(self) -> None:
        txn = start()
        assert txn.send_response("180", 180, 0.5) == sent("180")
        assert txn.send_response("183", 183, 0.6) == sent("183")
        assert txn.state is State.PROCEEDING

    def test_retransmitted_invite_gets_last_provisional(self) -> None:
        txn = start(trying=True)
        assert txn.receive_request(0.5) == sent("100", again=True)
        txn.send_response("180", 180, 0.6)
        assert txn.receive_request(1.0) == sent("180", again=True)

    def test_retransmitted_invite_before_any_response(self) -> None:
        txn = start()
        assert txn.receive_request(0.5) == []
        assert txn.state is State.PROCEEDING

    def test_ack_before_final_is_discarded(self) -> None:
        txn = start()
        assert txn.receive_ack("ACK", 0.5) == [
            InputDiscarded(state="PROCEEDING", trigger="RECV_ACK")
        ]

    @pytest.mark.parametrize("code", [0, 99, 700])
    def test_bad_status_is_a_local_error(self, code: int) -> None:
        txn = start()
        with pytest.raises(LocalProtocolError, match=str(code)):
            txn.send_response("x", code, 0.5)
        assert txn.state is State.PROCEEDING


class TestCompleted:
    """RFC 3261 17.2.1: a 300-699 is sent and "Completed" waits for the ACK."""

    def test_failure_response(self) -> None:
        txn = start()
        assert txn.send_response("486", 486, 1.0) == sent("486")
        assert txn.state is State.COMPLETED

    def test_reliable_runs_only_timer_h(self) -> None:
        txn = start(reliable=True)
        txn.send_response("486", 486, 1.0)
        assert dict(txn.deadlines) == {TimerName.H: 33.0}

    def test_unreliable_runs_g_and_h(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 1.0)
        assert dict(txn.deadlines) == {TimerName.G: 1.5, TimerName.H: 33.0}

    def test_retransmitted_invite_gets_the_final(self) -> None:
        txn = start()
        txn.send_response("180", 180, 0.5)
        txn.send_response("486", 486, 1.0)
        assert txn.receive_request(1.5) == sent("486", again=True)

    @pytest.mark.parametrize("code", [100, 180, 200, 486])
    def test_tu_cannot_send_more(self, code: int) -> None:
        txn = start()
        txn.send_response("486", 486, 1.0)
        with pytest.raises(LocalProtocolError, match="COMPLETED"):
            txn.send_response("x", code, 2.0)
        assert txn.state is State.COMPLETED


class TestTimerG:
    """RFC 3261 17.2.1: G retransmits the final at T1, MIN(2*T1, T2)... (UDP only)."""

    def test_intervals_cap_at_t2(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 0.0)
        fired_at = []
        while (deadline := txn.get_timer()) is not None and deadline < 32.0:
            assert txn.handle_timer(deadline) == sent("486", again=True)
            fired_at.append(deadline)
        assert fired_at == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]

    def test_stopped_by_ack(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 0.0)
        txn.handle_timer(0.5)
        assert txn.receive_ack("ACK", 0.7) == []
        # "As Timer G is ignored in this state, any retransmissions of the
        # response will cease."
        assert TimerName.G not in txn.deadlines


class TestTimerH:
    """RFC 3261 17.2.1: H = 64*T1 for all transports; no ACK is a transaction failure."""

    @pytest.mark.parametrize("reliable", [True, False])
    def test_fires_at_64_t1(self, reliable: bool) -> None:
        txn = start(reliable=reliable)
        txn.send_response("486", 486, 2.0)
        assert txn.deadlines[TimerName.H] == 34.0
        outputs = txn.handle_timer(34.0)
        assert outputs[-2:] == [TransactionTimedOut(timer=TimerName.H), TransactionTerminated()]
        assert txn.state is State.TERMINATED
        assert txn.get_timer() is None

    def test_late_caller_skips_retransmission(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 0.0)
        assert txn.handle_timer(100.0) == [
            TransactionTimedOut(timer=TimerName.H),
            TransactionTerminated(),
        ]


class TestConfirmed:
    """RFC 3261 17.2.1: the ACK moves to "Confirmed", which absorbs ACK retransmissions."""

    def test_ack(self) -> None:
        txn = start()
        txn.send_response("486", 486, 1.0)
        assert txn.receive_ack("ACK", 1.2) == []
        assert txn.state is State.CONFIRMED

    def test_more_acks_are_absorbed(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 1.0)
        txn.receive_ack("ACK", 1.2)
        assert txn.receive_ack("ACK", 1.3) == []
        assert txn.state is State.CONFIRMED

    def test_late_invite_is_discarded(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 1.0)
        txn.receive_ack("ACK", 1.2)
        assert txn.receive_request(1.3) == [
            InputDiscarded(state="CONFIRMED", trigger="RECV_REQUEST")
        ]


class TestTimerI:
    """RFC 3261 17.2.1: I = T4 for unreliable, zero for reliable transports."""

    def test_unreliable(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 1.0)
        txn.receive_ack("ACK", 2.0)
        assert dict(txn.deadlines) == {TimerName.I: 7.0}
        assert txn.handle_timer(6.9) == []
        assert txn.handle_timer(7.0) == [TransactionTerminated()]

    def test_reliable(self) -> None:
        txn = start(reliable=True)
        txn.send_response("486", 486, 1.0)
        txn.receive_ack("ACK", 2.0)
        assert dict(txn.deadlines) == {TimerName.I: 2.0}
        assert txn.handle_timer(2.0) == [TransactionTerminated()]


class TestAccepted:
    """RFC 6026 7.1: after a 2xx, "Accepted" absorbs INVITEs and passes ACKs and 2xx."""

    @pytest.mark.parametrize("after_provisional", [False, True])
    def test_2xx(self, after_provisional: bool) -> None:
        txn = start()
        if after_provisional:
            txn.send_response("180", 180, 0.5)
        assert txn.send_response("200", 200, 1.0) == sent("200")
        assert txn.state is State.ACCEPTED

    def test_retransmitted_invite_is_absorbed(self) -> None:
        txn = start()
        txn.send_response("200", 200, 1.0)
        # "They will not be passed up to the TU" (and not answered here: the
        # TU's own 2xx retransmissions take care of the UAC).
        assert txn.receive_request(1.5) == []

    def test_tu_retransmissions_of_the_2xx_are_sent(self) -> None:
        txn = start()
        txn.send_response("200", 200, 1.0)
        assert txn.send_response("200", 200, 1.5) == sent("200")

    def test_ack_goes_to_the_tu(self) -> None:
        txn = start()
        txn.send_response("200", 200, 1.0)
        assert txn.receive_ack("ACK", 1.2) == [PassRequestToTU(request="ACK")]
        assert txn.state is State.ACCEPTED

    @pytest.mark.parametrize("code", [180, 486])
    def test_tu_cannot_send_non_2xx(self, code: int) -> None:
        txn = start()
        txn.send_response("200", 200, 1.0)
        with pytest.raises(LocalProtocolError, match="ACCEPTED"):
            txn.send_response("x", code, 1.5)


class TestTimerL:
    """RFC 6026 7.1, 8.7: L = 64*T1 ends "Accepted", on any transport."""

    @pytest.mark.parametrize("reliable", [True, False])
    def test_fires_at_64_t1(self, reliable: bool) -> None:
        txn = start(reliable=reliable)
        txn.send_response("200", 200, 3.0)
        assert dict(txn.deadlines) == {TimerName.L: 35.0}
        assert txn.handle_timer(34.9) == []
        assert txn.handle_timer(35.0) == [TransactionTerminated()]
        assert txn.get_timer() is None


class TestTransportErrors:
    """RFC 6026 Figure 7 and RFC 3261 17.2.4: inform the TU, keep the state."""

    def test_in_proceeding(self) -> None:
        txn = start()
        assert txn.transport_error(1.0) == [TransportErrorOccurred()]
        assert txn.state is State.PROCEEDING

    def test_in_completed(self) -> None:
        txn = start()
        txn.send_response("486", 486, 0.5)
        assert txn.transport_error(1.0) == [TransportErrorOccurred()]
        assert txn.state is State.COMPLETED

    def test_in_accepted(self) -> None:
        txn = start()
        txn.send_response("200", 200, 0.5)
        assert txn.transport_error(1.0) == [TransportErrorOccurred()]
        assert txn.state is State.ACCEPTED

    def test_absorbed_in_confirmed(self) -> None:
        txn = start(reliable=False)
        txn.send_response("486", 486, 0.5)
        txn.receive_ack("ACK", 0.6)
        assert txn.transport_error(1.0) == []

    def test_terminated_is_a_local_error(self) -> None:
        txn = start()
        txn.send_response("486", 486, 0.5)
        txn.receive_ack("ACK", 0.6)
        txn.handle_timer(0.6)
        assert txn.state is State.TERMINATED
        with pytest.raises(LocalProtocolError):
            txn.transport_error(1.0)


# -- the table, checked exhaustively ------------------------------------------------

STATUS_FOR = {Input.SEND_1XX: 180, Input.SEND_2XX: 200, Input.SEND_300_699: 486}
TIMER_FOR = {
    Input.TIMER_G: TimerName.G,
    Input.TIMER_H: TimerName.H,
    Input.TIMER_I: TimerName.I,
    Input.TIMER_L: TimerName.L,
}


def reach(state: State, *, reliable: bool) -> IST:
    txn = start(reliable=reliable)
    if state is State.COMPLETED:
        txn.send_response("486", 486, 0.1)
    elif state is State.CONFIRMED:
        txn.send_response("486", 486, 0.1)
        txn.receive_ack("ACK", 0.1)
    elif state is State.ACCEPTED:
        txn.send_response("200", 200, 0.1)
    elif state is State.TERMINATED:
        txn.send_response("200", 200, 0.1)
        txn.handle_timer(100.0)
    assert txn.state is state
    return txn


def apply(txn: IST, trigger: Input, now: float) -> list[TransactionOutput] | None:
    """Feed ``trigger`` through the public API; None if a timer is not armed."""
    if trigger in STATUS_FOR:
        return list(txn.send_response("resp", STATUS_FOR[trigger], now))
    if trigger is Input.RECV_REQUEST:
        return list(txn.receive_request(now))
    if trigger is Input.RECV_ACK:
        return list(txn.receive_ack("ACK", now))
    if trigger is Input.TRANSPORT_ERROR:
        return list(txn.transport_error(now))
    deadline = txn.deadlines.get(TIMER_FOR[trigger])
    if deadline is None:
        return None
    return list(txn.handle_timer(max(deadline, now)))


class TestTransitionTable:
    """RFC 6026 Figure 7: the table is complete and consistent."""

    def test_terminated_has_no_exit(self) -> None:
        assert not [key for key in TRANSITIONS if key[0] is State.TERMINATED]

    def test_every_live_state_handles_transport_errors(self) -> None:
        for state in State:
            if state is not State.TERMINATED:
                assert (state, Input.TRANSPORT_ERROR) in TRANSITIONS

    def test_timer_entries_match_the_state_timers(self) -> None:
        for state in State:
            in_table = {
                TIMER_FOR[trigger]
                for (source, trigger) in TRANSITIONS
                if source is state and trigger in TIMER_FOR
            }
            assert in_table == set(STATE_TIMERS[state])

    @given(
        state=st.sampled_from(State),
        trigger=st.sampled_from(Input),
        reliable=st.booleans(),
        delay=st.floats(min_value=0.0, max_value=100.0),
    )
    def test_every_state_input_pair(
        self, state: State, trigger: Input, reliable: bool, delay: float
    ) -> None:
        txn = reach(state, reliable=reliable)
        now = 0.1 + delay
        expected = TRANSITIONS.get((state, trigger))
        try:
            outputs = apply(txn, trigger, now)
        except LocalProtocolError:
            assert expected is None
            assert trigger not in REMOTE_INPUTS
            assert txn.state is state
            return
        assume(outputs is not None)
        assert outputs is not None
        if expected is None:
            assert trigger in REMOTE_INPUTS
            assert outputs == [InputDiscarded(state=state.name, trigger=trigger.name)]
            assert txn.state is state
            return
        next_state, _ = expected
        if trigger in TIMER_FOR and txn.state is not next_state:
            assert txn.state is State.TERMINATED  # a second due timer fired too
        else:
            assert txn.state is next_state
        assert terminated(outputs) == (txn.state is State.TERMINATED)
        assert set(txn.deadlines) <= STATE_TIMERS[txn.state]


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from([100, 180, 183, 200, 302, 486, 603])),
        st.tuples(st.just("invite"), st.just(0)),
        st.tuples(st.just("ack"), st.just(0)),
        st.tuples(st.just("advance"), st.floats(min_value=0.0, max_value=40.0)),
        st.tuples(st.just("timer"), st.just(0)),
        st.tuples(st.just("transport_error"), st.just(0)),
    ),
    max_size=30,
)


class TestRandomWalks:
    """Any sequence of inputs keeps the machine's invariants."""

    @given(reliable=st.booleans(), operations=OPERATIONS)
    def test_invariants(self, reliable: bool, operations: list[tuple[str, float]]) -> None:
        txn = start(reliable=reliable)
        now = 0.0
        ended = False
        final_sent: str | None = None
        for kind, value in operations:
            outputs: list[TransactionOutput]
            if kind == "advance":
                now += value
                continue
            try:
                if kind == "send":
                    code = int(value)
                    outputs = list(txn.send_response(f"r{code}", code, now))
                    if code >= 300:
                        final_sent = f"r{code}"
                elif kind == "invite":
                    outputs = list(txn.receive_request(now))
                elif kind == "ack":
                    outputs = list(txn.receive_ack("ACK", now))
                elif kind == "timer":
                    outputs = list(txn.handle_timer(now))
                else:
                    outputs = list(txn.transport_error(now))
            except LocalProtocolError:
                # Only what the TU (or the layer) does wrong may raise.
                assert kind in ("send", "transport_error")
                continue
            for output in outputs:
                # A retransmitted final is always the one sent.
                if (
                    isinstance(output, SendResponse)
                    and output.retransmission
                    and txn.state is State.COMPLETED
                ):
                    assert output.response == final_sent
            assert TransactionTerminated() not in outputs[:-1]
            if terminated(outputs):
                assert not ended
                ended = True
            assert ended == (txn.state is State.TERMINATED)
            assert set(txn.deadlines) <= STATE_TIMERS[txn.state]
