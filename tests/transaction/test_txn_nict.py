"""The non-INVITE client transaction, driven with a fake clock (RFC 3261 17.1.2)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from websip.exceptions import LocalProtocolError
from websip.transaction.events import (
    InputDiscarded,
    PassResponseToTU,
    SendRequest,
    TransactionOutput,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from websip.transaction.nict import (
    REMOTE_INPUTS,
    STATE_TIMERS,
    TRANSITIONS,
    ClientNonInviteTransaction,
    Input,
    State,
)
from websip.transaction.timers import TimerName, TimerValues

T = TimerValues()
NICT = ClientNonInviteTransaction[str, str]
RETRANSMIT = [SendRequest(request="OPTIONS", retransmission=True)]


def start(*, reliable: bool = True, now: float = 0.0, timers: TimerValues = T) -> NICT:
    txn, outputs = NICT.start("OPTIONS", timers=timers, reliable=reliable, now=now)
    assert outputs == [SendRequest(request="OPTIONS", retransmission=False)]
    return txn


def terminated(outputs: Sequence[object]) -> bool:
    return bool(outputs) and outputs[-1] == TransactionTerminated()


class TestTrying:
    """RFC 3261 17.1.2.2: "Trying" sends the request, starts E (UDP) and F."""

    def test_start(self) -> None:
        txn, outputs = NICT.start("OPTIONS", now=1.0)
        assert txn.state is State.TRYING
        assert outputs == [SendRequest(request="OPTIONS", retransmission=False)]
        assert dict(txn.deadlines) == {TimerName.F: 33.0}

    def test_unreliable_starts_timer_e(self) -> None:
        txn = start(reliable=False, now=1.0)
        assert dict(txn.deadlines) == {TimerName.E: 1.5, TimerName.F: 33.0}
        assert txn.get_timer() == 1.5

    def test_final_response_completes(self) -> None:
        txn = start()
        assert txn.receive_response("200", 200, 0.3) == [PassResponseToTU(response="200")]
        assert txn.state is State.COMPLETED

    @pytest.mark.parametrize("code", [200, 202, 301, 401, 407, 481, 503, 603])
    def test_any_final_response(self, code: int) -> None:
        txn = start()
        assert txn.receive_response("r", code, 0.3) == [PassResponseToTU(response="r")]
        assert txn.state is State.COMPLETED


class TestTimerE:
    """RFC 3261 17.1.2.2: E retransmits at T1, then MIN(2*T1, T2)... and T2 once proceeding."""

    def test_intervals_cap_at_t2(self) -> None:
        txn = start(reliable=False)
        fired_at = []
        while (deadline := txn.get_timer()) is not None and deadline < 32.0:
            assert txn.handle_timer(deadline) == RETRANSMIT
            fired_at.append(deadline)
        # "intervals of 500 ms, 1 s, 2 s, 4 s, 4 s, 4 s, etc."
        assert fired_at == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        assert txn.handle_timer(32.0) == [
            TransactionTimedOut(timer=TimerName.F),
            TransactionTerminated(),
        ]

    def test_provisional_keeps_e_running_then_t2(self) -> None:
        txn = start(reliable=False)
        assert txn.handle_timer(0.5) == RETRANSMIT  # next E at 1.5
        assert txn.receive_response("100", 100, 0.7) == [PassResponseToTU(response="100")]
        assert txn.state is State.PROCEEDING
        # "If a provisional response is received, retransmissions continue for
        # unreliable transports, but at an interval of T2" (17.1.2.1).
        assert dict(txn.deadlines) == {TimerName.E: 1.5, TimerName.F: 32.0}
        assert txn.handle_timer(1.5) == RETRANSMIT
        assert txn.deadlines[TimerName.E] == 5.5
        assert txn.handle_timer(5.5) == RETRANSMIT
        assert txn.deadlines[TimerName.E] == 9.5

    def test_small_t2(self) -> None:
        txn = start(reliable=False, timers=TimerValues(t1=0.5, t2=0.5))
        txn.handle_timer(0.5)
        assert txn.deadlines[TimerName.E] == 1.0

    def test_not_started_when_reliable(self) -> None:
        txn = start(reliable=True)
        assert TimerName.E not in txn.deadlines
        assert txn.handle_timer(31.9) == []


class TestTimerF:
    """RFC 3261 17.1.2.2: F = 64*T1 in "Trying" or "Proceeding" informs the TU (408)."""

    def test_in_trying(self) -> None:
        txn = start(now=2.0)
        assert txn.handle_timer(33.9) == []
        assert txn.handle_timer(34.0) == [
            TransactionTimedOut(timer=TimerName.F),
            TransactionTerminated(),
        ]
        assert txn.state is State.TERMINATED
        assert txn.get_timer() is None

    def test_in_proceeding(self) -> None:
        txn = start()
        txn.receive_response("100", 100, 1.0)
        assert txn.get_timer() == 32.0  # F is not restarted by a 1xx
        assert txn.handle_timer(32.0) == [
            TransactionTimedOut(timer=TimerName.F),
            TransactionTerminated(),
        ]

    def test_late_caller_skips_retransmission(self) -> None:
        txn = start(reliable=False)
        assert txn.handle_timer(50.0) == [
            TransactionTimedOut(timer=TimerName.F),
            TransactionTerminated(),
        ]


class TestProceeding:
    """RFC 3261 17.1.2.2: 1xx pass to the TU; a final response completes."""

    def test_provisionals(self) -> None:
        txn = start()
        txn.receive_response("100", 100, 0.1)
        assert txn.receive_response("180", 180, 0.2) == [PassResponseToTU(response="180")]
        assert txn.state is State.PROCEEDING

    def test_final(self) -> None:
        txn = start()
        txn.receive_response("100", 100, 0.1)
        assert txn.receive_response("200", 200, 0.2) == [PassResponseToTU(response="200")]
        assert txn.state is State.COMPLETED


class TestCompleted:
    """RFC 3261 17.1.2.2: "Completed" buffers response retransmissions."""

    def test_retransmitted_final_is_absorbed(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("200", 200, 1.0)
        assert txn.receive_response("200", 200, 1.5) == []
        assert txn.receive_response("500", 500, 1.6) == []
        assert txn.state is State.COMPLETED

    def test_late_provisional_is_discarded(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("200", 200, 1.0)
        assert txn.receive_response("100", 100, 1.5) == [
            InputDiscarded(state="COMPLETED", trigger="RECV_1XX")
        ]

    def test_retransmissions_stop(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("200", 200, 0.2)
        assert dict(txn.deadlines) == {TimerName.K: 5.2}


class TestTimerK:
    """RFC 3261 17.1.2.2: K = T4 for unreliable, zero for reliable transports."""

    def test_unreliable(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("200", 200, 1.0)
        assert txn.get_timer() == 6.0
        assert txn.handle_timer(5.9) == []
        assert txn.handle_timer(6.0) == [TransactionTerminated()]

    def test_reliable(self) -> None:
        txn = start(reliable=True)
        txn.receive_response("200", 200, 1.0)
        assert txn.get_timer() == 1.0
        assert txn.handle_timer(1.0) == [TransactionTerminated()]
        assert txn.state is State.TERMINATED


class TestTransportErrors:
    """RFC 3261 17.1.4: inform the TU and terminate; absorbed in "Completed"."""

    def test_in_trying(self) -> None:
        txn = start()
        assert txn.transport_error(1.0) == [TransportErrorOccurred(), TransactionTerminated()]

    def test_in_proceeding(self) -> None:
        txn = start()
        txn.receive_response("100", 100, 0.5)
        assert txn.transport_error(1.0) == [TransportErrorOccurred(), TransactionTerminated()]

    def test_absorbed_in_completed(self) -> None:
        txn = start(reliable=False)
        txn.receive_response("200", 200, 0.5)
        assert txn.transport_error(1.0) == []
        assert txn.state is State.COMPLETED

    def test_terminated_is_a_local_error(self) -> None:
        txn = start()
        txn.transport_error(1.0)
        with pytest.raises(LocalProtocolError, match="TERMINATED"):
            txn.transport_error(1.0)


class TestTerminated:
    """RFC 3261 17.1.2.2: "it MUST be destroyed immediately"."""

    def test_responses_are_discarded(self) -> None:
        txn = start()
        txn.transport_error(0.0)
        assert txn.receive_response("200", 200, 1.0) == [
            InputDiscarded(state="TERMINATED", trigger="RECV_200_699")
        ]

    @pytest.mark.parametrize("code", [0, 99, 700])
    def test_status_out_of_range_is_discarded(self, code: int) -> None:
        txn = start()
        assert txn.receive_response("x", code, 1.0) == [
            InputDiscarded(state="TRYING", trigger=f"status {code}")
        ]


# -- the table, checked exhaustively ------------------------------------------------

STATUS_FOR = {Input.RECV_1XX: 180, Input.RECV_200_699: 404}
TIMER_FOR = {Input.TIMER_E: TimerName.E, Input.TIMER_F: TimerName.F, Input.TIMER_K: TimerName.K}


def reach(state: State, *, reliable: bool) -> NICT:
    txn = start(reliable=reliable)
    if state is State.PROCEEDING:
        txn.receive_response("100", 100, 0.1)
    elif state is State.COMPLETED:
        txn.receive_response("200", 200, 0.1)
    elif state is State.TERMINATED:
        txn.transport_error(0.1)
    assert txn.state is state
    return txn


def apply(txn: NICT, trigger: Input, now: float) -> list[TransactionOutput] | None:
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
    """RFC 3261 Figure 6: the table is complete and consistent."""

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
        st.tuples(st.just("response"), st.sampled_from([100, 180, 200, 202, 302, 404, 503])),
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
        finals_to_tu = 0
        for kind, value in operations:
            outputs: list[TransactionOutput]
            if kind == "advance":
                now += value
                continue
            if kind == "response":
                code = int(value)
                outputs = list(txn.receive_response(f"r{code}", code, now))
                finals_to_tu += code >= 200 and PassResponseToTU(response=f"r{code}") in outputs
            elif kind == "timer":
                outputs = list(txn.handle_timer(now))
            elif ended:
                with pytest.raises(LocalProtocolError):
                    txn.transport_error(now)
                continue
            else:
                outputs = list(txn.transport_error(now))
            assert TransactionTerminated() not in outputs[:-1]
            if terminated(outputs):
                assert not ended
                ended = True
            assert ended == (txn.state is State.TERMINATED)
            assert set(txn.deadlines) <= STATE_TIMERS[txn.state]
        # "only a single 2xx response to a non-INVITE is ever delivered" (17.1.2.1).
        assert finals_to_tu <= 1
