"""RFC 3262 (100rel, PRACK) and RFC 4028 (session timers) between two sessions."""

from __future__ import annotations

import pytest

from websip import causes
from websip.core import DEFAULT_ALLOWED_METHODS
from websip.exceptions import LocalProtocolError
from websip.invite import (
    Ended,
    Failed,
    InviteSession,
    Negotiation,
    Progress,
    RemoteSdp,
    SessionRefreshed,
    SessionState,
)
from websip.sip import Response

from .helpers import ANSWER, BOB_CONTACT, Link, establish, start_call


class TestReliableProvisional:
    """RFC 3262: reliable 1xx, PRACK, and the 2xx held for it."""

    def test_183_with_sdp_is_reliable_and_pracked(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        callee.ringing(link.now, ANSWER)
        link.flush()
        ringing = next(
            m for m in link.sent("b>a") if isinstance(m, Response) and m.status_code == 183
        )
        assert ringing.status_code == 183
        assert ringing.get_header("Require") == "100rel"
        rseq = int(ringing.get_header("RSeq") or 0)
        prack = link.requests("a>b", "PRACK")
        assert [p.get_header("RAck") for p in prack] == [f"{rseq} {ringing.cseq.seq} INVITE"]
        assert link.statuses("b>a", "PRACK") == [200]
        assert callee.negotiation is Negotiation.STABLE  # the answer went reliably
        assert [e.type for e in link.events(caller, RemoteSdp)] == ["answer"]
        assert [p.sdp for p in link.events(caller, Progress)] == [ANSWER]
        callee.answer(None, link.now)
        link.flush()
        assert caller.state is callee.state is SessionState.CONFIRMED

    def test_2xx_waits_for_the_prack(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        link.drop = lambda data: data.startswith(b"PRACK")
        callee.ringing(link.now, ANSWER)
        link.flush()
        callee.answer(None, link.now)
        link.flush()
        assert callee.state is SessionState.ANSWERED
        assert 200 not in link.statuses("b>a", "INVITE")
        prack = link.requests("a>b", "PRACK")[0]
        link.drop = lambda data: False
        link.bob.receive_data(prack.to_bytes(), link.now)
        link.route(link.bob)
        link.flush()
        assert link.statuses("b>a", "INVITE")[-1] == 200
        assert caller.state is callee.state is SessionState.CONFIRMED

    def test_second_reliable_1xx_queued_until_prack(self) -> None:
        link = Link()
        _caller, callee = start_call(link)
        link.drop = lambda data: data.startswith(b"PRACK")
        callee.ringing(link.now, reliable=True)
        callee.ringing(link.now, reliable=True)
        link.flush()
        assert link.statuses("b>a", "INVITE") == [100, 180]
        prack = link.requests("a>b", "PRACK")[0]
        link.drop = lambda data: False
        link.bob.receive_data(prack.to_bytes(), link.now)
        link.route(link.bob)
        link.flush()
        assert link.statuses("b>a", "INVITE") == [100, 180, 180]
        rseqs = [
            m.get_header("RSeq")
            for m in link.sent("b>a")
            if isinstance(m, Response) and m.status_code == 180
        ]
        assert rseqs == ["1", "2"]

    def test_retransmitted_over_unreliable_transport_then_give_up(self) -> None:
        link = Link(reliable=False)
        caller, callee = start_call(link)
        link.drop = lambda data: data.startswith(b"PRACK")
        callee.ringing(link.now, reliable=True)
        link.flush()
        link.advance(1.6)  # T1 and 2*T1: two retransmissions
        assert link.statuses("b>a", "INVITE").count(180) == 3
        assert link.statuses("b>a", "PRACK") == []
        # Duplicates are not PRACKed again (RFC 3262 4), only retransmitted by the NICT.
        assert len(link.events(caller, Progress)) == 1
        link.advance(32)
        assert [(f.originator, f.cause) for f in link.events(callee, Failed)] == [
            ("system", causes.REQUEST_TIMEOUT)
        ]
        assert 504 in link.statuses("b>a", "INVITE")

    def test_prack_mismatch_gets_481(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        callee.ringing(link.now, reliable=True)
        link.flush()
        prack = link.requests("a>b", "PRACK")[0]
        dialog = next(iter(caller._early.values()))
        again = dialog.create_request("PRACK", [("RAck", prack.get_header("RAck") or "")])
        link.alice.send_request(again, link.now)  # the 1xx is PRACKed already
        link.flush()
        assert link.statuses("b>a", "PRACK") == [200, 481]

    def test_reliable_needs_caller_support(self) -> None:
        link = Link()
        _caller, callee = start_call(link, alice_kw={"use_100rel": False})
        with pytest.raises(LocalProtocolError):
            callee.ringing(link.now, reliable=True)
        with pytest.raises(LocalProtocolError):
            callee.ringing(link.now, status_code=200)
        callee.ringing(link.now, ANSWER)  # falls back to unreliable
        link.flush()
        assert not link.requests("a>b", "PRACK")
        callee.answer(None, link.now)
        link.flush()
        with pytest.raises(LocalProtocolError):
            callee.ringing(link.now)

    def test_cancel_while_2xx_held(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        link.drop = lambda data: data.startswith(b"PRACK")
        callee.ringing(link.now, ANSWER)
        link.flush()
        callee.answer(None, link.now)
        caller.terminate(link.now)
        link.flush()
        assert callee.state is SessionState.CANCELED
        assert link.events(callee, Failed)[0].cause == causes.CANCELED


class TestSessionTimers:
    """RFC 4028: negotiation, refresh at half the interval, BYE at expiry."""

    def test_negotiated_refresher_is_the_caller(self) -> None:
        link = Link()
        caller, callee = establish(link)
        ok = next(m for m in link.sent("b>a") if isinstance(m, Response) and m.status_code == 200)
        assert ok.get_header("Session-Expires") == "90;refresher=uac"
        assert ok.get_header("Require") == "timer"
        assert caller.session_interval == callee.session_interval == 90
        assert caller.refresher and not callee.refresher
        assert caller.get_timer() == pytest.approx(link.now + 45)
        assert callee.get_timer() == pytest.approx(link.now + 90 - 30)

    def test_refresh_by_update(self) -> None:
        link = Link()
        caller, callee = establish(link)
        start = link.now
        link.advance(45.1)
        updates = link.requests("a>b", "UPDATE")
        assert len(updates) == 1 and not updates[0].body
        assert updates[0].get_header("Session-Expires") == "90;refresher=uac"
        assert [e.originator for e in link.events(caller, SessionRefreshed)] == ["local"]
        assert [e.originator for e in link.events(callee, SessionRefreshed)] == ["remote"]
        link.advance(200)
        assert len(link.requests("a>b", "UPDATE")) == 5  # every 45 s
        assert caller.state is callee.state is SessionState.CONFIRMED
        assert link.now - start > 240

    def test_refresh_by_reinvite_when_update_not_allowed(self) -> None:
        link = Link(bob_allowed=DEFAULT_ALLOWED_METHODS - {"UPDATE"})
        caller, callee = establish(link)
        link.advance(46)
        assert not link.requests("a>b", "UPDATE")
        reinvites = link.requests("a>b", "INVITE")[1:]
        assert len(reinvites) == 1 and reinvites[0].body == caller.local_sdp
        assert link.events(callee, SessionRefreshed)
        assert link.events(caller, SessionRefreshed)
        # An unchanged SDP: nothing for the media on either side.
        assert len(link.events(callee, RemoteSdp)) == 1
        assert len(link.events(caller, RemoteSdp)) == 1

    def test_refresh_method_invite(self) -> None:
        link = Link()
        _caller, _callee = establish(link, alice_kw={"refresh_method": "INVITE"})
        link.advance(46)
        assert len(link.requests("a>b", "INVITE")) == 2

    def test_expiry_sends_bye(self) -> None:
        link = Link()
        caller, callee = establish(link)
        link.drop = lambda data: data.startswith(b"UPDATE")
        link.advance(59.9)
        assert callee.state is SessionState.CONFIRMED
        link.advance(0.2)  # 90 - min(32, 90/3) = 60 s
        assert [(e.originator, e.cause) for e in link.events(callee, Ended)] == [
            ("system", causes.REQUEST_TIMEOUT)
        ]
        bye = link.requests("b>a", "BYE")[0]
        assert bye.get_header("Reason") == 'SIP ;cause=408 ;text="Session Timer Expired"'
        assert [e.cause for e in link.events(caller, Ended)] == [causes.BYE]

    def test_422_retried_with_larger_interval(self) -> None:
        link = Link()
        caller, callee = start_call(
            link, alice_kw={"session_expires": 90}, bob_kw={"min_se": 120, "session_expires": 120}
        )
        assert callee.is_ended  # the first INVITE got 422
        assert 422 in link.statuses("b>a", "INVITE")
        retry = link.requests("a>b", "INVITE")[-1]
        assert retry.get_header("Session-Expires") == "120"
        assert retry.get_header("Min-SE") == "120"
        assert retry.cseq.seq == link.requests("a>b", "INVITE")[0].cseq.seq + 1
        assert not link.events(caller, Failed)
        callee2 = InviteSession.incoming(
            link.bob,
            link.take_invite(link.bob),
            contact=BOB_CONTACT,
            now=link.now,
            min_se=120,
            session_expires=120,
        )
        link.add(link.bob, callee2)
        callee2.answer(ANSWER, link.now)
        link.flush()
        assert caller.state is SessionState.CONFIRMED
        assert caller.session_interval == 120

    def test_no_session_expires_in_2xx_means_no_timer(self) -> None:
        link = Link()
        caller, _callee = establish(link, bob_kw={"session_timers": False})
        assert caller.session_interval is None and caller.get_timer() is None

    def test_callee_refreshes_for_a_caller_without_timer_support(self) -> None:
        link = Link()
        _caller, callee = establish(link, alice_kw={"session_timers": False})
        ok = next(m for m in link.sent("b>a") if isinstance(m, Response) and m.status_code == 200)
        assert ok.get_header("Session-Expires") == "90;refresher=uas"
        assert not ok.has_header("Require")
        assert callee.refresher
        link.advance(46)
        assert len(link.requests("b>a", "UPDATE")) == 1

    def test_bad_settings(self) -> None:
        link = Link()
        with pytest.raises(LocalProtocolError):
            start_call(link, alice_kw={"min_se": 120, "session_expires": 90})
        with pytest.raises(LocalProtocolError):
            start_call(link, alice_kw={"min_se": 0})
        with pytest.raises(LocalProtocolError):
            start_call(link, alice_kw={"refresh_method": "OPTIONS"})


def test_in_dialog_422_retried_with_larger_interval() -> None:
    link = Link()
    caller, callee = establish(link)
    callee._st_min_se = 120  # bob's policy changed mid-call
    caller.send_update(None, link.now)
    link.flush()
    updates = link.requests("a>b", "UPDATE")
    assert [u.get_header("Session-Expires") for u in updates] == [
        "90;refresher=uac",
        "120;refresher=uac",
    ]
    assert link.statuses("b>a", "UPDATE") == [422, 200]
    assert caller.session_interval == callee.session_interval == 120
    assert caller.get_timer() == pytest.approx(link.now + 60)
