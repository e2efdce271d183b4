"""Requests within an established call: re-INVITE, UPDATE, glare, INFO, DTMF, REFER."""

from __future__ import annotations

import pytest

from websip import causes
from websip.exceptions import LocalProtocolError
from websip.invite import (
    DtmfReceived,
    Ended,
    InfoAnswered,
    InfoReceived,
    InviteSession,
    Negotiation,
    ReferProgress,
    ReferReceived,
    ReferResponded,
    ReinviteReceived,
    RemoteSdp,
    RenegotiationFailed,
    RenegotiationSucceeded,
    SessionRefreshed,
    SessionState,
    UpdateReceived,
    split_refer_to,
)
from websip.sip import Request, Response

from .helpers import ANSWER, OFFER, Link, establish

HOLD = b"v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=sendonly\r\n"
HELD = b"v=0\r\no=bob 2 2 IN IP4 127.0.0.1\r\ns=-\r\na=recvonly\r\n"
OTHER = b"v=0\r\no=alice 1 3 IN IP4 127.0.0.1\r\ns=-\r\na=recvonly\r\n"
NO_TIMERS = {"session_timers": False}


def call(**kw: object) -> tuple[Link, InviteSession, InviteSession]:
    link = Link()
    caller, callee = establish(link, alice_kw=NO_TIMERS, bob_kw=NO_TIMERS, **kw)
    return link, caller, callee


class TestReinvite:
    @pytest.mark.parametrize("who", ["caller", "callee"])
    def test_offer_answer(self, who: str) -> None:
        link, caller, callee = call()
        sender, receiver = (caller, callee) if who == "caller" else (callee, caller)
        sender.send_reinvite(HOLD, link.now)
        assert sender.negotiation is Negotiation.LOCAL_OFFER
        link.flush()
        asked = link.events(receiver, ReinviteReceived)
        assert [e.sdp for e in asked] == [HOLD]
        assert link.events(receiver, RemoteSdp)[-1].type == "offer"
        assert receiver.negotiation is Negotiation.REMOTE_OFFER
        receiver.answer_reinvite(HELD, link.now)
        link.flush()
        assert [(e.type, e.sdp) for e in link.events(sender, RemoteSdp)][-1] == ("answer", HELD)
        assert [e.method for e in link.events(sender, RenegotiationSucceeded)] == ["INVITE"]
        assert sender.negotiation is receiver.negotiation is Negotiation.STABLE
        assert receiver.local_sdp == HELD and sender.remote_sdp == HELD
        direction = "a>b" if who == "caller" else "b>a"
        acks = link.requests(direction, "ACK")
        assert acks[-1].cseq.seq == link.requests(direction, "INVITE")[-1].cseq.seq

    def test_rejected_reinvite_keeps_the_session(self) -> None:
        link, caller, callee = call()
        caller.send_reinvite(HOLD, link.now)
        link.flush()
        callee.reject_reinvite(link.now, 488)
        link.flush()
        failed = link.events(caller, RenegotiationFailed)
        assert [(f.method, f.cause) for f in failed] == [("INVITE", causes.INCOMPATIBLE_SDP)]
        assert caller.state is callee.state is SessionState.CONFIRMED
        assert caller.negotiation is callee.negotiation is Negotiation.STABLE
        assert callee.remote_sdp == OFFER  # back to the last accepted offer
        with pytest.raises(LocalProtocolError):
            callee.reject_reinvite(link.now)

    def test_offerless_reinvite(self) -> None:
        link, caller, callee = call()
        dialog = caller.dialog
        assert dialog is not None
        link.alice.send_request(dialog.create_request("INVITE"), link.now)
        link.flush()
        asked = link.events(callee, ReinviteReceived)
        assert asked[0].sdp is None
        callee.answer_reinvite(ANSWER, link.now)
        link.flush()
        assert callee.negotiation is Negotiation.LOCAL_OFFER
        ok = [m for m in link.sent("b>a") if isinstance(m, Response) and m.cseq.method == "INVITE"]
        ack = dialog.create_ack(ok[-1].cseq.seq, [("Content-Type", "application/sdp")], HOLD)
        link.alice.send_ack(ack, link.now)
        link.flush()
        assert [(e.type, e.sdp) for e in link.events(callee, RemoteSdp)][-1] == ("answer", HOLD)
        assert callee.negotiation is Negotiation.STABLE

    def test_commands_check_state(self) -> None:
        link, caller, callee = call()
        caller.send_reinvite(HOLD, link.now)
        with pytest.raises(LocalProtocolError):
            caller.send_reinvite(HOLD, link.now)  # one offer at a time
        with pytest.raises(LocalProtocolError):
            caller.answer_reinvite(HOLD, link.now)  # nothing to answer
        with pytest.raises(LocalProtocolError):
            caller.send_update(HOLD, link.now)
        link.flush()
        with pytest.raises(LocalProtocolError):
            callee.send_update(HOLD, link.now)  # the received offer is unanswered

    def test_reinvite_timeout_ends_the_call(self) -> None:
        link, caller, _callee = call()
        link.drop = lambda data: True
        caller.send_reinvite(HOLD, link.now)
        link.flush()
        link.advance(33)
        assert [(e.originator, e.cause) for e in link.events(caller, Ended)] == [
            ("system", causes.REQUEST_TIMEOUT)
        ]

    def test_481_to_reinvite_is_dialog_error(self) -> None:
        link, caller, callee = call()
        assert callee.dialog is not None
        link.bob.remove_dialog(callee.dialog)  # bob forgot the call: 481
        caller.send_reinvite(HOLD, link.now)
        link.flush()
        assert [e.cause for e in link.events(caller, Ended)] == [causes.DIALOG_ERROR]
        assert link.requests("a>b", "BYE")


class TestGlare:
    """RFC 3261 14.1 / 14.2: crossing re-INVITEs get 491 and retry after a back-off."""

    def test_crossing_reinvites(self) -> None:
        link, caller, callee = call()
        caller.send_reinvite(HOLD, link.now)
        callee.send_reinvite(HELD, link.now)
        link.flush()
        assert link.statuses("a>b", "INVITE")[-1] == 491
        assert link.statuses("b>a", "INVITE")[-1] == 491
        assert not link.events(caller, ReinviteReceived)
        glare_a = caller.get_timer()
        glare_b = callee.get_timer()
        assert glare_a is not None and glare_b is not None
        # The Call-ID's owner (the caller) waits 2.1-4 s, the other 0-2 s.
        assert 2.1 <= glare_a - link.now <= 4.0
        assert 0.0 <= glare_b - link.now <= 2.0
        assert caller.negotiation is callee.negotiation is Negotiation.STABLE
        link.advance(glare_b - link.now)
        assert [e.sdp for e in link.events(caller, ReinviteReceived)] == [HELD]
        caller.answer_reinvite(OTHER, link.now)
        link.flush()
        link.advance(glare_a - link.now)
        assert [e.sdp for e in link.events(callee, ReinviteReceived)] == [HOLD]
        callee.answer_reinvite(HELD, link.now)
        link.flush()
        assert len(link.events(caller, RenegotiationSucceeded)) == 1
        assert len(link.events(callee, RenegotiationSucceeded)) == 1

    def test_retry_waits_while_an_offer_is_pending(self) -> None:
        link, caller, callee = call()
        caller.send_reinvite(HOLD, link.now)
        callee.send_reinvite(HELD, link.now)
        link.flush()
        glare_b = callee.get_timer()
        assert glare_b is not None
        link.advance(glare_b - link.now)
        # Caller does not answer the callee's retry yet; its own retry waits.
        glare_a = caller.get_timer()
        assert glare_a is not None
        link.advance(glare_a - link.now)
        assert len(link.requests("a>b", "INVITE")) == 2  # the call's, the first try
        caller.answer_reinvite(OTHER, link.now)
        link.flush()
        link.advance(5)
        assert len(link.requests("a>b", "INVITE")) == 3
        assert [e.sdp for e in link.events(callee, ReinviteReceived)] == [HOLD]

    def test_second_offer_while_one_unanswered_gets_500(self) -> None:
        link, caller, callee = call()
        caller.send_update(HOLD, link.now)
        link.flush()
        assert link.events(callee, UpdateReceived)
        dialog = caller.dialog
        assert dialog is not None
        update = dialog.create_request("UPDATE", [("Content-Type", "application/sdp")], OFFER)
        link.alice.send_request(update, link.now)
        link.flush()
        response = [m for m in link.sent("b>a") if isinstance(m, Response)][-1]
        assert response.status_code == 500 and response.has_header("Retry-After")


class TestUpdate:
    @pytest.mark.parametrize("who", ["caller", "callee"])
    def test_offer_answer(self, who: str) -> None:
        link, caller, callee = call()
        sender, receiver = (caller, callee) if who == "caller" else (callee, caller)
        sender.send_update(HOLD, link.now)
        link.flush()
        assert [e.sdp for e in link.events(receiver, UpdateReceived)] == [HOLD]
        receiver.answer_update(HELD, link.now)
        link.flush()
        assert link.events(sender, RemoteSdp)[-1].sdp == HELD
        assert [e.method for e in link.events(sender, RenegotiationSucceeded)] == ["UPDATE"]
        assert not link.requests("a>b" if who == "caller" else "b>a", "ACK")[1:]

    def test_rejected_update(self) -> None:
        link, caller, callee = call()
        caller.send_update(HOLD, link.now)
        link.flush()
        callee.reject_update(link.now, 488)
        link.flush()
        assert link.events(caller, RenegotiationFailed)[0].method == "UPDATE"
        assert caller.negotiation is Negotiation.STABLE
        with pytest.raises(LocalProtocolError):
            callee.answer_update(HELD, link.now)

    def test_update_without_sdp_is_a_refresh(self) -> None:
        link, caller, callee = call()
        caller.send_update(None, link.now)
        link.flush()
        assert not link.events(callee, UpdateReceived)
        assert [e.originator for e in link.events(callee, SessionRefreshed)] == ["remote"]
        assert link.statuses("b>a", "UPDATE") == [200]

    def test_same_offer_again_is_answered_without_the_application(self) -> None:
        """RFC 3264 8: an unchanged version means an unchanged SDP: a refresh."""
        link, caller, callee = call()
        caller.send_reinvite(OFFER, link.now)
        link.flush()
        assert not link.events(callee, ReinviteReceived)
        assert link.events(callee, SessionRefreshed)
        ok = [m for m in link.sent("b>a") if isinstance(m, Response) and m.cseq.method == "INVITE"]
        assert ok[-1].body == ANSWER


class TestInfo:
    def test_info_both_ways(self) -> None:
        link, caller, callee = call()
        tid = caller.send_info("application/json", b'{"a": 1}', link.now)
        link.flush()
        assert [(e.content_type, e.body) for e in link.events(callee, InfoReceived)] == [
            ("application/json", b'{"a": 1}')
        ]
        assert [(e.transaction_id, e.cause) for e in link.events(caller, InfoAnswered)] == [
            (tid, None)
        ]
        tid = callee.send_info("text/plain", "hello", link.now)
        link.flush()
        got = link.events(caller, InfoReceived)
        assert [(e.content_type, e.body) for e in got] == [("text/plain", b"hello")]
        answered = link.events(callee, InfoAnswered)
        assert answered[0].transaction_id == tid and answered[0].cause is None

    def test_dtmf(self) -> None:
        link, caller, callee = call()
        for tone in "159#":
            caller.send_dtmf_info(tone, link.now, duration=160)
            link.flush()
        got = link.events(callee, DtmfReceived)
        assert [(e.tone, e.duration) for e in got] == [(t, 160) for t in "159#"]
        info = link.requests("a>b", "INFO")[0]
        assert info.body == b"Signal=1\r\nDuration=160\r\n"
        assert info.get_header("Content-Type") == "application/dtmf-relay"
        caller.send_dtmf_info("a", link.now, duration=5)  # clamped to 70 ms
        link.flush()
        assert link.events(callee, DtmfReceived)[-1].duration == 70
        with pytest.raises(LocalProtocolError):
            caller.send_dtmf_info("x", link.now)

    def test_bad_dtmf_and_untyped_info(self) -> None:
        link, caller, callee = call()
        dialog = caller.dialog
        assert dialog is not None
        bad = dialog.create_request(
            "INFO", [("Content-Type", "application/dtmf-relay")], b"Nothing=1\r\n"
        )
        link.alice.send_request(bad, link.now)
        untyped = dialog.create_request("INFO")
        link.alice.send_request(untyped, link.now)
        link.flush()
        assert link.statuses("b>a", "INFO") == [200, 415]
        assert not link.events(callee, DtmfReceived)

    def test_info_481_ends_call(self) -> None:
        link, caller, callee = call()
        assert callee.dialog is not None
        link.bob.remove_dialog(callee.dialog)
        caller.send_info("text/plain", "x", link.now)
        link.flush()
        assert [e.cause for e in link.events(caller, Ended)] == [causes.DIALOG_ERROR]

    def test_info_in_early_dialog(self) -> None:
        from .helpers import start_call

        link = Link()
        caller, callee = start_call(link, alice_kw=NO_TIMERS)
        callee.ringing(link.now)
        link.flush()
        caller.send_info("text/plain", "early", link.now)
        link.flush()
        assert [e.body for e in link.events(callee, InfoReceived)] == [b"early"]
        callee.send_info("text/plain", "back", link.now)
        link.flush()
        assert [e.body for e in link.events(caller, InfoReceived)] == [b"back"]
        with pytest.raises(LocalProtocolError):
            callee.refer("sip:carol@example.com", link.now)


class TestRefer:
    """RFC 3515 REFER with NOTIFY message/sipfrag; RFC 3891 Replaces in Refer-To."""

    def test_blind_transfer_with_progress(self) -> None:
        link, caller, callee = call()
        refer_id = callee.refer("sip:carol@example.com", link.now)
        link.flush()
        received = link.events(caller, ReferReceived)
        assert [str(e.refer_to.uri) for e in received] == ["sip:carol@example.com"]
        assert received[0].refer_id == refer_id
        refer = link.requests("b>a", "REFER")[0]
        assert refer.get_header("Referred-By") == "<sip:bob@example.com>"
        caller.accept_refer(refer_id, link.now)
        link.flush()
        assert link.statuses("a>b", "REFER") == [202]
        responded = link.events(callee, ReferResponded)
        assert [(r.refer_id, r.cause) for r in responded] == [(refer_id, None)]
        caller.notify_refer_progress(refer_id, 180, "Ringing", link.now)
        link.flush()
        caller.notify_refer_progress(refer_id, 200, "OK", link.now)
        link.flush()
        progress = link.events(callee, ReferProgress)
        assert [(p.status_code, p.reason_phrase, p.final) for p in progress] == [
            (100, "Trying", False),
            (180, "Ringing", False),
            (200, "OK", True),
        ]
        notifies = link.requests("a>b", "NOTIFY")
        assert notifies[0].get_header("Event") == f"refer;id={refer_id}"
        assert notifies[-1].get_header("Subscription-State") == "terminated;reason=noresource"
        assert notifies[0].body == b"SIP/2.0 100 Trying\r\n"
        assert link.statuses("b>a", "NOTIFY") == [200, 200, 200]
        with pytest.raises(LocalProtocolError):
            caller.notify_refer_progress(refer_id, 200, "OK", link.now)

    def test_attended_transfer_carries_replaces(self) -> None:
        link = Link()
        first = establish(link, alice_kw=NO_TIMERS, bob_kw=NO_TIMERS)
        second = establish(link, alice_kw=NO_TIMERS, bob_kw=NO_TIMERS)
        transferor, transferee = first[0], first[1]
        other = second[0]
        transferor.refer("sip:carol@example.com", link.now, replaces=other)
        link.flush()
        refer_to = link.events(transferee, ReferReceived)[0].refer_to
        target, replaces = split_refer_to(refer_to)
        assert str(target) == "sip:carol@example.com"
        assert other.dialog is not None
        assert replaces == (
            f"{other.dialog.id.call_id};to-tag={other.dialog.id.remote_tag}"
            f";from-tag={other.dialog.id.local_tag}"
        )

    def test_rejected_refer(self) -> None:
        link, caller, callee = call()
        refer_id = callee.refer("sip:carol@example.com", link.now)
        link.flush()
        caller.reject_refer(refer_id, link.now)
        link.flush()
        responded = link.events(callee, ReferResponded)
        assert [(r.response.status_code, r.cause) for r in responded] == [(603, causes.REJECTED)]
        with pytest.raises(LocalProtocolError):
            caller.accept_refer(refer_id, link.now)

    def test_bad_refer_and_notify(self) -> None:
        link, caller, _callee = call()
        dialog = caller.dialog
        assert dialog is not None
        link.alice.send_request(dialog.create_request("REFER"), link.now)  # no Refer-To
        notify = dialog.create_request(
            "NOTIFY",
            [
                ("Event", "refer;id=999"),
                ("Subscription-State", "active"),
                ("Content-Type", "message/sipfrag"),
            ],
            b"SIP/2.0 100 Trying\r\n",
        )
        link.alice.send_request(notify, link.now)
        presence = dialog.create_request(
            "NOTIFY", [("Event", "presence"), ("Subscription-State", "active")]
        )
        link.alice.send_request(presence, link.now)
        link.flush()
        assert link.statuses("b>a", "REFER") == [400]
        assert link.statuses("b>a", "NOTIFY") == [481, 489]

    def test_refer_without_id_and_bad_sipfrag(self) -> None:
        link, caller, callee = call()
        refer_id = callee.refer("sip:carol@example.com", link.now)
        link.flush()
        dialog = caller.dialog
        assert dialog is not None
        for body in (b"garbage", b"SIP/2.0 503 Service Unavailable\r\n"):
            notify = dialog.create_request(
                "NOTIFY",
                [
                    ("Event", "refer"),
                    ("Subscription-State", "terminated"),
                    ("Content-Type", "message/sipfrag"),
                ],
                body,
            )
            link.alice.send_request(notify, link.now)
            link.flush()
        assert link.statuses("b>a", "NOTIFY") == [400, 200]
        progress = link.events(callee, ReferProgress)
        assert [(p.refer_id, p.status_code, p.final) for p in progress] == [(refer_id, 503, True)]


class TestReplaces:
    """RFC 3891: an incoming INVITE with Replaces names an existing dialog."""

    def test_matching_and_refusals(self) -> None:
        from websip.sip import Replaces

        from .helpers import start_call

        link = Link()
        old_caller, old_callee = establish(link, alice_kw=NO_TIMERS, bob_kw=NO_TIMERS)
        d = old_caller.dialog
        assert d is not None
        # As alice sees it: to-tag is bob's tag (the remote), from-tag hers.
        value = f"{d.id.call_id};to-tag={d.id.remote_tag};from-tag={d.id.local_tag}"
        new_caller, new_callee = start_call(
            link, alice_kw=NO_TIMERS, bob_kw=NO_TIMERS, extra_headers=(("Replaces", value),)
        )
        assert new_callee.replaces is not None
        assert old_callee.matches_replaces(new_callee.replaces)
        assert old_callee.check_replaces(new_callee.replaces) is None
        assert new_callee.check_replaces(new_callee.replaces) == 481
        early_only = Replaces(d.id.call_id, d.id.remote_tag, d.id.local_tag, early_only=True)
        assert old_callee.check_replaces(early_only) == 486
        # Alice's own side is the UAC of that dialog: never a match from her view.
        assert old_caller.check_replaces(new_callee.replaces) == 481
        # An early incoming dialog can be replaced; an early outgoing one cannot.
        assert new_callee.dialog is not None
        early = Replaces(
            new_callee.dialog.id.call_id,
            new_callee.dialog.id.local_tag,
            new_callee.dialog.id.remote_tag,
        )
        assert new_callee.check_replaces(early) is None
        new_callee.answer(ANSWER, link.now)
        link.flush()
        old_callee.terminate(link.now)
        link.flush()
        assert old_callee.check_replaces(new_callee.replaces) == 603
        assert new_caller.state is SessionState.CONFIRMED


def test_in_dialog_request_not_for_session_is_not_owned() -> None:
    link, caller, _callee = call()
    dialog = caller.dialog
    assert dialog is not None
    link.alice.send_request(dialog.create_request("MESSAGE"), link.now)
    link.flush()
    assert any(
        getattr(e, "request", None) is not None and e.request.method == "MESSAGE"  # type: ignore[attr-defined]
        for e in link.unrouted[link.bob]
    )
    assert isinstance(dialog.create_request("OPTIONS"), Request)
