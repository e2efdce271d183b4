"""Timer values and backoff (RFC 3261 17 Table 4, RFC 6026 8.11), and the TimerSet."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from websip.exceptions import LocalProtocolError
from websip.transaction._timerset import TimerSet
from websip.transaction.timers import TimerName, TimerValues

DEFAULT = TimerValues()


class TestBaseValues:
    """RFC 3261 17.1.1.1 and 17.1.2.2: T1 = 500 ms, T2 = 4 s, T4 = 5 s."""

    def test_defaults(self) -> None:
        assert (DEFAULT.t1, DEFAULT.t2, DEFAULT.t4) == (0.5, 4.0, 5.0)

    def test_configurable(self) -> None:
        values = TimerValues(t1=0.2, t2=2.0, t4=3.0)
        assert values.timer_b() == pytest.approx(12.8)
        assert values.timer_k(reliable=False) == 3.0

    def test_frozen(self) -> None:
        with pytest.raises(AttributeError):
            DEFAULT.t1 = 1.0  # type: ignore[misc]

    @pytest.mark.parametrize("field", ["t1", "t2", "t4"])
    @pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, True, "0.5", None])
    def test_rejects_bad_values(self, field: str, bad: object) -> None:
        with pytest.raises(LocalProtocolError, match=field):
            TimerValues(**{field: bad})  # type: ignore[arg-type]

    def test_rejects_t2_below_t1(self) -> None:
        with pytest.raises(LocalProtocolError, match="T2"):
            TimerValues(t1=5.0, t2=4.0)

    def test_accepts_integers(self) -> None:
        assert TimerValues(t1=1, t2=4, t4=5).timer_b() == 64


# Table 4, reliable transport (WebSocket, TCP, TLS): no retransmission timers,
# zero-length linger timers.
RELIABLE = {
    TimerName.A: None,
    TimerName.B: 32.0,
    TimerName.C: 181.0,
    TimerName.D: 0.0,
    TimerName.E: None,
    TimerName.F: 32.0,
    TimerName.G: None,
    TimerName.H: 32.0,
    TimerName.I: 0.0,
    TimerName.J: 0.0,
    TimerName.K: 0.0,
    TimerName.L: 32.0,
    TimerName.M: 32.0,
}
# Table 4, unreliable transport (UDP).
UNRELIABLE = {
    TimerName.A: 0.5,
    TimerName.B: 32.0,
    TimerName.C: 181.0,
    TimerName.D: 32.0,
    TimerName.E: 0.5,
    TimerName.F: 32.0,
    TimerName.G: 0.5,
    TimerName.H: 32.0,
    TimerName.I: 5.0,
    TimerName.J: 32.0,
    TimerName.K: 5.0,
    TimerName.L: 32.0,
    TimerName.M: 32.0,
}


class TestTable4:
    """RFC 3261 17 Table 4 (Appendix A) and RFC 6026 8.11 (Timers L and M)."""

    @pytest.mark.parametrize("name", list(TimerName))
    def test_reliable(self, name: TimerName) -> None:
        assert DEFAULT.duration(name, reliable=True) == RELIABLE[name]

    @pytest.mark.parametrize("name", list(TimerName))
    def test_unreliable(self, name: TimerName) -> None:
        assert DEFAULT.duration(name, reliable=False) == UNRELIABLE[name]

    def test_named_methods_agree(self) -> None:
        for reliable in (True, False):
            v = DEFAULT
            assert v.timer_a(reliable=reliable) == v.duration(TimerName.A, reliable=reliable)
            assert v.timer_d(reliable=reliable) == v.duration(TimerName.D, reliable=reliable)
            assert v.timer_e(reliable=reliable) == v.duration(TimerName.E, reliable=reliable)
            assert v.timer_g(reliable=reliable) == v.duration(TimerName.G, reliable=reliable)
            assert v.timer_i(reliable=reliable) == v.duration(TimerName.I, reliable=reliable)
            assert v.timer_j(reliable=reliable) == v.duration(TimerName.J, reliable=reliable)
            assert v.timer_k(reliable=reliable) == v.duration(TimerName.K, reliable=reliable)
        assert DEFAULT.timer_c() > 180  # RFC 3261 16.6: "larger than 3 minutes"


class TestTimerD:
    """RFC 3261 17.1.1.2: D is "at least 32 seconds for unreliable transports"."""

    def test_floor_with_small_t1(self) -> None:
        assert TimerValues(t1=0.1).timer_d(reliable=False) == 32.0

    def test_follows_timer_h_with_large_t1(self) -> None:
        assert TimerValues(t1=1.0).timer_d(reliable=False) == 64.0

    def test_zero_when_reliable(self) -> None:
        assert TimerValues(t1=1.0).timer_d(reliable=True) == 0.0


class TestBackoff:
    """RFC 3261 17.1.1.2 (A doubles), 17.1.2.2 and 17.2.1 (E, G double up to T2)."""

    def test_timer_a_doubles_without_cap(self) -> None:
        intervals = [0.5]
        for _ in range(6):
            intervals.append(DEFAULT.next_interval(TimerName.A, intervals[-1]))
        assert intervals == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]

    @pytest.mark.parametrize("name", [TimerName.E, TimerName.G])
    def test_e_and_g_cap_at_t2(self, name: TimerName) -> None:
        # "For the default values of T1 and T2, this results in intervals of
        # 500 ms, 1 s, 2 s, 4 s, 4 s, 4 s, etc."
        intervals = [0.5]
        for _ in range(5):
            intervals.append(DEFAULT.next_interval(name, intervals[-1]))
        assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]

    @pytest.mark.parametrize(
        "name", sorted(set(TimerName) - {TimerName.A, TimerName.E, TimerName.G}, key=str)
    )
    def test_other_timers_do_not_back_off(self, name: TimerName) -> None:
        with pytest.raises(LocalProtocolError, match="not a retransmission timer"):
            DEFAULT.next_interval(name, 1.0)

    def test_2xx_retransmission_intervals(self) -> None:
        """RFC 3261 13.3.1.4: T1, doubling until T2; give up after 64*T1."""
        intervals = [DEFAULT.retransmit_2xx_interval(None)]
        for _ in range(5):
            intervals.append(DEFAULT.retransmit_2xx_interval(intervals[-1]))
        assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
        assert DEFAULT.give_up_2xx() == 32.0

    @given(
        t1=st.floats(min_value=0.001, max_value=10.0),
        factor=st.floats(min_value=1.0, max_value=100.0),
        steps=st.integers(min_value=1, max_value=40),
    )
    def test_capped_intervals_never_exceed_t2_and_never_shrink(
        self, t1: float, factor: float, steps: int
    ) -> None:
        values = TimerValues(t1=t1, t2=t1 * factor)
        interval = values.timer_e(reliable=False)
        assert interval is not None
        for _ in range(steps):
            following = values.next_interval(TimerName.E, interval)
            assert interval <= following <= values.t2
            interval = following


class TestTimerSet:
    """The deadline bookkeeping every machine shares."""

    def test_empty(self) -> None:
        timers = TimerSet()
        assert timers.earliest() is None
        assert timers.pop_due(1e9) is None
        assert dict(timers.deadlines) == {}

    def test_none_duration_is_not_armed(self) -> None:
        timers = TimerSet()
        timers.start(TimerName.A, 10.0, None)
        assert timers.earliest() is None

    def test_earliest_and_pop(self) -> None:
        timers = TimerSet()
        timers.start(TimerName.B, 10.0, 32.0)
        timers.start(TimerName.A, 10.0, 0.5)
        assert timers.earliest() == 10.5
        assert timers.pop_due(10.4) is None
        assert timers.pop_due(10.5) is TimerName.A
        assert timers.earliest() == 42.0

    def test_ending_timer_fires_before_retransmission(self) -> None:
        timers = TimerSet()
        timers.start(TimerName.A, 0.0, 1.0)
        timers.start(TimerName.B, 0.0, 32.0)
        # Late caller: both are due; the timeout wins even with a later deadline.
        assert timers.pop_due(100.0) is TimerName.B
        assert timers.pop_due(100.0) is TimerName.A

    def test_same_kind_by_deadline(self) -> None:
        timers = TimerSet()
        timers.start(TimerName.H, 0.0, 5.0)
        timers.start(TimerName.D, 0.0, 1.0)
        assert timers.pop_due(10.0) is TimerName.D

    def test_back_off_counts_from_now(self) -> None:
        timers = TimerSet()
        timers.start(TimerName.G, 0.0, 0.5)
        assert timers.pop_due(0.7) is TimerName.G
        timers.back_off(TimerName.G, 0.7, DEFAULT)
        assert timers.deadlines[TimerName.G] == pytest.approx(1.7)

    def test_keep_only(self) -> None:
        timers = TimerSet()
        timers.start(TimerName.A, 0.0, 1.0)
        timers.start(TimerName.B, 0.0, 2.0)
        timers.keep_only(frozenset({TimerName.B}))
        assert set(timers.deadlines) == {TimerName.B}

    def test_deadlines_view_is_read_only(self) -> None:
        timers = TimerSet()
        timers.start(TimerName.A, 0.0, 1.0)
        with pytest.raises(TypeError):
            timers.deadlines[TimerName.A] = 5.0  # type: ignore[index]
