"""The running timers of one machine: deadlines in, the due timer out.

Theory of operation
-------------------

A machine owns one :class:`TimerSet`. Starting a timer records an absolute
deadline (``now + duration``) and the interval it ran for, which the
retransmission timers need to compute their next interval. The machine reports
the earliest deadline through ``get_timer()``; when the caller comes back with
``handle_timer(now)``, the machine pops due timers one at a time with
:meth:`TimerSet.pop_due` and feeds each to its transition table.

Order: when several timers are due, a timer that ends the state (B, D, F, H,
...) fires before a retransmission timer (A, E, G), whatever their deadlines; among
timers of the same kind the earliest deadline fires first. A caller that comes
back late (after both Timer A and Timer B passed) thus sees the timeout and no
pointless last retransmission; a caller on time never sees the difference,
because a retransmission deadline is always checked before the timeout is due.

Every transition ends with :meth:`TimerSet.keep_only`, which cancels the timers
the new state does not run (RFC 3261 17: "Timer G is ignored in this state",
retransmissions stop on leaving "Calling", ...). This keeps the invariant the
tests check: the armed timers are always a subset of the state's timers.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from websip.transaction.timers import TimerName, TimerValues

__all__ = ["TimerSet"]

# Timers that retransmit; on a tie they yield to timers that end a state.
_RETRANSMISSION_TIMERS = frozenset({TimerName.A, TimerName.E, TimerName.G})


class TimerSet:
    """Deadlines (monotonic seconds) of the timers one machine is running."""

    __slots__ = ("_deadlines", "_intervals")

    def __init__(self) -> None:
        self._deadlines: dict[TimerName, float] = {}
        self._intervals: dict[TimerName, float] = {}

    def start(self, name: TimerName, now: float, duration: float | None) -> None:
        """Arm ``name`` to fire at ``now + duration``; None leaves it unarmed."""
        if duration is None:
            # A, E, G over a reliable transport (RFC 3261 17.1.1.2, 17.1.2.2, 17.2.1).
            return
        self._deadlines[name] = now + duration
        self._intervals[name] = duration

    def back_off(self, name: TimerName, now: float, values: TimerValues) -> None:
        """Restart retransmission timer ``name`` with its next, longer interval.

        The new deadline counts from ``now``, the moment the timer fired and the
        message went out again ("reset the timer with a value of 2*T1", RFC 3261
        17.1.1.2), so a late caller never gets a burst of retransmissions.
        """
        self.start(name, now, values.next_interval(name, self._intervals[name]))

    def keep_only(self, names: frozenset[TimerName]) -> None:
        """Cancel every timer not in ``names``."""
        deadlines = self._deadlines
        if deadlines.keys() <= names:
            return  # the usual case: nothing to cancel, no list to build
        for name in [n for n in deadlines if n not in names]:
            del deadlines[name]

    def earliest(self) -> float | None:
        """The earliest deadline, or None when no timer runs."""
        return min(self._deadlines.values(), default=None)

    def pop_due(self, now: float) -> TimerName | None:
        """Remove and return the timer to fire first at ``now``, if any is due."""
        due = [(deadline, name) for name, deadline in self._deadlines.items() if deadline <= now]
        if not due:
            return None
        if len(due) == 1:
            name = due[0][1]  # the usual case: nothing to order
        else:
            _, name = min(due, key=lambda item: (item[1] in _RETRANSMISSION_TIMERS, item[0]))
        del self._deadlines[name]
        return name

    @property
    def deadlines(self) -> Mapping[TimerName, float]:
        """A read-only view of the armed timers and their deadlines."""
        return MappingProxyType(self._deadlines)
