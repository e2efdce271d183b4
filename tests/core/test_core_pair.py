"""Two cores joined by an in-memory link (STYLE.md habit 12).

Each scenario drives a UAC core and a UAS core with a fake clock and a seeded
random source, so the bytes on the wire are the same on every run. The "link"
is the test: it moves ``data_to_send()`` of one core into ``receive_data`` of
the other, and can drop or reorder messages.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from websip import causes
from websip.auth import DigestAlgorithm, DigestCredentials, compute_response
from websip.core import DEFAULT_ALLOWED_METHODS, Core
from websip.dialog import Dialog
from websip.events import (
    AckReceived,
    AckTimedOut,
    Event,
    MessageDropped,
    RequestCancelled,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
)
from websip.exceptions import LocalProtocolError
from websip.sip import Request, Response, parse_message

ALICE = "sip:alice@example.com"
BOB = "sip:bob@example.com"


def seeded(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


class Pair:
    """A UAC core (alice) and a UAS core (bob) with a link and a clock."""

    def __init__(self, *, credentials: DigestCredentials | None = None) -> None:
        self.now = 100.0
        self.alice = Core(via_host="alice.invalid", credentials=credentials, random=seeded(1))
        # bob plays the registrar too, so REGISTER is allowed there.
        self.bob = Core(
            via_host="bob.invalid",
            random=seeded(2),
            allowed_methods=DEFAULT_ALLOWED_METHODS | {"REGISTER"},
        )
        self.wire: list[tuple[str, bytes]] = []

    def flush(self, *, drop: Callable[[bytes], bool] = lambda data: False) -> None:
        """Deliver everything both cores want to send, until the link is quiet."""
        moved = True
        while moved:
            moved = False
            for src, dst, name in ((self.alice, self.bob, "a>b"), (self.bob, self.alice, "b>a")):
                for data in src.data_to_send():
                    moved = True
                    self.wire.append((name, data))
                    if not drop(data):
                        dst.receive_data(data, self.now)

    def events(self, core: Core) -> list[Event]:
        out = []
        while (event := core.next_event()) is not None:
            out.append(event)
        return out

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every timer due on the way, in order."""
        end = self.now + seconds
        while True:
            deadlines = [d for d in (self.alice.get_timer(), self.bob.get_timer()) if d is not None]
            nxt = min(deadlines, default=None)
            if nxt is None or nxt > end:
                break
            self.now = max(self.now, nxt)
            self.alice.handle_timer(self.now)
            self.bob.handle_timer(self.now)
            self.flush()
        self.now = end


def request(method: str, core: Core, *, body: bytes = b"", to: str = BOB, **extra: str) -> Request:
    headers = [
        ("From", f"<{ALICE}>;tag={core.new_tag()}"),
        ("To", f"<{to}>"),
        ("Call-ID", core.new_call_id()),
        ("CSeq", f"1 {method}"),
        ("Contact", "<sip:alice@alice.invalid;transport=ws>"),
    ]
    headers += [(name.replace("_", "-"), value) for name, value in extra.items()]
    return Request(method, to, headers, body)


def only(events: list[Event], kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, kind)]


class TestMessage:
    """RFC 3428 MESSAGE through a non-INVITE transaction pair."""

    def test_round_trip(self) -> None:
        pair = Pair()
        tid = pair.alice.send_request(
            request("MESSAGE", pair.alice, body="héllo".encode(), Content_Type="text/plain"),
            pair.now,
        )
        pair.flush()
        received = only(pair.events(pair.bob), RequestReceived)
        assert len(received) == 1
        assert received[0].request.body == "héllo".encode()
        pair.bob.send_response(
            received[0].transaction_id,
            Response.for_request(received[0].request, 200, to_tag="b1"),
            pair.now,
        )
        pair.flush()
        responses = only(pair.events(pair.alice), ResponseReceived)
        assert [(r.transaction_id, r.response.status_code) for r in responses] == [(tid, 200)]

    def test_reply_builds_the_response_from_the_request(self) -> None:
        pair = Pair()
        tid = pair.alice.send_request(
            request("MESSAGE", pair.alice, body=b"x", Content_Type="text/plain"), pair.now
        )
        pair.flush()
        (received,) = only(pair.events(pair.bob), RequestReceived)
        pair.bob.reply(
            received.transaction_id,
            486,
            pair.now,
            "Busy Here",
            headers=[("Retry-After", "60")],
            body=b"later",
        )
        pair.flush()
        (answer,) = only(pair.events(pair.alice), ResponseReceived)
        assert answer.transaction_id == tid
        response = answer.response
        assert (response.status_code, response.reason_phrase) == (486, "Busy Here")
        assert response.to_tag and response.get_header("Retry-After") == "60"
        assert response.body == b"later"
        with pytest.raises(LocalProtocolError):
            pair.bob.reply("s999", 200, pair.now)

    def test_capabilities_answer_options(self) -> None:
        pair = Pair()
        pair.alice.send_request(request("OPTIONS", pair.alice), pair.now)
        pair.flush()
        (answer,) = only(pair.events(pair.alice), ResponseReceived)
        expected = dict(pair.bob.capabilities())
        assert "REGISTER" in expected["Allow"] and "timer" in expected["Supported"]
        for name, value in expected.items():
            assert ", ".join(answer.response.get_headers(name)) == value

    def test_wire_bytes_are_pinned_by_the_random_source(self) -> None:
        first, second = Pair(), Pair()
        for p in (first, second):
            p.alice.send_request(request("MESSAGE", p.alice, body=b"x"), p.now)
            p.flush()
        assert first.wire == second.wire
        sent = parse_message(first.wire[0][1])
        # Branch: the cookie and 96 random bits (RFC 3261 8.1.1.7).
        assert sent.via_branch is not None and sent.via_branch.startswith("z9hG4bK")
        assert len(sent.via_branch) == len("z9hG4bK") + 24
        assert sent.get_header("Max-Forwards") == "70"

    def test_timeout_is_request_timeout_after_64_t1(self) -> None:
        """RFC 3261 17.1.2.2: Timer F = 64*T1 = 32 s."""
        pair = Pair()
        tid = pair.alice.send_request(request("MESSAGE", pair.alice), pair.now)
        pair.alice.data_to_send()  # lost
        assert pair.alice.get_timer() == pytest.approx(pair.now + 32.0)
        pair.advance(31.9)
        assert only(pair.events(pair.alice), RequestFailed) == []
        pair.advance(0.2)
        failed = only(pair.events(pair.alice), RequestFailed)
        assert [(f.transaction_id, f.cause) for f in failed] == [(tid, causes.REQUEST_TIMEOUT)]

    def test_connection_lost_fails_everything_at_once(self) -> None:
        pair = Pair()
        ids = {pair.alice.send_request(request("MESSAGE", pair.alice), pair.now) for _ in range(3)}
        pair.alice.data_to_send()
        pair.alice.connection_lost(pair.now)
        failed = only(pair.events(pair.alice), RequestFailed)
        assert {f.transaction_id for f in failed} == ids
        assert {f.cause for f in failed} == {causes.CONNECTION_ERROR}


class TestRegisterWithDigest:
    """RFC 3261 22.2: 401, then the same request with credentials and CSeq+1."""

    def test_challenge_answered_transparently(self) -> None:
        pair = Pair(credentials=DigestCredentials("alice", "secret"))
        register = request("REGISTER", pair.alice, to=ALICE)
        register.ruri = "sip:example.com"
        tid = pair.alice.send_request(register, pair.now)
        pair.flush()
        first = only(pair.events(pair.bob), RequestReceived)[0]
        challenge = 'Digest realm="example.com", nonce="abc123", qop="auth", algorithm=SHA-256'
        pair.bob.send_response(
            first.transaction_id,
            Response.for_request(
                first.request, 401, to_tag="r1", headers=[("WWW-Authenticate", challenge)]
            ),
            pair.now,
        )
        pair.flush()
        assert pair.events(pair.alice) == []  # the 401 is handled inside the core
        second = only(pair.events(pair.bob), RequestReceived)[0]
        req = second.request
        assert req.cseq.seq == first.request.cseq.seq + 1
        assert req.via_branch != first.request.via_branch
        creds = req.parse_header("Authorization")
        p = creds.params
        expected = compute_response(
            DigestAlgorithm.SHA_256,
            username="alice",
            realm="example.com",
            nonce="abc123",
            method="REGISTER",
            uri=p["uri"],
            password="secret",
            qop="auth",
            nc=int(p["nc"], 16),
            cnonce=p["cnonce"],
        )
        assert p["response"] == expected
        pair.bob.send_response(
            second.transaction_id, Response.for_request(req, 200, to_tag="r1"), pair.now
        )
        pair.flush()
        responses = only(pair.events(pair.alice), ResponseReceived)
        assert [(r.transaction_id, r.response.status_code) for r in responses] == [(tid, 200)]

    def test_wrong_password_fails_after_one_round(self) -> None:
        pair = Pair(credentials=DigestCredentials("alice", "wrong"))
        tid = pair.alice.send_request(request("REGISTER", pair.alice, to=ALICE), pair.now)
        challenge = 'Digest realm="example.com", nonce="n1", qop="auth"'
        for _ in range(2):
            pair.flush()
            incoming = only(pair.events(pair.bob), RequestReceived)[0]
            pair.bob.send_response(
                incoming.transaction_id,
                Response.for_request(
                    incoming.request, 401, to_tag="r", headers=[("WWW-Authenticate", challenge)]
                ),
                pair.now,
            )
        pair.flush()
        failed = only(pair.events(pair.alice), RequestFailed)
        assert [(f.transaction_id, f.cause) for f in failed] == [(tid, causes.AUTHENTICATION_ERROR)]
        assert failed[0].response is not None and failed[0].response.status_code == 401
        assert only(pair.events(pair.bob), RequestReceived) == []  # no third REGISTER


def establish(pair: Pair) -> tuple[Dialog, Dialog, str]:
    invite = request("INVITE", pair.alice, body=b"v=0\r\n", Content_Type="application/sdp")
    tid = pair.alice.send_request(invite, pair.now)
    pair.flush()
    incoming = only(pair.events(pair.bob), RequestReceived)[0]
    uas = Dialog.from_uas(incoming.request, "bobtag", "<sip:bob@bob.invalid;transport=ws>")
    pair.bob.add_dialog(uas)
    ok = uas.create_response(incoming.request, 200, body=b"v=0\r\n")
    pair.bob.send_response(incoming.transaction_id, ok, pair.now)
    pair.flush()
    responses = only(pair.events(pair.alice), ResponseReceived)
    final = next(r for r in responses if r.response.status_code == 200)
    uac = Dialog.from_uac(final.request, final.response)
    pair.alice.add_dialog(uac)
    pair.alice.send_ack(uac.create_ack(final.request.cseq.seq), pair.now)
    pair.flush()
    return uac, uas, tid


class TestInviteDialog:
    """INVITE / 100 / 200 / ACK / BYE (RFC 3261 13, 15)."""

    def test_call_and_hang_up(self) -> None:
        pair = Pair()
        uac, uas, _ = establish(pair)
        assert len(only(pair.events(pair.bob), AckReceived)) == 1
        trying = [d for name, d in pair.wire if name == "b>a" and b" 100 " in d[:20]]
        assert len(trying) == 1  # RFC 3261 17.2.1: the IST sends 100 Trying
        pair.advance(40.0)  # the ACK stopped the 2xx retransmissions
        assert not [
            d
            for name, d in pair.wire
            if name == "b>a" and d.count(b"200 OK") and pair.wire.index((name, d)) > 4
        ]
        bye = uac.create_request("BYE")
        bye_id = pair.alice.send_request(bye, pair.now)
        pair.flush()
        received = only(pair.events(pair.bob), RequestReceived)
        assert [r.request.method for r in received] == ["BYE"]
        pair.bob.send_response(
            received[0].transaction_id, uas.create_response(received[0].request, 200), pair.now
        )
        pair.flush()
        done = only(pair.events(pair.alice), ResponseReceived)
        assert [(d.transaction_id, d.response.status_code) for d in done] == [(bye_id, 200)]

    def test_2xx_retransmitted_until_ack_then_no_ack_reported(self) -> None:
        """RFC 3261 13.3.1.4: T1, 2*T1, 4*T1, ... capped at T2; give up after 64*T1."""
        pair = Pair()
        invite = request("INVITE", pair.alice)
        pair.alice.send_request(invite, pair.now)
        pair.flush()
        incoming = only(pair.events(pair.bob), RequestReceived)[0]
        uas = Dialog.from_uas(incoming.request, "bt", "<sip:bob@bob.invalid>")
        start = pair.now
        pair.bob.send_response(
            incoming.transaction_id, uas.create_response(incoming.request, 200), pair.now
        )
        pair.bob.data_to_send()
        sent_at = []
        while pair.now < start + 40:
            deadline = pair.bob.get_timer()
            assert deadline is not None
            pair.now = deadline
            pair.bob.handle_timer(pair.now)
            if any(b"200 OK" in d for d in pair.bob.data_to_send()):
                sent_at.append(round(pair.now - start, 3))
            if only(pair.events(pair.bob), AckTimedOut):
                break
        assert sent_at[:5] == [0.5, 1.5, 3.5, 7.5, 11.5]
        assert pair.now - start == pytest.approx(32.0)

    def test_in_dialog_request_for_unknown_dialog_gets_481(self) -> None:
        pair = Pair()
        uac, uas, _ = establish(pair)
        pair.events(pair.bob)
        pair.bob.remove_dialog(uas)
        pair.alice.send_request(uac.create_request("BYE"), pair.now)
        pair.flush()
        responses = only(pair.events(pair.alice), ResponseReceived)
        assert [r.response.status_code for r in responses] == [481]

    def test_out_of_order_cseq_gets_500(self) -> None:
        pair = Pair()
        uac, _, _ = establish(pair)
        pair.events(pair.bob)
        info = uac.create_request("INFO")
        info.set_header("CSeq", "1 INFO")  # lower than the INVITE's: out of order
        pair.alice.send_request(info, pair.now)
        pair.flush()
        responses = only(pair.events(pair.alice), ResponseReceived)
        assert [r.response.status_code for r in responses] == [500]


class TestCancel:
    """RFC 3261 9: CANCEL after a provisional response; 200 to it, 487 to the INVITE."""

    def test_cancel_after_ringing(self) -> None:
        pair = Pair()
        tid = pair.alice.send_request(request("INVITE", pair.alice), pair.now)
        pair.flush()
        incoming = only(pair.events(pair.bob), RequestReceived)[0]
        pair.bob.send_response(
            incoming.transaction_id,
            Response.for_request(incoming.request, 180, to_tag="bt"),
            pair.now,
        )
        pair.alice.cancel(tid, pair.now)
        pair.flush()
        cancelled = only(pair.events(pair.bob), RequestCancelled)
        assert [c.transaction_id for c in cancelled] == [incoming.transaction_id]
        statuses = [r.response.status_code for r in only(pair.events(pair.alice), ResponseReceived)]
        assert statuses == [100, 180, 487]
        acks = [d for name, d in pair.wire if name == "a>b" and d.startswith(b"ACK ")]
        assert len(acks) == 1  # the ICT acknowledges the 487 (17.1.1.3)
        methods = [parse_message(d).cseq.method for name, d in pair.wire if name == "b>a"]
        assert "CANCEL" in methods  # the 200 to the CANCEL

    def test_cancel_before_provisional_waits_for_it(self) -> None:
        pair = Pair()
        tid = pair.alice.send_request(request("INVITE", pair.alice), pair.now)
        pair.alice.cancel(tid, pair.now)
        pair.flush()  # the INVITE goes; bob sends 100 Trying; then the CANCEL goes
        sent = [parse_message(d).method for name, d in pair.wire if name == "a>b"]
        assert sent == ["INVITE", "CANCEL", "ACK"]  # the ACK is for the 487


class TestForking:
    """RFC 3261 12.1.2 / 13.2.2.4: several early dialogs from one INVITE."""

    def test_two_early_dialogs(self) -> None:
        pair = Pair()
        invite = request("INVITE", pair.alice)
        tid = pair.alice.send_request(invite, pair.now)
        sent = parse_message(pair.alice.data_to_send()[0])
        assert isinstance(sent, Request)
        for tag in ("leg1", "leg2"):
            ringing = Response.for_request(
                sent, 180, to_tag=tag, headers=[("Contact", f"<sip:{tag}@x.invalid>")]
            )
            pair.alice.receive_data(ringing.to_bytes(), pair.now)
        responses = only(pair.events(pair.alice), ResponseReceived)
        assert [r.transaction_id for r in responses] == [tid, tid]
        dialogs = {Dialog.from_uac(r.request, r.response).id for r in responses}
        assert len(dialogs) == 2
        assert {d.remote_tag for d in dialogs} == {"leg1", "leg2"}


class TestAutomaticAnswers:
    def test_options_answered_with_capabilities(self) -> None:
        pair = Pair()
        pair.alice.send_request(request("OPTIONS", pair.alice), pair.now)
        pair.flush()
        assert pair.events(pair.bob) == []
        response = only(pair.events(pair.alice), ResponseReceived)[0].response
        assert response.status_code == 200
        assert "INVITE" in response.get_token_list("Allow")
        assert "application/sdp" in response.get_headers("Accept")
        assert "outbound" in response.get_token_list("Supported")

    def test_malformed_request_gets_400_and_core_survives(self) -> None:
        pair = Pair()
        bad = (
            b"MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WSS a.invalid;branch=z9hG4bKx\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\n"
            b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
        pair.bob.receive_data(bad, pair.now)
        out = pair.bob.data_to_send()
        assert parse_message(out[0]).status_code == 400  # type: ignore[union-attr]
        pair.bob.receive_data(b"\x00garbage", pair.now)
        assert only(pair.events(pair.bob), MessageDropped)

    def test_stray_response_dropped(self) -> None:
        pair = Pair()
        stray = Response.for_request(request("MESSAGE", pair.bob), 200, to_tag="x")
        stray.add_header("Via", "SIP/2.0/WSS alice.invalid;branch=z9hG4bKnothing")
        pair.alice.receive_data(stray.to_bytes(), pair.now)
        assert only(pair.events(pair.alice), MessageDropped)


class TestUnreliableTransport:
    """The same cores over a lossy, UDP-like link: Timers A and E retransmit."""

    def test_lost_message_is_retransmitted_by_timer_e(self) -> None:
        """RFC 3261 17.1.2.2: Timer E fires at T1, the request goes again."""
        pair = Pair()
        for core in (pair.alice, pair.bob):
            core.layer.reliable = False
        message = request("MESSAGE", pair.alice, body=b"hi", Content_Type="text/plain")
        tid = pair.alice.send_request(message, pair.now)
        pair.flush(drop=lambda data: data.startswith(b"MESSAGE"))  # the first copy is lost
        assert pair.events(pair.bob) == []
        assert pair.alice.get_timer() == pytest.approx(pair.now + 0.5)
        pair.now += 0.5
        pair.alice.handle_timer(pair.now)
        pair.flush()
        received = only(pair.events(pair.bob), RequestReceived)
        assert len(received) == 1
        pair.bob.send_response(
            received[0].transaction_id,
            Response.for_request(received[0].request, 200, to_tag="t"),
            pair.now,
        )
        # The 200 is lost, the next retransmission (at +1 s) earns it again from
        # the server transaction (17.2.2), without a second RequestReceived.
        pair.flush(drop=lambda data: data.startswith(b"SIP/2.0 200"))
        pair.now += 1.0
        pair.alice.handle_timer(pair.now)
        pair.flush()
        assert pair.events(pair.bob) == []
        responses = only(pair.events(pair.alice), ResponseReceived)
        assert [(r.transaction_id, r.response.status_code) for r in responses] == [(tid, 200)]

    def test_reordered_provisional_after_final_is_discarded(self) -> None:
        pair = Pair()
        tid = pair.alice.send_request(request("INVITE", pair.alice), pair.now)
        sent = parse_message(pair.alice.data_to_send()[0])
        assert isinstance(sent, Request)
        final = Response.for_request(sent, 486, to_tag="x")
        ringing = Response.for_request(sent, 180, to_tag="x")
        pair.alice.receive_data(final.to_bytes(), pair.now)
        pair.alice.receive_data(ringing.to_bytes(), pair.now)  # arrives late
        events = pair.events(pair.alice)
        statuses = [e.response.status_code for e in only(events, ResponseReceived)]
        assert statuses == [486]
        assert [e.transaction_id for e in only(events, ResponseReceived)] == [tid]
        assert only(events, MessageDropped)
