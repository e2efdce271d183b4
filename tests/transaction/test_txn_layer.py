"""The transaction layer: matching, ACK/CANCEL rules, branches, timers (RFC 3261 17.1.3, 17.2.3)."""

from __future__ import annotations

import contextlib
import random
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from websip.exceptions import LocalProtocolError
from websip.sip.message import Request, Response, parse_message
from websip.transaction.ict import ClientInviteTransaction
from websip.transaction.ict import State as ICTState
from websip.transaction.ist import State as ISTState
from websip.transaction.layer import (
    BRANCH_COOKIE,
    ClientTransactionKey,
    FailureReason,
    LayerEvent,
    LegacyServerTransactionKey,
    MessageDiscarded,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    ServerTransactionKey,
    TransactionEnded,
    TransactionFailed,
    TransactionLayer,
    build_ack,
    build_cancel,
)
from websip.transaction.nist import State as NISTState
from websip.transaction.timers import TimerName, TimerValues


def counting_random(n: int) -> bytes:
    """A pinned random source: 00 01 02 ..."""
    return bytes(range(n))


def layer(*, reliable: bool = True, send_trying: bool = True) -> TransactionLayer:
    return TransactionLayer(reliable=reliable, random=counting_random, send_trying=send_trying)


def request(
    method: str = "INVITE",
    *,
    branch: str | None = "z9hG4bKkjshdyff",
    sent_by: str = "pc33.atlanta.com",
    ruri: str = "sip:bob@biloxi.com",
    from_tag: str = "88sja8x",
    to_tag: str | None = None,
    call_id: str = "987asjd97y7atg",
    cseq: int = 986759,
    cseq_method: str | None = None,
    extra: str = "",
) -> Request:
    via = f"SIP/2.0/WSS {sent_by}" + (f";branch={branch}" if branch is not None else "")
    to = "Bob <sip:bob@biloxi.com>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} {ruri} SIP/2.0\r\n"
        f"Via: {via}\r\n"
        f"To: {to}\r\n"
        f"From: Alice <sip:alice@atlanta.com>;tag={from_tag}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {cseq_method or method}\r\n"
        f"Max-Forwards: 70\r\n"
        f"{extra}"
        f"\r\n"
    )
    message = parse_message(text)
    assert isinstance(message, Request)
    return message


def response_to(req: Request, status: int, *, to_tag: str | None = "99sa0xk") -> Response:
    return Response.for_request(req, status, to_tag=to_tag if status > 100 else None)


def sent(events: list[LayerEvent]) -> list[Request | Response]:
    return [e.message for e in events if isinstance(e, SendMessage)]


E = TypeVar("E", bound=LayerEvent)


def only(events: list[LayerEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]


# -- builders ---------------------------------------------------------------------


class TestBuildAck:
    """RFC 3261 17.1.1.3: construction of the ACK of a non-2xx final response."""

    def test_rfc_example(self) -> None:
        invite = request()
        ack = build_ack(invite, response_to(invite, 486))
        # The example of 17.1.1.3, field by field.
        assert ack.method == "ACK"
        assert str(ack.ruri) == "sip:bob@biloxi.com"
        assert ack.get_headers("Via") == ["SIP/2.0/WSS pc33.atlanta.com;branch=z9hG4bKkjshdyff"]
        assert ack.get_header("To") == "Bob <sip:bob@biloxi.com>;tag=99sa0xk"
        assert ack.get_header("From") == "Alice <sip:alice@atlanta.com>;tag=88sja8x"
        assert ack.get_header("Max-Forwards") == "70"
        assert ack.call_id == "987asjd97y7atg"
        assert (ack.cseq.seq, ack.cseq.method) == (986759, "ACK")
        assert ack.body == b""

    def test_single_via_and_routes(self) -> None:
        invite = request(
            extra=(
                "Via: SIP/2.0/UDP proxy.example;branch=z9hG4bKother\r\n"
                "Route: <sip:p1.example.com;lr>\r\n"
                "Route: <sip:p2.example.com;lr>\r\n"
            )
        )
        ack = build_ack(invite, response_to(invite, 603))
        assert len(ack.get_headers("Via")) == 1
        assert ack.via_branch == "z9hG4bKkjshdyff"
        assert ack.get_headers("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]

    def test_missing_max_forwards_defaults_to_70(self) -> None:
        invite = request()
        invite.remove_header("Max-Forwards")
        assert build_ack(invite, response_to(invite, 486)).get_header("Max-Forwards") == "70"

    def test_round_trips(self) -> None:
        invite = request()
        ack = build_ack(invite, response_to(invite, 486))
        assert parse_message(bytes(ack)) == ack


class TestBuildCancel:
    """RFC 3261 9.1: the CANCEL copies the request's identity and top Via."""

    def test_fields(self) -> None:
        invite = request(extra="Route: <sip:p1.example.com;lr>\r\n")
        cancel = build_cancel(invite)
        assert cancel.method == "CANCEL"
        assert cancel.ruri == invite.ruri
        assert cancel.get_headers("Via") == invite.get_headers("Via")[:1]
        assert cancel.get_header("To") == invite.get_header("To")
        assert cancel.get_header("From") == invite.get_header("From")
        assert cancel.call_id == invite.call_id
        assert (cancel.cseq.seq, cancel.cseq.method) == (986759, "CANCEL")
        assert cancel.get_headers("Route") == ["<sip:p1.example.com;lr>"]


# -- branches ---------------------------------------------------------------------


class TestBranches:
    """RFC 3261 8.1.1.7: branches start with z9hG4bK and are unique across space and time."""

    def test_injected_random(self) -> None:
        assert layer().new_branch() == BRANCH_COOKIE + "000102030405060708090a0b"

    def test_random_random_like_source(self) -> None:
        a = TransactionLayer(random=random.Random(7).randbytes).new_branch()
        b = TransactionLayer(random=random.Random(7).randbytes).new_branch()
        assert a == b

    def test_default_source_is_unpredictable(self) -> None:
        txl = TransactionLayer()
        branches = {txl.new_branch() for _ in range(100)}
        assert len(branches) == 100
        for branch in branches:
            assert branch.startswith("z9hG4bK")
            # At least 64 random bits after the cookie.
            assert len(branch) - len(BRANCH_COOKIE) >= 16

    def test_send_request_adds_a_branch(self) -> None:
        txl = layer()
        invite = request(branch=None)
        key, events = txl.send_request(invite, 0.0)
        assert invite.via_branch == BRANCH_COOKIE + "000102030405060708090a0b"
        assert key == ClientTransactionKey(branch=invite.via_branch.lower(), method="INVITE")
        assert sent(events) == [invite]

    def test_send_request_keeps_a_branch_and_lower_vias(self) -> None:
        txl = layer()
        invite = request(
            branch=None, extra="Via: SIP/2.0/UDP proxy.example;branch=z9hG4bKlower\r\n"
        )
        txl.send_request(invite, 0.0)
        vias = invite.get_headers("Via")
        assert len(vias) == 2
        assert vias[1] == "SIP/2.0/UDP proxy.example;branch=z9hG4bKlower"
        options = request("OPTIONS", branch="z9hG4bKmine")
        key, _ = txl.send_request(options, 0.0)
        assert key.branch == "z9hg4bkmine"


class TestVia:
    """RFC 3261 8.1.1.7 and RFC 7118 5: the layer writes the Via of the TU's requests."""

    def test_request_without_via_gets_one(self) -> None:
        txl = TransactionLayer(random=counting_random, via_host="abc123.invalid")
        message = request("MESSAGE")
        message.remove_header("Via")
        key, events = txl.send_request(message, 0.0)
        branch = BRANCH_COOKIE + "000102030405060708090a0b"
        assert message.get_headers("Via") == [f"SIP/2.0/WSS abc123.invalid;branch={branch}"]
        assert key == ClientTransactionKey(branch=branch.lower(), method="MESSAGE")
        assert sent(events) == [message]

    def test_transport_follows_the_connection(self) -> None:
        txl = TransactionLayer(random=counting_random, via_host="abc123.invalid")
        txl.via_transport = "WS"
        message = request("MESSAGE")
        message.remove_header("Via")
        txl.send_request(message, 0.0)
        via = message.via
        assert via is not None
        assert (via.transport, via.host, via.port) == ("WS", "abc123.invalid", None)

    def test_ack_for_2xx_gets_a_via_of_its_own(self) -> None:
        txl = TransactionLayer(random=counting_random, via_host="abc123.invalid")
        ack = request("ACK")
        ack.remove_header("Via")
        assert txl.send_stateless(ack) == [SendMessage(message=ack)]
        assert ack.via_branch == BRANCH_COOKIE + "000102030405060708090a0b"
        # A retransmitted ACK keeps its Via (and branch).
        txl.send_stateless(ack)
        assert len(ack.get_headers("Via")) == 1

    def test_responses_are_sent_as_they_are(self) -> None:
        txl = TransactionLayer(via_host="abc123.invalid")
        ok = response_to(request("MESSAGE"), 200)
        before = ok.get_headers("Via")
        assert txl.send_stateless(ok) == [SendMessage(message=ok)]
        assert ok.get_headers("Via") == before

    @pytest.mark.parametrize(
        ("host", "transport"), [("bad host", "WSS"), ("ok.invalid", "W S"), ("", "WS")]
    )
    def test_bad_via_settings(self, host: str, transport: str) -> None:
        with pytest.raises(LocalProtocolError, match="cannot write a Via"):
            TransactionLayer(via_host=host, via_transport=transport)


# -- client side -------------------------------------------------------------------


class TestClientMatching:
    """RFC 3261 17.1.3: branch of the top Via plus CSeq method."""

    def test_response_reaches_its_transaction(self) -> None:
        txl = layer()
        invite = request()
        key, _ = txl.send_request(invite, 0.0)
        ringing = response_to(invite, 180)
        assert txl.receive_response(ringing, 0.1) == [ResponseReceived(response=ringing, key=key)]

    def test_branch_compares_case_insensitively(self) -> None:
        txl = layer()
        invite = request(branch="z9hG4bKAbC")
        key, _ = txl.send_request(invite, 0.0)
        ringing = response_to(invite, 180)
        ringing.set_header("Via", "SIP/2.0/WSS pc33.atlanta.com;branch=z9hg4bkabc")
        assert txl.receive_response(ringing, 0.1) == [ResponseReceived(response=ringing, key=key)]

    def test_cancel_is_a_separate_transaction(self) -> None:
        txl = layer()
        invite = request()
        invite_key, _ = txl.send_request(invite, 0.0)
        txl.receive_response(response_to(invite, 180), 0.1)
        cancel = build_cancel(invite)
        cancel_key, events = txl.send_request(cancel, 1.0)
        assert cancel_key == ClientTransactionKey(branch="z9hg4bkkjshdyff", method="CANCEL")
        assert cancel_key != invite_key
        assert sent(events) == [cancel]
        ok = response_to(cancel, 200)
        assert txl.receive_response(ok, 1.1) == [ResponseReceived(response=ok, key=cancel_key)]
        # The 487 goes to the INVITE transaction, which ACKs it.
        terminated = response_to(invite, 487)
        events = txl.receive_response(terminated, 1.2)
        assert events[0] == ResponseReceived(response=terminated, key=invite_key)
        (ack,) = sent(events)
        assert isinstance(ack, Request)
        assert ack.method == "ACK"
        assert ack.via_branch == invite.via_branch

    def test_second_cancel_is_refused(self) -> None:
        txl = layer()
        invite = request()
        txl.send_request(invite, 0.0)
        txl.send_request(build_cancel(invite), 1.0)
        with pytest.raises(LocalProtocolError, match="already running"):
            txl.send_request(build_cancel(invite), 2.0)

    def test_response_with_other_method_does_not_match(self) -> None:
        txl = layer()
        invite = request()
        txl.send_request(invite, 0.0)
        stray = response_to(request("OPTIONS"), 200)
        (event,) = txl.receive_response(stray, 0.1)
        assert event == MessageDiscarded(message=stray, reason="no matching client transaction")

    def test_unknown_branch_is_discarded(self) -> None:
        txl = layer()
        stray = response_to(request(branch="z9hG4bKnobody"), 200)
        assert only(txl.receive_response(stray, 0.0), MessageDiscarded)

    @pytest.mark.parametrize(
        "via", [None, "SIP/2.0/WSS pc33.atlanta.com", "not a via"], ids=["none", "no-branch", "bad"]
    )
    def test_unmatchable_responses_are_discarded(self, via: str | None) -> None:
        txl = layer()
        invite = request()
        txl.send_request(invite, 0.0)
        bad = response_to(invite, 200)
        bad.remove_header("Via")
        if via is not None:
            bad.add_header("Via", via)
        (event,) = txl.receive_response(bad, 0.1)
        assert isinstance(event, MessageDiscarded)
        assert event.reason.startswith("unmatchable response")

    def test_refused_response_is_reported(self) -> None:
        txl = layer(reliable=False)
        invite = request()
        txl.send_request(invite, 0.0)
        txl.receive_response(response_to(invite, 486), 0.1)
        late = response_to(invite, 180)
        assert txl.receive_response(late, 0.2) == [
            MessageDiscarded(message=late, reason="RECV_1XX in COMPLETED")
        ]

    def test_ack_is_not_a_client_transaction(self) -> None:
        with pytest.raises(LocalProtocolError, match="ACK"):
            layer().send_request(request("ACK"), 0.0)

    def test_request_needs_a_via(self) -> None:
        invite = request()
        invite.remove_header("Via")
        with pytest.raises(LocalProtocolError, match="via_host"):
            layer().send_request(invite, 0.0)
        with pytest.raises(LocalProtocolError, match="via_host"):
            layer().send_stateless(invite)

    def test_malformed_via_is_a_local_error(self) -> None:
        invite = request()
        invite.set_header("Via", "nonsense")
        with pytest.raises(LocalProtocolError, match="malformed"):
            layer().send_request(invite, 0.0)

    def test_send_stateless(self) -> None:
        ack = request("ACK", branch="z9hG4bK2xxack")
        assert layer().send_stateless(ack) == [SendMessage(message=ack)]


class TestNon2xxAck:
    """RFC 3261 17.1.1.2/17.1.1.3: the INVITE client transaction ACKs 300-699 itself."""

    def test_ack_is_built_and_resent(self) -> None:
        txl = layer(reliable=False)
        invite = request()
        key, _ = txl.send_request(invite, 0.0)
        busy = response_to(invite, 486)
        events = txl.receive_response(busy, 0.2)
        assert events[0] == ResponseReceived(response=busy, key=key)
        (ack,) = sent(events)
        assert ack == build_ack(invite, busy)
        again = txl.receive_response(response_to(invite, 486), 0.4)
        assert again == [SendMessage(message=ack, retransmission=True)]

    def test_2xx_is_not_acked_by_the_layer(self) -> None:
        txl = layer()
        invite = request()
        key, _ = txl.send_request(invite, 0.0)
        ok = response_to(invite, 200)
        assert txl.receive_response(ok, 0.1) == [ResponseReceived(response=ok, key=key)]
        # RFC 6026 7.2: retransmissions and forks still reach the TU.
        fork = response_to(invite, 200, to_tag="other")
        assert txl.receive_response(fork, 0.2) == [ResponseReceived(response=fork, key=key)]


class TestClientTimers:
    """RFC 3261 17.1.1.2 / 17.1.2.2: Timers A, B, E, F, D, K and RFC 6026 M through the layer."""

    def test_timer_b(self) -> None:
        txl = layer()
        invite = request()
        key, _ = txl.send_request(invite, 10.0)
        assert txl.get_timer() == 42.0
        assert txl.handle_timer(41.9) == []
        assert txl.handle_timer(42.0) == [
            TransactionFailed(key=key, reason=FailureReason.TIMEOUT, timer=TimerName.B),
            TransactionEnded(key=key),
        ]
        assert len(txl) == 0
        assert txl.get_timer() is None

    def test_timer_a_over_udp(self) -> None:
        txl = layer(reliable=False)
        invite = request()
        txl.send_request(invite, 0.0)
        assert txl.get_timer() == 0.5
        assert txl.handle_timer(0.5) == [SendMessage(message=invite, retransmission=True)]
        assert txl.get_timer() == 1.5

    def test_timer_f_and_e(self) -> None:
        txl = layer(reliable=False)
        options = request("OPTIONS", branch="z9hG4bKopt")
        key, _ = txl.send_request(options, 0.0)
        txl.handle_timer(0.5)
        txl.handle_timer(1.5)
        events = txl.handle_timer(32.0)
        assert events[-2:] == [
            TransactionFailed(key=key, reason=FailureReason.TIMEOUT, timer=TimerName.F),
            TransactionEnded(key=key),
        ]

    def test_timer_k_zero_over_websocket(self) -> None:
        txl = layer()
        options = request("OPTIONS", branch="z9hG4bKopt")
        key, _ = txl.send_request(options, 0.0)
        txl.receive_response(response_to(options, 200), 0.3)
        assert txl.get_timer() == 0.3
        assert txl.handle_timer(0.3) == [TransactionEnded(key=key)]

    def test_get_timer_is_the_earliest(self) -> None:
        txl = layer()
        txl.send_request(request(branch="z9hG4bK1"), 5.0)
        txl.send_request(request("OPTIONS", branch="z9hG4bK2"), 1.0)
        assert txl.get_timer() == 33.0
        events = txl.handle_timer(33.0)
        assert only(events, TransactionEnded) == [
            TransactionEnded(key=ClientTransactionKey(branch="z9hg4bk2", method="OPTIONS"))
        ]
        assert txl.get_timer() == 37.0


class TestTransportErrorAll:
    """RFC 3261 17.1.4: a lost connection fails every pending client transaction at once."""

    def test_every_pending_client_transaction_fails(self) -> None:
        txl = layer()
        calling = request(branch="z9hG4bKcalling")
        proceeding = request(branch="z9hG4bKproceeding")
        options = request("OPTIONS", branch="z9hG4bKoptions")
        accepted = request(branch="z9hG4bKaccepted")
        keys = [txl.send_request(r, 0.0)[0] for r in (calling, proceeding, options, accepted)]
        txl.receive_response(response_to(proceeding, 180), 0.1)
        txl.receive_response(response_to(accepted, 200), 0.1)
        events = txl.transport_error(1.0)
        failed = [e.key for e in only(events, TransactionFailed)]
        assert failed == keys[:3]
        assert [e.key for e in only(events, TransactionEnded)] == keys[:3]
        for event in only(events, TransactionFailed):
            assert event == TransactionFailed(key=event.key, reason=FailureReason.TRANSPORT_ERROR)
        # The accepted INVITE has nothing in flight: it lingers for Timer M.
        machine = txl.client_transaction(keys[3])
        assert isinstance(machine, ClientInviteTransaction)
        assert machine.state is ICTState.ACCEPTED
        assert len(txl) == 1

    def test_server_transactions_follow_their_tables(self) -> None:
        txl = layer()
        invite_key = receive_new(txl, request())
        message_key = receive_new(txl, request("MESSAGE", branch="z9hG4bKmsg"))
        events = txl.transport_error(1.0)
        assert events == [
            TransactionFailed(key=invite_key, reason=FailureReason.TRANSPORT_ERROR),
            TransactionFailed(key=message_key, reason=FailureReason.TRANSPORT_ERROR),
            TransactionEnded(key=message_key),
        ]
        # RFC 6026 Figure 7: the INVITE server transaction stays in Proceeding.
        assert txl.server_transaction(invite_key) is not None


# -- server side -------------------------------------------------------------------


def receive_new(txl: TransactionLayer, req: Request, now: float = 0.0) -> ServerTransactionKey:
    events = txl.receive_request(req, now)
    (received,) = only(events, RequestReceived)
    assert isinstance(received, RequestReceived)
    assert received.request is req
    assert isinstance(received.key, ServerTransactionKey)
    return received.key


class TestServerMatching:
    """RFC 3261 17.2.3: branch, sent-by and method (ACK matches INVITE)."""

    def test_new_invite_gets_100_trying(self) -> None:
        txl = layer()
        invite = request()
        events = txl.receive_request(invite, 0.0)
        key = ServerTransactionKey(
            branch="z9hg4bkkjshdyff", sent_by=("pc33.atlanta.com", None), method="INVITE"
        )
        trying = Response.for_request(invite, 100)
        assert events == [
            SendMessage(message=trying),
            RequestReceived(request=invite, key=key),
        ]
        # RFC 3261 17.2.1: no To tag in the 100.
        assert trying.to_tag is None

    def test_without_trying(self) -> None:
        txl = layer(send_trying=False)
        invite = request()
        assert txl.receive_request(invite, 0.0) == [
            RequestReceived(request=invite, key=receive_new(layer(), request()))
        ]

    def test_retransmission_matches(self) -> None:
        txl = layer()
        invite = request()
        receive_new(txl, invite)
        events = txl.receive_request(request(), 0.5)
        assert events == [
            SendMessage(message=Response.for_request(invite, 100), retransmission=True)
        ]
        assert len(txl) == 1

    def test_same_branch_other_sent_by_does_not_match(self) -> None:
        txl = layer()
        first = receive_new(txl, request())
        second = receive_new(txl, request(sent_by="evil.example.com:5070"))
        assert first != second
        assert second.sent_by == ("evil.example.com", 5070)
        assert len(txl) == 2

    def test_same_branch_other_method_does_not_match(self) -> None:
        txl = layer()
        first = receive_new(txl, request("INVITE"))
        second = receive_new(txl, request("OPTIONS"))
        assert (first.method, second.method) == ("INVITE", "OPTIONS")

    def test_port_is_part_of_sent_by(self) -> None:
        txl = layer()
        receive_new(txl, request(sent_by="host.example:5060"))
        receive_new(txl, request(sent_by="host.example"))
        assert len(txl) == 2

    def test_sent_by_host_is_case_insensitive(self) -> None:
        txl = layer()
        receive_new(txl, request(sent_by="HOST.example"))
        assert only(txl.receive_request(request(sent_by="host.EXAMPLE"), 0.1), SendMessage)
        assert len(txl) == 1


class TestServerAck:
    """RFC 3261 17.2.1/17.2.3, RFC 6026 7.1: the ACK of a non-2xx is the transaction's."""

    def test_ack_for_non_2xx_is_absorbed(self) -> None:
        txl = layer()
        invite = request()
        key = receive_new(txl, invite)
        txl.send_response(key, response_to(invite, 486), 1.0)
        assert txl.receive_request(request("ACK", to_tag="99sa0xk"), 1.2) == []
        machine = txl.server_transaction(key)
        assert machine is not None
        assert machine.state is ISTState.CONFIRMED
        # Timer I is zero over WebSocket.
        assert txl.handle_timer(1.2) == [TransactionEnded(key=key)]

    def test_ack_for_2xx_goes_to_the_dialog(self) -> None:
        txl = layer()
        invite = request()
        key = receive_new(txl, invite)
        txl.send_response(key, response_to(invite, 200), 1.0)
        ack = request("ACK", branch="z9hG4bKnewbranch", to_tag="99sa0xk")
        assert txl.receive_request(ack, 1.2) == [RequestReceived(request=ack, key=None)]

    def test_ack_with_the_invite_branch_in_accepted_goes_to_the_tu(self) -> None:
        txl = layer()
        invite = request()
        key = receive_new(txl, invite)
        txl.send_response(key, response_to(invite, 200), 1.0)
        ack = request("ACK", to_tag="99sa0xk")
        assert txl.receive_request(ack, 1.2) == [RequestReceived(request=ack, key=key)]

    def test_ack_before_final_is_discarded(self) -> None:
        txl = layer()
        receive_new(txl, request())
        ack = request("ACK")
        assert txl.receive_request(ack, 0.5) == [
            MessageDiscarded(message=ack, reason="RECV_ACK in PROCEEDING")
        ]

    def test_ack_matching_no_invite(self) -> None:
        txl = layer()
        receive_new(txl, request("OPTIONS"))
        ack = request("ACK")
        assert txl.receive_request(ack, 0.5) == [RequestReceived(request=ack, key=None)]

    def test_timer_h_without_ack(self) -> None:
        txl = layer()
        invite = request()
        key = receive_new(txl, invite)
        txl.send_response(key, response_to(invite, 486), 1.0)
        assert txl.get_timer() == 33.0
        assert txl.handle_timer(33.0) == [
            TransactionFailed(key=key, reason=FailureReason.TIMEOUT, timer=TimerName.H),
            TransactionEnded(key=key),
        ]


class TestServerCancel:
    """RFC 3261 9.2: the CANCEL is its own transaction and names the one it cancels."""

    def test_cancel_finds_its_invite(self) -> None:
        txl = layer()
        invite_key = receive_new(txl, request())
        cancel = request("CANCEL")
        events = txl.receive_request(cancel, 1.0)
        cancel_key = ServerTransactionKey(
            branch="z9hg4bkkjshdyff", sent_by=("pc33.atlanta.com", None), method="CANCEL"
        )
        assert events == [RequestReceived(request=cancel, key=cancel_key, cancelled=invite_key)]
        machine = txl.server_transaction(cancel_key)
        assert machine is not None
        assert machine.state is NISTState.TRYING

    def test_cancel_ends_before_its_invite(self) -> None:
        txl = layer()
        invite_key = receive_new(txl, request())
        cancel = request("CANCEL")
        cancel_key = receive_new(txl, cancel, 1.0)
        txl.send_response(cancel_key, response_to(cancel, 200), 1.1)
        assert txl.handle_timer(1.1) == [TransactionEnded(key=cancel_key)]
        # A later CANCEL (a new transaction) still finds the INVITE.
        (event,) = txl.receive_request(request("CANCEL"), 2.0)
        assert isinstance(event, RequestReceived)
        assert event.cancelled == invite_key

    def test_cancel_from_another_sent_by_cancels_nothing(self) -> None:
        txl = layer()
        receive_new(txl, request())
        (event,) = txl.receive_request(request("CANCEL", sent_by="evil.example.com"), 1.0)
        assert isinstance(event, RequestReceived)
        assert event.cancelled is None

    def test_cancel_for_unknown_transaction(self) -> None:
        txl = layer()
        (event,) = txl.receive_request(request("CANCEL"), 1.0)
        assert isinstance(event, RequestReceived)
        assert event.key is not None
        assert event.cancelled is None

    def test_cancel_retransmission_gets_the_200_again(self) -> None:
        txl = layer(reliable=False)
        invite_key = receive_new(txl, request())
        cancel = request("CANCEL")
        cancel_key = receive_new(txl, cancel, 1.0)
        ok = response_to(cancel, 200)
        assert txl.send_response(cancel_key, ok, 1.1) == [SendMessage(message=ok)]
        assert txl.receive_request(request("CANCEL"), 1.5) == [
            SendMessage(message=ok, retransmission=True)
        ]
        # The INVITE transaction is untouched by the CANCEL's.
        assert txl.server_transaction(invite_key) is not None

    def test_branch_index_is_cleaned(self) -> None:
        txl = layer()
        invite = request("MESSAGE")
        key = receive_new(txl, invite)
        txl.send_response(key, response_to(invite, 200), 0.1)
        txl.handle_timer(0.1)
        assert len(txl) == 0
        (event,) = txl.receive_request(request("CANCEL"), 1.0)
        assert isinstance(event, RequestReceived)
        assert event.cancelled is None


class TestRfc2543Fallback:
    """RFC 3261 17.2.3: without the magic cookie, match on URI, tags, Call-ID, CSeq and Via."""

    def test_legacy_invite_and_its_retransmission(self) -> None:
        txl = layer()
        invite = request(branch=None)
        events = txl.receive_request(invite, 0.0)
        (received,) = only(events, RequestReceived)
        assert isinstance(received, RequestReceived)
        assert received.key == LegacyServerTransactionKey(serial=1, method="INVITE")
        assert txl.receive_request(request(branch=None), 0.5) == [
            SendMessage(message=Response.for_request(invite, 100), retransmission=True)
        ]

    def test_branch_without_cookie_is_legacy(self) -> None:
        txl = layer()
        (received,) = only(txl.receive_request(request(branch="12345"), 0.0), RequestReceived)
        assert isinstance(received, RequestReceived)
        assert isinstance(received.key, LegacyServerTransactionKey)

    @pytest.mark.parametrize(
        "change",
        [
            {"from_tag": "other"},
            {"call_id": "other-call"},
            {"cseq": 1},
            {"ruri": "sip:carol@biloxi.com"},
            {"sent_by": "other.atlanta.com"},
            {"to_tag": "sometag"},
        ],
    )
    def test_any_difference_is_a_new_transaction(self, change: dict[str, object]) -> None:
        txl = layer()
        receive_new_legacy(txl, request(branch=None))
        receive_new_legacy(txl, request(branch=None, **change))  # type: ignore[arg-type]
        assert len(txl) == 2

    def test_uri_comparison_follows_rfc_3261_19_1_4(self) -> None:
        txl = layer()
        receive_new_legacy(txl, request(branch=None, ruri="sip:bob@BILOXI.com"))
        assert only(
            txl.receive_request(request(branch=None, ruri="sip:bob@biloxi.com"), 0.5), SendMessage
        )
        assert len(txl) == 1

    def test_legacy_ack_matches_on_the_response_to_tag(self) -> None:
        txl = layer()
        invite = request(branch=None)
        key = receive_new_legacy(txl, invite)
        txl.send_response(key, response_to(invite, 486, to_tag="resp-tag"), 1.0)
        # A different To tag is the ACK of another response: not this transaction.
        other = request("ACK", branch=None, to_tag="nope")
        assert txl.receive_request(other, 1.1) == [RequestReceived(request=other, key=None)]
        assert txl.receive_request(request("ACK", branch=None, to_tag="resp-tag"), 1.2) == []
        machine = txl.server_transaction(key)
        assert machine is not None
        assert machine.state is ISTState.CONFIRMED

    def test_legacy_ack_ignores_non_invite_transactions(self) -> None:
        txl = layer()
        options = request("OPTIONS", branch=None)
        key = receive_new_legacy(txl, options)
        txl.send_response(key, response_to(options, 200, to_tag="t"), 1.0)
        ack = request("ACK", branch=None, to_tag="t")
        assert txl.receive_request(ack, 1.1) == [RequestReceived(request=ack, key=None)]

    def test_legacy_cancel_finds_its_invite(self) -> None:
        txl = layer()
        invite_key = receive_new_legacy(txl, request(branch=None))
        cancel = request("CANCEL", branch=None)
        (event,) = txl.receive_request(cancel, 1.0)
        assert isinstance(event, RequestReceived)
        assert event.cancelled == invite_key
        assert event.key == LegacyServerTransactionKey(serial=2, method="CANCEL")
        # A retransmitted CANCEL matches the CANCEL transaction, not the INVITE.
        assert txl.receive_request(request("CANCEL", branch=None), 1.1) == []
        (again,) = txl.receive_request(request("CANCEL", branch=None, from_tag="x"), 1.2)
        assert isinstance(again, RequestReceived)
        assert again.cancelled is None

    def test_legacy_cancel_with_another_to_tag_cancels_nothing(self) -> None:
        txl = layer()
        receive_new_legacy(txl, request(branch=None))
        (event,) = txl.receive_request(request("CANCEL", branch=None, to_tag="x"), 1.0)
        assert isinstance(event, RequestReceived)
        assert event.cancelled is None

    def test_legacy_and_rfc3261_do_not_mix(self) -> None:
        txl = layer()
        receive_new_legacy(txl, request(branch=None))
        (event,) = txl.receive_request(request("CANCEL"), 1.0)
        assert isinstance(event, RequestReceived)
        assert event.cancelled is None

    def test_legacy_transaction_ends(self) -> None:
        txl = layer()
        options = request("OPTIONS", branch=None)
        key = receive_new_legacy(txl, options)
        txl.send_response(key, response_to(options, 200), 0.1)
        assert txl.handle_timer(0.1) == [TransactionEnded(key=key)]
        assert len(txl) == 0

    def test_unparsable_fields_never_match(self) -> None:
        txl = layer()
        receive_new_legacy(txl, request(branch=None))
        bad = request(branch=None)
        bad.set_header("From", "<<<not a name-addr")
        events = txl.receive_request(bad, 0.5)
        # No match is possible: it starts a transaction of its own.
        assert only(events, RequestReceived)
        assert len(txl) == 2


def receive_new_legacy(
    txl: TransactionLayer, req: Request, now: float = 0.0
) -> LegacyServerTransactionKey:
    (received,) = only(txl.receive_request(req, now), RequestReceived)
    assert isinstance(received, RequestReceived)
    assert isinstance(received.key, LegacyServerTransactionKey)
    return received.key


class TestServerResponses:
    """RFC 3261 17.2: the TU's responses go through their transaction."""

    def test_response_to_unknown_transaction(self) -> None:
        txl = layer()
        key = ServerTransactionKey(branch="z9hg4bkx", sent_by=("h", None), method="MESSAGE")
        with pytest.raises(LocalProtocolError, match="no server transaction"):
            txl.send_response(key, response_to(request("MESSAGE"), 200), 0.0)

    def test_2xx_after_timer_l_goes_straight_out(self) -> None:
        txl = layer()
        invite = request()
        key = receive_new(txl, invite)
        ok = response_to(invite, 200)
        txl.send_response(key, ok, 0.0)
        assert txl.handle_timer(32.0) == [TransactionEnded(key=key)]
        # RFC 3261 13.3.1.4: the TU retransmits the 2xx until the ACK.
        assert txl.send_response(key, ok, 33.0) == [SendMessage(message=ok, retransmission=True)]

    def test_2xx_retransmission_in_accepted(self) -> None:
        txl = layer()
        invite = request()
        key = receive_new(txl, invite)
        ok = response_to(invite, 200)
        assert txl.send_response(key, ok, 0.0) == [SendMessage(message=ok)]
        assert txl.send_response(key, ok, 0.5) == [SendMessage(message=ok)]

    def test_second_final_is_refused(self) -> None:
        txl = layer()
        message = request("MESSAGE")
        key = receive_new(txl, message)
        txl.send_response(key, response_to(message, 200), 0.0)
        with pytest.raises(LocalProtocolError):
            txl.send_response(key, response_to(message, 500), 0.0)


class TestBadRequests:
    """A request the layer cannot match is discarded with a reason, never raised."""

    def test_no_via(self) -> None:
        bad = request()
        bad.remove_header("Via")
        (event,) = layer().receive_request(bad, 0.0)
        assert event == MessageDiscarded(message=bad, reason="unmatchable request: no Via")

    def test_bad_via(self) -> None:
        bad = request()
        bad.set_header("Via", "garbage")
        (event,) = layer().receive_request(bad, 0.0)
        assert isinstance(event, MessageDiscarded)
        assert event.reason.startswith("unmatchable request")

    def test_bad_cseq(self) -> None:
        bad = request()
        bad.set_header("CSeq", "x INVITE")
        (event,) = layer().receive_request(bad, 0.0)
        assert isinstance(event, MessageDiscarded)

    def test_cseq_method_mismatch(self) -> None:
        bad = request(cseq_method="OPTIONS")
        (event,) = layer().receive_request(bad, 0.0)
        assert event == MessageDiscarded(message=bad, reason="CSeq method differs from method")

    def test_retransmission_after_termination_is_new(self) -> None:
        txl = layer()
        message = request("MESSAGE")
        key = receive_new(txl, message)
        txl.send_response(key, response_to(message, 200), 0.0)
        txl.handle_timer(0.0)
        assert only(txl.receive_request(request("MESSAGE"), 0.1), RequestReceived)


class TestReceiveMessage:
    """The one entry point for parsed messages dispatches on their kind."""

    def test_dispatch(self) -> None:
        txl = layer()
        invite = request()
        key, _ = txl.send_request(invite, 0.0)
        ringing = response_to(invite, 180)
        assert txl.receive_message(ringing, 0.1) == [ResponseReceived(response=ringing, key=key)]
        options = request("OPTIONS", branch="z9hG4bKin")
        assert only(txl.receive_message(options, 0.1), RequestReceived)

    def test_defaults(self) -> None:
        txl = TransactionLayer()
        assert txl.timers == TimerValues()
        assert txl.reliable is True
        assert txl.send_trying is True
        assert txl.via_host is None
        assert txl.via_transport == "WSS"
        assert txl.client_transaction(ClientTransactionKey(branch="x", method="INVITE")) is None
        assert txl.server_transaction(LegacyServerTransactionKey(serial=9, method="X")) is None


# -- the layer never raises on network input ---------------------------------------

NETWORK = st.lists(
    st.one_of(
        st.tuples(
            st.just("request"),
            st.sampled_from(["INVITE", "ACK", "CANCEL", "OPTIONS", "BYE"]),
            st.sampled_from(["z9hG4bKa", "z9hG4bKb", None, "legacy1"]),
            st.sampled_from(["a.example", "b.example:5070"]),
            st.sampled_from([None, "t1"]),
        ),
        st.tuples(
            st.just("response"),
            st.sampled_from([100, 180, 200, 486, 487]),
            st.sampled_from(["INVITE", "CANCEL", "OPTIONS"]),
            st.sampled_from(["z9hG4bKa", "z9hG4bKb"]),
            st.just(None),
        ),
        st.tuples(
            st.just("respond"),
            st.sampled_from([100, 180, 200, 486]),
            st.just(""),
            st.just(""),
            st.just(None),
        ),
        st.tuples(
            st.just("send"),
            st.sampled_from(["INVITE", "OPTIONS"]),
            st.just(""),
            st.just(""),
            st.just(None),
        ),
        st.tuples(st.just("tick"), st.floats(0.0, 40.0), st.just(""), st.just(""), st.just(None)),
        st.tuples(st.just("transport_error"), st.just(0), st.just(""), st.just(""), st.just(None)),
    ),
    max_size=25,
)


class TestNeverRaises:
    """Network input is matched, handed over or discarded: it never raises."""

    @settings(max_examples=300)
    @given(reliable=st.booleans(), steps=NETWORK)
    def test_random_traffic(
        self, reliable: bool, steps: list[tuple[str, object, object, object, object]]
    ) -> None:
        txl = layer(reliable=reliable)
        now = 0.0
        keys: list[ServerTransactionKey | LegacyServerTransactionKey] = []
        for kind, a, b, c, d in steps:
            if kind == "tick":
                assert isinstance(a, float)
                now += a
                txl.handle_timer(now)
            elif kind == "transport_error":
                txl.transport_error(now)
            elif kind == "request":
                assert isinstance(a, str) and isinstance(c, str)
                branch = b if isinstance(b, str) else None
                to_tag = d if isinstance(d, str) else None
                req = request(a, branch=branch, sent_by=c, to_tag=to_tag)
                for event in txl.receive_request(req, now):
                    if isinstance(event, RequestReceived) and event.key is not None:
                        keys.append(event.key)
            elif kind == "response":
                assert isinstance(a, int) and isinstance(b, str) and isinstance(c, str)
                resp = response_to(request(b, branch=c), a)
                txl.receive_response(resp, now)
            elif kind == "send":
                assert isinstance(a, str)
                with contextlib.suppress(LocalProtocolError):  # the key is in use
                    txl.send_request(request(a, branch="z9hG4bKa"), now)
            elif keys:
                assert isinstance(a, int)
                key = keys[-1]
                with contextlib.suppress(LocalProtocolError):  # the TU's mistake
                    txl.send_response(key, response_to(request(key.method), a), now)
            deadline = txl.get_timer()
            assert deadline is None or deadline >= 0
        end = now + 1000.0
        txl.handle_timer(end)
        # Every due timer fired; what is left waits for the TU or the network
        # (an INVITE ringing, a request not answered yet).
        deadline = txl.get_timer()
        assert deadline is None or deadline > end
