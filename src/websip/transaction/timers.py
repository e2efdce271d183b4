"""Transaction timers: T1, T2, T4 and Timers A to M (RFC 3261 17, Table 4; RFC 6026 8.11).

Theory of operation
-------------------

Every transaction timer is derived from three base values:

* ``T1`` (500 ms): the round-trip time estimate (RFC 3261 17.1.1.1).
* ``T2`` (4 s): the longest retransmission interval for non-INVITE requests
  and INVITE responses (RFC 3261 17.1.2.2).
* ``T4`` (5 s): how long a message can stay in the network (RFC 3261 17.1.2.2).

A :class:`TimerValues` instance holds the three values and answers, for each
named timer, how long it runs. Whether a timer runs at all, and for how long,
depends on the transport: RFC 3261 makes the retransmission timers (A, E, G)
unnecessary over a *reliable* transport (TCP, TLS, SCTP, and WebSocket, RFC 7118
section 5 treats it like TCP), and sets the "linger" timers (D, I, J, K) to zero
there, because a reliable transport never delivers a retransmission.

Table 4 of RFC 3261, with the two timers RFC 6026 adds::

    Timer    Value              Section           Meaning
    -------  -----------------  ----------------  ---------------------------------
    T1       500 ms default     17.1.1.1          RTT estimate
    T2       4 s                17.1.2.2          max retransmit interval for
                                                  non-INVITE requests and INVITE
                                                  responses
    T4       5 s                17.1.2.2          max duration a message remains
                                                  in the network
    Timer A  initially T1       17.1.1.2          INVITE request retransmit
                                                  interval, for UDP only
    Timer B  64*T1              17.1.1.2          INVITE transaction timeout
    Timer C  > 3 min            16.6 bullet 11    proxy INVITE transaction timeout
    Timer D  > 32 s for UDP     17.1.1.2          wait time for response
             0 s for TCP/SCTP                     retransmits
    Timer E  initially T1       17.1.2.2          non-INVITE request retransmit
                                                  interval, UDP only
    Timer F  64*T1              17.1.2.2          non-INVITE transaction timeout
    Timer G  initially T1       17.2.1            INVITE response retransmit
                                                  interval
    Timer H  64*T1              17.2.1            wait time for ACK receipt
    Timer I  T4 for UDP         17.2.1            wait time for ACK retransmits
             0 s for TCP/SCTP
    Timer J  64*T1 for UDP      17.2.2            wait time for non-INVITE
             0 s for TCP/SCTP                     request retransmits
    Timer K  T4 for UDP         17.1.2.2          wait time for response
             0 s for TCP/SCTP                     retransmits
    Timer L  64*T1              RFC 6026 17.2.1   wait time for accepted INVITE
                                                  request retransmits
    Timer M  64*T1              RFC 6026 17.1.1   wait time for retransmission of
                                                  2xx to INVITE or additional 2xx
                                                  from other branches of a forked
                                                  INVITE

The methods return ``None`` for a timer that is not started on the given
transport (A, E and G over a reliable one), and a duration in seconds otherwise.
A zero duration means "fires at once": the machines still arm it, so the
transition it drives stays in the table and in the tests, and the caller's next
``handle_timer(now)`` fires it.

The backoff of the retransmission timers lives here too
(:meth:`TimerValues.next_interval`), so that a later UDP transport only plugs in:
the machines never compute an interval themselves.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from websip.exceptions import LocalProtocolError

__all__ = ["TimerName", "TimerValues"]


class TimerName(enum.Enum):
    """The transaction timers, named as in RFC 3261 Table 4 and RFC 6026."""

    __hash__ = object.__hash__  # singletons: identity hashing, no Python call

    A = "A"  # INVITE request retransmission (client, unreliable only)
    B = "B"  # INVITE transaction timeout (client)
    C = "C"  # proxy INVITE transaction timeout (unused by a user agent)
    D = "D"  # wait for final response retransmissions (INVITE client)
    E = "E"  # non-INVITE request retransmission (client, unreliable only)
    F = "F"  # non-INVITE transaction timeout (client)
    G = "G"  # INVITE final response retransmission (server, unreliable only)
    H = "H"  # wait for ACK (INVITE server)
    I = "I"  # wait for ACK retransmissions (INVITE server)  # noqa: E741
    J = "J"  # wait for non-INVITE request retransmissions (server)
    K = "K"  # wait for non-INVITE response retransmissions (client)
    L = "L"  # RFC 6026: wait for INVITE retransmissions after a 2xx (server)
    M = "M"  # RFC 6026: wait for 2xx retransmissions (client)


# RFC 3261 17.1.1.2: "a value of at least 32 seconds for unreliable transports".
# The client cannot know the server's T1, so the floor is absolute.
TIMER_D_MINIMUM = 32.0

# RFC 3261 16.6 bullet 11: Timer C "MUST be larger than 3 minutes". One second
# above the floor keeps the value strictly larger.
TIMER_C_DEFAULT = 181.0


@dataclass(frozen=True, kw_only=True, slots=True)
class TimerValues:
    """The base values T1, T2, T4 and the durations derived from them.

    Attributes:
        t1: round-trip time estimate, seconds (RFC 3261 17.1.1.1; default 0.5).
        t2: maximum retransmission interval, seconds (RFC 3261 17.1.2.2; default 4).
        t4: maximum time a message stays in the network, seconds (default 5).

    Raises:
        LocalProtocolError: a value is not a positive finite number, or T2 < T1.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t4"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise LocalProtocolError(f"timer {name} must be a positive number, got {value!r}")
        if self.t2 < self.t1:
            # RFC 3261 17.1.2.2: E and G double "until [they] reach T2"; a T2
            # below T1 would make the first interval larger than the cap.
            raise LocalProtocolError(f"T2 ({self.t2}) must not be smaller than T1 ({self.t1})")

    # -- client INVITE (RFC 3261 17.1.1.2, RFC 6026 7.2) ----------------------

    def timer_a(self, *, reliable: bool) -> float | None:
        """Initial INVITE retransmission interval: T1, not started if reliable."""
        # RFC 3261 17.1.1.2: "If a reliable transport is being used, the client
        # transaction SHOULD NOT start timer A".
        return None if reliable else self.t1

    def timer_b(self) -> float:
        """INVITE transaction timeout: 64*T1 for any transport."""
        return 64 * self.t1

    def timer_c(self) -> float:
        """Proxy INVITE timeout (RFC 3261 16.6): more than 3 minutes. Unused by a UA."""
        return TIMER_C_DEFAULT

    def timer_d(self, *, reliable: bool) -> float:
        """Wait for response retransmissions: 0 if reliable, else max(32 s, 64*T1)."""
        # RFC 3261 17.1.1.2: "at least 32 seconds for unreliable transports, and
        # a value of zero seconds for reliable transports". Timer D mirrors the
        # server's Timer H (64*T1), so a larger local T1 lengthens it too.
        return 0.0 if reliable else max(TIMER_D_MINIMUM, 64 * self.t1)

    def timer_m(self) -> float:
        """RFC 6026 7.2: absorb 2xx retransmissions for 64*T1 in "Accepted"."""
        return 64 * self.t1

    # -- client non-INVITE (RFC 3261 17.1.2.2) --------------------------------

    def timer_e(self, *, reliable: bool) -> float | None:
        """Initial non-INVITE retransmission interval: T1, not started if reliable."""
        return None if reliable else self.t1

    def timer_f(self) -> float:
        """Non-INVITE transaction timeout: 64*T1 for any transport."""
        return 64 * self.t1

    def timer_k(self, *, reliable: bool) -> float:
        """Wait for response retransmissions: T4, or 0 if reliable."""
        return 0.0 if reliable else self.t4

    # -- server INVITE (RFC 3261 17.2.1, RFC 6026 7.1) ------------------------

    def timer_g(self, *, reliable: bool) -> float | None:
        """Initial final-response retransmission interval: T1, not started if reliable."""
        # RFC 3261 17.2.1: "timer G is set to fire in T1 seconds, and is not set
        # to fire for reliable transports".
        return None if reliable else self.t1

    def timer_h(self) -> float:
        """Wait for the ACK of a non-2xx final response: 64*T1 for any transport."""
        return 64 * self.t1

    def timer_i(self, *, reliable: bool) -> float:
        """Absorb ACK retransmissions: T4, or 0 if reliable."""
        return 0.0 if reliable else self.t4

    def timer_l(self) -> float:
        """RFC 6026 7.1: absorb INVITE retransmissions for 64*T1 in "Accepted"."""
        return 64 * self.t1

    # -- server non-INVITE (RFC 3261 17.2.2) ----------------------------------

    def timer_j(self, *, reliable: bool) -> float:
        """Absorb request retransmissions: 64*T1, or 0 if reliable."""
        return 0.0 if reliable else 64 * self.t1

    # -- generic access -------------------------------------------------------

    def duration(self, name: TimerName, *, reliable: bool) -> float | None:
        """The initial duration of timer ``name``; None when it is not started.

        Args:
            name: which timer.
            reliable: True for WebSocket, TCP, TLS and SCTP; False for UDP.

        Returns:
            Seconds until the timer fires, or None if the transport does not
            use it (A, E and G over a reliable transport).
        """
        match name:
            case TimerName.A:
                return self.timer_a(reliable=reliable)
            case TimerName.B:
                return self.timer_b()
            case TimerName.C:
                return self.timer_c()
            case TimerName.D:
                return self.timer_d(reliable=reliable)
            case TimerName.E:
                return self.timer_e(reliable=reliable)
            case TimerName.F:
                return self.timer_f()
            case TimerName.G:
                return self.timer_g(reliable=reliable)
            case TimerName.H:
                return self.timer_h()
            case TimerName.I:
                return self.timer_i(reliable=reliable)
            case TimerName.J:
                return self.timer_j(reliable=reliable)
            case TimerName.K:
                return self.timer_k(reliable=reliable)
            case TimerName.L:
                return self.timer_l()
            case TimerName.M:  # pragma: no branch - the enum is exhausted here
                return self.timer_m()

    def next_interval(self, name: TimerName, interval: float) -> float:
        """The interval a retransmission timer is reset to after it fired.

        Args:
            name: A, E or G.
            interval: the interval the timer just ran for.

        Returns:
            For A, twice the interval (RFC 3261 17.1.1.2: "intervals that double
            after each transmission", no cap: Timer B ends the series). For E and
            G, twice the interval capped at T2 (RFC 3261 17.1.2.2 and 17.2.1:
            "MIN(2*T1, T2)", "MIN(4*T1, T2)", ...).

        Raises:
            LocalProtocolError: ``name`` is not a retransmission timer.
        """
        if name is TimerName.A:
            return 2 * interval
        if name in (TimerName.E, TimerName.G):
            return min(2 * interval, self.t2)
        raise LocalProtocolError(f"Timer {name.value} is not a retransmission timer")

    def retransmit_2xx_interval(self, interval: float | None) -> float:
        """Interval of the UAS 2xx retransmission (RFC 3261 13.3.1.4).

        Args:
            interval: the interval that just elapsed, or None for the first one.

        Returns:
            T1 first, then doubling "until it reaches T2 seconds".
        """
        if interval is None:
            return self.t1
        return min(2 * interval, self.t2)

    def give_up_2xx(self) -> float:
        """How long a UAS retransmits a 2xx without ACK: 64*T1 (RFC 3261 13.3.1.4)."""
        return 64 * self.t1
