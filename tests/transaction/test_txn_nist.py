"""The non-INVITE server transaction, driven with a fake clock (RFC 3261 17.2.2)."""

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
    TransportErrorOccurred,
)
from websip.transaction.nist import (
    REMOTE_INPUTS,
    STATE_TIMERS,
    TRANSITIONS,
    Input,
    ServerNonInviteTransaction,
    State,
)
from websip.transaction.timers import TimerName, TimerValues

T = TimerValues()
NIST = ServerNonInviteTransaction[str, str]


def start(*, reliable: bool = True) -> NIST:
    txn, outputs = NIST.start("MESSAGE", timers=T, reliable=reliable)
    assert outputs == [PassRequestToTU(request="MESSAGE")]
    return txn


def sent(response: str, *, again: bool = False) -> list[TransactionOutput]:
    return [SendResponse(response=response, retransmission=again)]


def terminated(outputs: Sequence[object]) -> bool:
    return bool(outputs) and outputs[-1] == TransactionTerminated()


class TestTrying:
    """RFC 3261 17.2.2: "Trying" passes the request up and discards retransmissions."""

    def test_start(self) -> None:
        txn, outputs = NIST.start("MESSAGE")
        assert outputs == [PassRequestToTU(request="MESSAGE")]
        assert txn.state is State.TRYING
        assert txn.get_timer() is None
        assert txn.reliable is True

    def test_retransmission_is_discarded(self) -> None:
        txn = start()
        # "any further request retransmissions are discarded"
        assert txn.receive_request(0.5) == []
        assert txn.state is State.TRYING

    def test_provisional_moves_to_proceeding(self) -> None:
        txn = start()
        assert txn.send_response("100", 100, 0.5) == sent("100")
        assert txn.state is State.PROCEEDING

    def test_final_moves_to_completed(self) -> None:
        txn = start()
        assert txn.send_response("200", 200, 0.5) == sent("200")
        assert txn.state is State.COMPLETED

    @pytest.mark.parametrize("code", [0, 99, 700])
    def test_bad_status_is_a_local_error(self, code: int) -> None:
        txn = start()
        with pytest.raises(LocalProtocolError, match=str(code)):
            txn.send_response("x", code, 0.5)


class TestProceeding:
    """RFC 3261 17.2.2: provisionals are sent; retransmissions get the last one."""

    def test_more_provisionals(self) -> None:
        txn = start()
        txn.send_response("100", 100, 0.5)
        assert txn.send_response("180", 180, 0.6) == sent("180")
        assert txn.state is State.PROCEEDING

    def test_retransmission_gets_last_provisional(self) -> None:
        txn = start()
        txn.send_response("100", 100, 0.5)
        txn.send_response("180", 180, 0.6)
        assert txn.receive_request(1.0) == sent("180", again=True)

    def test_final(self) -> None:
        txn = start()
        txn.send_response("100", 100, 0.5)
        assert txn.send_response("202", 202, 0.6) == sent("202")
        assert txn.state is State.COMPLETED


class TestCompleted:
    """RFC 3261 17.2.2: "Completed" re-sends the final on each retransmission."""

    def test_retransmission_gets_the_final(self) -> None:
        txn = start(reliable=False)
        txn.send_response("100", 100, 0.5)
        txn.send_response("404", 404, 0.6)
        assert txn.receive_request(1.0) == sent("404", again=True)
        assert txn.receive_request(2.0) == sent("404", again=True)

    @pytest.mark.parametrize("code", [100, 200, 500])
    def test_further_responses_are_refused(self, code: int) -> None:
        # "Any other final responses passed by the TU to the server transaction
        # MUST be discarded while in the Completed state": nothing is sent, and
        # the TU is told by an exception.
        txn = start(reliable=False)
        txn.send_response("200", 200, 0.5)
        with pytest.raises(LocalProtocolError, match="COMPLETED"):
            txn.send_response("x", code, 0.6)
        assert txn.state is State.COMPLETED


class TestTimerJ:
    """RFC 3261 17.2.2: J = 64*T1 for unreliable, zero for reliable transports."""

    def test_unreliable(self) -> None:
        txn = start(reliable=False)
        txn.send_response("200", 200, 1.0)
        assert dict(txn.deadlines) == {TimerName.J: 33.0}
        assert txn.handle_timer(32.9) == []
        assert txn.handle_timer(33.0) == [TransactionTerminated()]
        assert txn.state is State.TERMINATED
        assert txn.get_timer() is None

    def test_reliable(self) -> None:
        txn = start(reliable=True)
        txn.send_response("200", 200, 1.0)
        assert txn.get_timer() == 1.0
        assert txn.handle_timer(1.0) == [TransactionTerminated()]


class TestTransportErrors:
    """RFC 3261 17.2.4 and Figure 8: inform the TU and terminate."""

    @pytest.mark.parametrize("responses", [[], [100], [100, 200], [200]])
    def test_in_every_live_state(self, responses: list[int]) -> None:
        txn = start(reliable=False)
        for code in responses:
            txn.send_response(str(code), code, 0.5)
        assert txn.transport_error(1.0) == [TransportErrorOccurred(), TransactionTerminated()]
        assert txn.state is State.TERMINATED
        assert txn.get_timer() is None

    def test_terminated_is_a_local_error(self) -> None:
        txn = start()
        txn.transport_error(1.0)
        with pytest.raises(LocalProtocolError, match="TERMINATED"):
            txn.transport_error(1.0)


class TestTerminated:
    """RFC 3261 17.2.2: "MUST be destroyed the instant it enters the Terminated state"."""

    def test_retransmission_is_discarded(self) -> None:
        txn = start()
        txn.transport_error(0.0)
        assert txn.receive_request(1.0) == [
            InputDiscarded(state="TERMINATED", trigger="RECV_REQUEST")
        ]

    def test_response_is_a_local_error(self) -> None:
        txn = start()
        txn.send_response("200", 200, 0.0)
        txn.handle_timer(0.0)
        with pytest.raises(LocalProtocolError):
            txn.send_response("200", 200, 0.1)


# -- the table, checked exhaustively ------------------------------------------------

STATUS_FOR = {Input.SEND_1XX: 180, Input.SEND_200_699: 486}


def reach(state: State, *, reliable: bool) -> NIST:
    txn = start(reliable=reliable)
    if state is State.PROCEEDING:
        txn.send_response("100", 100, 0.1)
    elif state is State.COMPLETED:
        txn.send_response("200", 200, 0.1)
    elif state is State.TERMINATED:
        txn.transport_error(0.1)
    assert txn.state is state
    return txn


def apply(txn: NIST, trigger: Input, now: float) -> list[TransactionOutput] | None:
    """Feed ``trigger`` through the public API; None if Timer J is not armed."""
    if trigger in STATUS_FOR:
        return list(txn.send_response("resp", STATUS_FOR[trigger], now))
    if trigger is Input.RECV_REQUEST:
        return list(txn.receive_request(now))
    if trigger is Input.TRANSPORT_ERROR:
        return list(txn.transport_error(now))
    deadline = txn.deadlines.get(TimerName.J)
    if deadline is None:
        return None
    return list(txn.handle_timer(max(deadline, now)))


class TestTransitionTable:
    """RFC 3261 Figure 8: the table is complete and consistent."""

    def test_terminated_has_no_exit(self) -> None:
        assert not [key for key in TRANSITIONS if key[0] is State.TERMINATED]

    def test_every_live_state_handles_transport_errors(self) -> None:
        for state in State:
            if state is not State.TERMINATED:
                assert (state, Input.TRANSPORT_ERROR) in TRANSITIONS

    def test_timer_entries_match_the_state_timers(self) -> None:
        for state in State:
            in_table = {
                TimerName.J
                for (source, trigger) in TRANSITIONS
                if source is state and trigger is Input.TIMER_J
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
        assert txn.state is expected[0]
        assert terminated(outputs) == (txn.state is State.TERMINATED)
        assert set(txn.deadlines) <= STATE_TIMERS[txn.state]


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from([100, 180, 200, 202, 404, 500])),
        st.tuples(st.just("request"), st.just(0)),
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
        finals_sent = 0
        for kind, value in operations:
            outputs: list[TransactionOutput]
            if kind == "advance":
                now += value
                continue
            try:
                if kind == "send":
                    code = int(value)
                    outputs = list(txn.send_response(f"r{code}", code, now))
                    finals_sent += code >= 200
                elif kind == "request":
                    outputs = list(txn.receive_request(now))
                elif kind == "timer":
                    outputs = list(txn.handle_timer(now))
                else:
                    outputs = list(txn.transport_error(now))
            except LocalProtocolError:
                assert kind in ("send", "transport_error")
                continue
            assert TransactionTerminated() not in outputs[:-1]
            if terminated(outputs):
                assert not ended
                ended = True
            assert ended == (txn.state is State.TERMINATED)
            assert set(txn.deadlines) <= STATE_TIMERS[txn.state]
        assert finals_sent <= 1
