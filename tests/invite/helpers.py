"""Two real Cores on an in-memory link, each with its InviteSessions (STYLE.md habit 12).

Alice and Bob are two user agents. The link moves ``data_to_send()`` of one core
into ``receive_data`` of the other; after every delivery the receiving core's
events go to the session that owns them (``owns_event``), the way the UA routes
them, and what no session owns is kept in ``unrouted`` for the test (a new
INVITE, say). Every session event lands in ``log[session]``. A fake clock fires
the cores' and the sessions' timers in order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

from websip.auth import DigestCredentials
from websip.core import Core
from websip.events import Event, RequestReceived
from websip.invite import InviteSession, SessionEvent
from websip.sip import URI, NameAddr, Request, Response, parse_message

ALICE = NameAddr(URI.parse("sip:alice@example.com"), "Alice")
BOB = NameAddr(URI.parse("sip:bob@example.com"), "Bob")
ALICE_CONTACT = NameAddr(URI.parse("sip:alice@alice.invalid;transport=ws"))
BOB_CONTACT = NameAddr(URI.parse("sip:bob@bob.invalid;transport=ws"))
OFFER = b"v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
ANSWER = b"v=0\r\no=bob 2 1 IN IP4 127.0.0.1\r\ns=-\r\n"

T = TypeVar("T")


def seeded(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


class Link:
    """Alice's core and Bob's core, their sessions, a wire and a clock."""

    def __init__(
        self,
        *,
        credentials: DigestCredentials | None = None,
        reliable: bool = True,
        bob_allowed: frozenset[str] | None = None,
    ) -> None:
        self.now = 100.0
        self.alice = Core(via_host="alice.invalid", credentials=credentials, random=seeded(1))
        extra: dict[str, Any] = {} if bob_allowed is None else {"allowed_methods": bob_allowed}
        self.bob = Core(via_host="bob.invalid", random=seeded(2), **extra)
        for core in (self.alice, self.bob):
            core.layer.reliable = reliable
        self.sessions: dict[Core, list[InviteSession]] = {self.alice: [], self.bob: []}
        self.log: dict[InviteSession, list[SessionEvent]] = {}
        self.unrouted: dict[Core, list[Event]] = {self.alice: [], self.bob: []}
        self.wire: list[tuple[str, bytes]] = []
        self.drop: Callable[[bytes], bool] = lambda data: False

    # -- sessions ----------------------------------------------------------------

    def add(self, core: Core, session: InviteSession) -> InviteSession:
        self.sessions[core].append(session)
        self.log.setdefault(session, [])
        self.collect()
        return session

    def collect(self) -> None:
        for sessions in self.sessions.values():
            for session in sessions:
                self.log.setdefault(session, []).extend(session.take_events())

    def route(self, core: Core) -> None:
        while (event := core.next_event()) is not None:
            owner = next((s for s in self.sessions[core] if s.owns_event(event)), None)
            if owner is None:
                self.unrouted[core].append(event)
            else:
                self.log[owner].extend(owner.handle_event(event, self.now))

    # -- the link ----------------------------------------------------------------

    def flush(self) -> None:
        """Deliver everything, route every event, until nothing moves."""
        moved = True
        while moved:
            moved = False
            self.collect()
            for src, dst, name in ((self.alice, self.bob, "a>b"), (self.bob, self.alice, "b>a")):
                self.route(src)
                for data in src.data_to_send():
                    moved = True
                    self.wire.append((name, data))
                    if not self.drop(data):
                        dst.receive_data(data, self.now)
                    self.route(dst)
        self.collect()

    def deadlines(self) -> list[float]:
        out = [self.alice.get_timer(), self.bob.get_timer()]
        out += [s.get_timer() for ss in self.sessions.values() for s in ss]
        return [d for d in out if d is not None]

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every due timer on the way, in order."""
        end = self.now + seconds
        while True:
            nxt = min(self.deadlines(), default=None)
            if nxt is None or nxt > end:
                break
            self.now = max(self.now, nxt)
            self.alice.handle_timer(self.now)
            self.bob.handle_timer(self.now)
            for ss in self.sessions.values():
                for s in list(ss):
                    self.log[s].extend(s.handle_timer(self.now))
            self.flush()
        self.now = end

    # -- what happened -------------------------------------------------------------

    def events(self, session: InviteSession, kind: type[T] | None = None) -> list[Any]:
        events = self.log[session]
        return list(events) if kind is None else [e for e in events if isinstance(e, kind)]

    def names(self, session: InviteSession) -> list[str]:
        return [type(e).__name__ for e in self.log[session]]

    def sent(self, direction: str) -> list[Request | Response]:
        return [parse_message(d) for name, d in self.wire if name == direction]

    def requests(self, direction: str, method: str | None = None) -> list[Request]:
        out = [m for m in self.sent(direction) if isinstance(m, Request)]
        return [m for m in out if method is None or m.method == method]

    def statuses(self, direction: str, method: str | None = None) -> list[int]:
        return [
            m.status_code
            for m in self.sent(direction)
            if isinstance(m, Response) and (method is None or m.cseq.method == method)
        ]

    def take_invite(self, core: Core) -> RequestReceived:
        """The first unrouted new INVITE that reached ``core`` (removed from the list)."""
        for event in self.unrouted[core]:
            if isinstance(event, RequestReceived) and event.request.method == "INVITE":
                self.unrouted[core].remove(event)
                return event
        raise AssertionError("no INVITE arrived")


def start_call(
    link: Link,
    *,
    sdp: bytes | None = OFFER,
    alice_kw: dict[str, Any] | None = None,
    bob_kw: dict[str, Any] | None = None,
    target: str = "sip:bob@example.com",
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> tuple[InviteSession, InviteSession]:
    """Alice calls Bob; Bob's session is made from the INVITE. Nothing answered yet."""
    caller = InviteSession.outgoing(
        link.alice,
        local_identity=ALICE,
        target=URI.parse(target),
        contact=ALICE_CONTACT,
        sdp=sdp,
        now=link.now,
        extra_headers=extra_headers,
        **(alice_kw or {}),
    )
    link.add(link.alice, caller)
    link.flush()
    callee = InviteSession.incoming(
        link.bob, link.take_invite(link.bob), contact=BOB_CONTACT, now=link.now, **(bob_kw or {})
    )
    link.add(link.bob, callee)
    link.flush()
    return caller, callee


def establish(link: Link, **kw: Any) -> tuple[InviteSession, InviteSession]:
    """A confirmed call: INVITE, 180, 200, ACK."""
    caller, callee = start_call(link, **kw)
    callee.ringing(link.now)
    link.flush()
    callee.answer(ANSWER if caller.local_sdp is not None else OFFER, link.now)
    link.flush()
    return caller, callee
