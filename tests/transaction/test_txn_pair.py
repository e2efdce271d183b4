"""Two transaction layers joined by an in-memory link, over the wire format."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from websip.sip.message import Request, Response, parse_message
from websip.transaction.layer import (
    ClientTransactionKey,
    LayerEvent,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    ServerKey,
    TransactionEnded,
    TransactionLayer,
    build_cancel,
)
from websip.transaction.retransmit import TwoHundredRetransmitter
from websip.transaction.timers import TimerValues


@dataclass
class Side:
    """One user agent: its layer and what reached its TU."""

    layer: TransactionLayer
    requests: list[RequestReceived] = field(default_factory=list)
    responses: list[ResponseReceived] = field(default_factory=list)
    ended: list[object] = field(default_factory=list)
    wire: list[bytes] = field(default_factory=list)


class Link:
    """Delivers every SendMessage of one side, serialized and re-parsed, to the other."""

    def __init__(self) -> None:
        self.alice = Side(
            TransactionLayer(random=random.Random(1).randbytes, via_host="alice.invalid")
        )
        self.bob = Side(TransactionLayer(random=random.Random(2).randbytes, via_host="bob.invalid"))
        self.now = 0.0

    def peer(self, side: Side) -> Side:
        return self.bob if side is self.alice else self.alice

    def deliver(self, side: Side, events: list[LayerEvent]) -> None:
        for event in events:
            if isinstance(event, SendMessage):
                data = bytes(event.message)
                side.wire.append(data)
                peer = self.peer(side)
                self.deliver(peer, peer.layer.receive_message(parse_message(data), self.now))
            elif isinstance(event, RequestReceived):
                side.requests.append(event)
            elif isinstance(event, ResponseReceived):
                side.responses.append(event)
            elif isinstance(event, TransactionEnded):
                side.ended.append(event.key)

    def advance(self, to: float) -> None:
        self.now = to
        for side in (self.alice, self.bob):
            self.deliver(side, side.layer.handle_timer(to))


def invite() -> Request:
    return Request(
        "INVITE",
        "sip:bob@example.com",
        [
            ("From", "<sip:alice@example.com>;tag=a1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "call-1"),
            ("CSeq", "1 INVITE"),
            ("Max-Forwards", "70"),
        ],
    )


def answer(link: Link, status: int) -> tuple[ServerKey, Response]:
    (received,) = link.bob.requests
    assert received.key is not None
    response = Response.for_request(received.request, status, to_tag="b1")
    link.deliver(link.bob, link.bob.layer.send_response(received.key, response, link.now))
    return received.key, response


class TestRejectedCall:
    """RFC 3261 17.1.1 / 17.2.1: INVITE, 100, 486, ACK, both transactions end."""

    def test_flow(self) -> None:
        link = Link()
        key, events = link.alice.layer.send_request(invite(), 0.0)
        link.deliver(link.alice, events)
        # Bob's layer sent 100 Trying at once and passed the INVITE up.
        assert [r.response.status_code for r in link.alice.responses] == [100]
        assert link.bob.requests[0].request.method == "INVITE"
        answer(link, 486)
        assert [r.response.status_code for r in link.alice.responses] == [100, 486]
        # Alice's transaction ACKed the 486; Bob's absorbed the ACK.
        assert link.alice.wire[-1].startswith(b"ACK sip:bob@example.com SIP/2.0\r\n")
        assert [r.request.method for r in link.bob.requests] == ["INVITE"]
        link.advance(0.0)  # Timers D and I are zero over WebSocket
        assert link.alice.ended == [key]
        assert len(link.bob.ended) == 1
        assert len(link.alice.layer) == len(link.bob.layer) == 0


class TestAnsweredCall:
    """RFC 6026 7.1/7.2 and RFC 3261 13.3.1.4: 200, its retransmission, the TU's ACK."""

    def test_flow(self) -> None:
        link = Link()
        key, events = link.alice.layer.send_request(invite(), 0.0)
        link.deliver(link.alice, events)
        server_key, ok = answer(link, 200)
        retransmitter = TwoHundredRetransmitter(ok, timers=TimerValues())
        retransmitter.start(0.0)
        # No ACK yet: at T1 Bob's TU retransmits through the Accepted transaction.
        link.now = 0.5
        for _ in retransmitter.handle_timer(0.5):
            link.deliver(link.bob, link.bob.layer.send_response(server_key, ok, 0.5))
        # Alice's Accepted transaction passes both 2xx to her TU (RFC 6026 7.2).
        assert [r.response.status_code for r in link.alice.responses] == [100, 200, 200]
        assert {r.key for r in link.alice.responses} == {key}
        # Alice's TU sends the ACK of the 2xx outside any transaction.
        ack = Request(
            "ACK",
            "sip:bob@example.com",
            [
                ("From", "<sip:alice@example.com>;tag=a1"),
                ("To", "<sip:bob@example.com>;tag=b1"),
                ("Call-ID", "call-1"),
                ("CSeq", "1 ACK"),
            ],
        )
        link.deliver(link.alice, link.alice.layer.send_stateless(ack))
        # A new branch: no transaction matches it, the dialog gets it.
        assert link.bob.requests[-1].request.method == "ACK"
        assert link.bob.requests[-1].key is None
        assert retransmitter.on_ack() == []
        link.advance(32.0)  # Timers L and M
        assert link.alice.ended == [key]
        assert link.bob.ended == [server_key]


class TestCancelledCall:
    """RFC 3261 9: CANCEL, 200 (CANCEL), 487 (INVITE), ACK."""

    def test_flow(self) -> None:
        link = Link()
        request = invite()
        invite_key, events = link.alice.layer.send_request(request, 0.0)
        link.deliver(link.alice, events)
        cancel_key, events = link.alice.layer.send_request(build_cancel(request), 1.0)
        link.deliver(link.alice, events)
        cancel = link.bob.requests[-1]
        assert cancel.request.method == "CANCEL"
        assert cancel.cancelled == link.bob.requests[0].key
        assert cancel.key is not None
        ok = Response.for_request(cancel.request, 200)
        link.deliver(link.bob, link.bob.layer.send_response(cancel.key, ok, 1.0))
        invite_server = link.bob.requests[0]
        assert invite_server.key is not None
        terminated = Response.for_request(invite_server.request, 487, to_tag="b1")
        link.deliver(link.bob, link.bob.layer.send_response(invite_server.key, terminated, 1.0))
        statuses = [(r.key, r.response.status_code) for r in link.alice.responses]
        assert statuses == [(invite_key, 100), (cancel_key, 200), (invite_key, 487)]
        assert invite_key == ClientTransactionKey(branch=invite_key.branch, method="INVITE")
        link.advance(1.0)
        assert sorted(map(str, link.alice.ended)) == sorted(map(str, [invite_key, cancel_key]))
        assert len(link.bob.layer) == 0
