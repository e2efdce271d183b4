"""The INVITE client transaction, driven with a fake clock (RFC 3261 17.1.1, RFC 6026 7.2)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from websip.exceptions import LocalProtocolError
from websip.transaction.events import (
    InputDiscarded,
    PassResponseToTU,
    SendAck,
    SendRequest,
    TransactionOutput,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from websip.transaction.ict import (
    REMOTE_INPUTS,
    STATE_TIMERS,
    TRANSITIONS,
    ClientInviteTransaction,
    Input,
    State,
)
from websip.transaction.timers import TimerName, TimerValues

T = TimerValues()
ICT = ClientInviteTransaction[str, str]


def start(*, reliable: bool = True, now: float = 0.0) -> ICT:
    txn, outputs = ICT.start("INVITE", timers=T, reliable=reliable, now=now)
    assert outputs == [SendRequest(request="INVITE", retransmission=False)]
    return txn


def terminated(outputs: Sequence[object]) -> bool:
    return bool(outputs) and outputs[-1] == TransactionTerminated()


class TestCalling:
    """RFC 3261 17.1.1.2: entering "Calling" sends the INVITE, starts A (UDP) and B."""

    def test_start_sends_request(self) -> None:
        txn, outputs = ICT.start("INVITE", now=3.0)
        assert txn.state is State.CALLING
        assert outputs == [SendRequest(request="INVITE", retransmission=False)]
        assert txn.request == "INVITE"
        assert txn.reliable is True  # WebSocket is the default
        assert txn.timers == TimerValues()

    def test_reliable_runs_only_timer_b(self) -> None:
        txn = start(reliable=True, now=10.0)
        assert dict(txn.deadlines) == {TimerName.B: 42.0}
        assert txn.get_timer() == 42.0

    def test_unreliable_runs_timers_a_and_b(self) -> None:
        txn = start(reliable=False, now=10.0)
        assert dict(txn.deadlines) == {TimerName.A: 10.5, TimerName.B: 42.0}
        assert txn.get_timer() == 10.5

    def test_early_handle_timer_is_harmless(self) -> None:
        txn = start(reliable=False)
        assert txn.handle_timer(0.49) == []
        assert txn.state is State.CALLING


class TestTimerA:
    """RFC 3261 17.1.1.2: Timer A retransmits at T1, 2*T1, 4*T1... until Timer B."""

    def test_retransmissions_double(self) -> None:
        txn = start(reliable=False)
        fired_at = []
        while (deadline := txn.get_timer()) is not None and deadline < 32.0:
            outputs = txn.handle_timer(deadline)
            assert outputs == [SendRequest(request="INVITE", retransmission=True)]
            fired_at.append(deadline)
        # 0.5, then +1, +2, +4, +8, +16: "seven requests" in 64*T1 with the first.
        assert fired_at == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
        assert txn.deadlines == {TimerName.A: 63.5, TimerName.B: 32.0}
        assert txn.handle_timer(32.0) == [
            TransactionTimedOut(timer=TimerName.B),
            TransactionTerminated(),
        ]

    def test_late_caller_retransmits_once(self) -> None:
        txn = start(reliable=False)
        # The event loop was late by 9.5 s: one retransmission, the next one
        # counted from now.
        assert txn.handle_timer(10.0) == [SendRequest(request="INVITE", retransmission=True)]
        assert txn.deadlines[TimerName.A] == 11.0

    def test_very_late_caller_sees_only_the_timeout(self) -> None:
        txn = start(reliable=False)
        assert txn.handle_timer(100.0) == [
            TransactionTimedOut(timer=TimerName.B),
            TransactionTerminated(),
        ]

    def test_custom_t1(self) -> None:
        txn, _ = ICT.start("INVITE", timers=TimerValues(t1=0.1), reliable=False, now=0.0)
        assert txn.deadlines == {TimerName.A: 0.1, TimerName.B: pytest.approx(6.4)}
        txn.handle_timer(0.1)
        assert txn.deadlines[TimerName.A] == pytest.approx(0.3)


class TestTimerB:
    """RFC 3261 17.1.1.2: Timer B = 64*T1 ends "Calling"; the TU treats it as a 408."""

    @pytest.mark.parametrize("reliable", [True, False])
    def test_fires_at_64_t1(self, reliable: bool) -> None:
        txn = start(reliable=reliable, now=5.0)
        assert txn.deadlines[TimerName.B] == 5.0 + 64 * 0.5
        # Over UDP the sixth retransmission is due at 5 + 31.5; B is not yet.
        retransmitted = [] if reliable else [SendRequest(request="INVITE", retransmission=True)]
        assert txn.handle_timer(36.999) == retransmitted
        outputs = txn.handle_timer(37.0)
        # "The client transaction MUST NOT generate an ACK."
        assert outputs == [TransactionTimedOut(timer=TimerName.B), TransactionTerminated()]
        assert txn.state is State.TERMINATED
        assert txn.get_timer() is None

    def test_stopped_by_provisional_response(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("180", 180, 1.0)
        assert txn.get_timer() is None
        assert txn.handle_timer(1000.0) == []


class TestProceeding:
    """RFC 3261 17.1.1.2: a 1xx moves to "Proceeding", which stops retransmissions."""

    def test_first_provisional(self) -> None:
        txn = start(reliable=False)
        assert txn.receive_response("100", 100, 0.2) == [PassResponseToTU(response="100")]
        assert txn.state is State.PROCEEDING
        assert dict(txn.deadlines) == {}

    def test_further_provisionals_pass_to_tu(self) -> None:
        txn = start()
        txn.receive_response("100", 100, 0.2)
        assert txn.receive_response("180", 180, 1.0) == [PassResponseToTU(response="180")]
        assert txn.receive_response("183", 183, 2.0) == [PassResponseToTU(response="183")]
        assert txn.state is State.PROCEEDING

    def test_no_timeout_while_ringing(self) -> None:
        txn = start()
        txn.receive_response("180", 180, 0.1)
        assert txn.handle_timer(3600.0) == []
        assert txn.state is State.PROCEEDING


class TestCompleted:
    """RFC 3261 17.1.1.2: a 300-699 is passed to the TU and ACKed by the transaction."""

    @pytest.mark.parametrize("via_proceeding", [False, True])
    def test_final_failure(self, via_proceeding: bool) -> None:
        txn = start()
        if via_proceeding:
            txn.receive_response("180", 180, 0.1)
        outputs = txn.receive_response("486", 486, 1.0)
        # Passed to the TU, and the ACK goes out "even if the transport is reliable".
        assert outputs == [
            PassResponseToTU(response="486"),
            SendAck(response="486", retransmission=False),
        ]
        assert txn.state is State.COMPLETED

    @pytest.mark.parametrize("code", [300, 302, 400, 487, 500, 603, 699])
    def test_every_class_is_acked(self, code: int) -> None:
        txn = start()
        outputs = txn.receive_response(str(code), code, 1.0)
        assert SendAck(response=str(code), retransmission=False) in outputs

    def test_retransmitted_final_re_sends_the_same_ack(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("486", 486, 1.0)
        # "MUST cause the ACK to be re-passed to the transport layer [...] but
        # the newly received response MUST NOT be passed up to the TU."
        assert txn.receive_response("486-again", 486, 2.0) == [
            SendAck(response="486", retransmission=True)
        ]
        assert txn.receive_response("486-third", 486, 3.0) == [
            SendAck(response="486", retransmission=True)
        ]

    @pytest.mark.parametrize(("code", "trigger"), [(180, "RECV_1XX"), (200, "RECV_2XX")])
    def test_other_responses_are_discarded(self, code: int, trigger: str) -> None:
        txn = start(reliable=False)
        txn.receive_response("486", 486, 1.0)
        assert txn.receive_response("x", code, 2.0) == [
            InputDiscarded(state="COMPLETED", trigger=trigger)
        ]
        assert txn.state is State.COMPLETED


class TestTimerD:
    """RFC 3261 17.1.1.2: Timer D, >= 32 s for UDP, 0 s for reliable transports."""

    def test_reliable_zero(self) -> None:
        txn = start(reliable=True)
        txn.receive_response("486", 486, 7.0)
        assert dict(txn.deadlines) == {TimerName.D: 7.0}
        assert txn.handle_timer(7.0) == [TransactionTerminated()]
        assert txn.state is State.TERMINATED

    def test_unreliable_32_seconds(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("486", 486, 7.0)
        assert dict(txn.deadlines) == {TimerName.D: 39.0}
        assert txn.handle_timer(38.9) == []
        assert txn.handle_timer(39.0) == [TransactionTerminated()]


class TestAccepted:
    """RFC 6026 7.2: a 2xx moves to "Accepted"; every 2xx goes to the TU, never ACKed here."""

    @pytest.mark.parametrize("via_proceeding", [False, True])
    def test_first_2xx(self, via_proceeding: bool) -> None:
        txn = start(reliable=False)
        if via_proceeding:
            txn.receive_response("180", 180, 0.1)
        assert txn.receive_response("200", 200, 1.0) == [PassResponseToTU(response="200")]
        assert txn.state is State.ACCEPTED
        assert dict(txn.deadlines) == {TimerName.M: 33.0}

    def test_retransmitted_and_forked_2xx_pass_to_tu(self) -> None:
        txn = start()
        txn.receive_response("200-a", 200, 1.0)
        # "A 2xx response received while in the Accepted state MUST be passed to
        # the TU" (the TU ACKs it; a new To tag is a new fork).
        assert txn.receive_response("200-a", 200, 1.5) == [PassResponseToTU(response="200-a")]
        assert txn.receive_response("200-b", 202, 2.0) == [PassResponseToTU(response="200-b")]
        assert txn.state is State.ACCEPTED

    @pytest.mark.parametrize(("code", "trigger"), [(180, "RECV_1XX"), (486, "RECV_300_699")])
    def test_other_responses_are_discarded(self, code: int, trigger: str) -> None:
        txn = start()
        txn.receive_response("200", 200, 1.0)
        assert txn.receive_response("x", code, 2.0) == [
            InputDiscarded(state="ACCEPTED", trigger=trigger)
        ]


class TestTimerM:
    """RFC 6026 7.2, 8.4: Timer M = 64*T1 ends "Accepted", on any transport."""

    @pytest.mark.parametrize("reliable", [True, False])
    def test_fires_at_64_t1(self, reliable: bool) -> None:
        txn = start(reliable=reliable)
        txn.receive_response("200", 200, 2.0)
        assert txn.get_timer() == 34.0
        assert txn.handle_timer(33.99) == []
        assert txn.handle_timer(34.0) == [TransactionTerminated()]
        assert txn.get_timer() is None


class TestTransportErrors:
    """RFC 3261 17.1.4: inform the TU and terminate (absorbed in "Accepted")."""

    def test_in_calling(self) -> None:
        txn = start()
        assert txn.transport_error(1.0) == [TransportErrorOccurred(), TransactionTerminated()]
        assert txn.state is State.TERMINATED

    def test_in_proceeding(self) -> None:
        txn = start()
        txn.receive_response("180", 180, 0.5)
        assert txn.transport_error(1.0) == [TransportErrorOccurred(), TransactionTerminated()]

    def test_in_completed(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("486", 486, 0.5)
        assert txn.transport_error(1.0) == [TransportErrorOccurred(), TransactionTerminated()]

    def test_absorbed_in_accepted(self) -> None:
        txn = start()
        txn.receive_response("200", 200, 0.5)
        assert txn.transport_error(1.0) == []
        assert txn.state is State.ACCEPTED

    def test_terminated_is_a_local_error(self) -> None:
        txn = start()
        txn.transport_error(1.0)
        with pytest.raises(LocalProtocolError, match="TERMINATED"):
            txn.transport_error(2.0)


class TestTerminated:
    """RFC 3261 17.1.1.2: "destroyed the instant it enters the Terminated state"."""

    @pytest.mark.parametrize(("code", "trigger"), [(180, "RECV_1XX"), (200, "RECV_2XX")])
    def test_responses_are_discarded(self, code: int, trigger: str) -> None:
        txn = start()
        txn.transport_error(0.0)
        assert txn.receive_response("x", code, 1.0) == [
            InputDiscarded(state="TERMINATED", trigger=trigger)
        ]

    @pytest.mark.parametrize("code", [0, 99, 700, 999, -1])
    def test_status_out_of_range_is_discarded(self, code: int) -> None:
        txn = start()
        assert txn.receive_response("x", code, 1.0) == [
            InputDiscarded(state="CALLING", trigger=f"status {code}")
        ]
        assert txn.state is State.CALLING


# -- the table, checked exhaustively ------------------------------------------------

STATUS_FOR = {Input.RECV_1XX: 180, Input.RECV_2XX: 200, Input.RECV_300_699: 486}
TIMER_FOR = {
    Input.TIMER_A: TimerName.A,
    Input.TIMER_B: TimerName.B,
    Input.TIMER_D: TimerName.D,
    Input.TIMER_M: TimerName.M,
}


def reach(state: State, *, reliable: bool) -> ICT:
    txn = start(reliable=reliable)
    if state is State.PROCEEDING:
        txn.receive_response("180", 180, 0.1)
    elif state is State.COMPLETED:
        txn.receive_response("486", 486, 0.1)
    elif state is State.ACCEPTED:
        txn.receive_response("200", 200, 0.1)
    elif state is State.TERMINATED:
        txn.transport_error(0.1)
    assert txn.state is state
    return txn


def apply(txn: ICT, trigger: Input, now: float) -> list[TransactionOutput] | None:
    """Feed ``trigger`` through the public API; None if a timer is not armed."""
    if trigger in STATUS_FOR:
        return list(txn.receive_response("resp", STATUS_FOR[trigger], now))
    if trigger is Input.TRANSPORT_ERROR:
        return list(txn.transport_error(now))
    deadline = txn.deadlines.get(TIMER_FOR[trigger])
    if deadline is None:
        return None
    return list(txn.handle_timer(max(deadline, now)))


class TestTransitionTable:
    """RFC 3261 Figure 5 / RFC 6026 Figure 5: the table is complete and consistent."""

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
            # Only local inputs the table refuses may raise.
            assert expected is None
            assert trigger not in REMOTE_INPUTS
            assert txn.state is state
            return
        assume(outputs is not None)  # a timer the transport does not run
        assert outputs is not None
        if expected is None:
            assert trigger in REMOTE_INPUTS
            assert outputs == [InputDiscarded(state=state.name, trigger=trigger.name)]
            assert txn.state is state
            return
        next_state, _ = expected
        if trigger in TIMER_FOR and txn.state is not next_state:
            # A late timer call may fire a second due timer after this one.
            assert txn.state is State.TERMINATED
        else:
            assert txn.state is next_state
        assert terminated(outputs) == (txn.state is State.TERMINATED)
        assert set(txn.deadlines) <= STATE_TIMERS[txn.state]


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("response"), st.sampled_from([100, 180, 183, 200, 202, 302, 486, 603])),
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
        final_non_2xx = 0
        for kind, value in operations:
            outputs: list[TransactionOutput]
            if kind == "advance":
                now += value
                continue
            if kind == "response":
                code = int(value)
                outputs = list(txn.receive_response(f"r{code}", code, now))
                for output in outputs:
                    if isinstance(output, PassResponseToTU):
                        assert output.response == f"r{code}"
                        final_non_2xx += code >= 300
            elif kind == "timer":
                outputs = list(txn.handle_timer(now))
            else:
                if ended:
                    with pytest.raises(LocalProtocolError):
                        txn.transport_error(now)
                    continue
                outputs = list(txn.transport_error(now))
            for output in outputs:
                if isinstance(output, SendAck):
                    # The transaction ACKs only non-2xx finals (RFC 3261 17.1.1.3).
                    assert output.response.startswith(("r3", "r4", "r5", "r6"))
            assert TransactionTerminated() not in outputs[:-1]
            if terminated(outputs):
                assert not ended
                ended = True
            assert ended == (txn.state is State.TERMINATED)
            assert set(txn.deadlines) <= STATE_TIMERS[txn.state]
            assert (txn.get_timer() is None) == (not txn.deadlines)
        # A non-2xx final reaches the TU at most once.
        assert final_non_2xx <= 1
