"""Call setup and teardown between two InviteSessions (RFC 3261 13, 15, 9)."""

from __future__ import annotations

import pytest

from websip import causes
from websip.auth import DigestCredentials
from websip.events import AckReceived
from websip.exceptions import LocalProtocolError
from websip.invite import (
    Accepted,
    Confirmed,
    Ended,
    Failed,
    InviteSession,
    Negotiation,
    Progress,
    RemoteSdp,
    SessionState,
)
from websip.sip import URI, Request, Response

from .helpers import ALICE, ALICE_CONTACT, ANSWER, BOB_CONTACT, OFFER, Link, establish, start_call


class TestBasicCall:
    def test_answer_then_bye_from_caller(self) -> None:
        link = Link()
        caller, callee = establish(link)
        assert caller.state is callee.state is SessionState.CONFIRMED
        assert link.names(caller) == ["Progress", "RemoteSdp", "Accepted", "Confirmed"]
        assert link.names(callee) == ["RemoteSdp", "Progress", "Accepted", "Confirmed"]
        answer = link.events(caller, RemoteSdp)[0]
        assert (answer.type, answer.sdp) == ("answer", ANSWER)
        offer = link.events(callee, RemoteSdp)[0]
        assert (offer.type, offer.sdp) == ("offer", OFFER)
        assert callee.remote_offer == OFFER
        assert link.events(caller, Confirmed)[0].originator == "local"
        assert link.events(callee, Confirmed)[0].originator == "remote"
        assert caller.negotiation is callee.negotiation is Negotiation.STABLE
        assert caller.is_established and callee.is_established
        assert str(callee.remote_identity) == '"Alice" <sip:alice@example.com>'
        caller.terminate(link.now)
        link.flush()
        ended = link.events(callee, Ended)
        assert [(e.originator, e.cause) for e in ended] == [("remote", causes.BYE)]
        assert [(e.originator, e.cause) for e in link.events(caller, Ended)] == [
            ("local", causes.BYE)
        ]
        assert link.statuses("b>a", "BYE") == [200]
        assert caller.is_finished and callee.is_finished
        assert link.alice.get_dialog(caller.dialog.id) is None  # type: ignore[union-attr]
        assert link.bob.get_dialog(callee.dialog.id) is None  # type: ignore[union-attr]

    def test_bye_from_callee_with_reason(self) -> None:
        link = Link()
        caller, callee = establish(link)
        callee.terminate(link.now, status_code=200, reason_phrase="Call completed")
        link.flush()
        bye = link.requests("b>a", "BYE")[0]
        assert bye.get_header("Reason") == 'SIP ;cause=200 ;text="Call completed"'
        assert [(e.originator, e.cause) for e in link.events(caller, Ended)] == [
            ("remote", causes.BYE)
        ]
        assert caller.state is SessionState.TERMINATED
        with pytest.raises(LocalProtocolError):
            callee.terminate(link.now)

    def test_invite_headers(self) -> None:
        link = Link()
        start_call(link)
        invite = link.requests("a>b", "INVITE")[0]
        assert invite.get_header("Content-Type") == "application/sdp"
        assert {"timer", "100rel"} <= set(invite.get_token_list("Supported"))
        assert invite.get_header("Session-Expires") == "90"
        assert invite.get_header("Min-SE") == "90"
        assert "UPDATE" in invite.get_token_list("Allow")
        assert invite.parse_header("From").display_name == "Alice"

    def test_anonymous_call(self) -> None:
        link = Link()
        caller, _ = start_call(link, alice_kw={"anonymous": True})
        invite = link.requests("a>b", "INVITE")[0]
        assert str(invite.parse_header("From").uri) == "sip:anonymous@anonymous.invalid"
        assert invite.get_header("Privacy") == "id"
        assert invite.get_header("P-Preferred-Identity") == "<sip:alice@example.com>"
        assert caller.local_identity is not None
        assert caller.local_identity.display_name == "Anonymous"

    def test_early_media_183(self) -> None:
        link = Link()
        caller, callee = start_call(link, alice_kw={"use_100rel": False})
        callee.ringing(link.now, ANSWER)
        link.flush()
        progress = link.events(caller, Progress)
        assert [(p.response.status_code, p.sdp) for p in progress] == [(183, ANSWER)]
        assert [e.type for e in link.events(caller, RemoteSdp)] == ["answer"]
        # The unreliable 183 leaves the offer formally open: the 2xx repeats it.
        assert callee.negotiation is Negotiation.REMOTE_OFFER
        callee.answer(None, link.now)
        link.flush()
        ok = [m for m in link.sent("b>a") if isinstance(m, Response) and m.status_code == 200]
        assert ok[0].body == ANSWER
        assert len(link.events(caller, RemoteSdp)) == 1  # the first answer wins
        assert caller.state is SessionState.CONFIRMED

    def test_late_offer_both_ways(self) -> None:
        """INVITE without SDP: the 2xx offers, the ACK answers (RFC 3261 13.2.1)."""
        link = Link()
        caller, callee = start_call(link, sdp=None)
        assert callee.remote_offer is None
        with pytest.raises(LocalProtocolError):
            callee.answer(None, link.now)
        callee.answer(OFFER, link.now)
        link.flush()
        assert caller.state is SessionState.ANSWERED
        assert [(e.type, e.sdp) for e in link.events(caller, RemoteSdp)] == [("offer", OFFER)]
        assert callee.state is SessionState.WAITING_FOR_ACK
        caller.acknowledge(ANSWER, link.now)
        link.flush()
        assert caller.state is callee.state is SessionState.CONFIRMED
        assert [(e.type, e.sdp) for e in link.events(callee, RemoteSdp)] == [("answer", ANSWER)]
        assert link.requests("a>b", "ACK")[0].body == ANSWER

    def test_late_offer_ack_without_answer_ends_with_missing_sdp(self) -> None:
        link = Link()
        caller, callee = start_call(link, sdp=None)
        callee.answer(OFFER, link.now)
        link.flush()
        caller.terminate(link.now)  # ACK (no body) then BYE
        link.flush()
        assert [e.cause for e in link.events(callee, Ended)] == [causes.MISSING_SDP]
        assert [e.cause for e in link.events(caller, Ended)] == [causes.BYE]


class TestFailures:
    @pytest.mark.parametrize(
        ("status", "cause"),
        [
            (486, causes.BUSY),
            (404, causes.NOT_FOUND),
            (603, causes.REJECTED),
            (488, causes.INCOMPATIBLE_SDP),
            (302, causes.REDIRECTED),
            (500, causes.SIP_FAILURE_CODE),
        ],
    )
    def test_rejection_cause(self, status: int, cause: str) -> None:
        link = Link()
        caller, callee = start_call(link)
        callee.terminate(link.now, status_code=status)
        link.flush()
        failed = link.events(caller, Failed)
        assert [(f.originator, f.cause) for f in failed] == [("remote", cause)]
        assert failed[0].message.status_code == status
        assert [(f.originator, f.cause) for f in link.events(callee, Failed)] == [
            ("local", causes.REJECTED)
        ]
        assert caller.is_finished and callee.is_finished

    def test_terminate_incoming_defaults_to_480(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        callee.terminate(link.now)
        link.flush()
        assert link.statuses("b>a", "INVITE")[-1] == 480
        assert link.events(caller, Failed)[0].cause == causes.UNAVAILABLE

    def test_reject_validates(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        with pytest.raises(LocalProtocolError):
            callee.reject(link.now, 200)
        with pytest.raises(LocalProtocolError):
            caller.reject(link.now)
        with pytest.raises(LocalProtocolError):
            caller.answer(ANSWER, link.now)
        with pytest.raises(LocalProtocolError):
            callee.acknowledge(ANSWER, link.now)

    def test_no_answer_timeout_gives_408(self) -> None:
        link = Link()
        caller, callee = start_call(link, bob_kw={"no_answer_timeout": 30.0})
        callee.ringing(link.now)
        link.flush()
        link.advance(29.9)
        assert not link.events(callee, Failed)
        link.advance(0.2)
        assert [(f.originator, f.cause) for f in link.events(callee, Failed)] == [
            ("local", causes.NO_ANSWER)
        ]
        assert link.statuses("b>a", "INVITE")[-1] == 408
        assert link.events(caller, Failed)[0].cause == causes.UNAVAILABLE

    def test_no_answer_status_480(self) -> None:
        link = Link()
        _, _callee = start_call(link, bob_kw={"no_answer_timeout": 5, "no_answer_status": 480})
        link.advance(6)
        assert link.statuses("b>a", "INVITE")[-1] == 480

    def test_expires_header_gives_487(self) -> None:
        link = Link()
        _caller, callee = start_call(link, extra_headers=(("Expires", "10"),))
        link.advance(10.5)
        assert [(f.originator, f.cause) for f in link.events(callee, Failed)] == [
            ("system", causes.EXPIRES)
        ]
        assert link.statuses("b>a", "INVITE")[-1] == 487

    def test_unsupported_body_gets_415(self) -> None:
        link = Link()
        headers = [
            ("From", "<sip:alice@example.com>;tag=a1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "c415"),
            ("CSeq", "1 INVITE"),
            ("Contact", str(ALICE_CONTACT)),
            ("Content-Type", "text/plain"),
        ]
        link.alice.send_request(Request("INVITE", "sip:bob@example.com", headers, b"hi"), link.now)
        link.flush()
        callee = InviteSession.incoming(
            link.bob, link.take_invite(link.bob), contact=BOB_CONTACT, now=link.now
        )
        assert callee.state is SessionState.TERMINATED and callee.take_events() == []
        link.flush()
        assert link.statuses("b>a", "INVITE")[-1] == 415

    def test_malformed_replaces_gets_400(self) -> None:
        link = Link()
        caller = InviteSession.outgoing(
            link.alice,
            local_identity=ALICE,
            target=URI.parse("sip:bob@example.com"),
            contact=ALICE_CONTACT,
            sdp=OFFER,
            now=link.now,
            extra_headers=[("Replaces", "abc;to-tag=1")],
        )
        link.add(link.alice, caller)
        link.flush()
        callee = InviteSession.incoming(
            link.bob, link.take_invite(link.bob), contact=BOB_CONTACT, now=link.now
        )
        link.flush()
        assert callee.is_ended
        assert link.statuses("b>a", "INVITE")[-1] == 400
        assert link.events(caller, Failed)[0].cause == causes.SIP_FAILURE_CODE

    def test_digest_challenge_answered_by_the_core(self) -> None:
        link = Link(credentials=DigestCredentials("alice", "secret"))
        caller = InviteSession.outgoing(
            link.alice,
            local_identity=ALICE,
            target=URI.parse("sip:bob@example.com"),
            contact=ALICE_CONTACT,
            sdp=OFFER,
            now=link.now,
        )
        link.add(link.alice, caller)
        link.flush()
        first = link.take_invite(link.bob)
        challenge = Response.for_request(
            first.request,
            407,
            to_tag="proxy",
            headers=[("Proxy-Authenticate", 'Digest realm="example.com", nonce="n1", qop="auth"')],
        )
        link.bob.send_response(first.transaction_id, challenge, link.now)
        link.flush()
        assert link.events(caller) == []
        callee = InviteSession.incoming(
            link.bob, link.take_invite(link.bob), contact=BOB_CONTACT, now=link.now
        )
        link.add(link.bob, callee)
        assert callee.request is not None and callee.request.has_header("Proxy-Authorization")
        callee.answer(ANSWER, link.now)
        link.flush()
        assert caller.state is SessionState.CONFIRMED
        ack = link.requests("a>b", "ACK")[-1]
        # RFC 3261 13.2.2.4: the ACK carries the INVITE's credentials.
        assert ack.has_header("Proxy-Authorization")
        assert ack.cseq.seq == callee.request.cseq.seq

    def test_wrong_password_is_authentication_error(self) -> None:
        link = Link(credentials=DigestCredentials("alice", "wrong"))
        caller = InviteSession.outgoing(
            link.alice,
            local_identity=ALICE,
            target=URI.parse("sip:bob@example.com"),
            contact=ALICE_CONTACT,
            sdp=OFFER,
            now=link.now,
        )
        link.add(link.alice, caller)
        for _ in range(2):
            link.flush()
            invite = link.take_invite(link.bob)
            challenge = Response.for_request(
                invite.request,
                401,
                to_tag="r",
                headers=[("WWW-Authenticate", 'Digest realm="example.com", nonce="n", qop="auth"')],
            )
            link.bob.send_response(invite.transaction_id, challenge, link.now)
        link.flush()
        assert [(f.originator, f.cause) for f in link.events(caller, Failed)] == [
            ("remote", causes.AUTHENTICATION_ERROR)
        ]

    def test_invite_timeout_is_request_timeout(self) -> None:
        link = Link()
        link.drop = lambda data: True  # nothing arrives
        caller = InviteSession.outgoing(
            link.alice,
            local_identity=ALICE,
            target=URI.parse("sip:bob@example.com"),
            contact=ALICE_CONTACT,
            sdp=OFFER,
            now=link.now,
        )
        link.add(link.alice, caller)
        link.flush()
        link.advance(33)  # Timer B = 64*T1
        assert [(f.originator, f.cause) for f in link.events(caller, Failed)] == [
            ("system", causes.REQUEST_TIMEOUT)
        ]
        assert caller.is_finished


class TestCancel:
    """RFC 3261 9: CANCEL, 487, and a 2xx crossing the CANCEL."""

    def test_cancel_after_ringing(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        callee.ringing(link.now)
        link.flush()
        caller.terminate(link.now)
        link.collect()
        assert caller.state is SessionState.CANCELED
        assert [(f.originator, f.cause) for f in link.events(caller, Failed)] == [
            ("local", causes.CANCELED)
        ]
        assert not caller.is_finished  # the 487 is still to come
        link.flush()
        assert [(f.originator, f.cause) for f in link.events(callee, Failed)] == [
            ("remote", causes.CANCELED)
        ]
        assert callee.state is SessionState.CANCELED
        assert link.statuses("b>a", "INVITE")[-1] == 487
        assert len(link.events(caller, Failed)) == 1
        assert caller.is_finished and callee.is_finished
        with pytest.raises(LocalProtocolError):
            caller.terminate(link.now)

    def test_cancel_before_any_provisional_waits_for_it(self) -> None:
        link = Link()
        caller = InviteSession.outgoing(
            link.alice,
            local_identity=ALICE,
            target=URI.parse("sip:bob@example.com"),
            contact=ALICE_CONTACT,
            sdp=OFFER,
            now=link.now,
        )
        link.add(link.alice, caller)
        caller.terminate(link.now)  # before the INVITE even left
        link.flush()
        assert [r.method for r in link.requests("a>b")] == ["INVITE", "CANCEL", "ACK"]
        assert link.events(caller, Failed)[0].cause == causes.CANCELED
        assert caller.is_finished

    def test_2xx_crossing_cancel_is_acked_and_byed(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        callee.ringing(link.now)
        link.flush()
        callee.answer(ANSWER, link.now)
        caller.terminate(link.now)  # the CANCEL and the 200 cross on the wire
        link.flush()
        assert [r.method for r in link.requests("a>b")][-3:] == ["CANCEL", "ACK", "BYE"]
        assert link.events(caller, Failed)[0].cause == causes.CANCELED
        assert not link.events(caller, Accepted)
        assert [e.cause for e in link.events(callee, Ended)] == [causes.BYE]
        assert caller.is_finished


class TestForking:
    """RFC 3261 13.2.2.4: early dialogs per To tag; a second 2xx is ACKed and BYEd."""

    def _forked(self) -> tuple[Link, InviteSession]:
        link = Link()
        caller = InviteSession.outgoing(
            link.alice,
            local_identity=ALICE,
            target=URI.parse("sip:bob@example.com"),
            contact=ALICE_CONTACT,
            sdp=OFFER,
            now=link.now,
        )
        link.add(link.alice, caller)
        return link, caller

    def _deliver(self, link: Link, response: Response) -> None:
        link.alice.receive_data(response.to_bytes(), link.now)
        link.route(link.alice)
        link.collect()

    def test_two_early_dialogs_then_two_2xx(self) -> None:
        link, caller = self._forked()
        invite = caller.request
        assert invite is not None
        link.alice.data_to_send()
        for tag in ("leg1", "leg2"):
            contact = [("Contact", f"<sip:{tag}@x.invalid>")]
            self._deliver(link, Response.for_request(invite, 180, to_tag=tag, headers=contact))
        assert len(link.events(caller, Progress)) == 2
        assert len(caller._early) == 2
        ok1 = Response.for_request(
            invite, 200, to_tag="leg1", headers=[("Contact", "<sip:leg1@x.invalid>")], body=ANSWER
        )
        ok1.add_header("Content-Type", "application/sdp")
        self._deliver(link, ok1)
        assert caller.state is SessionState.CONFIRMED
        assert caller.dialog is not None and caller.dialog.id.remote_tag == "leg1"
        sent = [m.method for m in map(_parse, link.alice.data_to_send())]
        assert sent == ["ACK"]
        # A retransmission of the same 2xx: ACKed again, nothing else (RFC 6026).
        self._deliver(link, ok1)
        assert [m.method for m in map(_parse, link.alice.data_to_send())] == ["ACK"]
        ok2 = Response.for_request(
            invite, 200, to_tag="leg2", headers=[("Contact", "<sip:leg2@x.invalid>")]
        )
        self._deliver(link, ok2)
        out = [_parse(d) for d in link.alice.data_to_send()]
        assert [(m.method, str(m.ruri)) for m in out] == [
            ("ACK", "sip:leg2@x.invalid"),
            ("BYE", "sip:leg2@x.invalid"),
        ]
        self._deliver(link, ok2)  # its retransmission: only the ACK again
        assert [m.method for m in map(_parse, link.alice.data_to_send())] == ["ACK"]
        assert link.names(caller).count("Accepted") == 1
        assert caller.state is SessionState.CONFIRMED


def _parse(data: bytes):  # type: ignore[no-untyped-def]
    from websip.sip import parse_message

    return parse_message(data)


class TestAckHandling:
    def test_ack_timeout_ends_the_call_with_no_ack(self) -> None:
        link = Link()
        caller, callee = start_call(link)
        link.drop = lambda data: data.startswith(b"ACK")
        callee.answer(ANSWER, link.now)
        link.flush()
        assert callee.state is SessionState.WAITING_FOR_ACK
        link.advance(33)
        assert [(e.originator, e.cause) for e in link.events(callee, Ended)] == [
            ("remote", causes.NO_ACK)
        ]
        assert link.requests("b>a", "BYE")
        assert [e.cause for e in link.events(caller, Ended)] == [causes.BYE]

    def test_terminate_before_ack_defers_the_bye(self) -> None:
        """RFC 3261 15: the callee does not BYE before the ACK."""
        link = Link()
        caller, callee = start_call(link)
        held: list[bytes] = []

        def hold_ack(data: bytes) -> bool:
            if data.startswith(b"ACK"):
                held.append(data)
                return True
            return False

        link.drop = hold_ack
        callee.answer(ANSWER, link.now)
        link.flush()
        callee.terminate(link.now)
        link.flush()
        assert [e.originator for e in link.events(callee, Ended)] == ["local"]
        assert not link.requests("b>a", "BYE")
        assert not callee.is_finished
        link.drop = lambda data: False
        link.bob.receive_data(held[0], link.now)
        link.route(link.bob)
        link.flush()
        assert len(link.requests("b>a", "BYE")) == 1
        assert [e.cause for e in link.events(caller, Ended)] == [causes.BYE]
        assert callee.is_finished

    def test_terminate_before_ack_then_ack_timeout_sends_bye(self) -> None:
        link = Link()
        _caller, callee = start_call(link)
        link.drop = lambda data: data.startswith(b"ACK")
        callee.answer(ANSWER, link.now)
        link.flush()
        callee.terminate(link.now)
        link.advance(33)
        assert len(link.requests("b>a", "BYE")) == 1
        assert callee.is_finished

    def test_retransmitted_2xx_reacked(self) -> None:
        link = Link(reliable=False)
        caller, callee = start_call(link)
        first = True

        def drop_first_ack(data: bytes) -> bool:
            nonlocal first
            if data.startswith(b"ACK") and first:
                first = False
                return True
            return False

        link.drop = drop_first_ack
        callee.answer(ANSWER, link.now)
        link.flush()
        link.advance(0.6)  # the UAS core retransmits its 2xx after T1
        acks = link.requests("a>b", "ACK")
        assert len(acks) == 2 and acks[0].via_branch == acks[1].via_branch
        assert callee.state is SessionState.CONFIRMED
        assert len(link.events(caller, Accepted)) == 1


class TestConnectionLoss:
    def test_in_progress_call_fails(self) -> None:
        link = Link()
        caller, _callee = start_call(link)
        link.alice.connection_lost(link.now)
        link.route(link.alice)
        link.collect()
        assert [(f.originator, f.cause) for f in link.events(caller, Failed)] == [
            ("system", causes.CONNECTION_ERROR)
        ]
        assert caller.is_finished

    def test_established_call_ends(self) -> None:
        link = Link()
        caller, _callee = establish(link)
        events = caller.connection_lost(link.now)
        assert [(e.originator, e.cause) for e in events if isinstance(e, Ended)] == [
            ("system", causes.CONNECTION_ERROR)
        ]
        assert caller.is_finished
        assert caller.connection_lost(link.now) == []


def test_callee_sees_ack_event_only_through_session() -> None:
    link = Link()
    establish(link)
    assert not [e for e in link.unrouted[link.bob] if isinstance(e, AckReceived)]


def test_caller_bye_on_early_dialog_ends_the_incoming_call() -> None:
    """RFC 3261 15: the caller MAY BYE an early dialog; the INVITE then gets 487."""
    link = Link()
    caller, callee = start_call(link)
    callee.ringing(link.now)
    link.flush()
    early = next(iter(caller._early.values()))
    link.alice.send_request(early.create_request("BYE"), link.now)
    link.flush()
    assert [(e.originator, e.cause) for e in link.events(callee, Ended)] == [("remote", causes.BYE)]
    assert link.statuses("b>a", "BYE") == [200]
    final = [m for m in link.sent("b>a") if isinstance(m, Response) and m.status_code == 487]
    assert final and final[0].to_tag == callee.dialog.id.local_tag  # type: ignore[union-attr]
    assert caller.state is SessionState.TERMINATED
    assert link.events(caller, Failed)[0].message.status_code == 487
